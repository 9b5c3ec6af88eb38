/* test_attention_probe.c: FV_OP_ATTENTION_PROBE and vision/attention_probe against independent values.
 *
 * 1. The kernel against its C reference (engine/ref/ref_attention_probe.c) on the Vulkan device, every
 *    mode, odd sizes (T = 1 + 2x3 .. 10x25, heads 1..3, head dims 1..33, with and without prefix
 *    tokens, top-k of 1..3), fp32 (2e-5 of the largest value) and fp16 storage (3e-3).
 * 2. The op on tests/fixtures/attention's numpy case (2 prefix tokens, a 3x5 grid) on the CPU executor
 *    and on Vulkan, 1e-5 absolute.
 * 3. fv_attention_analyze on the fixture model (tools/make_attention_fixtures.py: PyTorch attention
 *    maps, numpy statistics) on both executors: per-row statistics, class and mean rows, the head mean M,
 *    ADL diversity per layer and per head, zeroed fractions and the rollout, 1e-4 absolute.
 * 4. The analytic cases of tap_adl.md 7 (one-hot rows on one key: diversity 0; on a permutation: 1;
 *    uniform rows: all zeroed), the rollout of identity attention, and the planner's refusal of rows
 *    longer than shared memory holds.
 * FOVEA_TEST_QUICK=1 keeps the first two kernel shapes only (sanitizer pass). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "engine/file.h"
#include "engine/graph.h"
#include "engine/ops/plan.h"
#include "vision/attention_probe.h"
#include "vision/image.h"

#define FIX "tests/fixtures/attention"

static fv_device *g_dev;
static uint64_t g_seed = 0x9E3779B97F4A7C15ull;

/* Builds ROWS(-1) -> STATS(rows), STATS without rows, MEAN, ROWS(query) on qkv; returns node ids. */
typedef struct probe_graph {
  fv_graph g;
  int qkv, nodes[5];
} probe_graph;

static const char *node_names[5] = {"rows(mean)", "stats(adl)", "stats", "mean", "rows(query)"};

static void build_probe(probe_graph *pg, int B, int T, int H, int D, int P, int gh, int gw, float scale, int query,
                        float th) {
  fv_graph_init(&pg->g);
  int64_t qs[3] = {B, T, 3LL * H * D};
  pg->qkv = fv_input(&pg->g, "qkv", FV_F32, 3, qs);
  int *n = pg->nodes;
  n[0] = fv_attention_probe(&pg->g, pg->qkv, FV_PROBE_ROWS, H, D, scale, P, gh, gw, -1, -1, th);
  n[1] = fv_attention_probe(&pg->g, pg->qkv, FV_PROBE_STATS, H, D, scale, P, gh, gw, 0, n[0], th);
  n[2] = fv_attention_probe(&pg->g, pg->qkv, FV_PROBE_STATS, H, D, scale, P, gh, gw, 0, -1, th);
  n[3] = fv_attention_probe(&pg->g, pg->qkv, FV_PROBE_MEAN, H, D, scale, P, gh, gw, 0, -1, th);
  n[4] = fv_attention_probe(&pg->g, pg->qkv, FV_PROBE_ROWS, H, D, scale, P, gh, gw, query, -1, th);
  for (int k = 0; k < 5; k++) fv_mark_output(&pg->g, n[k]);
}

/* Runs pg on dev (NULL: CPU) and returns the five outputs, concatenated in node order. */
static float *run_probe(fv_device *dev, probe_graph *pg, fv_dtype storage, const float *qkv, size_t *total) {
  fv_error err = {{0}};
  fv_exec_options opt = {.storage = storage};
  fv_exec *ex = NULL;
  size_t n = 0;
  for (int k = 0; k < 5; k++) n += (size_t)fv_node_numel(&pg->g.nodes[pg->nodes[k]]);
  float *out = malloc(n * sizeof *out);
  fv_status st = fv_exec_new(dev, &pg->g, &opt, &ex, &err);
  if (!st) st = fv_exec_write(ex, pg->qkv, qkv, (size_t)fv_node_numel(&pg->g.nodes[pg->qkv]), &err);
  if (!st) st = fv_exec_run(ex, &err);
  size_t off = 0;
  for (int k = 0; !st && k < 5; k++) {
    size_t c = (size_t)fv_node_numel(&pg->g.nodes[pg->nodes[k]]);
    st = fv_exec_read(ex, pg->nodes[k], out + off, c, &err);
    off += c;
  }
  fv_exec_free(ex);
  CHECK(!st, "%s executor: %s", dev ? "Vulkan" : "CPU", err.msg);
  if (st) {
    free(out);
    return NULL;
  }
  *total = n;
  return out;
}

