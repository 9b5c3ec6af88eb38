/* ref_image.c: the plain C references of the image ops (FV_OP_STENCIL .. FV_OP_PLASMA, graph.h).
 *
 * These define what the image kernels compute, and the CPU executor runs them. Arithmetic is
 * fp32 in the same operation order as shaders/{stencil,sample,warp,pixel,random,reduce,plasma}.comp
 * (which mark the matching results `precise`, so a driver cannot fuse a multiply-add the C code
 * rounds twice), so the CPU and a GPU agree to rounding; divisions, logarithms and cosines may
 * still differ by an ulp on GPUs, whose fp32 division is not correctly rounded. Random numbers come
 * from engine/philox.h, draw for draw as the kernels draw them. Exceptions, by design: the
 * REDUCE mean accumulates in double here (the kernel sums a tree in fp32), and plasma's noise
 * amplitudes come from one shared table (fv_ref_plasma_wibble).
 *
 * Deliberately not here: argument validation (graph.c checks every shape and source first) and
 * fp16 storage (cpu_exec.c rounds what it stores). */
#include <math.h>
#include <stdint.h>

#include "../philox.h"
#include "ref.h"

#define INV255 (1.0f / 255.0f)

/* The first two Philox words of draws idx0 .. idx0 + n - 1 of stream r (fv_rng_words, attempt
 * 0): integer arithmetic only, so this loop vectorises, where the per-value calls could not. */
static void rng_words_block(const fv_rng *r, uint32_t idx0, int n, uint32_t *w0, uint32_t *w1) {
#pragma omp simd
  for (int k = 0; k < n; k++) {
    fv_philox_ctr w = fv_rng_words(r, idx0 + (uint32_t)k, 0);
    w0[k] = w.c[0];
    w1[k] = w.c[1];
  }
}

/* fv_rng_normal's Box-Muller from its two words: engine/philox.h's formula, repeated here so the
 * words can come from rng_words_block; the two must change together. */
static float normal_from_words(uint32_t w0, uint32_t w1) {
  return sqrtf(-2.0f * logf(fv_rng_u01_open0(w0))) * cosf(6.2831853071795865f * fv_rng_u01(w1));
}

int64_t fv_ref_border(int64_t i, int64_t n, fv_border border) {
  if (i >= 0 && i < n) return i;
  switch (border) {
    case FV_BORDER_NEAREST: return i < 0 ? 0 : n - 1;
    case FV_BORDER_REFLECT101: {
      if (n == 1) return 0;
      int64_t period = 2 * n - 2, m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - m;
    }
    case FV_BORDER_REFLECT: {
      int64_t period = 2 * n, m = i % period;
      if (m < 0) m += period;
      return m < n ? m : period - 1 - m;
    }
    case FV_BORDER_ZERO: break;
  }
  return -1;
}

/* o[j] += w * s[j], j < n: the stencil's inner loop. Unrolled by eight so that -O2's SLP
 * vectoriser packs it (o and s never overlap: the output is its own buffer); each lane still
 * rounds the product, then the sum, as the scalar code and the kernel do. */
static void add_scaled(float *restrict o, const float *restrict s, float w, int64_t n) {
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; k++) o[j + k] += w * s[j + k];
  for (; j < n; j++) o[j] += w * s[j];
}

/* A tap offset as an integer: graph.c checked constant taps (integers within +-2048); per-image
 * taps are run-time data, so anything else is truncated and clamped (NaN: 0) as graph.h says. */
static int64_t tap_offset(float d) {
  if (!(d >= -2048.0f)) d = d != d ? 0.0f : -2048.0f;
  if (d > 2048.0f) d = 2048.0f;
  return (int64_t)d;
}

/* Output row y of one image. The row starts at zero and every tap, in tap order, adds w times
 * the source row shifted by dx, so each value still sums its taps in tap order in fp32, as the
 * kernel does. The columns whose source x + dx lies inside the image are one contiguous run read
 * without border arithmetic; only the |dx| columns at either end go through fv_ref_border. A tap
 * whose row maps outside (FV_BORDER_ZERO) adds nothing to the row. */
