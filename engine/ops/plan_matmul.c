/* plan_matmul.c: out[M,N] = A[M,K] . W[N,K]^T (+ bias) (then GELU) as one dispatch.
 *
 * Two kernels, chosen from the device's capabilities, never its vendor:
 * - matmul_cpu: for CPU Vulkan drivers (caps.is_cpu: lavapipe, SwiftShader), which run a
 *   subgroup as one SIMD program and pay a coroutine switch for every barrier. No shared
 *   memory, no barriers, and as few load instructions as possible (llvmpipe runs each one as
 *   a loop over the SIMD lanes): each invocation accumulates a 16x16 block in registers and
 *   reads 16-byte vectors. Also the fallback for a GPU too small for the tiled kernel (it
 *   needs nothing but 8 invocations).
 * - matmul_tiled: for GPUs: 64x64 tiles staged through shared memory, 256 invocations each
 *   computing 4x4.
 * Both are correct for every M, N, K; the tile sizes below must match the shaders.
 *
 * Not here (yet): cooperative-matrix or subgroup-matrix variants, split-K for tiny M with
 * huge K, batched weights. */
#include "plan_internal.h"

/* matmul_cpu.comp: TM rows x (WG * TN) columns per workgroup; rows read 16 bytes at a time
 * (4 floats or 8 halves) when K is a multiple of that. */
enum { CPU_TM = 16, CPU_TN = 16, CPU_WG = 8 };
/* matmul_tiled.comp: 64 x 64 per workgroup, 256 invocations, two 16 x 68 float tiles. */
enum { GPU_BM = 64, GPU_BN = 64, GPU_WG = 256, GPU_SHARED = 2 * 16 * 68 * 4 };

static int gpu_tiled_fits(const fv_kernel_caps *caps) {
  return !caps->is_cpu && caps->max_workgroup_invocations >= GPU_WG && caps->max_workgroup_size[0] >= GPU_WG &&
         caps->max_shared_bytes >= GPU_SHARED;
}

fv_status fv_plan_matmul(fv_plan_ctx *c) {
  const fv_node *a = fv_plan_src(c, 0), *w = fv_plan_src(c, 1);
  int64_t K = a->shape[a->ndim - 1], N = w->shape[0];
  if (K < 1 || N < 1 || w->ndim != 2 || w->shape[1] != K)
    return fv_fail(c->err, "matmul %s: weight %s must be [N, %lld], got [%lld, %lld]", c->n->name, w->name,
                   (long long)K, (long long)w->shape[0], (long long)(w->ndim > 1 ? w->shape[1] : 0));
  int64_t M = fv_node_numel(a) / K;
  int tiled = gpu_tiled_fits(c->caps);
  uint64_t groups;
  const char *kernel;
  if (tiled) {
    kernel = "matmul_tiled";
    groups = fv_ceil_div((uint64_t)M, GPU_BM) * fv_ceil_div((uint64_t)N, GPU_BN);
  } else {
    if (c->caps->max_workgroup_invocations < CPU_WG || c->caps->max_workgroup_size[0] < CPU_WG)
      return fv_fail(c->err, "matmul %s: device allows %u invocations per workgroup, matmul_cpu needs %d", c->n->name,
                     c->caps->max_workgroup_invocations, CPU_WG);
    kernel = "matmul_cpu";
    groups = fv_ceil_div((uint64_t)M, CPU_TM) * fv_ceil_div((uint64_t)N, (uint64_t)CPU_WG * CPU_TN);
  }
  fv_dispatch *d = fv_plan_dispatch(c, kernel, groups);
  if (!d) return fv_fail(c->err, "matmul %s: too many dispatches", c->n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind_optional(d, c->n, 2);
  fv_dispatch_bind(d, FV_BIND_OUT);
  if (!tiled) fv_dispatch_spec(d, K % (c->storage == FV_F16 ? 8 : 4) == 0); /* VEC: 16-byte row loads */
  fv_dispatch_push(d, (uint32_t)M);
  fv_dispatch_push(d, (uint32_t)N);
  fv_dispatch_push(d, (uint32_t)K);
  fv_dispatch_push(d, (c->n->src[2] >= 0 ? 1u : 0u) | (c->n->p.matmul.gelu ? 2u : 0u));
  return FV_OK;
}
