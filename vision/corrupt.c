/* corrupt.c: the corruptor: builds one engine graph per (corruption, severity, batch, height,
 * width) from the image ops of engine/graph.h, keeps the few most recent ones recorded, and
 * replays them for batches of images; the host fills the inputs that are sequential or come
 * from files (glass blur's copy chain, frost crops, spatter's water mask, elastic's affine map)
 * and runs JPEG itself. Spec: shared/design/methods/corruptions.md ("spec" below).
 *
 * Every graph starts from an F32 image input [B, H, W, 3] in 0..255 (the host widens the
 * bytes) and a U32 key input [B], and ends in a node whose values are already whole numbers in
 * 0..255 (a PIXEL mode that truncates, QUANTIZE, or PIL's rounding resample), so reading it
 * back is a plain cast. Both executors (Vulkan and the CPU one) run the same graph; there is
 * no private CPU path.
 *
 * Motion blur and snow draw one angle per image, so their ray kernel differs per image: the
 * host fills those rays into a per-image taps input [B, T, 3] of their STENCIL node, so they
 * batch and their graphs are recorded once like the others'.
 *
 * Not here: the parameter tables (corrupt_params.c), the host algorithms themselves
 * (corrupt_glass.c, corrupt_frost.c, corrupt_spatter.c, jpeg.c), file I/O (apps/). */
#include "corrupt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/exec.h"
#include "../engine/graph.h"
#include "../engine/philox.h"
#include "corrupt_frost.h"
#include "corrupt_glass.h"
#include "corrupt_params.h"
#include "corrupt_spatter.h"
#include "jpeg.h"

#define CACHE_SLOTS 4
#define MAX_ZOOM_FACTORS 64
/* Largest image tensor of one batch; keeps every binding far below lavapipe's 128 MiB range. */
#define MAX_BATCH_BYTES (48u << 20)

typedef struct plan {
  int used;
  int c, severity, batch, height, width;
  unsigned long last_use;
  fv_graph g;
  fv_exec *ex;
  int image, keys, out;
  int aux[2];    /* host-filled inputs (-1 when unused) */
  int aux_ch[2]; /* their channel counts */
  int taps;      /* motion blur, snow: the per-image ray taps input [B, ray_taps, 3], else -1 */
  int ray_taps;
  float *host_img; /* batch * H * W * 3 */
  float *host_aux[2];
  float *host_taps;
  uint32_t *host_keys;
  float *host_out;
} plan;

struct fv_corruptor {
  fv_device *dev;
  fv_corrupt_options opt;
  plan cache[CACHE_SLOTS];
  unsigned long tick;
  fv_frost_textures *frost;
  char frost_source[512];
  long empty_spatter;
  char note[256];
  int note_pending, note_given;
  int force_motion;
  double motion_degrees;
};

/* ---- small graph helpers ----------------------------------------------------------------- */

static int pixel(fv_graph *g, int x, int layer, int stats, int keys, fv_pixel_mode m, double a0, double a1, double a2,
                 double a3, const fv_rng_params *rng) {
  float a[4] = {(float)a0, (float)a1, (float)a2, (float)a3};
  return fv_pixel(g, x, layer, stats, keys, m, a, rng);
}

static int weight_rows(fv_graph *g, const char *name, const float *rows, int64_t n, int64_t cols) {
  int64_t shape[2] = {n, cols};
  return fv_weight(g, name, 2, shape, rows, FV_F32, 1);
}

/* scipy.ndimage's 1-D Gaussian (skimage.filters.gaussian): radius int(truncate sigma + 0.5),
 * exp(-x^2 / 2 sigma^2) normalised to 1, in double; every weight times mult. sigma <= 1e-15:
 * scipy skips the axis, i.e. the single weight mult. Writes the taps along `axis` (0 = rows
 * move, dy; 1 = columns move, dx) and returns the tap count. */
static int gauss_taps(double sigma, double truncate, int axis, double mult, float *taps, int cap) {
  if (!(sigma > 1e-15)) {
    taps[0] = taps[1] = 0.0f;
    taps[2] = (float)mult;
    return 1;
  }
  int radius = (int)(truncate * sigma + 0.5);
  if (2 * radius + 1 > cap) radius = (cap - 1) / 2;
  double sum = 0.0, w[4097];
  for (int i = -radius; i <= radius; i++) sum += (w[i + radius] = exp(-0.5 / (sigma * sigma) * (double)i * i));
  for (int i = -radius; i <= radius; i++) {
    float *t = taps + 3 * (i + radius);
    t[0] = axis == 0 ? (float)i : 0.0f;
    t[1] = axis == 1 ? (float)i : 0.0f;
    t[2] = (float)(w[i + radius] / sum * mult);
  }
  return 2 * radius + 1;
}

/* Separable Gaussian blur of x: a column pass (sigma_y) then a row pass (sigma_x), scipy's axis
 * order; the row pass's weights are multiplied by mult. */
static int gauss_blur(fv_graph *g, int x, double sigma_y, double sigma_x, double truncate, fv_border border,
                      double mult) {
  enum { CAP = 2049 };
  float *taps = malloc(sizeof(float) * 3 * CAP);
  if (!taps) return -1;
  int n = gauss_taps(sigma_y, truncate, 0, 1.0, taps, CAP);
  int col = fv_stencil(g, x, weight_rows(g, "gauss.col", taps, n, 3), border);
  n = gauss_taps(sigma_x, truncate, 1, mult, taps, CAP);
  int row = fv_stencil(g, col, weight_rows(g, "gauss.row", taps, n, 3), border);
  free(taps);
  return row;
}

/* ---- kernels built on the host ------------------------------------------------------------- */

/* OpenCV getGaussianKernel(n, sigma) for sigma > 0, in double. */
static void cv_gaussian_kernel(int n, double sigma, double *k) {
  double sum = 0.0, scale2 = -0.5 / (sigma * sigma);
  for (int i = 0; i < n; i++) {
    double x = i - (n - 1) * 0.5;
    sum += (k[i] = exp(scale2 * x * x));
  }
  for (int i = 0; i < n; i++) k[i] /= sum;
}

static int reflect101(int i, int n) {
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * n - 2 - i;
  return i;
}

