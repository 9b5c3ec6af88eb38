/* test_preprocess.c: timm's eval transform as a graph, against torchvision.
 *
 * For every entry of tests/fixtures/preprocess/manifest.json (tools/make_preprocess_fixtures.py)
 * the plan's tables are applied three ways: by plain loops here (checks the plan alone),
 * by the CPU executor and by the Vulkan device. Each result is compared with torchvision's
 * tensor in 8-bit pixel units (|a - b| * std * 255): at most one level apart, since PIL
 * itself works in 8 bits and our float sums can round the other way only within ~1e-5 of a
 * half. The size rules (shorter side, banker's-rounded crop offsets, crop_pct from a float)
 * and the error paths are checked directly. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/device.h"
#include "engine/file.h"
#include "vision/image.h"
#include "vision/preprocess.h"

#define FIXTURES "tests/fixtures/preprocess/"
/* One 8-bit level, plus float noise from the division by std. The integer emulation of
 * PIL's fixed point matches PIL exactly; the engine sums in fp32, which cannot tell an exact
 * half from one 2^-22 away, so a handful of pixels per image round the other way. */
#define MAX_LEVELS (1.0 + 1e-3)
/* JPEG end to end: our decode differs from PIL's by up to a few levels (test_image.c). */
#define MAX_LEVELS_JPEG (4.0 + 1e-3)

static void *read_file(const char *path, size_t *len) {
  char *data = NULL;
  fv_error err;
  return fv_read_file(path, (size_t)64 << 20, &data, len, &err) ? NULL : (void *)data;
}

/* PIL's pass: weighted sum of 8-bit values, rounded half up and clamped. */
static void host_pass(const float *src, int H, int W, int C, const fv_resample_table *t, int axis, float *dst) {
  int outer = axis == 1 ? H : t->out_size, inner = axis == 1 ? t->out_size : W;
  for (int a = 0; a < outer; a++)
    for (int b = 0; b < inner; b++)
      for (int c = 0; c < C; c++) {
        int o = axis == 1 ? b : a;
        const float *row = t->table + (size_t)o * (2 + t->taps);
        int first = (int)row[0], n = (int)row[1];
        float acc = 0;
        for (int k = 0; k < n; k++) {
          int y = axis == 1 ? a : first + k, x = axis == 1 ? first + k : b;
          acc += row[2 + k] * src[((size_t)y * W + x) * C + c];
        }
        float r = floorf(acc + 0.5f);
        dst[((size_t)a * inner + b) * C + c] = r < 0 ? 0 : r > 255 ? 255 : r;
      }
}

static void host_preprocess(const fv_image *img, const fv_preprocess_plan *plan, const float *mean, const float *std,
                            float *out) {
  int C = img->channels, H = img->height, W = img->width;
  float *cur = malloc(sizeof(float) * (size_t)H * W * C);
  for (size_t i = 0; i < (size_t)H * W * C; i++) cur[i] = img->pixels[i];
  if (plan->horizontal.table) {
    float *next = malloc(sizeof(float) * (size_t)H * plan->horizontal.out_size * C);
    host_pass(cur, H, W, C, &plan->horizontal, 1, next);
    free(cur);
    cur = next;
    W = plan->horizontal.out_size;
  }
  if (plan->vertical.table) {
    float *next = malloc(sizeof(float) * (size_t)plan->vertical.out_size * W * C);
    host_pass(cur, H, W, C, &plan->vertical, 0, next);
    free(cur);
    cur = next;
    H = plan->vertical.out_size;
  }
  for (int c = 0; c < C; c++)
    for (int y = 0; y < plan->dst_h; y++)
      for (int x = 0; x < plan->dst_w; x++) {
        float v = cur[((size_t)(plan->top + y) * W + plan->left + x) * C + c] / 255.0f;
        out[((size_t)c * plan->dst_h + y) * plan->dst_w + x] = (v - mean[c]) / std[c];
      }
  free(cur);
}

static size_t differing; /* elements more than half a level from torchvision's, last call */

/* Largest difference in 8-bit levels between two normalised [C, h, w] tensors. */
static double level_diff(const float *a, const float *b, int C, size_t plane, const float *std) {
  double m = 0;
  differing = 0;
  for (int c = 0; c < C; c++)
    for (size_t i = 0; i < plane; i++) {
      double d = fabs((double)a[c * plane + i] - (double)b[c * plane + i]) * std[c] * 255.0;
      if (isnan(d)) return INFINITY;
      if (d > 0.5) differing++;
      if (d > m) m = d;
    }
  return m;
}

