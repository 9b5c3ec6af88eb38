/* attention_probe.h: per-layer, per-head attention diagnostics of a ViT on one image.
 *
 * Builds the model's graph with FV_OP_ATTENTION_PROBE nodes on every block's qkv tensor, runs
 * one preprocessed image, and derives on the host what needs whole matrices: attention rollout
 * and the ADL attention-diversity statistic (shared/design/methods/tap_adl.md 4, 7). The
 * engine computes the per-row statistics, the class-token rows and the head-mean matrix M;
 * M (T x T per layer) is the one attention tensor materialised ("small N" mode). The graph is
 * built and recorded once per analyzer and replayed for each image.
 * Formulas and units: docs/attention.md. Rendering and files are the caller's (apps/). */
#ifndef FV_ATTENTION_PROBE_H
#define FV_ATTENTION_PROBE_H

#include "../engine/device.h"
#include "../engine/graph.h"
#include "image.h"
#include "vit.h"

typedef struct fv_attention_options {
  float threshold; /* ADL th: tau = th / T (2 in the paper) */
  int fp16;        /* fp16 storage (the statistics are then rounded to fp16 as stored) */
} fv_attention_options;

typedef struct fv_attention_layer {
  /* Per head h, means over query rows: entropy (nats), top-1 % share and max weight over all T
   * rows; distance over the patch queries only (patch units; pixels = distance * patch). */
  float *entropy, *distance, *top_share, *max_weight; /* [H] each */
  float *head_diversity;     /* [H] 1 - mean_i cos(abar_h~, A_h[i]~): the per-head ADL variant */
  float *head_zeroed;        /* [H] fraction of A_h's rows with no weight above tau */
  float diversity;           /* 1 - s_l with heads averaged first (tap_adl.md 4, 7) */
  float zeroed;              /* fraction of M's rows with no weight above tau */
  float mean_head_diversity; /* mean over heads of head_diversity */
  float *stats;              /* [H, T, FV_PROBE_NSTATS] the engine's raw per-row statistics */
  float *cls_rows;           /* [H, T] class-token row of A_h (mean over queries without a class token) */
  float *mean_rows;          /* [H, T] abar_h: mean over queries of A_h */
  float *M;                  /* [T, T] head-mean attention */
  float *tap;                /* TAP blocks: scale weights [grid_h, grid_w, tap_k]; else NULL */
} fv_attention_layer;

typedef struct fv_attention_result {
  int depth, heads, tokens, n_prefix, grid_h, grid_w;
  int has_class_token; /* cls_rows are the class token's rows (else mean over queries) */
  int patch;           /* patch size in model-input pixels */
  int in_h, in_w, in_chans;
  int tap_k; /* scales of TAP blocks (0: no TAP block) */
  float threshold;
  fv_attention_layer *layers; /* [depth] */
  float *rollout;             /* [grid_h * grid_w]: the rollout's class row over patches */
  float *input;               /* [in_chans, in_h, in_w] the model input in 0..1 pixel units */
  float *probs;               /* [num_classes] */
  int num_classes, top_class;
} fv_attention_result;

/* The model's graph with the probe nodes, built and recorded once on dev (NULL: the CPU executor)
 * and run for one image at a time; vit and dev must outlive it. */
typedef struct fv_attention_analyzer fv_attention_analyzer;
fv_status fv_attention_analyzer_open(fv_vit *vit, fv_device *dev, const fv_attention_options *opt,
                                     fv_attention_analyzer **probe, fv_error *err);
/* Preprocesses img (vit->cfg.in_chans channels) as the model's config says and analyses it. */
fv_status fv_attention_analyzer_run(fv_attention_analyzer *probe, const fv_image *img, fv_attention_result *res,
                                    fv_error *err);
void fv_attention_analyzer_close(fv_attention_analyzer *probe);

/* open + run + close, for one image. */
fv_status fv_attention_analyze(fv_vit *vit, fv_device *dev, const fv_image *img, const fv_attention_options *opt,
                               fv_attention_result *res, fv_error *err);
void fv_attention_result_free(fv_attention_result *res);

/* The ADL statistic of one T x T attention matrix A (rows = queries): s = mean_i cos(abar~, A_i~)
 * with abar the mean row, x~ = x * [x > th / T] and cos with max(|.|, 1e-8) norms; returns
 * 1 - s, and the fraction of rows thresholding zeroed into *zeroed (may be NULL). Double inside. */
float fv_attention_diversity(const float *A, int T, float threshold, float *zeroed);

/* Attention rollout (Abnar & Zuidema 2020) of L head-mean matrices Ms [L, T, T]:
 * R = Ahat_L ... Ahat_1 with Ahat = rownorm(0.5 M + 0.5 I); R [T, T] (double inside). */
fv_status fv_attention_rollout(const float *Ms, int L, int T, float *R, fv_error *err);

#endif