static void stencil_row(const float *im, const float *taps, int64_t T, float *o, int64_t y, int64_t H, int64_t W,
                        int64_t C, fv_border border) {
  for (int64_t j = 0; j < W * C; j++) o[j] = 0.0f;
  for (int64_t t = 0; t < T; t++) {
    const int64_t dy = tap_offset(taps[3 * t]), dx = tap_offset(taps[3 * t + 1]);
    const float w = taps[3 * t + 2];
    const int64_t yy = fv_ref_border(y + dy, H, border);
    if (yy < 0) continue;
    const float *row = im + yy * W * C;
    /* inside: 0 <= x + dx < W for x in [lo, hi) */
    int64_t lo = dx < 0 ? -dx : 0, hi = dx > 0 ? W - dx : W;
    if (lo > W) lo = W;
    if (hi < lo) hi = lo;
    for (int64_t x = 0; x < W; x++) {
      if (x == lo) x = hi; /* skip the inside run */
      if (x == W) break;
      const int64_t xx = fv_ref_border(x + dx, W, border);
      if (xx < 0) continue;
      for (int64_t c = 0; c < C; c++) o[x * C + c] += w * row[xx * C + c];
    }
    if (hi > lo) add_scaled(o + lo * C, row + (lo + dx) * C, w, (hi - lo) * C);
  }
}

void fv_ref_stencil(const float *image, const float *taps, int64_t T, float *out, int64_t B, int64_t H, int64_t W,
                    int64_t C, fv_border border) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t y = 0; y < H; y++)
      stencil_row(image + b * H * W * C, taps, T, out + (b * H + y) * W * C, y, H, W, C, border);
}

/* Coordinates are clamped to +-2^24 before floor() so the integer conversion is defined for any
 * input (NaN included); beyond that every border rule has long since repeated or clamped. */
static float clamp_coord(float v) {
  if (!(v >= -16777216.0f)) v = -16777216.0f;
  if (v > 16777216.0f) v = 16777216.0f;
  return v;
}

/* scipy.ndimage order-1 interpolation, split by axis: a coordinate v on an axis of length n
 * becomes the two source indices floor(v) and floor(v) + 1, each mapped by the border rule (-1:
 * outside, reads as zero), and the weight t = v - floor(v) of the second. SAMPLE's coordinates
 * depend on the row or the column alone, so it sets each axis up once per layer and row or
 * column, not once per value; WARP once per pixel for all its channels. */
typedef struct bilinear_axis {
  int64_t i0, i1;
  float t;
} bilinear_axis;

static bilinear_axis axis_at(float v, int64_t n, fv_border border) {
  v = clamp_coord(v);
  const float f = floorf(v);
  const int64_t i = (int64_t)f;
  bilinear_axis a = {fv_ref_border(i, n, border), fv_ref_border(i + 1, n, border), v - f};
  return a;
}

/* Row i of the image im [H, W, C] (channel 0), or NULL for i = -1 (outside, reads as zero). */
static const float *image_row(const float *im, int64_t W, int64_t C, int64_t i) {
  return i >= 0 ? im + i * W * C : NULL;
}

/* Channel c of the interpolation between the rows ra and rb (image_row) at column setup ax,
 * with ty the second row's weight. */
static inline float bilinear(const float *ra, const float *rb, float ty, const bilinear_axis *ax, int64_t C,
                             int64_t c) {
  const float tx = ax->t;
  const float v00 = ra && ax->i0 >= 0 ? ra[ax->i0 * C + c] : 0.0f, v01 = ra && ax->i1 >= 0 ? ra[ax->i1 * C + c] : 0.0f;
  const float v10 = rb && ax->i0 >= 0 ? rb[ax->i0 * C + c] : 0.0f, v11 = rb && ax->i1 >= 0 ? rb[ax->i1 * C + c] : 0.0f;
  const float top = (1.0f - tx) * v00 + tx * v01;
  const float bottom = (1.0f - tx) * v10 + tx * v11;
  return (1.0f - ty) * top + ty * bottom;
}

/* Layer by layer, accumulating in out: each value still sums its layers in order starting from
 * 0, then is scaled, as the kernel does. Columns go in chunks so their setups fit on the stack. */
