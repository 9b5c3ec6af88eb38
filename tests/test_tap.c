/* test_tap.c: the token-aware average pooling ops (FV_OP_TAP_SCALES, FV_OP_TAP_MIX) and the
 * batch-norm folding of vision/tap.c.
 *
 * - Kernels against the C references (the CPU executor): grids 1x1, 2x3, 7x5 and 8x8, C = 3, 64
 *   and 65, K = 1 and 4, 0, 1 and 2 prefix tokens, fp32 and fp16 storage, each Vulkan run planned
 *   as for a CPU driver and as for a GPU (FOVEA_PLAN_AS). Normalised error (check.h) within 1e-5
 *   in fp32 and 3e-3 in fp16 (a few fp16 ulps of the stored values).
 * - Border semantics, by hand: with one-hot scale weights TAP_MIX returns one P_k; for k = 3 the
 *   corner token is (1/9) * the sum of its 4 in-grid taps, and a constant grid v becomes
 *   v * (valid taps) / 9 at every token (v in the interior), on both executors.
 * - K = 1 is the identity (softmax of one value is 1), and prefix rows pass through bit-identical.
 * - BN folding: the folded graph's scales against an unfolded predictor (conv1, BatchNorm with
 *   running statistics, conv2, softmax) computed here in double, borders included, within 2e-6.
 * - Graph constructor errors name what was wrong.
 * FOVEA_TEST_QUICK=1 runs a few sweep cases only (the sanitizer pass). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "engine/graph.h"
#include "graph_runner.h"
#include "vision/tap.h"

#define TOL32 1e-5
#define TOL16 3e-3

static fv_device *g_dev;
static uint64_t g_seed = 0x9E3779B97F4A7C15ull;

static float *rand_floats(size_t n, float lo, float hi) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  if (!x) abort();
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * 0.5f * (fv_test_rand(&g_seed) + 1.0f);
  return x;
}

/* CPU vs Vulkan, fp32 and fp16 storage, CPU- and GPU-planned. */
static void check_graph(fv_graph *g, int out, const feed *feeds, int n_feeds, const char *what) {
  if (g->status != FV_OK) {
    CHECK(0, "%s: building the graph failed: %s", what, g->error.msg);
    return;
  }
  fv_mark_output(g, out);
  size_t n = (size_t)fv_node_numel(&g->nodes[out]);
  float *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
  if (!want || !got) abort();
  static const fv_dtype storages[2] = {FV_F32, FV_F16};
  static const char *plans[2] = {"cpu", "gpu"};
  for (int s = 0; s < 2; s++) {
    fv_error err = {{0}};
    if (run_graph(NULL, g, storages[s], feeds, n_feeds, out, want, &err)) {
      CHECK(0, "%s: CPU executor (%s): %s", what, fv_dtype_name(storages[s]), err.msg);
      continue;
    }
    for (int p = 0; p < 2; p++) {
      setenv("FOVEA_PLAN_AS", plans[p], 1);
      memset(got, 0, n * sizeof *got);
      fv_status st = run_graph(g_dev, g, storages[s], feeds, n_feeds, out, got, &err);
      unsetenv("FOVEA_PLAN_AS");
      if (st) {
        CHECK(0, "%s: Vulkan executor (%s, %s-planned): %s", what, fv_dtype_name(storages[s]), plans[p], err.msg);
        continue;
      }
      double e = fv_test_rel_error(got, want, n), tol = s == 0 ? TOL32 : TOL16;
      CHECK(e <= tol, "%s (%s, %s-planned): error %.3g above %.3g", what, fv_dtype_name(storages[s]), plans[p], e, tol);
    }
  }
  free(want);
  free(got);
}

