/* philox.glsl: Fovea's counter-based random numbers in GLSL: the algorithm of
 * engine/philox.h, line for line (read the contract there; change both together).
 * Key = (seed, image key); counter = (index, attempt, corruption | severity << 8 | stream << 16, 0). */
#ifndef FV_PHILOX_GLSL
#define FV_PHILOX_GLSL

#define FV_PHILOX_MAX_ATTEMPTS 64u

uvec4 fv_philox4x32(uvec4 x, uint k0, uint k1) {
  for (int r = 0; r < 10; r++) {
    uint hi0, lo0, hi1, lo1;
    umulExtended(0xD2511F53u, x.x, hi0, lo0);
    umulExtended(0xCD9E8D57u, x.z, hi1, lo1);
    x = uvec4(hi1 ^ x.y ^ k0, lo1, hi0 ^ x.w ^ k1, lo0);
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return x;
}

struct fv_rng {
  uint seed, image_key, corruption, severity, stream;
};

uvec4 fv_rng_words(fv_rng r, uint index, uint attempt) {
  uvec4 c = uvec4(index, attempt, (r.corruption & 0xFFu) | (r.severity & 0xFFu) << 8 | r.stream << 16, 0u);
  return fv_philox4x32(c, r.seed, r.image_key);
}

float fv_rng_u01(uint w) { return float(w >> 8) * (1.0 / 16777216.0); }
float fv_rng_u01_open0(uint w) { return float((w >> 8) + 1u) * (1.0 / 16777216.0); }

float fv_rng_uniform(fv_rng r, uint index) { return fv_rng_u01(fv_rng_words(r, index, 0u).x); }

float fv_rng_normal(fv_rng r, uint index) {
  uvec4 w = fv_rng_words(r, index, 0u);
  float u1 = fv_rng_u01_open0(w.x), u2 = fv_rng_u01(w.y);
  return sqrt(-2.0 * log(u1)) * cos(6.2831853071795865 * u2);
}

float fv_rng_lgamma(float x) {
  float shift = 0.0;
  while (x < 8.0) {
    shift += log(x);
    x += 1.0;
  }
  float z = 1.0 / (x * x);
  float series = (1.0 / 12.0 - z * (1.0 / 360.0 - z * (1.0 / 1260.0))) / x;
  return (x - 0.5) * log(x) - x + 0.91893853320467274 + series - shift;
}

float fv_rng_poisson(fv_rng r, uint index, float mean) {
  if (!(mean > 0.0)) return 0.0;
  if (mean < 12.0) {
    float u = fv_rng_u01(fv_rng_words(r, index, 0u).x);
    float p = exp(-mean), cdf = p;
    int k = 0;
    while (u > cdf && k < 1000) {
      k++;
      p *= mean / float(k);
      cdf += p;
      if (p == 0.0) break;
    }
    return float(k);
  }
  float slam = sqrt(mean), loglam = log(mean);
  float b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  float invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2.0);
  for (uint j = 0u; j < FV_PHILOX_MAX_ATTEMPTS; j++) {
    uvec4 w = fv_rng_words(r, index, j);
    float U = fv_rng_u01(w.x) - 0.5, V = fv_rng_u01_open0(w.y);
    float us = 0.5 - abs(U);
    float k = floor((2.0 * a / us + b) * U + mean + 0.43);
    if (us >= 0.07 && V <= vr) return k;
    if (k < 0.0 || (us < 0.013 && V > us)) continue;
    if (log(V) + log(invalpha) - log(a / (us * us) + b) <= -mean + k * loglam - fv_rng_lgamma(k + 1.0)) return k;
  }
  return floor(mean + 0.5);
}

#endif
