/* test_fmnist_parity.c: the bundled Fashion-MNIST model (assets/models/fmnist-vit) reproduces
 * PyTorch on the first 64 test images.
 *
 * tools/train_vit.py --fixtures writes tests/fixtures/fmnist/: first64_images.u8 ([64, 28, 28]
 * gray pixels as stored in the IDX file), first64_labels.u8 and first64_logits.bin (float32
 * [64, 10], PyTorch's logits of the exported model). The pixels go through the same path as
 * `fovea eval` (fv_classifier: preprocessing from config.json on the device, then the ViT), on
 * the CPU executor and on the Vulkan device, with a batch of 16 (four runs of one recorded
 * graph), and every logit must be within 1e-4 of PyTorch's; the predicted classes must then be
 * PyTorch's too. FOVEA_FMNIST_MODEL and FOVEA_FMNIST_FIXTURES point the test at another model
 * (a retrained one); ctest runs it a second time that way as test_fmnist_tap_parity, on the
 * bundled TAP model assets/models/fmnist-tap-vit and tests/fixtures/fmnist-tap-vit. The full
 * 10 000-image accuracy is measured with `fovea eval` (README.md, "Evaluating on a data set"),
 * not here: it takes over three minutes on lavapipe on a 2-core machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/device.h"
#include "vision/classifier.h"

#define N 64
#define SIDE 28
#define CLASSES 10

static int read_exact(const char *path, void *buf, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  size_t got = fread(buf, 1, n, f);
  int extra = fgetc(f) != EOF;
  fclose(f);
  return got == n && !extra;
}

/* Classifies the 64 images on dev (NULL: CPU executor); returns the max |logit - PyTorch|. */
static double run(const char *model, fv_device *dev, const uint8_t *pixels, const float *expected, int *agree) {
  fv_classifier cls;
  fv_error err;
  float logits[N * CLASSES];
  double diff = INFINITY;
  fv_classifier_options opt = {.batch = 16};
  if (fv_classifier_open(model, dev, &opt, &cls, &err)) {
    CHECK(0, "%s", err.msg);
    return diff;
  }
  CHECK(cls.num_classes == CLASSES && cls.vit.cfg.in_chans == 1, "%s: %d classes, %d channels; expected 10, gray",
        model, cls.num_classes, cls.vit.cfg.in_chans);
  for (int i = 0; i < N && cls.num_classes == CLASSES;) {
    int filled = 0;
    for (; filled < cls.batch && i < N; filled++, i++) {
      fv_image img = {
          .width = SIDE, .height = SIDE, .channels = 1, .pixels = (uint8_t *)pixels + (size_t)i * SIDE * SIDE};
      if (fv_classifier_set_image(&cls, filled, &img, &err)) goto fail;
    }
    if (fv_classifier_run(&cls, filled, logits + (size_t)(i - filled) * CLASSES, NULL, &err)) goto fail;
    if (i == N) diff = fv_test_max_abs_error(logits, expected, N * CLASSES);
  }
  *agree = 0;
  for (int i = 0; i < N; i++) {
    int a = 0, b = 0;
    for (int k = 1; k < CLASSES; k++) {
      if (logits[i * CLASSES + k] > logits[i * CLASSES + a]) a = k;
      if (expected[i * CLASSES + k] > expected[i * CLASSES + b]) b = k;
    }
    *agree += a == b;
  }
  fv_classifier_close(&cls);
  return diff;
fail:
  CHECK(0, "%s: %s", model, err.msg);
  fv_classifier_close(&cls);
  return INFINITY;
}

int main(void) {
  const char *model = getenv("FOVEA_FMNIST_MODEL") ? getenv("FOVEA_FMNIST_MODEL") : "assets/models/fmnist-vit";
  const char *fixtures = getenv("FOVEA_FMNIST_FIXTURES") ? getenv("FOVEA_FMNIST_FIXTURES") : "tests/fixtures/fmnist";
  static uint8_t pixels[N * SIDE * SIDE], labels[N];
  static float expected[N * CLASSES];
  char path[600];
  snprintf(path, sizeof path, "%s/first64_images.u8", fixtures);
  int ok = read_exact(path, pixels, sizeof pixels);
  snprintf(path, sizeof path, "%s/first64_labels.u8", fixtures);
  ok = ok && read_exact(path, labels, sizeof labels);
  snprintf(path, sizeof path, "%s/first64_logits.bin", fixtures);
  ok = ok && read_exact(path, expected, sizeof expected);
  CHECK(ok, "%s: first64_images.u8 (%d bytes), first64_labels.u8 (%d) and first64_logits.bin (%d) needed", fixtures,
        (int)sizeof pixels, (int)sizeof labels, (int)sizeof expected);
  if (!ok) return fv_test_finish();

  int correct = 0;
  for (int i = 0; i < N; i++) {
    int b = 0;
    for (int k = 1; k < CLASSES; k++)
      if (expected[i * CLASSES + k] > expected[i * CLASSES + b]) b = k;
    correct += b == labels[i];
  }
  fv_error err;
  fv_device *dev = NULL;
  CHECK(fv_device_open(NULL, &dev, &err) == FV_OK, "no Vulkan device: %s", err.msg);
  int agree_cpu = 0, agree_gpu = 0;
  double cpu = run(model, NULL, pixels, expected, &agree_cpu);
  double gpu = dev ? run(model, dev, pixels, expected, &agree_gpu) : INFINITY;
  printf(
      "%s: max |logit - PyTorch| cpu %.2e, vulkan %.2e; argmax agrees on %d and %d of 64 (PyTorch top-1 on these: "
      "%d/64)\n",
      model, cpu, gpu, agree_cpu, agree_gpu, correct);
  CHECK(cpu <= 1e-4, "CPU executor logits differ from PyTorch by %g (> 1e-4)", cpu);
  CHECK(gpu <= 1e-4, "Vulkan logits differ from PyTorch by %g (> 1e-4)", gpu);
  CHECK(agree_cpu == N && agree_gpu == N, "predicted classes differ from PyTorch's: cpu %d/64, vulkan %d/64", agree_cpu,
        agree_gpu);
  if (dev) {
    CHECK(fv_device_validation_errors(dev) == 0, "validation layer reported %d messages",
          fv_device_validation_errors(dev));
    fv_device_close(dev);
  }
  return fv_test_finish();
}
