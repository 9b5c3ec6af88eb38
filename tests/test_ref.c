/* test_ref.c: every fv_ref_* against a deliberately naive double-precision loop written here,
 * over odd shapes, plus the CPU executor on small graphs (fp32 and emulated fp16 storage).
 *
 * The naive versions follow graph.h's text literally (no BLAS, no blocking, no OpenMP), so a
 * bug in an optimisation of the reference cannot hide behind the same bug here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/exec.h"
#include "engine/ref/ref.h"

static float *rand_floats(size_t n, uint64_t seed, float scale) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) x[i] = fv_test_rand(&s) * scale;
  return x;
}

static double gelu_double(double x) { return x * 0.5 * (1.0 + erf(x / sqrt(2.0))); }

/* ---- matmul ---- */

static void naive_matmul(const float *a, const float *w, const float *bias, float *out, int M, int N, int K, int gelu) {
  for (int m = 0; m < M; m++)
    for (int n = 0; n < N; n++) {
      double acc = bias ? bias[n] : 0.0;
      for (int k = 0; k < K; k++) acc += (double)a[m * K + k] * w[n * K + k];
      out[m * N + n] = (float)(gelu ? gelu_double(acc) : acc);
    }
}

static void test_matmul(void) {
  const int shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {197, 97, 65}, {3, 200, 768}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int variant = 0; variant < 4; variant++) {
      int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
      int use_bias = variant & 1, gelu = variant >> 1;
      float *a = rand_floats((size_t)M * K, 1 + s, 1.0f), *w = rand_floats((size_t)N * K, 2 + s, 0.5f);
      float *b = rand_floats((size_t)N, 3 + s, 1.0f);
      float *got = malloc((size_t)M * N * sizeof *got), *want = malloc((size_t)M * N * sizeof *want);
      fv_ref_matmul(a, w, use_bias ? b : NULL, got, M, N, K, gelu);
      naive_matmul(a, w, use_bias ? b : NULL, want, M, N, K, gelu);
      double e = fv_test_rel_error(got, want, (size_t)M * N);
      CHECK(e < 1e-5, "matmul %dx%dx%d bias=%d gelu=%d: rel error %g", M, N, K, use_bias, gelu, e);
      free(a), free(w), free(b), free(got), free(want);
    }
}

/* ---- GELU: the fast erf inside it, against libm ---- */

static void test_gelu(void) {
  double max_gelu = 0, max_erf_vs_erff = 0;
  for (int i = -2000000; i <= 2000000; i++) {
    float x = (float)i * 6e-6f; /* [-12, 12] */
    float g = fv_ref_gelu(x);
    double want = gelu_double(x);
    double d = fabs(g - want) / (fabs(x) > 1 ? fabs(x) : 1.0);
    if (d > max_gelu) max_gelu = d;
    /* the erf the fast GELU used, recovered exactly enough where x is not tiny */
    if (fabs(x) > 0.5f) {
      double erf_used = (double)g / (0.5 * (double)x) - 1.0;
      double d2 = fabs(erf_used - (double)erff(x * 0.70710678118654752f));
      if (d2 > max_erf_vs_erff) max_erf_vs_erff = d2;
    }
  }
  printf("gelu: max |fast - exact| / max(1, |x|) = %.3g; implied erf vs erff: %.3g\n", max_gelu, max_erf_vs_erff);
  CHECK(max_gelu < 2.5e-7, "gelu error %g", max_gelu);
  CHECK(max_erf_vs_erff < 5e-7, "erf vs erff %g", max_erf_vs_erff);
  CHECK(fv_ref_gelu(0.0f) == 0.0f, "gelu(0) = %g", fv_ref_gelu(0.0f));
  CHECK(fv_ref_gelu(100.0f) == 100.0f, "gelu(100) = %g", fv_ref_gelu(100.0f));
  CHECK(fv_ref_gelu(-100.0f) == 0.0f, "gelu(-100) = %g", fv_ref_gelu(-100.0f));
  CHECK(isnan(fv_ref_gelu(NAN)), "gelu(NaN) = %g", fv_ref_gelu(NAN));
}