/* Spec 3.2's kernel K (the aliased disk D, blurred by cv2.GaussianBlur with reflect-101 at the
 * kernel's own border, not renormalised) is applied as G * (D * x) + E * x, which is the same
 * correlation (D and the Gaussian G are symmetric, so reflect-101 image borders commute with
 * them) at a fraction of the taps:
 *   D * x   = sum over rows dy of the disk of a row box [-a(dy), a(dy)], shifted by dy: row
 *             boxes are built incrementally (each wider one = the previous + its outer taps),
 *             then one column stencil per box width;
 *   G       = OpenCV's separable k x k Gaussian (a row and a column stencil);
 *   E       = K - G (x) D, the kernel-border effects: where the disk touches the grid's edge
 *             (radius 8 in 17 x 17, radius 10 in 21 x 21) GaussianBlur reflects instead of
 *             spreading outward; elsewhere E is zero up to rounding (weights below 1e-9, which
 *             move an fp32 sum of 0..255 values by less than its rounding, are dropped).
 * 429 taps become 87 at radius 10. Everything is computed in double and stored as float (the
 * reference keeps the disk in float32). */
typedef struct defocus_kernel {
  int half, ksize, n;         /* grid -half..half (n = 2 half + 1); Gaussian size */
  double radius, total, g[5]; /* disk pixel count (D = indicator / total), 1-D Gaussian */
} defocus_kernel;

static int in_disk(const defocus_kernel *d, int dy, int dx) {
  return (double)dx * dx + (double)dy * dy <= d->radius * d->radius;
}

static void defocus_setup(double radius, double alias, defocus_kernel *d) {
  d->radius = radius;
  d->half = radius <= 8 ? 8 : (int)radius;
  d->ksize = radius <= 8 ? 3 : 5;
  d->n = 2 * d->half + 1;
  d->total = 0;
  for (int i = -d->half; i <= d->half; i++)
    for (int j = -d->half; j <= d->half; j++) d->total += in_disk(d, i, j);
  cv_gaussian_kernel(d->ksize, alias, d->g);
}

/* E = K - G (x) D over the grid widened by the Gaussian's reach, as taps; returns the count. */
static int defocus_correction(const defocus_kernel *d, float *taps) {
  const int n = d->n, half = d->half, r = d->ksize / 2, m = n + 2 * r;
  double *disk = calloc((size_t)n * n, sizeof *disk), *tmp = calloc((size_t)n * n, sizeof *tmp);
  double *K = calloc((size_t)m * m, sizeof *K), *P = calloc((size_t)m * m, sizeof *P),
         *Q = calloc((size_t)m * m, sizeof *Q);
  int count = 0;
  if (!disk || !tmp || !K || !P || !Q) goto done;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) disk[i * n + j] = in_disk(d, i - half, j - half) / d->total;
  /* K on the grid: GaussianBlur with reflect-101 at the grid's border, along x then y. */
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0.0;
      for (int t = -r; t <= r; t++) acc += d->g[t + r] * disk[i * n + reflect101(j + t, n)];
      tmp[i * n + j] = acc;
    }
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      double acc = 0.0;
      for (int t = -r; t <= r; t++) acc += d->g[t + r] * tmp[reflect101(i + t, n) * n + j];
      K[(i + r) * m + (j + r)] = acc;
    }
  /* G (x) D with zero padding, on the widened grid. */
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double acc = 0.0;
      for (int t = -r; t <= r; t++) {
        int jj = j - r + t;
        if (jj >= 0 && jj < n && i - r >= 0 && i - r < n) acc += d->g[t + r] * disk[(i - r) * n + jj];
      }
      Q[i * m + j] = acc;
    }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double acc = 0.0;
      for (int t = -r; t <= r; t++) {
        int ii = i + t;
        if (ii >= 0 && ii < m) acc += d->g[t + r] * Q[ii * m + j];
      }
      P[i * m + j] = acc;
    }
  for (int i = 0; i < m; i++)
    for (int j = 0; j < m; j++) {
      double e = K[i * m + j] - P[i * m + j];
      if (fabs(e) >= 1e-9) {
        taps[3 * count] = (float)(i - r - half);
        taps[3 * count + 1] = (float)(j - r - half);
        taps[3 * count + 2] = (float)e;
        count++;
      }
    }
done:
  free(disk);
  free(tmp);
  free(K);
  free(P);
  free(Q);
  return count;
}

/* acc + the stencil of x (x alone when acc < 0): fv_add(acc, stencil) folded into the stencil
 * node (fv_stencil_add: the same fp32 addition, one pass over the image fewer). */
static int stencil_onto(fv_graph *g, int acc, int x, int taps) {
  return acc < 0 ? fv_stencil(g, x, taps, FV_BORDER_REFLECT101) : fv_stencil_add(g, x, taps, FV_BORDER_REFLECT101, acc);
}

static int defocus_graph(fv_graph *g, int x, double radius, double alias) {
  defocus_kernel d;
  defocus_setup(radius, alias, &d);
  const int half = d.half, n = d.n;
  /* a(dy): the disk's half-width on row dy, -1 where the row is empty. */
  int a_of[2 * 41 + 1], widths[41 + 1], n_widths = 0;
  if (n > 83) return -1;
  for (int dy = -half; dy <= half; dy++) {
    int a = -1;
    while (a + 1 <= half && in_disk(&d, dy, a + 1)) a++;
    a_of[dy + half] = a;
    int seen = a < 0;
    for (int k = 0; k < n_widths; k++) seen |= widths[k] == a;
    if (!seen) widths[n_widths++] = a;
  }
  for (int i = 1; i < n_widths; i++) /* ascending */
    for (int k = i; k > 0 && widths[k - 1] > widths[k]; k--) {
      int t = widths[k];
      widths[k] = widths[k - 1];
      widths[k - 1] = t;
    }
  float taps[3 * 2 * 128];
  const float w = (float)(1.0 / d.total);
  int sum = -1, row = -1, prev = -1;
  for (int k = 0; k < n_widths; k++) {
    /* Row box of half-width widths[k] = the previous box + its new outer taps. */
    int t = 0;
    for (int dx = prev + 1; dx <= widths[k]; dx++) {
      for (int sign = (dx == 0 ? 1 : -1); sign <= 1; sign += 2) {
        taps[3 * t] = 0.0f;
        taps[3 * t + 1] = (float)(sign * dx);
        taps[3 * t + 2] = w;
        t++;
      }
    }
    row = stencil_onto(g, row, x, weight_rows(g, "defocus.row", taps, t, 3));
    prev = widths[k];
    /* Every disk row of this half-width, shifted into place. */
    t = 0;
    for (int dy = -half; dy <= half; dy++)
      if (a_of[dy + half] == widths[k]) {
        taps[3 * t] = (float)dy;
        taps[3 * t + 1] = 0.0f;
        taps[3 * t + 2] = 1.0f;
        t++;
      }
    sum = stencil_onto(g, sum, row, weight_rows(g, "defocus.col", taps, t, 3));
  }
  /* OpenCV's Gaussian: rows then columns. */
  int t = 0, r = d.ksize / 2;
  for (int i = -r; i <= r; i++)
    taps[3 * t] = 0.0f, taps[3 * t + 1] = (float)i, taps[3 * t + 2] = (float)d.g[i + r], t++;
  int y = fv_stencil(g, sum, weight_rows(g, "defocus.gauss.x", taps, t, 3), FV_BORDER_REFLECT101);
  t = 0;
  for (int i = -r; i <= r; i++)
    taps[3 * t] = (float)i, taps[3 * t + 1] = 0.0f, taps[3 * t + 2] = (float)d.g[i + r], t++;
  y = fv_stencil(g, y, weight_rows(g, "defocus.gauss.y", taps, t, 3), FV_BORDER_REFLECT101);
  float *e = malloc(sizeof(float) * 3 * (size_t)(n + 4) * (n + 4));
  if (!e) return -1;
  int ne = defocus_correction(&d, e);
  if (ne > 0) y = stencil_onto(g, y, x, weight_rows(g, "defocus.edge", e, ne, 3));
  free(e);
  return y;
}

