/* test_corrupt_host.c: the host-side (CPU) pieces of the corruptions: glass blur's copy chain
 * map, frost textures and crops, spatter's water layer and its OpenCV-like steps, and the
 * libjpeg-turbo round trip against Pillow fixtures. Everything here is plain C on small
 * inputs; no device is opened. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine/philox.h"
#include "vision/corrupt_frost.h"
#include "vision/corrupt_glass.h"
#include "vision/corrupt_spatter.h"
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
  /* fv_jpeg_load: Pillow's optimize=True file holds the same coefficients as the plain q85 round
   * trip (Huffman optimisation is lossless), so it decodes to Pillow's q85 pixels. */
  for (int n = 0; n < 2; n++) {
    char path[256];
    fv_image got = {0}, want = {0};
    int ch = n == 0 ? 3 : 1;
    snprintf(path, sizeof path, JPEG_FIXTURES "rt_%s_q85.png", names[n]);
    fv_status st = fv_image_load(path, ch, &want, &err);
    snprintf(path, sizeof path, JPEG_FIXTURES "save_%s_q85_opt.jpg", names[n]);
    if (st == FV_OK) st = fv_jpeg_load(path, ch, &got, &err);
    CHECK(st == FV_OK && got.width == want.width && got.height == want.height &&
              memcmp(got.pixels, want.pixels, (size_t)got.width * got.height * ch) == 0,
          "fv_jpeg_load %s: %s", path, st ? err.msg : "pixels differ from Pillow's");
    fv_image_free(&got);
    fv_image_free(&want);
  }
  /* A libjpeg error (not a JPEG at all) comes back as an fv_error through setjmp. */
  char bad_path[256];
  snprintf(bad_path, sizeof bad_path, "%s/fovea_test_bad_%d.jpg", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
           (int)getpid());
  FILE *bf = fopen(bad_path, "wb");
  if (bf) {
    fputs("this is not a JPEG file", bf);
    fclose(bf);
  }
  fv_image garbage = {0};
  CHECK(fv_jpeg_load(bad_path, 3, &garbage, &err) == FV_ERR && strstr(err.msg, "JPEG decoding failed") &&
            strstr(err.msg, bad_path) && !garbage.pixels,
        "garbage JPEG: %s", err.msg);
  unlink(bad_path);
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

/* ---- spatter ---------------------------------------------------------------------------- */

/* scipy gaussian_filter written the slow way: the full 2-D kernel, clamped indices. */
static void gauss_direct(const double *in, int H, int W, double sigma, double *out) {
  int r = (int)(4.0 * sigma + 0.5);
  double w[64], sum = 0;
  for (int j = -r; j <= r; j++) sum += (w[j + r] = exp(-(double)j * j / (2 * sigma * sigma)));
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      double acc = 0;
      for (int i = -r; i <= r; i++)
        for (int j = -r; j <= r; j++) {
          int yy = y + i < 0 ? 0 : y + i >= H ? H - 1 : y + i, xx = x + j < 0 ? 0 : x + j >= W ? W - 1 : x + j;
          acc += w[i + r] * w[j + r] * in[yy * W + xx];
        }
      out[y * W + x] = acc / (sum * sum);
    }
}

