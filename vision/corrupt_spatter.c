/* corrupt_spatter.c: spatter's water mask on the CPU (see corrupt_spatter.h for what each step
 * reproduces). Everything is single-threaded plain C on one image plane; at 224x224 the whole
 * layer is a few milliseconds, small beside the GPU batch it feeds.
 *
 * Numeric domains follow the reference exactly where they decide a truncation: the liquid
 * layer is float64 (numpy), the distance map float32 with float64 box sums (OpenCV), the
 * products L8 * D float32 (numpy float32 arithmetic). */
#include "corrupt_spatter.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/philox.h"

enum { SPATTER_CORRUPTION = 17 };

/* OpenCV's BORDER_REFLECT_101 (dcb|abcd|cba) for offsets of at most one pixel. */
static int reflect101(int i, int n) {
  if (n == 1) return 0;
  if (i < 0) return -i;
  if (i >= n) return 2 * n - 2 - i;
  return i;
}

static int clampi(int i, int lo, int hi) { return i < lo ? lo : i > hi ? hi : i; }

static fv_status check_size(const char *what, int height, int width, fv_error *err) {
  if (height < 1 || width < 1 || (long)height * width > (1L << 28))
    return fv_fail(err, "%s: image size %dx%d is outside 1..2^28 pixels", what, width, height);
  return FV_OK;
}

/* ---- scipy gaussian_filter --------------------------------------------------------------- */

/* One axis: out[i] = sum_j w[j] in[clamp(i + j)], with scipy's paired sum for symmetric kernels. */
static void gauss_line(const double *in, ptrdiff_t stride, int n, const double *w, int radius, double *out,
                       ptrdiff_t out_stride) {
  for (int i = 0; i < n; i++) {
    double acc = in[(ptrdiff_t)i * stride] * w[0];
    for (int j = 1; j <= radius; j++)
      acc += (in[(ptrdiff_t)clampi(i - j, 0, n - 1) * stride] + in[(ptrdiff_t)clampi(i + j, 0, n - 1) * stride]) * w[j];
    out[(ptrdiff_t)i * out_stride] = acc;
  }
}

fv_status fv_spatter_gaussian(const double *in, int height, int width, double sigma, double *out, fv_error *err) {
  if (check_size("spatter gaussian", height, width, err)) return FV_ERR;
  size_t n = (size_t)height * width;
  if (!(sigma > 0)) {
    memmove(out, in, n * sizeof(double));
    return FV_OK;
  }
  int radius = (int)(4.0 * sigma + 0.5);
  double *w = malloc(sizeof(double) * (size_t)(radius + 1));
  double *tmp = malloc(sizeof(double) * n);
  if (!w || !tmp) {
    free(w);
    free(tmp);
    return fv_fail(err, "spatter gaussian: out of memory for %dx%d", width, height);
  }
  /* scipy: phi(x) = exp(-x^2 / (2 sigma^2)) over x = -radius..radius, divided by its sum. */
  double sum = 1.0;
  w[0] = 1.0;
  for (int j = 1; j <= radius; j++) {
    w[j] = exp(-0.5 / (sigma * sigma) * (double)j * (double)j);
    sum += 2.0 * w[j];
  }
  for (int j = 0; j <= radius; j++) w[j] /= sum;
  for (int x = 0; x < width; x++) gauss_line(in + x, width, height, w, radius, tmp + x, width);
  for (int y = 0; y < height; y++) gauss_line(tmp + (size_t)y * width, 1, width, w, radius, out + (size_t)y * width, 1);
  free(w);
  free(tmp);
  return FV_OK;
}

/* ---- Canny ------------------------------------------------------------------------------- */