void fv_ref_sample(const float *image, const float *table, int64_t L, float *out, int64_t B, int64_t H, int64_t W,
                   int64_t C, int64_t OH, int64_t OW, fv_border border, float scale) {
  enum { CHUNK = 256 };
  bilinear_axis cols[CHUNK];
  for (int64_t b = 0; b < B; b++) {
    const float *im = image + b * H * W * C;
    float *o = out + b * OH * OW * C;
    for (int64_t i = 0; i < OH * OW * C; i++) o[i] = 0.0f;
    for (int64_t l = 0; l < L; l++) {
      const float *r = table + 4 * l;
      for (int64_t x0 = 0; x0 < OW; x0 += CHUNK) {
        const int64_t nx = OW - x0 < CHUNK ? OW - x0 : CHUNK;
        for (int64_t k = 0; k < nx; k++) cols[k] = axis_at(r[2] * (float)(x0 + k) + r[3], W, border);
        for (int64_t y = 0; y < OH; y++) {
          const bilinear_axis ay = axis_at(r[0] * (float)y + r[1], H, border);
          const float *ra = image_row(im, W, C, ay.i0), *rb = image_row(im, W, C, ay.i1);
          float *orow = o + (y * OW + x0) * C;
          if (border == FV_BORDER_ZERO) {
            for (int64_t k = 0; k < nx; k++)
              for (int64_t c = 0; c < C; c++) orow[k * C + c] += bilinear(ra, rb, ay.t, &cols[k], C, c);
            continue;
          }
          /* the other rules map every index inside: bilinear() without its zero cases */
          const float ty = ay.t;
          for (int64_t k = 0; k < nx; k++) {
            const float tx = cols[k].t;
            const float *a0 = ra + cols[k].i0 * C, *a1 = ra + cols[k].i1 * C;
            const float *b0 = rb + cols[k].i0 * C, *b1 = rb + cols[k].i1 * C;
            for (int64_t c = 0; c < C; c++) {
              const float top = (1.0f - tx) * a0[c] + tx * a1[c];
              const float bottom = (1.0f - tx) * b0[c] + tx * b1[c];
              orow[k * C + c] += (1.0f - ty) * top + ty * bottom;
            }
          }
        }
      }
    }
    for (int64_t i = 0; i < OH * OW * C; i++) o[i] = scale * o[i];
  }
}

void fv_ref_warp(const float *image, const float *dy, const float *dx, int64_t BD, float *out, int64_t B, int64_t H,
                 int64_t W, int64_t C, fv_border border) {
  for (int64_t b = 0; b < B; b++) {
    const float *im = image + b * H * W * C;
    const int64_t bd = BD == 1 ? 0 : b;
    for (int64_t y = 0; y < H; y++)
      for (int64_t x = 0; x < W; x++) {
        const int64_t p = (bd * H + y) * W + x;
        const bilinear_axis ay = axis_at((float)y + dy[p], H, border), ax = axis_at((float)x + dx[p], W, border);
        const float *ra = image_row(im, W, C, ay.i0), *rb = image_row(im, W, C, ay.i1);
        for (int64_t c = 0; c < C; c++) out[((b * H + y) * W + x) * C + c] = bilinear(ra, rb, ay.t, &ax, C, c);
      }
  }
}

/* ---- FV_OP_PIXEL ---------------------------------------------------------------------------- */

static float clip01(float t) {
  t = t > 0.0f ? t : 0.0f; /* NaN becomes 0 */
  return t < 1.0f ? t : 1.0f;
}

/* floor(t) for t in [0, 255]: truncation, exact there, and no libm call (x86-64's baseline has
 * no rounding instruction, so floorf() is a call per value). */
static float floor_u8(float t) { return (float)(int32_t)t; }

/* u8(t) = floor(clip(t, 0, 255)) */
static float u8(float t) {
  t = t > 0.0f ? t : 0.0f;
  return floor_u8(t < 255.0f ? t : 255.0f);
}

static float to_u8_unit(float t) { return floor_u8(255.0f * clip01(t)); }

static fv_rng pixel_rng(const fv_ref_pixel_args *p, int64_t b, uint32_t stream_offset) {
  fv_rng r = {p->rng.seed, p->keys ? p->keys[b] : 0u, p->rng.corruption, p->rng.severity,
              p->rng.stream + stream_offset};
  return r;
}

static float layer_at(const fv_ref_pixel_args *p, int64_t b, int64_t y, int64_t x, int64_t c) {
  int64_t b1 = p->B1 == 1 ? 0 : b;
  return p->layer[((b1 * p->H1 + y) * p->W1 + x) * p->C1 + c % p->C1];
}

