/* test_image_ops.c: the image ops (stencil, sample, warp, pixel, random, reduce, plasma, batched
 * resample) on the Vulkan executor against their C references (the CPU executor), plus checks
 * of the references themselves that do not depend on them: Philox known-answer vectors,
 * border rules typed in from their definitions, identities (a one-tap stencil, an identity
 * sample table, integer warps are copies), sample statistics of the random draws.
 *
 * Sizes are odd and small (B = 2, H = 7, W = 11, C = 3 or 1); every border rule is tried with
 * offsets beyond the image. Both storage types run: fp32 (the kernels are written to agree with
 * the references to rounding: 1e-5 relative) and fp16 (3e-3 relative; the CPU executor emulates
 * fp16 storage). Pixel modes that output 8-bit values must agree within one grey level and
 * exactly on at least 99% of values; random uniform draws must be bit-identical, normals within
 * 1e-5, and the number of Poisson-driven values that differ is printed.
 *
 * FOVEA_TEST_QUICK=1 (sanitizer pass): fewer shapes and border rules, the fp32 storage type only
 * for the GPU comparisons. FOVEA_TEST_VERBOSE=1 prints every comparison. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "engine/graph.h"
#include "engine/philox.h"
#include "engine/ref/ref.h"
#include "graph_runner.h"

#define TOL32 1e-5
#define TOL16 3e-3

static fv_device *g_dev;
static uint64_t g_seed = 0x9E3779B97F4A7C15ull;
static int g_quick, g_verbose;

static float *rand_floats(size_t n, float lo, float hi) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  if (!x) abort();
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * 0.5f * (fv_test_rand(&g_seed) + 1.0f);
  return x;
}

/* Integer grey levels 0..255, with the extremes present. */
static float *rand_image(size_t n) {
  float *x = rand_floats(n, 0.0f, 256.0f);
  for (size_t i = 0; i < n; i++) x[i] = floorf(x[i]) > 255.0f ? 255.0f : floorf(x[i]);
  if (n > 2) x[0] = 0.0f, x[1] = 255.0f;
  return x;
}

typedef enum cmp_kind {
  CMP_REL,   /* normalised error within the tolerance */
  CMP_U8,    /* 8-bit outputs: every value within 1, at least 99% exact */
  CMP_EXACT, /* bit-identical */
} cmp_kind;

/* Compares got against want; returns 1 when they agree under kind, and reports. */
static int compare(const float *got, const float *want, size_t n, cmp_kind kind, double tol, const char *what) {
  if (kind == CMP_REL) {
    double e = fv_test_rel_error(got, want, n);
    CHECK(e <= tol, "%s: error %.3g above %.3g", what, e, tol);
    if (g_verbose) printf("  %-60s rel error %.2e\n", what, e);
    return e <= tol;
  }
  size_t differ = 0, far = 0;
  for (size_t i = 0; i < n; i++) {
    if (memcmp(&got[i], &want[i], sizeof got[i]) == 0) continue;
    differ++;
    if (!(fabsf(got[i] - want[i]) <= 1.0f)) far++;
  }
  if (kind == CMP_EXACT) {
    CHECK(differ == 0, "%s: %zu of %zu values differ (expected bit-identical)", what, differ, n);
  } else {
    CHECK(far == 0 && differ * 100 <= n, "%s: %zu of %zu values differ, %zu by more than 1", what, differ, n, far);
  }
  if (g_verbose) printf("  %-60s %zu/%zu differ\n", what, differ, n);
  return differ == 0;
}

/* CPU vs Vulkan in fp32 and (unless quick) fp16 storage. tol16 < 0: fp32 only. */
static void check_graph(fv_graph *g, int out, const feed *feeds, int n_feeds, cmp_kind kind, double tol32, double tol16,
                        const char *what) {
  if (g->status != FV_OK) {
    CHECK(0, "%s: building the graph failed: %s", what, g->error.msg);
    return;
  }
  fv_mark_output(g, out);
  size_t n = (size_t)fv_node_numel(&g->nodes[out]);
  float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
  if (!want || !got) abort();
  static const fv_dtype storages[2] = {FV_F32, FV_F16};
  for (int s = 0; s < (g_quick || tol16 < 0 ? 1 : 2); s++) {
    fv_error err = {{0}};
    char label[160];
    snprintf(label, sizeof label, "%s (%s)", what, fv_dtype_name(storages[s]));
    if (run_graph(NULL, g, storages[s], feeds, n_feeds, out, want, &err)) {
      CHECK(0, "%s: CPU executor: %s", label, err.msg);
      continue;
    }
    memset(got, 0, n * sizeof *got);
    if (run_graph(g_dev, g, storages[s], feeds, n_feeds, out, got, &err)) {
      CHECK(0, "%s: Vulkan executor: %s", label, err.msg);
      continue;
    }
    compare(got, want, n, kind, s == 0 ? tol32 : tol16, label);
  }
  free(want);
  free(got);
}

/* ---- references checked on their own --------------------------------------------------------- */

static void test_philox_vectors(void) {
  /* Random123's kat_vectors for philox4x32_R(10) */
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d, 0x41c83b0e, 0xa20bc7c6,
       0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09, 0x94fdcceb, 0x5001e420,
       0x24126ea1},
  };
  for (int v = 0; v < 3; v++) {
    fv_philox_ctr c = {{kat[v][0], kat[v][1], kat[v][2], kat[v][3]}};
    fv_philox_ctr r = fv_philox4x32(c, kat[v][4], kat[v][5]);
    CHECK(memcmp(r.c, &kat[v][6], sizeof r.c) == 0, "philox4x32-10 vector %d: got %08x %08x %08x %08x", v, r.c[0],
          r.c[1], r.c[2], r.c[3]);
  }
}

