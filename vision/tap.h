/* tap.h: token-aware average pooling blocks (shared/design/methods/tap_adl.md 3, 5) as engine
 * graph pieces: batch-norm folding of the dilation predictor at load time, and the
 * TAP_SCALES -> TAP_MIX pair that replaces the input of a block's attention branch.
 *
 * Weight names follow the official TAPADL code under timm's block prefix:
 * blocks.N.dilation_predictor.proj.0.weight [K, C, 3, 3], proj.1.{weight, bias, running_mean,
 * running_var, num_batches_tracked}, proj.2.weight [K, K, 3, 3]; vision/vit.c finds them. */
#ifndef FV_TAP_H
#define FV_TAP_H

#include <stdint.h>

#include "../engine/graph.h"
#include "../engine/status.h"

/* PyTorch's BatchNorm2d default. */
#define FV_TAP_BN_EPS 1e-5f

/* One block's predictor, as fp32 host arrays in PyTorch's layouts. */
typedef struct fv_tap_weights {
  int K;                  /* scales, 1..FV_TAP_MAX_SCALES */
  int64_t C;              /* token width */
  const float *conv1;     /* [K, C, 3, 3] */
  const float *bn_weight; /* [K] gamma */
  const float *bn_bias;   /* [K] beta */
  const float *bn_mean;   /* [K] running mean */
  const float *bn_var;    /* [K] running variance */
  float bn_eps;           /* FV_TAP_BN_EPS for PyTorch checkpoints */
  const float *conv2;     /* [K, K, 3, 3] */
} fv_tap_weights;

/* BatchNorm with running statistics folded into conv1, in fp32:
 * s_k = gamma_k / sqrt(var_k + eps); w1_out[k] = s_k * conv1[k] (all C*9 weights);
 * b1_out[k] = beta_k - s_k * mean_k. Fails on a negative variance or a non-finite result. */
fv_status fv_tap_fold_bn(const fv_tap_weights *w, float *w1_out, float *b1_out, fv_error *err);

/* Appends TAP to g for tokens x [B, n_prefix + grid_h*grid_w, C]: *scales = the TAP_SCALES node
 * [B, grid_h, grid_w, K] (folded weights copied into the graph), returns the TAP_MIX node
 * [B, T, C], or -1 with err filled. `name` prefixes the new nodes' names (e.g. "blocks.3"). */
int fv_tap_build(fv_graph *g, int x, const fv_tap_weights *w, int n_prefix, int grid_h, int grid_w, float temperature,
                 const char *name, int *scales, fv_error *err);

#endif
