/* corrupt_frost.c: frost textures, procedural or loaded, and the per-image crop (see
 * corrupt_frost.h).
 *
 * Procedural draws (engine/philox.h), key (frost seed, 0x46525354 + texture index), corruption 8,
 * severity 0 (crops use severities 1..5, so the counters never meet), streams:
 *   1 + o (o = 0..5)  value noise of octave o, draw index = lattice point gy * cols + gx, uniform;
 *   7                 the crystals, one running draw counter in program order: per nucleation
 *                     point x, y, theta0; per arm the angle jitter, then the length; per branch
 *                     its intensity; per step the angle jitter, then (depth < 3) the spawn test
 *                     and, on a spawn, the side and the length fraction.
 * The draw order is therefore part of the texture definition: changing it changes the textures.
 *
 * Resizing is OpenCV's generic 8-bit resize (cv2.resize INTER_CUBIC with a = -0.75, or
 * INTER_LINEAR): half-pixel centres, replicated borders, float coefficients rounded to 11-bit
 * fixed point, integer sums, (v + 2^21) >> 22 with saturation. Accelerated OpenCV builds (IPP,
 * SIMD variants) are not guaranteed to match this to the last grey level. */
#include "corrupt_frost.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/mem.h>
#include <libavutil/sha.h>

#include "../engine/file.h"
#include "../engine/philox.h"
#include "corrupt_spatter.h"
#include "image.h"
#include "jpeg.h"

enum { FROST_CORRUPTION = 8, CACHE_ENTRIES = 4, FROST_TEXTURE_KEY = 0x46525354 };

static const char *const frost_files[FV_FROST_TEXTURES] = {"frost1.png", "frost2.png", "frost3.png", "frost4.jpg",
                                                           "frost5.jpg"};
/* Preset grey mean and standard deviation of each procedural texture (spec 7). */
static const double frost_presets[FV_FROST_TEXTURES][2] = {{130, 25}, {205, 22}, {150, 28}, {120, 43}, {175, 30}};

typedef struct resized_set {
  int used, table, height, width;
  unsigned long stamp;
  uint8_t *img[FV_FROST_TEXTURES];
  int h[FV_FROST_TEXTURES], w[FV_FROST_TEXTURES];
} resized_set;

struct fv_frost_textures {
  uint8_t *tex[FV_FROST_TEXTURES];
  int th[FV_FROST_TEXTURES], tw[FV_FROST_TEXTURES];
  resized_set cache[CACHE_ENTRIES];
  unsigned long clock;
  char source[4200];
};

/* ---- procedural textures --------------------------------------------------------------------- */

typedef struct crystal_ctx {
  fv_rng rng;
  uint32_t next; /* running draw index on stream 7 */
  double *C;
  int W, H;
} crystal_ctx;

static double draw_u(crystal_ctx *c) { return (double)fv_rng_uniform(&c->rng, c->next++); }
static double draw_n(crystal_ctx *c) { return (double)fv_rng_normal(&c->rng, c->next++); }

/* Anti-aliased point: bilinear weights on the four nearest pixel centres, max-composited. */
static void splat(crystal_ctx *c, double x, double y, double intensity) {
  double fx = x - 0.5, fy = y - 0.5;
  double x0 = floor(fx), y0 = floor(fy);
  double ax = fx - x0, ay = fy - y0;
  for (int j = 0; j < 2; j++)
    for (int i = 0; i < 2; i++) {
      double xi = x0 + i, yj = y0 + j;
      if (xi < 0 || yj < 0 || xi >= c->W || yj >= c->H) continue;
      double w = (i ? ax : 1 - ax) * (j ? ay : 1 - ay) * intensity;
      double *p = &c->C[(size_t)yj * c->W + (size_t)xi];
      if (w > *p) *p = w;
    }
}

static void grow_branch(crystal_ctx *c, double x, double y, double theta_deg, double length, int depth) {
  const double deg = 3.14159265358979323846 / 180.0;
  double intensity = 0.5 + 0.5 * draw_u(c);
  long steps = lrint(length);
  for (long s = 0; s < steps; s++) {
    theta_deg += 4.0 * draw_n(c);
    x += cos(theta_deg * deg);
    y += sin(theta_deg * deg);
    splat(c, x, y, intensity);
    if (depth < 3 && draw_u(c) < 0.04) {
      double side = draw_u(c) < 0.5 ? -60.0 : 60.0;
      double frac = 0.3 + 0.3 * draw_u(c);
      grow_branch(c, x, y, theta_deg + side, frac * (double)(steps - s - 1), depth + 1);
    }
  }
}