/* ---- layernorm, softmax ---- */

static void test_layernorm(void) {
  const int shapes[][2] = {{1, 1}, {3, 7}, {5, 768}, {197, 97}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int affine = 0; affine < 2; affine++) {
      int R = shapes[s][0], C = shapes[s][1];
      float *x = rand_floats((size_t)R * C, 10 + s, 3.0f), *g = rand_floats(C, 11, 1.0f), *b = rand_floats(C, 12, 1.0f);
      for (int i = 0; i < R * C; i++) x[i] += 100.0f; /* a large mean catches E[x^2]-E[x]^2 */
      float *got = malloc((size_t)R * C * sizeof *got), *want = malloc((size_t)R * C * sizeof *want);
      fv_ref_layernorm(x, affine ? g : NULL, affine ? b : NULL, got, R, C, 1e-6f);
      for (int r = 0; r < R; r++) {
        double mean = 0, var = 0;
        for (int c = 0; c < C; c++) mean += x[r * C + c];
        mean /= C;
        for (int c = 0; c < C; c++) var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
        var /= C;
        for (int c = 0; c < C; c++) {
          double v = (x[r * C + c] - mean) / sqrt(var + 1e-6);
          if (affine) v = v * g[c] + b[c];
          want[r * C + c] = (float)v;
        }
      }
      double e = fv_test_rel_error(got, want, (size_t)R * C);
      CHECK(e < 1e-5, "layernorm %dx%d affine=%d: rel error %g", R, C, affine, e);
      free(x), free(g), free(b), free(got), free(want);
    }
}

static void naive_softmax(const float *x, float *out, int R, int C) {
  for (int r = 0; r < R; r++) {
    double mx = -INFINITY, sum = 0;
    for (int c = 0; c < C; c++) mx = fmax(mx, x[r * C + c]);
    for (int c = 0; c < C; c++) sum += exp(x[r * C + c] - mx);
    for (int c = 0; c < C; c++) out[r * C + c] = (float)(exp(x[r * C + c] - mx) / sum);
  }
}

static void test_softmax(void) {
  const int shapes[][2] = {{1, 1}, {4, 5}, {3, 1000}, {197, 197}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int R = shapes[s][0], C = shapes[s][1];
    float *x = rand_floats((size_t)R * C, 20 + s, 30.0f);
    float *got = malloc((size_t)R * C * sizeof *got), *want = malloc((size_t)R * C * sizeof *want);
    fv_ref_softmax(x, got, R, C);
    naive_softmax(x, want, R, C);
    double e = fv_test_max_abs_error(got, want, (size_t)R * C);
    CHECK(e < 1e-6, "softmax %dx%d: max abs error %g", R, C, e);
    free(x), free(got), free(want);
  }
}

/* ---- attention ---- */

static void naive_attention(const float *qkv, float *out, int B, int T, int H, int D, float scale) {
  double *p = malloc((size_t)T * sizeof *p);
  const int ld = 3 * H * D;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < H; h++)
      for (int i = 0; i < T; i++) {
        const float *q = qkv + ((size_t)b * T + i) * ld + 0 * H * D + h * D;
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j < T; j++) {
          const float *k = qkv + ((size_t)b * T + j) * ld + 1 * H * D + h * D;
          double s = 0;
          for (int d = 0; d < D; d++) s += (double)q[d] * k[d];
          p[j] = s * scale;
          mx = fmax(mx, p[j]);
        }
        for (int j = 0; j < T; j++) sum += (p[j] = exp(p[j] - mx));
        for (int d = 0; d < D; d++) {
          double acc = 0;
          for (int j = 0; j < T; j++) acc += p[j] * qkv[((size_t)b * T + j) * ld + 2 * H * D + h * D + d];
          out[((size_t)b * T + i) * H * D + h * D + d] = (float)(acc / sum);
        }
      }
  free(p);
}