/* Predictor weights scaled so that Z2 spans a few units: softmaxes neither flat nor one-hot. */
static void predictor(fv_graph *g, int64_t C, int K, int with_bias, int *w1, int *b1, int *w2) {
  int64_t s1[2] = {K, C * 9}, sb[1] = {K}, s2[2] = {K, (int64_t)K * 9};
  float a1 = 3.0f / sqrtf((float)(C * 9)), a2 = 1.5f / sqrtf((float)(K * 9));
  float *v1 = rand_floats((size_t)(K * C * 9), -a1, a1), *vb = rand_floats((size_t)K, -1.0f, 1.0f);
  float *v2 = rand_floats((size_t)(K * K * 9), -a2, a2);
  *w1 = fv_weight(g, "w1", 2, s1, v1, FV_F32, 1);
  *b1 = with_bias ? fv_weight(g, "b1", 1, sb, vb, FV_F32, 1) : -1;
  *w2 = fv_weight(g, "w2", 2, s2, v2, FV_F32, 1);
  free(v1);
  free(vb);
  free(v2);
}

static void test_sweep(int quick) {
  static const int grids[][2] = {{1, 1}, {2, 3}, {7, 5}, {8, 8}};
  static const int widths[] = {3, 64, 65};
  int case_no = 0;
  for (int gi = 0; gi < 4; gi++)
    for (int ci = 0; ci < 3; ci++)
      for (int K = 1; K <= 4; K += 3) {
        const int gh = grids[gi][0], gw = grids[gi][1], C = widths[ci], P = case_no % 3, B = 2;
        case_no++;
        if (quick && case_no > 4) return;
        const int64_t T = P + gh * gw;
        char what[128];
        /* TAP_SCALES */
        fv_graph g;
        fv_graph_init(&g);
        int64_t xs[3] = {B, T, C};
        int x = fv_input(&g, "x", FV_F32, 3, xs);
        int w1, b1, w2;
        predictor(&g, C, K, case_no % 2, &w1, &b1, &w2);
        int sc = fv_tap_scales(&g, x, w1, b1, w2, P, gh, gw, case_no % 4 == 0 ? 0.7f : 1.0f);
        float *xv = rand_floats((size_t)(B * T * C), -1.0f, 1.0f);
        feed f = {x, xv, (size_t)(B * T * C)};
        snprintf(what, sizeof what, "tap_scales %dx%d C=%d K=%d P=%d bias=%d", gh, gw, C, K, P, b1 >= 0);
        check_graph(&g, sc, &f, 1, what);
        fv_graph_free(&g);
        /* TAP_MIX with arbitrary (not normalised) scale weights: each P_k must be right on its own. */
        fv_graph_init(&g);
        x = fv_input(&g, "x", FV_F32, 3, xs);
        int64_t ss[4] = {B, gh, gw, K};
        int s = fv_input(&g, "scales", FV_F32, 4, ss);
        int mix = fv_tap_mix(&g, x, s, P);
        float *sv = rand_floats((size_t)(B * gh * gw * K), 0.0f, 1.0f);
        feed fm[2] = {{x, xv, (size_t)(B * T * C)}, {s, sv, (size_t)(B * gh * gw * K)}};
        snprintf(what, sizeof what, "tap_mix %dx%d C=%d K=%d P=%d", gh, gw, C, K, P);
        check_graph(&g, mix, fm, 2, what);
        fv_graph_free(&g);
        free(xv);
        free(sv);
      }
}

