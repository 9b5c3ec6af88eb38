/* plan_image.c: the image ops (engine/graph.h: stencil, sample, warp, pixel, random, reduce,
 * plasma), one dispatch each, kernels shaders/<op>.comp.
 *
 * Element-wise kernels (stencil, sample, warp, pixel, random) run one invocation per output value
 * in 256-wide workgroups; pixel's HSV modes one per RGB pixel. Per-node values (sizes, pixel
 * parameters, Philox stream) are push constants; the border rule, the pixel mode, the random
 * distribution and the reduction kind are specialization constants, so each pipeline is
 * specialised for one of them. Tap lists and sample tables stay in the weight buffer. Reduce is
 * one workgroup per (image, channel); plasma one workgroup per image, in fp32 scratch memory.
 *
 * Not here: the semantics (graph.h, engine/ref/ref_image.c) and the shape checks, which graph.c
 * made already; planners only re-check what a kernel's indexing relies on. */
#include <string.h>

#include "../dtype.h"
#include "../ref/ref.h"
#include "plan_internal.h"

enum { WG = 256 };

static fv_dispatch *per_value(fv_plan_ctx *c, const char *kernel, int64_t total) {
  fv_dispatch *d = fv_plan_dispatch(c, kernel, fv_ceil_div((uint64_t)total, WG));
  if (!d) fv_fail(c->err, "%s %s: too many dispatches", kernel, c->n->name);
  return d;
}

static fv_status check_image(fv_plan_ctx *c, const fv_node *im) {
  if (im->ndim != 4) return fv_fail(c->err, "%s: image %s must be [B, H, W, C]", c->n->name, im->name);
  return FV_OK;
}

static void push_rng(fv_dispatch *d, const fv_rng_params *r) {
  fv_dispatch_push(d, r->seed);
  fv_dispatch_push(d, r->corruption);
  fv_dispatch_push(d, r->severity);
  fv_dispatch_push(d, r->stream);
}

enum { LINE_NONE = 0, LINE_ROW, LINE_COLUMN, LINE_MAX_TAPS = 64 };

/* From constant taps' host data: the box of pixels [ylo, yhi) x [xlo, xhi) whose every tap reads
 * inside the image, and whether the taps are a line (stencil.comp: (dy0, dx0 + t) or (dy0 + t,
 * dx0) for t = 0..T-1 in that order, 2 <= T <= 64). Per-image taps (known at run time only): an
 * empty box, no line. */
static void stencil_shape(const fv_node *taps, int64_t H, int64_t W, uint32_t box[4], uint32_t *line) {
  memset(box, 0, 4 * sizeof *box);
  *line = LINE_NONE;
  if (taps->ndim != 2 || !taps->data) return;
  const int64_t T = taps->shape[0];
  int64_t dy_min = 0, dy_max = 0, dx_min = 0, dx_max = 0, dy0 = 0, dx0 = 0;
  int row = T >= 2 && T <= LINE_MAX_TAPS, column = row;
  for (int64_t t = 0; t < T; t++) {
    float d[2];
    fv_convert_to_f32((const char *)taps->data + (size_t)(3 * t) * fv_dtype_size(taps->data_dtype), taps->data_dtype, d,
                      2);
    const int64_t dy = (int64_t)d[0], dx = (int64_t)d[1]; /* integers within +-2048 (graph.c) */
    if (t == 0) dy0 = dy, dx0 = dx;
    row &= dy == dy0 && dx == dx0 + t;
    column &= dx == dx0 && dy == dy0 + t;
    if (t == 0 || dy < dy_min) dy_min = dy;
    if (t == 0 || dy > dy_max) dy_max = dy;
    if (t == 0 || dx < dx_min) dx_min = dx;
    if (t == 0 || dx > dx_max) dx_max = dx;
  }
  *line = row ? LINE_ROW : column ? LINE_COLUMN : LINE_NONE;
  const int64_t ylo = dy_min < 0 ? -dy_min : 0, yhi = dy_max > 0 ? H - dy_max : H;
  const int64_t xlo = dx_min < 0 ? -dx_min : 0, xhi = dx_max > 0 ? W - dx_max : W;
  if (ylo >= yhi || xlo >= xhi) return;
  box[0] = (uint32_t)ylo, box[1] = (uint32_t)yhi, box[2] = (uint32_t)xlo, box[3] = (uint32_t)xhi;
}

