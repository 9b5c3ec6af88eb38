/* test_engine.c: the engine's own machinery, apart from any kernel's arithmetic:
 * device selection and its errors, the persistent pipeline cache (written, reused, and a
 * corrupt file ignored), the liveness planner (no two live tensors share bytes), graph
 * construction errors, replay of a recorded graph with new inputs, and workgroup counts
 * beyond maxComputeWorkGroupCount[0] (folded into two dimensions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/device.h"
#include "engine/exec.h"
#include "engine/vk_memory.h"

static void test_device_selection(void) {
  fv_error err;
  fv_device *dev = NULL;
  CHECK(fv_device_open("0", &dev, &err) == FV_OK, "device 0: %s", err.msg);
  if (dev) {
    const fv_device_info *info = fv_device_get_info(dev);
    CHECK(info->subgroup_size >= 1 && info->max_storage_buffer_range >= (1u << 20), "implausible limits");
    fv_device_close(dev);
  }
  CHECK(fv_device_open("99", &dev, &err) == FV_ERR && strstr(err.msg, "99"), "index 99 must fail naming it: %s",
        err.msg);
  CHECK(fv_device_open("gpu0", &dev, &err) == FV_ERR && strstr(err.msg, "gpu0"), "a non-index must fail: %s", err.msg);
}

/* A saved cache starts with VkPipelineCacheHeaderVersionOne: header length 32, version 1.
 * (Lavapipe stores only that header: it caches no binaries, so the size says nothing.) */
static int valid_cache_file(const char *path) {
  uint32_t h[2] = {0, 0};
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  int ok = fread(h, 4, 2, f) == 2 && h[0] == 32 && h[1] == 1;
  fclose(f);
  return ok;
}

/* Runs a one-op graph so that a pipeline exists, then closes the device (saving the cache). */
static fv_status touch_pipeline(fv_error *err) {
  fv_device *dev;
  if (fv_device_open(NULL, &dev, err)) return FV_ERR;
  fv_graph g;
  fv_graph_init(&g);
  int64_t shape[1] = {5};
  float a[5] = {1, 2, 3, 4, 5};
  int x = fv_input(&g, "x", FV_F32, 1, shape);
  int y = fv_add(&g, x, x, -1, 1.0f, 2.0f);
  fv_mark_output(&g, y);
  fv_exec *ex = NULL;
  float out[5] = {0};
  fv_status st = fv_exec_new(dev, &g, NULL, &ex, err);
  if (!st) st = fv_exec_write(ex, x, a, 5, err);
  if (!st) st = fv_exec_run(ex, err);
  if (!st) st = fv_exec_read(ex, y, out, 5, err);
  if (!st && out[4] != 15.0f) st = fv_fail(err, "add gave %g, expected 15", out[4]);
  fv_exec_free(ex);
  fv_graph_free(&g);
  if (!st && fv_device_validation_errors(dev))
    st = fv_fail(err, "validation layer reported %d messages", fv_device_validation_errors(dev));
  fv_device_close(dev);
  return st;
}

static void test_pipeline_cache(void) {
  char dir[] = "/tmp/fovea-cache-XXXXXX";
  CHECK(mkdtemp(dir) != NULL, "mkdtemp");
  const char *old = getenv("XDG_CACHE_HOME");
  char *saved = old ? strdup(old) : NULL;
  setenv("XDG_CACHE_HOME", dir, 1);
  fv_error err;
  CHECK(touch_pipeline(&err) == FV_OK, "first run: %s", err.msg);
  char cmd[600], path[512] = "";
  snprintf(cmd, sizeof cmd, "ls %s/fovea/pipelines-*.bin 2>/dev/null | head -1", dir);
  FILE *p = popen(cmd, "r");
  if (p) {
    if (!fgets(path, sizeof path, p)) path[0] = '\0';
    pclose(p);
  }
  path[strcspn(path, "\n")] = '\0';
  CHECK(path[0] && valid_cache_file(path), "no valid pipeline cache written under %s/fovea", dir);
  CHECK(touch_pipeline(&err) == FV_OK, "second run with the cache: %s", err.msg);
  if (path[0]) {
    /* A cache from another device or a corrupt file must be ignored, not trusted. */
    FILE *f = fopen(path, "wb");
    if (f) {
      fputs("this is not a pipeline cache, just 48 bytes of text....", f);
      fclose(f);
    }
    CHECK(touch_pipeline(&err) == FV_OK, "run with a corrupt cache: %s", err.msg);
    CHECK(valid_cache_file(path), "the corrupt cache was not replaced by a valid one");
    remove(path);
  }
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK(system(cmd) == 0, "cleanup");
  if (saved) {
    setenv("XDG_CACHE_HOME", saved, 1);
    free(saved);
  } else {
    unsetenv("XDG_CACHE_HOME");
  }
}

