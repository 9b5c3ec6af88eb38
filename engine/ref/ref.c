/* ref.c: the plain C reference of every graph op (see ref.h and graph.h).
 *
 * These functions define what each op computes; the CPU executor runs them and the kernel
 * tests compare the GPU against them. Matrix products go to OpenBLAS (cblas_sgemm), which
 * uses every core; the other ops are single-threaded loops over rows, with `omp simd` inner
 * loops so GCC vectorises them at -O2 (-fopenmp-simd: no OpenMP runtime). A second thread
 * pool for them lost more than it won: OpenMP's team and OpenBLAS's pthreads spin against
 * each other on few cores. `fovea bench vit --device cpu` on an idle 2-core machine went from
 * 180 to 76 ms per ViT-S/16 image, and from 330 to 212 ms per ViT-B/16, without it.
 *
 * Deliberately not here: argument validation (the graph constructors in graph.c check
 * every shape before an executor runs a node), memory allocation that can fail visibly
 * (attention falls back to a scratch-free path when its scratch allocation fails, so these
 * functions stay void), and any fp16 handling (cpu_exec.c emulates fp16 storage around
 * them). Accumulations that decide accuracy (LayerNorm statistics, token means) are in
 * double; the rest is fp32 like the kernels. */
#include "ref.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- erf and GELU ----------------------------------------------------------------------- */

/* erf(x) ~= x * P(x^2) / Q(x^2) for |x| <= 3.92, and +-1 beyond (erf(3.92) differs from 1 by
 * 3e-8, half an ulp of 1.0f). The coefficients are a weighted least-squares rational fit to
 * erfl on [0, 3.92], iterated towards minimax (Loeb, then Lawson weights), made for Fovea;
 * the fit's own maximum absolute error is 4.3e-8. Evaluated in double and rounded to float,
 * the error against erf is at most 7.3e-8 (fp32 evaluation would give 3.6e-7, too coarse).
 * There are no branches and no library calls, so `omp simd` loops vectorise it; the clamp
 * is a select, which GCC only if-converts without -ftrapping-math, hence FV_VECTORISE on
 * these functions (clang vectorises selects regardless). */
#if defined(__GNUC__) && !defined(__clang__)
#define FV_VECTORISE __attribute__((optimize("no-trapping-math")))
#else
#define FV_VECTORISE
#endif

FV_VECTORISE static inline double erf_fast(double x) {
  const double xc = x > 3.92 ? 3.92 : (x < -3.92 ? -3.92 : x); /* NaN passes through */
  const double s = xc * xc;
  double p = 1.992138578407e-08;
  p = p * s - 1.994301467292e-06;
  p = p * s + 1.489875426094e-04;
  p = p * s + 3.972924157414e-03;
  p = p * s + 5.139737347816e-02;
  p = p * s + 2.061149667903e-01;
  p = p * s + 1.128378777447e+00;
  double q = 1.024131792800e-03;
  q = q * s + 1.488928034739e-02;
  q = q * s + 1.175648631856e-01;
  q = q * s + 5.159933986066e-01;
  q = q * s + 1.0;
  const double r = xc * p / q;
  return x > 3.92 ? 1.0 : (x < -3.92 ? -1.0 : r); /* exactly +-1 in the tails: GELU(-100) = 0 */
}

FV_VECTORISE static inline float gelu_fast(float x) {
  const double v = x;
  return (float)(v * 0.5 * (1.0 + erf_fast(v * 0.70710678118654752)));
}

/* GELU over a row in place: the loop that must vectorise (7.3M values per ViT-B image). */
FV_VECTORISE static void gelu_row(float *row, int64_t n) {
#pragma omp simd
  for (int64_t i = 0; i < n; i++) row[i] = gelu_fast(row[i]);
}

float fv_ref_gelu(float x) { return gelu_fast(x); }

/* ---- matmul ----------------------------------------------------------------------------- */

/* Row-major out[M,N] = a[M,K] . w[N,K]^T with no bias. cblas takes int sizes: M is split
 * into chunks that fit; N or K beyond INT_MAX (never in a real model) take a plain loop. */
static void gemm_nt(const float *a, const float *w, float *out, int64_t M, int64_t N, int64_t K) {
  if (N > INT_MAX || K > INT_MAX) {
    for (int64_t m = 0; m < M; m++)
      for (int64_t n = 0; n < N; n++) {
        float acc = 0;
        for (int64_t k = 0; k < K; k++) acc += a[m * K + k] * w[n * K + k];
        out[m * N + n] = acc;
      }
    return;
  }
  for (int64_t m0 = 0; m0 < M; m0 += INT_MAX) {
    int64_t rows = M - m0 < INT_MAX ? M - m0 : INT_MAX;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows, (int)N, (int)K, 1.0f, a + m0 * K, (int)K, w, (int)K,
                0.0f, out + m0 * N, (int)N);
  }
}