static void test_border_rules(void) {
  /* Axis of length 4 (abcd = 0123), coordinates -9..12, typed in from the definitions:
   * nearest aaaa|abcd|dddd, reflect-101 ..dcb|abcd|cba.., reflect ..dcba|abcd|dcba.. */
  static const int expect[4][22] = {
      {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3},
      {3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0},
      {0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3, 3},
      {-1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 1, 2, 3, -1, -1, -1, -1, -1, -1, -1, -1, -1},
  };
  for (int m = 0; m < 4; m++)
    for (int i = -9; i <= 12; i++) {
      int64_t got = fv_ref_border(i, 4, (fv_border)m);
      CHECK(got == expect[m][i + 9], "border %d at %d of 4: got %lld, expected %d", m, i, (long long)got,
            expect[m][i + 9]);
    }
  /* length 1: every rule but ZERO reads the one pixel */
  for (int m = 0; m < 3; m++)
    for (int i = -5; i <= 5; i++)
      CHECK(fv_ref_border(i, 1, (fv_border)m) == 0, "border %d at %d of 1: got %lld", m, i,
            (long long)fv_ref_border(i, 1, (fv_border)m));
}

/* Runs a graph on the CPU executor only. */
static void cpu_run(const fv_graph *g, const feed *feeds, int n_feeds, int out, float *dst, const char *what) {
  fv_error err = {{0}};
  if (run_graph(NULL, g, FV_F32, feeds, n_feeds, out, dst, &err)) CHECK(0, "%s: %s", what, err.msg);
}

static void test_identities(void) {
  const int64_t B = 2, H = 7, W = 11, C = 3, n = B * H * W * C;
  float *x = rand_image((size_t)n), *y = malloc((size_t)n * sizeof *y);
  if (!y) abort();
  /* a one-tap stencil (0, 0, 1) and an identity sample table are copies */
  {
    fv_graph g;
    fv_graph_init(&g);
    int64_t is[4] = {B, H, W, C}, ts[2] = {1, 3}, ss[2] = {1, 4};
    const float tap[3] = {0, 0, 1}, row[4] = {1, 0, 1, 0};
    int in = fv_input(&g, "x", FV_F32, 4, is);
    int st = fv_stencil(&g, in, fv_weight(&g, "t", 2, ts, tap, FV_F32, 1), FV_BORDER_REFLECT);
    int sa = fv_sample(&g, in, fv_weight(&g, "s", 2, ss, row, FV_F32, 1), (int)H, (int)W, FV_BORDER_ZERO, 1.0f);
    fv_mark_output(&g, st);
    fv_mark_output(&g, sa);
    feed f = {in, x, (size_t)n};
    cpu_run(&g, &f, 1, st, y, "identity stencil");
    CHECK(memcmp(x, y, (size_t)n * sizeof *x) == 0, "a one-tap (0, 0, 1) stencil is not a copy");
    cpu_run(&g, &f, 1, sa, y, "identity sample");
    CHECK(memcmp(x, y, (size_t)n * sizeof *x) == 0, "an identity sample table is not a copy");
    fv_graph_free(&g);
  }
  /* integer warps copy the pixel the border rule names */
  for (int m = 0; m < 4; m++) {
    fv_graph g;
    fv_graph_init(&g);
    int64_t is[4] = {B, H, W, C}, fs[4] = {B, H, W, 1};
    int in = fv_input(&g, "x", FV_F32, 4, is);
    int dy = fv_input(&g, "dy", FV_F32, 4, fs), dx = fv_input(&g, "dx", FV_F32, 4, fs);
    int out = fv_warp(&g, in, dy, dx, (fv_border)m);
    fv_mark_output(&g, out);
    float *fy = rand_floats((size_t)(B * H * W), -30.0f, 30.0f), *fx = rand_floats((size_t)(B * H * W), -30.0f, 30.0f);
    for (int64_t i = 0; i < B * H * W; i++) fy[i] = floorf(fy[i]), fx[i] = floorf(fx[i]);
    feed f[3] = {{in, x, (size_t)n}, {dy, fy, (size_t)(B * H * W)}, {dx, fx, (size_t)(B * H * W)}};
    cpu_run(&g, f, 3, out, y, "integer warp");
    int bad = 0;
    for (int64_t b = 0; b < B; b++)
      for (int64_t yy = 0; yy < H; yy++)
        for (int64_t xx = 0; xx < W; xx++) {
          int64_t p = (b * H + yy) * W + xx;
          int64_t sy = fv_ref_border(yy + (int64_t)fy[p], H, (fv_border)m);
          int64_t sx = fv_ref_border(xx + (int64_t)fx[p], W, (fv_border)m);
          for (int64_t c = 0; c < C; c++) {
            float want = sy < 0 || sx < 0 ? 0.0f : x[((b * H + sy) * W + sx) * C + c];
            bad += y[p * C + c] != want;
          }
        }
    CHECK(bad == 0, "integer warp (border %d): %d values are not the named pixel", m, bad);
    free(fy);
    free(fx);
    fv_graph_free(&g);
  }
  free(x);
  free(y);
}

/* Mean and variance of the philox.h samplers over many draws. */
static void test_distributions(void) {
  fv_rng r = {11, 42, 1, 2, 3};
  const int n = g_quick ? 20000 : 200000;
  double s = 0, s2 = 0;
  for (int i = 0; i < n; i++) {
    double v = fv_rng_normal(&r, (uint32_t)i);
    s += v, s2 += v * v;
  }
  double mean = s / n, var = s2 / n - mean * mean, se = 1.0 / sqrt(n);
  CHECK(fabs(mean) < 5 * se && fabs(var - 1.0) < 5 * sqrt(2.0) * se, "normal: mean %.4f variance %.4f", mean, var);
  static const float means[4] = {0.7f, 5.5f, 40.0f, 500.0f}; /* inversion, inversion, PTRS, PTRS */
  for (int k = 0; k < 4; k++) {
    double lam = means[k];
    s = s2 = 0;
    int non_integer = 0;
    for (int i = 0; i < n; i++) {
      double v = fv_rng_poisson(&r, (uint32_t)i, means[k]);
      non_integer += v != floor(v) || v < 0;
      s += v, s2 += v * v;
    }
    mean = s / n, var = s2 / n - mean * mean;
    double se_mean = sqrt(lam / n), se_var = lam * sqrt(2.0 / n + 1.0 / (lam * n)); /* var of s^2: 2 lam^2 + lam */
    CHECK(non_integer == 0 && fabs(mean - lam) < 5 * se_mean && fabs(var - lam) < 5 * se_var,
          "poisson(%.1f): mean %.4f variance %.4f, %d non-integer draws", lam, mean, var, non_integer);
    if (g_verbose) printf("  poisson(%.1f): mean %.4f variance %.4f over %d draws\n", lam, mean, var, n);
  }
  /* uniform: [0, 1), mean 1/2, variance 1/12 */
  s = s2 = 0;
  int out_of_range = 0;
  for (int i = 0; i < n; i++) {
    double v = fv_rng_uniform(&r, (uint32_t)i);
    out_of_range += !(v >= 0.0 && v < 1.0);
    s += v, s2 += v * v;
  }
  mean = s / n, var = s2 / n - mean * mean;
  CHECK(out_of_range == 0 && fabs(mean - 0.5) < 5 * sqrt(1.0 / 12 / n) && fabs(var - 1.0 / 12) < 0.002,
        "uniform: mean %.4f variance %.5f, %d out of [0, 1)", mean, var, out_of_range);
}

