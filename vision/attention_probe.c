/* attention_probe.c: attention diagnostics of a ViT on one image (see attention_probe.h).
 *
 * Graph: the model's forward pass plus, per block, four probe nodes on its qkv tensor:
 * ROWS(query -1) = abar_h, STATS(abar_h) = the per-row statistics with the per-head ADL cosine,
 * MEAN = M, and ROWS(query 0) = class-token rows (models with a class token). The host then
 * averages the statistics, computes the head-averaged ADL statistic from M (tap_adl.md 4: heads
 * averaged before thresholding) and the rollout. Deliberately not here: batching many images
 * (one image is what a person inspects), rendering, files. */
#include "attention_probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/exec.h"
#include "preprocess.h"
#include "vit.h"

float fv_attention_diversity(const float *A, int T, float threshold, float *zeroed) {
  const double tau = (double)threshold / (double)T;
  double *abar = calloc((size_t)T, sizeof *abar);
  if (!abar) return NAN;
  for (int i = 0; i < T; i++)
    for (int j = 0; j < T; j++) abar[j] += (double)A[(size_t)i * T + j];
  double na = 0;
  for (int j = 0; j < T; j++) {
    abar[j] /= T;
    if (!(abar[j] > tau)) abar[j] = 0;
    na += abar[j] * abar[j];
  }
  double s = 0;
  int zero = 0;
  for (int i = 0; i < T; i++) {
    double dot = 0, nm = 0;
    for (int j = 0; j < T; j++) {
      const double a = (double)A[(size_t)i * T + j];
      if (a > tau) {
        dot += a * abar[j];
        nm += a * a;
      }
    }
    if (nm == 0) zero++;
    s += dot / (fmax(sqrt(nm), 1e-8) * fmax(sqrt(na), 1e-8));
  }
  free(abar);
  if (zeroed) *zeroed = (float)zero / (float)T;
  return (float)(1.0 - s / T);
}

fv_status fv_attention_rollout(const float *Ms, int L, int T, float *R, fv_error *err) {
  const size_t TT = (size_t)T * T;
  double *acc = malloc(TT * sizeof *acc), *hat = malloc(TT * sizeof *hat), *tmp = malloc(TT * sizeof *tmp);
  if (!acc || !hat || !tmp) {
    free(acc), free(hat), free(tmp);
    return fv_fail(err, "attention rollout: out of memory for %d x %d matrices", T, T);
  }
  for (size_t k = 0; k < TT; k++) acc[k] = k % (size_t)(T + 1) == 0 ? 1.0 : 0.0;
  for (int l = 0; l < L; l++) {
    const float *M = Ms + (size_t)l * TT;
    for (int i = 0; i < T; i++) {
      double sum = 0;
      for (int j = 0; j < T; j++) {
        hat[(size_t)i * T + j] = 0.5 * (double)M[(size_t)i * T + j] + (i == j ? 0.5 : 0.0);
        sum += hat[(size_t)i * T + j];
      }
      for (int j = 0; j < T; j++) hat[(size_t)i * T + j] /= sum;
    }
    /* acc <- hat . acc: the later layer multiplies from the left. */
    for (int i = 0; i < T; i++)
      for (int j = 0; j < T; j++) {
        double s = 0;
        for (int k = 0; k < T; k++) s += hat[(size_t)i * T + k] * acc[(size_t)k * T + j];
        tmp[(size_t)i * T + j] = s;
      }
    memcpy(acc, tmp, TT * sizeof *acc);
  }
  for (size_t k = 0; k < TT; k++) R[k] = (float)acc[k];
  free(acc), free(hat), free(tmp);
  return FV_OK;
}

void fv_attention_result_free(fv_attention_result *res) {
  if (!res) return;
  for (int l = 0; res->layers && l < res->depth; l++) {
    fv_attention_layer *ly = &res->layers[l];
    free(ly->entropy), free(ly->distance), free(ly->top_share), free(ly->max_weight);
    free(ly->head_diversity), free(ly->head_zeroed);
    free(ly->stats), free(ly->cls_rows), free(ly->mean_rows), free(ly->M), free(ly->tap);
  }
  free(res->layers), free(res->rollout), free(res->input), free(res->probs);
  memset(res, 0, sizeof *res);
}

typedef struct probe_nodes {
  int stats, mean, rows, cls;
} probe_nodes;