fv_status fv_spatter_canny(const uint8_t *src, int height, int width, int low, int high, uint8_t *dst, fv_error *err) {
  if (check_size("spatter canny", height, width, err)) return FV_ERR;
  if (low > high) {
    int t = low;
    low = high;
    high = t;
  }
  size_t n = (size_t)height * width;
  int W2 = width + 2;
  short *gx = malloc(sizeof(short) * n), *gy = malloc(sizeof(short) * n);
  int *mag = calloc((size_t)(height + 2) * W2, sizeof(int)); /* zero ring around the image */
  uint8_t *state = calloc(n, 1);                             /* 0 none, 1 weak, 2 edge */
  int *stack = malloc(sizeof(int) * n);
  if (!gx || !gy || !mag || !state || !stack) {
    free(gx);
    free(gy);
    free(mag);
    free(state);
    free(stack);
    return fv_fail(err, "spatter canny: out of memory for %dx%d", width, height);
  }
  /* 3x3 Sobel, replicated border: gx = [-1 0 1] x [1 2 1]^T, gy its transpose (down is +). */
  for (int y = 0; y < height; y++) {
    const uint8_t *up = src + (size_t)clampi(y - 1, 0, height - 1) * width;
    const uint8_t *mid = src + (size_t)y * width;
    const uint8_t *dn = src + (size_t)clampi(y + 1, 0, height - 1) * width;
    for (int x = 0; x < width; x++) {
      int l = clampi(x - 1, 0, width - 1), r = clampi(x + 1, 0, width - 1);
      int dx = (up[r] - up[l]) + 2 * (mid[r] - mid[l]) + (dn[r] - dn[l]);
      int dy = (dn[l] + 2 * dn[x] + dn[r]) - (up[l] + 2 * up[x] + up[r]);
      gx[(size_t)y * width + x] = (short)dx;
      gy[(size_t)y * width + x] = (short)dy;
      mag[(size_t)(y + 1) * W2 + x + 1] = abs(dx) + abs(dy);
    }
  }
  /* Non-maximum suppression in OpenCV's fixed point: tan(22.5 deg) * 2^15 = 13573; the sector
   * tests and the strict/non-strict comparisons decide which of two equal neighbours survives. */
  const int TG22 = 13573, SHIFT = 15;
  int top = 0;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      const int *m0 = mag + (size_t)(y + 1) * W2 + x + 1;
      int m = *m0;
      if (m <= low) continue;
      int xs = gx[(size_t)y * width + x], ys = gy[(size_t)y * width + x];
      int ax = abs(xs), ay = abs(ys) << SHIFT;
      int tg22x = ax * TG22;
      int keep;
      if (ay < tg22x) {
        keep = m > m0[-1] && m >= m0[1];
      } else {
        int tg67x = tg22x + (ax << (SHIFT + 1));
        if (ay > tg67x) {
          keep = m > m0[-W2] && m >= m0[W2];
        } else {
          int s = (xs ^ ys) < 0 ? -1 : 1;
          keep = m > m0[-W2 - s] && m > m0[W2 + s];
        }
      }
      if (!keep) continue;
      size_t i = (size_t)y * width + x;
      if (m > high) {
        state[i] = 2;
        stack[top++] = (int)i;
      } else {
        state[i] = 1;
      }
    }
  /* Hysteresis: weak pixels 8-connected to an edge become edges. Each pixel is pushed at most once. */
  while (top > 0) {
    int i = stack[--top], y = i / width, x = i % width;
    for (int dy = -1; dy <= 1; dy++)
      for (int dx = -1; dx <= 1; dx++) {
        int yy = y + dy, xx = x + dx;
        if (yy < 0 || yy >= height || xx < 0 || xx >= width) continue;
        size_t j = (size_t)yy * width + xx;
        if (state[j] == 1) {
          state[j] = 2;
          stack[top++] = (int)j;
        }
      }
  }
  for (size_t i = 0; i < n; i++) dst[i] = state[i] == 2 ? 255 : 0;
  free(gx);
  free(gy);
  free(mag);
  free(state);
  free(stack);
  return FV_OK;
}

/* ---- distance transform ------------------------------------------------------------------ */