/* ---- 1: kernel vs C reference ------------------------------------------------------------------ */

static void test_kernel(int quick) {
  /* B, H, D, P, gh, gw, query */
  static const int cases[][7] = {{1, 1, 1, 1, 2, 3, 0},    {2, 2, 5, 2, 3, 5, 16},   {1, 3, 7, 1, 7, 7, 0},
                                 {1, 3, 13, 1, 10, 10, 5}, {1, 2, 33, 1, 14, 14, 0}, {1, 1, 3, 0, 10, 25, 249}};
  int n_cases = quick ? 2 : (int)(sizeof cases / sizeof cases[0]);
  for (int c = 0; c < n_cases; c++) {
    const int B = cases[c][0], H = cases[c][1], D = cases[c][2], P = cases[c][3], gh = cases[c][4], gw = cases[c][5],
              q = cases[c][6];
    const int T = P + gh * gw;
    probe_graph pg;
    build_probe(&pg, B, T, H, D, P, gh, gw, 2.5f / sqrtf((float)D), q, 2.0f);
    CHECK(pg.g.status == FV_OK, "building the probe graph: %s", pg.g.error.msg);
    size_t nq = (size_t)B * T * 3 * H * D;
    float *qkv = malloc(nq * sizeof *qkv);
    for (size_t i = 0; i < nq; i++) qkv[i] = 1.5f * fv_test_rand(&g_seed);
    static const fv_dtype storages[2] = {FV_F32, FV_F16};
    for (int s = 0; s < 2; s++) {
      size_t n1 = 0, n2 = 0;
      float *want = run_probe(NULL, &pg, storages[s], qkv, &n1);
      float *got = run_probe(g_dev, &pg, storages[s], qkv, &n2);
      if (want && got) {
        size_t off = 0;
        for (int k = 0; k < 5; k++) {
          size_t cnt = (size_t)fv_node_numel(&pg.g.nodes[pg.nodes[k]]);
          double e = fv_test_rel_error(got + off, want + off, cnt), tol = s == 0 ? 2e-5 : 3e-3;
          CHECK(e <= tol, "probe %s B=%d T=%d H=%d D=%d P=%d (%s): error %.3g above %.3g", node_names[k], B, T, H, D, P,
                fv_dtype_name(storages[s]), e, tol);
          off += cnt;
        }
      }
      free(want);
      free(got);
    }
    free(qkv);
    fv_graph_free(&pg.g);
  }
}

/* ---- fixture helpers ---------------------------------------------------------------------------- */

static cJSON *g_fix;

static double *json_doubles(const cJSON *arr, size_t want, const char *what) {
  size_t n = cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0;
  CHECK(n == want, "fixture %s: %zu values, expected %zu", what, n, want);
  if (n != want) return NULL;
  double *v = malloc((n ? n : 1) * sizeof *v);
  size_t i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, arr) v[i++] = it->valuedouble;
  return v;
}

static double max_abs_diff(const float *got, const double *want, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    if (isnan(d)) return INFINITY;
    if (d > m) m = d;
  }
  return m;
}

static void compare_json(const float *got, const cJSON *arr, size_t n, double tol, const char *what) {
  double *want = json_doubles(arr, n, what);
  if (!want) return;
  double e = max_abs_diff(got, want, n);
  CHECK(e <= tol, "%s: max abs difference %.3g above %.3g", what, e, tol);
  free(want);
}

static double num(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k)->valuedouble; }

/* ---- 2: op against numpy --------------------------------------------------------------------- */

