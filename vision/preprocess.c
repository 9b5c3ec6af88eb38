/* preprocess.c: sizes, crop offsets and PIL filter tables for timm's eval transform, and
 * the small graph that applies them (see preprocess.h for the size rules).
 *
 * The filter tables follow PIL's documented resampling (Image.resize with reducing_gap
 * None): each output pixel o along an axis covers source centre (o + 0.5) * scale with
 * scale = in / out; when shrinking, the filter is stretched by scale (antialiasing) and
 * its support grows accordingly; weights are normalised to sum to one; PIL resizes
 * horizontally first, rounds to 8 bits, then vertically, and skips a pass whose size does
 * not change. PIL's 8-bit path uses weights in fixed point with 22 fractional bits and
 * rounds half up; quantising our weights the same way makes the float sums (exact to
 * ~1e-5 here) round like PIL's integers. tests/test_preprocess.c checks against
 * torchvision outputs. The PIL C source is not used; this was written from the
 * behaviour and verified numerically. Not done here: decoding, batching of images. */
#include "preprocess.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* PIL's 8-bit resampler keeps weights with this many fractional bits (32 - 8 - 2). */
#define PIL_PRECISION_BITS 22

/* Bicubic with a = -0.5 (PIL, like Keys' cubic convolution), support 2. */
static double bicubic(double x) {
  const double a = -0.5;
  x = fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0;
  if (x < 2.0) return (((x - 5.0) * x + 8.0) * x - 4.0) * a;
  return 0.0;
}

/* Triangle, support 1. */
static double bilinear(double x) {
  x = fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

/* Round half away from zero to the fixed-point grid, as PIL does for its 8-bit weights. */
static float quantise_weight(double w) {
  const double one = (double)(1 << PIL_PRECISION_BITS);
  double k = w < 0 ? ceil(w * one - 0.5) : floor(w * one + 0.5);
  return (float)(k / one); /* |k| < 2^23: exact in float */
}

fv_status fv_resample_table_make(int in_size, int out_size, fv_interp interp, fv_resample_table *t, fv_error *err) {
  memset(t, 0, sizeof *t);
  if (in_size < 1 || out_size < 1 || in_size > FV_IMAGE_MAX_DIM * 16 || out_size > FV_IMAGE_MAX_DIM * 16)
    return fv_fail(err, "preprocess: cannot resample %d -> %d pixels, expected sizes in 1..%d", in_size, out_size,
                   FV_IMAGE_MAX_DIM * 16);
  if (interp != FV_INTERP_BICUBIC && interp != FV_INTERP_BILINEAR)
    return fv_fail(err, "preprocess: interpolation %d is not bicubic or bilinear", (int)interp);
  double (*filter)(double) = interp == FV_INTERP_BICUBIC ? bicubic : bilinear;
  double filter_support = interp == FV_INTERP_BICUBIC ? 2.0 : 1.0;
  double scale = (double)in_size / out_size;
  double filter_scale = scale < 1.0 ? 1.0 : scale; /* upscaling never narrows the filter */
  double support = filter_support * filter_scale;
  /* Upper bound on taps per output pixel; the table uses the largest actual count. */
  int max_taps = (int)ceil(support) * 2 + 1;
  if (max_taps > in_size) max_taps = in_size;
  double *w = malloc(sizeof *w * (size_t)max_taps);
  int *first = malloc(sizeof *first * (size_t)out_size), *count = malloc(sizeof *count * (size_t)out_size);
  float *weights = malloc(sizeof *weights * (size_t)out_size * (size_t)max_taps);
  if (!w || !first || !count || !weights) {
    free(w), free(first), free(count), free(weights);
    return fv_fail(err, "preprocess: out of memory for a %d -> %d resampling table", in_size, out_size);
  }
  int taps = 1;
  for (int o = 0; o < out_size; o++) {
    double centre = (o + 0.5) * scale;
    /* C casts truncate toward zero; PIL's bounds do the same before clamping. */
    int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in_size) hi = in_size;
    int n = hi - lo;
    if (n > max_taps) n = max_taps; /* cannot happen by construction; keeps writes in bounds */
    if (n < 1) n = 0;
    double sum = 0.0;
    for (int k = 0; k < n; k++) {
      w[k] = filter((k + lo - centre + 0.5) / filter_scale);
      sum += w[k];
    }
    for (int k = 0; k < max_taps; k++)
      weights[(size_t)o * max_taps + k] = k < n ? quantise_weight(sum != 0.0 ? w[k] / sum : w[k]) : 0.0f;
    first[o] = lo;
    count[o] = n;
    if (n > taps) taps = n;
  }
  size_t stride = 2 + (size_t)taps;
  t->table = calloc((size_t)out_size * stride, sizeof *t->table);
  if (!t->table) {
    free(w), free(first), free(count), free(weights);
    return fv_fail(err, "preprocess: out of memory for a %d -> %d resampling table", in_size, out_size);
  }
  for (int o = 0; o < out_size; o++) {
    float *row = t->table + (size_t)o * stride;
    row[0] = (float)first[o]; /* indices < 2^24: exact in float */
    row[1] = (float)count[o];
    memcpy(row + 2, weights + (size_t)o * max_taps, sizeof(float) * (size_t)count[o]);
  }
  t->in_size = in_size;
  t->out_size = out_size;
  t->taps = taps;
  free(w), free(first), free(count), free(weights);
  return FV_OK;
}