static double grey_of(const double *rgb) { return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]; }

static void grey_stats(const double *v, size_t n, double *mean, double *sd) {
  double s = 0, s2 = 0;
  for (size_t i = 0; i < n; i++) {
    double c[3];
    for (int k = 0; k < 3; k++) c[k] = fmin(255.0, fmax(0.0, v[i * 3 + k]));
    double g = grey_of(c);
    s += g;
    s2 += g * g;
  }
  *mean = s / (double)n;
  double var = s2 / (double)n - *mean * *mean;
  *sd = var > 0 ? sqrt(var) : 0;
}

static fv_status generate_texture(uint32_t seed, int k, uint8_t **out, fv_error *err) {
  const int W = FV_FROST_WIDTH, H = FV_FROST_HEIGHT;
  const size_t n = (size_t)W * H;
  double *B = calloc(n, sizeof(double)), *C = calloc(n, sizeof(double)), *G = malloc(n * sizeof(double));
  double *rgb = malloc(n * 3 * sizeof(double)), *lattice = malloc(sizeof(double) * 200 * 200);
  uint8_t *px = malloc(n * 3);
  fv_status st = FV_OK;
  if (!B || !C || !G || !rgb || !lattice || !px) {
    st = fv_fail(err, "frost: out of memory generating texture %d", k + 1);
    goto done;
  }
  fv_rng rng = {seed, FROST_TEXTURE_KEY + (uint32_t)k, FROST_CORRUPTION, 0, 0};
  /* Haze: six octaves of value noise, 4 * 2^o cycles per width, smoothstep interpolation. */
  for (int o = 0; o < 6; o++) {
    int freq = 4 << o, cols = freq + 1;
    double cell = (double)W / freq;
    int rows = (int)ceil(H / cell) + 1;
    rng.stream = 1u + (uint32_t)o;
    for (int i = 0; i < rows * cols; i++) lattice[i] = (double)fv_rng_uniform(&rng, (uint32_t)i);
    double amp = ldexp(1.0, -o);
    for (int y = 0; y < H; y++) {
      double v = (y + 0.5) / cell;
      int gy = (int)v;
      double fy = v - gy, sy = fy * fy * (3 - 2 * fy);
      for (int x = 0; x < W; x++) {
        double u = (x + 0.5) / cell;
        int gx = (int)u;
        double fx = u - gx, sx = fx * fx * (3 - 2 * fx);
        const double *l0 = lattice + (size_t)gy * cols + gx, *l1 = l0 + cols;
        double top = l0[0] + (l0[1] - l0[0]) * sx, bottom = l1[0] + (l1[1] - l1[0]) * sx;
        B[(size_t)y * W + x] += amp * (top + (bottom - top) * sy);
      }
    }
  }
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    lo = fmin(lo, B[i]);
    hi = fmax(hi, B[i]);
  }
  for (size_t i = 0; i < n; i++) B[i] = hi > lo ? (B[i] - lo) / (hi - lo) : 0;
  /* Crystals: n nucleation points with six arms each, branching. */
  crystal_ctx cc = {{seed, FROST_TEXTURE_KEY + (uint32_t)k, FROST_CORRUPTION, 0, 7}, 0, C, W, H};
  long nuclei = lrint(0.6 * W * H / 1e4);
  for (long i = 0; i < nuclei; i++) {
    double x = draw_u(&cc) * W, y = draw_u(&cc) * H, theta0 = draw_u(&cc) * 60.0;
    for (int a = 0; a < 6; a++) {
      double theta = theta0 + 60.0 * a + 8.0 * draw_n(&cc);
      double length = 15.0 + 45.0 * draw_u(&cc);
      grow_branch(&cc, x, y, theta, length, 0);
    }
  }
  /* Glow, then soften. */
  if ((st = fv_spatter_gaussian(C, H, W, 2.0, G, err))) goto done;
  for (size_t i = 0; i < n; i++) C[i] = fmax(C[i], 0.5 * G[i]);
  if ((st = fv_spatter_gaussian(C, H, W, 0.6, G, err))) goto done;
  static const double tint_lo[3] = {60, 90, 110}, tint_hi[3] = {235, 245, 255};
  for (size_t i = 0; i < n; i++) {
    double f = fmin(1.0, fmax(0.0, 0.55 * B[i] + 0.8 * G[i]));
    for (int c = 0; c < 3; c++) rgb[i * 3 + c] = tint_lo[c] + (tint_hi[c] - tint_lo[c]) * f;
  }
  /* Affine grey adjustment to the preset. Clipping at 0 and 255 moves the statistics, so the
   * adjustment is repeated on the clipped values a few times (it converges within 0.05 grey). */
  double want_mean = frost_presets[k][0], want_sd = frost_presets[k][1];
  for (int iter = 0; iter < 10; iter++) {
    double mean, sd;
    grey_stats(rgb, n, &mean, &sd);
    if (fabs(mean - want_mean) < 0.05 && fabs(sd - want_sd) < 0.05) break;
    double gain = sd > 0 ? want_sd / sd : 1.0;
    for (size_t i = 0; i < n * 3; i++) rgb[i] = (rgb[i] - mean) * gain + want_mean;
  }
  for (size_t i = 0; i < n * 3; i++) px[i] = (uint8_t)lrint(fmin(255.0, fmax(0.0, rgb[i])));
  *out = px;
  px = NULL;
