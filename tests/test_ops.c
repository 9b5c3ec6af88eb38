/* test_ops.c: every GPU kernel against the CPU executor (the C references), op by op.
 *
 * Each case builds a one-op graph with random inputs and weights, runs it on the CPU
 * executor and on the Vulkan executor, in fp32 and in fp16 storage (the CPU executor
 * emulates fp16 storage by rounding what it stores), and compares with the normalised error
 * fv_test_rel_error. Shapes are deliberately odd (1, 7, 50, 197, 257 tokens; head dims
 * 1..128; matmul sizes that are not tile multiples). Every Vulkan run is done twice, planned
 * as for a CPU driver and as for a GPU (FOVEA_PLAN_AS, see engine/ops/plan.c), so both
 * variants of each kernel are checked on whatever device runs the suite. The planner's
 * refusals (element counts past uint32 indexing, fp16 resample tables) are tested too, and
 * at the end the Khronos validation layer must have reported nothing.
 *
 * Tolerances: fp32 1e-5 of the largest reference value, except matmul/attention, whose
 * K-long fp32 dot products are summed in a different order than OpenBLAS sums them
 * (rounding error grows like sqrt(K) ulp; 2e-5 covers K = 768 with margin). fp16: 3e-3,
 * a few fp16 ulps (2^-11 = 4.9e-4) of the stored inputs and output.
 *
 * Not here: performance (tests/bench/), model-level parity (test_vit_parity.c). Sizes are
 * kept small so the suite runs in well under a minute on lavapipe with two cores. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "engine/graph.h"
#include "engine/ops/plan.h"
#include "graph_runner.h"

#define TOL32 1e-5
#define TOL32_DOT 2e-5
#define TOL16 3e-3

static fv_device *g_dev;
static uint64_t g_seed = 0x2545F4914F6CDD1Dull;
static int g_verbose;

static float *rand_floats(size_t n, float lo, float hi) {
  float *x = malloc((n ? n : 1) * sizeof *x);
  if (!x) abort();
  for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * 0.5f * (fv_test_rand(&g_seed) + 1.0f);
  return x;
}

/* A weight node holding a copy of n random values in [lo, hi). */
static int rand_weight(fv_graph *g, const char *name, int ndim, const int64_t *shape, float lo, float hi) {
  size_t n = 1;
  for (int i = 0; i < ndim; i++) n *= (size_t)shape[i];
  float *v = rand_floats(n, lo, hi);
  int id = fv_weight(g, name, ndim, shape, v, FV_F32, 1);
  free(v);
  return id;
}

/* FOVEA_TEST_QUICK=1 (the sanitizer pass of tools/run_tests.sh): the first two cases of each
 * op family only. Under ASan every pipeline lavapipe compiles costs minutes of instrumented
 * allocator time, and the point there is our host code (planners, executors, references),
 * which the first cases of each family already drive; the full sweep runs in the normal pass. */
static int g_quick;

static int quick_case(const char *what) {
  static char families[32][24];
  static int counts[32], n_families;
  size_t len = strcspn(what, " ");
  if (len >= sizeof families[0]) len = sizeof families[0] - 1;
  int f = 0;
  while (f < n_families && !(strlen(families[f]) == len && strncmp(families[f], what, len) == 0)) f++;
  if (f == n_families) {
    if (n_families == 32) return 0;
    memcpy(families[f], what, len);
    families[f][len] = '\0';
    n_families++;
  }
  return ++counts[f] <= 2;
}

/* Compares what a result may differ by: normally the normalised error; with `rounded` (PIL-style
 * u8 rounding), a value whose unrounded sum lies within float noise of a .5 boundary may round
 * either way, so up to 1% of the values may differ by exactly 1 and the rest must match. */
static double compare(const float *got, const float *want, size_t n, int rounded) {
  if (!rounded) return fv_test_rel_error(got, want, n);
  size_t off_by_one = 0;
  for (size_t i = 0; i < n; i++) {
    float d = got[i] > want[i] ? got[i] - want[i] : want[i] - got[i];
    if (d != d || d > 1.0f) return INFINITY;
    if (d > 0.0f) off_by_one++;
  }
  return off_by_one * 100 > n ? INFINITY : 0.0;
}