fv_status fv_plan_stencil(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0), *taps = fv_plan_src(c, 1);
  if (check_image(c, im)) return FV_ERR;
  const int per_image = taps->ndim == 3;
  if (per_image ? taps->shape[0] != im->shape[0] || taps->shape[2] != 3 : taps->ndim != 2 || taps->shape[1] != 3)
    return fv_fail(c->err, "stencil %s: taps must be [T, 3] or [B, T, 3]", n->name);
  const int64_t C = im->shape[3], T = taps->shape[taps->ndim - 2];
  const uint32_t cpi = C <= 4 ? (uint32_t)C : 1u;
  /* one invocation per run of xb pixels (along x, or along y for column lines) and group of cpi
   * channels: 8-16 outputs share each tap's loads and arithmetic (on lavapipe, 1 -> 4 pixels of
   * C = 3 was 1.5x faster, 8 -> 16 of C = 1 slower again) */
  const uint32_t xb = cpi == 1 ? 8u : 4u;
  uint32_t box[4], line;
  stencil_shape(taps, im->shape[1], im->shape[2], box, &line);
  const int64_t runs = line == LINE_COLUMN ? (int64_t)fv_ceil_div((uint64_t)im->shape[1], xb) * im->shape[2]
                                           : im->shape[1] * (int64_t)fv_ceil_div((uint64_t)im->shape[2], xb);
  int64_t total = im->shape[0] * runs * (C / cpi);
  fv_dispatch *d = per_value(c, "stencil", total);
  if (!d) return FV_ERR;
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind_optional(d, n, 2);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)n->p.image.border);
  fv_dispatch_spec(d, cpi);
  fv_dispatch_spec(d, xb);
  fv_dispatch_spec(d, line);
  fv_dispatch_spec(d, line != LINE_NONE ? (uint32_t)T : 1u);
  fv_dispatch_spec(d, n->src[2] >= 0);
  fv_dispatch_push(d, (uint32_t)total);
  for (int k = 1; k < 4; k++) fv_dispatch_push(d, (uint32_t)im->shape[k]);
  fv_dispatch_push(d, (uint32_t)T);
  fv_dispatch_push(d, per_image ? (uint32_t)(T * 3) : 0u);
  for (int k = 0; k < 4; k++) fv_dispatch_push(d, box[k]);
  return FV_OK;
}

fv_status fv_plan_sample(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0), *table = fv_plan_src(c, 1);
  if (check_image(c, im)) return FV_ERR;
  if (table->ndim != 2 || table->shape[1] != 4) return fv_fail(c->err, "sample %s: table must be [L, 4]", n->name);
  /* one invocation per run of 4 output pixels along x (sample.comp's XB) and group of cpi channels */
  const int64_t C = im->shape[3];
  const uint32_t cpi = C <= 4 ? (uint32_t)C : 1u;
  int64_t total = n->shape[0] * n->shape[1] * (int64_t)fv_ceil_div((uint64_t)n->shape[2], 4) * (C / cpi);
  fv_dispatch *d = per_value(c, "sample", total);
  if (!d) return FV_ERR;
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)n->p.image.border);
  fv_dispatch_spec(d, cpi);
  fv_dispatch_push(d, (uint32_t)total);
  for (int k = 1; k < 4; k++) fv_dispatch_push(d, (uint32_t)im->shape[k]);
  fv_dispatch_push(d, (uint32_t)n->shape[1]);
  fv_dispatch_push(d, (uint32_t)n->shape[2]);
  fv_dispatch_push(d, (uint32_t)table->shape[0]);
  fv_dispatch_push_f32(d, n->p.image.scale);
  return FV_OK;
}

fv_status fv_plan_warp(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0), *dy = fv_plan_src(c, 1);
  if (check_image(c, im)) return FV_ERR;
  /* one invocation per pixel and group of cpi channels */
  const int64_t C = im->shape[3];
  const uint32_t cpi = C <= 4 ? (uint32_t)C : 1u;
  int64_t total = fv_node_numel(n) / cpi;
  fv_dispatch *d = per_value(c, "warp", total);
  if (!d) return FV_ERR;
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind(d, 2);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)n->p.image.border);
  fv_dispatch_spec(d, cpi);
  fv_dispatch_push(d, (uint32_t)total);
  for (int k = 1; k < 4; k++) fv_dispatch_push(d, (uint32_t)im->shape[k]);
  fv_dispatch_push(d, (uint32_t)dy->shape[0]);
  return FV_OK;
}