/* The crop_pct a Python config holds is a decimal double (0.9); ours went through float
 * (0.89999998). floor(S / crop_pct) must be computed with the double Python had, or a
 * quotient that lands on an integer can come out one smaller: recover it by printing the
 * float with 7 significant digits, which round-trips any decimal of up to 7 digits. */
static double python_crop_pct(float crop_pct) {
  char text[32];
  snprintf(text, sizeof text, "%.7g", (double)crop_pct);
  return strtod(text, NULL);
}

/* Python's int(round(d / 2.0)) for d >= 0: round half to even. */
static int centre_offset(int d) {
  int half = d / 2;
  if (d % 2 == 0) return half;
  return half % 2 == 0 ? half : half + 1;
}

void fv_preprocess_plan_free(fv_preprocess_plan *plan) {
  if (!plan) return;
  free(plan->horizontal.table);
  free(plan->vertical.table);
  memset(plan, 0, sizeof *plan);
}

fv_status fv_preprocess_plan_make(int src_h, int src_w, int dst_h, int dst_w, fv_interp interp, float crop_pct,
                                  fv_crop_mode mode, fv_preprocess_plan *plan, fv_error *err) {
  memset(plan, 0, sizeof *plan);
  if (src_h < 1 || src_w < 1 || src_h > FV_IMAGE_MAX_DIM || src_w > FV_IMAGE_MAX_DIM)
    return fv_fail(err, "preprocess: image is %dx%d (HxW), expected sides in 1..%d", src_h, src_w, FV_IMAGE_MAX_DIM);
  if (dst_h < 1 || dst_w < 1 || dst_h > FV_IMAGE_MAX_DIM || dst_w > FV_IMAGE_MAX_DIM)
    return fv_fail(err, "preprocess: model input size is %dx%d (HxW), expected sides in 1..%d", dst_h, dst_w,
                   FV_IMAGE_MAX_DIM);
  if (!(crop_pct > 0.0f && crop_pct <= 1.0f))
    return fv_fail(err,
                   "preprocess: crop_pct is %g, expected a value in (0, 1] (a larger value would make torchvision "
                   "pad the crop, which is not supported)",
                   (double)crop_pct);
  if (mode != FV_CROP_CENTER && mode != FV_CROP_SQUASH)
    return fv_fail(err, "preprocess: crop mode %d is not center or squash", (int)mode);
  double pct = python_crop_pct(crop_pct);
  double scaled_h = floor(dst_h / pct), scaled_w = floor(dst_w / pct);
  double new_h, new_w;
  if (mode == FV_CROP_CENTER && dst_h == dst_w) {
    /* torchvision Resize(int): the shorter side becomes S, the longer int(S * long / short). */
    double s = scaled_h;
    if (src_w <= src_h) {
      new_w = s;
      new_h = floor(s * src_h / src_w);
    } else {
      new_h = s;
      new_w = floor(s * src_w / src_h);
    }
  } else {
    new_h = scaled_h;
    new_w = scaled_w;
  }
  if (new_h > FV_IMAGE_MAX_DIM * 16.0 || new_w > FV_IMAGE_MAX_DIM * 16.0)
    return fv_fail(err,
                   "preprocess: a %dx%d image would be resized to %.0fx%.0f for a %dx%d crop, larger than %d a side; "
                   "the aspect ratio is too extreme",
                   src_h, src_w, new_h, new_w, dst_h, dst_w, FV_IMAGE_MAX_DIM * 16);
  plan->src_h = src_h;
  plan->src_w = src_w;
  plan->resize_h = (int)new_h;
  plan->resize_w = (int)new_w;
  plan->dst_h = dst_h;
  plan->dst_w = dst_w;
  plan->interp = interp;
  /* crop_pct <= 1 makes the resized image at least as large as the crop on both sides. */
  if (plan->resize_h < dst_h || plan->resize_w < dst_w)
    return fv_fail(err, "preprocess: resized image %dx%d is smaller than the %dx%d crop", plan->resize_h,
                   plan->resize_w, dst_h, dst_w);
  plan->top = centre_offset(plan->resize_h - dst_h);
  plan->left = centre_offset(plan->resize_w - dst_w);
  /* PIL skips a pass whose size does not change. */
  if (plan->resize_w != src_w && fv_resample_table_make(src_w, plan->resize_w, interp, &plan->horizontal, err))
    return FV_ERR;
  if (plan->resize_h != src_h && fv_resample_table_make(src_h, plan->resize_h, interp, &plan->vertical, err)) {
    fv_preprocess_plan_free(plan);
    return FV_ERR;
  }
  return FV_OK;
}