done:
  free(B);
  free(C);
  free(G);
  free(rgb);
  free(lattice);
  free(px);
  return st;
}

/* ---- user textures --------------------------------------------------------------------------- */

static fv_status load_texture(const char *dir, int k, fv_frost_textures *t, char hex[13], fv_error *err) {
  char path[4096];
  if (snprintf(path, sizeof path, "%s/%s", dir, frost_files[k]) >= (int)sizeof path)
    return fv_fail(err, "frost: --frost-dir path is too long: %s", dir);
  char *bytes = NULL;
  size_t len = 0;
  if (fv_read_file(path, (size_t)256 << 20, &bytes, &len, err))
    return fv_fail_context(err,
                           "frost: --frost-dir %s must hold frost1.png, "
                           "frost2.png, frost3.png, frost4.jpg, "
                           "frost5.jpg (the ImageNet-C originals)",
                           dir);
  struct AVSHA *sha = av_sha_alloc();
  if (!sha) {
    free(bytes);
    return fv_fail(err, "frost: out of memory hashing %s", path);
  }
  uint8_t digest[32];
  av_sha_init(sha, 256);
  av_sha_update(sha, (const uint8_t *)bytes, len);
  av_sha_final(sha, digest);
  av_free(sha);
  free(bytes);
  for (int i = 0; i < 6; i++) snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  /* JPEGs through libjpeg-turbo with its defaults, as cv2.imread and PIL decode them. */
  fv_image img = {0};
  fv_status st = k >= 3 ? fv_jpeg_load(path, 3, &img, err) : fv_image_load(path, 3, &img, err);
  if (st) return fv_fail_context(err, "frost: texture %d", k + 1);
  t->tex[k] = img.pixels;
  t->th[k] = img.height;
  t->tw[k] = img.width;
  return FV_OK;
}

/* ---- open / close ---------------------------------------------------------------------------- */

void fv_frost_close(fv_frost_textures *t) {
  if (!t) return;
  for (int k = 0; k < FV_FROST_TEXTURES; k++) free(t->tex[k]);
  for (int e = 0; e < CACHE_ENTRIES; e++)
    for (int k = 0; k < FV_FROST_TEXTURES; k++) free(t->cache[e].img[k]);
  free(t);
}

fv_status fv_frost_open(const char *frost_dir, uint32_t frost_seed, fv_frost_textures **out, fv_error *err) {
  *out = NULL;
  fv_frost_textures *t = calloc(1, sizeof *t);
  if (!t) return fv_fail(err, "frost: out of memory");
  if (!frost_dir) {
    for (int k = 0; k < FV_FROST_TEXTURES; k++) {
      if (generate_texture(frost_seed, k, &t->tex[k], err)) {
        fv_frost_close(t);
        return FV_ERR;
      }
      t->th[k] = FV_FROST_HEIGHT;
      t->tw[k] = FV_FROST_WIDTH;
    }
    snprintf(t->source, sizeof t->source, "procedural (seed %u)", (unsigned)frost_seed);
  } else {
    char hex[FV_FROST_TEXTURES][13];
    for (int k = 0; k < FV_FROST_TEXTURES; k++)
      if (load_texture(frost_dir, k, t, hex[k], err)) {
        fv_frost_close(t);
        return FV_ERR;
      }
    snprintf(t->source, sizeof t->source, "user textures from %.4000s (sha256 %s %s %s %s %s)", frost_dir, hex[0],
             hex[1], hex[2], hex[3], hex[4]);
  }
  *out = t;
  return FV_OK;
}

