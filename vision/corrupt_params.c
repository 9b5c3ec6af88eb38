/* corrupt_params.c: the names of the 19 corruptions and the three parameter tables
 * (shared/design/methods/corruptions.md: spec 2 for imagenet, 6.1 for cifar10, 6.2 for tiny),
 * copied verbatim from the spec, plus numpy's arange for the zoom factors.
 *
 * Rows hold the spec's columns in order:
 *   noise (0, 1, 2, 15)   sigma / lambda / amount / sigma
 *   defocus_blur          radius, alias sigma
 *   glass_blur            sigma, delta, iterations
 *   motion_blur           radius, sigma
 *   zoom_blur             arange start, stop, step
 *   snow                  mu, sigma, zoom, threshold, blur radius, blur sigma, blend
 *   frost                 image weight a, frost weight b
 *   fog                   strength c, wibble decay
 *   brightness            dV;  contrast: factor k;  pixelate: scale;  jpeg: quality
 *   elastic_transform     imagenet: variant 0 (imagecorruptions), alpha (--variant hendrycks:
 *                         the row below, variant 1 with the 224 constants);
 *                         cifar10 / tiny: variant 1 (hendrycks), alpha, sigma, affine A, all
 *                         already multiplied by the table's image size as the scripts do
 *   gaussian_blur         sigma
 *   spatter               mu, sigma, blur sigma, threshold, intensity, mode (0 water, 1 mud)
 *   saturate              mult a, add b
 * Nothing here depends on the image size; the size-dependent pieces (spec 6.3) are derived
 * in corrupt.c. */
#include <math.h>
#include <string.h>

#include "corrupt_params.h"

static const char *const names[FV_CORRUPTION_COUNT] = {"gaussian_noise",
                                                       "shot_noise",
                                                       "impulse_noise",
                                                       "defocus_blur",
                                                       "glass_blur",
                                                       "motion_blur",
                                                       "zoom_blur",
                                                       "snow",
                                                       "frost",
                                                       "fog",
                                                       "brightness",
                                                       "contrast",
                                                       "elastic_transform",
                                                       "pixelate",
                                                       "jpeg_compression",
                                                       "speckle_noise",
                                                       "gaussian_blur",
                                                       "spatter",
                                                       "saturate"};

const char *fv_corruption_name(int c) { return c >= 0 && c < FV_CORRUPTION_COUNT ? names[c] : "unknown"; }

int fv_corruption_from_name(const char *name) {
  if (!name) return -1;
  for (int c = 0; c < FV_CORRUPTION_COUNT; c++)
    if (strcmp(name, names[c]) == 0) return c;
  return -1;
}

/* Spec 2: the deterministic ones draw nothing; motion blur is random through its angle only. */
int fv_corruption_is_random(int c) {
  switch (c) {
    case FV_DEFOCUS_BLUR:
    case FV_ZOOM_BLUR:
    case FV_BRIGHTNESS:
    case FV_CONTRAST:
    case FV_PIXELATE:
    case FV_JPEG_COMPRESSION:
    case FV_GAUSSIAN_BLUR:
    case FV_SATURATE: return 0;
    default: return c >= 0 && c < FV_CORRUPTION_COUNT;
  }
}

static const char *const table_names[] = {"imagenet", "cifar10", "tiny"};
static const int table_sizes[] = {224, 32, 64};

const char *fv_corrupt_table_name(fv_corrupt_table t) { return (int)t >= 0 && (int)t < 3 ? table_names[t] : "unknown"; }

int fv_corrupt_table_from_name(const char *name) {
  if (!name) return -1;
  for (int t = 0; t < 3; t++)
    if (strcmp(name, table_names[t]) == 0) return t;
  return -1;
}

int fv_corrupt_table_size(fv_corrupt_table t) { return (int)t >= 0 && (int)t < 3 ? table_sizes[t] : 0; }

static const char *const variant_names[] = {"imagecorruptions", "hendrycks"};

const char *fv_corrupt_variant_name(fv_corrupt_variant v) {
  return (int)v >= 0 && (int)v < 2 ? variant_names[v] : "unknown";
}

int fv_corrupt_variant_from_name(const char *name) {
  if (!name) return -1;
  for (int v = 0; v < 2; v++)
    if (strcmp(name, variant_names[v]) == 0) return v;
  return -1;
}

/* The original ImageNet-C script's elastic_transform at 224 (spec 3.11, hendrycks): variant 1,
 * then (alpha, sigma, A) = 244 * (...) as the script writes them ("244 should have been 224"). */