/* Runs TAP_MIX on both executors (fp32) and returns the CPU (out_cpu) and Vulkan (out_gpu) results. */
static int run_mix(const float *xv, const float *sv, int B, int64_t T, int64_t C, int P, int gh, int gw, int K,
                   fv_dtype storage, float *out_cpu, float *out_gpu) {
  fv_graph g;
  fv_graph_init(&g);
  int64_t xs[3] = {B, T, C}, ss[4] = {B, gh, gw, K};
  int x = fv_input(&g, "x", FV_F32, 3, xs), s = fv_input(&g, "scales", FV_F32, 4, ss);
  int mix = fv_tap_mix(&g, x, s, P);
  fv_mark_output(&g, mix);
  feed f[2] = {{x, xv, (size_t)(B * T * C)}, {s, sv, (size_t)(B * gh * gw * K)}};
  fv_error err = {{0}};
  int ok = g.status == FV_OK;
  CHECK(ok, "tap_mix graph: %s", g.error.msg);
  if (ok && run_graph(NULL, &g, storage, f, 2, mix, out_cpu, &err)) {
    CHECK(0, "tap_mix CPU: %s", err.msg);
    ok = 0;
  }
  if (ok && run_graph(g_dev, &g, storage, f, 2, mix, out_gpu, &err)) {
    CHECK(0, "tap_mix Vulkan: %s", err.msg);
    ok = 0;
  }
  fv_graph_free(&g);
  return ok;
}

/* Valid taps of P_k at (h, w) on a gh x gw grid, counted directly. */
static int valid_taps(int h, int w, int gh, int gw, int k) {
  int n = 0;
  for (int a = -1; a <= 1; a++)
    for (int e = -1; e <= 1; e++) n += h + k * a >= 0 && h + k * a < gh && w + k * e >= 0 && w + k * e < gw;
  return n;
}

static void test_borders(void) {
  const int gh = 7, gw = 5, C = 3, P = 1, K = 4, B = 1;
  const int64_t T = P + gh * gw;
  float *xv = rand_floats((size_t)(T * C), -1.0f, 1.0f);
  float *sv = calloc((size_t)(gh * gw * K), sizeof *sv);
  float *cpu = malloc((size_t)(T * C) * sizeof *cpu), *gpu = malloc((size_t)(T * C) * sizeof *gpu);
  if (!sv || !cpu || !gpu) abort();
  for (int n = 0; n < gh * gw; n++) sv[n * K + 3] = 1.0f; /* one-hot on k = 3: out = P_3(x) */
  if (run_mix(xv, sv, B, T, C, P, gh, gw, K, FV_F32, cpu, gpu)) {
#define X(h, w, c) xv[(P + (h)*gw + (w)) * C + (c)]
    for (int c = 0; c < C; c++) {
      float corner = (X(0, 0, c) + X(0, 3, c) + X(3, 0, c) + X(3, 3, c)) / 9.0f;
      CHECK(fabsf(cpu[P * C + c] - corner) <= 1e-6f && fabsf(gpu[P * C + c] - corner) <= 1e-6f,
            "corner (0,0) at k=3, channel %d: cpu %g, vulkan %g, expected (1/9)(4 taps) = %g", c,
            (double)cpu[P * C + c], (double)gpu[P * C + c], (double)corner);
      /* (6, 4), the opposite corner: taps (6,4), (6,1), (3,4), (3,1) */
      int64_t o = (P + 6 * gw + 4) * C + c;
      float far = (X(6, 4, c) + X(6, 1, c) + X(3, 4, c) + X(3, 1, c)) / 9.0f;
      CHECK(fabsf(cpu[o] - far) <= 1e-6f && fabsf(gpu[o] - far) <= 1e-6f,
            "corner (6,4) at k=3, channel %d: cpu %g, vulkan %g, expected %g", c, (double)cpu[o], (double)gpu[o],
            (double)far);
    }
#undef X
  }
  /* A constant grid v: every P_k keeps v * valid / 9, for each k in turn. */
  const float v = 2.5f;
  for (int64_t i = 0; i < T * C; i++) xv[i] = i < P * C ? -7.0f : v;
  for (int k = 0; k < K; k++) {
    memset(sv, 0, (size_t)(gh * gw * K) * sizeof *sv);
    for (int n = 0; n < gh * gw; n++) sv[n * K + k] = 1.0f;
    if (!run_mix(xv, sv, B, T, C, P, gh, gw, K, FV_F32, cpu, gpu)) continue;
    int bad = 0, interior = 0;
    for (int h = 0; h < gh; h++)
      for (int w = 0; w < gw; w++) {
        float want = k == 0 ? v : v * (float)valid_taps(h, w, gh, gw, k) / 9.0f;
        interior += k > 0 && valid_taps(h, w, gh, gw, k) == 9;
        for (int c = 0; c < C; c++) {
          int64_t o = (P + h * gw + w) * C + c;
          bad += fabsf(cpu[o] - want) > 1e-6f || fabsf(gpu[o] - want) > 1e-6f;
        }
      }
    CHECK(bad == 0, "constant grid, k=%d: %d values differ from v * valid taps / 9", k, bad);
    if (k == 1) CHECK(interior == 15, "k=1 on 7x5 has 15 interior tokens, counted %d", interior);
    CHECK(cpu[0] == -7.0f && gpu[0] == -7.0f, "constant grid: the prefix token changed");
  }
  free(xv);
  free(sv);
  free(cpu);
  free(gpu);
}