/* For images our decoder does not reproduce exactly (JPEG), the transform is checked on
 * PIL's decoded bytes, stored beside the image; returns 1 and fills img if so. */
static int load_pil_bytes(const cJSON *images, const char *name, int C, fv_image *img) {
  const cJSON *im;
  cJSON_ArrayForEach(im, images) {
    if (strcmp(cJSON_GetObjectItem(im, "file")->valuestring, name) != 0) continue;
    if (cJSON_IsTrue(cJSON_GetObjectItem(im, "exact"))) return 0;
    const cJSON *raw = cJSON_GetObjectItem(im, C == 3 ? "rgb8" : "gray8");
    if (!raw) return 0;
    char path[512];
    snprintf(path, sizeof path, FIXTURES "%s", raw->valuestring);
    size_t len = 0;
    uint8_t *px = read_file(path, &len);
    img->width = cJSON_GetObjectItem(im, "width")->valueint;
    img->height = cJSON_GetObjectItem(im, "height")->valueint;
    img->channels = C;
    img->pixels = px;
    CHECK(px && len == (size_t)img->width * img->height * C, "%s: wrong size", path);
    return px != NULL;
  }
  return 0;
}

static double worst[3]; /* host, CPU, GPU */

static void check_entry(const cJSON *e, const cJSON *images, fv_device *dev) {
  const char *image = cJSON_GetObjectItem(e, "image")->valuestring;
  const char *expected = cJSON_GetObjectItem(e, "expected")->valuestring;
  int C = cJSON_GetObjectItem(e, "channels")->valueint;
  const cJSON *size = cJSON_GetObjectItem(e, "size");
  fv_preprocess_params p = {0};
  p.height = cJSON_GetArrayItem(size, 0)->valueint;
  p.width = cJSON_GetArrayItem(size, 1)->valueint;
  p.crop_pct = (float)cJSON_GetObjectItem(e, "crop_pct")->valuedouble;
  p.interp = strcmp(cJSON_GetObjectItem(e, "interpolation")->valuestring, "bicubic") == 0 ? FV_INTERP_BICUBIC
                                                                                          : FV_INTERP_BILINEAR;
  p.crop_mode =
      strcmp(cJSON_GetObjectItem(e, "crop_mode")->valuestring, "squash") == 0 ? FV_CROP_SQUASH : FV_CROP_CENTER;
  for (int c = 0; c < C; c++) {
    p.mean[c] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(e, "mean"), c)->valuedouble;
    p.std[c] = (float)cJSON_GetArrayItem(cJSON_GetObjectItem(e, "std"), c)->valuedouble;
  }
  char path[512];
  snprintf(path, sizeof path, FIXTURES "%s", image);
  fv_image img, own = {0};
  fv_error err = {{0}};
  int pil_bytes = load_pil_bytes(images, image, C, &img);
  if (fv_image_load(path, C, pil_bytes ? &own : &img, &err)) {
    CHECK(0, "%s", err.msg);
    fv_image_free(&img);
    return;
  }
  size_t plane = (size_t)p.height * p.width, n = plane * C, len = 0;
  snprintf(path, sizeof path, FIXTURES "%s", expected);
  float *ref = read_file(path, &len);
  CHECK(ref && len == n * sizeof(float), "%s: expected %zu floats", path, n);
  float *out = malloc(sizeof(float) * n);
  fv_preprocess_plan plan;
  if (!ref || len != n * sizeof(float) || !out) goto done;
  if (fv_preprocess_plan_make(img.height, img.width, p.height, p.width, p.interp, p.crop_pct, p.crop_mode, &plan,
                              &err)) {
    CHECK(0, "%s: %s", expected, err.msg);
    goto done;
  }
  host_preprocess(&img, &plan, p.mean, p.std, out);
  double d[3] = {level_diff(out, ref, C, plane, p.std), -1, -1};
  size_t n_diff[3] = {differing, 0, 0};
  fv_preprocess_plan_free(&plan);
  for (int k = 1; k < 3; k++) {
    if (k == 2 && !dev) continue;
    memset(out, 0, sizeof(float) * n);
    fv_status st = fv_preprocess_image(k == 1 ? NULL : dev, &img, &p, out, &err);
    CHECK(st == FV_OK, "%s on %s: %s", expected, k == 1 ? "CPU" : "GPU", err.msg);
    if (st == FV_OK) d[k] = level_diff(out, ref, C, plane, p.std);
    n_diff[k] = differing;
  }
  printf(
      "%-32s %dx%dx%d -> %dx%d %s %.3f %s: max diff in levels (elements > 0.5 of %zu): host %.0f (%zu), "
      "CPU %.0f (%zu), GPU %.0f (%zu)\n",
      expected, img.height, img.width, C, p.height, p.width, cJSON_GetObjectItem(e, "interpolation")->valuestring,
      (double)p.crop_pct, cJSON_GetObjectItem(e, "crop_mode")->valuestring, n, d[0], n_diff[0], d[1], n_diff[1], d[2],
      n_diff[2]);
  if (pil_bytes) {
    /* End to end with our own decoder. */
    CHECK(fv_preprocess_image(NULL, &own, &p, out, &err) == FV_OK, "%s: %s", expected, err.msg);
    double e2e = level_diff(out, ref, C, plane, p.std);
    printf("%-32s end to end with FFmpeg's decode: max diff %.0f levels (%zu elements > 0.5)\n", expected, e2e,
           differing);
    CHECK(e2e <= MAX_LEVELS_JPEG, "%s: end to end %.3f levels from torchvision (allowed %.3f)", expected, e2e,
          MAX_LEVELS_JPEG);
  }
  for (int k = 0; k < 3; k++) {
    CHECK(d[k] <= MAX_LEVELS, "%s: %s differs from torchvision by %.3f levels (allowed %.3f)", expected,
          k == 0   ? "host"
          : k == 1 ? "CPU"
                   : "GPU",
          d[k], MAX_LEVELS);
    if (d[k] > worst[k]) worst[k] = d[k];
  }
