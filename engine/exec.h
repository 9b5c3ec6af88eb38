/* exec.h: running a graph on a device.
 *
 * An executor takes a built graph, plans its memory once, uploads its weights once and,
 * on a Vulkan device, records its command buffers once; every run after that only writes
 * the inputs, replays and reads the outputs. Two backends share this interface:
 * the Vulkan executor (vk_exec.c) and the CPU executor (cpu_exec.c), which runs the plain
 * C reference of every op (OpenBLAS for matmul) and is the tests' oracle. */
#ifndef FV_EXEC_H
#define FV_EXEC_H

#include <stddef.h>

#include "graph.h"

typedef struct fv_device fv_device; /* device.h; NULL means the CPU executor */
typedef struct fv_exec fv_exec;

typedef struct fv_exec_options {
  fv_dtype storage;   /* FV_F32 or FV_F16: how activations and weights are stored on the device */
  int profile;        /* record per-node GPU timestamps (Vulkan only) */
  double chunk_flops; /* Vulkan: estimated work per submission; 0 = default (watchdog-safe) */
} fv_exec_options;

/* The graph must outlive the executor (weights may be read lazily). */
fv_status fv_exec_new(fv_device *dev, const fv_graph *g, const fv_exec_options *opt, fv_exec **out, fv_error *err);
void fv_exec_free(fv_exec *ex);

/* Writes an INPUT node: `count` elements, float for F32 inputs, bytes for U8 inputs, uint32_t
 * words for U32 inputs (per-image random keys). */
fv_status fv_exec_write(fv_exec *ex, int node, const void *data, size_t count, fv_error *err);
fv_status fv_exec_run(fv_exec *ex, fv_error *err);
/* Reads an output node (fv_mark_output) as fp32; count must equal its element count. */
fv_status fv_exec_read(fv_exec *ex, int node, float *dst, size_t count, fv_error *err);

/* Per-(op, kernel) GPU time of the last run, from timestamp queries (profile option). */
typedef struct fv_profile_entry {
  const char *op;     /* op name (fv_op_name) */
  const char *kernel; /* the node's first kernel, e.g. "matmul_reg" */
  double ms;          /* total milliseconds over all nodes of this op in the last run */
  int nodes;          /* how many nodes contributed */
} fv_profile_entry;
/* Fills up to cap entries, returns how many; 0 when profiling is off or on the CPU. */
int fv_exec_profile(fv_exec *ex, fv_profile_entry *entries, int cap);

/* Backends (called through the functions above). */
typedef struct fv_exec_backend {
  void (*free)(fv_exec *ex);
  fv_status (*write)(fv_exec *ex, int node, const void *data, size_t count, fv_error *err);
  fv_status (*run)(fv_exec *ex, fv_error *err);
  fv_status (*read)(fv_exec *ex, int node, float *dst, size_t count, fv_error *err);
  int (*profile)(fv_exec *ex, fv_profile_entry *entries, int cap);
} fv_exec_backend;

struct fv_exec {
  const fv_exec_backend *backend;
  const fv_graph *graph;
  fv_exec_options options;
};

fv_status fv_cpu_exec_new(const fv_graph *g, const fv_exec_options *opt, fv_exec **out, fv_error *err);
fv_status fv_vk_exec_new(fv_device *dev, const fv_graph *g, const fv_exec_options *opt, fv_exec **out, fv_error *err);

#endif
