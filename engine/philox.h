/* philox.h: Fovea's counter-based random numbers, in C (shaders/common/philox.glsl is the
 * same algorithm in GLSL, line for line; change both together).
 *
 * Why counter-based: a corruption's noise must not depend on GPU scheduling, batch size,
 * sharding or image order, so every random number is a pure function of
 *   key     = (seed, image key)                                   two 32-bit words
 *   counter = (draw index, attempt, corruption | severity << 8 | stream << 16, 0)
 * through Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", 2011).
 * `stream` separates the draw kinds of one corruption (glass dx vs dy, elastic DX vs DY, the
 * levels of the fog fractal); `attempt` numbers the retries of a rejection sampler.
 *
 * Integer words are bit-identical everywhere. The float transforms (log, cos, sqrt, exp)
 * follow each platform's precision, so a device's floats may differ from the CPU's in the
 * last bits, which can move a truncated 8-bit output by one grey level on rare values.
 *
 * Distributions (identical draw use in C and GLSL):
 *   uniform  [0, 1): the top 24 bits of a word times 2^-24
 *   normal:          Box-Muller on words 0 (u1 in (0, 1]) and 1, cosine branch only
 *   poisson:         inversion by sequential search for mean < 12 (word 0 of attempt 0);
 *                    PTRS (Hoermann 1993, as numpy's legacy generator) for mean >= 12, attempt j
 *                    using words 0 and 1 of counter attempt j, at most FV_PHILOX_MAX_ATTEMPTS
 *   bounded integer in [0, n): Lemire's multiply-shift on word 0 with rejection on attempts. */
#ifndef FV_PHILOX_H
#define FV_PHILOX_H

#include <math.h>
#include <stdint.h>

#define FV_PHILOX_MAX_ATTEMPTS 64

typedef struct fv_philox_ctr {
  uint32_t c[4];
} fv_philox_ctr;

static inline void fv_philox_mulhilo(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo) {
  uint64_t p = (uint64_t)a * b;
  *hi = (uint32_t)(p >> 32);
  *lo = (uint32_t)p;
}

/* Philox4x32 with 10 rounds: out = bijection_key(ctr). */
static inline fv_philox_ctr fv_philox4x32(fv_philox_ctr x, uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; r++) {
    uint32_t hi0, lo0, hi1, lo1;
    fv_philox_mulhilo(0xD2511F53u, x.c[0], &hi0, &lo0);
    fv_philox_mulhilo(0xCD9E8D57u, x.c[2], &hi1, &lo1);
    fv_philox_ctr y = {{hi1 ^ x.c[1] ^ k0, lo1, hi0 ^ x.c[3] ^ k1, lo0}};
    x = y;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return x;
}

/* Where a draw comes from: the key and the counter's fixed parts. */
typedef struct fv_rng {
  uint32_t seed, image_key;
  uint32_t corruption, severity, stream;
} fv_rng;

static inline fv_philox_ctr fv_rng_words(const fv_rng *r, uint32_t index, uint32_t attempt) {
  fv_philox_ctr c = {{index, attempt, (r->corruption & 0xFFu) | (r->severity & 0xFFu) << 8 | r->stream << 16, 0u}};
  return fv_philox4x32(c, r->seed, r->image_key);
}

static inline float fv_rng_u01(uint32_t w) { return (float)(w >> 8) * (1.0f / 16777216.0f); }
/* (0, 1]: for logarithms. */
static inline float fv_rng_u01_open0(uint32_t w) { return (float)((w >> 8) + 1u) * (1.0f / 16777216.0f); }

static inline float fv_rng_uniform(const fv_rng *r, uint32_t index) {
  return fv_rng_u01(fv_rng_words(r, index, 0).c[0]);
}

static inline float fv_rng_normal(const fv_rng *r, uint32_t index) {
  fv_philox_ctr w = fv_rng_words(r, index, 0);
  float u1 = fv_rng_u01_open0(w.c[0]), u2 = fv_rng_u01(w.c[1]);
  return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795865f * u2);
}

/* log(Gamma(x)) for x >= 1: shift to x >= 8, then Stirling's series (error < 1e-7 there). */
static inline float fv_rng_lgamma(float x) {
  float shift = 0.0f;
  while (x < 8.0f) {
    shift += logf(x);
    x += 1.0f;
  }
  float z = 1.0f / (x * x);
  float series = (1.0f / 12.0f - z * (1.0f / 360.0f - z * (1.0f / 1260.0f))) / x;
  return (x - 0.5f) * logf(x) - x + 0.91893853320467274f + series - shift;
}

static inline float fv_rng_poisson(const fv_rng *r, uint32_t index, float mean) {
  if (!(mean > 0.0f)) return 0.0f;
  if (mean < 12.0f) {
    float u = fv_rng_u01(fv_rng_words(r, index, 0).c[0]);
    float p = expf(-mean), cdf = p;
    int k = 0;
    while (u > cdf && k < 1000) {
      k++;
      p *= mean / (float)k;
      cdf += p;
      if (p == 0.0f) break; /* fp32 tail: the remaining mass is below resolution */
    }
    return (float)k;
  }
  float slam = sqrtf(mean), loglam = logf(mean);
  float b = 0.931f + 2.53f * slam, a = -0.059f + 0.02483f * b;
  float invalpha = 1.1239f + 1.1328f / (b - 3.4f), vr = 0.9277f - 3.6224f / (b - 2.0f);
  for (uint32_t j = 0; j < FV_PHILOX_MAX_ATTEMPTS; j++) {
    fv_philox_ctr w = fv_rng_words(r, index, j);
    float U = fv_rng_u01(w.c[0]) - 0.5f, V = fv_rng_u01_open0(w.c[1]);
    float us = 0.5f - fabsf(U);
    float k = floorf((2.0f * a / us + b) * U + mean + 0.43f);
    if (us >= 0.07f && V <= vr) return k;
    if (k < 0.0f || (us < 0.013f && V > us)) continue;
    if (logf(V) + logf(invalpha) - logf(a / (us * us) + b) <= -mean + k * loglam - fv_rng_lgamma(k + 1.0f)) return k;
  }
  return floorf(mean + 0.5f); /* 64 rejections in a row: probability far below 1e-30 */
}

/* Unbiased integer in [0, n), n >= 1 (Lemire 2019). */
static inline uint32_t fv_rng_below(const fv_rng *r, uint32_t index, uint32_t n) {
  uint32_t threshold = (uint32_t)(-n) % n;
  for (uint32_t j = 0; j < FV_PHILOX_MAX_ATTEMPTS; j++) {
    uint64_t m = (uint64_t)fv_rng_words(r, index, j).c[0] * n;
    if ((uint32_t)m >= threshold) return (uint32_t)(m >> 32);
  }
  return 0;
}

#endif
