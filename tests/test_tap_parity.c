/* test_tap_parity.c: TAP-ViT models (tests/fixtures/tap/, written by tools/make_tap_fixtures.py
 * from tools/train_vit.py's PyTorch TAP blocks with random weights and BatchNorm running
 * statistics) must give PyTorch's logits through fv_vit_load: on the CPU executor and on the
 * Vulkan device, fp32 storage, within 1e-4 absolute (logits reach about 5), and the TAP scale
 * maps of every TAP block (fv_vit_graph.tap_scales) within 1e-5. fp16 storage is checked
 * within 3e-2 of the largest logit, as test_vit_parity.c does.
 *
 * The fixtures cover a square 7x7 grid (K = 4) and a non-square 7x5 grid (K = 3, temperature
 * 0.7) whose middle block has no TAP (per-block detection). The load errors of
 * shared/design/methods/tap_adl.md 5 are checked on copies of the fixtures with edited
 * config.json files: TAP tensors without a tap section, a tap section without TAP tensors, a
 * num_scales that disagrees with the tensors, and malformed tap sections. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "engine/file.h"
#include "fixture_io.h"
#include "vision/vit.h"

#define FIXTURES "tests/fixtures/tap"

typedef struct expected {
  const float *logits;
  float *scales[FV_VIT_MAX_DEPTH]; /* NULL for blocks without TAP */
  size_t n_scales[FV_VIT_MAX_DEPTH];
} expected;

/* Runs one fixture; returns the max |logit diff| and sets *scale_diff to the worst scale-map diff. */
static double run_fixture(fv_device *dev, fv_vit *vit, fv_dtype storage, const float *input, int batch,
                          const expected *want, double *scale_diff) {
  fv_graph g;
  fv_graph_init(&g);
  fv_error err;
  fv_vit_graph vg;
  fv_exec *ex = NULL;
  fv_exec_options eo = {.storage = storage};
  double diff = INFINITY;
  *scale_diff = INFINITY;
  size_t n_in = (size_t)batch * vit->cfg.in_chans * vit->cfg.img_size[0] * vit->cfg.img_size[1];
  size_t n_out = (size_t)batch * vit->cfg.num_classes;
  float *logits = malloc(n_out * sizeof *logits), *buf = NULL;
  if (!logits || fv_vit_build(vit, &g, batch, &vg, &err)) {
    CHECK(0, "%s: %s", vit->path, err.msg);
    goto done;
  }
  int tap_blocks = 0;
  for (int i = 0; i < vg.depth; i++) {
    CHECK((vg.tap_scales[i] >= 0) == (want->scales[i] != NULL), "%s: block %d %s TAP, PyTorch's %s", vit->path, i,
          vg.tap_scales[i] >= 0 ? "has" : "lacks", want->scales[i] ? "has" : "has not");
    if (vg.tap_scales[i] >= 0) {
      fv_mark_output(&g, vg.tap_scales[i]);
      tap_blocks++;
    }
  }
  if (fv_exec_new(dev, &g, &eo, &ex, &err) || fv_exec_write(ex, vg.input, input, n_in, &err) || fv_exec_run(ex, &err) ||
      fv_exec_read(ex, vg.logits, logits, n_out, &err)) {
    CHECK(0, "%s: %s", vit->path, err.msg);
    goto done;
  }
  diff = fv_test_max_abs_error(logits, want->logits, n_out);
  *scale_diff = 0;
  for (int i = 0; i < vg.depth; i++) {
    if (vg.tap_scales[i] < 0 || !want->scales[i]) continue;
    size_t n = (size_t)fv_node_numel(&g.nodes[vg.tap_scales[i]]);
    CHECK(n == want->n_scales[i], "%s: block %d scale map has %zu values, fixture %zu", vit->path, i, n,
          want->n_scales[i]);
    if (n != want->n_scales[i]) {
      *scale_diff = INFINITY;
      continue;
    }
    free(buf);
    buf = malloc(n * sizeof *buf);
    if (!buf || fv_exec_read(ex, vg.tap_scales[i], buf, n, &err)) {
      CHECK(0, "%s: reading block %d scales: %s", vit->path, i, err.msg);
      *scale_diff = INFINITY;
      continue;
    }
    double d = fv_test_max_abs_error(buf, want->scales[i], n);
    if (d > *scale_diff) *scale_diff = d;
  }
  CHECK(tap_blocks > 0, "%s: no TAP block was built", vit->path);
done:
  fv_exec_free(ex);
  fv_graph_free(&g);
  free(logits);
  free(buf);
  return diff;
}