void fv_ref_matmul(const float *a, const float *w, const float *bias, float *out, int64_t M, int64_t N, int64_t K,
                   int gelu) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0) {
    memset(out, 0, (size_t)(M * N) * sizeof *out);
  } else {
    gemm_nt(a, w, out, M, N, K);
  }
  if (!bias && !gelu) return;
  /* The epilogue runs on the calling thread on purpose: right after cblas_sgemm, the
   * pthreads OpenBLAS that Debian ships keeps its worker threads spinning, and an OpenMP team
   * competing with them for two cores measured 4-8x slower than this single vectorised pass
   * (197 x 3072 bias + GELU: ~1.9 ms on one core; an OpenMP team without BLAS threads
   * around: ~1.1 ms). */
  for (int64_t m = 0; m < M; m++) {
    float *row = out + m * N;
    if (bias) {
#pragma omp simd
      for (int64_t n = 0; n < N; n++) row[n] += bias[n];
    }
    if (gelu) gelu_row(row, N);
  }
}

/* ---- layernorm, softmax ------------------------------------------------------------------- */

void fv_ref_layernorm(const float *x, const float *gamma, const float *beta, float *out, int64_t rows, int64_t C,
                      float eps) {
  if (C <= 0) return;
  for (int64_t r = 0; r < rows; r++) {
    const float *in = x + r * C;
    float *o = out + r * C;
    /* Two passes in double: the variance is the mean of squared deviations, never
     * E[x^2] - E[x]^2, which cancels badly when the mean is large. */
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int64_t c = 0; c < C; c++) sum += in[c];
    double mean = sum / (double)C, sq = 0;
#pragma omp simd reduction(+ : sq)
    for (int64_t c = 0; c < C; c++) sq += ((double)in[c] - mean) * ((double)in[c] - mean);
    float inv = (float)(1.0 / sqrt(sq / (double)C + (double)eps));
    float fmean = (float)mean;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) o[c] = (in[c] - fmean) * inv;
    if (gamma) {
#pragma omp simd
      for (int64_t c = 0; c < C; c++) o[c] *= gamma[c];
    }
    if (beta) {
#pragma omp simd
      for (int64_t c = 0; c < C; c++) o[c] += beta[c];
    }
  }
}

/* exp(x) for x <= 0 (softmax arguments after subtracting the row maximum), vectorisable:
 * x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), degree-7 Taylor polynomial for
 * e^r, and 2^n put together from its exponent bits. Relative error <= 1.1e-7 (about one ulp);
 * 0 below -87 (where expf is denormal or 0); NaN stays NaN; x > 0 is clamped to 0 (gives 1).
 * About twice as fast as glibc's expf when vectorised, and no call in the loop. */
FV_VECTORISE static inline float exp_nonpositive(float x) {
  const float xc = x > -87.0f ? (x < 0.0f ? x : 0.0f) : -87.0f;   /* NaN -> -87: the cast stays defined */
  const int32_t ni = (int32_t)(xc * 1.44269504088896341f - 0.5f); /* round to nearest: argument <= 0 */
  const float n = (float)ni;
  float r = xc - n * 0.693145751953125f;
  r = r - n * 1.42860682030941723212e-6f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (ni + 127) * (1 << 23); /* ni in [-126, 0]: a normal float's exponent */
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  return x > -87.0f ? p * scale : (x == x ? 0.0f : x);
}

/* Softmax of one row; in may equal out. A row of all -inf gives NaN, as in PyTorch. */
FV_VECTORISE static void softmax_row(const float *in, float *out, int64_t C) {
  float mx = -INFINITY;
  for (int64_t c = 0; c < C; c++) mx = in[c] > mx ? in[c] : mx;
  float sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t c = 0; c < C; c++) {
    const float e = exp_nonpositive(in[c] - mx);
    out[c] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t c = 0; c < C; c++) out[c] *= inv;
}

void fv_ref_softmax(const float *x, float *out, int64_t rows, int64_t C) {
  if (C <= 0) return;
  for (int64_t r = 0; r < rows; r++) softmax_row(x + r * C, out + r * C, C);
}

/* ---- attention ----------------------------------------------------------------------------- */

/* Query rows per scratch block: the score block is rows x T floats, so long sequences never
 * need a T x T buffer. */
#define ATTN_ROWS 256

/* Scratch-free attention for one (b, h): online softmax over keys, one query at a time.
 * Used only when the scratch allocation fails, so the reference never fails. D <= 128. */