/* The whole comparison for one graph: CPU vs Vulkan, fp32 and fp16, CPU- and GPU-planned. */
static void check_graph(fv_graph *g, int out, const feed *feeds, int n_feeds, double tol32, double tol16, int rounded,
                        const char *what) {
  const char *only = getenv("FOVEA_TEST_ONLY"); /* e.g. "attention": run only cases named so */
  if (only && strncmp(what, only, strlen(only)) != 0) return;
  if (g_quick && !quick_case(what)) return;
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
  double worst[2] = {0, 0};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int s = 0; s < 2; s++) {
    fv_error err = {{0}};
    if (run_graph(NULL, g, storages[s], feeds, n_feeds, out, want, &err)) {
      CHECK(0, "%s: CPU executor (%s): %s", what, fv_dtype_name(storages[s]), err.msg);
      continue;
    }
    double tol = s == 0 ? tol32 : tol16;
    for (int p = 0; p < 2; p++) {
      setenv("FOVEA_PLAN_AS", plans[p], 1);
      memset(got, 0, n * sizeof *got);
      fv_status st = run_graph(g_dev, g, storages[s], feeds, n_feeds, out, got, &err);
      unsetenv("FOVEA_PLAN_AS");
      if (st) {
        CHECK(0, "%s: Vulkan executor (%s, %s-planned): %s", what, fv_dtype_name(storages[s]), plans[p], err.msg);
        continue;
      }
      double e = compare(got, want, n, rounded);
      if (e > worst[s]) worst[s] = e;
      CHECK(e <= tol, "%s (%s, %s-planned): error %.3g above %.3g", what, fv_dtype_name(storages[s]), plans[p], e, tol);
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  if (g_verbose)
    printf("  %-52s f32 %.2e  f16 %.2e  %6.2f s\n", what, worst[0], worst[1],
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
  free(want);
  free(got);
}

/* ---- matmul ------------------------------------------------------------------------------ */

static void test_matmul(void) {
  /* M, N, K; K = 12 is a multiple of 4 but not 8 (vector loads in fp32, scalar in fp16). */
  static const int shapes[][3] = {{1, 1, 1},     {7, 13, 5},    {7, 13, 12},    {197, 97, 65},
                                  {50, 576, 64}, {33, 40, 768}, {257, 768, 192}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int variant = 0; variant < 4; variant++) {
      int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], bias = variant & 1, gelu = variant >> 1;
      if (M * N * K > 1000000 && variant != 3 && variant != 0) continue; /* big ones: plain and full epilogue */
      fv_graph g;
      fv_graph_init(&g);
      /* A as [1, M, K]: leading dimensions flatten into M */
      int64_t as[3] = {1, M, K}, ws[2] = {N, K}, bs[1] = {N};
      int a = fv_input(&g, "a", FV_F32, 3, as);
      int w = rand_weight(&g, "w", 2, ws, -0.5f, 0.5f);
      int b = bias ? rand_weight(&g, "b", 1, bs, -1.0f, 1.0f) : -1;
      int out = fv_matmul(&g, a, w, b, gelu);
      float *x = rand_floats((size_t)M * K, -1.0f, 1.0f);
      feed f = {a, x, (size_t)M * K};
      char what[96];
      snprintf(what, sizeof what, "matmul M=%d N=%d K=%d bias=%d gelu=%d", M, N, K, bias, gelu);
      check_graph(&g, out, &f, 1, TOL32_DOT, TOL16, 0, what);
      free(x);
      fv_graph_free(&g);
    }
}

/* ---- layernorm, softmax ------------------------------------------------------------------- */

static void test_layernorm(void) {
  static const int sizes[][2] = {{5, 1}, {7, 7}, {50, 192}, {9, 768}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (int variant = 0; variant < 3; variant++) {
      int rows = sizes[s][0], C = sizes[s][1];
      fv_graph g;
      fv_graph_init(&g);
      int64_t xs[2] = {rows, C}, vs[1] = {C};
      int x = fv_input(&g, "x", FV_F32, 2, xs);
      int gamma = variant >= 1 ? rand_weight(&g, "gamma", 1, vs, 0.5f, 1.5f) : -1;
      int beta = variant >= 2 ? rand_weight(&g, "beta", 1, vs, -1.0f, 1.0f) : -1;
      int out = fv_layernorm(&g, x, gamma, beta, 1e-6f);
      /* an offset mean (3) tests that the variance is not computed as E[x^2] - mean^2 */
      float *v = rand_floats((size_t)rows * C, 2.0f, 4.0f);
      feed f = {x, v, (size_t)rows * C};
      char what[96];
      snprintf(what, sizeof what, "layernorm rows=%d C=%d gamma=%d beta=%d", rows, C, gamma >= 0, beta >= 0);
      check_graph(&g, out, &f, 1, TOL32, TOL16, 0, what);
      free(v);
      fv_graph_free(&g);
    }
}

static void test_softmax(void) {
  static const int sizes[][2] = {{3, 1}, {7, 7}, {12, 197}, {2, 1000}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    int rows = sizes[s][0], C = sizes[s][1];
    fv_graph g;
    fv_graph_init(&g);
    int64_t xs[2] = {rows, C};
    int x = fv_input(&g, "x", FV_F32, 2, xs);
    int out = fv_softmax(&g, x);
    float *v = rand_floats((size_t)rows * C, -8.0f, 8.0f);
    feed f = {x, v, (size_t)rows * C};
    char what[96];
    snprintf(what, sizeof what, "softmax rows=%d C=%d", rows, C);
    check_graph(&g, out, &f, 1, TOL32, TOL16, 0, what);
    free(v);
    fv_graph_free(&g);
  }
}

/* ---- attention ---------------------------------------------------------------------------- */

static void test_attention(void) {
  /* B, T, H, D */
  static const int shapes[][4] = {{1, 1, 1, 1},    {2, 7, 3, 32}, {1, 50, 2, 48},  {1, 197, 2, 64},
                                  {1, 257, 1, 80}, {2, 9, 1, 1},  {1, 17, 2, 128}, {1, 70, 1, 128}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    int B = shapes[s][0], T = shapes[s][1], H = shapes[s][2], D = shapes[s][3];
    fv_graph g;
    fv_graph_init(&g);
    int64_t qs[3] = {B, T, 3LL * H * D};
    int qkv = fv_input(&g, "qkv", FV_F32, 3, qs);
    /* a large scale makes the softmax peaked, so the online rescaling really matters */
    int out = fv_attention(&g, qkv, H, D, 3.0f / sqrtf((float)D));
    size_t n = (size_t)B * T * 3 * H * D;
    float *v = rand_floats(n, -1.5f, 1.5f);
    feed f = {qkv, v, n};
    char what[96];
    snprintf(what, sizeof what, "attention B=%d T=%d H=%d D=%d", B, T, H, D);
    check_graph(&g, out, &f, 1, TOL32_DOT, TOL16, 0, what);
    free(v);
    fv_graph_free(&g);
  }
}

/* ---- elementwise -------------------------------------------------------------------------- */

static void test_add(void) {
  static const int64_t shapes[][3] = {{1, 1, 1}, {2, 7, 13}, {1, 197, 192}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int with_gamma = 0; with_gamma < 2; with_gamma++) {
      fv_graph g;
      fv_graph_init(&g);
      int64_t vs[1] = {shapes[s][2]};
      size_t n = (size_t)(shapes[s][0] * shapes[s][1] * shapes[s][2]);
      int a = fv_input(&g, "a", FV_F32, 3, shapes[s]);
      int b = fv_input(&g, "b", FV_F32, 3, shapes[s]);
      int gamma = with_gamma ? rand_weight(&g, "gamma", 1, vs, -1.0f, 1.0f) : -1;
      int out = fv_add(&g, a, b, gamma, 0.75f, -1.25f);
      float *va = rand_floats(n, -1.0f, 1.0f), *vb = rand_floats(n, -1.0f, 1.0f);
      feed f[2] = {{a, va, n}, {b, vb, n}};
      char what[96];
      snprintf(what, sizeof what, "add %lldx%lldx%lld gamma=%d", (long long)shapes[s][0], (long long)shapes[s][1],
               (long long)shapes[s][2], with_gamma);
      check_graph(&g, out, f, 2, TOL32, TOL16, 0, what);
      free(va);
      free(vb);
      fv_graph_free(&g);
    }
}

static void test_im2col(void) {
  static const int64_t cases[][5] = {{1, 1, 1, 1, 1}, {2, 3, 8, 12, 4}, {1, 3, 32, 16, 16}, {1, 2, 5, 7, 1}};
  for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
    fv_graph g;
    fv_graph_init(&g);
    int64_t shape[4] = {cases[s][0], cases[s][1], cases[s][2], cases[s][3]};
    size_t n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    int x = fv_input(&g, "image", FV_F32, 4, shape);
    int out = fv_im2col(&g, x, (int)cases[s][4]);
    float *v = rand_floats(n, -1.0f, 1.0f);
    feed f = {x, v, n};
    char what[96];
    snprintf(what, sizeof what, "im2col %lldx%lldx%lldx%lld p=%lld", (long long)shape[0], (long long)shape[1],
             (long long)shape[2], (long long)shape[3], (long long)cases[s][4]);
    check_graph(&g, out, &f, 1, TOL32, TOL16, 0, what);
    free(v);
    fv_graph_free(&g);
  }
}

static void test_embed_tokens(void) {
  static const int prefixes[] = {0, 1, 2, 5};
  const int B = 2, Np = 9, E = 12;
  for (size_t s = 0; s < sizeof prefixes / sizeof prefixes[0]; s++)
    for (int variant = 0; variant < 3; variant++) { /* 0: no pos, 1: pos over all, 2: no_embed_class */
      int P = prefixes[s], no_embed_class = variant == 2;
      fv_graph g;
      fv_graph_init(&g);
      int64_t ps[3] = {B, Np, E}, prs[2] = {P, E}, pos_shape[2] = {no_embed_class ? Np : P + Np, E};
      int x = fv_input(&g, "patches", FV_F32, 3, ps);
      int prefix = P ? rand_weight(&g, "prefix", 2, prs, -1.0f, 1.0f) : -1;
      int pos = variant ? rand_weight(&g, "pos", 2, pos_shape, -1.0f, 1.0f) : -1;
      int out = fv_embed_tokens(&g, x, prefix, pos, no_embed_class);
      size_t n = (size_t)B * Np * E;
      float *v = rand_floats(n, -1.0f, 1.0f);
      feed f = {x, v, n};
      char what[96];
      snprintf(what, sizeof what, "embed_tokens P=%d pos=%d pos_offset=%d", P, pos >= 0, no_embed_class ? P : 0);
      check_graph(&g, out, &f, 1, TOL32, TOL16, 0, what);
      free(v);
      fv_graph_free(&g);
    }
}

static void test_tokens(void) {
  static const int cases[][5] = {
      /* B, T, E, start, count */ {1, 1, 1, 0, 1}, {2, 7, 13, 0, 1}, {2, 197, 48, 1, 196}, {3, 50, 7, 2, 5}};
  for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++)
    for (int mean = 0; mean < 2; mean++) {
      fv_graph g;
      fv_graph_init(&g);
      int64_t xs[3] = {cases[s][0], cases[s][1], cases[s][2]};
      int x = fv_input(&g, "x", FV_F32, 3, xs);
      int out =
          mean ? fv_tokens_mean(&g, x, cases[s][3], cases[s][4]) : fv_tokens_slice(&g, x, cases[s][3], cases[s][4]);
      size_t n = (size_t)(xs[0] * xs[1] * xs[2]);
      float *v = rand_floats(n, -1.0f, 1.0f);
      feed f = {x, v, n};
      char what[96];
      snprintf(what, sizeof what, "tokens %s B=%d T=%d E=%d [%d, +%d)", mean ? "mean" : "slice", cases[s][0],
               cases[s][1], cases[s][2], cases[s][3], cases[s][4]);
      check_graph(&g, out, &f, 1, TOL32, TOL16, 0, what);
      free(v);
      fv_graph_free(&g);
    }
}