static void test_spatter_gaussian(void) {
  fv_error err;
  int H = 13, W = 9;
  double in[13 * 9], a[13 * 9], b[13 * 9];
  uint64_t st = 42;
  for (int i = 0; i < H * W; i++) in[i] = fv_test_rand(&st);
  const double sigmas[3] = {0.7, 1.0, 3.0}; /* radius 3, 4 and 12 (> the image: clamped) */
  for (int s = 0; s < 3; s++) {
    CHECK(fv_spatter_gaussian(in, H, W, sigmas[s], a, &err) == FV_OK, "%s", err.msg);
    gauss_direct(in, H, W, sigmas[s], b);
    double md = 0;
    for (int i = 0; i < H * W; i++) md = fmax(md, fabs(a[i] - b[i]));
    CHECK(md < 1e-12, "spatter gaussian sigma %g: max diff %g from the direct 2-D sum", sigmas[s], md);
  }
  /* sigma 1: radius 4; an impulse far from the border spreads as w(i) w(j). */
  double imp[15 * 15] = {0}, o[15 * 15];
  imp[7 * 15 + 7] = 1;
  fv_spatter_gaussian(imp, 15, 15, 1.0, o, &err);
  double z = 0;
  for (int j = -4; j <= 4; j++) z += exp(-0.5 * j * j);
  CHECK(fabs(o[7 * 15 + 7] - 1 / (z * z)) < 1e-15 &&
            fabs(o[5 * 15 + 11] - exp(-0.5 * 4) * exp(-0.5 * 16) / (z * z)) < 1e-15 && o[2 * 15 + 7] == 0,
        "spatter gaussian impulse: %g %g %g", o[7 * 15 + 7], o[5 * 15 + 11], o[2 * 15 + 7]);
}

static int count_value(const uint8_t *a, int n, int v) {
  int c = 0;
  for (int i = 0; i < n; i++) c += a[i] == v;
  return c;
}

static void test_spatter_canny(void) {
  fv_error err;
  enum { H = 8, W = 8 };
  uint8_t img[H * W], e[H * W];
  /* Vertical step 0 | 100 between columns 3 and 4: |dx| = 400 at both; OpenCV keeps the left one
   * (m > left, m >= right), every row (replicated border), strong (400 > 150). */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) img[y * W + x] = x >= 4 ? 100 : 0;
  fv_spatter_canny(img, H, W, 50, 150, e, &err);
  int ok = 1;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) ok &= e[y * W + x] == (x == 3 ? 255 : 0);
  CHECK(ok, "canny vertical step: expected column 3 only");
  /* Horizontal step: the upper row survives (m > above, m >= below). */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) img[y * W + x] = y >= 4 ? 100 : 0;
  fv_spatter_canny(img, H, W, 50, 150, e, &err);
  ok = 1;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) ok &= e[y * W + x] == (y == 3 ? 255 : 0);
  CHECK(ok, "canny horizontal step: expected row 3 only");
  /* A weak step (30: |dx| = 120, between 50 and 150) alone gives no edge... */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) img[y * W + x] = x >= 4 ? 30 : 0;
  fv_spatter_canny(img, H, W, 50, 150, e, &err);
  CHECK(count_value(e, H * W, 255) == 0, "canny weak step: %d edge pixels, expected 0", count_value(e, H * W, 255));
  /* ...but joined to a strong one it is kept by hysteresis. Step 40 in rows 0-1 (|dx| 160 > 150),
   * 37 below (148: weak). Worked by hand: the junction rows' extra dy moves the maximum to
   * column 4 in rows 1-2 (m 166 and 160 vs 160 and 154 in column 3), so the strong pixels are
   * (0,3), (1,4), (2,4); the weak (3..7, 3) touch (2,4) diagonally and join. */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) img[y * W + x] = x >= 4 ? (y < 2 ? 40 : 37) : 0;
  fv_spatter_canny(img, H, W, 50, 150, e, &err);
  ok = 1;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      int edge = (y == 0 && x == 3) || ((y == 1 || y == 2) && x == 4) || (y >= 3 && x == 3);
      ok &= e[y * W + x] == (edge ? 255 : 0);
    }
  CHECK(ok, "canny hysteresis: expected (0,3), (1,4), (2,4) and (3..7,3)");
  /* Thresholds are strict: a step of 12.5 would give exactly 50; a step of 37 gives 148, of 38 152. */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) img[y * W + x] = x >= 4 ? 38 : 0;
  fv_spatter_canny(img, H, W, 50, 150, e, &err);
  CHECK(count_value(e, H * W, 255) == H, "canny step 38 (|dx| 152 > 150): %d edge pixels, expected %d",
        count_value(e, H * W, 255), H);
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) img[y * W + x] = x >= 4 ? 37 : 0;
  fv_spatter_canny(img, H, W, 50, 150, e, &err);
  CHECK(count_value(e, H * W, 255) == 0, "canny step 37 (|dx| 148): %d edge pixels", count_value(e, H * W, 255));
}

