/* plan_resample.c: separable resampling along one image axis of an image or of every image of
 * a batch (resample.comp for float images, resample_u8.comp for 8-bit images read as uint
 * words), one dispatch.
 *
 * fp16 storage limit: the host-built table is stored like every tensor, so its first-index
 * entries are fp16 and exact only for integers up to 2048. With fp16 storage the planner
 * therefore refuses an image longer than 2049 along the resampled axis (indices 0..2048)
 * with a message, rather than sampling the wrong pixels; tap weights lose precision in fp16,
 * which the fp16 tolerances accept. Not here: building the table (vision/preprocess.c). */
#include "plan_internal.h"

enum { WG = 256, F16_MAX_EXACT_INDEX = 2048 };

fv_status fv_plan_resample(fv_plan_ctx *c) {
  const fv_node *n = c->n, *im = fv_plan_src(c, 0), *table = fv_plan_src(c, 1);
  int axis = n->p.resample.axis, taps = n->p.resample.taps;
  /* A batch [B, H, W, C] is planned as one image: along W its rows are one [B*H, W, C] image;
   * along H the kernel finds the image from the output row (o_idx / out_size). */
  const int batched = im->ndim == 4, first = batched ? 1 : 0;
  if ((im->ndim != 3 && im->ndim != 4) || axis < first || axis > first + 1 || taps < 1)
    return fv_fail(c->err,
                   "resample %s: needs an [H, W, C] image (axis 0 or 1) or a [B, H, W, C] batch (axis 1 or 2) and "
                   "taps >= 1, got %d dims, axis %d, taps %d",
                   n->name, im->ndim, axis, taps);
  int64_t out_size = n->shape[axis], in_size = im->shape[axis];
  if (fv_node_numel(table) != out_size * (2 + taps))
    return fv_fail(c->err, "resample %s: table %s must hold %lld values, got %lld", n->name, table->name,
                   (long long)(out_size * (2 + taps)), (long long)fv_node_numel(table));
  if (c->storage == FV_F16 && in_size - 1 > F16_MAX_EXACT_INDEX)
    return fv_fail(c->err,
                   "resample %s: the image is %lld pixels along axis %d, but with fp16 storage table indices are "
                   "exact only up to %d (at most %d pixels); use fp32 storage",
                   n->name, (long long)in_size, axis, F16_MAX_EXACT_INDEX, F16_MAX_EXACT_INDEX + 1);
  int64_t H = im->shape[first], W = im->shape[first + 1], C = im->shape[first + 2];
  if (batched && axis == 2) H *= im->shape[0];
  int64_t total = fv_node_numel(n);
  fv_dispatch *d =
      fv_plan_dispatch(c, im->dtype == FV_U8 ? "resample_u8" : "resample", fv_ceil_div((uint64_t)total, WG));
  if (!d) return fv_fail(c->err, "resample %s: too many dispatches", n->name);
  fv_dispatch_bind(d, 0);
  fv_dispatch_bind(d, 1);
  fv_dispatch_bind(d, FV_BIND_OUT);
  fv_dispatch_spec(d, (uint32_t)(axis - first));
  fv_dispatch_spec(d, n->p.resample.round_u8 != 0);
  fv_dispatch_push(d, (uint32_t)total);
  fv_dispatch_push(d, (uint32_t)H);
  fv_dispatch_push(d, (uint32_t)W);
  fv_dispatch_push(d, (uint32_t)C);
  fv_dispatch_push(d, (uint32_t)out_size);
  fv_dispatch_push(d, (uint32_t)taps);
  return FV_OK;
}