/* Spec 3.4 (imagecorruptions' _motion_blur): the one-sided Gaussian along the ray at `degrees`,
 * computed exactly as numpy does (point = width (sin, cos), offsets ceil(i point / hypot - 0.5)),
 * stopping where the ray leaves an H x W image. Writes 2 radius + 1 rows; the rows after a stop
 * have weight 0. */
static void motion_taps(int radius, double sigma, double degrees, int H, int W, float *taps) {
  int width = 2 * radius + 1;
  double *k = malloc(sizeof *k * (size_t)width), sum = 0.0;
  if (!k) return;
  for (int i = 0; i < width; i++)
    sum += (k[i] = exp(-((double)i * i) / (2.0 * sigma * sigma)) / (sqrt(2.0 * M_PI) * sigma));
  double rad = degrees * (M_PI / 180.0);
  double p0 = width * sin(rad), p1 = width * cos(rad), hyp = hypot(p0, p1);
  int stopped = 0;
  for (int i = 0; i < width; i++) {
    double oy = ceil((i * p0) / hyp - 0.5), ox = ceil((i * p1) / hyp - 0.5);
    if (fabs(oy) >= H || fabs(ox) >= W) stopped = 1;
    taps[3 * i] = stopped ? 0.0f : (float)oy;
    taps[3 * i + 1] = stopped ? 0.0f : (float)ox;
    taps[3 * i + 2] = stopped ? 0.0f : (float)(k[i] / sum);
  }
  free(k);
}

/* The per-image angle: motion blur U(-45, 45) (corruption 5, stream 0), snow U(-135, -45)
 * (corruption 7, stream 1), draw index 0. */
static double draw_angle(const fv_corruptor *cr, int c, int severity, uint32_t key) {
  if (c == FV_MOTION_BLUR && cr->force_motion) return cr->motion_degrees;
  fv_rng r = {cr->opt.seed, key, (uint32_t)c, (uint32_t)severity, c == FV_SNOW ? 1u : 0u};
  double u = fv_rng_uniform(&r, 0);
  return c == FV_SNOW ? -135.0 + 90.0 * u : -45.0 + 90.0 * u;
}

/* The ray of motion blur (over the image) or snow (over its zoomed snow layer): radius, sigma
 * and the size of what it blurs. */
static void zoom_row(int H, int W, double z, float row[4], int *oh, int *ow);
static void ray_layout(const fv_corruptor *cr, int c, int severity, int H, int W, int *radius, double *sigma, int *lh,
                       int *lw) {
  const double *v = fv_corrupt_params_variant(cr->opt.table, cr->opt.variant, c, severity);
  *lh = H, *lw = W;
  if (c == FV_MOTION_BLUR) {
    *radius = (int)v[0], *sigma = v[1];
    return;
  }
  float row[4];
  int oh, ow;
  zoom_row(H, W, v[2], row, &oh, &ow);
  *lh = oh < H ? H : oh; /* as build_body sizes the snow layer */
  *lw = ow < W ? W : ow;
  *radius = (int)v[4], *sigma = v[5];
}

/* clipped_zoom's crop and scipy.ndimage.zoom (order 1, corner-aligned) as one SAMPLE row
 * (ay, by, ax, bx), and the zoomed size (spec 3.5). */
static void zoom_row(int H, int W, double z, float row[4], int *oh, int *ow) {
  int ch = (int)ceil(H / z), cw = (int)ceil(W / z);
  int top = (H - ch) / 2, left = (W - cw) / 2;
  *oh = (int)rint(ch * z);
  *ow = (int)rint(cw * z);
  row[0] = *oh > 1 ? (float)((double)(ch - 1) / (*oh - 1)) : 0.0f;
  row[1] = (float)top;
  row[2] = *ow > 1 ? (float)((double)(cw - 1) / (*ow - 1)) : 0.0f;
  row[3] = (float)left;
}

/* PIL's filter table (Resample.c's precompute_coeffs with the box filter) for in -> out, with
 * 8-bit fixed-point weights (22 fractional bits), in FV_OP_RESAMPLE's layout. */
static float *box_table(int in, int out, int *taps_out) {
  double scale = (double)in / out, filterscale = scale < 1.0 ? 1.0 : scale, support = 0.5 * filterscale;
  int taps = (int)ceil(support) * 2 + 1;
  float *t = calloc((size_t)out * (2 + taps), sizeof *t);
  if (!t) return NULL;
  for (int o = 0; o < out; o++) {
    double centre = (o + 0.5) * scale, ww = 0.0, w[64];
    int lo = (int)(centre - support + 0.5), hi = (int)(centre + support + 0.5);
    if (lo < 0) lo = 0;
    if (hi > in) hi = in;
    int n = hi - lo;
    if (n > taps) n = taps;
    for (int k = 0; k < n; k++) {
      double x = (k + lo - centre + 0.5) / filterscale;
      w[k] = x > -0.5 && x <= 0.5 ? 1.0 : 0.0;
      ww += w[k];
    }
    float *row = t + (size_t)o * (2 + taps);
    row[0] = (float)lo;
    row[1] = (float)n;
    for (int k = 0; k < n; k++) {
      double v = ww != 0.0 ? w[k] / ww : w[k];
      row[2 + k] = (float)(floor(v * (1 << 22) + 0.5) / (1 << 22)); /* PIL rounds half up (v >= 0) */
    }
  }
  *taps_out = taps;
  return t;
}

/* PIL's NEAREST resize (ImagingScaleAffine): source index floor(x0) with x0 = 0.5 in/out,
 * advanced by in/out per pixel, accumulated in double exactly as PIL does. One tap each. */