static void test_spatter_distance(void) {
  fv_error err;
  enum { H = 9, W = 11 };
  uint8_t img[H * W];
  float d[H * W];
  memset(img, 255, sizeof img);
  img[4 * W + 5] = 0;
  CHECK(fv_spatter_distance(img, H, W, d, &err) == FV_OK, "%s", err.msg);
  /* 16.16 weights: a = 65536, b = round(1.4f * 65536) = 91750, c = round(2.1969f * 65536) = 143976. */
  struct {
    int dy, dx;
    long fixed;
  } cases[] = {{0, 0, 0},       {0, 1, 65536},  {-1, 0, 65536},  {1, 1, 91750},
               {-1, -1, 91750}, {1, 2, 143976}, {-2, 1, 143976}, {0, 2, 131072},
               {2, 2, 183500},  {1, 3, 209512}, {3, 0, 196608},  {-4, -5, 143976 + 3 * 91750}};
  /* (1, 3) = a + c; (4, 5) = c + 3 b = 6.3969, the cheapest mix (4 b + a = 6.6, 3 c = 6.5907). */
  int n = (int)(sizeof cases / sizeof cases[0]);
  for (int i = 0; i < n; i++) {
    float want = (float)cases[i].fixed * (1.0f / 65536.0f);
    float got = d[(4 + cases[i].dy) * W + 5 + cases[i].dx];
    CHECK(got == want, "distance at (%d, %d): %.7f, expected %.7f", cases[i].dy, cases[i].dx, got, want);
  }
  /* No zero at all: OpenCV's "far" value grows from the border, far above the clip at 20. */
  memset(img, 255, sizeof img);
  fv_spatter_distance(img, H, W, d, &err);
  float lo = 1e30f;
  for (int i = 0; i < H * W; i++) lo = fminf(lo, d[i]);
  CHECK(lo > 8000, "distance without zeros: min %g, expected about 8192", lo);
}