static void test_fixtures(fv_device *dev) {
  DIR *d = opendir(FIXTURES);
  CHECK(d != NULL, "cannot open %s", FIXTURES);
  int fixtures = 0;
  struct dirent *e;
  while (d && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char dir[512], path[700];
    snprintf(dir, sizeof dir, "%s/%s", FIXTURES, e->d_name);
    fv_test_model_fixture fx;
    if (!fv_test_model_fixture_load(dir, &fx)) continue;
    const fv_vit_config *cfg = &fx.vit.cfg;
    expected want = {.logits = fx.logits};
    for (int i = 0; i < cfg->depth && i < FV_VIT_MAX_DEPTH; i++) {
      snprintf(path, sizeof path, "%s/scales_block%d.bin", dir, i);
      if (access(path, F_OK) == 0) want.scales[i] = fv_test_read_floats(path, &want.n_scales[i]);
    }
    fixtures++;
    double s_cpu, s_gpu, s16;
    double cpu = run_fixture(NULL, &fx.vit, FV_F32, fx.input, fx.batch, &want, &s_cpu);
    double gpu = run_fixture(dev, &fx.vit, FV_F32, fx.input, fx.batch, &want, &s_gpu);
    double gpu16 = run_fixture(dev, &fx.vit, FV_F16, fx.input, fx.batch, &want, &s16);
    double scale = 1;
    for (size_t i = 0; i < fx.n_logits; i++) scale = fmax(scale, fabs(fx.logits[i]));
    printf(
        "%-16s %dx%d grid, K=%d: logits cpu %.2e  vulkan %.2e  vulkan-fp16 %.2e (max |logit| %.2f); scales cpu "
        "%.2e  vulkan %.2e\n",
        e->d_name, cfg->img_size[0] / cfg->patch_size, cfg->img_size[1] / cfg->patch_size, cfg->tap_scales, cpu, gpu,
        gpu16, scale, s_cpu, s_gpu);
    CHECK(cpu <= 1e-4, "%s: CPU executor logits differ from PyTorch by %g", dir, cpu);
    CHECK(gpu <= 1e-4, "%s: Vulkan logits differ from PyTorch by %g", dir, gpu);
    CHECK(s_cpu <= 1e-5, "%s: CPU executor TAP scales differ from PyTorch by %g", dir, s_cpu);
    CHECK(s_gpu <= 1e-5, "%s: Vulkan TAP scales differ from PyTorch by %g", dir, s_gpu);
    CHECK(gpu16 <= 3e-2 * scale, "%s: Vulkan fp16 logits differ from PyTorch by %g", dir, gpu16);
    for (int i = 0; i < FV_VIT_MAX_DEPTH; i++) free(want.scales[i]);
    fv_test_model_fixture_free(&fx);
  }
  if (d) closedir(d);
  CHECK(fixtures >= 2, "expected at least 2 TAP model fixtures in %s, found %d", FIXTURES, fixtures);
}

/* ---- load errors ------------------------------------------------------------------------- */

static char g_tmp[256];

/* A model folder in g_tmp/<name>: `config` as config.json and a link to `weights`. */
static const char *model_dir(const char *name, const char *config, const char *weights) {
  static char dir[512];
  char path[700], target[1024];
  snprintf(dir, sizeof dir, "%s/%s", g_tmp, name);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/config.json", dir);
  FILE *f = fopen(path, "w");
  if (!f) abort();
  fputs(config, f);
  fclose(f);
  snprintf(path, sizeof path, "%s/model.safetensors", dir);
  if (!realpath(weights, target)) abort();
  unlink(path);
  if (symlink(target, path)) abort();
  return dir;
}

static void expect_load_error(const char *dir, const char *needle, const char *what) {
  fv_vit vit;
  fv_error err = {{0}};
  fv_status st = fv_vit_load(dir, &vit, &err);
  CHECK(st == FV_ERR && strstr(err.msg, needle), "%s: expected an error with '%s', got %s", what, needle,
        st ? err.msg : "success");
  if (!st) fv_vit_free(&vit);
}