static float *nearest_table(int in, int out) {
  float *t = calloc((size_t)out * 3, sizeof *t);
  if (!t) return NULL;
  double a = (double)in / out, xo = a * 0.5;
  for (int o = 0; o < out; o++) {
    int xin = xo < 0.0 ? -1 : (int)xo;
    if (xin < 0) xin = 0;
    if (xin >= in) xin = in - 1;
    t[3 * o] = (float)xin;
    t[3 * o + 1] = 1.0f;
    t[3 * o + 2] = 1.0f;
    xo += a;
  }
  return t;
}

/* ---- graph per corruption ------------------------------------------------------------------ */

typedef struct build_ctx {
  fv_corruptor *cr;
  plan *p;
} build_ctx;

static int next_pow2(int v) {
  int n = 1;
  while (n < v) n <<= 1;
  return n;
}

static int build_body(build_ctx *bc, fv_graph *g, int x, int keys) {
  plan *p = bc->p;
  const double *v = fv_corrupt_params_variant(bc->cr->opt.table, bc->cr->opt.variant, p->c, p->severity);
  const int B = p->batch, H = p->height, W = p->width, c = p->c, s = p->severity;
  fv_rng_params rng = {bc->cr->opt.seed, (uint32_t)c, (uint32_t)s, 0};
  switch (c) {
    case FV_GAUSSIAN_NOISE: return pixel(g, x, -1, -1, keys, FV_PIXEL_GAUSSIAN_NOISE, v[0], 0, 0, 0, &rng);
    case FV_SHOT_NOISE: return pixel(g, x, -1, -1, keys, FV_PIXEL_SHOT_NOISE, v[0], 0, 0, 0, &rng);
    case FV_IMPULSE_NOISE: return pixel(g, x, -1, -1, keys, FV_PIXEL_IMPULSE_NOISE, v[0], 0, 0, 0, &rng);
    case FV_SPECKLE_NOISE: return pixel(g, x, -1, -1, keys, FV_PIXEL_SPECKLE_NOISE, v[0], 0, 0, 0, &rng);
    case FV_BRIGHTNESS: return pixel(g, x, -1, -1, -1, FV_PIXEL_BRIGHTNESS, v[0], 0, 0, 0, NULL);
    case FV_SATURATE: return pixel(g, x, -1, -1, -1, FV_PIXEL_SATURATE, v[0], v[1], 0, 0, NULL);
    case FV_CONTRAST:
      return pixel(g, x, -1, fv_reduce(g, x, FV_REDUCE_MEAN), -1, FV_PIXEL_CONTRAST, v[0], 0, 0, 0, NULL);
    case FV_FOG: {
      int N = next_pow2(H > W ? H : W);
      if (N < 2) N = 2;
      int plasma = fv_plasma(g, keys, N, (float)v[1], &rng);
      return pixel(g, x, plasma, fv_reduce(g, x, FV_REDUCE_MAX), -1, FV_PIXEL_FOG, v[0], 0, 0, 0, NULL);
    }
    case FV_GAUSSIAN_BLUR:
      return pixel(g, gauss_blur(g, x, v[0], v[0], 4.0, FV_BORDER_NEAREST, 1.0), -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0,
                   0, NULL);
    case FV_DEFOCUS_BLUR:
      return pixel(g, defocus_graph(g, x, v[0], v[1]), -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL);
    case FV_MOTION_BLUR: {
      int y = fv_stencil(g, x, p->taps, FV_BORDER_NEAREST); /* per-image rays (fill_rays) */
      return pixel(g, y, -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL);
    }
    case FV_ZOOM_BLUR: {
      double z[MAX_ZOOM_FACTORS];
      int n = fv_corrupt_arange(v[0], v[1], v[2], z, MAX_ZOOM_FACTORS);
      if (n > MAX_ZOOM_FACTORS) n = MAX_ZOOM_FACTORS;
      float rows[4 * (MAX_ZOOM_FACTORS + 1)] = {1, 0, 1, 0}; /* the image itself */
      for (int i = 0; i < n; i++) {
        int oh, ow;
        zoom_row(H, W, z[i], rows + 4 * (i + 1), &oh, &ow);
      }
      int y = fv_sample(g, x, weight_rows(g, "zoom.factors", rows, n + 1, 4), H, W, FV_BORDER_NEAREST,
                        (float)(1.0 / (n + 1)));
      return pixel(g, y, -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL);
    }
    case FV_SNOW: {
      int64_t shape[4] = {B, H, W, 1};
      int S = fv_random(g, keys, 4, shape, FV_RANDOM_NORMAL, (float)v[0], (float)v[1], &rng);
      float row[4];
      int oh, ow;
      zoom_row(H, W, v[2], row, &oh, &ow);
      if (oh < H) oh = H; /* PIXEL SNOW reads the layer at every (y, x) of the image */
      if (ow < W) ow = W;
      S = fv_sample(g, S, weight_rows(g, "snow.zoom", row, 1, 4), oh, ow, FV_BORDER_NEAREST, 1.0f);
      S = pixel(g, S, -1, -1, -1, FV_PIXEL_THRESHOLD, v[3], 1, 0, 0, NULL);
      S = fv_stencil(g, S, p->taps, FV_BORDER_NEAREST); /* per-image rays (fill_rays) */
      S = pixel(g, S, -1, -1, -1, FV_PIXEL_ROUND255, 0, 0, 0, 0, NULL);
      return pixel(g, x, S, -1, -1, FV_PIXEL_SNOW, v[6], 0, 0, 0, NULL);
    }
    case FV_FROST: return pixel(g, x, p->aux[0], -1, -1, FV_PIXEL_FROST, v[0], v[1], 0, 0, NULL);
    case FV_GLASS_BLUR: {
      int y = gauss_blur(g, x, v[0], v[0], 4.0, FV_BORDER_NEAREST, 1.0);
      y = pixel(g, y, -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL);
      y = fv_warp(g, y, p->aux[0], p->aux[1], FV_BORDER_NEAREST);
      y = gauss_blur(g, y, v[0], v[0], 4.0, FV_BORDER_NEAREST, 1.0);
      return pixel(g, y, -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL);
    }
    case FV_ELASTIC_TRANSFORM: {
      int64_t shape[4] = {B, H, W, 1};
      double alpha, sy, sx, d;
      if (v[0] == 0) { /* imagecorruptions (spec 3.11) */
        alpha = v[1];
        sy = 0.01 * H;
        sx = 0.01 * W;
        d = 0.005 * H;
      } else { /* hendrycks, table constants */
        alpha = v[1];
        sy = sx = v[2];
        d = 1.0;
      }
      fv_rng_params r0 = rng, r1 = rng;
      r1.stream = 1;
      int DX = fv_random(g, keys, 4, shape, FV_RANDOM_UNIFORM, (float)-d, (float)d, &r0);
      int DY = fv_random(g, keys, 4, shape, FV_RANDOM_UNIFORM, (float)-d, (float)d, &r1);
      DX = gauss_blur(g, DX, sy, sx, 3.0, FV_BORDER_REFLECT, alpha);
      DY = gauss_blur(g, DY, sy, sx, 3.0, FV_BORDER_REFLECT, alpha);
      int y = x;
      if (v[0] != 0) y = fv_warp(g, x, p->aux[0], p->aux[1], FV_BORDER_REFLECT101); /* the random affine */
      y = fv_warp(g, y, DY, DX, FV_BORDER_REFLECT);
      return pixel(g, y, -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL);
    }
    case FV_SPATTER: {
      static const double water[3] = {175, 238, 238}, mud[3] = {63, 42, 20};
      if (v[5] == 0) return pixel(g, x, p->aux[0], -1, -1, FV_PIXEL_LAYER_COLOR, 0, water[0], water[1], water[2], NULL);
      int64_t shape[4] = {B, H, W, 1};
      int L = fv_random(g, keys, 4, shape, FV_RANDOM_NORMAL, (float)v[0], (float)v[1], &rng);
      L = gauss_blur(g, L, v[2], v[2], 4.0, FV_BORDER_NEAREST, 1.0);
      L = pixel(g, L, -1, -1, -1, FV_PIXEL_STEP, v[3], 0, 0, 0, NULL); /* (L > thr) */
      L = gauss_blur(g, L, v[4], v[4], 4.0, FV_BORDER_NEAREST, 1.0);
      L = pixel(g, L, -1, -1, -1, FV_PIXEL_THRESHOLD, 0.8, 0, 0, 0, NULL);
      return pixel(g, x, L, -1, -1, FV_PIXEL_LAYER_COLOR, 1, mud[0], mud[1], mud[2], NULL);
    }
    case FV_PIXELATE: {
      double scale = v[0];
      int sw = (int)(W * scale), sh = (int)(H * scale);
      if (sw < 1) sw = 1;
      if (sh < 1) sh = 1;
      int box_up = bc->cr->opt.table != FV_TABLE_IMAGENET; /* the 32/64 scripts upsample with BOX */
      int y = x, taps;
      float *t;
      /* PIL: horizontal pass first, each pass rounded to 8 bits; a pass of unchanged size is skipped. */
      if (sw != W) {
        if (!(t = box_table(W, sw, &taps))) return -1;
        y = fv_resample(g, y, weight_rows(g, "pixelate.down.x", t, sw, 2 + taps), 2, sw, taps, 1);
        free(t);
      }
      if (sh != H) {
        if (!(t = box_table(H, sh, &taps))) return -1;
        y = fv_resample(g, y, weight_rows(g, "pixelate.down.y", t, sh, 2 + taps), 1, sh, taps, 1);
        free(t);
      }
      if (sw != W) {
        if (box_up) {
          if (!(t = box_table(sw, W, &taps))) return -1;
        } else {
          if (!(t = nearest_table(sw, W))) return -1;
          taps = 1;
        }
        y = fv_resample(g, y, weight_rows(g, "pixelate.up.x", t, W, 2 + taps), 2, W, taps, 1);
        free(t);
      }
      if (sh != H) {
        if (box_up) {
          if (!(t = box_table(sh, H, &taps))) return -1;
        } else {
          if (!(t = nearest_table(sh, H))) return -1;
          taps = 1;
        }
        y = fv_resample(g, y, weight_rows(g, "pixelate.up.y", t, H, 2 + taps), 1, H, taps, 1);
        free(t);
      }
      return y == x ? pixel(g, x, -1, -1, -1, FV_PIXEL_QUANTIZE, 1, 0, 0, 0, NULL) : y;
    }
    default: return -1;
  }
}