static void test_attention(void) {
  const int Ts[] = {1, 7, 50, 300}, Ds[] = {1, 32, 48, 80, 128};
  for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++)
    for (size_t di = 0; di < sizeof Ds / sizeof Ds[0]; di++) {
      int B = 2, T = Ts[ti], H = 3, D = Ds[di];
      if (T == 300 && D != 48) continue; /* one long sequence: crosses the 256-row scratch block */
      size_t n_in = (size_t)B * T * 3 * H * D, n_out = (size_t)B * T * H * D;
      float *qkv = rand_floats(n_in, 30 + ti * 7 + di, 2.0f);
      float *got = malloc(n_out * sizeof *got), *want = malloc(n_out * sizeof *want);
      float scale = 1.0f / sqrtf((float)D);
      fv_ref_attention(qkv, got, B, T, H, D, scale);
      naive_attention(qkv, want, B, T, H, D, scale);
      double e = fv_test_rel_error(got, want, n_out);
      CHECK(e < 2e-5, "attention B=%d T=%d H=%d D=%d: rel error %g", B, T, H, D, e);
      free(qkv), free(got), free(want);
    }
}

/* ---- elementwise and token ops ---- */

static void test_add(void) {
  const int R = 5, C = 13;
  float *a = rand_floats(R * C, 40, 1), *b = rand_floats(R * C, 41, 1), *g = rand_floats(C, 42, 1);
  float got[R * C], want[R * C];
  for (int use_gamma = 0; use_gamma < 2; use_gamma++) {
    fv_ref_add(a, b, use_gamma ? g : NULL, got, R * C, C, 0.5f, -2.0f);
    for (int i = 0; i < R * C; i++) want[i] = (float)(0.5 * a[i] + -2.0 * b[i] * (use_gamma ? g[i % C] : 1.0));
    double e = fv_test_max_abs_error(got, want, R * C);
    CHECK(e < 1e-6, "add gamma=%d: max abs error %g", use_gamma, e);
  }
  free(a), free(b), free(g);
}

static void test_im2col(void) {
  const int B = 2, C = 3, H = 6, W = 9, p = 3, gh = H / p, gw = W / p;
  float *im = rand_floats(B * C * H * W, 50, 1);
  float *got = malloc(sizeof(float) * B * gh * gw * C * p * p);
  fv_ref_im2col(im, got, B, C, H, W, p);
  int bad = 0;
  for (int b = 0; b < B; b++)
    for (int gy = 0; gy < gh; gy++)
      for (int gx = 0; gx < gw; gx++)
        for (int c = 0; c < C; c++)
          for (int ky = 0; ky < p; ky++)
            for (int kx = 0; kx < p; kx++) {
              float want = im[((b * C + c) * H + gy * p + ky) * W + gx * p + kx];
              float v = got[((b * gh * gw) + gy * gw + gx) * C * p * p + c * p * p + ky * p + kx];
              bad += v != want;
            }
  CHECK(bad == 0, "im2col: %d wrong values", bad);
  free(im), free(got);
}

static void test_embed_tokens(void) {
  const int B = 2, Np = 4, E = 3;
  float *patches = rand_floats(B * Np * E, 60, 1), *prefix = rand_floats(3 * E, 61, 1),
        *pos = rand_floats(7 * E, 62, 1);
  const int cases[][3] = {{0, 0, 1}, {1, 0, 1}, {3, 0, 1}, {3, 3, 1}, {2, 0, 0}}; /* P, pos_offset, with pos */
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int P = cases[k][0], off = cases[k][1], with_pos = cases[k][2], T = P + Np;
    float got[2 * 7 * 3], want[2 * 7 * 3];
    fv_ref_embed_tokens(patches, P ? prefix : NULL, with_pos ? pos : NULL, got, B, Np, E, P, off);
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++)
        for (int e = 0; e < E; e++) {
          double v = t < P ? prefix[t * E + e] : patches[(b * Np + t - P) * E + e];
          if (with_pos && t >= off) v += pos[(t - off) * E + e];
          want[(b * T + t) * E + e] = (float)v;
        }
    double err = fv_test_max_abs_error(got, want, (size_t)B * T * E);
    CHECK(err == 0, "embed_tokens P=%d offset=%d pos=%d: max abs error %g", P, off, with_pos, err);
  }
  free(patches), free(prefix), free(pos);
}