static void test_op_fixture(void) {
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(g_fix, "op_case");
  CHECK(c != NULL, "fixture has no op_case");
  if (!c) return;
  const int B = (int)num(c, "B"), P = (int)num(c, "P"), gh = (int)num(c, "grid_h"), gw = (int)num(c, "grid_w");
  const int H = (int)num(c, "H"), D = (int)num(c, "D"), T = P + gh * gw;
  probe_graph pg;
  build_probe(&pg, B, T, H, D, P, gh, gw, (float)num(c, "scale"), 1, (float)num(c, "threshold"));
  size_t nq = (size_t)B * T * 3 * H * D;
  double *qd = json_doubles(cJSON_GetObjectItemCaseSensitive(c, "qkv"), nq, "op_case.qkv");
  float *qkv = malloc(nq * sizeof *qkv);
  for (size_t i = 0; qd && i < nq; i++) qkv[i] = (float)qd[i];
  for (int d = 0; qd && d < 2; d++) {
    size_t n = 0;
    float *out = run_probe(d ? g_dev : NULL, &pg, FV_F32, qkv, &n);
    if (!out) continue;
    const char *ex = d ? "Vulkan" : "CPU";
    char what[96];
    const float *o = out;
    size_t sz[5];
    for (int k = 0; k < 5; k++) sz[k] = (size_t)fv_node_numel(&pg.g.nodes[pg.nodes[k]]);
    snprintf(what, sizeof what, "op case mean rows (%s)", ex);
    compare_json(o, cJSON_GetObjectItemCaseSensitive(c, "mean_rows"), sz[0], 1e-5, what);
    o += sz[0];
    snprintf(what, sizeof what, "op case stats (%s)", ex);
    compare_json(o, cJSON_GetObjectItemCaseSensitive(c, "stats"), sz[1], 1e-5, what);
    o += sz[1] + sz[2];
    snprintf(what, sizeof what, "op case head mean M (%s)", ex);
    compare_json(o, cJSON_GetObjectItemCaseSensitive(c, "M"), sz[3], 1e-5, what);
    o += sz[3];
    snprintf(what, sizeof what, "op case rows of query 1 (%s)", ex);
    compare_json(o, cJSON_GetObjectItemCaseSensitive(c, "cls_rows"), sz[4], 1e-5, what);
    free(out);
  }
  free(qd);
  free(qkv);
  fv_graph_free(&pg.g);
}

/* ---- 3: the model pipeline against PyTorch ------------------------------------------------------ */

static void test_model_fixture(void) {
  fv_image img = {0};
  fv_error err = {{0}};
  CHECK(!fv_image_load(FIX "/input.png", 1, &img, &err), "%s", err.msg);
  const int T = (int)num(g_fix, "tokens"), H = (int)num(g_fix, "heads"), L = (int)num(g_fix, "depth");
  const size_t TT = (size_t)T * T;
  float *Mw = malloc((size_t)L * TT * sizeof *Mw);
  FILE *f = fopen(FIX "/expected_M.bin", "rb");
  CHECK(f && fread(Mw, sizeof *Mw, (size_t)L * TT, f) == (size_t)L * TT, "reading %s/expected_M.bin", FIX);
  if (f) fclose(f);
  const cJSON *layers = cJSON_GetObjectItemCaseSensitive(g_fix, "layers");
  fv_vit vit;
  memset(&vit, 0, sizeof vit);
  CHECK(!fv_vit_load(FIX "/model", &vit, &err), "%s", err.msg);
  for (int d = 0; img.pixels && vit.path[0] && d < 2; d++) {
    const char *ex = d ? "Vulkan" : "CPU";
    fv_attention_result r;
    fv_attention_options opt = {.threshold = (float)num(g_fix, "threshold")};
    if (fv_attention_analyze(&vit, d ? g_dev : NULL, &img, &opt, &r, &err)) {
      CHECK(0, "analyze (%s): %s", ex, err.msg);
      continue;
    }
    CHECK(r.depth == L && r.heads == H && r.tokens == T && r.n_prefix == 1 && r.has_class_token && r.patch == 2,
          "result shape (%s): depth %d heads %d tokens %d prefix %d patch %d", ex, r.depth, r.heads, r.tokens,
          r.n_prefix, r.patch);
    char what[128];
    for (int l = 0; l < L && r.depth == L && r.tokens == T && r.heads == H; l++) {
      const fv_attention_layer *ly = &r.layers[l];
      const cJSON *e = cJSON_GetArrayItem(layers, l);
#define CMP(field, arr, n)                                       \
  snprintf(what, sizeof what, "layer %d %s (%s)", l, field, ex); \
  compare_json(arr, cJSON_GetObjectItemCaseSensitive(e, field), n, 1e-4, what)
      CMP("stats", ly->stats, (size_t)H * T * FV_PROBE_NSTATS);
      CMP("cls_rows", ly->cls_rows, (size_t)H * T);
      CMP("mean_rows", ly->mean_rows, (size_t)H * T);
      CMP("head_diversity", ly->head_diversity, (size_t)H);
      CMP("head_zeroed", ly->head_zeroed, (size_t)H);
#undef CMP
      double dw = num(e, "diversity"), zw = num(e, "zeroed");
      CHECK(fabs(ly->diversity - dw) <= 1e-4, "layer %d diversity (%s): %.6f, expected %.6f", l, ex,
            (double)ly->diversity, dw);
      CHECK(fabs(ly->zeroed - zw) <= 1e-4, "layer %d zeroed (%s): %.6f, expected %.6f", l, ex, (double)ly->zeroed, zw);
      double em = fv_test_max_abs_error(ly->M, Mw + (size_t)l * TT, TT);
      CHECK(em <= 1e-4, "layer %d head mean M (%s): max abs difference %.3g", l, ex, em);
    }
    snprintf(what, sizeof what, "rollout (%s)", ex);
    if (r.tokens == T)
      compare_json(r.rollout, cJSON_GetObjectItemCaseSensitive(g_fix, "rollout"), (size_t)T - 1, 1e-4, what);
    fv_attention_result_free(&r);
  }
  free(Mw);
  fv_vit_free(&vit);
  fv_image_free(&img);
}