/* ---- GPU vs reference ------------------------------------------------------------------------ */

typedef struct shape4 {
  int64_t B, H, W, C;
} shape4;

static const shape4 g_shapes[2] = {{2, 7, 11, 3}, {2, 7, 11, 1}};
static const char *g_border_names[4] = {"nearest", "reflect101", "reflect", "zero"};

static int n_shapes(void) { return g_quick ? 1 : 2; }

static void test_stencil(void) {
  /* (dy, dx, w) rows: a 5-tap row with reaches past the image, a 3x3 box, a motion-like ray */
  static const float row5[] = {0, -13, 0.1f, 0, -1, 0.2f, 0, 0, 0.4f, 0, 2, 0.2f, 0, 24, 0.1f};
  static const float box[] = {-1, -1, 1, -1, 0, 1, -1, 1, 1, 0, -1, 1, 0, 0, 1, 0, 1, 1, 1, -1, 1, 1, 0, 1, 1, 1, 1};
  static const float ray[] = {0, 0, 0.5f, -3, 4, 0.25f, -9, 17, 0.125f, 20, -30, 0.125f};
  const float *sets[3] = {row5, box, ray};
  const int64_t counts[3] = {5, 9, 4};
  for (int s = 0; s < n_shapes(); s++)
    for (int t = 0; t < 3; t++)
      for (int m = 0; m < 4; m++) {
        if (g_quick && t != m % 3) continue;
        shape4 sh = g_shapes[s];
        fv_graph g;
        fv_graph_init(&g);
        int64_t is[4] = {sh.B, sh.H, sh.W, sh.C}, ts[2] = {counts[t], 3};
        int in = fv_input(&g, "x", FV_F32, 4, is);
        int out = fv_stencil(&g, in, fv_weight(&g, "taps", 2, ts, sets[t], FV_F32, 1), (fv_border)m);
        size_t n = (size_t)(sh.B * sh.H * sh.W * sh.C);
        float *x = rand_floats(n, -2.0f, 3.0f);
        feed f = {in, x, n};
        char what[96];
        snprintf(what, sizeof what, "stencil C=%lld taps=%d %s", (long long)sh.C, t, g_border_names[m]);
        check_graph(&g, out, &f, 1, CMP_REL, TOL32, TOL16, what);
        free(x);
        fv_graph_free(&g);
      }
}

/* A plain per-value stencil written from graph.h's definition (per-image taps: image b reads rows
 * [b], offsets trunc(clamp(d, -2048, 2048)), NaN 0): what the CPU reference must give exactly. */
static int64_t naive_offset(float d) { return d != d ? 0 : d < -2048.0f ? -2048 : d > 2048.0f ? 2048 : (int64_t)d; }

static void naive_stencil(const float *x, const float *taps, int64_t T, int per_image, float *out, shape4 sh,
                          fv_border m) {
  for (int64_t b = 0; b < sh.B; b++)
    for (int64_t y = 0; y < sh.H; y++)
      for (int64_t xx = 0; xx < sh.W; xx++)
        for (int64_t c = 0; c < sh.C; c++) {
          const float *t = taps + (per_image ? b * T * 3 : 0);
          float acc = 0.0f;
          for (int64_t k = 0; k < T; k++) {
            int64_t sy = fv_ref_border(y + naive_offset(t[3 * k]), sh.H, m);
            int64_t sx = fv_ref_border(xx + naive_offset(t[3 * k + 1]), sh.W, m);
            if (sy >= 0 && sx >= 0) acc += t[3 * k + 2] * x[((b * sh.H + sy) * sh.W + sx) * sh.C + c];
          }
          out[((b * sh.H + y) * sh.W + xx) * sh.C + c] = acc;
        }
}

/* Images large enough for the kernels' inside fast path and partial runs of 4 or 8 pixels (odd
 * sizes), C = 3, 5 (more channels than one invocation holds) and 1; scattered constant taps,
 * per-image taps [B, T, 3] (an INPUT, with out-of-contract offsets in the last image), and line
 * taps (a row (0, -4..4) and a column (-3..3, 0), the kernels' window path). CPU vs the plain
 * loop exactly, Vulkan vs CPU to rounding. */
