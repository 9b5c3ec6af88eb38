/* plan_attention_probe.c: FV_OP_ATTENTION_PROBE (attention_probe.comp) as one dispatch.
 *
 * One workgroup per attention row it needs: STATS one per (image, head, query), MEAN one per
 * (image, query) looping over the heads, ROWS one per (image, head) computing one row or looping
 * over all queries. A workgroup holds the row's T weights in shared memory (plus an accumulator
 * row in MEAN/ROWS), so T is bounded by the device's shared memory: on 32 KiB (lavapipe) about
 * 3,900 tokens, enough for the "small N, materialise" mode of methods/tap_adl.md 7; longer
 * sequences are refused with a message rather than tiled. WG = 64 (a power of two, for the
 * reduction trees) on every device: the work per row is small and this is a diagnostic. */
#include "plan_internal.h"

enum { PROBE_WG = 64 };

fv_status fv_plan_attention_probe(fv_plan_ctx *c) {
  const fv_node *n = c->n, *qkv = fv_plan_src(c, 0);
  const int H = n->p.probe.heads, D = n->p.probe.head_dim;
  if (D < 1 || D > 128 || H < 1 || qkv->ndim != 3 || qkv->shape[2] != 3LL * H * D)
    return fv_fail(c->err, "attention_probe %s: needs qkv [B, T, 3*H*D] with D in 1..128, got H %d, D %d", n->name, H,
                   D);
  const int64_t B = qkv->shape[0], T = qkv->shape[1];
  const fv_probe_mode mode = n->p.probe.mode;
  uint32_t wg = PROBE_WG;
  if (wg > c->caps->max_workgroup_invocations || wg > c->caps->max_workgroup_size[0])
    return fv_fail(c->err, "attention_probe %s: needs workgroups of %u invocations, device allows %u", n->name, wg,
                   c->caps->max_workgroup_invocations);
  const uint64_t acc = mode == FV_PROBE_STATS ? 1 : (uint64_t)T;
  /* row[T], acc[ACC], red (vec4) and redi per invocation, qs[D] (attention_probe.comp) */
  const uint64_t shared = 4u * ((uint64_t)T + acc + 5u * wg + (uint64_t)D);
  if (shared > c->caps->max_shared_bytes)
    return fv_fail(c->err,
                   "attention_probe %s: %lld tokens need %llu bytes of shared memory, device has %u (the probe keeps "
                   "whole attention rows in shared memory)",
                   n->name, (long long)T, (unsigned long long)shared, c->caps->max_shared_bytes);
  uint64_t groups = mode == FV_PROBE_STATS  ? (uint64_t)(B * H * T)
                    : mode == FV_PROBE_MEAN ? (uint64_t)(B * T)
                                            : (uint64_t)(B * H);
  float tau = n->p.probe.threshold / (float)T;
  fv_dispatch *d = fv_plan_dispatch(c, "attention_probe", groups);
  if (!d) return fv_fail(c->err, "attention_probe %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind_optional(d, n, 1);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, wg);
  fv_dispatch_spec(d, (uint32_t)D);
  fv_dispatch_spec(d, (uint32_t)T);
  fv_dispatch_spec(d, (uint32_t)acc);
  fv_dispatch_spec(d, (uint32_t)mode);
  fv_dispatch_spec(d, n->src[1] >= 0 ? 1u : 0u);
  fv_dispatch_push(d, (uint32_t)groups);
  fv_dispatch_push(d, (uint32_t)H);
  fv_dispatch_push(d, (uint32_t)n->p.probe.n_prefix);
  fv_dispatch_push(d, (uint32_t)n->p.probe.grid_w);
  fv_dispatch_push(d, n->p.probe.query >= 0 ? (uint32_t)n->p.probe.query : 0xFFFFFFFFu);
  fv_dispatch_push(d, (uint32_t)n->p.probe.topk);
  fv_dispatch_push_f32(d, n->p.probe.scale);
  fv_dispatch_push_f32(d, tau);
  return FV_OK;
}