static void test_liveness(void) {
  uint64_t state = 12345;
  for (int trial = 0; trial < 50; trial++) {
    fv_live_range r[40];
    int n = 5 + trial % 35;
    uint64_t sum = 0;
    for (int i = 0; i < n; i++) {
      int a = (int)((fv_test_rand(&state) + 1) * 20), b = (int)((fv_test_rand(&state) + 1) * 20);
      r[i].first = a < b ? a : b;
      r[i].last = a < b ? b : a;
      r[i].bytes = 1 + (uint64_t)((fv_test_rand(&state) + 1) * 5000);
      sum += (r[i].bytes + 255) / 256 * 256;
    }
    uint64_t total = 0;
    fv_error err;
    CHECK(fv_plan_live_ranges(r, n, 256, &total, &err) == FV_OK, "plan failed");
    CHECK(total <= sum, "planned %llu bytes, more than no sharing at all (%llu)", (unsigned long long)total,
          (unsigned long long)sum);
    for (int i = 0; i < n; i++) {
      CHECK(r[i].offset % 256 == 0 && r[i].offset + r[i].bytes <= total, "range %d misplaced", i);
      for (int j = i + 1; j < n; j++) {
        int live_together = !(r[i].last < r[j].first || r[j].last < r[i].first);
        int share = r[i].offset < r[j].offset + r[j].bytes && r[j].offset < r[i].offset + r[i].bytes;
        CHECK(!(live_together && share), "trial %d: ranges %d and %d are live together and overlap", trial, i, j);
      }
    }
  }
}

static void test_graph_errors(void) {
  fv_graph g;
  fv_graph_init(&g);
  int64_t xs[2] = {4, 8}, ws[2] = {3, 7};
  float w[21] = {0};
  int x = fv_input(&g, "x", FV_F32, 2, xs);
  int wn = fv_weight(&g, "w", 2, ws, w, FV_F32, 0);
  CHECK(fv_matmul(&g, x, wn, -1, 0) == -1, "matmul with K mismatch must fail");
  CHECK(g.status == FV_ERR && strstr(g.error.msg, "w"), "error must name the weight: %s", g.error.msg);
  CHECK(fv_softmax(&g, x) == -1, "errors are sticky");
  fv_graph_free(&g);
  fv_graph_init(&g);
  int64_t qs[3] = {1, 5, 3 * 2 * 130};
  int q = fv_input(&g, "qkv", FV_F32, 3, qs);
  CHECK(fv_attention(&g, q, 2, 130, 1.0f) == -1, "head_dim 130 must be refused");
  fv_graph_free(&g);
}

/* The same recorded graph replayed with new inputs gives new, right answers; and an op whose
 * workgroup count exceeds maxComputeWorkGroupCount[0] is folded and still covers every element. */
static void test_replay_and_folding(fv_device *dev) {
  const fv_device_info *info = fv_device_get_info(dev);
  int64_t n = (int64_t)info->max_workgroup_count[0] * 256 + 777; /* > max groups of 256 */
  if ((uint64_t)n * 4 > info->max_storage_buffer_range) n = (int64_t)(info->max_storage_buffer_range / 4) - 3;
  fv_graph g;
  fv_graph_init(&g);
  int64_t shape[1] = {n};
  int a = fv_input(&g, "a", FV_F32, 1, shape), b = fv_input(&g, "b", FV_F32, 1, shape);
  int y = fv_add(&g, a, b, -1, 2.0f, -1.0f);
  fv_mark_output(&g, y);
  fv_exec *ex = NULL;
  fv_error err;
  float *x = malloc((size_t)n * sizeof *x), *z = malloc((size_t)n * sizeof *z), *out = malloc((size_t)n * sizeof *out);
  CHECK(x && z && out, "out of memory");
  CHECK(fv_exec_new(dev, &g, NULL, &ex, &err) == FV_OK, "%s", err.msg);
  for (int round = 0; ex && x && z && out && round < 2; round++) {
    for (int64_t i = 0; i < n; i++) {
      x[i] = (float)(i % 1000) + (float)round;
      z[i] = (float)(i % 7);
    }
    fv_status st = fv_exec_write(ex, a, x, (size_t)n, &err) || fv_exec_write(ex, b, z, (size_t)n, &err) ||
                   fv_exec_run(ex, &err) || fv_exec_read(ex, y, out, (size_t)n, &err);
    CHECK(st == FV_OK, "%s", err.msg);
    int64_t wrong = 0;
    for (int64_t i = 0; i < n; i++) wrong += out[i] != 2.0f * x[i] - z[i];
    CHECK(wrong == 0, "round %d: %lld of %lld elements wrong", round, (long long)wrong, (long long)n);
  }
  fv_exec_free(ex);
  fv_graph_free(&g);
  free(x);
  free(z);
  free(out);
}

int main(void) {
  test_device_selection();
  test_pipeline_cache();
  test_liveness();
  test_graph_errors();
  fv_error err;
  fv_device *dev = NULL;
  CHECK(fv_device_open(NULL, &dev, &err) == FV_OK, "%s", err.msg);
  if (dev) {
    test_replay_and_folding(dev);
    CHECK(fv_device_validation_errors(dev) == 0, "validation layer reported %d messages",
          fv_device_validation_errors(dev));
    fv_device_close(dev);
  }
  return fv_test_finish();
}
