/* plan_tap.c: token-aware average pooling (engine/graph.h FV_OP_TAP_SCALES, FV_OP_TAP_MIX;
 * shared/design/methods/tap_adl.md 3 and 6.1).
 *
 * TAP_SCALES is two dispatches with an fp32 scratch Z1 [B, gh*gw, K] between them:
 * - tap_conv1: the predictor's first conv (BN folded) is a reduction of depth 9*C to only K
 *   outputs, so it runs one workgroup per token: invocations stride over channels for each of
 *   the 9 taps (consecutive invocations read consecutive channels of one token row), keep K
 *   partial sums each and meet in a shared-memory tree. A tiled GEMM would waste its tiles on
 *   K = 4 output columns.
 * - tap_scales: conv2 (K -> K, 9 taps of K values) and the softmax over K, one invocation per
 *   token; it reads Z1 in fp32 so fp16 storage rounds only x, the weights and the result.
 * TAP_MIX (tap_mix) is one invocation per output value: the prefix rows are copied, a patch value
 * reads its token's K weights and 1 + 8 (K - 1) grid values (the centre tap is shared by every
 * scale). Consecutive invocations read consecutive channels, so the taps are coalesced row reads
 * that the cache serves K - 1 times over; a tiled version staging (tile + 2 (K - 1))^2 tokens in
 * shared memory (tap_adl.md 6.1) would save those re-reads and is left for when TAP shows up in
 * a profile (it is a few percent of a block's work).
 *
 * Workgroup sizes: tap_conv1 uses the SIMD width on CPU drivers (one program per workgroup),
 * up to 256 on GPUs, a power of two no wider than C needs; shared memory holds WG * K floats.
 * Not here: the semantics (graph.h, engine/ref/ref_tap.c) and BN folding (vision/tap.c). */
#include "plan_internal.h"

enum { TAP_WG = 64 };

static uint32_t conv1_workgroup(const fv_kernel_caps *caps, int64_t C, int64_t K) {
  uint32_t limit = caps->max_workgroup_invocations < caps->max_workgroup_size[0] ? caps->max_workgroup_invocations
                                                                                 : caps->max_workgroup_size[0];
  uint32_t want = caps->is_cpu ? fv_pow2_at_least(caps->subgroup_size ? caps->subgroup_size : 8, 1, 64)
                               : fv_pow2_at_least((uint64_t)C, caps->subgroup_size >= 32 ? 32 : 16, 256);
  while (want > 1 && (want > limit || (uint64_t)want * (uint64_t)K * 4u > caps->max_shared_bytes)) want /= 2;
  return want;
}

fv_status fv_plan_tap_scales(fv_plan_ctx *c) {
  const fv_node *n = c->n, *x = fv_plan_src(c, 0);
  const int64_t B = x->shape[0], T = x->shape[1], C = x->shape[2];
  const int64_t gh = n->shape[1], gw = n->shape[2], K = n->shape[3], tokens = B * gh * gw;
  if (K < 1 || K > FV_TAP_MAX_SCALES || C * 9 * K >= FV_PLAN_MAX_ELEMS)
    return fv_fail(c->err, "tap_scales %s: K = %lld, C = %lld, expected K in 1..%d and 9*C*K < 2^31", n->name,
                   (long long)K, (long long)C, FV_TAP_MAX_SCALES);
  uint32_t wg = conv1_workgroup(c->caps, C, K);
  if ((uint64_t)wg * (uint64_t)K * 4u > c->caps->max_shared_bytes)
    return fv_fail(c->err, "tap_scales %s: needs %lld bytes of shared memory, device has %u", n->name,
                   (long long)(wg * K * 4), c->caps->max_shared_bytes);
  c->plan->scratch_bytes = (uint64_t)tokens * (uint64_t)K * sizeof(float);

  fv_dispatch *d = fv_plan_dispatch(c, "tap_conv1", (uint64_t)tokens);
  if (!d) return fv_fail(c->err, "tap_scales %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind_optional(d, n, 2);
  fv_dispatch_bind(d, FV_BIND_SCRATCH);
  fv_dispatch_spec(d, wg);
  fv_dispatch_spec(d, (uint32_t)K);
  fv_dispatch_spec(d, n->src[2] >= 0);
  fv_dispatch_push(d, (uint32_t)tokens);
  fv_dispatch_push(d, (uint32_t)T);
  fv_dispatch_push(d, (uint32_t)C);
  fv_dispatch_push(d, (uint32_t)n->p.tap.n_prefix);
  fv_dispatch_push(d, (uint32_t)gh);
  fv_dispatch_push(d, (uint32_t)gw);

  d = fv_plan_dispatch(c, "tap_scales", fv_ceil_div((uint64_t)tokens, TAP_WG));
  if (!d) return fv_fail(c->err, "tap_scales %s: too many dispatches", n->name);
  fv_dispatch_bind(d, FV_BIND_SCRATCH);
  fv_dispatch_bind(d, 3);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)K);
  fv_dispatch_push(d, (uint32_t)tokens);
  fv_dispatch_push(d, (uint32_t)gh);
  fv_dispatch_push(d, (uint32_t)gw);
  fv_dispatch_push_f32(d, n->p.tap.temperature);
  return FV_OK;
}

fv_status fv_plan_tap_mix(fv_plan_ctx *c) {
  const fv_node *n = c->n, *s = fv_plan_src(c, 1);
  const int64_t K = s->shape[3], total = fv_node_numel(n);
  if (K < 1 || K > FV_TAP_MAX_SCALES)
    return fv_fail(c->err, "tap_mix %s: K = %lld, expected 1..%d", n->name, (long long)K, FV_TAP_MAX_SCALES);
  fv_dispatch *d = fv_plan_dispatch(c, "tap_mix", fv_ceil_div((uint64_t)total, 256));
  if (!d) return fv_fail(c->err, "tap_mix %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)K);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)n->shape[1]);
  fv_dispatch_push(d, (uint32_t)n->shape[2]);
  fv_dispatch_push(d, (uint32_t)n->p.tap.n_prefix);
  fv_dispatch_push(d, (uint32_t)n->p.tap.grid_h);
  fv_dispatch_push(d, (uint32_t)n->p.tap.grid_w);
  return FV_OK;
}