done:
  free(out);
  free(ref);
  fv_image_free(&img);
  fv_image_free(&own);
}

static void test_plan_rules(void) {
  fv_preprocess_plan plan;
  fv_error err = {{0}};
  /* 200 x 300 (H x W) to 32 at 0.875: shorter side floor(36.57) = 36, longer int(36*300/200) = 54. */
  CHECK(fv_preprocess_plan_make(200, 300, 32, 32, FV_INTERP_BICUBIC, 0.875f, FV_CROP_CENTER, &plan, &err) == FV_OK,
        "%s", err.msg);
  CHECK(plan.resize_h == 36 && plan.resize_w == 54 && plan.top == 2 && plan.left == 11,
        "200x300 -> %dx%d, crop at %d,%d; expected 36x54 at 2,11", plan.resize_h, plan.resize_w, plan.top, plan.left);
  for (int o = 0; o < plan.horizontal.out_size; o++) {
    const float *row = plan.horizontal.table + (size_t)o * (2 + plan.horizontal.taps);
    double s = 0;
    for (int k = 0; k < (int)row[1]; k++) s += row[2 + k];
    CHECK(fabs(s - 1.0) < 1e-5 && row[0] >= 0 && row[0] + row[1] <= 300, "table row %d: sum %g, first %g, taps %g", o,
          s, row[0], row[1]);
  }
  fv_preprocess_plan_free(&plan);
  /* Python's round() is half-to-even: offsets round(2.5) = 2 and round(3.5) = 4. */
  CHECK(fv_preprocess_plan_make(37, 32, 32, 32, FV_INTERP_BILINEAR, 1.0f, FV_CROP_CENTER, &plan, &err) == FV_OK &&
            plan.resize_h == 37 && plan.top == 2 && plan.horizontal.table == NULL && plan.vertical.table == NULL,
        "37x32 crop 32: top %d (expected 2), resize %dx%d", plan.top, plan.resize_h, plan.resize_w);
  fv_preprocess_plan_free(&plan);
  CHECK(fv_preprocess_plan_make(39, 32, 32, 32, FV_INTERP_BILINEAR, 1.0f, FV_CROP_CENTER, &plan, &err) == FV_OK &&
            plan.top == 4,
        "39x32 crop 32: top %d, expected 4", plan.top);
  fv_preprocess_plan_free(&plan);
  /* 17 / 0.85 is 20.000000000000004 in Python; with the float 0.85f it would be 19.99999944. */
  CHECK(fv_preprocess_plan_make(100, 100, 17, 17, FV_INTERP_BICUBIC, 0.85f, FV_CROP_CENTER, &plan, &err) == FV_OK &&
            plan.resize_h == 20 && plan.resize_w == 20,
        "17 at crop_pct 0.85: resize %dx%d, expected 20x20 as Python computes", plan.resize_h, plan.resize_w);
  fv_preprocess_plan_free(&plan);
  /* Non-square and squash: both sides exact. */
  CHECK(fv_preprocess_plan_make(200, 300, 24, 40, FV_INTERP_BICUBIC, 0.875f, FV_CROP_CENTER, &plan, &err) == FV_OK &&
            plan.resize_h == 27 && plan.resize_w == 45 && plan.top == 2 && plan.left == 2,
        "200x300 -> (24, 40): resize %dx%d at %d,%d", plan.resize_h, plan.resize_w, plan.top, plan.left);
  fv_preprocess_plan_free(&plan);
  float bad[] = {0.0f, -0.5f, 1.2f, NAN};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err.msg[0] = '\0';
    CHECK(fv_preprocess_plan_make(50, 50, 32, 32, FV_INTERP_BICUBIC, bad[i], FV_CROP_CENTER, &plan, &err) == FV_ERR &&
              strstr(err.msg, "crop_pct"),
          "crop_pct %g accepted: %s", (double)bad[i], err.msg);
  }
  CHECK(fv_preprocess_plan_make(0, 50, 32, 32, FV_INTERP_BICUBIC, 0.9f, FV_CROP_CENTER, &plan, &err) == FV_ERR,
        "a 0-row image was accepted");
  CHECK(fv_preprocess_plan_make(1, 65535, 224, 224, FV_INTERP_BICUBIC, 0.9f, FV_CROP_CENTER, &plan, &err) == FV_ERR &&
            strstr(err.msg, "aspect"),
        "an extreme aspect ratio was accepted: %s", err.msg);
}