static void test_stencil_wide(void) {
  static const shape4 shapes[3] = {{3, 19, 37, 3}, {3, 9, 23, 5}, {2, 29, 21, 1}};
  static const char *kinds[4] = {"constant taps", "per-image taps", "row line", "column line"};
  enum { T = 7, TL = 9 };
  float taps[3][T * 3], row[TL * 3], column[T * 3];
  for (int k = 0; k < TL; k++) row[3 * k] = 0.0f, row[3 * k + 1] = (float)(k - 4), row[3 * k + 2] = 0.02f * (k + 1);
  for (int k = 0; k < T; k++)
    column[3 * k] = (float)(k - 3), column[3 * k + 1] = 0.0f, column[3 * k + 2] = 0.3f - 0.03f * k;
  for (int b = 0; b < 3; b++)
    for (int k = 0; k < T; k++) {
      taps[b][3 * k] = (float)((k * (b + 2)) % 7 - 3);
      taps[b][3 * k + 1] = (float)((k * (2 * b + 3)) % 11 - 5);
      taps[b][3 * k + 2] = 0.05f + 0.1f * (float)((k + b) % 5);
    }
  taps[2][1] = 2.5f, taps[2][3] = NAN, taps[2][7] = -5000.0f, taps[2][9] = 1e9f;
  for (int s = 0; s < (g_quick ? 1 : 3); s++)
    for (int kind = 0; kind < 4; kind++)
      for (int m = 0; m < 4; m++) {
        if (g_quick && m % 4 != kind) continue;
        const shape4 sh = shapes[s];
        const int per_image = kind == 1, nt = kind == 2 ? TL : T;
        const float *consts = kind == 2 ? row : kind == 3 ? column : taps[0];
        fv_graph g;
        fv_graph_init(&g);
        int64_t is[4] = {sh.B, sh.H, sh.W, sh.C}, ts2[2] = {nt, 3}, ts3[3] = {sh.B, T, 3};
        int in = fv_input(&g, "x", FV_F32, 4, is);
        int tn = per_image ? fv_input(&g, "taps", FV_F32, 3, ts3) : fv_weight(&g, "taps", 2, ts2, consts, FV_F32, 1);
        int out = fv_stencil(&g, in, tn, (fv_border)m);
        fv_mark_output(&g, out);
        size_t n = (size_t)(sh.B * sh.H * sh.W * sh.C);
        float *x = rand_floats(n, -2.0f, 3.0f), *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        if (!want || !got) abort();
        feed f[2] = {{in, x, n}, {tn, taps, (size_t)sh.B * T * 3}};
        char what[96];
        snprintf(what, sizeof what, "stencil %lldx%lldx%lld %s %s", (long long)sh.H, (long long)sh.W, (long long)sh.C,
                 kinds[kind], g_border_names[m]);
        naive_stencil(x, per_image ? &taps[0][0] : consts, nt, per_image, want, sh, (fv_border)m);
        cpu_run(&g, f, per_image ? 2 : 1, out, got, what);
        compare(got, want, n, CMP_EXACT, 0, what);
        if (g_dev) check_graph(&g, out, f, per_image ? 2 : 1, CMP_REL, TOL32, TOL16, what);
        free(x);
        free(want);
        free(got);
        fv_graph_free(&g);
      }
}

/* fv_stencil_add(x, taps, addend) is fv_add(addend, fv_stencil(x, taps)) in one node: the same
 * bits on each executor (fp32 storage), scattered and line taps, every border rule; a wrong
 * addend shape is refused. */
static void test_stencil_addend(void) {
  static const float scattered[] = {-2, 3, 0.25f, 0, 0, 0.5f, 4, -5, 0.125f, 1, 1, -0.375f};
  static const float line[] = {0, -2, 0.1f, 0, -1, 0.2f, 0, 0, 0.4f, 0, 1, 0.2f, 0, 2, 0.1f};
  const float *sets[2] = {scattered, line};
  const int64_t counts[2] = {4, 5};
  const int64_t is[4] = {2, 13, 27, 3};
  const size_t n = 2 * 13 * 27 * 3;
  for (int t = 0; t < 2; t++)
    for (int m = 0; m < 4; m++) {
      if (g_quick && m != 2 * t) continue;
      float *x = rand_floats(n, -2.0f, 3.0f), *add = rand_floats(n, -50.0f, 50.0f);
      float *fused = malloc(n * sizeof *fused), *split = malloc(n * sizeof *split);
      if (!fused || !split) abort();
      for (int dev = 0; dev < (g_dev ? 2 : 1); dev++) {
        fv_graph g;
        fv_graph_init(&g);
        int64_t ts[2] = {counts[t], 3};
        int in = fv_input(&g, "x", FV_F32, 4, is), a = fv_input(&g, "addend", FV_F32, 4, is);
        int taps = fv_weight(&g, "taps", 2, ts, sets[t], FV_F32, 1);
        int one = fv_stencil_add(&g, in, taps, (fv_border)m, a);
        int two = fv_add(&g, a, fv_stencil(&g, in, taps, (fv_border)m), -1, 1.0f, 1.0f);
        fv_mark_output(&g, one);
        fv_mark_output(&g, two);
        feed f[2] = {{in, x, n}, {a, add, n}};
        char what[96];
        snprintf(what, sizeof what, "stencil + addend (%s taps, %s) on %s", t ? "line" : "scattered", g_border_names[m],
                 dev ? "Vulkan" : "CPU");
        fv_error err = {{0}};
        if (run_graph(dev ? g_dev : NULL, &g, FV_F32, f, 2, one, fused, &err) ||
            run_graph(dev ? g_dev : NULL, &g, FV_F32, f, 2, two, split, &err))
          CHECK(0, "%s: %s", what, err.msg);
        else
          compare(fused, split, n, CMP_EXACT, 0, what);
        fv_graph_free(&g);
      }
      free(x);
      free(add);
      free(fused);
      free(split);
    }
  fv_graph g;
  fv_graph_init(&g);
  int64_t other[4] = {2, 13, 26, 3}, ts[2] = {4, 3};
  int in = fv_input(&g, "x", FV_F32, 4, is), a = fv_input(&g, "addend", FV_F32, 4, other);
  fv_stencil_add(&g, in, fv_weight(&g, "taps", 2, ts, scattered, FV_F32, 1), FV_BORDER_NEAREST, a);
  CHECK(g.status != FV_OK && strstr(g.error.msg, "addend"), "a stencil addend of another shape was accepted: %s",
        g.error.msg);
  fv_graph_free(&g);
}

static void test_sample(void) {
  /* zoom blur-like rows (ay, by, ax, bx), one reaching far outside */
  static const float rows[] = {1.0f,  0.0f, 1.0f,  0.0f, 0.9f,  0.35f, 0.87f, 0.7f,
                               0.77f, 0.8f, 0.71f, 1.6f, -1.3f, 9.25f, 2.6f,  -14.3f};
  for (int s = 0; s < n_shapes(); s++)
    for (int m = 0; m < 4; m++) {
      if (g_quick && m % 2) continue;
      shape4 sh = g_shapes[s];
      fv_graph g;
      fv_graph_init(&g);
      int64_t is[4] = {sh.B, sh.H, sh.W, sh.C}, ts[2] = {4, 4};
      int in = fv_input(&g, "x", FV_F32, 4, is);
      int out = fv_sample(&g, in, fv_weight(&g, "rows", 2, ts, rows, FV_F32, 1), 9, 5, (fv_border)m, 0.25f);
      size_t n = (size_t)(sh.B * sh.H * sh.W * sh.C);
      float *x = rand_floats(n, 0.0f, 1.0f);
      feed f = {in, x, n};
      char what[96];
      snprintf(what, sizeof what, "sample C=%lld 9x5 %s", (long long)sh.C, g_border_names[m]);
      check_graph(&g, out, &f, 1, CMP_REL, TOL32, TOL16, what);
      free(x);
      fv_graph_free(&g);
    }
}

