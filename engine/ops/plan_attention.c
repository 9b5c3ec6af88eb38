/* plan_attention.c: fused flash-style attention (attention.comp) as one dispatch.
 *
 * One workgroup per WG * QPI consecutive queries of one (batch, head). On CPU drivers WG is
 * the SIMD width (one program per workgroup, barriers nearly free) and each invocation
 * takes QPI = 4 query rows, so each shared-memory load (a loop over lanes in llvmpipe)
 * feeds four rows (ViT-B attention: 355 ms with one row per invocation and scalar loads,
 * about 50 ms now); GPUs get WG = 64, QPI = 1. The head dimension is a specialization
 * constant, and the key tile BK is as large as fits both vec4 tiles (2 * BK * ceil(HD/4) *
 * 16 bytes) in 16 KiB of shared memory (at most 64), so HD = 128 still fits lavapipe's
 * 32 KiB. Not here: masks, block-sparse attention, per-row statistics. */
#include "plan_internal.h"

enum { ATTN_SHARED_BUDGET = 16384, ATTN_MAX_BK = 64 };

fv_status fv_plan_attention(fv_plan_ctx *c) {
  const fv_node *qkv = fv_plan_src(c, 0);
  int H = c->n->p.attn.heads, D = c->n->p.attn.head_dim;
  if (D < 1 || D > 128 || H < 1 || qkv->ndim != 3 || qkv->shape[2] != 3LL * H * D)
    return fv_fail(c->err, "attention %s: needs qkv [B, T, 3*H*D] with D in 1..128, got H %d, D %d", c->n->name, H, D);
  int64_t B = qkv->shape[0], T = qkv->shape[1];
  const fv_kernel_caps *caps = c->caps;
  uint32_t limit = caps->max_workgroup_invocations < caps->max_workgroup_size[0] ? caps->max_workgroup_invocations
                                                                                 : caps->max_workgroup_size[0];
  uint32_t wg = caps->is_cpu ? (caps->subgroup_size ? caps->subgroup_size : 8) : 64;
  if (wg > limit) wg = limit;
  uint32_t budget = caps->max_shared_bytes < ATTN_SHARED_BUDGET ? caps->max_shared_bytes : ATTN_SHARED_BUDGET;
  uint32_t qpi = caps->is_cpu ? 4 : 1;
  uint32_t bk = budget / (2u * 16u * (((uint32_t)D + 3u) / 4u));
  if (bk > ATTN_MAX_BK) bk = ATTN_MAX_BK;
  if (bk < 1 || wg < 1)
    return fv_fail(c->err, "attention %s: head dim %d needs %d bytes of shared memory, device has %u", c->n->name, D,
                   32 * ((D + 3) / 4), caps->max_shared_bytes);
  uint64_t groups = fv_ceil_div((uint64_t)T, (uint64_t)wg * qpi) * (uint64_t)B * (uint64_t)H;
  fv_dispatch *d = fv_plan_dispatch(c, "attention", groups);
  if (!d) return fv_fail(c->err, "attention %s: too many dispatches", c->n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, wg);
  fv_dispatch_spec(d, (uint32_t)D);
  fv_dispatch_spec(d, bk);
  fv_dispatch_spec(d, qpi);
  fv_dispatch_push(d, (uint32_t)B);
  fv_dispatch_push(d, (uint32_t)T);
  fv_dispatch_push(d, (uint32_t)H);
  fv_dispatch_push_f32(d, c->n->p.attn.scale);
  return FV_OK;
}
