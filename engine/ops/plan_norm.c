/* plan_norm.c: LayerNorm and softmax over the last dimension, one workgroup per row.
 *
 * The workgroup size is a power of two (the kernels' shared-memory tree reduction needs
 * it): on CPU drivers the SIMD width (a workgroup no wider than one subgroup runs as one
 * program, so its barriers are nearly free), on GPUs up to 256, shrunk for short rows so
 * C = 7 does not idle 249 invocations. Not here: RMS norm, fused residual + norm. */
#include "plan_internal.h"

static fv_status row_workgroup(fv_plan_ctx *c, int64_t C, uint32_t *wg) {
  const fv_kernel_caps *caps = c->caps;
  uint32_t limit = caps->max_workgroup_invocations < caps->max_workgroup_size[0] ? caps->max_workgroup_invocations
                                                                                 : caps->max_workgroup_size[0];
  uint32_t want;
  if (caps->is_cpu)
    want = fv_pow2_at_least(caps->subgroup_size ? caps->subgroup_size : 8, 1, 64);
  else
    want = fv_pow2_at_least((uint64_t)C, caps->subgroup_size >= 32 ? 32 : 16, 256);
  while (want > limit || want * 4u > caps->max_shared_bytes) want /= 2;
  if (want < 1) return fv_fail(c->err, "%s: device allows no workgroup for a row reduction", c->n->name);
  *wg = want;
  return FV_OK;
}

fv_status fv_plan_layernorm(fv_plan_ctx *c) {
  const fv_node *x = fv_plan_src(c, 0);
  int64_t C = x->shape[x->ndim - 1], rows = fv_node_numel(x) / C;
  uint32_t wg;
  if (row_workgroup(c, C, &wg)) return FV_ERR;
  fv_dispatch *d = fv_plan_dispatch(c, "layernorm", (uint64_t)rows);
  if (!d) return fv_fail(c->err, "layernorm %s: too many dispatches", c->n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind_optional(d, c->n, 1);
  fv_dispatch_bind_optional(d, c->n, 2);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, wg);
  fv_dispatch_spec(d, c->n->src[1] >= 0);
  fv_dispatch_spec(d, c->n->src[2] >= 0);
  fv_dispatch_push(d, (uint32_t)rows);
  fv_dispatch_push(d, (uint32_t)C);
  fv_dispatch_push_f32(d, c->n->p.norm.eps);
  return FV_OK;
}

fv_status fv_plan_softmax(fv_plan_ctx *c) {
  const fv_node *x = fv_plan_src(c, 0);
  int64_t C = x->shape[x->ndim - 1], rows = fv_node_numel(x) / C;
  uint32_t wg;
  if (row_workgroup(c, C, &wg)) return FV_ERR;
  fv_dispatch *d = fv_plan_dispatch(c, "softmax", (uint64_t)rows);
  if (!d) return fv_fail(c->err, "softmax %s: too many dispatches", c->n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, wg);
  fv_dispatch_push(d, (uint32_t)rows);
  fv_dispatch_push(d, (uint32_t)C);
  return FV_OK;
}