#define TAP_ARGS                                                                                             \
  "\"model_args\": {\"img_size\": 28, \"patch_size\": 4, \"in_chans\": 1, \"embed_dim\": 32, \"depth\": 2, " \
  "\"num_heads\": 2, \"mlp_ratio\": 4.0, \"qkv_bias\": true, \"class_token\": true, \"global_pool\": \"token\"}"

static void test_errors(void) {
  const char *tap_weights = FIXTURES "/tap_7x7/model.safetensors";
  expect_load_error(model_dir("no_section", "{\"num_classes\": 10, " TAP_ARGS "}", tap_weights),
                    "weights contain TAP tensors but config has no tap section", "TAP tensors, no tap section");
  expect_load_error(
      model_dir("k_mismatch", "{\"num_classes\": 10, " TAP_ARGS ", \"tap\": {\"num_scales\": 3}}", tap_weights),
      "tap.num_scales is 3", "num_scales 3 against K = 4 tensors");
  expect_load_error(
      model_dir("bad_temp", "{\"num_classes\": 10, " TAP_ARGS ", \"tap\": {\"num_scales\": 4, \"temperature\": 0}}",
                tap_weights),
      "\"temperature\" is 0", "temperature 0");
  expect_load_error(
      model_dir("no_k", "{\"num_classes\": 10, " TAP_ARGS ", \"tap\": {\"temperature\": 1}}", tap_weights),
      "no \"num_scales\"", "tap without num_scales");
  expect_load_error(
      model_dir("big_k", "{\"num_classes\": 10, " TAP_ARGS ", \"tap\": {\"num_scales\": 17}}", tap_weights),
      "\"num_scales\" is 17", "num_scales 17");
  expect_load_error(
      model_dir("blocks", "{\"num_classes\": 10, " TAP_ARGS ", \"tap\": {\"num_scales\": 4, \"blocks\": [0]}}",
                tap_weights),
      "tap \"blocks\" is not supported", "tap.blocks list");
  expect_load_error(model_dir("not_object", "{\"num_classes\": 10, " TAP_ARGS ", \"tap\": 4}", tap_weights),
                    "\"tap\" is a number", "tap not an object");
  /* A plain ViT (the bundled model) with a tap section added: no block has the tensors. */
  char *plain = NULL;
  size_t len = 0;
  fv_error rerr;
  CHECK(fv_read_file("assets/models/fmnist-vit/config.json", (size_t)1 << 20, &plain, &len, &rerr) == FV_OK,
        "reading the bundled config: %s", rerr.msg);
  char *end = plain ? strrchr(plain, '}') : NULL;
  if (end) {
    *end = '\0';
    char *cfg = malloc(len + 64);
    if (!cfg) abort();
    snprintf(cfg, len + 64, "%s, \"tap\": {\"num_scales\": 4}}", plain);
    expect_load_error(model_dir("no_tensors", cfg, "assets/models/fmnist-vit/model.safetensors"),
                      "has a tap section (num_scales 4) but no block has TAP tensors", "tap section, no tensors");
    free(cfg);
  }
  free(plain);
  /* The correct section loads. */
  fv_vit vit;
  fv_error err = {{0}};
  const char *ok = model_dir("ok",
                             "{\"num_classes\": 10, " TAP_ARGS
                             ", \"tap\": {\"num_scales\": 4, \"blocks\": "
                             "\"all\"}}",
                             tap_weights);
  CHECK(fv_vit_load(ok, &vit, &err) == FV_OK && vit.cfg.tap_scales == 4 && vit.cfg.tap_temperature == 1.0f,
        "tap section with blocks \"all\": %s", err.msg);
  fv_vit_free(&vit);
}

int main(void) {
  fv_error err;
  fv_device *dev = NULL;
  if (fv_device_open(NULL, &dev, &err)) {
    fprintf(stderr, "no Vulkan device: %s\n", err.msg);
    return 1;
  }
  snprintf(g_tmp, sizeof g_tmp, "%s/fovea-tap-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  CHECK(mkdtemp(g_tmp) != NULL, "mkdtemp %s", g_tmp);
  test_fixtures(dev);
  test_errors();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_tmp);
  CHECK(system(cmd) == 0, "removing %s", g_tmp);
  CHECK(fv_device_validation_errors(dev) == 0, "validation layer reported %d messages",
        fv_device_validation_errors(dev));
  fv_device_close(dev);
  return fv_test_finish();
}