fv_status fv_spatter_distance(const uint8_t *src, int height, int width, float *dst, fv_error *err) {
  if (check_size("spatter distance", height, width, err)) return FV_ERR;
  /* 16.16 fixed point of the float weights, rounded: 1 -> 65536, 1.4f -> 91750, 2.1969f -> 143976. */
  const int64_t A = (int64_t)lrint((double)1.0f * 65536), B = (int64_t)lrint((double)1.4f * 65536),
                C = (int64_t)lrint((double)2.1969f * 65536);
  const int64_t FAR = INT_MAX >> 2; /* OpenCV's "no zero seen yet"; 64-bit sums cannot overflow */
  int P = 2, W4 = width + 2 * P;
  int64_t *t = malloc(sizeof(int64_t) * (size_t)(height + 2 * P) * W4);
  if (!t) return fv_fail(err, "spatter distance: out of memory for %dx%d", width, height);
  for (size_t i = 0; i < (size_t)(height + 2 * P) * W4; i++) t[i] = FAR;
#define T(yy, xx) t[(size_t)((yy) + P) * W4 + (xx) + P]
  /* Forward pass: the 5x5 mask's half above and to the left. */
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      if (!src[(size_t)y * width + x]) {
        T(y, x) = 0;
        continue;
      }
      int64_t d = T(y - 2, x - 1) + C, c;
      if ((c = T(y - 2, x + 1) + C) < d) d = c;
      if ((c = T(y - 1, x - 2) + C) < d) d = c;
      if ((c = T(y - 1, x - 1) + B) < d) d = c;
      if ((c = T(y - 1, x) + A) < d) d = c;
      if ((c = T(y - 1, x + 1) + B) < d) d = c;
      if ((c = T(y - 1, x + 2) + C) < d) d = c;
      if ((c = T(y, x - 1) + A) < d) d = c;
      T(y, x) = d;
    }
  /* Backward pass: the mirrored half; a pixel at distance <= 1 cannot improve. */
  for (int y = height - 1; y >= 0; y--)
    for (int x = width - 1; x >= 0; x--) {
      int64_t d = T(y, x), c;
      if (d > A) {
        if ((c = T(y + 2, x + 1) + C) < d) d = c;
        if ((c = T(y + 2, x - 1) + C) < d) d = c;
        if ((c = T(y + 1, x + 2) + C) < d) d = c;
        if ((c = T(y + 1, x + 1) + B) < d) d = c;
        if ((c = T(y + 1, x) + A) < d) d = c;
        if ((c = T(y + 1, x - 1) + B) < d) d = c;
        if ((c = T(y + 1, x - 2) + C) < d) d = c;
        if ((c = T(y, x + 1) + A) < d) d = c;
        T(y, x) = d;
      }
      dst[(size_t)y * width + x] = (float)d * (1.0f / 65536.0f);
    }
#undef T
  free(t);
  return FV_OK;
}

/* ---- box filters, histogram equalisation, emboss ----------------------------------------- */

void fv_spatter_box3_f32(const float *src, int height, int width, float *dst) {
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      /* Sums of float32 values in double are exact here (a few bits above 2^-16 granularity). */
      double s = 0;
      for (int dy = -1; dy <= 1; dy++) {
        const float *row = src + (size_t)reflect101(y + dy, height) * width;
        for (int dx = -1; dx <= 1; dx++) s += (double)row[reflect101(x + dx, width)];
      }
      dst[(size_t)y * width + x] = (float)(s * (1.0 / 9.0));
    }
}

void fv_spatter_box3_u8(const uint8_t *src, int height, int width, uint8_t *dst) {
  /* OpenCV's ColumnSum<ushort, uchar>: (s + 4) * 932068 >> 23, i.e. round(s / 9) for s <= 2295. */
  const int64_t MUL = 932068, ADD = 4;
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      int s = 0;
      for (int dy = -1; dy <= 1; dy++) {
        const uint8_t *row = src + (size_t)reflect101(y + dy, height) * width;
        for (int dx = -1; dx <= 1; dx++) s += row[reflect101(x + dx, width)];
      }
      dst[(size_t)y * width + x] = (uint8_t)(((s + ADD) * MUL) >> 23);
    }
}

void fv_spatter_equalize_hist(const uint8_t *src, int n, uint8_t *dst) {
  if (n < 1) return;
  int hist[256] = {0};
  for (int i = 0; i < n; i++) hist[src[i]]++;
  int first = 0;
  while (!hist[first]) first++;
  uint8_t lut[256] = {0};
  if (hist[first] == n) {
    memset(dst, first, (size_t)n);
    return;
  }
  /* OpenCV: float scale, int * float in float, saturate_cast = round half to even. */
  float scale = 255.0f / (float)(n - hist[first]);
  int sum = 0;
  for (int i = first + 1; i < 256; i++) {
    sum += hist[i];
    float v = rintf((float)sum * scale);
    lut[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
  }
  for (int i = 0; i < n; i++) dst[i] = lut[src[i]];
}

void fv_spatter_emboss(const uint8_t *src, int height, int width, uint8_t *dst) {
  static const int K[3][3] = {{-2, -1, 0}, {-1, 1, 1}, {0, 1, 2}};
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++) {
      int s = 0;
      for (int i = 0; i < 3; i++) {
        const uint8_t *row = src + (size_t)reflect101(y + i - 1, height) * width;
        for (int j = 0; j < 3; j++) s += K[i][j] * row[reflect101(x + j - 1, width)];
      }
      dst[(size_t)y * width + x] = (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s);
    }
}