/* The value-wise modes: v = image[b, y, x, c], idx its linear index within image b. */
static float pixel_value(const fv_ref_pixel_args *p, int64_t b, int64_t y, int64_t x, int64_t c, float v,
                         uint32_t idx) {
  const float a0 = p->a[0], a1 = p->a[1], f = v * INV255;
  switch (p->mode) {
    case FV_PIXEL_GAUSSIAN_NOISE: {
      fv_rng r = pixel_rng(p, b, 0);
      return to_u8_unit(f + a0 * fv_rng_normal(&r, idx));
    }
    case FV_PIXEL_SHOT_NOISE: {
      fv_rng r = pixel_rng(p, b, 0);
      float inv = 1.0f / a0;
      return to_u8_unit(fv_rng_poisson(&r, idx, f * a0) * inv);
    }
    case FV_PIXEL_IMPULSE_NOISE: {
      fv_rng r0 = pixel_rng(p, b, 0), r1 = pixel_rng(p, b, 1);
      int flip = fv_rng_uniform(&r0, idx) < a0, salt = fv_rng_uniform(&r1, idx) < 0.5f;
      return flip ? (salt ? 255.0f : 0.0f) : u8(v);
    }
    case FV_PIXEL_SPECKLE_NOISE: {
      fv_rng r = pixel_rng(p, b, 0);
      return to_u8_unit(f + f * (a0 * fv_rng_normal(&r, idx)));
    }
    case FV_PIXEL_CONTRAST: {
      float m = p->stats[b * p->C2 + c] * INV255;
      return to_u8_unit((f - m) * a0 + m);
    }
    case FV_PIXEL_FOG: {
      float mx = p->stats[b * p->C2];
      for (int64_t k = 1; k < p->C2; k++) mx = fmaxf(mx, p->stats[b * p->C2 + k]);
      float maxv = mx * INV255;
      return to_u8_unit(((f + a0 * layer_at(p, b, y, x, c)) * maxv) / (maxv + a0));
    }
    case FV_PIXEL_FROST: return u8(a0 * v + a1 * layer_at(p, b, y, x, c));
    case FV_PIXEL_SNOW: {
      const float *px = p->image + ((b * p->H + y) * p->W + x) * p->C;
      float gray = 0.299f * (px[0] * INV255) + 0.587f * (px[1] * INV255) + 0.114f * (px[2] * INV255);
      float f2 = a0 * f + (1.0f - a0) * fmaxf(f, 1.5f * gray + 0.5f);
      return to_u8_unit(f2 + layer_at(p, b, y, x, c) + layer_at(p, b, p->H - 1 - y, p->W - 1 - x, c));
    }
    case FV_PIXEL_LAYER_COLOR: {
      float M = layer_at(p, b, y, x, c), colour = p->a[1 + c] * INV255;
      return to_u8_unit(f * (1.0f - a0 * M) + M * colour);
    }
    case FV_PIXEL_THRESHOLD: {
      float t = v < a0 ? 0.0f : v;
      return a1 != 0.0f ? clip01(t) : t;
    }
    case FV_PIXEL_STEP: return v > a0 ? 1.0f : 0.0f;
    case FV_PIXEL_ROUND255: return rintf(255.0f * v) / 255.0f;
    case FV_PIXEL_QUANTIZE: return u8(a0 * v);
    case FV_PIXEL_AFFINE: return a0 * v + a1;
    case FV_PIXEL_BRIGHTNESS:
    case FV_PIXEL_SATURATE:
    case FV_PIXEL_MODE_COUNT: break;
  }
  return v;
}

/* The HSV modes (corruptions.md 3.9), one RGB pixel at a time, values f in [0, 1]. */
static void pixel_hsv(const fv_ref_pixel_args *p, const float *in, float *out) {
  float r = in[0] * INV255, g = in[1] * INV255, b = in[2] * INV255;
  float V = fmaxf(fmaxf(r, g), b);
  float o[3];
  if (p->mode == FV_PIXEL_BRIGHTNESS) {
    float Vp = clip01(V + p->a[0]);
    if (V > 0.0f) {
      float s = Vp / V;
      o[0] = r * s, o[1] = g * s, o[2] = b * s;
    } else {
      o[0] = o[1] = o[2] = Vp;
    }
  } else {
    float mn = fminf(fminf(r, g), b);
    float S = V > 0.0f ? (V - mn) / V : 0.0f;
    float Sp = clip01(p->a[0] * S + p->a[1]);
    if (S > 0.0f) {
      float k = Sp / S;
      o[0] = V - (V - r) * k, o[1] = V - (V - g) * k, o[2] = V - (V - b) * k;
    } else {
      o[0] = V, o[1] = o[2] = V * (1.0f - Sp);
    }
  }
  for (int c = 0; c < 3; c++) out[c] = to_u8_unit(o[c]);
}