/* ---- image preprocessing ------------------------------------------------------------------ */

/* A resample table for in_size -> out_size with `taps` taps: random first/count inside the
 * line, normalised positive weights (like PIL's filters), plus one entry per edge case the
 * reference clamps (count past the end of the line). */
static float *resample_table(int in_size, int out_size, int taps) {
  float *t = calloc((size_t)out_size * (2 + taps), sizeof *t);
  if (!t) abort();
  for (int o = 0; o < out_size; o++) {
    float *e = t + (size_t)o * (2 + taps);
    int span = taps < in_size ? taps : in_size;
    int count = 1 + (int)((fv_test_rand(&g_seed) + 1.0f) * 0.5f * (float)span);
    if (count > span) count = span;
    int first = (int)((fv_test_rand(&g_seed) + 1.0f) * 0.5f * (float)(in_size - count + 1));
    if (first > in_size - count) first = in_size - count;
    if (o == out_size - 1 && in_size > 1) { /* count runs past the end: clamped */
      first = in_size - 1;
      count = span;
    }
    e[0] = (float)first;
    e[1] = (float)count;
    float sum = 0;
    for (int k = 0; k < count; k++) sum += e[2 + k] = 0.1f + (fv_test_rand(&g_seed) + 1.0f);
    for (int k = 0; k < count; k++) e[2 + k] /= sum;
  }
  return t;
}