static void test_tokens(void) {
  const int B = 3, T = 6, E = 5;
  float *x = rand_floats(B * T * E, 70, 1);
  float got[3 * 6 * 5], want[3 * 6 * 5];
  fv_ref_tokens(x, got, B, T, E, 1, 4, 1);
  for (int b = 0; b < B; b++)
    for (int e = 0; e < E; e++) {
      double s = 0;
      for (int t = 1; t < 5; t++) s += x[(b * T + t) * E + e];
      want[b * E + e] = (float)(s / 4);
    }
  CHECK(fv_test_max_abs_error(got, want, B * E) < 1e-7, "tokens mean");
  fv_ref_tokens(x, got, B, T, E, 2, 3, 0);
  for (int b = 0; b < B; b++)
    for (int t = 0; t < 3; t++)
      for (int e = 0; e < E; e++) want[(b * 3 + t) * E + e] = x[(b * T + 2 + t) * E + e];
  CHECK(fv_test_max_abs_error(got, want, B * 3 * E) == 0, "tokens slice");
  free(x);
}

/* ---- resample, crop ---- */

/* A bilinear (triangle) table as PIL builds it for downscaling in -> out, normalised. */
static float *triangle_table(int in, int out, int *taps_out) {
  double scale = (double)in / out, support = scale > 1 ? scale : 1;
  int taps = (int)ceil(support) * 2 + 1;
  float *t = calloc((size_t)out * (2 + taps), sizeof *t);
  for (int o = 0; o < out; o++) {
    double center = (o + 0.5) * scale;
    int x0 = (int)floor(center - support + 0.5), x1 = (int)floor(center + support + 0.5);
    if (x0 < 0) x0 = 0;
    if (x1 > in) x1 = in;
    double w[64], sum = 0;
    for (int x = x0; x < x1; x++) {
      double d = fabs((x - center + 0.5) / (scale > 1 ? scale : 1));
      w[x - x0] = d < 1 ? 1 - d : 0;
      sum += w[x - x0];
    }
    float *e = t + (size_t)o * (2 + taps);
    e[0] = (float)x0;
    e[1] = (float)(x1 - x0);
    for (int x = x0; x < x1; x++) e[2 + x - x0] = (float)(w[x - x0] / sum);
  }
  *taps_out = taps;
  return t;
}

static void naive_resample(const float *im, const uint8_t *im8, const float *table, float *out, int H, int W, int C,
                           int axis, int out_size, int taps, int round) {
  int OH = axis == 0 ? out_size : H, OW = axis == 1 ? out_size : W;
  for (int y = 0; y < OH; y++)
    for (int x = 0; x < OW; x++)
      for (int c = 0; c < C; c++) {
        int o = axis == 0 ? y : x;
        const float *e = table + (size_t)o * (2 + taps);
        double acc = 0;
        for (int k = 0; k < (int)e[1]; k++) {
          int sy = axis == 0 ? (int)e[0] + k : y, sx = axis == 1 ? (int)e[0] + k : x;
          size_t idx = ((size_t)sy * W + sx) * C + c;
          acc += e[2 + k] * (im8 ? im8[idx] : im[idx]);
        }
        if (round) acc = fmin(255, fmax(0, floor(acc + 0.5)));
        out[((size_t)y * OW + x) * C + c] = (float)acc;
      }
}

