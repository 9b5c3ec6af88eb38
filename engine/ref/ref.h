/* ref.h: plain C reference implementations of every op, on contiguous fp32 arrays.
 *
 * These are the definition of what each op computes (see graph.h for the semantics):
 * the CPU executor runs them and the kernel tests compare every GPU kernel against them.
 * Matmul (and the attention products) use OpenBLAS so the CPU executor is practical;
 * everything else is written for clarity first and vectorisable loops second. */
#ifndef FV_REF_H
#define FV_REF_H

#include <stdint.h>

#include "../graph.h"

/* out[M,N] = a[M,K] . w[N,K]^T (+ bias[N]) (then exact-erf GELU when gelu != 0) */
void fv_ref_matmul(const float *a, const float *w, const float *bias, float *out, int64_t M, int64_t N, int64_t K,
                   int gelu);
/* exact GELU: x * 0.5 * (1 + erf(x / sqrt(2))) */
float fv_ref_gelu(float x);
/* LayerNorm over rows of length C; gamma/beta may be NULL */
void fv_ref_layernorm(const float *x, const float *gamma, const float *beta, float *out, int64_t rows, int64_t C,
                      float eps);
void fv_ref_softmax(const float *x, float *out, int64_t rows, int64_t C);
/* qkv [B, T, 3*H*D] -> out [B, T, H*D] */
void fv_ref_attention(const float *qkv, float *out, int64_t B, int64_t T, int H, int D, float scale);
/* out = alpha*a + beta*b*(gamma ? gamma[i % C] : 1) over n elements */
void fv_ref_add(const float *a, const float *b, const float *gamma, float *out, int64_t n, int64_t C, float alpha,
                float beta);
/* image [B, C, H, W] -> [B, (H/p)*(W/p), C*p*p] */
void fv_ref_im2col(const float *image, float *out, int64_t B, int64_t C, int64_t H, int64_t W, int p);
/* see FV_OP_EMBED_TOKENS; prefix/pos may be NULL */
void fv_ref_embed_tokens(const float *patches, const float *prefix, const float *pos, float *out, int64_t B, int64_t Np,
                         int64_t E, int P, int pos_offset);
/* x [B, T, E]: mean of tokens [start, start+count) -> [B, E] or copy -> [B, count, E] */
void fv_ref_tokens(const float *x, float *out, int64_t B, int64_t T, int64_t E, int start, int count, int mean);
/* image [H, W, C] (float or, when image_u8 != NULL, bytes) resampled along axis with the table
 * of FV_OP_RESAMPLE -> out [H', W, C] or [H, W', C] */
void fv_ref_resample(const float *image, const uint8_t *image_u8, const float *table, float *out, int64_t H, int64_t W,
                     int64_t C, int axis, int64_t out_size, int taps, int round_u8);
/* image [H, W, C] -> out [C, h, w] */
void fv_ref_crop_normalize(const float *image, float *out, int64_t H, int64_t W, int64_t C, int top, int left,
                           int64_t h, int64_t w, const float *mean, const float *std);

/* ---- image ops (ref_image.c; semantics in graph.h). Images are [B, H, W, C]. ---------------- */

/* The source index for coordinate i on an axis of length n under a border rule; -1 means
 * "outside, reads as zero" (FV_BORDER_ZERO). Any i is defined: reflections repeat. */
int64_t fv_ref_border(int64_t i, int64_t n, fv_border border);
/* taps [T, 3] of (dy, dx, w) */
void fv_ref_stencil(const float *image, const float *taps, int64_t T, float *out, int64_t B, int64_t H, int64_t W,
                    int64_t C, fv_border border);
/* table [L, 4] of (ay, by, ax, bx) -> out [B, OH, OW, C] */
void fv_ref_sample(const float *image, const float *table, int64_t L, float *out, int64_t B, int64_t H, int64_t W,
                   int64_t C, int64_t OH, int64_t OW, fv_border border, float scale);
/* dy, dx [BD, H, W, 1] with BD = B or 1 */
void fv_ref_warp(const float *image, const float *dy, const float *dx, int64_t BD, float *out, int64_t B, int64_t H,
                 int64_t W, int64_t C, fv_border border);

typedef struct fv_ref_pixel_args {
  const float *image;   /* [B, H, W, C] */
  const float *layer;   /* [B1, H1, W1, C1] or NULL */
  const float *stats;   /* [B, C2] or NULL */
  const uint32_t *keys; /* [B] or NULL */
  float *out;
  int64_t B, H, W, C, B1, H1, W1, C1, C2;
  fv_pixel_mode mode;
  float a[4];
  fv_rng_params rng;
} fv_ref_pixel_args;
void fv_ref_pixel(const fv_ref_pixel_args *p);
/* out [B, per_image] */
void fv_ref_random(const uint32_t *keys, float *out, int64_t B, int64_t per_image, fv_random_dist dist, float a,
                   float b, const fv_rng_params *rng);
/* image [B, HW, C] -> out [B, C] */
void fv_ref_reduce(const float *image, float *out, int64_t B, int64_t HW, int64_t C, fv_reduce_kind kind);
/* The noise amplitude of each plasma level l: 100 / decay^l, by repeated division in double
 * and rounded to float (the planner pushes the same table to the kernel). */
float fv_ref_plasma_wibble(float decay, int level);
/* out [B, N, N] */
void fv_ref_plasma(const uint32_t *keys, float *out, int64_t B, int N, float decay, const fv_rng_params *rng);

/* ---- token-aware average pooling (ref_tap.c; semantics in graph.h) ------------------------- */

/* x [B, T, C] with T = P + gh*gw; w1 [K, C*9] (+ b1 [K], may be NULL), w2 [K, K*9];
 * z1 scratch [B, gh*gw, K]; out [B, gh, gw, K] */
void fv_ref_tap_scales(const float *x, const float *w1, const float *b1, const float *w2, float *z1, float *out,
                       int64_t B, int64_t T, int64_t C, int P, int64_t gh, int64_t gw, int K, float temperature);
/* x [B, T, C], scales [B, gh, gw, K] -> out [B, T, C] */
void fv_ref_tap_mix(const float *x, const float *scales, float *out, int64_t B, int64_t T, int64_t C, int P, int64_t gh,
                    int64_t gw, int K);

/* ---- attention probe (ref_attention_probe.c; semantics in graph.h, FV_OP_ATTENTION_PROBE) ----- */

typedef struct fv_ref_probe_args {
  const float *qkv;  /* [B, T, 3*H*D] */
  const float *rows; /* STATS: abar [B, H, T] or NULL */
  float *out;        /* STATS [B, H, T, FV_PROBE_NSTATS], MEAN [B, T, T], ROWS [B, H, T] */
  double *scratch;   /* 3 * T doubles */
  int64_t B, T;
  int H, D, n_prefix, grid_w, query, topk;
  fv_probe_mode mode;
  float scale, threshold;
} fv_ref_probe_args;
void fv_ref_attention_probe(const fv_ref_probe_args *a);

#endif
