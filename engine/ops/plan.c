/* plan.c: fv_plan_node(), the entry point from executors to the per-family planners.
 *
 * Checks what every kernel relies on (node and source indices, element counts that fit the
 * kernels' uint32 indexing, a supported storage type), then hands the node to its family's
 * planner (plan_matmul.c, plan_norm.c, plan_attention.c, plan_elementwise.c,
 * plan_resample.c, plan_image.c, plan_tap.c, plan_attention_probe.c). Also holds the small
 * helpers those planners share.
 *
 * FOVEA_PLAN_AS=gpu or =cpu (environment) plans as if the device were a GPU or a CPU driver,
 * so the kernel tests run both variants of every kernel on whatever device they have (GPU
 * variants on lavapipe, for instance). Only the variant choice changes; the device's real
 * limits still apply. It is read here, per call, and nowhere else.
 *
 * Deliberately not here: any Vulkan object (the executor owns them) and any choice of kernel
 * variant (each family decides from fv_kernel_caps). */
#include <stdlib.h>
#include <string.h>

#include "plan_internal.h"

fv_dispatch *fv_plan_dispatch(fv_plan_ctx *c, const char *kernel, uint64_t groups) {
  /* Planners add at most FV_MAX_DISPATCH dispatches by construction; the guard keeps a
   * future mistake from writing past the array. */
  if (c->plan->n >= FV_MAX_DISPATCH) return NULL;
  fv_dispatch *d = &c->plan->d[c->plan->n++];
  memset(d, 0, sizeof *d);
  d->kernel = kernel;
  d->groups = groups ? groups : 1;
  return d;
}

void fv_dispatch_spec(fv_dispatch *d, uint32_t v) {
  if (d->n_spec < FV_MAX_SPEC) d->spec[d->n_spec++] = v;
}

void fv_dispatch_push(fv_dispatch *d, uint32_t v) {
  if (d->push_words < FV_MAX_PUSH_WORDS) d->push[d->push_words++] = v;
}

void fv_dispatch_push_f32(fv_dispatch *d, float v) {
  uint32_t bits;
  memcpy(&bits, &v, sizeof bits);
  fv_dispatch_push(d, bits);
}

void fv_dispatch_bind(fv_dispatch *d, int bind) {
  if (d->n_bind < FV_MAX_BIND) d->bind[d->n_bind++] = bind;
}

void fv_dispatch_bind_optional(fv_dispatch *d, const fv_node *n, int i) { fv_dispatch_bind(d, n->src[i] >= 0 ? i : 0); }

const fv_node *fv_plan_src(const fv_plan_ctx *c, int i) { return &c->g->nodes[c->n->src[i]]; }

uint64_t fv_ceil_div(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

uint32_t fv_pow2_at_least(uint64_t n, uint32_t lo, uint32_t hi) {
  uint32_t p = lo;
  while (p < hi && p < n) p *= 2;
  return p;
}

/* Every tensor a kernel binds must be indexable with uint32 (see FV_PLAN_MAX_ELEMS). */
static fv_status check_elems(const fv_node *n, const char *role, fv_error *err) {
  int64_t e = fv_node_numel(n);
  if (e >= FV_PLAN_MAX_ELEMS)
    return fv_fail(err, "planner: %s %s has %lld elements, expected fewer than 2^31 (kernels index with uint32)", role,
                   n->name, (long long)e);
  return FV_OK;
}

fv_status fv_plan_node(const fv_kernel_caps *caps, const fv_graph *g, int node, fv_dtype storage, fv_op_plan *plan,
                       fv_error *err) {
  memset(plan, 0, sizeof *plan);
  if (!caps || !g || node < 0 || node >= g->count)
    return fv_fail(err, "planner: node %d does not exist (graph has %d)", node, g ? g->count : 0);
  if (storage != FV_F32 && storage != FV_F16)
    return fv_fail(err, "planner: storage type %s is not supported, expected F32 or F16", fv_dtype_name(storage));
  const fv_node *n = &g->nodes[node];
  if (check_elems(n, "output", err)) return FV_ERR;
  for (int i = 0; i < FV_MAX_SRC; i++) {
    int s = n->src[i];
    if (s < -1 || s >= node)
      return fv_fail(err, "planner: %s source %d is node %d, expected an earlier node or -1", n->name, i, s);
    if (s >= 0 && check_elems(&g->nodes[s], "source", err)) return FV_ERR;
  }
  fv_kernel_caps as = *caps;
  const char *force = getenv("FOVEA_PLAN_AS");
  if (force && strcmp(force, "gpu") == 0) as.is_cpu = 0;
  if (force && strcmp(force, "cpu") == 0) as.is_cpu = 1;
  fv_plan_ctx c = {&as, g, n, storage, plan, err};
  fv_status st;
  switch (n->op) {
    case FV_OP_MATMUL: st = fv_plan_matmul(&c); break;
    case FV_OP_LAYERNORM: st = fv_plan_layernorm(&c); break;
    case FV_OP_SOFTMAX: st = fv_plan_softmax(&c); break;
    case FV_OP_ATTENTION: st = fv_plan_attention(&c); break;
    case FV_OP_ADD: st = fv_plan_add(&c); break;
    case FV_OP_IM2COL: st = fv_plan_im2col(&c); break;
    case FV_OP_EMBED_TOKENS: st = fv_plan_embed_tokens(&c); break;
    case FV_OP_TOKENS: st = fv_plan_tokens(&c); break;
    case FV_OP_RESAMPLE: st = fv_plan_resample(&c); break;
    case FV_OP_CROP_NORMALIZE: st = fv_plan_crop_normalize(&c); break;
    case FV_OP_STENCIL: st = fv_plan_stencil(&c); break;
    case FV_OP_SAMPLE: st = fv_plan_sample(&c); break;
    case FV_OP_WARP: st = fv_plan_warp(&c); break;
    case FV_OP_PIXEL: st = fv_plan_pixel(&c); break;
    case FV_OP_RANDOM: st = fv_plan_random(&c); break;
    case FV_OP_REDUCE: st = fv_plan_reduce(&c); break;
    case FV_OP_PLASMA: st = fv_plan_plasma(&c); break;
    case FV_OP_TAP_SCALES: st = fv_plan_tap_scales(&c); break;
    case FV_OP_TAP_MIX: st = fv_plan_tap_mix(&c); break;
    case FV_OP_ATTENTION_PROBE: st = fv_plan_attention_probe(&c); break;
    default: return fv_fail(err, "planner: %s is a %s node, which has no kernel", n->name, fv_op_name(n->op));
  }
  if (st) return st;
  if (plan->n == 0) return fv_fail(err, "planner: %s (%s) produced no dispatch", n->name, fv_op_name(n->op));
  return FV_OK;
}