static void test_resample(void) {
  const int H = 11, W = 17, C = 3;
  float *im = rand_floats(H * W * C, 80, 1);
  uint8_t *im8 = malloc(H * W * C);
  for (int i = 0; i < H * W * C; i++) {
    im[i] = (im[i] + 1) * 127.5f;
    im8[i] = (uint8_t)(i * 37 % 256);
  }
  for (int axis = 0; axis < 2; axis++)
    for (int u8 = 0; u8 < 2; u8++)
      for (int round = 0; round < 2; round++) {
        int in = axis == 0 ? H : W, out_size = axis == 0 ? 4 : 6, taps;
        float *table = triangle_table(in, out_size, &taps);
        size_t n = (size_t)(axis == 0 ? out_size * W : H * out_size) * C;
        float *got = malloc(n * sizeof *got), *want = malloc(n * sizeof *want);
        fv_ref_resample(im, u8 ? im8 : NULL, table, got, H, W, C, axis, out_size, taps, round);
        naive_resample(im, u8 ? im8 : NULL, table, want, H, W, C, axis, out_size, taps, round);
        double e = fv_test_max_abs_error(got, want, n);
        /* rounding may flip where the float and double sums straddle a .5 */
        CHECK(e < (round ? 1.0001 : 1e-4), "resample axis=%d u8=%d round=%d: max abs error %g", axis, u8, round, e);
        free(table), free(got), free(want);
      }
  /* round_u8: half up and clamping, exactly */
  {
    const float src[4] = {1, 2, 254, 255};
    const float table[4 * 4] = {0, 2, 0.5f,  0.5f,  /* 1.5 -> 2 (half up) */
                                2, 2, 1.5f,  0.0f,  /* 381 -> 255 */
                                0, 2, -2.0f, 0.25f, /* -1.5 -> 0 */
                                0, 1, 2.25f, 0.0f}; /* 2.25 -> 2 */
    float got[4];
    fv_ref_resample(src, NULL, table, got, 1, 4, 1, 1, 4, 2, 1);
    CHECK(got[0] == 2 && got[1] == 255 && got[2] == 0 && got[3] == 2, "round_u8: got %g %g %g %g", got[0], got[1],
          got[2], got[3]);
  }
  /* a malformed table must not read outside the image (ASan would report it) */
  {
    const float src[3] = {10, 20, 30};
    const float table[2 * 6] = {2, 4, 1, 1, 1, 1, -5, 9, 1, 1, 1, 1};
    float got[2];
    fv_ref_resample(src, NULL, table, got, 1, 3, 1, 1, 2, 4, 0);
    CHECK(got[0] == 30, "clamped table entry: got %g, expected 30", got[0]);
  }
  free(im), free(im8);
}

static void test_crop_normalize(void) {
  const int H = 7, W = 9, C = 3, top = 2, left = 3, h = 4, w = 5;
  float *im = rand_floats(H * W * C, 90, 1);
  for (int i = 0; i < H * W * C; i++) im[i] = (im[i] + 1) * 127.5f;
  const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  float got[3 * 4 * 5], want[3 * 4 * 5];
  fv_ref_crop_normalize(im, got, H, W, C, top, left, h, w, mean, std);
  for (int c = 0; c < C; c++)
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        want[(c * h + y) * w + x] = (float)((im[((top + y) * W + left + x) * C + c] / 255.0 - mean[c]) / std[c]);
  double e = fv_test_max_abs_error(got, want, C * h * w);
  CHECK(e < 1e-5, "crop_normalize: max abs error %g", e);
  free(im);
}

/* ---- CPU executor ---- */

static float round_f16(float x) { return fv_f16_to_f32(fv_f32_to_f16(x)); }