/* TAP models: scale maps come out for the TAP blocks only (tests/fixtures/tap/tap_7x5_mixed: blocks 0
 * and 2, K = 3, a 7x5 grid), as distributions over the scales, equal on both executors. Their values
 * against PyTorch are test_tap_parity's job. */
static void test_tap_maps(void) {
  fv_vit vit;
  memset(&vit, 0, sizeof vit);
  fv_error err = {{0}};
  fv_image img = {0};
  if (fv_vit_load("tests/fixtures/tap/tap_7x5_mixed", &vit, &err) ||
      fv_image_load("assets/samples/fmnist-0001-pullover.png", 1, &img, &err)) {
    CHECK(0, "TAP fixture: %s", err.msg);
    fv_vit_free(&vit);
    return;
  }
  fv_attention_result r[2];
  fv_attention_options opt = {.threshold = 2.0f};
  int got[2];
  for (int d = 0; d < 2; d++) {
    got[d] = !fv_attention_analyze(&vit, d ? g_dev : NULL, &img, &opt, &r[d], &err);
    CHECK(got[d], "TAP analyze (%s): %s", d ? "Vulkan" : "CPU", err.msg);
  }
  int ok = got[0] && got[1];
  if (ok) {
    CHECK(r[0].tap_k == 3 && r[0].grid_h == 7 && r[0].grid_w == 5 && r[0].depth == 3, "TAP result: K %d grid %dx%d",
          r[0].tap_k, r[0].grid_h, r[0].grid_w);
    CHECK(r[0].layers[0].tap && !r[0].layers[1].tap && r[0].layers[2].tap, "TAP maps on blocks 0 and 2 only");
    for (int l = 0; l < 3 && r[0].tap_k == 3 && r[0].depth == 3; l += 2) {
      if (!r[0].layers[l].tap || !r[1].layers[l].tap) continue;
      double worst = 0;
      for (int j = 0; j < 35; j++) {
        double s = 0;
        for (int k = 0; k < 3; k++) s += r[0].layers[l].tap[j * 3 + k];
        worst = fmax(worst, fabs(s - 1));
      }
      CHECK(worst < 1e-5, "layer %d TAP weights sum to 1 per token: off by %g", l, worst);
      double e = fv_test_max_abs_error(r[1].layers[l].tap, r[0].layers[l].tap, 35 * 3);
      CHECK(e < 1e-5, "layer %d TAP maps Vulkan vs CPU: %g", l, e);
    }
  }
  for (int d = 0; d < 2; d++)
    if (got[d]) fv_attention_result_free(&r[d]);
  fv_image_free(&img);
  fv_vit_free(&vit);
}