static void test_resample(void) {
  static const int cases[][6] = {/* H, W, C, axis, out_size, taps */ {1, 1, 1, 0, 1, 1},
                                 {13, 11, 3, 0, 7, 5},
                                 {13, 11, 3, 1, 20, 3},
                                 {40, 9, 4, 0, 17, 7},
                                 {6, 45, 1, 1, 16, 8}};
  for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++)
    for (int variant = 0; variant < 4; variant++) {
      int u8 = variant & 1, round_u8 = variant >> 1;
      int H = cases[s][0], W = cases[s][1], C = cases[s][2], axis = cases[s][3], out_size = cases[s][4],
          taps = cases[s][5];
      fv_graph g;
      fv_graph_init(&g);
      int64_t is[3] = {H, W, C}, ts[1] = {(int64_t)out_size * (2 + taps)};
      int x = fv_input(&g, "image", u8 ? FV_U8 : FV_F32, 3, is);
      float *table = resample_table(axis ? W : H, out_size, taps);
      int tab = fv_weight(&g, "table", 1, ts, table, FV_F32, 1);
      int out = fv_resample(&g, x, tab, axis, out_size, taps, round_u8);
      size_t n = (size_t)H * W * C;
      float *v = rand_floats(n, 0.0f, 255.0f);
      uint8_t *bytes = malloc(n);
      if (!bytes) abort();
      for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)v[i];
      /* F32 images hold integers too (what the first pass of a u8 image resize produces) */
      for (size_t i = 0; i < n; i++) v[i] = (float)bytes[i];
      feed f = {x, u8 ? (const void *)bytes : (const void *)v, n};
      char what[96];
      snprintf(what, sizeof what, "resample %dx%dx%d axis=%d out=%d taps=%d %s round=%d", H, W, C, axis, out_size, taps,
               u8 ? "u8" : "f32", round_u8);
      check_graph(&g, out, &f, 1, TOL32, TOL16, round_u8, what);
      free(v);
      free(bytes);
      free(table);
      fv_graph_free(&g);
    }
}