static void test_warp(void) {
  for (int s = 0; s < n_shapes(); s++)
    for (int m = 0; m < 4; m++)
      for (int shared = 0; shared < 2; shared++) {
        if (g_quick && (shared || m % 2)) continue;
        shape4 sh = g_shapes[s];
        fv_graph g;
        fv_graph_init(&g);
        int64_t BD = shared ? 1 : sh.B;
        int64_t is[4] = {sh.B, sh.H, sh.W, sh.C}, fs[4] = {BD, sh.H, sh.W, 1};
        int in = fv_input(&g, "x", FV_F32, 4, is);
        int dy = fv_input(&g, "dy", FV_F32, 4, fs), dx = fv_input(&g, "dx", FV_F32, 4, fs);
        int out = fv_warp(&g, in, dy, dx, (fv_border)m);
        size_t n = (size_t)(sh.B * sh.H * sh.W * sh.C), nf = (size_t)(BD * sh.H * sh.W);
        float *x = rand_floats(n, 0.0f, 1.0f), *fy = rand_floats(nf, -25.0f, 25.0f), *fx = rand_floats(nf, -40, 40);
        feed f[3] = {{in, x, n}, {dy, fy, nf}, {dx, fx, nf}};
        char what[96];
        snprintf(what, sizeof what, "warp C=%lld %s%s", (long long)sh.C, g_border_names[m],
                 shared ? " shared field" : "");
        check_graph(&g, out, f, 3, CMP_REL, TOL32, TOL16, what);
        free(x);
        free(fy);
        free(fx);
        fv_graph_free(&g);
      }
}

typedef struct pixel_case {
  fv_pixel_mode mode;
  const char *name;
  float a[4];
  int layer, stats, keys, rgb, raw; /* raw: output in raw units (relative comparison) */
  float lo, hi;                     /* input range for raw modes (images are 0..255 grey levels) */
} pixel_case;

static const pixel_case g_pixel_cases[] = {
    {FV_PIXEL_GAUSSIAN_NOISE, "gaussian_noise", {0.18f, 0, 0, 0}, 0, 0, 1, 0, 0, 0, 0},
    {FV_PIXEL_SHOT_NOISE, "shot_noise", {12.0f, 0, 0, 0}, 0, 0, 1, 0, 0, 0, 0},
    {FV_PIXEL_SHOT_NOISE, "shot_noise_ptrs", {60.0f, 0, 0, 0}, 0, 0, 1, 0, 0, 0, 0},
    {FV_PIXEL_IMPULSE_NOISE, "impulse_noise", {0.27f, 0, 0, 0}, 0, 0, 1, 0, 0, 0, 0},
    {FV_PIXEL_SPECKLE_NOISE, "speckle_noise", {0.35f, 0, 0, 0}, 0, 0, 1, 0, 0, 0, 0},
    {FV_PIXEL_BRIGHTNESS, "brightness", {0.3f, 0, 0, 0}, 0, 0, 0, 1, 0, 0, 0},
    {FV_PIXEL_SATURATE, "saturate", {2.0f, 0.1f, 0, 0}, 0, 0, 0, 1, 0, 0, 0},
    {FV_PIXEL_CONTRAST, "contrast", {0.3f, 0, 0, 0}, 0, 1, 0, 0, 0, 0, 0},
    {FV_PIXEL_FOG, "fog", {1.5f, 0, 0, 0}, 1, 1, 0, 0, 0, 0, 0},
    {FV_PIXEL_FROST, "frost", {1.0f, 0.4f, 0, 0}, 1, 0, 0, 0, 0, 0, 0},
    {FV_PIXEL_SNOW, "snow", {0.7f, 0, 0, 0}, 1, 0, 0, 1, 0, 0, 0},
    {FV_PIXEL_LAYER_COLOR, "layer_color", {1.0f, 63.0f, 42.0f, 21.0f}, 1, 0, 0, 0, 0, 0, 0},
    {FV_PIXEL_THRESHOLD, "threshold", {0.6f, 1.0f, 0, 0}, 0, 0, 0, 0, 1, -0.5f, 1.7f},
    {FV_PIXEL_STEP, "step", {0.3f, 0, 0, 0}, 0, 0, 0, 0, 1, -1.0f, 1.0f},
    {FV_PIXEL_ROUND255, "round255", {0, 0, 0, 0}, 0, 0, 0, 0, 1, 0.0f, 1.0f},
    {FV_PIXEL_QUANTIZE, "quantize", {255.0f, 0, 0, 0}, 0, 0, 0, 0, 0, -0.1f, 1.1f},
    {FV_PIXEL_AFFINE, "affine", {-1.5f, 0.25f, 0, 0}, 0, 0, 0, 0, 1, -3.0f, 3.0f},
};