static void test_spatter_small_steps(void) {
  /* box3 float on a 3x3 ramp v = 3r + c with reflect-101: centre 4, corner (0,0) 24/9. */
  float ramp[9], out[9];
  for (int i = 0; i < 9; i++) ramp[i] = (float)i;
  fv_spatter_box3_f32(ramp, 3, 3, out);
  CHECK(out[4] == 4.0f && out[0] == (float)(24.0 / 9.0), "box3 f32: centre %g corner %g", out[4], out[0]);
  /* box3 u8 rounds the mean: one 4 among zeros -> 0, one 5 -> 1 (4/9 and 5/9). */
  uint8_t z[25] = {0}, o8[25];
  z[12] = 4;
  fv_spatter_box3_u8(z, 5, 5, o8);
  CHECK(o8[12] == 0 && o8[6] == 0, "box3 u8: 4/9 -> %d", o8[12]);
  z[12] = 5;
  fv_spatter_box3_u8(z, 5, 5, o8);
  CHECK(o8[12] == 1 && o8[6] == 1 && o8[0] == 0, "box3 u8: 5/9 -> %d", o8[12]);
  memset(z, 255, sizeof z);
  fv_spatter_box3_u8(z, 5, 5, o8);
  CHECK(o8[0] == 255 && o8[12] == 255, "box3 u8 saturates at 255: %d", o8[0]);
  /* equalizeHist: hist {0:2, 1:1, 2:3, 3:2}, scale 255/6 = 42.5; rint(42.5) = 42 (half to even). */
  uint8_t h[8] = {0, 0, 1, 2, 2, 2, 3, 3}, he[8];
  fv_spatter_equalize_hist(h, 8, he);
  const uint8_t want[8] = {0, 0, 42, 170, 170, 170, 255, 255};
  CHECK(memcmp(he, want, 8) == 0, "equalizeHist: got %d %d %d %d %d %d %d %d", he[0], he[1], he[2], he[3], he[4], he[5],
        he[6], he[7]);
  uint8_t c[4] = {7, 7, 7, 7}, ce[4];
  fv_spatter_equalize_hist(c, 4, ce);
  CHECK(ce[0] == 7 && ce[3] == 7, "equalizeHist of a constant image keeps it: %d", ce[0]);
  /* emboss: one 200 in the middle of 5x5: (1,1) gets 2*200 -> 255, (3,3) -2*200 -> 0, (2,2) 200,
   * (1,2) and (2,1) 200; a constant image maps to itself (the kernel sums to 1). */
  uint8_t e[25] = {0}, eo[25];
  e[12] = 200;
  fv_spatter_emboss(e, 5, 5, eo);
  CHECK(eo[6] == 255 && eo[18] == 0 && eo[12] == 200 && eo[7] == 200 && eo[11] == 200 && eo[8] == 0,
        "emboss impulse: %d %d %d %d %d", eo[6], eo[18], eo[12], eo[7], eo[11]);
  memset(e, 10, sizeof e);
  fv_spatter_emboss(e, 5, 5, eo);
  CHECK(count_value(eo, 25, 10) == 25, "emboss of a constant image");
  /* reflect-101, not replicate: a lone 100 in corner (0,0) stays 100 there (replicate would give 0). */
  memset(e, 0, sizeof e);
  e[0] = 100;
  fv_spatter_emboss(e, 5, 5, eo);
  CHECK(eo[0] == 100, "emboss corner with reflect-101: %d, expected 100", eo[0]);
}