fv_status fv_preprocess_build(fv_graph *g, const fv_preprocess_plan *plan, int channels, const float *mean,
                              const float *std, int *input_node, int *output_node, fv_error *err) {
  if (channels != 1 && channels != 3) return fv_fail(err, "preprocess: %d image channels, expected 1 or 3", channels);
  int64_t shape[3] = {plan->src_h, plan->src_w, channels};
  int x = fv_input(g, "preprocess.image", FV_U8, 3, shape);
  int in = x;
  /* Every output pixel of a pass depends only on its own table row, so a pass computes
   * just the rows / columns the centre crop keeps: the same values as resizing everything
   * and cropping, with intermediates no larger than src_h x dst_w (an extreme aspect ratio
   * would otherwise make the resized image huge). A skipped pass leaves its crop offset
   * to CROP_NORMALIZE. */
  const fv_resample_table *passes[2] = {&plan->horizontal, &plan->vertical};
  int applied = 0, crop_offset[2] = {plan->top, plan->left};
  const int keep[2] = {plan->dst_h, plan->dst_w};
  for (int axis = 1; axis >= 0; axis--) {
    const fv_resample_table *t = passes[1 - axis];
    if (!t->table) continue;
    const float *rows = t->table + (size_t)crop_offset[axis] * (2 + (size_t)t->taps);
    int64_t tshape[2] = {keep[axis], 2 + t->taps};
    int table = fv_weight(g, axis == 1 ? "preprocess.table_w" : "preprocess.table_h", 2, tshape, rows, FV_F32, 1);
    x = fv_resample(g, x, table, axis, keep[axis], t->taps, 1);
    crop_offset[axis] = 0;
    applied++;
  }
  if (applied == 0) {
    /* The image already has the resize size. The U8 input may only feed a resample, so an
     * identity one (one tap of weight 1 per column) turns it into floats, exactly. */
    float *identity = malloc(sizeof *identity * 3 * (size_t)plan->src_w);
    if (!identity) return fv_fail(err, "preprocess: out of memory for an identity table");
    for (int o = 0; o < plan->src_w; o++) {
      identity[3 * o] = (float)o;
      identity[3 * o + 1] = 1.0f;
      identity[3 * o + 2] = 1.0f;
    }
    int64_t tshape[2] = {plan->src_w, 3};
    int table = fv_weight(g, "preprocess.identity", 2, tshape, identity, FV_F32, 1);
    free(identity);
    x = fv_resample(g, x, table, 1, plan->src_w, 1, 1);
  }
  int out = fv_crop_normalize(g, x, crop_offset[0], crop_offset[1], plan->dst_h, plan->dst_w, mean, std);
  fv_set_name(g, out, "preprocess.output");
  fv_mark_output(g, out);
  if (g->status != FV_OK) return fv_fail(err, "preprocess: building the graph failed: %s", g->error.msg);
  *input_node = in;
  *output_node = out;
  return FV_OK;
}