/* The host-filled inputs each corruption needs: (channels of aux0, channels of aux1). */
static void aux_layout(const fv_corruptor *cr, int c, int severity, int ch[2]) {
  const double *v = fv_corrupt_params_variant(cr->opt.table, cr->opt.variant, c, severity);
  ch[0] = ch[1] = 0;
  if (c == FV_GLASS_BLUR || (c == FV_ELASTIC_TRANSFORM && v[0] != 0)) ch[0] = ch[1] = 1;
  if (c == FV_FROST) ch[0] = 3;
  if (c == FV_SPATTER && v[5] == 0) ch[0] = 1;
}

static void plan_free(plan *p) {
  if (!p->used) return;
  fv_exec_free(p->ex);
  fv_graph_free(&p->g);
  free(p->host_img);
  free(p->host_aux[0]);
  free(p->host_aux[1]);
  free(p->host_keys);
  free(p->host_out);
  free(p->host_taps);
  memset(p, 0, sizeof *p);
}

static fv_status plan_build(fv_corruptor *cr, plan *p, fv_error *err) {
  const int B = p->batch, H = p->height, W = p->width;
  size_t hw = (size_t)H * W;
  fv_graph *g = &p->g;
  fv_graph_init(g);
  int64_t ishape[4] = {B, H, W, 3}, kshape[1] = {B};
  p->image = fv_input(g, "corrupt.image", FV_F32, 4, ishape);
  p->keys = fv_input(g, "corrupt.keys", FV_U32, 1, kshape);
  p->aux[0] = p->aux[1] = -1;
  aux_layout(cr, p->c, p->severity, p->aux_ch);
  for (int k = 0; k < 2; k++)
    if (p->aux_ch[k]) {
      int64_t ashape[4] = {B, H, W, p->aux_ch[k]};
      p->aux[k] = fv_input(g, k ? "corrupt.aux1" : "corrupt.aux0", FV_F32, 4, ashape);
    }
  p->taps = -1;
  if (p->c == FV_MOTION_BLUR || p->c == FV_SNOW) {
    int radius, lh, lw;
    double sigma;
    ray_layout(cr, p->c, p->severity, H, W, &radius, &sigma, &lh, &lw);
    p->ray_taps = 2 * radius + 1;
    int64_t tshape[3] = {B, p->ray_taps, 3};
    p->taps = fv_input(g, "corrupt.rays", FV_F32, 3, tshape);
  }
  build_ctx bc = {cr, p};
  p->out = build_body(&bc, g, p->image, p->keys);
  if (g->status || p->out < 0) {
    fv_status st = g->status ? fv_fail(err, "corrupt: %s: %s", fv_corruption_name(p->c), g->error.msg)
                             : fv_fail(err, "corrupt: %s: out of memory building the graph", fv_corruption_name(p->c));
    plan_free(p);
    return st;
  }
  /* Inputs the body does not read (e.g. keys of a deterministic corruption) are still written;
   * the executors accept that. */
  fv_mark_output(g, p->out);
  p->host_img = malloc(sizeof(float) * B * hw * 3);
  p->host_out = malloc(sizeof(float) * B * hw * 3);
  p->host_keys = malloc(sizeof(uint32_t) * B);
  for (int k = 0; k < 2; k++)
    if (p->aux_ch[k]) p->host_aux[k] = malloc(sizeof(float) * B * hw * p->aux_ch[k]);
  if (p->taps >= 0) p->host_taps = malloc(sizeof(float) * B * p->ray_taps * 3);
  if (!p->host_img || !p->host_out || !p->host_keys || (p->aux_ch[0] && !p->host_aux[0]) ||
      (p->aux_ch[1] && !p->host_aux[1]) || (p->taps >= 0 && !p->host_taps)) {
    plan_free(p);
    return fv_fail(err, "corrupt: out of memory for a batch of %d %dx%d images", B, H, W);
  }
  fv_exec_options eo = {.storage = FV_F32};
  if (fv_exec_new(cr->dev, g, &eo, &p->ex, err)) {
    fv_fail_context(err, "corrupt: %s severity %d", fv_corruption_name(p->c), p->severity);
    plan_free(p);
    return FV_ERR;
  }
  return FV_OK;
}