/* Builds and checks one pixel case; shared_layer: one layer [1, H1, W1, C1] for every image. */
static void test_pixel_case(const pixel_case *pc, shape4 sh, int shared_layer) {
  fv_graph g;
  fv_graph_init(&g);
  const int64_t n = sh.B * sh.H * sh.W * sh.C;
  const int64_t H1 = sh.H + 2, W1 = sh.W + 3, C1 = pc->mode == FV_PIXEL_FROST ? 3 : 1, B1 = shared_layer ? 1 : sh.B;
  int64_t is[4] = {sh.B, sh.H, sh.W, sh.C}, ls[4] = {B1, H1, W1, C1}, ks[1] = {sh.B};
  int in = fv_input(&g, "x", FV_F32, 4, is);
  int layer = pc->layer ? fv_input(&g, "layer", FV_F32, 4, ls) : -1;
  int stats = -1;
  if (pc->stats) stats = fv_reduce(&g, in, pc->mode == FV_PIXEL_FOG ? FV_REDUCE_MAX : FV_REDUCE_MEAN);
  int keys = pc->keys ? fv_input(&g, "keys", FV_U32, 1, ks) : -1;
  fv_rng_params rng = {5, 1, 3, 7};
  int out = fv_pixel(&g, in, layer, stats, keys, pc->mode, pc->a, &rng);
  float *x = pc->raw || pc->mode == FV_PIXEL_QUANTIZE ? rand_floats((size_t)n, pc->lo, pc->hi) : rand_image((size_t)n);
  const size_t nl = (size_t)(B1 * H1 * W1 * C1);
  float *l = pc->mode == FV_PIXEL_FROST ? rand_image(nl) : rand_floats(nl, 0.0f, 1.0f);
  if (pc->mode == FV_PIXEL_BRIGHTNESS || pc->mode == FV_PIXEL_SATURATE)
    for (int k = 0; k < 6; k++) x[3 * k] = x[3 * k + 1] = x[3 * k + 2] = (float)(k * 51); /* grey pixels, black */
  uint32_t kv[4] = {17, 123456789u, 3, 4};
  feed f[3];
  int nf = 0;
  f[nf++] = (feed){in, x, (size_t)n};
  if (layer >= 0) f[nf++] = (feed){layer, l, nl};
  if (keys >= 0) f[nf++] = (feed){keys, kv, (size_t)sh.B};
  char what[96];
  snprintf(what, sizeof what, "pixel %s C=%lld%s", pc->name, (long long)sh.C, shared_layer ? " shared layer" : "");
  check_graph(&g, out, f, nf, pc->raw ? CMP_REL : CMP_U8, TOL32, pc->raw ? TOL16 : 0, what);
  free(x);
  free(l);
  fv_graph_free(&g);
}

static void test_pixel(void) {
  for (size_t k = 0; k < sizeof g_pixel_cases / sizeof g_pixel_cases[0]; k++) {
    const pixel_case *pc = &g_pixel_cases[k];
    for (int s = 0; s < n_shapes(); s++) {
      if (pc->rgb && g_shapes[s].C != 3) continue;
      if (pc->mode == FV_PIXEL_LAYER_COLOR && g_shapes[s].C > 3) continue;
      test_pixel_case(pc, g_shapes[s], 0);
    }
    if (pc->layer && !g_quick) test_pixel_case(pc, g_shapes[0], 1);
  }
}

/* Random streams: GPU equals CPU, runs repeat, keys and seeds matter. */
static void run_random(fv_device *dev, fv_dtype storage, fv_random_dist dist, const uint32_t *keys, uint32_t seed,
                       float *out, size_t n) {
  fv_graph g;
  fv_graph_init(&g);
  int64_t ks[1] = {2}, os[3] = {2, 37, 13};
  fv_rng_params rng = {seed, 2, 4, 9};
  int k = fv_input(&g, "keys", FV_U32, 1, ks);
  int o = fv_random(&g, k, 3, os, dist, dist == FV_RANDOM_NORMAL ? 0.5f : -2.0f, 3.0f, &rng);
  fv_mark_output(&g, o);
  feed f = {k, keys, 2};
  fv_error err = {{0}};
  if (g.status || run_graph(dev, &g, storage, &f, 1, o, out, &err))
    CHECK(0, "random: %s", g.status ? g.error.msg : err.msg);
  (void)n;
  fv_graph_free(&g);
}

static void test_random(void) {
  const size_t n = 2 * 37 * 13;
  float *cpu = malloc(n * sizeof *cpu), *gpu = malloc(n * sizeof *gpu), *again = malloc(n * sizeof *again);
  if (!cpu || !gpu || !again) abort();
  const uint32_t keys[2] = {0, 0xFFFFFFFFu}, keys2[2] = {1, 0xFFFFFFFEu};
  for (int dist = 0; dist < 2; dist++) {
    const char *name = dist ? "normal" : "uniform";
    char what[64];
    run_random(NULL, FV_F32, (fv_random_dist)dist, keys, 7, cpu, n);
    run_random(g_dev, FV_F32, (fv_random_dist)dist, keys, 7, gpu, n);
    snprintf(what, sizeof what, "random %s GPU vs CPU", name);
    if (dist == 0)
      compare(gpu, cpu, n, CMP_EXACT, 0, what);
    else
      CHECK(fv_test_max_abs_error(gpu, cpu, n) <= 1e-5, "%s: max abs error %.3g", what,
            fv_test_max_abs_error(gpu, cpu, n));
    run_random(g_dev, FV_F32, (fv_random_dist)dist, keys, 7, again, n);
    CHECK(memcmp(gpu, again, n * sizeof *gpu) == 0, "random %s: two GPU runs differ", name);
    /* the two images of one run have different keys, so different streams */
    CHECK(memcmp(gpu, gpu + n / 2, n / 2 * sizeof *gpu) != 0, "random %s: images with different keys agree", name);
    run_random(g_dev, FV_F32, (fv_random_dist)dist, keys2, 7, again, n);
    size_t same = 0;
    for (size_t i = 0; i < n; i++) same += gpu[i] == again[i];
    CHECK(same < n / 100, "random %s: other keys give %zu of %zu equal values", name, same, n);
    run_random(g_dev, FV_F32, (fv_random_dist)dist, keys, 8, again, n);
    same = 0;
    for (size_t i = 0; i < n; i++) same += gpu[i] == again[i];
    CHECK(same < n / 100, "random %s: another seed gives %zu of %zu equal values", name, same, n);
    if (!g_quick) {
      run_random(NULL, FV_F16, (fv_random_dist)dist, keys, 7, cpu, n);
      run_random(g_dev, FV_F16, (fv_random_dist)dist, keys, 7, gpu, n);
      snprintf(what, sizeof what, "random %s GPU vs CPU (F16)", name);
      compare(gpu, cpu, n, dist == 0 ? CMP_EXACT : CMP_REL, TOL16, what);
    }
  }
  free(cpu);
  free(gpu);
  free(again);
}