/* An image already at the resize size takes the identity path: the output is the crop. */
static void test_identity(fv_device *dev) {
  uint8_t px[36 * 36 * 3];
  for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 7 % 251);
  fv_image img = {.width = 36, .height = 36, .channels = 3, .pixels = px};
  fv_preprocess_params p = {.height = 32,
                            .width = 32,
                            .interp = FV_INTERP_BICUBIC,
                            .crop_pct = 0.875f,
                            .crop_mode = FV_CROP_CENTER,
                            .mean = {0.5f, 0.25f, 0.f},
                            .std = {0.5f, 1.f, 2.f}};
  float out[3 * 32 * 32], ref[3 * 32 * 32];
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < 32; y++)
      for (int x = 0; x < 32; x++)
        ref[(c * 32 + y) * 32 + x] = (px[((y + 2) * 36 + x + 2) * 3 + c] / 255.0f - p.mean[c]) / p.std[c];
  for (int k = 0; k < 2; k++) {
    if (k == 1 && !dev) continue;
    fv_error err = {{0}};
    CHECK(fv_preprocess_image(k ? dev : NULL, &img, &p, out, &err) == FV_OK, "identity: %s", err.msg);
    CHECK(fv_test_max_abs_error(out, ref, 3 * 32 * 32) < 1e-6, "identity path on %s: max error %g", k ? "GPU" : "CPU",
          fv_test_max_abs_error(out, ref, 3 * 32 * 32));
  }
}

int main(void) {
  test_plan_rules();
  fv_device *dev = NULL;
  fv_error err = {{0}};
  if (fv_device_open(NULL, &dev, &err) != FV_OK) {
    printf("no Vulkan device (%s): GPU comparisons skipped\n", err.msg);
    dev = NULL;
  }
  test_identity(dev);
  size_t len = 0;
  char *text = read_file(FIXTURES "manifest.json", &len);
  CHECK(text != NULL, "cannot read " FIXTURES "manifest.json (run from the source tree)");
  cJSON *manifest = text ? cJSON_ParseWithLength(text, len) : NULL;
  const cJSON *e;
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(manifest, "transforms"))
      check_entry(e, cJSON_GetObjectItem(manifest, "images"), dev);
  printf("worst difference from torchvision in 8-bit levels: host %.3f, CPU %.3f, GPU %.3f\n", worst[0], worst[1],
         dev ? worst[2] : -1.0);
  cJSON_Delete(manifest);
  free(text);
  if (dev) {
    CHECK(fv_device_validation_errors(dev) == 0, "the validation layer reported %d messages",
          fv_device_validation_errors(dev));
    fv_device_close(dev);
  }
  return fv_test_finish();
}