/* The recorded graph for (c, severity, batch, H, W), built on a miss into the least recently
 * used slot. */
static fv_status plan_get(fv_corruptor *cr, int c, int severity, int batch, int H, int W, plan **out, fv_error *err) {
  plan *victim = &cr->cache[0];
  for (int i = 0; i < CACHE_SLOTS; i++) {
    plan *p = &cr->cache[i];
    if (p->used && p->c == c && p->severity == severity && p->batch == batch && p->height == H && p->width == W) {
      p->last_use = ++cr->tick;
      *out = p;
      return FV_OK;
    }
    if (!p->used || (victim->used && p->last_use < victim->last_use)) victim = p;
  }
  plan_free(victim);
  *victim = (plan){.used = 1, .c = c, .severity = severity, .batch = batch, .height = H, .width = W};
  if (plan_build(cr, victim, err)) return FV_ERR;
  victim->last_use = ++cr->tick;
  *out = victim;
  return FV_OK;
}

/* ---- host-filled inputs -------------------------------------------------------------------- */

/* Hendrycks' random affine (spec 3.11, original): pts1 around the centre, pts2 = pts1 + U(-A, A)
 * (6 draws, stream 2), M = getAffineTransform(pts1, pts2); cv2.warpAffine samples the source at
 * M^-1 (x, y), with coordinates in 1/32 pixel (OpenCV's INTER_BITS = 5, AB_BITS = 10 rounding).
 * Fills the displacement from (y, x) to that point. */
static void affine_field(const fv_corruptor *cr, int severity, uint32_t key, int H, int W, double A, float *dy,
                         float *dx) {
  fv_rng r = {cr->opt.seed, key, FV_ELASTIC_TRANSFORM, (uint32_t)severity, 2};
  float c0 = (float)(H / 2), c1 = (float)(W / 2), q = (float)((H < W ? H : W) / 3);
  float p1[3][2] = {{c0 + q, c1 + q}, {c0 + q, c1 - q}, {c0 - q, c1 - q}}, p2[3][2];
  for (int i = 0; i < 3; i++)
    for (int j = 0; j < 2; j++) p2[i][j] = p1[i][j] + (float)(-A + 2.0 * A * fv_rng_uniform(&r, (uint32_t)(2 * i + j)));
  /* Solve dst = M src for M (2x3): for each output row, a 3x3 system by Cramer's rule. Points
   * are (x, y) pairs as cv2 reads them. */
  double m[2][3];
  double a[3][3];
  for (int i = 0; i < 3; i++) a[i][0] = p1[i][0], a[i][1] = p1[i][1], a[i][2] = 1.0;
  double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
               a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
  for (int row = 0; row < 2; row++) {
    double b[3] = {p2[0][row], p2[1][row], p2[2][row]};
    for (int col = 0; col < 3; col++) {
      double t[3][3];
      memcpy(t, a, sizeof t);
      for (int i = 0; i < 3; i++) t[i][col] = b[i];
      double d = t[0][0] * (t[1][1] * t[2][2] - t[1][2] * t[2][1]) - t[0][1] * (t[1][0] * t[2][2] - t[1][2] * t[2][0]) +
                 t[0][2] * (t[1][0] * t[2][1] - t[1][1] * t[2][0]);
      m[row][col] = det != 0.0 ? d / det : (row == col ? 1.0 : 0.0);
    }
  }
  /* Inverse of the affine map (OpenCV's invertAffineTransform). */
  double D = m[0][0] * m[1][1] - m[0][1] * m[1][0];
  D = D != 0.0 ? 1.0 / D : 0.0;
  double A11 = m[1][1] * D, A22 = m[0][0] * D, A12 = -m[0][1] * D, A21 = -m[1][0] * D;
  double b1 = -A11 * m[0][2] - A12 * m[1][2], b2 = -A21 * m[0][2] - A22 * m[1][2];
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      /* warpAffine: X = (round(A11 x 1024) + round((A12 y + b1) 1024) + 16) >> 5, in 1/32 px. */
      long X = lrint(A11 * x * 1024.0) + lrint((A12 * y + b1) * 1024.0) + 16;
      long Y = lrint(A21 * x * 1024.0) + lrint((A22 * y + b2) * 1024.0) + 16;
      double sx = (double)(X >> 5) / 32.0, sy = (double)(Y >> 5) / 32.0;
      dx[(size_t)y * W + x] = (float)(sx - x);
      dy[(size_t)y * W + x] = (float)(sy - y);
    }
}

/* Image slot's ray (motion blur, snow) at its key's angle, into the per-image taps. */
static void fill_rays(const fv_corruptor *cr, plan *p, int slot, uint32_t key) {
  int radius, lh, lw;
  double sigma;
  ray_layout(cr, p->c, p->severity, p->height, p->width, &radius, &sigma, &lh, &lw);
  motion_taps(radius, sigma, draw_angle(cr, p->c, p->severity, key), lh, lw,
              p->host_taps + (size_t)slot * p->ray_taps * 3);
}