/* Shot noise at mean >= 12 (PTRS) and < 12 (inversion): how many 8-bit values, each a function of
 * one Poisson integer, differ between the GPU and the CPU (float transforms may differ by an ulp). */
static void test_poisson_agreement(void) {
  const int64_t B = 2, H = g_quick ? 16 : 64, W = 64, C = 3, n = B * H * W * C;
  static const float lambdas[2] = {3.0f, 60.0f};
  float *x = rand_image((size_t)n), *cpu = malloc((size_t)n * sizeof *cpu), *gpu = malloc((size_t)n * sizeof *gpu);
  if (!cpu || !gpu) abort();
  for (int k = 0; k < 2; k++) {
    fv_graph g;
    fv_graph_init(&g);
    int64_t is[4] = {B, H, W, C}, ks[1] = {B};
    int in = fv_input(&g, "x", FV_F32, 4, is), keys = fv_input(&g, "keys", FV_U32, 1, ks);
    fv_rng_params rng = {3, 1, 5, 0};
    float a[4] = {lambdas[k], 0, 0, 0};
    int out = fv_pixel(&g, in, -1, -1, keys, FV_PIXEL_SHOT_NOISE, a, &rng);
    fv_mark_output(&g, out);
    uint32_t kv[2] = {99, 100};
    feed f[2] = {{in, x, (size_t)n}, {keys, kv, 2}};
    fv_error err = {{0}};
    if (run_graph(NULL, &g, FV_F32, f, 2, out, cpu, &err) || run_graph(g_dev, &g, FV_F32, f, 2, out, gpu, &err)) {
      CHECK(0, "shot noise lambda %g: %s", (double)lambdas[k], err.msg);
    } else {
      size_t differ = 0;
      for (int64_t i = 0; i < n; i++) differ += cpu[i] != gpu[i];
      printf("shot noise (Poisson mean up to %g): %zu of %lld values differ between GPU and CPU\n", (double)lambdas[k],
             differ, (long long)n);
      CHECK(differ * 1000 <= (size_t)n, "shot noise lambda %g: %zu of %lld values differ", (double)lambdas[k], differ,
            (long long)n);
    }
    fv_graph_free(&g);
  }
  free(x);
  free(cpu);
  free(gpu);
}

static void test_reduce(void) {
  for (int s = 0; s < n_shapes(); s++)
    for (int kind = 0; kind < 2; kind++) {
      shape4 sh = g_shapes[s];
      if (!g_quick && s == 0 && kind == 0) sh.H = 61, sh.W = 67; /* more values than a workgroup */
      fv_graph g;
      fv_graph_init(&g);
      int64_t is[4] = {sh.B, sh.H, sh.W, sh.C};
      int in = fv_input(&g, "x", FV_F32, 4, is);
      int out = fv_reduce(&g, in, (fv_reduce_kind)kind);
      size_t n = (size_t)(sh.B * sh.H * sh.W * sh.C);
      float *x = rand_floats(n, -1.0f, 250.0f);
      feed f = {in, x, n};
      char what[96];
      snprintf(what, sizeof what, "reduce %s %lldx%lldx%lld", kind ? "max" : "mean", (long long)sh.H, (long long)sh.W,
               (long long)sh.C);
      check_graph(&g, out, &f, 1, kind ? CMP_EXACT : CMP_REL, TOL32, kind ? 0 : TOL16, what);
      free(x);
      fv_graph_free(&g);
    }
}

static void test_plasma(void) {
  static const int sizes[3] = {2, 16, 64};
  for (int k = 0; k < (g_quick ? 2 : 3); k++) {
    fv_graph g;
    fv_graph_init(&g);
    int64_t ks[1] = {3};
    int keys = fv_input(&g, "keys", FV_U32, 1, ks);
    fv_rng_params rng = {1, 9, 2, 0};
    int out = fv_plasma(&g, keys, sizes[k], 2.2f, &rng);
    uint32_t kv[3] = {5, 6, 5};
    feed f = {keys, kv, 3};
    char what[64];
    snprintf(what, sizeof what, "plasma N=%d", sizes[k]);
    check_graph(&g, out, &f, 1, CMP_REL, TOL32, TOL16, what);
    /* normalised to exactly [0, 1]; images with equal keys are equal, others differ */
    size_t per = (size_t)sizes[k] * sizes[k], n = 3 * per;
    float *v = malloc(n * sizeof *v);
    if (!v) abort();
    fv_error err = {{0}};
    if (!run_graph(g_dev, &g, FV_F32, &f, 1, out, v, &err)) {
      for (int b = 0; b < 3; b++) {
        float mn = 2, mx = -1;
        for (size_t i = 0; i < per; i++) mn = fminf(mn, v[b * per + i]), mx = fmaxf(mx, v[b * per + i]);
        CHECK(mn == 0.0f && mx == 1.0f, "%s image %d spans [%g, %g], expected [0, 1]", what, b, (double)mn, (double)mx);
      }
      CHECK(memcmp(v, v + 2 * per, per * sizeof *v) == 0, "%s: equal keys give different fractals", what);
      CHECK(memcmp(v, v + per, per * sizeof *v) != 0, "%s: different keys give the same fractal", what);
    } else {
      CHECK(0, "%s: %s", what, err.msg);
    }
    free(v);
    fv_graph_free(&g);
  }
}