static void attention_online(const float *q, const float *k, const float *v, float *o, int64_t T, int D, int64_t ld,
                             int64_t ldo, float scale) {
  for (int64_t i = 0; i < T; i++) {
    float acc[128] = {0};
    float mx = -INFINITY, sum = 0;
    for (int64_t j = 0; j < T; j++) {
      float s = 0;
      for (int d = 0; d < D; d++) s += q[i * ld + d] * k[j * ld + d];
      s *= scale;
      float nm = s > mx ? s : mx;
      float corr = expf(mx - nm), p = expf(s - nm);
      sum = sum * corr + p;
      for (int d = 0; d < D; d++) acc[d] = acc[d] * corr + p * v[j * ld + d];
      mx = nm;
    }
    for (int d = 0; d < D; d++) o[i * ldo + d] = acc[d] / sum;
  }
}

void fv_ref_attention(const float *qkv, float *out, int64_t B, int64_t T, int H, int D, float scale) {
  if (B <= 0 || T <= 0 || H <= 0 || D <= 0) return;
  const int64_t ld = 3LL * H * D, ldo = (int64_t)H * D;
  const int64_t rows = T < ATTN_ROWS ? T : ATTN_ROWS;
  /* cblas takes int sizes; a sequence beyond INT_MAX tokens would need a T x T of 2^62 anyway. */
  float *scores = (T <= INT_MAX && ld <= INT_MAX) ? malloc((size_t)(rows * T) * sizeof *scores) : NULL;
  for (int64_t b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      const float *q = qkv + b * T * ld + (int64_t)h * D;
      const float *k = q + (int64_t)H * D;
      const float *v = q + 2LL * H * D;
      float *o = out + b * T * ldo + (int64_t)h * D;
      if (!scores) {
        if (D > 128) { /* graph.c enforces D <= 128; outside it, say "no result" loudly */
          for (int64_t i = 0; i < T; i++)
            for (int d = 0; d < D; d++) o[i * ldo + d] = NAN;
          continue;
        }
        attention_online(q, k, v, o, T, D, ld, ldo, scale);
        continue;
      }
      for (int64_t i0 = 0; i0 < T; i0 += rows) {
        int64_t n = T - i0 < rows ? T - i0 : rows;
        /* S[n, T] = scale * Q[i0.., D] . K[T, D]^T, then row softmax, then O = P . V */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)T, D, scale, q + i0 * ld, (int)ld, k, (int)ld,
                    0.0f, scores, (int)T);
        /* Rows of one head are short work: a parallel region per block only pays for long T. */
        for (int64_t r = 0; r < n; r++) softmax_row(scores + r * T, scores + r * T, T);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, D, (int)T, 1.0f, scores, (int)T, v, (int)ld,
                    0.0f, o + i0 * ldo, (int)ldo);
      }
    }
  }
  free(scores);
}

/* ---- elementwise and token ops -------------------------------------------------------------- */

void fv_ref_add(const float *a, const float *b, const float *gamma, float *out, int64_t n, int64_t C, float alpha,
                float beta) {
  if (n <= 0) return;
  if (!gamma || C <= 0) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) out[i] = alpha * a[i] + beta * b[i];
    return;
  }
  int64_t rows = n / C;
  for (int64_t r = 0; r < rows; r++) {
    const float *ar = a + r * C, *br = b + r * C;
    float *o = out + r * C;
#pragma omp simd
    for (int64_t c = 0; c < C; c++) o[c] = alpha * ar[c] + beta * br[c] * gamma[c];
  }
  for (int64_t i = rows * C; i < n; i++) out[i] = alpha * a[i] + beta * b[i] * gamma[i % C];
}

void fv_ref_im2col(const float *image, float *out, int64_t B, int64_t C, int64_t H, int64_t W, int p) {
  if (p <= 0) return;
  const int64_t gh = H / p, gw = W / p, cols = C * p * p;
  for (int64_t b = 0; b < B; b++)
    for (int64_t gy = 0; gy < gh; gy++)
      for (int64_t gx = 0; gx < gw; gx++) {
        float *o = out + (b * gh * gw + gy * gw + gx) * cols;
        for (int64_t c = 0; c < C; c++)
          for (int ky = 0; ky < p; ky++) {
            const float *src = image + ((b * C + c) * H + gy * p + ky) * W + gx * p;
            memcpy(o + (c * p + ky) * p, src, (size_t)p * sizeof *src);
          }
      }
}

void fv_ref_embed_tokens(const float *patches, const float *prefix, const float *pos, float *out, int64_t B, int64_t Np,
                         int64_t E, int P, int pos_offset) {
  const int64_t T = P + Np;
  for (int64_t b = 0; b < B; b++)
    for (int64_t t = 0; t < T; t++) {
      const float *src = t < P ? (prefix ? prefix + t * E : NULL) : patches + (b * Np + t - P) * E;
      const float *pe = pos && t >= pos_offset ? pos + (t - pos_offset) * E : NULL;
      float *o = out + (b * T + t) * E;
      if (src)
        memcpy(o, src, (size_t)E * sizeof *o);
      else
        memset(o, 0, (size_t)E * sizeof *o);
      if (pe) {
#pragma omp simd
        for (int64_t e = 0; e < E; e++) o[e] += pe[e];
      }
    }
}