/* ---- 4: analytic cases ------------------------------------------------------------------------- */

static void test_analytic(void) {
  enum { N = 9 };
  float A[N * N];
  float zeroed = -1;
  memset(A, 0, sizeof A);
  for (int i = 0; i < N; i++) A[i * N + 4] = 1; /* every query on key 4 */
  float d = fv_attention_diversity(A, N, 2.0f, &zeroed);
  CHECK(fabsf(d) < 1e-6f && zeroed == 0, "one-hot on one key: diversity %g (0), zeroed %g (0)", (double)d,
        (double)zeroed);
  memset(A, 0, sizeof A);
  for (int i = 0; i < N; i++) A[i * N + (i * 4 + 1) % N] = 1; /* a permutation of the keys */
  d = fv_attention_diversity(A, N, 2.0f, &zeroed);
  CHECK(fabsf(d - 1) < 1e-6f && zeroed == 0, "one-hot on a permutation: diversity %g (1), zeroed %g (0)", (double)d,
        (double)zeroed);
  for (int k = 0; k < N * N; k++) A[k] = 1.0f / N;
  d = fv_attention_diversity(A, N, 2.0f, &zeroed);
  CHECK(fabsf(d - 1) < 1e-6f && zeroed == 1, "uniform rows: diversity %g (1), zeroed %g (1)", (double)d,
        (double)zeroed);
  /* Rollout of identity attention is the identity; of "all on key 0" it is all on key 0. */
  float Ms[2 * N * N], R[N * N];
  memset(Ms, 0, sizeof Ms);
  for (int i = 0; i < N; i++) Ms[i * N + i] = Ms[N * N + i * N + i] = 1;
  fv_error err = {{0}};
  CHECK(!fv_attention_rollout(Ms, 2, N, R, &err), "%s", err.msg);
  double e = 0;
  for (int k = 0; k < N * N; k++) e = fmax(e, fabs(R[k] - (k % (N + 1) == 0 ? 1.0 : 0.0)));
  CHECK(e < 1e-6, "rollout of identity attention: off by %g", e);
  memset(Ms, 0, sizeof Ms);
  for (int i = 0; i < N; i++) Ms[i * N] = Ms[N * N + i * N] = 1;
  CHECK(!fv_attention_rollout(Ms, 2, N, R, &err), "%s", err.msg);
  /* Ahat = 0.5 e0 + 0.5 I: two layers give R[i][0] = 0.75 and R[i][i] = 0.25 for i > 0. */
  CHECK(fabsf(R[N * 3] - 0.75f) < 1e-6f && fabsf(R[N * 3 + 3] - 0.25f) < 1e-6f && fabsf(R[0] - 1) < 1e-6f,
        "rollout of attention on key 0: R[3][0] = %g (0.75), R[3][3] = %g (0.25), R[0][0] = %g (1)", (double)R[N * 3],
        (double)R[N * 3 + 3], (double)R[0]);
}

static void test_planner_limits(void) {
  fv_graph g;
  fv_graph_init(&g);
  int64_t qs[3] = {1, 5001, 6};
  int q = fv_input(&g, "qkv", FV_F32, 3, qs);
  int m = fv_attention_probe(&g, q, FV_PROBE_MEAN, 1, 2, 1.0f, 1, 50, 100, 0, -1, 2.0f);
  fv_kernel_caps caps = {.subgroup_size = 8,
                         .max_shared_bytes = 32768,
                         .max_workgroup_invocations = 1024,
                         .max_workgroup_size = {1024, 1024, 64}};
  fv_op_plan plan;
  fv_error err = {{0}};
  CHECK(fv_plan_node(&caps, &g, m, FV_F32, &plan, &err) != FV_OK && strstr(err.msg, "shared memory"),
        "5001 tokens on 32 KiB of shared memory should be refused, got '%s'", err.msg);
  /* Bad token split and query are refused when the graph is built. */
  CHECK(fv_attention_probe(&g, q, FV_PROBE_STATS, 1, 2, 1.0f, 2, 50, 100, 0, -1, 2.0f) < 0 &&
            strstr(g.error.msg, "n_prefix"),
        "a prefix + grid that does not match T must fail: '%s'", g.error.msg);
  fv_graph_free(&g);
}