static void test_spatter_layer(void) {
  fv_error err;
  int H = 40, W = 48, n = H * W;
  float *a = malloc(sizeof(float) * n), *b = malloc(sizeof(float) * n);
  /* ImageNet s3 and CIFAR s1 parameters. */
  const float p3[6] = {0.65f, 0.3f, 2.0f, 0.68f, 0.5f, 0.0f}, pc[6] = {0.62f, 0.1f, 0.7f, 0.7f, 0.5f, 0.0f};
  int empty = -1, empty2 = -1;
  CHECK(fv_spatter_water_layer(H, W, p3, 3, 17, 3, a, &empty, &err) == FV_OK, "%s", err.msg);
  CHECK(fv_spatter_water_layer(H, W, p3, 3, 17, 3, b, &empty2, &err) == FV_OK, "%s", err.msg);
  CHECK(memcmp(a, b, sizeof(float) * n) == 0 && empty == empty2, "spatter layer: not deterministic");
  float mx = 0, mn = 1e30f;
  int zeros = 0;
  for (int i = 0; i < n; i++) {
    mx = fmaxf(mx, a[i]);
    mn = fminf(mn, a[i]);
    zeros += a[i] == 0;
  }
  CHECK(empty == 0 && mx == 0.5f && mn >= 0 && zeros > 0 && zeros < n,
        "spatter layer s3: empty %d max %g min %g zeros %d of %d", empty, mx, mn, zeros, n);
  CHECK(fv_spatter_water_layer(H, W, p3, 3, 18, 3, b, &empty2, &err) == FV_OK && memcmp(a, b, sizeof(float) * n),
        "spatter layer: another image key gave the same layer");
  /* Every layer is either flagged empty and all zero, or peaks at exactly the intensity. The ImageNet
   * s1 parameters on 32x32 images (what imagecorruptions does for small images) leave some draws
   * without liquid: about 2% (spec 3.15: 1 of 50 seeds in the reference); CIFAR s1 almost never. */
  const float p1[6] = {0.65f, 0.3f, 4.0f, 0.69f, 0.6f, 0.0f};
  int empties = 0, empties_cifar = 0, consistent = 1;
  for (uint32_t key = 0; key < 400; key++) {
    for (int table = 0; table < 2; table++) {
      fv_spatter_water_layer(32, 32, table ? pc : p1, 0, key, 1, a, &empty, &err);
      float m = 0;
      for (int i = 0; i < 32 * 32; i++) m = fmaxf(m, a[i]);
      consistent &= empty ? m == 0 : m == (table ? 0.5f : 0.6f);
      if (table)
        empties_cifar += empty;
      else
        empties += empty;
    }
  }
  CHECK(consistent, "spatter layer: empty flag and contents disagree");
  CHECK(empties >= 1 && empties <= 24, "spatter imagenet s1 at 32x32: %d of 400 draws empty, expected about 2%%",
        empties);
  printf("spatter s1 at 32x32: %d of 400 keys without liquid (imagenet table), %d (cifar10 table)\n", empties,
         empties_cifar);
  /* Threshold above every value: no liquid, M = 0, flagged. */
  const float none[6] = {0.65f, 0.3f, 2.0f, 5.0f, 0.5f, 0.0f};
  for (int i = 0; i < n; i++) a[i] = 7;
  CHECK(fv_spatter_water_layer(H, W, none, 0, 0, 1, a, &empty, &err) == FV_OK && empty == 1, "empty layer flag");
  int allzero = 1;
  for (int i = 0; i < n; i++) allzero &= a[i] == 0;
  CHECK(allzero, "empty layer: M must be all zero");
  const float mud[6] = {0.65f, 0.3f, 1.0f, 0.65f, 1.5f, 1.0f};
  CHECK(fv_spatter_water_layer(H, W, mud, 0, 0, 4, a, &empty, &err) == FV_ERR && strstr(err.msg, "mode"),
        "mode 1 refused: %s", err.msg);
  free(a);
  free(b);
}

/* ---- frost ------------------------------------------------------------------------------ */

/* Float references for cv2.resize (half-pixel centres, replicated border), written from the
 * formulas: bicubic with a = -0.75 and bilinear. The C module uses OpenCV's 11-bit fixed point,
 * so the two may differ by one grey level. */
static double cubic_w(double t) {
  const double a = -0.75;
  t = fabs(t);
  if (t <= 1) return ((a + 2) * t - (a + 3)) * t * t + 1;
  if (t < 2) return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a;
  return 0;
}

static double ref_resize_at(const uint8_t *src, int sh, int sw, double scale_y, double scale_x, int cubic, int y, int x,
                            int c) {
  double fy = (y + 0.5) * scale_y - 0.5, fx = (x + 0.5) * scale_x - 0.5;
  int y0 = (int)floor(fy), x0 = (int)floor(fx);
  double acc = 0;
  if (cubic) {
    for (int j = -1; j <= 2; j++)
      for (int i = -1; i <= 2; i++) {
        int yy = y0 + j < 0 ? 0 : y0 + j >= sh ? sh - 1 : y0 + j, xx = x0 + i < 0 ? 0 : x0 + i >= sw ? sw - 1 : x0 + i;
        acc += cubic_w(fy - (y0 + j)) * cubic_w(fx - (x0 + i)) * src[((size_t)yy * sw + xx) * 3 + c];
      }
  } else {
    double ay = fy - y0, axx = fx - x0;
    if (y0 < 0) y0 = 0, ay = 0;
    if (y0 >= sh - 1) y0 = sh - 1, ay = 0;
    if (x0 < 0) x0 = 0, axx = 0;
    if (x0 >= sw - 1) x0 = sw - 1, axx = 0;
    int y1 = y0 + 1 < sh ? y0 + 1 : y0, x1 = x0 + 1 < sw ? x0 + 1 : x0;
    acc = (1 - ay) * ((1 - axx) * src[((size_t)y0 * sw + x0) * 3 + c] + axx * src[((size_t)y0 * sw + x1) * 3 + c]) +
          ay * ((1 - axx) * src[((size_t)y1 * sw + x0) * 3 + c] + axx * src[((size_t)y1 * sw + x1) * 3 + c]);
  }
  return acc < 0 ? 0 : acc > 255 ? 255 : acc;
}

