/* test_vit_parity.c: every model fixture under tests/fixtures/vit/ (written by
 * tools/make_vit_fixtures.py from a PyTorch re-implementation of timm's forward pass) must
 * give PyTorch's logits through Fovea: on the CPU executor and on the Vulkan device, with
 * fp32 storage within 1e-3 absolute, and with fp16 storage within a looser bound that fp16
 * rounding of weights and activations explains. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "fixture_io.h"
#include "vision/vit.h"

#define FIXTURES "tests/fixtures/vit"

/* Runs one fixture on dev (NULL: CPU executor) with the given storage; returns max |diff|.
 * chunk_flops > 0 splits the recorded graph into submissions of about that much work. */
static double run_fixture(fv_device *dev, fv_vit *vit, fv_dtype storage, double chunk_flops, const float *input,
                          int batch, const float *expected) {
  fv_graph g;
  fv_graph_init(&g);
  fv_error err;
  fv_vit_graph vg;
  fv_exec *ex = NULL;
  fv_exec_options eo = {.storage = storage, .chunk_flops = chunk_flops};
  double diff = INFINITY;
  size_t n_in = (size_t)batch * vit->cfg.in_chans * vit->cfg.img_size[0] * vit->cfg.img_size[1];
  size_t n_out = (size_t)batch * vit->cfg.num_classes;
  float *logits = malloc(n_out * sizeof *logits);
  if (!logits || fv_vit_build(vit, &g, batch, &vg, &err) || fv_exec_new(dev, &g, &eo, &ex, &err) ||
      fv_exec_write(ex, vg.input, input, n_in, &err) || fv_exec_run(ex, &err) ||
      fv_exec_read(ex, vg.logits, logits, n_out, &err)) {
    CHECK(0, "%s: %s", vit->path, err.msg);
  } else {
    diff = fv_test_max_abs_error(logits, expected, n_out);
  }
  fv_exec_free(ex);
  fv_graph_free(&g);
  free(logits);
  return diff;
}

int main(void) {
  fv_error err;
  fv_device *dev = NULL;
  if (fv_device_open(NULL, &dev, &err)) {
    fprintf(stderr, "no Vulkan device: %s\n", err.msg);
    return 1;
  }
  fv_device *staging_dev = NULL;
  setenv("FOVEA_FORCE_STAGING", "1", 1);
  CHECK(fv_device_open(NULL, &staging_dev, &err) == FV_OK, "%s", err.msg);
  unsetenv("FOVEA_FORCE_STAGING");
  DIR *d = opendir(FIXTURES);
  CHECK(d != NULL, "cannot open %s", FIXTURES);
  int fixtures = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, e->d_name);
    fv_test_model_fixture fx;
    if (!fv_test_model_fixture_load(dir, &fx)) continue;
    fixtures++;
    double cpu = run_fixture(NULL, &fx.vit, FV_F32, 0, fx.input, fx.batch, fx.logits);
    double gpu = run_fixture(dev, &fx.vit, FV_F32, 0, fx.input, fx.batch, fx.logits);
    double gpu16 = run_fixture(dev, &fx.vit, FV_F16, 0, fx.input, fx.batch, fx.logits);
    double cpu16 = run_fixture(NULL, &fx.vit, FV_F16, 0, fx.input, fx.batch, fx.logits);
    /* The discrete-GPU path (staging copies), and one submission per node. */
    double staged =
        staging_dev ? run_fixture(staging_dev, &fx.vit, FV_F32, 1.0, fx.input, fx.batch, fx.logits) : INFINITY;
    double scale = 1;
    for (size_t i = 0; i < fx.n_logits; i++) scale = fmax(scale, fabs(fx.logits[i]));
    printf("%-28s cpu %.2e  vulkan %.2e  vulkan-fp16 %.2e  cpu-fp16 %.2e  (max |logit| %.2f)\n", e->d_name, cpu, gpu,
           gpu16, cpu16, scale);
    CHECK(cpu <= 1e-3, "%s: CPU executor logits differ from PyTorch by %g", dir, cpu);
    CHECK(gpu <= 1e-3, "%s: Vulkan logits differ from PyTorch by %g", dir, gpu);
    CHECK(staged <= 1e-3, "%s: Vulkan logits through staging, chunked, differ from PyTorch by %g", dir, staged);
    /* fp16 keeps 11 significant bits: relative 2^-11 per rounding, a few dozen roundings deep. */
    CHECK(gpu16 <= 3e-2 * scale, "%s: Vulkan fp16 logits differ from PyTorch by %g", dir, gpu16);
    CHECK(cpu16 <= 3e-2 * scale, "%s: CPU fp16-emulated logits differ from PyTorch by %g", dir, cpu16);
    fv_test_model_fixture_free(&fx);
  }
  if (d) closedir(d);
  CHECK(fixtures >= 6, "expected at least 6 model fixtures in %s, found %d", FIXTURES, fixtures);
  CHECK(fv_device_validation_errors(dev) == 0, "validation layer reported %d messages",
        fv_device_validation_errors(dev));
  CHECK(fv_device_validation_errors(staging_dev) == 0, "validation layer reported %d messages (staging device)",
        fv_device_validation_errors(staging_dev));
  fv_device_close(dev);
  fv_device_close(staging_dev);
  return fv_test_finish();
}