static float *alloc_f(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

static fv_status read_node(fv_exec *ex, const fv_graph *g, int node, float **dst, fv_error *err) {
  size_t n = (size_t)fv_node_numel(&g->nodes[node]);
  if (!(*dst = alloc_f(n))) return fv_fail(err, "attention probe: out of memory reading %s", g->nodes[node].name);
  return fv_exec_read(ex, node, *dst, n, err);
}

/* Per-head means of the statistics and the ADL figures of one layer. */
static fv_status summarise_layer(fv_attention_result *r, fv_attention_layer *ly, fv_error *err) {
  const int H = r->heads, T = r->tokens, P = r->n_prefix, S = FV_PROBE_NSTATS;
  float **outs[6] = {&ly->entropy,    &ly->distance,       &ly->top_share,
                     &ly->max_weight, &ly->head_diversity, &ly->head_zeroed};
  for (int k = 0; k < 6; k++)
    if (!(*outs[k] = alloc_f((size_t)H))) return fv_fail(err, "attention probe: out of memory");
  double all_cos = 0;
  for (int h = 0; h < H; h++) {
    double e = 0, d = 0, t = 0, m = 0, c = 0, z = 0;
    for (int i = 0; i < T; i++) {
      const float *s = ly->stats + ((size_t)h * T + i) * S;
      e += s[FV_PROBE_ENTROPY];
      t += s[FV_PROBE_TOP_SHARE];
      m += s[FV_PROBE_MAX];
      c += s[FV_PROBE_ADL_COS];
      z += s[FV_PROBE_ADL_ZERO];
      if (i >= P) d += s[FV_PROBE_DISTANCE];
    }
    ly->entropy[h] = (float)(e / T);
    ly->distance[h] = (float)(d / (T - P));
    ly->top_share[h] = (float)(t / T);
    ly->max_weight[h] = (float)(m / T);
    ly->head_diversity[h] = (float)(1.0 - c / T);
    ly->head_zeroed[h] = (float)(z / T);
    all_cos += c / T;
  }
  ly->mean_head_diversity = (float)(1.0 - all_cos / H);
  ly->diversity = fv_attention_diversity(ly->M, T, r->threshold, &ly->zeroed);
  if (isnan(ly->diversity)) return fv_fail(err, "attention probe: out of memory for the diversity statistic");
  return FV_OK;
}

/* The graph with its probe nodes, built and recorded once for any number of images. */
struct fv_attention_analyzer {
  const fv_vit *vit;
  fv_device *dev;
  fv_graph g;
  fv_exec *ex;
  fv_vit_graph vg;
  probe_nodes *pn; /* [depth] */
  float threshold;
  float *input; /* [in_chans * in_h * in_w] the preprocessed image */
};

fv_status fv_attention_analyzer_open(fv_vit *vit, fv_device *dev, const fv_attention_options *opt,
                                     fv_attention_analyzer **out, fv_error *err) {
  *out = NULL;
  fv_attention_analyzer *p = calloc(1, sizeof *p);
  if (!p) return fv_fail(err, "attention probe: out of memory");
  p->vit = vit, p->dev = dev;
  p->threshold = opt && opt->threshold > 0 ? opt->threshold : 2.0f;
  fv_graph_init(&p->g);
  const fv_vit_config *cfg = &vit->cfg;
  if (fv_vit_build(vit, &p->g, 1, &p->vg, err)) goto fail;
  const int H = cfg->num_heads, D = cfg->embed_dim / cfg->num_heads, L = p->vg.depth, P = p->vg.n_prefix;
  const int gh = p->vg.grid_h, gw = p->vg.grid_w;
  const float th = p->threshold;
  if (!(p->pn = calloc((size_t)L, sizeof *p->pn)) ||
      !(p->input = alloc_f((size_t)cfg->in_chans * cfg->img_size[0] * cfg->img_size[1]))) {
    fv_fail(err, "attention probe: out of memory for %d layers", L);
    goto fail;
  }
  /* timm's block attention scale; the probe recomputes exactly what fv_attention consumed. */
  const float scale = 1.0f / sqrtf((float)D);
  for (int l = 0; l < L; l++) {
    const int q = p->vg.qkv[l];
    probe_nodes *n = &p->pn[l];
    n->rows = fv_attention_probe(&p->g, q, FV_PROBE_ROWS, H, D, scale, P, gh, gw, -1, -1, th);
    n->stats = fv_attention_probe(&p->g, q, FV_PROBE_STATS, H, D, scale, P, gh, gw, 0, n->rows, th);
    n->mean = fv_attention_probe(&p->g, q, FV_PROBE_MEAN, H, D, scale, P, gh, gw, 0, -1, th);
    n->cls =
        cfg->class_token ? fv_attention_probe(&p->g, q, FV_PROBE_ROWS, H, D, scale, P, gh, gw, 0, -1, th) : n->rows;
    fv_mark_output(&p->g, n->rows);
    fv_mark_output(&p->g, n->stats);
    fv_mark_output(&p->g, n->mean);
    fv_mark_output(&p->g, n->cls);
    if (p->vg.tap_scales[l] >= 0) fv_mark_output(&p->g, p->vg.tap_scales[l]);
  }
  if (p->g.status) {
    fv_fail(err, "attention probe: %s", p->g.error.msg);
    goto fail;
  }
  fv_exec_options eo = {.storage = opt && opt->fp16 ? FV_F16 : FV_F32};
  if (fv_exec_new(dev, &p->g, &eo, &p->ex, err)) goto fail;
  *out = p;
  return FV_OK;
fail:
  fv_attention_analyzer_close(p);
  return FV_ERR;
}

void fv_attention_analyzer_close(fv_attention_analyzer *p) {
  if (!p) return;
  fv_exec_free(p->ex);
  fv_graph_free(&p->g);
  free(p->pn), free(p->input), free(p);
}

fv_status fv_attention_analyzer_run(fv_attention_analyzer *p, const fv_image *img, fv_attention_result *res,
                                    fv_error *err) {
  memset(res, 0, sizeof *res);
  float *rollout_all = NULL, *Ms = NULL;
  const fv_vit *vit = p->vit;
  const fv_vit_config *cfg = &vit->cfg;
  const fv_vit_graph *vg = &p->vg;
  if (img->channels != cfg->in_chans) {
    fv_fail(err, "attention probe: image has %d channels, model %s expects %d", img->channels, vit->path,
            cfg->in_chans);
    goto fail;
  }
  const int L = vg->depth, P = vg->n_prefix, T = P + vg->grid_h * vg->grid_w;
  res->depth = L, res->heads = cfg->num_heads, res->tokens = T, res->n_prefix = P;
  res->grid_h = vg->grid_h, res->grid_w = vg->grid_w, res->patch = cfg->patch_size;
  res->in_h = cfg->img_size[0], res->in_w = cfg->img_size[1], res->in_chans = cfg->in_chans;
  res->has_class_token = cfg->class_token != 0;
  res->threshold = p->threshold;
  res->num_classes = cfg->num_classes;
  const size_t n_in = (size_t)res->in_chans * res->in_h * res->in_w;
  if (!(res->layers = calloc((size_t)L, sizeof *res->layers)) || !(res->input = alloc_f(n_in)) ||
      !(res->probs = alloc_f((size_t)cfg->num_classes))) {
    fv_fail(err, "attention probe: out of memory for %d layers", L);
    goto fail;
  }
  fv_preprocess_params pp;
  fv_preprocess_params_from_config(cfg, &pp);
  if (fv_preprocess_image(p->dev, img, &pp, p->input, err)) goto fail;
  for (size_t k = 0; k < n_in; k++) {
    const int c = (int)(k / ((size_t)res->in_h * res->in_w));
    res->input[k] = p->input[k] * pp.std[c] + pp.mean[c];
  }
  if (fv_exec_write(p->ex, vg->input, p->input, n_in, err) || fv_exec_run(p->ex, err) ||
      fv_exec_read(p->ex, vg->probs, res->probs, (size_t)cfg->num_classes, err))
    goto fail;
  for (int k = 1; k < cfg->num_classes; k++)
    if (res->probs[k] > res->probs[res->top_class]) res->top_class = k;
  const size_t TT = (size_t)T * T;
  if (!(Ms = malloc((size_t)L * TT * sizeof *Ms)) || !(rollout_all = malloc(TT * sizeof *rollout_all))) {
    fv_fail(err, "attention probe: out of memory for %d layers of %d x %d", L, T, T);
    goto fail;
  }
  for (int l = 0; l < L; l++) {
    fv_attention_layer *ly = &res->layers[l];
    const probe_nodes *n = &p->pn[l];
    if (read_node(p->ex, &p->g, n->stats, &ly->stats, err) || read_node(p->ex, &p->g, n->mean, &ly->M, err) ||
        read_node(p->ex, &p->g, n->rows, &ly->mean_rows, err) || read_node(p->ex, &p->g, n->cls, &ly->cls_rows, err))
      goto fail;
    if (vg->tap_scales[l] >= 0) {
      if (read_node(p->ex, &p->g, vg->tap_scales[l], &ly->tap, err)) goto fail;
      res->tap_k = (int)p->g.nodes[vg->tap_scales[l]].shape[3];
    }
    if (summarise_layer(res, ly, err)) goto fail;
    memcpy(Ms + (size_t)l * TT, ly->M, TT * sizeof *Ms);
  }
  if (fv_attention_rollout(Ms, L, T, rollout_all, err)) goto fail;
  const int Np = T - P;
  if (!(res->rollout = alloc_f((size_t)Np))) {
    fv_fail(err, "attention probe: out of memory");
    goto fail;
  }
  /* The class token's row of R over the patches; without one, the mean of all rows. */
  for (int j = 0; j < Np; j++) {
    double s = 0;
    if (res->has_class_token) {
      s = rollout_all[P + j];
    } else {
      for (int i = 0; i < T; i++) s += rollout_all[(size_t)i * T + P + j];
      s /= T;
    }
    res->rollout[j] = (float)s;
  }
  free(Ms), free(rollout_all);
  return FV_OK;
fail:
  free(Ms), free(rollout_all);
  fv_attention_result_free(res);
  return FV_ERR;
}

fv_status fv_attention_analyze(fv_vit *vit, fv_device *dev, const fv_image *img, const fv_attention_options *opt,
                               fv_attention_result *res, fv_error *err) {
  memset(res, 0, sizeof *res);
  fv_attention_analyzer *p;
  if (fv_attention_analyzer_open(vit, dev, opt, &p, err)) return FV_ERR;
  fv_status st = fv_attention_analyzer_run(p, img, res, err);
  fv_attention_analyzer_close(p);
  return st;
}