/* K = 1 (identity) end to end, and prefix rows bit-identical, in both storages. */
static void test_identity_and_prefix(void) {
  const int gh = 3, gw = 4, C = 65, P = 2, B = 2;
  const int64_t T = P + gh * gw, n = B * T * C;
  for (int s = 0; s < 2; s++) {
    fv_dtype storage = s ? FV_F16 : FV_F32;
    for (int K = 1; K <= 4; K += 3) {
      fv_graph g;
      fv_graph_init(&g);
      int64_t xs[3] = {B, T, C};
      int x = fv_input(&g, "x", FV_F32, 3, xs);
      int w1, b1, w2;
      predictor(&g, C, K, 1, &w1, &b1, &w2);
      int sc = fv_tap_scales(&g, x, w1, b1, w2, P, gh, gw, 1.0f);
      int mix = fv_tap_mix(&g, x, sc, P);
      fv_mark_output(&g, mix);
      float *xv = rand_floats((size_t)n, -3.0f, 3.0f);
      float *want = malloc((size_t)n * sizeof *want), *got = malloc((size_t)n * sizeof *got);
      if (!want || !got) abort();
      for (int64_t i = 0; i < n; i++) want[i] = s ? fv_f16_to_f32(fv_f32_to_f16(xv[i])) : xv[i];
      feed f = {x, xv, (size_t)n};
      for (int e = 0; e < 2; e++) {
        fv_error err = {{0}};
        if (run_graph(e ? g_dev : NULL, &g, storage, &f, 1, mix, got, &err)) {
          CHECK(0, "identity K=%d on %s: %s", K, e ? "Vulkan" : "CPU", err.msg);
          continue;
        }
        int prefix_same = 1;
        for (int b = 0; b < B; b++)
          prefix_same &= memcmp(got + b * T * C, want + b * T * C, (size_t)(P * C) * sizeof *got) == 0;
        CHECK(prefix_same, "K=%d %s %s: prefix rows are not bit-identical", K, e ? "Vulkan" : "CPU",
              fv_dtype_name(storage));
        if (K == 1)
          CHECK(memcmp(got, want, (size_t)n * sizeof *got) == 0, "K=1 %s %s: TAP is not the identity",
                e ? "Vulkan" : "CPU", fv_dtype_name(storage));
      }
      free(xv);
      free(want);
      free(got);
      fv_graph_free(&g);
    }
  }
}

/* A 3x3 convolution without bias, zero padding, in double: in [gh*gw, cin] (token-major),
 * wts [cout, cin, 3, 3] (PyTorch layout), out [gh*gw, cout]. */
