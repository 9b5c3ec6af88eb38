/* plan_elementwise.c: one-element-per-invocation kernels: add, im2col, embed_tokens,
 * tokens (mean / slice) and crop_normalize, each a single dispatch of 256-invocation
 * workgroups over the output.
 *
 * Optional sources (no layer-scale gamma, no prefix tokens, no positional embedding) are
 * switched off by a specialization constant and their binding slot gets source 0, so each
 * kernel has one descriptor layout. Not here: broadcasting adds, modulation ops, pooling. */
#include "plan_internal.h"

enum { WG = 256 };

static fv_dispatch *elementwise(fv_plan_ctx *c, const char *kernel, int64_t total) {
  return fv_plan_dispatch(c, kernel, fv_ceil_div((uint64_t)total, WG));
}

fv_status fv_plan_add(fv_plan_ctx *c) {
  const fv_node *n = c->n;
  int64_t total = fv_node_numel(n), C = n->shape[n->ndim - 1];
  fv_dispatch *d = elementwise(c, "add", total);
  if (!d) return fv_fail(c->err, "add %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind_optional(d, n, 2);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, n->src[2] >= 0);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)C);
  fv_dispatch_push_f32(d, n->p.add.alpha);
  fv_dispatch_push_f32(d, n->p.add.beta);
  return FV_OK;
}

fv_status fv_plan_im2col(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0);
  int p = n->p.im2col.patch;
  if (im->ndim != 4 || p < 1 || im->shape[2] % p || im->shape[3] % p)
    return fv_fail(c->err, "im2col %s: needs [B, C, H, W] with H, W multiples of patch %d", n->name, p);
  int64_t total = fv_node_numel(n);
  fv_dispatch *d = elementwise(c, "im2col", total);
  if (!d) return fv_fail(c->err, "im2col %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)im->shape[1]);
  fv_dispatch_push(d, (uint32_t)im->shape[2]);
  fv_dispatch_push(d, (uint32_t)im->shape[3]);
  fv_dispatch_push(d, (uint32_t)p);
  return FV_OK;
}

fv_status fv_plan_embed_tokens(fv_plan_ctx *c) {
  const fv_node *n = c->n;
  int P = n->p.embed.n_prefix, off = n->p.embed.pos_offset;
  int64_t total = fv_node_numel(n), T = n->shape[1], E = n->shape[2];
  if (P < 0 || P > T || off < 0 || off > T || (P > 0) != (n->src[1] >= 0))
    return fv_fail(c->err, "embed_tokens %s: %d prefix tokens and position offset %d do not fit %lld tokens", n->name,
                   P, off, (long long)T);
  fv_dispatch *d = elementwise(c, "embed_tokens", total);
  if (!d) return fv_fail(c->err, "embed_tokens %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind_optional(d, n, 1);
  fv_dispatch_bind_optional(d, n, 2);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, n->src[2] >= 0);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)T);
  fv_dispatch_push(d, (uint32_t)E);
  fv_dispatch_push(d, (uint32_t)P);
  fv_dispatch_push(d, (uint32_t)off);
  return FV_OK;
}

fv_status fv_plan_tokens(fv_plan_ctx *c) {
  const fv_node *n = c->n, *x = fv_plan_src(c, 0);
  int start = n->p.tokens.start, count = n->p.tokens.count;
  if (x->ndim != 3 || start < 0 || count < 1 || start + (int64_t)count > x->shape[1])
    return fv_fail(c->err, "tokens %s: range [%d, %d+%d) must lie inside the %lld tokens of %s", n->name, start, start,
                   count, (long long)(x->ndim == 3 ? x->shape[1] : 0), x->name);
  int64_t total = fv_node_numel(n);
  fv_dispatch *d = elementwise(c, "tokens", total);
  if (!d) return fv_fail(c->err, "tokens %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, n->p.tokens.mean != 0);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)x->shape[1]);
  fv_dispatch_push(d, (uint32_t)x->shape[2]);
  fv_dispatch_push(d, (uint32_t)start);
  fv_dispatch_push(d, (uint32_t)count);
  return FV_OK;
}

fv_status fv_plan_crop_normalize(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0);
  int64_t C = im->shape[2], h = n->shape[1], w = n->shape[2];
  if (im->ndim != 3 || C < 1 || C > 4)
    return fv_fail(c->err, "crop_normalize %s: image %s must be [H, W, C] with C in 1..4", n->name, im->name);
  int64_t total = fv_node_numel(n);
  fv_dispatch *d = elementwise(c, "crop_normalize", total);
  if (!d) return fv_fail(c->err, "crop_normalize %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)im->shape[1]);
  fv_dispatch_push(d, (uint32_t)C);
  fv_dispatch_push(d, (uint32_t)n->p.crop.top);
  fv_dispatch_push(d, (uint32_t)n->p.crop.left);
  fv_dispatch_push(d, (uint32_t)h);
  fv_dispatch_push(d, (uint32_t)w);
  /* mean[4] and std[4] as uvec4s; unused channels are never read. */
  for (int i = 0; i < 4; i++) fv_dispatch_push_f32(d, i < C ? n->p.crop.mean[i] : 0.0f);
  for (int i = 0; i < 4; i++) fv_dispatch_push_f32(d, i < C ? n->p.crop.std[i] : 1.0f);
  return FV_OK;
}
