/* ref_tap.c: C references of the two token-aware average pooling ops (FV_OP_TAP_SCALES,
 * FV_OP_TAP_MIX; semantics in engine/graph.h, method in shared/design/methods/tap_adl.md 3).
 *
 * These define what the kernels compute: the CPU executor runs them, test_tap.c compares the
 * Vulkan kernels with them. Sums are fp32, in the order the kernels use (conv taps outer, then
 * channels; pooling taps row-major by (a, e)), so the GPU differs only by fp32 rounding.
 *
 * Deliberately not here: batch-norm folding (a load-time transform of the weights, vision/tap.c)
 * and any notion of which tokens are special beyond "the first P rows pass through". */
#include <math.h>
#include <string.h>

#include "ref.h"

/* Token index (within one image) of grid cell (h, w), or -1 outside the grid. */
static int64_t cell(int64_t h, int64_t w, int64_t gh, int64_t gw) {
  if (h < 0 || h >= gh || w < 0 || w >= gw) return -1;
  return h * gw + w;
}

void fv_ref_tap_scales(const float *x, const float *w1, const float *b1, const float *w2, float *z1, float *out,
                       int64_t B, int64_t T, int64_t C, int P, int64_t gh, int64_t gw, int K, float temperature) {
  const int64_t N = gh * gw;
  /* Z1 = conv3x3(x) + b1 over the patch grid, zero padding: [B, N, K]. */
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < gh; h++)
      for (int64_t w = 0; w < gw; w++)
        for (int k = 0; k < K; k++) {
          float acc = 0.0f;
          for (int t = 0; t < 9; t++) {
            int64_t src = cell(h + t / 3 - 1, w + t % 3 - 1, gh, gw);
            if (src < 0) continue;
            const float *row = x + (b * T + P + src) * C;
            const float *wk = w1 + (int64_t)k * C * 9 + t;
            for (int64_t c = 0; c < C; c++) acc += wk[c * 9] * row[c];
          }
          z1[(b * N + h * gw + w) * K + k] = acc + (b1 ? b1[k] : 0.0f);
        }
  /* Z2 = conv3x3(Z1), zero padding (the padded Z1 is 0, not b1), then softmax over k. */
  for (int64_t b = 0; b < B; b++)
    for (int64_t n = 0; n < N; n++) {
      const int64_t h = n / gw, w = n % gw;
      float *o = out + (b * N + n) * K;
      float mx = -INFINITY;
      for (int k = 0; k < K; k++) {
        float acc = 0.0f;
        for (int t = 0; t < 9; t++) {
          int64_t src = cell(h + t / 3 - 1, w + t % 3 - 1, gh, gw);
          if (src < 0) continue;
          const float *zr = z1 + (b * N + src) * K;
          for (int j = 0; j < K; j++) acc += w2[((int64_t)k * K + j) * 9 + t] * zr[j];
        }
        o[k] = acc / temperature;
        if (o[k] > mx) mx = o[k];
      }
      float sum = 0.0f;
      for (int k = 0; k < K; k++) sum += (o[k] = expf(o[k] - mx));
      for (int k = 0; k < K; k++) o[k] /= sum;
    }
}

void fv_ref_tap_mix(const float *x, const float *scales, float *out, int64_t B, int64_t T, int64_t C, int P, int64_t gh,
                    int64_t gw, int K) {
  const int64_t N = gh * gw;
  for (int64_t b = 0; b < B; b++) {
    const float *xb = x + b * T * C;
    float *ob = out + b * T * C;
    memcpy(ob, xb, (size_t)P * (size_t)C * sizeof *ob); /* prefix tokens pass through */
    for (int64_t n = 0; n < N; n++) {
      const int64_t h = n / gw, w = n % gw;
      const float *wn = scales + (b * N + n) * K;
      for (int64_t c = 0; c < C; c++) {
        float acc = wn[0] * xb[(P + n) * C + c];
        for (int k = 1; k < K; k++) {
          float s = 0.0f;
          for (int a = -1; a <= 1; a++)
            for (int e = -1; e <= 1; e++) {
              int64_t src = cell(h + k * a, w + k * e, gh, gw);
              if (src >= 0) s += xb[(P + src) * C + c];
            }
          acc += wn[k] * (s / 9.0f);
        }
        ob[(P + n) * C + c] = acc;
      }
    }
  }
}
