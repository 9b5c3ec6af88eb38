/* preprocess.h: timm's evaluation transform as engine graph ops.
 *
 * For a model with input size (H, W), crop_pct, interpolation and mean/std, timm evaluates
 * images with torchvision's Resize -> CenterCrop -> ToTensor -> Normalize on a PIL image.
 * The plan reproduces the sizes and crop offsets exactly, and the resampling filters as
 * PIL computes them (antialiased: the filter support widens with the downscale factor),
 * so the graph's output matches torchvision's to within one 8-bit level.
 * Sizes (timm 0.6's transforms_imagenet_eval, torchvision 0.14):
 *   center, square target S: shorter side -> floor(S / crop_pct), longer side
 *     int(that * long / short) (torchvision Resize(int)); then CenterCrop(S).
 *   center, non-square (H, W), and squash: Resize((floor(H / crop_pct), floor(W / crop_pct)))
 *     exactly; then CenterCrop((H, W)). (timm >= 0.9 keeps the aspect ratio for non-square
 *     center crops instead; not done here.)
 * Deliberately not supported: crop_pct > 1 (torchvision would zero-pad the crop; no timm
 * ViT config uses it), crop_mode 'border', and training-time augmentation. */
#ifndef FV_PREPROCESS_H
#define FV_PREPROCESS_H

#include "../engine/exec.h"
#include "../engine/graph.h"
#include "image.h"
#include "vit_config.h"

/* One separable pass in FV_OP_RESAMPLE's table layout: per output index o,
 * table[o*(2+taps)] = first source index, [+1] = tap count, [+2..] = weights (zero-padded). */
typedef struct fv_resample_table {
  int in_size, out_size, taps;
  float *table; /* out_size * (2 + taps) floats, owned */
} fv_resample_table;

typedef struct fv_preprocess_plan {
  int src_h, src_w;       /* decoded image */
  int resize_h, resize_w; /* after Resize */
  int top, left;          /* CenterCrop offsets inside the resized image */
  int dst_h, dst_w;       /* model input */
  fv_interp interp;
  fv_resample_table horizontal, vertical; /* table == NULL when PIL skips that pass */
} fv_preprocess_plan;

/* Everything the transform needs from a model config. mean/std have `channels` entries. */
typedef struct fv_preprocess_params {
  int height, width;
  fv_interp interp;
  float crop_pct;
  fv_crop_mode crop_mode;
  float mean[3], std[3];
} fv_preprocess_params;

void fv_preprocess_params_from_config(const fv_vit_config *cfg, fv_preprocess_params *p);

/* Sizes, offsets and PIL filter tables for an src_h x src_w image. */
fv_status fv_preprocess_plan_make(int src_h, int src_w, int dst_h, int dst_w, fv_interp interp, float crop_pct,
                                  fv_crop_mode mode, fv_preprocess_plan *plan, fv_error *err);
void fv_preprocess_plan_free(fv_preprocess_plan *plan);

/* PIL's antialiased filter table for resizing in_size -> out_size along one axis, with
 * PIL's 8-bit fixed-point weights (22 fractional bits) so rounding matches PIL's. */
fv_status fv_resample_table_make(int in_size, int out_size, fv_interp interp, fv_resample_table *t, fv_error *err);

/* Adds INPUT (U8 [src_h, src_w, channels]) -> RESAMPLE (axis 1) -> RESAMPLE (axis 0) ->
 * CROP_NORMALIZE ([channels, dst_h, dst_w], marked as output) to g. The resample passes
 * compute only the cropped columns / rows (identical values, smaller intermediates). The
 * tables are copied into the graph, so the plan may be freed afterwards. */
fv_status fv_preprocess_build(fv_graph *g, const fv_preprocess_plan *plan, int channels, const float *mean,
                              const float *std, int *input_node, int *output_node, fv_error *err);

/* A reusable transform: keeps the recorded graph for the last source size, so images of one
 * size (a data set, video frames) are preprocessed by replay alone. */
typedef struct fv_preprocessor fv_preprocessor;
fv_status fv_preprocessor_new(fv_device *dev, const fv_preprocess_params *p, fv_preprocessor **out, fv_error *err);
/* out_chw receives img->channels * p->height * p->width floats. */
fv_status fv_preprocessor_run(fv_preprocessor *pp, const fv_image *img, float *out_chw, fv_error *err);
void fv_preprocessor_free(fv_preprocessor *pp);

/* Plans, builds and runs the transform for one image on dev (NULL: the CPU executor).
 * out_chw receives img->channels * p->height * p->width floats. */
fv_status fv_preprocess_image(fv_device *dev, const fv_image *img, const fv_preprocess_params *p, float *out_chw,
                              fv_error *err);

#endif