void fv_ref_tokens(const float *x, float *out, int64_t B, int64_t T, int64_t E, int start, int count, int mean) {
  if (count <= 0) return;
  for (int64_t b = 0; b < B; b++) {
    const float *xb = x + (b * T + start) * E;
    if (!mean) {
      memcpy(out + b * count * E, xb, (size_t)(count * E) * sizeof *x);
      continue;
    }
    for (int64_t e = 0; e < E; e++) {
      double s = 0;
      for (int t = 0; t < count; t++) s += xb[t * E + e];
      out[b * E + e] = (float)(s / count);
    }
  }
}

/* ---- image preprocessing ---------------------------------------------------------------------- */

/* PIL's 8-bit resampler accumulates in fixed point starting from one half and shifts, i.e.
 * floor(v + 0.5): round half up, then clamps to 0..255. We do the same on the float sum
 * (the weights themselves are not quantised to PIL's 22-bit fixed point, so a value within
 * ~1e-6 of a .5 boundary may round differently from PIL; the GPU kernel follows this rule). */
static inline float round_u8(float v) {
  float r = floorf(v + 0.5f);
  return r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
}

/* Reads one table entry's first index and tap count, clamped so a malformed table can never
 * read outside the source line (the table is host data, not checked by graph.c). */
static void table_entry(const float *entry, int64_t in_size, int taps, int64_t *first, int64_t *count) {
  float f = entry[0], c = entry[1];
  int64_t fi = f >= 0.0f && f < (float)in_size ? (int64_t)f : 0;
  int64_t ci = c >= 0.0f && c <= (float)taps ? (int64_t)c : 0;
  if (ci > in_size - fi) ci = in_size - fi;
  *first = fi;
  *count = ci;
}

void fv_ref_resample(const float *image, const uint8_t *image_u8, const float *table, float *out, int64_t H, int64_t W,
                     int64_t C, int axis, int64_t out_size, int taps, int round_u8_flag) {
  const int64_t stride = 2 + (int64_t)taps;
  if (axis == 0) {
    /* out[o, x, c] = sum_k w_k * in[first + k, x, c] */
    for (int64_t o = 0; o < out_size; o++) {
      int64_t first, count;
      table_entry(table + o * stride, H, taps, &first, &count);
      const float *wt = table + o * stride + 2;
      float *dst = out + o * W * C;
      for (int64_t i = 0; i < W * C; i++) dst[i] = 0.0f;
      for (int64_t k = 0; k < count; k++) {
        const int64_t row = (first + k) * W * C;
        const float wk = wt[k];
        if (image_u8) {
#pragma omp simd
          for (int64_t i = 0; i < W * C; i++) dst[i] += wk * (float)image_u8[row + i];
        } else {
#pragma omp simd
          for (int64_t i = 0; i < W * C; i++) dst[i] += wk * image[row + i];
        }
      }
      if (round_u8_flag)
        for (int64_t i = 0; i < W * C; i++) dst[i] = round_u8(dst[i]);
    }
  } else {
    /* out[y, o, c] = sum_k w_k * in[y, first + k, c] */
    for (int64_t y = 0; y < H; y++) {
      for (int64_t o = 0; o < out_size; o++) {
        int64_t first, count;
        table_entry(table + o * stride, W, taps, &first, &count);
        const float *wt = table + o * stride + 2;
        for (int64_t c = 0; c < C; c++) {
          float acc = 0.0f;
          for (int64_t k = 0; k < count; k++) {
            const int64_t idx = (y * W + first + k) * C + c;
            acc += wt[k] * (image_u8 ? (float)image_u8[idx] : image[idx]);
          }
          out[(y * out_size + o) * C + c] = round_u8_flag ? round_u8(acc) : acc;
        }
      }
    }
  }
}

void fv_ref_crop_normalize(const float *image, float *out, int64_t H, int64_t W, int64_t C, int top, int left,
                           int64_t h, int64_t w, const float *mean, const float *std) {
  (void)H;
  for (int64_t c = 0; c < C; c++) {
    const float m = mean[c], s = std[c];
    for (int64_t y = 0; y < h; y++) {
      const float *src = image + ((top + y) * W + left) * C + c;
      float *dst = out + (c * h + y) * w;
      for (int64_t x = 0; x < w; x++) dst[x] = (src[x * C] / 255.0f - m) / s;
    }
  }
}