/* The noises whose draws are plain words (gaussian, speckle: fv_rng_normal; impulse: two
 * fv_rng_uniform), a block of draws at a time: the same values as pixel_value, whose formulas
 * they repeat (test_image_ops checks both against the kernels). */
static void pixel_noise_image(const fv_ref_pixel_args *p, int64_t b, const float *im, float *out, int64_t n) {
  enum { BLOCK = 256 };
  uint32_t w0[BLOCK], w1[BLOCK], s0[BLOCK], s1[BLOCK];
  const fv_rng r0 = pixel_rng(p, b, 0), r1 = pixel_rng(p, b, 1);
  const float a0 = p->a[0];
  for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {
    const int m = n - i0 < BLOCK ? (int)(n - i0) : BLOCK;
    rng_words_block(&r0, (uint32_t)i0, m, w0, w1);
    if (p->mode == FV_PIXEL_IMPULSE_NOISE) rng_words_block(&r1, (uint32_t)i0, m, s0, s1);
    for (int k = 0; k < m; k++) {
      const float v = im[i0 + k], f = v * INV255;
      if (p->mode == FV_PIXEL_IMPULSE_NOISE) {
        int flip = fv_rng_u01(w0[k]) < a0, salt = fv_rng_u01(s0[k]) < 0.5f;
        out[i0 + k] = flip ? (salt ? 255.0f : 0.0f) : u8(v);
        continue;
      }
      const float normal = normal_from_words(w0[k], w1[k]);
      out[i0 + k] =
          p->mode == FV_PIXEL_GAUSSIAN_NOISE ? to_u8_unit(f + a0 * normal) : to_u8_unit(f + f * (a0 * normal));
    }
  }
}

void fv_ref_pixel(const fv_ref_pixel_args *p) {
  const int64_t per_image = p->H * p->W * p->C;
  for (int64_t b = 0; b < p->B; b++) {
    const float *im = p->image + b * per_image;
    float *out = p->out + b * per_image;
    if (p->mode == FV_PIXEL_BRIGHTNESS || p->mode == FV_PIXEL_SATURATE) {
      for (int64_t px = 0; px < p->H * p->W; px++) pixel_hsv(p, im + 3 * px, out + 3 * px);
      continue;
    }
    if (p->mode == FV_PIXEL_GAUSSIAN_NOISE || p->mode == FV_PIXEL_SPECKLE_NOISE || p->mode == FV_PIXEL_IMPULSE_NOISE) {
      pixel_noise_image(p, b, im, out, per_image);
      continue;
    }
    if (p->mode == FV_PIXEL_QUANTIZE) { /* after every blur: its own loop, which vectorises */
      for (int64_t i = 0; i < per_image; i++) out[i] = u8(p->a[0] * im[i]);
      continue;
    }
    for (int64_t y = 0; y < p->H; y++)
      for (int64_t x = 0; x < p->W; x++)
        for (int64_t c = 0; c < p->C; c++) {
          int64_t i = (y * p->W + x) * p->C + c;
          out[i] = pixel_value(p, b, y, x, c, im[i], (uint32_t)i);
        }
  }
}

/* ---- FV_OP_RANDOM, FV_OP_REDUCE ----------------------------------------------------------------- */

void fv_ref_random(const uint32_t *keys, float *out, int64_t B, int64_t per_image, fv_random_dist dist, float a,
                   float b, const fv_rng_params *rng) {
  for (int64_t img = 0; img < B; img++) {
    fv_rng r = {rng->seed, keys[img], rng->corruption, rng->severity, rng->stream};
    float *o = out + img * per_image;
    /* fv_rng_uniform / fv_rng_normal of draw i, the words drawn a block at a time */
    enum { BLOCK = 256 };
    uint32_t w0[BLOCK], w1[BLOCK];
    for (int64_t i0 = 0; i0 < per_image; i0 += BLOCK) {
      const int m = per_image - i0 < BLOCK ? (int)(per_image - i0) : BLOCK;
      rng_words_block(&r, (uint32_t)i0, m, w0, w1);
      for (int k = 0; k < m; k++)
        o[i0 + k] =
            dist == FV_RANDOM_NORMAL ? a + b * normal_from_words(w0[k], w1[k]) : a + (b - a) * fv_rng_u01(w0[k]);
    }
  }
}

