/* tap.c: token-aware average pooling blocks for the ViT graph (see tap.h).
 *
 * The folding is done once per graph build, in fp32 as the spec asks (tap_adl.md 3.5), and only
 * the folded conv1 and its bias enter the graph: the unfolded predictor never reaches an
 * executor. conv2 is copied as it is ([K, K, 3, 3] is already the [K, K*9] the op reads).
 *
 * Deliberately not here: finding the tensors and checking their names and shapes (vision/vit.c),
 * and the arithmetic of the ops (engine/ref/ref_tap.c and the kernels). */
#include "tap.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

fv_status fv_tap_fold_bn(const fv_tap_weights *w, float *w1_out, float *b1_out, fv_error *err) {
  const int64_t cols = w->C * 9;
  for (int k = 0; k < w->K; k++) {
    float var = w->bn_var[k];
    if (!(var >= 0.0f) || !isfinite(var))
      return fv_fail(err, "TAP batch norm running_var[%d] is %g, expected a finite value >= 0", k, (double)var);
    float s = w->bn_weight[k] / sqrtf(var + w->bn_eps);
    float b = w->bn_bias[k] - s * w->bn_mean[k];
    if (!isfinite(s) || !isfinite(b))
      return fv_fail(err, "TAP batch norm channel %d folds to scale %g, bias %g, expected finite values", k, (double)s,
                     (double)b);
    for (int64_t i = 0; i < cols; i++) w1_out[k * cols + i] = s * w->conv1[k * cols + i];
    b1_out[k] = b;
  }
  return FV_OK;
}

int fv_tap_build(fv_graph *g, int x, const fv_tap_weights *w, int n_prefix, int grid_h, int grid_w, float temperature,
                 const char *name, int *scales, fv_error *err) {
  *scales = -1;
  if (w->K < 1 || w->K > FV_TAP_MAX_SCALES || w->C < 1) {
    fv_fail(err, "%s: TAP with %d scales and width %lld, expected 1..%d scales", name, w->K, (long long)w->C,
            FV_TAP_MAX_SCALES);
    return -1;
  }
  const int64_t K = w->K, cols = w->C * 9;
  float *w1 = malloc((size_t)(K * cols) * sizeof *w1), *b1 = malloc((size_t)K * sizeof *b1);
  if (!w1 || !b1) {
    free(w1);
    free(b1);
    fv_fail(err, "%s: out of memory folding TAP batch norm", name);
    return -1;
  }
  if (fv_tap_fold_bn(w, w1, b1, err)) {
    fv_fail_context(err, "%s.dilation_predictor", name);
    free(w1);
    free(b1);
    return -1;
  }
  char n[160];
  int64_t s1[2] = {K, cols}, sb[1] = {K}, s2[2] = {K, K * 9};
  snprintf(n, sizeof n, "%s.tap.conv1_folded", name);
  int w1n = fv_weight(g, n, 2, s1, w1, FV_F32, 1);
  snprintf(n, sizeof n, "%s.tap.bias_folded", name);
  int b1n = fv_weight(g, n, 1, sb, b1, FV_F32, 1);
  free(w1);
  free(b1);
  snprintf(n, sizeof n, "%s.tap.conv2", name);
  int w2n = fv_weight(g, n, 2, s2, w->conv2, FV_F32, 1);
  int sc = fv_tap_scales(g, x, w1n, b1n, w2n, n_prefix, grid_h, grid_w, temperature);
  snprintf(n, sizeof n, "%s.tap.scales", name);
  fv_set_name(g, sc, n);
  int out = fv_tap_mix(g, x, sc, n_prefix);
  snprintf(n, sizeof n, "%s.tap.mix", name);
  fv_set_name(g, out, n);
  if (g->status) {
    fv_fail(err, "%s: %s", name, g->error.msg);
    return -1;
  }
  *scales = sc;
  return out;
}