/* Crop check: the same draws as spec 3.7 / the header, the texture resized by the float reference. */
static void check_crop(fv_frost_textures *t, int table, int H, int W, uint32_t seed, uint32_t key, int sev) {
  fv_error err;
  float *crop = malloc(sizeof(float) * H * W * 3);
  fv_status st = fv_frost_crop(t, table, H, W, seed, key, sev, crop, &err);
  CHECK(st == FV_OK, "frost crop table %d %dx%d: %s", table, W, H, err.msg);
  if (st) {
    free(crop);
    return;
  }
  fv_rng r = {seed, key, 8, (uint32_t)sev, 0};
  int k = (int)fv_rng_below(&r, 0, 5), th, tw;
  const uint8_t *tex = fv_frost_texture(t, k, &th, &tw);
  int dh, dw;
  double sy, sx;
  if (table == 0) {
    double s = 1;
    if (th < H || tw < W) s = fmax((double)H / th, (double)W / tw);
    s *= 1.1;
    dw = (int)ceil(tw * s);
    dh = (int)ceil(th * s);
    sx = (double)tw / dw;
    sy = (double)th / dh;
  } else if (table == 3) {
    dw = tw;
    dh = th;
    sx = sy = 1;
  } else {
    double f = table == 1 ? 0.2 : 0.3;
    dw = (int)lrint(tw * f);
    dh = (int)lrint(th * f);
    sx = sy = 1 / f;
  }
  r.stream = 1;
  int r0 = (int)fv_rng_below(&r, 0, (uint32_t)(dh - H));
  r.stream = 2;
  int c0 = (int)fv_rng_below(&r, 0, (uint32_t)(dw - W));
  double maxd = 0;
  int whole = 1;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++)
      for (int c = 0; c < 3; c++) {
        float v = crop[((size_t)y * W + x) * 3 + c];
        whole &= v == floorf(v) && v >= 0 && v <= 255;
        double want = ref_resize_at(tex, th, tw, sy, sx, table == 0, r0 + y, c0 + x, c);
        maxd = fmax(maxd, fabs(v - want));
      }
  CHECK(whole, "frost crop table %d: values must be whole numbers in 0..255", table);
  CHECK(table != 3 || maxd == 0, "frost crop without resize must copy the texture exactly (diff %g)", maxd);
  CHECK(maxd <= 1.0,
        "frost crop table %d %dx%d (texture %d at row %d col %d of %dx%d): max diff %.3f from the float "
        "reference resize",
        table, W, H, k + 1, r0, c0, dw, dh, maxd);
  free(crop);
}

static int write_textures(const char *dir, int count, int jpeg_quality) {
  static const char *names[5] = {"frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"};
  fv_error err;
  for (int k = 0; k < count; k++) {
    int w = 40 + 7 * k, h = 30 + 3 * k;
    fv_image img = {w, h, 3, malloc((size_t)w * h * 3)};
    for (int i = 0; i < w * h * 3; i++) img.pixels[i] = (uint8_t)((i * 37 + k * 11) % 251);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    fv_status st = k < 3 ? fv_image_save_png(path, &img, &err) : fv_jpeg_save(path, &img, jpeg_quality, 0, &err);
    free(img.pixels);
    if (st) return 0;
  }
  return 1;
}

