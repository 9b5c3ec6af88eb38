/* test_corrupt_host.c: the host-side (CPU) pieces of the corruptions: glass blur's copy chain
 * map, frost textures and crops, spatter's water layer and its OpenCV-like steps, and the
 * libjpeg-turbo round trip against Pillow fixtures. Everything here is plain C on small
 * inputs; no device is opened. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/philox.h"
#include "vision/corrupt_glass.h"
#include "vision/image.h"
#include "vision/jpeg.h"

/* ---- glass blur ------------------------------------------------------------------------- */

/* The reference chain applied to pixel values, written from spec 3.3 directly. */
static void glass_simulate(uint8_t *img, int H, int W, int delta, int iterations, uint32_t seed, uint32_t key,
                           int severity) {
  for (int it = 0; it < iterations; it++) {
    fv_rng rx = {seed, key, 4, (uint32_t)severity, (uint32_t)(2 * it)};
    fv_rng ry = {seed, key, 4, (uint32_t)severity, (uint32_t)(2 * it + 1)};
    uint32_t k = 0;
    for (int h = H - delta; h > delta; h--)
      for (int w = W - delta; w > delta; w--) {
        int dx = (int)fv_rng_below(&rx, k, (uint32_t)(2 * delta)) - delta;
        int dy = (int)fv_rng_below(&ry, k, (uint32_t)(2 * delta)) - delta;
        k++;
        /* The references' x[h,w], x[h',w'] = x[h',w'], x[h,w] on views: a copy. */
        for (int c = 0; c < 3; c++) img[((h)*W + w) * 3 + c] = img[((h + dy) * W + (w + dx)) * 3 + c];
      }
  }
}

static void test_glass_case(int H, int W, int delta, int iterations, uint32_t seed, uint32_t key, int severity) {
  size_t n = (size_t)H * W;
  uint8_t *img = malloc(n * 3), *sim = malloc(n * 3);
  float *dy = malloc(n * sizeof(float)), *dx = malloc(n * sizeof(float));
  uint64_t st = 0x9E3779B97F4A7C15ull ^ (uint64_t)(H * 131 + W);
  for (size_t i = 0; i < n * 3; i++) img[i] = (uint8_t)((fv_test_rand(&st) + 1.0f) * 127.5f);
  memcpy(sim, img, n * 3);
  glass_simulate(sim, H, W, delta, iterations, seed, key, severity);
  fv_glass_displacement(H, W, delta, iterations, seed, key, severity, dy, dx);
  int in_range = 1, integral = 1, mismatches = 0, moved = 0;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      float fy = dy[y * W + x], fx = dx[y * W + x];
      if (fy != (float)(int)fy || fx != (float)(int)fx) integral = 0;
      int sy = y + (int)fy, sx = x + (int)fx;
      if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
        in_range = 0;
        continue;
      }
      if (fy != 0 || fx != 0) moved++;
      for (int c = 0; c < 3; c++)
        if (img[(sy * W + sx) * 3 + c] != sim[(y * W + x) * 3 + c]) mismatches++;
    }
  CHECK(in_range && integral, "glass %dx%d delta %d: map leaves the image or is not whole", H, W, delta);
  CHECK(mismatches == 0, "glass %dx%d delta %d it %d: %d values differ from the simulated chain", H, W, delta,
        iterations, mismatches);
  if (H >= 2 * delta + 2 && W >= 2 * delta + 2)
    CHECK(moved > 0, "glass %dx%d delta %d: nothing moved", H, W, delta);
  else if (H < 2 * delta + 1 || W < 2 * delta + 1)
    CHECK(moved == 0, "glass %dx%d delta %d: image too small for the loop but pixels moved", H, W, delta);
  free(img);
  free(sim);
  free(dy);
  free(dx);
}

static void test_glass(void) {
  test_glass_case(17, 23, 1, 2, 0, 0, 1);
  test_glass_case(32, 32, 1, 2, 7, 11, 5);
  test_glass_case(31, 40, 4, 2, 1, 2, 5);
  test_glass_case(20, 19, 2, 3, 3, 9, 3);
  test_glass_case(10, 10, 3, 2, 0, 5, 4);
  /* Small images: 2*delta+1 rows still has one visited row; 2*delta rows none. */
  test_glass_case(9, 9, 4, 2, 0, 1, 5);
  test_glass_case(8, 12, 4, 2, 0, 1, 5);
  test_glass_case(2, 2, 1, 1, 0, 0, 1);
  test_glass_case(1, 1, 1, 1, 0, 0, 1);
  /* Offsets are biased to negative values and cover [-delta, delta-1]: check on one map. */
  int H = 64, W = 64, delta = 3;
  float *dy = malloc(sizeof(float) * H * W), *dx = malloc(sizeof(float) * H * W);
  fv_glass_displacement(H, W, delta, 1, 5, 6, 4, dy, dx);
  int seen[8] = {0};
  for (int i = 0; i < H * W; i++)
    if (dx[i] >= -delta && dx[i] < delta) seen[(int)dx[i] + delta]++;
  int all = 1;
  for (int v = 0; v < 2 * delta; v++) all &= seen[v] > 0;
  CHECK(all, "glass: one pass should produce every offset in [-3, 2]");
  /* Different keys give different maps; the same key the same map. */
  float *dy2 = malloc(sizeof(float) * H * W), *dx2 = malloc(sizeof(float) * H * W);
  fv_glass_displacement(H, W, delta, 1, 5, 6, 4, dy2, dx2);
  CHECK(memcmp(dy, dy2, sizeof(float) * H * W) == 0 && memcmp(dx, dx2, sizeof(float) * H * W) == 0,
        "glass: same key, different map");
  fv_glass_displacement(H, W, delta, 1, 5, 7, 4, dy2, dx2);
  CHECK(memcmp(dx, dx2, sizeof(float) * H * W) != 0, "glass: different image keys gave the same map");
  free(dy);
  free(dx);
  free(dy2);
  free(dx2);
}