static void test_cpu_exec(void) {
  /* x[2,3,8] -> matmul(W[5,8], b, gelu) -> layernorm -> add(h, h, gamma) -> tokens mean */
  fv_graph g;
  fv_graph_init(&g);
  const int64_t xs[3] = {2, 3, 8}, ws[2] = {5, 8}, bs[1] = {5};
  float *wdata = rand_floats(40, 100, 0.5f), *bdata = rand_floats(5, 101, 0.5f), *gdata = rand_floats(5, 102, 1);
  uint16_t w16[40];
  for (int i = 0; i < 40; i++) w16[i] = fv_f32_to_f16(wdata[i]);
  int x = fv_input(&g, "x", FV_F32, 3, xs);
  int w = fv_weight(&g, "w", 2, ws, w16, FV_F16, 1);
  int b = fv_weight(&g, "b", 1, bs, bdata, FV_F32, 0);
  int gm = fv_weight(&g, "gamma", 1, bs, gdata, FV_F32, 0);
  int h = fv_matmul(&g, x, w, b, 1);
  int n = fv_layernorm(&g, h, -1, -1, 1e-6f);
  int a = fv_add(&g, n, n, gm, 1.0f, 0.5f);
  int out = fv_tokens_mean(&g, a, 0, 3);
  int dead = fv_softmax(&g, h); /* nobody reads it: the executor may skip it */
  (void)dead;
  fv_mark_output(&g, out);
  fv_mark_output(&g, n);
  CHECK(g.status == FV_OK, "graph: %s", g.error.msg);

  float *xdata = rand_floats(48, 103, 1.0f);
  float wf[40];
  for (int i = 0; i < 40; i++) wf[i] = fv_f16_to_f32(w16[i]);
  float hh[30], nn[30], aa[30], want[10], want_n[30];
  fv_ref_matmul(xdata, wf, bdata, hh, 6, 5, 8, 1);
  fv_ref_layernorm(hh, NULL, NULL, nn, 6, 5, 1e-6f);
  memcpy(want_n, nn, sizeof nn);
  fv_ref_add(nn, nn, gdata, aa, 30, 5, 1.0f, 0.5f);
  fv_ref_tokens(aa, want, 2, 3, 5, 0, 3, 1);

  for (int storage = 0; storage < 2; storage++) {
    fv_exec_options opt = {.storage = storage ? FV_F16 : FV_F32};
    fv_exec *ex = NULL;
    fv_error err = {{0}};
    CHECK(fv_exec_new(NULL, &g, &opt, &ex, &err) == FV_OK, "exec_new: %s", err.msg);
    if (!ex) continue;
    float got[10], got_n[30];
    CHECK(fv_exec_run(ex, &err) == FV_ERR && strstr(err.msg, "never written"), "run before write: %s", err.msg);
    CHECK(fv_exec_write(ex, x, xdata, 48, &err) == FV_OK, "write: %s", err.msg);
    for (int rep = 0; rep < 2; rep++) { /* a second run reuses the planned buffers */
      CHECK(fv_exec_run(ex, &err) == FV_OK, "run: %s", err.msg);
      CHECK(fv_exec_read(ex, out, got, 10, &err) == FV_OK, "read: %s", err.msg);
      CHECK(fv_exec_read(ex, n, got_n, 30, &err) == FV_OK, "read: %s", err.msg);
      double e = fv_test_rel_error(got, want, 10), en = fv_test_rel_error(got_n, want_n, 30);
      double tol = storage ? 5e-3 : 1e-6;
      CHECK(e < tol && en < tol, "cpu exec storage=%s: rel errors %g, %g", storage ? "F16" : "F32", e, en);
      if (storage) {
        int representable = 1;
        for (int i = 0; i < 10; i++) representable &= got[i] == round_f16(got[i]);
        CHECK(representable, "fp16 storage: outputs are fp16 values");
      }
    }
    CHECK(fv_exec_read(ex, h, got_n, 30, &err) == FV_ERR, "reading a non-output must fail");
    fv_exec_free(ex);
  }
  free(wdata), free(bdata), free(gdata), free(xdata);
  fv_graph_free(&g);
}

int main(void) {
  test_matmul();
  test_gelu();
  test_layernorm();
  test_softmax();
  test_attention();
  test_add();
  test_im2col();
  test_embed_tokens();
  test_tokens();
  test_resample();
  test_crop_normalize();
  test_cpu_exec();
  return fv_test_finish();
}