/* One analyzer over several images (the graph recorded once, as `fovea attention` uses it on a set)
 * gives, image by image, exactly what a fresh fv_attention_analyze gives: no state leaks from one
 * image into the next. Two different samples, then the first again, on both executors. */
static void test_analyzer_reuse(void) {
  fv_vit vit;
  memset(&vit, 0, sizeof vit);
  fv_error err = {{0}};
  fv_image img[2] = {{0}, {0}};
  if (fv_vit_load("tests/fixtures/tap/tap_7x5_mixed", &vit, &err) ||
      fv_image_load("assets/samples/fmnist-0001-pullover.png", 1, &img[0], &err) ||
      fv_image_load("assets/samples/fmnist-0002-trouser.png", 1, &img[1], &err)) {
    CHECK(0, "analyzer reuse: %s", err.msg);
    goto done;
  }
  fv_attention_options opt = {.threshold = 2.0f};
  for (int d = 0; d < 2; d++) {
    const char *ex = d ? "Vulkan" : "CPU";
    fv_attention_analyzer *an = NULL;
    if (fv_attention_analyzer_open(&vit, d ? g_dev : NULL, &opt, &an, &err)) {
      CHECK(0, "analyzer open (%s): %s", ex, err.msg);
      continue;
    }
    const int order[3] = {0, 1, 0};
    for (int k = 0; k < 3; k++) {
      fv_attention_result a, b;
      int ok_a = !fv_attention_analyzer_run(an, &img[order[k]], &a, &err);
      CHECK(ok_a, "analyzer run %d (%s): %s", k, ex, err.msg);
      int ok_b = !fv_attention_analyze(&vit, d ? g_dev : NULL, &img[order[k]], &opt, &b, &err);
      CHECK(ok_b, "analyze (%s): %s", ex, err.msg);
      if (ok_a && ok_b) {
        const size_t T = (size_t)a.tokens, S = (size_t)a.heads * T * FV_PROBE_NSTATS;
        int same = a.top_class == b.top_class && memcmp(a.rollout, b.rollout, (T - 1) * sizeof(float)) == 0;
        for (int l = 0; l < a.depth; l++) {
          same = same && memcmp(a.layers[l].stats, b.layers[l].stats, S * sizeof(float)) == 0;
          same = same && memcmp(a.layers[l].M, b.layers[l].M, T * T * sizeof(float)) == 0;
          same = same && a.layers[l].diversity == b.layers[l].diversity;
          same = same && (!a.layers[l].tap || memcmp(a.layers[l].tap, b.layers[l].tap, 35 * 3 * sizeof(float)) == 0);
        }
        CHECK(same, "image %d, run %d on one analyzer (%s) differs from a fresh analysis", order[k], k, ex);
      }
      if (ok_a) fv_attention_result_free(&a);
      if (ok_b) fv_attention_result_free(&b);
    }
    fv_attention_analyzer_close(an);
  }
done:
  fv_image_free(&img[0]);
  fv_image_free(&img[1]);
  fv_vit_free(&vit);
}

int main(void) {
  int quick = getenv("FOVEA_TEST_QUICK") != NULL;
  fv_error err = {{0}};
  test_analytic();
  test_planner_limits();
  char *text = NULL;
  size_t len = 0;
  if (fv_read_file(FIX "/expected.json", 64u << 20, &text, &len, &err) || !(g_fix = cJSON_Parse(text))) {
    CHECK(0, "reading %s/expected.json: %s", FIX, err.msg);
    free(text);
    return fv_test_finish();
  }
  free(text);
  if (fv_device_open(NULL, &g_dev, &err)) {
    CHECK(0, "no Vulkan device: %s", err.msg);
    cJSON_Delete(g_fix);
    return fv_test_finish();
  }
  test_kernel(quick);
  test_op_fixture();
  test_model_fixture();
  test_tap_maps();
  test_analyzer_reuse();
  int validation = fv_device_validation_errors(g_dev);
  CHECK(validation == 0, "the validation layer reported %d messages", validation);
  fv_device_close(g_dev);
  cJSON_Delete(g_fix);
  return fv_test_finish();
}
