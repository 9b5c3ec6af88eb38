/* graph_runner.h: run a graph once on one executor, for the op tests.
 *
 * The op tests (test_ops, test_image_ops, test_tap) build small graphs and compare the
 * Vulkan executor with the CPU executor; this is the one place that feeds, runs and reads. */
#ifndef FV_TEST_GRAPH_RUNNER_H
#define FV_TEST_GRAPH_RUNNER_H

#include "engine/exec.h"
#include "engine/graph.h"

typedef struct feed {
  int node;
  const void *data; /* floats for F32 inputs, bytes for U8, uint32 words for U32 keys */
  size_t count;
} feed;

/* Runs g on dev (NULL: CPU executor) and reads node out into dst. */
static inline fv_status run_graph(fv_device *dev, const fv_graph *g, fv_dtype storage, const feed *feeds, int n_feeds,
                                  int out, float *dst, fv_error *err) {
  fv_exec_options opt = {.storage = storage};
  fv_exec *ex = NULL;
  fv_status st = fv_exec_new(dev, g, &opt, &ex, err);
  for (int i = 0; !st && i < n_feeds; i++) st = fv_exec_write(ex, feeds[i].node, feeds[i].data, feeds[i].count, err);
  if (!st) st = fv_exec_run(ex, err);
  if (!st) st = fv_exec_read(ex, out, dst, (size_t)fv_node_numel(&g->nodes[out]), err);
  fv_exec_free(ex);
  return st;
}

#endif