static void test_frost(void) {
  fv_error err;
  fv_frost_textures *a = NULL, *b = NULL, *c = NULL;
  CHECK(fv_frost_open(NULL, 0, &a, &err) == FV_OK, "%s", err.msg);
  CHECK(fv_frost_open(NULL, 0, &b, &err) == FV_OK, "%s", err.msg);
  CHECK(fv_frost_open(NULL, 1, &c, &err) == FV_OK, "%s", err.msg);
  if (!a || !b || !c) return;
  CHECK(strcmp(fv_frost_source(a), "procedural (seed 0)") == 0, "source: %s", fv_frost_source(a));
  static const double presets[5][2] = {{130, 25}, {205, 22}, {150, 28}, {120, 43}, {175, 30}};
  for (int k = 0; k < 5; k++) {
    int h, w, h2, w2;
    const uint8_t *ta = fv_frost_texture(a, k, &h, &w), *tb = fv_frost_texture(b, k, &h2, &w2);
    const uint8_t *tc = fv_frost_texture(c, k, &h2, &w2);
    CHECK(h == 480 && w == 640, "procedural texture %d is %dx%d", k + 1, w, h);
    CHECK(memcmp(ta, tb, (size_t)h * w * 3) == 0, "procedural texture %d: same seed, different bytes", k + 1);
    CHECK(memcmp(ta, tc, (size_t)h * w * 3) != 0, "procedural texture %d: seeds 0 and 1 gave the same bytes", k + 1);
    double s = 0, s2 = 0, ch[3] = {0};
    for (int i = 0; i < h * w; i++) {
      double g = 0.299 * ta[i * 3] + 0.587 * ta[i * 3 + 1] + 0.114 * ta[i * 3 + 2];
      s += g;
      s2 += g * g;
      for (int j = 0; j < 3; j++) ch[j] += ta[i * 3 + j];
    }
    double mean = s / (h * w), sd = sqrt(s2 / (h * w) - mean * mean);
    printf("frost procedural %d: grey mean %.2f std %.2f (preset %.0f, %.0f); RGB means %.1f %.1f %.1f\n", k + 1, mean,
           sd, presets[k][0], presets[k][1], ch[0] / (h * w), ch[1] / (h * w), ch[2] / (h * w));
    CHECK(fabs(mean - presets[k][0]) < 1.0 && fabs(sd - presets[k][1]) < 1.0,
          "procedural texture %d: grey mean %.2f std %.2f, preset (%.0f, %.0f)", k + 1, mean, sd, presets[k][0],
          presets[k][1]);
    CHECK(ch[2] > ch[1] && ch[1] > ch[0], "procedural texture %d should be bluish (B > G > R)", k + 1);
  }
  /* Crops: imagenet rule at 224 and at a size larger than the texture, cifar10 at 32, tiny at 64. */
  check_crop(a, 0, 224, 224, 0, 5, 3);
  check_crop(a, 0, 23, 37, 2, 9, 1);
  check_crop(a, 0, 500, 700, 1, 1, 5);
  check_crop(a, 1, 32, 32, 0, 77, 2);
  check_crop(a, 2, 64, 64, 0, 78, 4);
  check_crop(a, 3, 224, 224, 0, 79, 5); /* hendrycks: no resize, so the crop is exact */
  for (uint32_t key = 0; key < 12; key++) check_crop(a, (int)(key % 3), 32, 32, 3, key, 1 + (int)(key % 5));
  /* Same key, same crop; the cache returns what it made. */
  float *x = malloc(sizeof(float) * 32 * 32 * 3), *y = malloc(sizeof(float) * 32 * 32 * 3);
  fv_frost_crop(a, 1, 32, 32, 4, 4, 4, x, &err);
  fv_frost_crop(a, 0, 32, 32, 4, 4, 4, y, &err);
  fv_frost_crop(a, 1, 32, 32, 4, 4, 4, y, &err);
  CHECK(memcmp(x, y, sizeof(float) * 32 * 32 * 3) == 0, "frost crop not deterministic");
  free(x);
  free(y);
  /* The fixed cifar10 scale cannot cover a 224 image: a clear error, not a crash. */
  float *big = malloc(sizeof(float) * 224 * 224 * 3);
  CHECK(fv_frost_crop(a, 1, 224, 224, 0, 0, 1, big, &err) == FV_ERR && strstr(err.msg, "cifar10"),
        "cifar10 frost on 224: %s", err.msg);
  CHECK(fv_frost_crop(a, 4, 224, 224, 0, 0, 1, big, &err) == FV_ERR && strstr(err.msg, "resize rule 4"),
        "resize rule 4: %s", err.msg);
  free(big);
  fv_frost_close(a);
  fv_frost_close(b);
  fv_frost_close(c);

  /* --frost-dir: missing directory, a short directory, then a complete one. */
  CHECK(fv_frost_open("/nonexistent-frost", 0, &a, &err) == FV_ERR && strstr(err.msg, "frost1.png"),
        "missing frost dir: %s", err.msg);
  char dir[256];
  snprintf(dir, sizeof dir, "%s/fovea_test_frost_%d", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
  mkdir(dir, 0755);
  CHECK(write_textures(dir, 3, 90), "cannot write test textures into %s", dir);
  CHECK(fv_frost_open(dir, 0, &a, &err) == FV_ERR && strstr(err.msg, "frost4.jpg"), "short frost dir: %s", err.msg);
  CHECK(write_textures(dir, 5, 90), "cannot write test textures into %s", dir);
  a = NULL;
  CHECK(fv_frost_open(dir, 0, &a, &err) == FV_OK, "%s", err.msg);
  if (a) {
    /* The source line names the directory and the first 12 hex digits of each file's SHA-256
     * (checked against coreutils' sha256sum for frost4.jpg). */
    const char *src = fv_frost_source(a);
    char cmd[600], line[128] = {0};
    snprintf(cmd, sizeof cmd, "sha256sum '%s/frost4.jpg'", dir);
    FILE *p = popen(cmd, "r");
    if (p) {
      if (!fgets(line, sizeof line, p)) line[0] = 0;
      pclose(p);
    }
    line[12] = 0;
    CHECK(strstr(src, dir) && strstr(src, "sha256") && strlen(line) == 12 && strstr(src, line),
          "frost source '%s' lacks the sha256 prefix %s", src, line);
    /* The JPEG texture decodes as libjpeg-turbo does (fv_jpeg_roundtrip shares the decoder). */
    int h, w;
    const uint8_t *t4 = fv_frost_texture(a, 3, &h, &w);
    fv_image orig = {w, h, 3, malloc((size_t)w * h * 3)}, rt = {0};
    for (int i = 0; i < w * h * 3; i++) orig.pixels[i] = (uint8_t)((i * 37 + 3 * 11) % 251);
    CHECK(fv_jpeg_roundtrip(&orig, 90, &rt, &err) == FV_OK && memcmp(rt.pixels, t4, (size_t)w * h * 3) == 0,
          "frost4.jpg should decode to the libjpeg round trip of its pixels");
    free(orig.pixels);
    fv_image_free(&rt);
    /* Small textures are scaled up to cover the image (the larger ratio, times 1.1). */
    check_crop(a, 0, 64, 64, 0, 3, 2);
    check_crop(a, 0, 64, 64, 0, 4, 2);
    check_crop(a, 0, 20, 90, 0, 5, 2);
    fv_frost_close(a);
  }
  static const char *names[5] = {"frost1.png", "frost2.png", "frost3.png", "frost4.jpg", "frost5.jpg"};
  for (int k = 0; k < 5; k++) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, names[k]);
    unlink(path);
  }
  rmdir(dir);
}

int main(void) {
  test_glass();
  test_jpeg();
  test_spatter_gaussian();
  test_spatter_canny();
  test_spatter_distance();
  test_spatter_small_steps();
  test_spatter_layer();
  test_frost();
  return fv_test_finish();
}