fv_status fv_plan_pixel(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0);
  if (check_image(c, im)) return FV_ERR;
  const fv_pixel_mode mode = n->p.pixel.mode;
  const int hsv = mode == FV_PIXEL_BRIGHTNESS || mode == FV_PIXEL_SATURATE;
  if (hsv && im->shape[3] != 3) return fv_fail(c->err, "pixel %s: HSV modes need C = 3", n->name);
  int64_t total = fv_node_numel(n) / (hsv ? 3 : 1);
  fv_dispatch *d = per_value(c, "pixel", (int64_t)fv_ceil_div((uint64_t)total, 8)); /* pixel.comp's VB */
  if (!d) return FV_ERR;
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind_optional(d, n, 1);
  fv_dispatch_bind_optional(d, n, 2);
  fv_dispatch_bind_optional(d, n, 3);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)mode);
  fv_dispatch_push(d, (uint32_t)total);
  for (int k = 1; k < 4; k++) fv_dispatch_push(d, (uint32_t)im->shape[k]);
  const fv_node *layer = n->src[1] >= 0 ? fv_plan_src(c, 1) : NULL;
  for (int k = 0; k < 4; k++) fv_dispatch_push(d, layer ? (uint32_t)layer->shape[k] : 1u);
  fv_dispatch_push(d, n->src[2] >= 0 ? (uint32_t)fv_plan_src(c, 2)->shape[1] : 1u);
  for (int k = 0; k < 4; k++) fv_dispatch_push_f32(d, n->p.pixel.a[k]);
  /* The host's reciprocal, so the kernel multiplies exactly as fv_ref_pixel does. */
  fv_dispatch_push_f32(d, n->p.pixel.a[0] != 0.0f ? 1.0f / n->p.pixel.a[0] : 0.0f);
  push_rng(d, &n->p.pixel.rng);
  return FV_OK;
}

fv_status fv_plan_random(fv_plan_ctx *c) {
  const fv_node *n = c->n;
  int64_t total = fv_node_numel(n);
  fv_dispatch *d = per_value(c, "random", (int64_t)fv_ceil_div((uint64_t)total, 8)); /* random.comp's VB */
  if (!d) return FV_ERR;
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, n->p.random.dist == FV_RANDOM_NORMAL);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)(total / n->shape[0]));
  fv_dispatch_push_f32(d, n->p.random.a);
  fv_dispatch_push_f32(d, n->p.random.b);
  push_rng(d, &n->p.random.rng);
  return FV_OK;
}

fv_status fv_plan_reduce(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0);
  if (check_image(c, im)) return FV_ERR;
  int64_t groups = im->shape[0] * im->shape[3];
  fv_dispatch *d = fv_plan_dispatch(c, "reduce", (uint64_t)groups);
  if (!d) return fv_fail(c->err, "reduce %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, n->p.reduce.kind == FV_REDUCE_MAX);
  fv_dispatch_push(d, (uint32_t)groups);
  fv_dispatch_push(d, (uint32_t)(im->shape[1] * im->shape[2]));
  fv_dispatch_push(d, (uint32_t)im->shape[3]);
  return FV_OK;
}

fv_status fv_plan_plasma(fv_plan_ctx *c) {
  const fv_node *n = c->n;
  const int64_t B = n->shape[0], N = n->shape[1];
  int levels = 0;
  while (((int64_t)2 << levels) <= N) levels++; /* steps N, N/2, .., 2 */
  if (N < 2 || (N & (N - 1)) != 0 || levels > 16)
    return fv_fail(c->err, "plasma %s: size %lld must be a power of two in 2..65536", n->name, (long long)N);
  fv_dispatch *d = fv_plan_dispatch(c, "plasma", (uint64_t)B);
  if (!d) return fv_fail(c->err, "plasma %s: too many dispatches", n->name);
  c->plan->scratch_bytes = (uint64_t)fv_node_numel(n) * sizeof(float);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, FV_BIND_SCRATCH);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_push(d, (uint32_t)B);
  fv_dispatch_push(d, (uint32_t)N);
  fv_dispatch_push(d, (uint32_t)levels);
  push_rng(d, &n->p.plasma.rng);
  for (int l = 0; l < 16; l++) fv_dispatch_push_f32(d, l < levels ? fv_ref_plasma_wibble(n->p.plasma.decay, l) : 0.0f);
  return FV_OK;
}
