/* plan_internal.h: what the per-family planners (plan_*.c) share with plan.c.
 *
 * Not a public interface: executors call fv_plan_node() from plan.h only. The helpers here
 * fill an fv_dispatch one word at a time so each planner reads as a list of what its kernel
 * receives, in the kernel's binding/push/specialization order. */
#ifndef FV_PLAN_INTERNAL_H
#define FV_PLAN_INTERNAL_H

#include "plan.h"

/* Largest element count any binding may have: shaders index with uint32, and a linear id of
 * (group * workgroup size + local id) must not wrap even for the few extra groups the
 * executor adds when it folds the count into x, y. */
#define FV_PLAN_MAX_ELEMS ((int64_t)1 << 31)

typedef struct fv_plan_ctx {
  const fv_kernel_caps *caps;
  const fv_graph *g;
  const fv_node *n;
  fv_dtype storage;
  fv_op_plan *plan;
  fv_error *err;
} fv_plan_ctx;

/* Appends a dispatch of kernel (shaders/<kernel>.comp) with `groups` workgroups. */
fv_dispatch *fv_plan_dispatch(fv_plan_ctx *c, const char *kernel, uint64_t groups);
void fv_dispatch_spec(fv_dispatch *d, uint32_t v);
void fv_dispatch_push(fv_dispatch *d, uint32_t v);
void fv_dispatch_push_f32(fv_dispatch *d, float v);
void fv_dispatch_bind(fv_dispatch *d, int bind);
/* Binds source i when the node has it, else source 0 (a read-only tensor the kernel is
 * told, by a specialization constant, never to read): descriptor layouts stay fixed. */
void fv_dispatch_bind_optional(fv_dispatch *d, const fv_node *n, int i);

const fv_node *fv_plan_src(const fv_plan_ctx *c, int i);
uint64_t fv_ceil_div(uint64_t a, uint64_t b);
/* The power of two in [lo, hi] closest above n (hi when n > hi). */
uint32_t fv_pow2_at_least(uint64_t n, uint32_t lo, uint32_t hi);

fv_status fv_plan_matmul(fv_plan_ctx *c);
fv_status fv_plan_layernorm(fv_plan_ctx *c);
fv_status fv_plan_softmax(fv_plan_ctx *c);
fv_status fv_plan_attention(fv_plan_ctx *c);
fv_status fv_plan_add(fv_plan_ctx *c);
fv_status fv_plan_im2col(fv_plan_ctx *c);
fv_status fv_plan_embed_tokens(fv_plan_ctx *c);
fv_status fv_plan_tokens(fv_plan_ctx *c);
fv_status fv_plan_crop_normalize(fv_plan_ctx *c);
fv_status fv_plan_resample(fv_plan_ctx *c);
fv_status fv_plan_stencil(fv_plan_ctx *c);
fv_status fv_plan_sample(fv_plan_ctx *c);
fv_status fv_plan_warp(fv_plan_ctx *c);
fv_status fv_plan_pixel(fv_plan_ctx *c);
fv_status fv_plan_random(fv_plan_ctx *c);
fv_status fv_plan_reduce(fv_plan_ctx *c);
fv_status fv_plan_plasma(fv_plan_ctx *c);
fv_status fv_plan_tap_scales(fv_plan_ctx *c);
fv_status fv_plan_tap_mix(fv_plan_ctx *c);
fv_status fv_plan_attention_probe(fv_plan_ctx *c);

#endif