static void test_crop_normalize(void) {
  static const int cases[][7] = {
      /* H, W, C, top, left, h, w */ {1, 1, 1, 0, 0, 1, 1}, {20, 17, 3, 2, 3, 11, 9}, {9, 9, 4, 0, 1, 9, 8}};
  const float mean[4] = {0.485f, 0.456f, 0.406f, 0.5f}, std[4] = {0.229f, 0.224f, 0.225f, 0.25f};
  for (size_t s = 0; s < sizeof cases / sizeof cases[0]; s++) {
    fv_graph g;
    fv_graph_init(&g);
    int64_t is[3] = {cases[s][0], cases[s][1], cases[s][2]};
    int x = fv_input(&g, "image", FV_F32, 3, is);
    int out = fv_crop_normalize(&g, x, cases[s][3], cases[s][4], cases[s][5], cases[s][6], mean, std);
    size_t n = (size_t)(is[0] * is[1] * is[2]);
    float *v = rand_floats(n, 0.0f, 255.0f);
    feed f = {x, v, n};
    char what[96];
    snprintf(what, sizeof what, "crop_normalize %dx%dx%d at %d,%d size %dx%d", cases[s][0], cases[s][1], cases[s][2],
             cases[s][3], cases[s][4], cases[s][5], cases[s][6]);
    check_graph(&g, out, &f, 1, TOL32, TOL16, 0, what);
    free(v);
    fv_graph_free(&g);
  }
}

/* ---- the planner's refusals and variant choice -------------------------------------------- */