static void conv3x3(const double *in, int64_t cin, const float *wts, int cout, int gh, int gw, double *out) {
  for (int64_t n = 0; n < (int64_t)gh * gw; n++)
    for (int k = 0; k < cout; k++) {
      double acc = 0;
      for (int ky = 0; ky < 3; ky++)
        for (int kx = 0; kx < 3; kx++) {
          int64_t hh = n / gw + ky - 1, ww = n % gw + kx - 1;
          if (hh < 0 || hh >= gh || ww < 0 || ww >= gw) continue;
          for (int64_t c = 0; c < cin; c++)
            acc += (double)wts[((k * cin + c) * 3 + ky) * 3 + kx] * in[(hh * gw + ww) * cin + c];
        }
      out[n * cout + k] = acc;
    }
}

/* The unfolded predictor in double: conv1, BatchNorm(running stats), conv2, softmax over K, on
 * the patch tokens of x [P + gh*gw, C]. */
static void unfolded_scales(const float *x, const fv_tap_weights *w, int P, int gh, int gw, double *out) {
  const int K = w->K;
  const int64_t C = w->C, N = (int64_t)gh * gw;
  double *grid = malloc((size_t)(N * C) * sizeof *grid), *z1 = malloc((size_t)(N * K) * sizeof *z1);
  if (!grid || !z1) abort();
  for (int64_t i = 0; i < N * C; i++) grid[i] = x[P * C + i];
  conv3x3(grid, C, w->conv1, K, gh, gw, z1);
  for (int64_t n = 0; n < N; n++)
    for (int k = 0; k < K; k++)
      z1[n * K + k] =
          (z1[n * K + k] - w->bn_mean[k]) / sqrt((double)w->bn_var[k] + (double)w->bn_eps) * w->bn_weight[k] +
          w->bn_bias[k];
  conv3x3(z1, K, w->conv2, K, gh, gw, out);
  for (int64_t n = 0; n < N; n++) {
    double *z2 = out + n * K, mx = -INFINITY, sum = 0;
    for (int k = 0; k < K; k++) mx = fmax(mx, z2[k]);
    for (int k = 0; k < K; k++) sum += (z2[k] = exp(z2[k] - mx));
    for (int k = 0; k < K; k++) z2[k] /= sum;
  }
  free(grid), free(z1);
}

static void test_bn_folding(void) {
  const int gh = 5, gw = 6, P = 1, K = 4;
  const int64_t C = 24, T = P + gh * gw;
  float *conv1 = rand_floats((size_t)(K * C * 9), -0.2f, 0.2f), *conv2 = rand_floats((size_t)(K * K * 9), -0.4f, 0.4f);
  float *gamma = rand_floats(K, 0.5f, 2.0f), *beta = rand_floats(K, -1.0f, 1.0f);
  float *mean = rand_floats(K, -0.5f, 0.5f), *var = rand_floats(K, 0.05f, 3.0f);
  fv_tap_weights w = {.K = K,
                      .C = C,
                      .conv1 = conv1,
                      .bn_weight = gamma,
                      .bn_bias = beta,
                      .bn_mean = mean,
                      .bn_var = var,
                      .bn_eps = FV_TAP_BN_EPS,
                      .conv2 = conv2};
  float *xv = rand_floats((size_t)(T * C), -1.0f, 1.0f);
  double *want = malloc((size_t)(gh * gw * K) * sizeof *want);
  float *got = malloc((size_t)(gh * gw * K) * sizeof *got), *want_f = malloc((size_t)(gh * gw * K) * sizeof *want_f);
  if (!want || !got || !want_f) abort();
  unfolded_scales(xv, &w, P, gh, gw, want);
  for (int i = 0; i < gh * gw * K; i++) want_f[i] = (float)want[i];
  fv_graph g;
  fv_graph_init(&g);
  int64_t xs[3] = {1, T, C};
  int x = fv_input(&g, "x", FV_F32, 3, xs), sc = -1;
  fv_error err = {{0}};
  int mix = fv_tap_build(&g, x, &w, P, gh, gw, 1.0f, "blocks.0", &sc, &err);
  CHECK(mix >= 0 && sc >= 0, "fv_tap_build: %s", err.msg);
  if (mix >= 0) {
    fv_mark_output(&g, sc);
    feed f = {x, xv, (size_t)(T * C)};
    for (int e = 0; e < 2; e++) {
      if (run_graph(e ? g_dev : NULL, &g, FV_F32, &f, 1, sc, got, &err)) {
        CHECK(0, "folded graph on %s: %s", e ? "Vulkan" : "CPU", err.msg);
        continue;
      }
      double rel = fv_test_rel_error(got, want_f, (size_t)(gh * gw * K));
      printf("BN folding, %s: folded vs unfolded (double) scales, max error %.2e of max\n", e ? "Vulkan" : "CPU", rel);
      CHECK(rel <= 2e-6, "%s: folded scales differ from the unfolded predictor by %.3g", e ? "Vulkan" : "CPU", rel);
    }
  }
  fv_graph_free(&g);
  /* A negative variance cannot be folded. */
  var[2] = -1.0f;
  float w1f[4 * 24 * 9], b1f[4];
  CHECK(fv_tap_fold_bn(&w, w1f, b1f, &err) == FV_ERR && strstr(err.msg, "running_var[2]"), "negative running_var: %s",
        err.msg);
  free(conv1);
  free(conv2);
  free(gamma);
  free(beta);
  free(mean);
  free(var);
  free(xv);
  free(want);
  free(got);
  free(want_f);
}