/* Batched resample equals the per-image resample, on both executors; U8 and F32 inputs. */
static void test_resample_batch(void) {
  const int64_t B = 3, H = 7, W = 11, C = 3, n = B * H * W * C;
  const int taps = 3;
  for (int axis = 1; axis <= 2; axis++)
    for (int u8 = 0; u8 < 2; u8++) {
      const int64_t in_size = axis == 1 ? H : W, out_size = axis == 1 ? 5 : 4;
      float *table = malloc((size_t)(out_size * (2 + taps)) * sizeof *table);
      if (!table) abort();
      for (int64_t o = 0; o < out_size; o++) {
        float *e = table + o * (2 + taps);
        e[0] = (float)(o * (in_size - taps) / (out_size - 1));
        e[1] = (float)taps;
        e[2] = 0.25f, e[3] = 0.5f, e[4] = 0.25f;
      }
      fv_graph g;
      fv_graph_init(&g);
      int64_t is[4] = {B, H, W, C}, ts[1] = {out_size * (2 + taps)};
      int in = fv_input(&g, "x", u8 ? FV_U8 : FV_F32, 4, is);
      int out = fv_resample(&g, in, fv_weight(&g, "table", 1, ts, table, FV_F32, 1), axis, (int)out_size, taps, u8);
      uint8_t *bytes = malloc((size_t)n);
      float *x = rand_image((size_t)n);
      if (!bytes) abort();
      for (int64_t i = 0; i < n; i++) bytes[i] = (uint8_t)x[i];
      feed f = {in, u8 ? (const void *)bytes : x, (size_t)n};
      char what[64];
      snprintf(what, sizeof what, "resample batch axis %d %s", axis, u8 ? "U8" : "F32");
      check_graph(&g, out, &f, 1, u8 ? CMP_U8 : CMP_REL, TOL32, u8 ? 0 : TOL16, what);
      /* the independent check: image by image with the 3-D reference */
      size_t on = (size_t)fv_node_numel(&g.nodes[out]), per_out = on / (size_t)B;
      float *got = malloc(on * sizeof *got), *want = malloc(per_out * sizeof *want);
      if (!got || !want) abort();
      cpu_run(&g, &f, 1, out, got, what);
      int bad = 0;
      for (int64_t b = 0; b < B; b++) {
        fv_ref_resample(u8 ? NULL : x + b * H * W * C, u8 ? bytes + b * H * W * C : NULL, table, want, H, W, C,
                        axis - 1, out_size, taps, u8);
        bad += memcmp(got + b * per_out, want, per_out * sizeof *want) != 0;
      }
      CHECK(bad == 0, "%s: %d images differ from the single-image resample", what, bad);
      free(got);
      free(want);
      free(bytes);
      free(x);
      free(table);
      fv_graph_free(&g);
    }
}

/* Constructors refuse what the kernels cannot do. */
static void test_refusals(void) {
  fv_graph g;
  int64_t is[4] = {2, 7, 11, 3}, ks[1] = {2}, bad_taps[2] = {1, 3};
  const float frac_tap[3] = {0.5f, 0, 1};
  fv_rng_params rng = {0, 0, 0, 0};
  float a[4] = {0.1f, 0, 0, 0};
  /* fractional stencil offset */
  fv_graph_init(&g);
  int in = fv_input(&g, "x", FV_F32, 4, is);
  fv_stencil(&g, in, fv_weight(&g, "t", 2, bad_taps, frac_tap, FV_F32, 1), FV_BORDER_ZERO);
  CHECK(g.status != FV_OK && strstr(g.error.msg, "integer"), "fractional stencil offset accepted: %s", g.error.msg);
  fv_graph_free(&g);
  /* noise without keys; keys of the wrong dtype or length */
  fv_graph_init(&g);
  in = fv_input(&g, "x", FV_F32, 4, is);
  fv_pixel(&g, in, -1, -1, -1, FV_PIXEL_GAUSSIAN_NOISE, a, &rng);
  CHECK(g.status != FV_OK, "gaussian noise without keys accepted");
  fv_graph_free(&g);
  fv_graph_init(&g);
  in = fv_input(&g, "x", FV_F32, 4, is);
  int fk = fv_input(&g, "k", FV_F32, 1, ks);
  fv_pixel(&g, in, -1, -1, fk, FV_PIXEL_GAUSSIAN_NOISE, a, &rng);
  CHECK(g.status != FV_OK && strstr(g.error.msg, "U32"), "F32 keys accepted: %s", g.error.msg);
  fv_graph_free(&g);
  fv_graph_init(&g);
  in = fv_input(&g, "x", FV_F32, 4, is);
  int64_t ks3[1] = {3};
  int k3 = fv_input(&g, "k", FV_U32, 1, ks3);
  fv_pixel(&g, in, -1, -1, k3, FV_PIXEL_GAUSSIAN_NOISE, a, &rng);
  CHECK(g.status != FV_OK, "3 keys for 2 images accepted");
  fv_graph_free(&g);
  /* keys as data, brightness on one channel, plasma of a non-power of two */
  fv_graph_init(&g);
  int k = fv_input(&g, "k", FV_U32, 1, ks);
  fv_reduce(&g, k, FV_REDUCE_MAX);
  CHECK(g.status != FV_OK, "U32 keys accepted as an image");
  fv_graph_free(&g);
  fv_graph_init(&g);
  int64_t gs[4] = {2, 7, 11, 1};
  in = fv_input(&g, "x", FV_F32, 4, gs);
  fv_pixel(&g, in, -1, -1, -1, FV_PIXEL_BRIGHTNESS, a, NULL);
  CHECK(g.status != FV_OK, "brightness on a one-channel image accepted");
  fv_graph_free(&g);
  fv_graph_init(&g);
  k = fv_input(&g, "k", FV_U32, 1, ks);
  fv_plasma(&g, k, 24, 2.0f, &rng);
  CHECK(g.status != FV_OK, "plasma of size 24 accepted");
  fv_graph_free(&g);
}

int main(void) {
  g_verbose = getenv("FOVEA_TEST_VERBOSE") != NULL;
  g_quick = getenv("FOVEA_TEST_QUICK") != NULL;
  test_philox_vectors();
  test_border_rules();
  test_identities();
  test_distributions();
  test_refusals();
  fv_error err = {{0}};
  if (fv_device_open(NULL, &g_dev, &err)) {
    CHECK(0, "no Vulkan device: %s", err.msg);
    return fv_test_finish();
  }
  printf("device: %s\n", fv_device_get_info(g_dev)->name);
  test_stencil();
  test_stencil_wide();
  test_stencil_addend();
  test_sample();
  test_warp();
  test_pixel();
  test_random();
  test_poisson_agreement();
  test_reduce();
  test_plasma();
  test_resample_batch();
  int validation = fv_device_validation_errors(g_dev);
  CHECK(validation == 0, "the validation layer reported %d messages", validation);
  fv_device_close(g_dev);
  return fv_test_finish();
}