/* ---- JPEG ------------------------------------------------------------------------------- */

#define JPEG_FIXTURES "tests/fixtures/jpeg/"

static int read_bytes(const char *path, unsigned char **data, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  *data = malloc((size_t)*len + 1);
  int ok = *data && fread(*data, 1, (size_t)*len, f) == (size_t)*len;
  fclose(f);
  return ok;
}

static void test_jpeg(void) {
  fv_error err;
  const char *names[2] = {"rgb", "gray"};
  const int qualities[3] = {25, 7, 85};
  for (int n = 0; n < 2; n++) {
    char path[256];
    fv_image in = {0};
    snprintf(path, sizeof path, JPEG_FIXTURES "input_%s.png", names[n]);
    int ch = n == 0 ? 3 : 1;
    if (fv_image_load(path, ch, &in, &err)) {
      CHECK(0, "%s", err.msg);
      continue;
    }
    for (int qi = 0; qi < 3; qi++) {
      fv_image want = {0}, got = {0};
      snprintf(path, sizeof path, JPEG_FIXTURES "rt_%s_q%d.png", names[n], qualities[qi]);
      if (fv_image_load(path, ch, &want, &err)) {
        CHECK(0, "%s", err.msg);
        continue;
      }
      fv_status st = fv_jpeg_roundtrip(&in, qualities[qi], &got, &err);
      CHECK(st == FV_OK, "jpeg round trip %s q%d: %s", names[n], qualities[qi], err.msg);
      if (st == FV_OK) {
        size_t bytes = (size_t)in.width * in.height * ch;
        int differ = 0, maxd = 0;
        for (size_t i = 0; i < bytes; i++) {
          int d = abs((int)got.pixels[i] - (int)want.pixels[i]);
          differ += d != 0;
          if (d > maxd) maxd = d;
        }
        CHECK(got.width == in.width && got.height == in.height && got.channels == ch, "jpeg round trip shape");
        CHECK(differ == 0, "jpeg round trip %s q%d: %d of %zu values differ from Pillow (max %d)", names[n],
              qualities[qi], differ, bytes, maxd);
      }
      fv_image_free(&want);
      fv_image_free(&got);
    }
    /* The writer with optimised Huffman tables: the same file bytes as Pillow's save(optimize=True). */
    char out[256];
    snprintf(out, sizeof out, "%s/fovea_test_jpeg_%d_%s.jpg", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
             (int)getpid(), names[n]);
    fv_status st = fv_jpeg_save(out, &in, 85, 1, &err);
    CHECK(st == FV_OK, "jpeg save: %s", err.msg);
    unsigned char *a = NULL, *b = NULL;
    long la = 0, lb = 0;
    snprintf(path, sizeof path, JPEG_FIXTURES "save_%s_q85_opt.jpg", names[n]);
    if (st == FV_OK && read_bytes(out, &a, &la) && read_bytes(path, &b, &lb))
      CHECK(la == lb && memcmp(a, b, (size_t)la) == 0, "jpeg save %s: %ld bytes, Pillow's file %ld bytes, differ",
            names[n], la, lb);
    else
      CHECK(0, "jpeg save %s: cannot read %s or %s back", names[n], out, path);
    free(a);
    free(b);
    unlink(out);
    fv_image_free(&in);
  }
  /* Errors are reported, not fatal. */
  uint8_t px[12] = {0};
  fv_image bad = {2, 2, 3, px}, tmp = {0};
  CHECK(fv_jpeg_roundtrip(&bad, 0, &tmp, &err) == FV_ERR && strstr(err.msg, "quality 0"), "quality 0: %s", err.msg);
  bad.channels = 2;
  CHECK(fv_jpeg_roundtrip(&bad, 50, &tmp, &err) == FV_ERR && strstr(err.msg, "channels"), "2 channels: %s", err.msg);
  bad.channels = 3;
  CHECK(fv_jpeg_save("/nonexistent-dir/x.jpg", &bad, 50, 0, &err) == FV_ERR && strstr(err.msg, "/nonexistent-dir"),
        "unwritable path: %s", err.msg);
}

int main(void) {
  test_glass();
  test_jpeg();
  return fv_test_finish();
}