void fv_ref_reduce(const float *image, float *out, int64_t B, int64_t HW, int64_t C, fv_reduce_kind kind) {
  for (int64_t b = 0; b < B; b++)
    for (int64_t c = 0; c < C; c++) {
      const float *im = image + b * HW * C + c;
      if (kind == FV_REDUCE_MAX) {
        float m = im[0];
        for (int64_t i = 1; i < HW; i++) m = fmaxf(m, im[i * C]);
        out[b * C + c] = m;
      } else {
        double s = 0.0;
        for (int64_t i = 0; i < HW; i++) s += im[i * C];
        out[b * C + c] = (float)(s / (double)HW);
      }
    }
}

/* ---- FV_OP_PLASMA (corruptions.md 3.8, imagecorruptions' plasma_fractal in fp32) ---------------- */

float fv_ref_plasma_wibble(float decay, int level) {
  double w = 100.0;
  for (int l = 0; l < level; l++) w /= (double)decay;
  return (float)w;
}

/* mean of the four neighbours + w * U(-w, w), numpy's uniform(low, high) = low + (high - low) u */
static float wibbled(float sum, float w, float u) { return sum * 0.25f + w * (-w + (w + w) * u); }

void fv_ref_plasma(const uint32_t *keys, float *out, int64_t B, int N, float decay, const fv_rng_params *rng) {
  for (int64_t img = 0; img < B; img++) {
    float *P = out + img * (int64_t)N * N;
#define AT(y, x) P[(int64_t)(y)*N + (x)]
    AT(0, 0) = 0.0f;
    int level = 0;
    for (int step = N; step >= 2; step /= 2, level++) {
      const float w = fv_ref_plasma_wibble(decay, level);
      const int cells = N / step, h = step / 2;
      fv_rng r = {rng->seed, keys[img], rng->corruption, rng->severity, rng->stream + 3u * (uint32_t)level};
      /* squares: centre = corners (i, j), (i+1, j), (i, j+1), (i+1, j+1), wrapping */
      for (int i = 0; i < cells; i++)
        for (int j = 0; j < cells; j++) {
          int i1 = (i + 1) % cells, j1 = (j + 1) % cells;
          float s =
              (AT(i * step, j * step) + AT(i1 * step, j * step)) + (AT(i * step, j1 * step) + AT(i1 * step, j1 * step));
          AT(i * step + h, j * step + h) = wibbled(s, w, fv_rng_uniform(&r, (uint32_t)(i * cells + j)));
        }
      /* diamonds, set 1 at (i*step, j*step + h): centres (i-1, j), (i, j); corners (i, j), (i, j+1) */
      r.stream = rng->stream + 3u * (uint32_t)level + 1u;
      for (int i = 0; i < cells; i++)
        for (int j = 0; j < cells; j++) {
          int im1 = (i + cells - 1) % cells, j1 = (j + 1) % cells;
          float s = (AT(i * step + h, j * step + h) + AT(im1 * step + h, j * step + h)) +
                    (AT(i * step, j * step) + AT(i * step, j1 * step));
          AT(i * step, j * step + h) = wibbled(s, w, fv_rng_uniform(&r, (uint32_t)(i * cells + j)));
        }
      /* set 2 at (i*step + h, j*step): centres (i, j-1), (i, j); corners (i, j), (i+1, j) */
      r.stream = rng->stream + 3u * (uint32_t)level + 2u;
      for (int i = 0; i < cells; i++)
        for (int j = 0; j < cells; j++) {
          int jm1 = (j + cells - 1) % cells, i1 = (i + 1) % cells;
          float s = (AT(i * step + h, j * step + h) + AT(i * step + h, jm1 * step + h)) +
                    (AT(i * step, j * step) + AT(i1 * step, j * step));
          AT(i * step + h, j * step) = wibbled(s, w, fv_rng_uniform(&r, (uint32_t)(i * cells + j)));
        }
    }
#undef AT
    const int64_t n = (int64_t)N * N;
    float mn = P[0], mx = P[0];
    for (int64_t i = 1; i < n; i++) {
      mn = fminf(mn, P[i]);
      mx = fmaxf(mx, P[i]);
    }
    const float range = mx - mn;
    for (int64_t i = 0; i < n; i++) P[i] = range > 0.0f ? (P[i] - mn) / range : 0.0f;
  }
}