static void expect_graph_error(fv_graph *g, int node, const char *needle, const char *what) {
  CHECK(node == -1 && g->status == FV_ERR && strstr(g->error.msg, needle), "%s: expected an error with '%s', got %s",
        what, needle, g->status ? g->error.msg : "success");
}

static void test_graph_errors(void) {
  int64_t xs[3] = {1, 1 + 12, 8}, ss[4] = {1, 3, 4, 4};
  for (int c = 0; c < 5; c++) {
    fv_graph g;
    fv_graph_init(&g);
    int x = fv_input(&g, "x", FV_F32, 3, xs);
    int w1, b1, w2;
    predictor(&g, 8, 4, 1, &w1, &b1, &w2);
    switch (c) {
      case 0:
        expect_graph_error(&g, fv_tap_scales(&g, x, w1, b1, w2, 1, 4, 4, 1), "tokens x must be", "wrong grid");
        break;
      case 1:
        expect_graph_error(&g, fv_tap_scales(&g, x, w1, b1, w2, 1, 3, 4, 0), "temperature", "temperature 0");
        break;
      case 2:
        expect_graph_error(&g, fv_tap_scales(&g, x, w1, b1, w1, 1, 3, 4, 1), "conv2 w1 must be [4, 36]", "conv2");
        break;
      case 3: {
        int s = fv_input(&g, "s", FV_F32, 4, ss);
        expect_graph_error(&g, fv_tap_mix(&g, x, s, 2), "tokens x must be", "mix prefix count");
        break;
      }
      case 4: {
        int64_t big[4] = {1, 3, 4, 17};
        int s = fv_input(&g, "s", FV_F32, 4, big);
        expect_graph_error(&g, fv_tap_mix(&g, x, s, 1), "K in 1..16", "K = 17");
        break;
      }
    }
    fv_graph_free(&g);
  }
}

int main(void) {
  fv_error err;
  if (fv_device_open(NULL, &g_dev, &err)) {
    fprintf(stderr, "no Vulkan device: %s\n", err.msg);
    return 1;
  }
  const char *q = getenv("FOVEA_TEST_QUICK");
  test_sweep(q && *q && strcmp(q, "0") != 0);
  test_borders();
  test_identity_and_prefix();
  test_bn_folding();
  test_graph_errors();
  int validation = fv_device_validation_errors(g_dev);
  CHECK(validation == 0, "the validation layer reported %d messages", validation);
  fv_device_close(g_dev);
  return fv_test_finish();
}
