/* plan.h: how each op becomes GPU dispatches.
 *
 * The Vulkan executor owns every Vulkan object; op planners only decide *what* to dispatch:
 * which kernel (by name), with which specialization constants, push constants, bindings and
 * workgroup count. This keeps one file per op family free of Vulkan plumbing, and lets the
 * kernel variant be chosen from the device's properties (fv_kernel_caps), never its vendor.
 *
 * Conventions every kernel follows:
 * - Storage type: every shader is compiled twice, with FV_STORAGE_F16 undefined (fp32
 *   buffers) and defined (fp16 buffers); the executor picks the blob for the graph's storage
 *   type. Accumulation is fp32 in both. U8 image inputs are bound as uint words.
 * - Bindings: descriptor set 0, storage buffers at bindings 0..n_bind-1 in the order of
 *   fv_dispatch.bind; each binding is exactly the tensor's range (offset applied by the
 *   executor), so kernels index from 0.
 * - Workgroups: the planner gives a linear workgroup count; the executor folds it into
 *   x,y within maxComputeWorkGroupCount and the shader recovers the linear id with
 *   fv_group_id() from shaders/common/fv.glsl and returns when it is past its work. */
#ifndef FV_PLAN_H
#define FV_PLAN_H

#include <stdint.h>

#include "../graph.h"

typedef struct fv_kernel_caps {
  uint32_t subgroup_size;    /* 8 on lavapipe, 32 on NVIDIA, 32/64 on AMD */
  int is_cpu;                /* VK_PHYSICAL_DEVICE_TYPE_CPU (lavapipe, SwiftShader) */
  int subgroup_arithmetic;   /* subgroupAdd etc. in compute shaders */
  uint32_t max_shared_bytes; /* maxComputeSharedMemorySize */
  uint32_t max_workgroup_invocations;
  uint32_t max_workgroup_size[3];
} fv_kernel_caps;

enum { FV_BIND_OUT = -1, FV_BIND_SCRATCH = -2 };
#define FV_MAX_DISPATCH 4
#define FV_MAX_BIND 6
#define FV_MAX_SPEC 8
#define FV_MAX_PUSH_WORDS 32

typedef struct fv_dispatch {
  const char *kernel; /* shader base name: shaders/<kernel>.comp */
  uint32_t spec[FV_MAX_SPEC];
  uint32_t n_spec; /* specialization constants with constant_id 0..n_spec-1 */
  uint32_t push[FV_MAX_PUSH_WORDS];
  uint32_t push_words;
  int bind[FV_MAX_BIND]; /* i >= 0: node->src[i]; FV_BIND_OUT; FV_BIND_SCRATCH */
  uint32_t n_bind;
  uint64_t groups; /* linear workgroup count (>= 1) */
} fv_dispatch;

typedef struct fv_op_plan {
  fv_dispatch d[FV_MAX_DISPATCH]; /* run in order, with a barrier between them */
  int n;
  uint64_t scratch_bytes; /* temporary device memory live only during this node */
} fv_op_plan;

/* Plans one node (any op except INPUT and WEIGHT). storage is FV_F32 or FV_F16. */
fv_status fv_plan_node(const fv_kernel_caps *caps, const fv_graph *g, int node, fv_dtype storage, fv_op_plan *plan,
                       fv_error *err);

#endif