/* ---- the water layer --------------------------------------------------------------------- */

fv_status fv_spatter_water_layer(int height, int width, const float params[6], uint32_t seed, uint32_t image_key,
                                 int severity, float *M, int *empty, fv_error *err) {
  *empty = 0;
  if (check_size("spatter water layer", height, width, err)) return FV_ERR;
  if (params[5] != 0.0f)
    return fv_fail(err, "spatter water layer: parameter mode is %g, expected 0 (mode 1, mud, runs on the GPU)",
                   (double)params[5]);
  size_t n = (size_t)height * width;
  double *liquid = malloc(sizeof(double) * n), *blurred = malloc(sizeof(double) * n);
  /* calloc: GCC cannot see that the loops below fill them (n >= 1). */
  uint8_t *l8 = calloc(n, 1), *edges = calloc(n, 1), *u8a = calloc(n, 1), *u8b = calloc(n, 1);
  float *dist = malloc(sizeof(float) * n), *dist2 = malloc(sizeof(float) * n);
  fv_status st = FV_OK;
  if (!liquid || !blurred || !l8 || !edges || !u8a || !u8b || !dist || !dist2) {
    st = fv_fail(err, "spatter water layer: out of memory for %dx%d", width, height);
    goto done;
  }
  /* L = gauss(N(mu, sigma), blur sigma); L[L < thr] = 0 (numpy float64). */
  fv_rng rng = {seed, image_key, SPATTER_CORRUPTION, (uint32_t)severity, 0};
  for (size_t i = 0; i < n; i++)
    liquid[i] = (double)params[0] + (double)params[1] * (double)fv_rng_normal(&rng, (uint32_t)i);
  if ((st = fv_spatter_gaussian(liquid, height, width, (double)params[2], blurred, err))) goto done;
  for (size_t i = 0; i < n; i++) {
    double v = blurred[i] < (double)params[3] ? 0.0 : blurred[i];
    /* (L * 255).astype(uint8): truncation; values past 255 (rare, L > 1) wrap modulo 256 as
     * numpy's float-to-uint8 cast does on x86-64. L >= 0 here. */
    double s = v * 255.0;
    l8[i] = s < 4294967296.0 ? (uint8_t)((uint32_t)s & 0xFFu) : 0;
  }
  /* E = 255 - Canny(L8, 50, 150); D = distanceTransform(E, L2, 5); D = min(D, 20). */
  if ((st = fv_spatter_canny(l8, height, width, 50, 150, edges, err))) goto done;
  for (size_t i = 0; i < n; i++) edges[i] = (uint8_t)(255 - edges[i]);
  if ((st = fv_spatter_distance(edges, height, width, dist, err))) goto done;
  for (size_t i = 0; i < n; i++)
    if (dist[i] > 20.0f) dist[i] = 20.0f;
  /* D = uint8(blur(D)); equalizeHist; emboss filter2D; blur (uint8) -> float32. */
  fv_spatter_box3_f32(dist, height, width, dist2);
  for (size_t i = 0; i < n; i++) u8a[i] = (uint8_t)dist2[i]; /* 0..20: truncation */
  fv_spatter_equalize_hist(u8a, (int)n, u8b);
  fv_spatter_emboss(u8b, height, width, u8a);
  fv_spatter_box3_u8(u8a, height, width, u8b);
  /* M = L8 * D (float32, exact), M /= max(M), M *= intensity (float32 arithmetic). */
  float peak = 0.0f;
  for (size_t i = 0; i < n; i++) {
    M[i] = (float)l8[i] * (float)u8b[i];
    if (M[i] > peak) peak = M[i];
  }
  if (peak == 0.0f) {
    memset(M, 0, sizeof(float) * n);
    *empty = 1;
  } else {
    float intensity = params[4];
    for (size_t i = 0; i < n; i++) M[i] = (M[i] / peak) * intensity;
  }
done:
  free(liquid);
  free(blurred);
  free(l8);
  free(edges);
  free(u8a);
  free(u8b);
  free(dist);
  free(dist2);
  return st;
}