void fv_preprocess_params_from_config(const fv_vit_config *cfg, fv_preprocess_params *p) {
  memset(p, 0, sizeof *p);
  p->height = cfg->img_size[0];
  p->width = cfg->img_size[1];
  p->interp = cfg->interpolation;
  p->crop_pct = cfg->crop_pct;
  p->crop_mode = cfg->crop_mode;
  for (int c = 0; c < 3; c++) {
    p->mean[c] = cfg->mean[c];
    p->std[c] = cfg->std[c];
  }
}

/* The graph and executor for one source size: rebuilt only when the size changes, so a data
 * set of equal-sized images records its preprocessing once. */
struct fv_preprocessor {
  fv_device *dev;
  fv_preprocess_params params;
  int src_h, src_w, channels; /* what graph/ex were built for; 0 when none */
  fv_graph graph;
  fv_exec *ex;
  int input, output;
};

fv_status fv_preprocessor_new(fv_device *dev, const fv_preprocess_params *p, fv_preprocessor **out, fv_error *err) {
  *out = calloc(1, sizeof **out);
  if (!*out) return fv_fail(err, "out of memory");
  (*out)->dev = dev;
  (*out)->params = *p;
  fv_graph_init(&(*out)->graph);
  return FV_OK;
}

void fv_preprocessor_free(fv_preprocessor *pp) {
  if (!pp) return;
  fv_exec_free(pp->ex);
  fv_graph_free(&pp->graph);
  free(pp);
}

static fv_status rebuild(fv_preprocessor *pp, const fv_image *img, fv_error *err) {
  fv_exec_free(pp->ex);
  pp->ex = NULL;
  fv_graph_free(&pp->graph);
  fv_graph_init(&pp->graph);
  pp->src_h = pp->src_w = pp->channels = 0;
  const fv_preprocess_params *p = &pp->params;
  fv_preprocess_plan plan;
  if (fv_preprocess_plan_make(img->height, img->width, p->height, p->width, p->interp, p->crop_pct, p->crop_mode, &plan,
                              err))
    return FV_ERR;
  fv_status st = fv_preprocess_build(&pp->graph, &plan, img->channels, p->mean, p->std, &pp->input, &pp->output, err);
  fv_preprocess_plan_free(&plan); /* the graph holds copies of the tables */
  if (st == FV_OK) st = fv_exec_new(pp->dev, &pp->graph, NULL, &pp->ex, err);
  if (st == FV_OK) {
    pp->src_h = img->height;
    pp->src_w = img->width;
    pp->channels = img->channels;
  }
  return st;
}

fv_status fv_preprocessor_run(fv_preprocessor *pp, const fv_image *img, float *out_chw, fv_error *err) {
  if (!img || !img->pixels || (img->channels != 1 && img->channels != 3))
    return fv_fail(err, "preprocess: the image has no pixels or %d channels, expected 1 or 3", img ? img->channels : 0);
  if ((img->height != pp->src_h || img->width != pp->src_w || img->channels != pp->channels) && rebuild(pp, img, err))
    return FV_ERR;
  size_t n_in = (size_t)img->width * img->height * img->channels;
  size_t n_out = (size_t)img->channels * pp->params.height * pp->params.width;
  if (fv_exec_write(pp->ex, pp->input, img->pixels, n_in, err) || fv_exec_run(pp->ex, err) ||
      fv_exec_read(pp->ex, pp->output, out_chw, n_out, err))
    return FV_ERR;
  return FV_OK;
}

fv_status fv_preprocess_image(fv_device *dev, const fv_image *img, const fv_preprocess_params *p, float *out_chw,
                              fv_error *err) {
  fv_preprocessor *pp;
  if (fv_preprocessor_new(dev, p, &pp, err)) return FV_ERR;
  fv_status st = fv_preprocessor_run(pp, img, out_chw, err);
  fv_preprocessor_free(pp);
  return st;
}