static fv_status fill_aux(fv_corruptor *cr, plan *p, int slot, uint32_t key, fv_error *err) {
  const int H = p->height, W = p->width, c = p->c, s = p->severity;
  const size_t hw = (size_t)H * W;
  const double *v = fv_corrupt_params_variant(cr->opt.table, cr->opt.variant, c, s);
  if (c == FV_GLASS_BLUR) {
    fv_glass_displacement(H, W, (int)v[1], (int)v[2], cr->opt.seed, key, s, p->host_aux[0] + slot * hw,
                          p->host_aux[1] + slot * hw);
  } else if (c == FV_FROST) {
    if (!cr->frost && fv_frost_open(cr->opt.frost_dir, cr->opt.frost_seed, &cr->frost, err)) return FV_ERR;
    /* The original ImageNet-C script crops its textures as they are (spec 3.7, hendrycks). */
    int rule = cr->opt.table == FV_TABLE_IMAGENET && cr->opt.variant == FV_VARIANT_HENDRYCKS ? FV_FROST_RESIZE_NONE
                                                                                             : (int)cr->opt.table;
    if (fv_frost_crop(cr->frost, rule, H, W, cr->opt.seed, key, s, p->host_aux[0] + slot * hw * 3, err)) return FV_ERR;
  } else if (c == FV_SPATTER) {
    float params[6];
    for (int i = 0; i < 6; i++) params[i] = (float)v[i];
    int empty = 0;
    if (fv_spatter_water_layer(H, W, params, cr->opt.seed, key, s, p->host_aux[0] + slot * hw, &empty, err))
      return FV_ERR;
    cr->empty_spatter += empty != 0;
  } else if (c == FV_ELASTIC_TRANSFORM) {
    affine_field(cr, s, key, H, W, v[3], p->host_aux[0] + slot * hw, p->host_aux[1] + slot * hw);
  }
  return FV_OK;
}

/* ---- public API ------------------------------------------------------------------------------ */

fv_status fv_corruptor_open(fv_device *dev, const fv_corrupt_options *opt, fv_corruptor **out, fv_error *err) {
  *out = NULL;
  fv_corrupt_options o = opt ? *opt : (fv_corrupt_options){0};
  if (fv_corrupt_table_size(o.table) == 0)
    return fv_fail(err, "corrupt: table %d is not imagenet, cifar10 or tiny", o.table);
  if (o.variant != FV_VARIANT_IMAGECORRUPTIONS && o.variant != FV_VARIANT_HENDRYCKS)
    return fv_fail(err, "corrupt: variant %d is not imagecorruptions or hendrycks", (int)o.variant);
  if (o.batch < 1) o.batch = 16;
  fv_corruptor *cr = calloc(1, sizeof *cr);
  if (!cr) return fv_fail(err, "corrupt: out of memory");
  cr->dev = dev;
  cr->opt = o;
  if (o.frost_dir)
    snprintf(cr->frost_source, sizeof cr->frost_source, "user textures from %s", o.frost_dir);
  else
    snprintf(cr->frost_source, sizeof cr->frost_source, "procedural (seed %u)", (unsigned)o.frost_seed);
  *out = cr;
  return FV_OK;
}

void fv_corruptor_close(fv_corruptor *cr) {
  if (!cr) return;
  for (int i = 0; i < CACHE_SLOTS; i++) plan_free(&cr->cache[i]);
  fv_frost_close(cr->frost);
  free(cr);
}

long fv_corruptor_empty_spatter(const fv_corruptor *cr) { return cr ? cr->empty_spatter : 0; }

const char *fv_corruptor_frost_source(const fv_corruptor *cr) {
  if (!cr) return "";
  if (cr->frost) return fv_frost_source(cr->frost);
  return cr->frost_source;
}

const char *fv_corruptor_take_note(fv_corruptor *cr) {
  if (!cr || !cr->note_pending) return NULL;
  cr->note_pending = 0;
  return cr->note;
}

void fv_corruptor_force_motion_angle(fv_corruptor *cr, int enabled, double degrees) {
  cr->force_motion = enabled;
  cr->motion_degrees = degrees;
}

uint32_t fv_corrupt_path_key(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  uint32_t h = 2166136261u;
  for (const unsigned char *s = (const unsigned char *)base; *s; s++) h = (h ^ *s) * 16777619u;
  return h;
}

/* PIL's convert('L') on 8-bit RGB: L = (19595 R + 38470 G + 7471 B + 0x8000) >> 16. */
static uint8_t pil_gray(const uint8_t *rgb) {
  return (uint8_t)((19595u * rgb[0] + 38470u * rgb[1] + 7471u * rgb[2] + 0x8000u) >> 16);
}

static fv_status image_from_rgb(const uint8_t *rgb, int H, int W, int channels, fv_image *out, fv_error *err) {
  size_t hw = (size_t)H * W;
  out->pixels = malloc(hw * channels);
  if (!out->pixels) return fv_fail(err, "corrupt: out of memory for a %dx%d output", H, W);
  out->width = W;
  out->height = H;
  out->channels = channels;
  if (channels == 3)
    memcpy(out->pixels, rgb, hw * 3);
  else
    for (size_t i = 0; i < hw; i++) out->pixels[i] = pil_gray(rgb + 3 * i);
  return FV_OK;
}

/* The per-value conversions between bytes and floats, in blocks of eight that -O2's SLP
 * vectoriser packs (the scalar loops cost as much as a cheap corruption on the CPU executor). */
static void bytes_to_floats(const uint8_t *restrict src, float *restrict dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) dst[i + k] = src[i + k];
  for (; i < n; i++) dst[i] = src[i];
}

/* Graph outputs are whole numbers already; clamped to 0..255, NaN to 0. */
static uint8_t to_byte(float t) {
  t = t > 0.0f ? t : 0.0f;
  t = t < 255.0f ? t : 255.0f;
  return (uint8_t)(int)t;
}

static void floats_to_bytes(const float *restrict src, uint8_t *restrict dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) dst[i + k] = to_byte(src[i + k]);
  for (; i < n; i++) dst[i] = to_byte(src[i]);
}

static void widen(const fv_image *im, float *dst) {
  size_t hw = (size_t)im->height * im->width;
  if (im->channels == 3)
    bytes_to_floats(im->pixels, dst, hw * 3);
  else
    for (size_t i = 0; i < hw; i++) dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = im->pixels[i];
}

static fv_status run_jpeg(const fv_corruptor *cr, int severity, const fv_image *in, fv_image *out, fv_error *err) {
  const double *v = fv_corrupt_params_variant(cr->opt.table, cr->opt.variant, FV_JPEG_COMPRESSION, severity);
  if (in->channels == 3) return fv_jpeg_roundtrip(in, (int)v[0], out, err);
  /* The gray rule: replicate, corrupt as RGB, back to gray. */
  size_t hw = (size_t)in->height * in->width;
  fv_image rgb = {in->width, in->height, 3, malloc(hw * 3)}, res = {0};
  if (!rgb.pixels) return fv_fail(err, "corrupt: out of memory");
  for (size_t i = 0; i < hw; i++) rgb.pixels[3 * i] = rgb.pixels[3 * i + 1] = rgb.pixels[3 * i + 2] = in->pixels[i];
  fv_status st = fv_jpeg_roundtrip(&rgb, (int)v[0], &res, err);
  if (!st) st = image_from_rgb(res.pixels, in->height, in->width, 1, out, err);
  fv_image_free(&rgb);
  fv_image_free(&res);
  return st;
}