static void test_planner(void) {
  fv_kernel_caps cpu = {.subgroup_size = 8,
                        .is_cpu = 1,
                        .max_shared_bytes = 32768,
                        .max_workgroup_invocations = 1024,
                        .max_workgroup_size = {1024, 1024, 64}};
  fv_kernel_caps gpu = cpu;
  gpu.is_cpu = 0;
  gpu.subgroup_size = 32;
  fv_op_plan plan;
  fv_error err = {{0}};

  /* the variant comes from the capabilities */
  fv_graph g;
  fv_graph_init(&g);
  int64_t as[2] = {4, 8}, ws[2] = {3, 8};
  int a = fv_input(&g, "a", FV_F32, 2, as);
  float wv[24] = {0};
  int w = fv_weight(&g, "w", 2, ws, wv, FV_F32, 1);
  int mm = fv_matmul(&g, a, w, -1, 0);
  CHECK(g.status == FV_OK, "planner graph: %s", g.error.msg);
  unsetenv("FOVEA_PLAN_AS");
  CHECK(fv_plan_node(&cpu, &g, mm, FV_F32, &plan, &err) == FV_OK && strcmp(plan.d[0].kernel, "matmul_cpu") == 0,
        "CPU caps should plan matmul_cpu: %s", err.msg);
  CHECK(plan.d[0].bind[2] == 0, "absent bias binds source 0, got %d", plan.d[0].bind[2]);
  CHECK(fv_plan_node(&gpu, &g, mm, FV_F32, &plan, &err) == FV_OK && strcmp(plan.d[0].kernel, "matmul_tiled") == 0,
        "GPU caps should plan matmul_tiled: %s", err.msg);
  CHECK(fv_plan_node(&gpu, &g, a, FV_F32, &plan, &err) != FV_OK, "an input node has no kernel");
  fv_graph_free(&g);

  /* more elements than uint32 indexing allows: refused with a message, nothing allocated */
  fv_graph_init(&g);
  int64_t big[2] = {1 << 16, (1 << 15) + 1};
  int x = fv_input(&g, "big", FV_F32, 2, big);
  int sm = fv_softmax(&g, x);
  CHECK(g.status == FV_OK, "big graph: %s", g.error.msg);
  err.msg[0] = 0;
  CHECK(fv_plan_node(&gpu, &g, sm, FV_F32, &plan, &err) != FV_OK && strstr(err.msg, "2^31") != NULL,
        "2^31+ elements must be refused, got: %s", err.msg);
  fv_graph_free(&g);

  /* fp16 resample tables are exact only up to index 2048 */
  fv_graph_init(&g);
  int64_t is[3] = {2050, 1, 1}, ts[1] = {3};
  float tv[3] = {2049.0f, 1.0f, 1.0f};
  int im = fv_input(&g, "tall", FV_F32, 3, is);
  int tab = fv_weight(&g, "table", 1, ts, tv, FV_F32, 1);
  int rs = fv_resample(&g, im, tab, 0, 1, 1, 0);
  CHECK(g.status == FV_OK, "resample graph: %s", g.error.msg);
  CHECK(fv_plan_node(&cpu, &g, rs, FV_F32, &plan, &err) == FV_OK, "fp32 resample of 2050 rows: %s", err.msg);
  err.msg[0] = 0;
  CHECK(fv_plan_node(&cpu, &g, rs, FV_F16, &plan, &err) != FV_OK && strstr(err.msg, "2048") != NULL,
        "fp16 resample of 2050 rows must be refused, got: %s", err.msg);
  /* and through the executor, the message reaches the caller */
  fv_exec *ex = NULL;
  fv_exec_options opt = {.storage = FV_F16};
  fv_mark_output(&g, rs);
  err.msg[0] = 0;
  CHECK(fv_exec_new(g_dev, &g, &opt, &ex, &err) != FV_OK && strstr(err.msg, "fp16") != NULL,
        "executor must refuse the fp16 resample, got: %s", err.msg);
  fv_exec_free(ex);
  fv_graph_free(&g);
}

int main(void) {
  g_verbose = getenv("FOVEA_TEST_VERBOSE") != NULL;
  g_quick = getenv("FOVEA_TEST_QUICK") != NULL;
  fv_error err = {{0}};
  if (fv_device_open(NULL, &g_dev, &err)) {
    CHECK(0, "no Vulkan device: %s", err.msg);
    return fv_test_finish();
  }
  printf("device: %s\n", fv_device_get_info(g_dev)->name);
  test_planner();
  test_matmul();
  test_layernorm();
  test_softmax();
  test_attention();
  test_add();
  test_im2col();
  test_embed_tokens();
  test_tokens();
  test_resample();
  test_crop_normalize();
  int validation = fv_device_validation_errors(g_dev);
  CHECK(validation == 0, "the validation layer reported %d messages", validation);
  fv_device_close(g_dev);
  return fv_test_finish();
}