static const double hendrycks_elastic_224[5][FV_CORRUPT_PARAM_COUNT] = {
    {1, 244 * 2.0, 244 * 0.7, 244 * 0.1},    {1, 244 * 2.0, 244 * 0.08, 244 * 0.2},
    {1, 244 * 0.05, 244 * 0.01, 244 * 0.02}, {1, 244 * 0.07, 244 * 0.01, 244 * 0.02},
    {1, 244 * 0.12, 244 * 0.01, 244 * 0.02},
};

/* [table][corruption][severity - 1][column] */
static const double tables[3][FV_CORRUPTION_COUNT][5][FV_CORRUPT_PARAM_COUNT] = {
    /* ---- imagenet (spec 2; elastic: imagecorruptions, spec 3.11) ---- */
    {
        {{.08}, {.12}, {.18}, {.26}, {.38}},
        {{60}, {25}, {12}, {5}, {3}},
        {{.03}, {.06}, {.09}, {.17}, {.27}},
        {{3, .1}, {4, .5}, {6, .5}, {8, .5}, {10, .5}},
        {{.7, 1, 2}, {.9, 2, 1}, {1, 2, 3}, {1.1, 3, 2}, {1.5, 4, 2}},
        {{10, 3}, {15, 5}, {15, 8}, {15, 12}, {20, 15}},
        {{1, 1.11, .01}, {1, 1.16, .01}, {1, 1.21, .02}, {1, 1.26, .02}, {1, 1.31, .03}},
        {{.1, .3, 3, .5, 10, 4, .8},
         {.2, .3, 2, .5, 12, 4, .7},
         {.55, .3, 4, .9, 12, 8, .7},
         {.55, .3, 4.5, .85, 12, 8, .65},
         {.55, .3, 2.5, .85, 12, 12, .55}},
        {{1, .4}, {.8, .6}, {.7, .7}, {.65, .7}, {.6, .75}},
        {{1.5, 2}, {2, 2}, {2.5, 1.7}, {2.5, 1.5}, {3, 1.4}},
        {{.1}, {.2}, {.3}, {.4}, {.5}},
        {{.4}, {.3}, {.2}, {.1}, {.05}},
        {{0, 250 * 0.05}, {0, 250 * 0.065}, {0, 250 * 0.085}, {0, 250 * 0.1}, {0, 250 * 0.12}},
        {{.6}, {.5}, {.4}, {.3}, {.25}},
        {{25}, {18}, {15}, {10}, {7}},
        {{.15}, {.2}, {.35}, {.45}, {.6}},
        {{1}, {2}, {3}, {4}, {6}},
        {{.65, .3, 4, .69, .6, 0},
         {.65, .3, 3, .68, .6, 0},
         {.65, .3, 2, .68, .5, 0},
         {.65, .3, 1, .65, 1.5, 1},
         {.67, .4, 1, .65, 1.5, 1}},
        {{.3, 0}, {.1, 0}, {2, 0}, {5, .1}, {20, .2}},
    },
    /* ---- cifar10, 32 px (spec 6.1) ---- */
    {
        {{.04}, {.06}, {.08}, {.09}, {.10}},
        {{500}, {250}, {100}, {75}, {50}},
        {{.01}, {.02}, {.03}, {.05}, {.07}},
        {{.3, .4}, {.4, .5}, {.5, .6}, {1, .2}, {1.5, .1}},
        {{.05, 1, 1}, {.25, 1, 1}, {.4, 1, 1}, {.25, 1, 2}, {.4, 1, 2}},
        {{6, 1}, {6, 1.5}, {6, 2}, {8, 2}, {9, 2.5}},
        {{1, 1.06, .01}, {1, 1.11, .01}, {1, 1.16, .01}, {1, 1.21, .01}, {1, 1.26, .01}},
        {{.1, .2, 1, .6, 8, 3, .95},
         {.1, .2, 1, .5, 10, 4, .9},
         {.15, .3, 1.75, .55, 10, 4, .9},
         {.25, .3, 2.25, .6, 12, 6, .85},
         {.3, .3, 1.25, .65, 14, 12, .8}},
        {{1, .2}, {1, .3}, {.9, .4}, {.85, .4}, {.75, .45}},
        {{.2, 3}, {.5, 3}, {.75, 2.5}, {1, 2}, {1.5, 1.75}},
        {{.05}, {.1}, {.15}, {.2}, {.3}},
        {{.75}, {.5}, {.4}, {.3}, {.15}},
        {{1, 32 * 0.0, 32 * 0.0, 32 * .08},
         {1, 32 * .05, 32 * .2, 32 * .07},
         {1, 32 * .08, 32 * .06, 32 * .06},
         {1, 32 * .1, 32 * .04, 32 * .05},
         {1, 32 * .1, 32 * .03, 32 * .03}},
        {{.95}, {.9}, {.85}, {.75}, {.65}},
        {{80}, {65}, {58}, {50}, {40}},
        {{.06}, {.1}, {.12}, {.16}, {.2}},
        {{.4}, {.6}, {.7}, {.8}, {1}},
        {{.62, .1, .7, .7, .5, 0},
         {.65, .1, .8, .7, .5, 0},
         {.65, .3, 1, .69, .5, 0},
         {.65, .1, .7, .69, .6, 1},
         {.65, .1, .5, .68, .6, 1}},
        {{.3, 0}, {.1, 0}, {1.5, 0}, {2, .1}, {2.5, .2}},
    },
    /* ---- tiny, 64 px (spec 6.2) ---- */
    {
        {{.04}, {.08}, {.12}, {.15}, {.18}},
        {{250}, {100}, {50}, {30}, {15}},
        {{.01}, {.02}, {.05}, {.08}, {.14}},
        {{.5, .6}, {1, .1}, {1.5, .1}, {2.5, .01}, {3, .1}},
        {{.1, 1, 1}, {.5, 1, 1}, {.6, 1, 2}, {.7, 2, 1}, {.9, 2, 2}},
        {{10, 1}, {10, 1.5}, {10, 2}, {10, 2.5}, {12, 3}},
        {{1, 1.06, .01}, {1, 1.11, .01}, {1, 1.16, .01}, {1, 1.21, .01}, {1, 1.26, .01}},
        {{.1, .2, 1, .6, 8, 3, .8},
         {.1, .2, 1, .5, 10, 4, .8},
         {.15, .3, 1.75, .55, 10, 4, .7},
         {.25, .3, 2.25, .6, 12, 6, .65},
         {.3, .3, 1.25, .65, 14, 12, .6}},
        {{1, .3}, {.9, .4}, {.8, .45}, {.75, .5}, {.7, .55}},
        {{.4, 3}, {.7, 3}, {1, 2.5}, {1.5, 2}, {2, 1.75}},
        {{.1}, {.2}, {.3}, {.4}, {.5}},
        {{.4}, {.3}, {.2}, {.1}, {.05}},
        {{1, 64 * 0.0, 64 * 0.0, 64 * .08},
         {1, 64 * .05, 64 * .3, 64 * .06},
         {1, 64 * .1, 64 * .08, 64 * .06},
         {1, 64 * .1, 64 * .03, 64 * .03},
         {1, 64 * .16, 64 * .03, 64 * .02}},
        {{.9}, {.8}, {.7}, {.6}, {.5}},
        {{65}, {58}, {50}, {40}, {25}},
        {{.15}, {.2}, {.25}, {.3}, {.35}},
        {{.5}, {.75}, {1}, {1.25}, {1.5}},
        {{.62, .1, .7, .7, .6, 0},
         {.65, .1, .8, .7, .6, 0},
         {.65, .3, 1, .69, .6, 0},
         {.65, .1, .7, .68, .6, 1},
         {.65, .1, .5, .67, .6, 1}},
        {{.3, 0}, {.1, 0}, {2, 0}, {5, .1}, {30, .2}},
    },
};

const double *fv_corrupt_params(fv_corrupt_table t, int c, int severity) {
  if ((int)t < 0 || (int)t > 2 || c < 0 || c >= FV_CORRUPTION_COUNT || severity < 1 || severity > 5) return NULL;
  return tables[t][c][severity - 1];
}

const double *fv_corrupt_params_variant(fv_corrupt_table t, fv_corrupt_variant variant, int c, int severity) {
  const double *row = fv_corrupt_params(t, c, severity);
  if (row && t == FV_TABLE_IMAGENET && variant == FV_VARIANT_HENDRYCKS && c == FV_ELASTIC_TRANSFORM)
    return hendrycks_elastic_224[severity - 1];
  return row;
}

int fv_corrupt_arange(double start, double stop, double step, double *out, int cap) {
  /* numpy: length = ceil((stop - start) / step); element i = start + i * delta with
   * delta = (start + step) - start, which differs from step in the last bits. */
  double len = ceil((stop - start) / step);
  if (!(len > 0)) return 0;
  if (len > 1e6) len = 1e6;
  int n = (int)len;
  double delta = (start + step) - start;
  for (int i = 0; i < n && i < cap; i++) out[i] = start + i * delta;
  return n;
}