/* One graph run over up to p->batch images (the rest of the batch repeats the last image). */
static fv_status run_chunk(fv_corruptor *cr, plan *p, const fv_image *in, const uint32_t *keys, int n, fv_image *out,
                           fv_error *err) {
  const int H = p->height, W = p->width;
  const size_t hw = (size_t)H * W;
  for (int b = 0; b < p->batch; b++) {
    int src = b < n ? b : n - 1;
    if (b < n) {
      widen(&in[src], p->host_img + b * hw * 3);
      if ((p->aux_ch[0] || p->aux_ch[1]) && fill_aux(cr, p, b, keys[src], err)) return FV_ERR;
      if (p->taps >= 0) fill_rays(cr, p, b, keys[src]);
    } else {
      if (p->taps >= 0)
        memcpy(p->host_taps + (size_t)b * p->ray_taps * 3, p->host_taps + (size_t)(n - 1) * p->ray_taps * 3,
               sizeof(float) * p->ray_taps * 3);
      memcpy(p->host_img + b * hw * 3, p->host_img + (size_t)(n - 1) * hw * 3, sizeof(float) * hw * 3);
      for (int k = 0; k < 2; k++)
        if (p->aux_ch[k])
          memcpy(p->host_aux[k] + b * hw * p->aux_ch[k], p->host_aux[k] + (size_t)(n - 1) * hw * p->aux_ch[k],
                 sizeof(float) * hw * p->aux_ch[k]);
    }
    p->host_keys[b] = keys[src];
  }
  if (fv_exec_write(p->ex, p->image, p->host_img, (size_t)p->batch * hw * 3, err) ||
      fv_exec_write(p->ex, p->keys, p->host_keys, (size_t)p->batch, err))
    return FV_ERR;
  if (p->taps >= 0 && fv_exec_write(p->ex, p->taps, p->host_taps, (size_t)p->batch * p->ray_taps * 3, err))
    return FV_ERR;
  for (int k = 0; k < 2; k++)
    if (p->aux[k] >= 0 && fv_exec_write(p->ex, p->aux[k], p->host_aux[k], (size_t)p->batch * hw * p->aux_ch[k], err))
      return FV_ERR;
  if (fv_exec_run(p->ex, err) || fv_exec_read(p->ex, p->out, p->host_out, (size_t)p->batch * hw * 3, err))
    return FV_ERR;
  uint8_t *rgb = malloc(hw * 3);
  if (!rgb) return fv_fail(err, "corrupt: out of memory");
  for (int b = 0; b < n; b++) {
    floats_to_bytes(p->host_out + b * hw * 3, rgb, hw * 3);
    if (image_from_rgb(rgb, H, W, in[b].channels, &out[b], err)) {
      free(rgb);
      return FV_ERR;
    }
  }
  free(rgb);
  return FV_OK;
}

static void size_note(fv_corruptor *cr, int H, int W) {
  int t = fv_corrupt_table_size(cr->opt.table);
  if (cr->note_given || (H == t && W == t)) return;
  snprintf(cr->note, sizeof cr->note,
           "images are %dx%d but the %s table is made for %dx%d; its parameters are applied unscaled "
           "(spec 6.3), so results are not comparable with published %s numbers",
           W, H, fv_corrupt_table_name(cr->opt.table), t, t,
           cr->opt.table == FV_TABLE_IMAGENET  ? "ImageNet-C"
           : cr->opt.table == FV_TABLE_CIFAR10 ? "CIFAR-10-C"
                                               : "Tiny-ImageNet-C");
  cr->note_given = cr->note_pending = 1;
}

fv_status fv_corrupt_images(fv_corruptor *cr, int c, int severity, const fv_image *in, const uint32_t *keys, int n,
                            fv_image *out, fv_error *err) {
  if (c < 0 || c >= FV_CORRUPTION_COUNT)
    return fv_fail(err, "corrupt: corruption %d is not in 0..%d", c, FV_CORRUPTION_COUNT - 1);
  if (severity < 1 || severity > 5) return fv_fail(err, "corrupt: severity %d is not in 1..5", severity);
  if (n < 1 || !in || !keys || !out)
    return fv_fail(err, "corrupt: %d images (inputs, keys and outputs all given), expected at least 1", n);
  const int H = in[0].height, W = in[0].width, C = in[0].channels;
  for (int i = 0; i < n; i++) {
    memset(&out[i], 0, sizeof out[i]);
    if (in[i].height != H || in[i].width != W || in[i].channels != C || !in[i].pixels)
      return fv_fail(err, "corrupt: image %d is %dx%dx%d, expected %dx%dx%d like image 0 (one size per call)", i,
                     in[i].width, in[i].height, in[i].channels, W, H, C);
  }
  if (H < 1 || W < 1 || (C != 1 && C != 3))
    return fv_fail(err, "corrupt: image is %dx%d with %d channels, expected a non-empty gray or RGB image", W, H, C);
  size_note(cr, H, W);
  fv_status st = FV_OK;
  if (c == FV_JPEG_COMPRESSION) {
    for (int i = 0; i < n && !st; i++) st = run_jpeg(cr, severity, &in[i], &out[i], err);
  } else {
    size_t per_image = (size_t)H * W * 3 * sizeof(float);
    int batch = cr->opt.batch < n ? cr->opt.batch : n;
    while (batch > 1 && per_image * (size_t)batch > MAX_BATCH_BYTES) batch--;
    /* A recorded graph with room for these images serves them (padded) rather than a new one
     * being built: e.g. a data set's last, partial batch. */
    for (int i = 0; i < CACHE_SLOTS; i++) {
      const plan *q = &cr->cache[i];
      if (q->used && q->c == c && q->severity == severity && q->height == H && q->width == W && q->batch >= batch &&
          q->batch <= cr->opt.batch)
        batch = q->batch;
    }
    for (int done = 0; done < n && !st;) {
      plan *p;
      int m = n - done < batch ? n - done : batch;
      st = plan_get(cr, c, severity, batch, H, W, &p, err);
      if (!st) st = run_chunk(cr, p, in + done, keys + done, m, out + done, err);
      done += m;
    }
  }
  if (st) {
    for (int i = 0; i < n; i++) fv_image_free(&out[i]);
    return fv_fail_context(err, "corrupt %s severity %d", fv_corruption_name(c), severity);
  }
  return FV_OK;
}