const char *fv_frost_source(const fv_frost_textures *t) { return t ? t->source : ""; }

const uint8_t *fv_frost_texture(const fv_frost_textures *t, int k, int *height, int *width) {
  if (!t || k < 0 || k >= FV_FROST_TEXTURES) return NULL;
  *height = t->th[k];
  *width = t->tw[k];
  return t->tex[k];
}

/* ---- resizing (OpenCV's generic 8-bit resize) ------------------------------------------------ */

typedef struct axis_taps {
  int *index; /* n * taps source indices, clamped */
  int *coef;  /* n * taps 11-bit fixed-point weights */
} axis_taps;

static void cubic_coefs(float x, float c[4]) {
  const float A = -0.75f;
  c[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  c[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  c[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  c[3] = 1.f - c[0] - c[1] - c[2];
}

static fv_status make_taps(int src_n, int dst_n, double inv_scale, int cubic, axis_taps *a) {
  int taps = cubic ? 4 : 2;
  a->index = malloc(sizeof(int) * (size_t)dst_n * taps);
  a->coef = malloc(sizeof(int) * (size_t)dst_n * taps);
  if (!a->index || !a->coef) return FV_ERR;
  double scale = 1.0 / inv_scale;
  for (int d = 0; d < dst_n; d++) {
    float f = (float)((d + 0.5) * scale - 0.5);
    int s = (int)floorf(f);
    f -= (float)s;
    float c[4];
    if (cubic) {
      cubic_coefs(f, c);
    } else {
      if (s < 0) f = 0, s = 0;
      if (s >= src_n - 1) f = 0, s = src_n - 1;
      c[0] = 1.f - f;
      c[1] = f;
    }
    int first = cubic ? s - 1 : s;
    for (int k = 0; k < taps; k++) {
      int i = first + k;
      a->index[d * taps + k] = i < 0 ? 0 : i >= src_n ? src_n - 1 : i;
      a->coef[d * taps + k] = (int)lrintf(c[k] * 2048.0f);
    }
  }
  return FV_OK;
}

static fv_status resize_u8(const uint8_t *src, int sh, int sw, int dh, int dw, double inv_sx, double inv_sy, int cubic,
                           uint8_t *dst, fv_error *err) {
  int taps = cubic ? 4 : 2;
  axis_taps ax = {0}, ay = {0};
  fv_status st = FV_OK;
  if (make_taps(sw, dw, inv_sx, cubic, &ax) || make_taps(sh, dh, inv_sy, cubic, &ay)) {
    st = fv_fail(err, "frost: out of memory resizing a texture to %dx%d", dw, dh);
    goto done;
  }
  for (int y = 0; y < dh; y++)
    for (int x = 0; x < dw; x++)
      for (int c = 0; c < 3; c++) {
        int64_t v = 0;
        for (int r = 0; r < taps; r++) {
          const uint8_t *row = src + (size_t)ay.index[y * taps + r] * sw * 3;
          int64_t h = 0;
          for (int k = 0; k < taps; k++)
            h += (int64_t)row[(size_t)ax.index[x * taps + k] * 3 + c] * ax.coef[x * taps + k];
          v += h * ay.coef[y * taps + r];
        }
        /* (v + 2^21) >> 22 as a floor division (v may be negative with cubic overshoot). */
        int64_t q = v + ((int64_t)1 << 21);
        q = q >= 0 ? q >> 22 : -((-q + ((int64_t)1 << 22) - 1) >> 22);
        dst[((size_t)y * dw + x) * 3 + c] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
      }
done:
  free(ax.index);
  free(ax.coef);
  free(ay.index);
  free(ay.coef);
  return st;
}

/* The resized texture k for (table, height, width), made on first use and cached. */
static fv_status resized(fv_frost_textures *t, int table, int height, int width, int k, const uint8_t **img, int *th,
                         int *tw, fv_error *err) {
  resized_set *set = NULL, *oldest = &t->cache[0];
  for (int e = 0; e < CACHE_ENTRIES; e++) {
    resized_set *s = &t->cache[e];
    if (s->used && s->table == table && s->height == height && s->width == width) set = s;
    if (!s->used || (oldest->used && s->stamp < oldest->stamp)) oldest = s;
  }
  if (!set) {
    set = oldest;
    for (int i = 0; i < FV_FROST_TEXTURES; i++) {
      free(set->img[i]);
      set->img[i] = NULL;
    }
    set->used = 1;
    set->table = table;
    set->height = height;
    set->width = width;
  }
  set->stamp = ++t->clock;
  if (!set->img[k]) {
    int sh = t->th[k], sw = t->tw[k], dh, dw, cubic;
    double inv_sx, inv_sy;
    if (table == FV_FROST_RESIZE_IMAGENET) {
      /* imagecorruptions: scale to cover the image if needed, then 1.1 more, always. */
      double s = 1.0;
      if (sh < height || sw < width)
        s = fmax(sh < height ? (double)height / sh : 0, sw < width ? (double)width / sw : 0);
      s *= 1.1;
      dw = (int)ceil(sw * s);
      dh = (int)ceil(sh * s);
      inv_sx = (double)dw / sw; /* cv2.resize with dsize: the scale is the ratio of the sizes */
      inv_sy = (double)dh / sh;
      cubic = 1;
    } else if (table == FV_FROST_RESIZE_NONE) {
      dw = sw;
      dh = sh;
      inv_sx = inv_sy = 1.0;
      cubic = -1;
    } else {
      /* hendrycks' CIFAR-10-C / Tiny-ImageNet-C scripts: cv2.resize(frost, (0, 0), fx=f, fy=f). */
      double f = table == FV_FROST_RESIZE_CIFAR10 ? 0.2 : 0.3;
      dw = (int)lrint(sw * f);
      dh = (int)lrint(sh * f);
      inv_sx = inv_sy = f;
      cubic = 0;
    }
    if (dw < 1 || dh < 1 || (long)dw * dh > (1L << 28))
      return fv_fail(err, "frost: texture %d (%dx%d) would resize to %dx%d", k + 1, sw, sh, dw, dh);
    uint8_t *px = malloc((size_t)dw * dh * 3);
    if (!px) return fv_fail(err, "frost: out of memory for a %dx%d texture", dw, dh);
    if (cubic < 0)
      memcpy(px, t->tex[k], (size_t)dw * dh * 3);
    else if (resize_u8(t->tex[k], sh, sw, dh, dw, inv_sx, inv_sy, cubic, px, err)) {
      free(px);
      return FV_ERR;
    }
    set->img[k] = px;
    set->h[k] = dh;
    set->w[k] = dw;
  }
  *img = set->img[k];
  *th = set->h[k];
  *tw = set->w[k];
  return FV_OK;
}

fv_status fv_frost_crop(fv_frost_textures *t, int table, int height, int width, uint32_t seed, uint32_t image_key,
                        int severity, float *crop, fv_error *err) {
  if (!t) return fv_fail(err, "frost: no textures open");
  if (table < FV_FROST_RESIZE_IMAGENET || table > FV_FROST_RESIZE_NONE)
    return fv_fail(err, "frost: resize rule %d is not 0 (imagenet), 1 (cifar10), 2 (tiny) or 3 (none)", table);
  if (height < 1 || width < 1 || (long)height * width > (1L << 28))
    return fv_fail(err, "frost: image size %dx%d is outside 1..2^28 pixels", width, height);
  fv_rng r = {seed, image_key, FROST_CORRUPTION, (uint32_t)severity, 0};
  int k = (int)fv_rng_below(&r, 0, FV_FROST_TEXTURES);
  const uint8_t *img = NULL;
  int th = 0, tw = 0;
  if (resized(t, table, height, width, k, &img, &th, &tw, err)) return FV_ERR;
  if (th - height < 1 || tw - width < 1)
    return fv_fail(err,
                   "frost: texture %d sized %dx%d by the %s rule is not larger than the %dx%d image in both "
                   "directions (numpy's randint would fail too); use the imagenet table for this size",
                   k + 1, tw, th,
                   table == 1   ? "cifar10"
                   : table == 2 ? "tiny"
                                : "no-resize",
                   width, height);
  r.stream = 1;
  int r0 = (int)fv_rng_below(&r, 0, (uint32_t)(th - height));
  r.stream = 2;
  int c0 = (int)fv_rng_below(&r, 0, (uint32_t)(tw - width));
  for (int y = 0; y < height; y++) {
    const uint8_t *src = img + ((size_t)(r0 + y) * tw + c0) * 3;
    float *dst = crop + (size_t)y * width * 3;
    for (int i = 0; i < width * 3; i++) dst[i] = (float)src[i];
  }
  return FV_OK;
}
