/* classifier.c: model + device + recorded graph + preprocessing, for batch classification. */
#include "classifier.h"

#include <stdlib.h>
#include <string.h>

fv_status fv_classifier_open(const char *model, fv_device *dev, const fv_classifier_options *opt, fv_classifier *c,
                             fv_error *err) {
  memset(c, 0, sizeof *c);
  fv_graph_init(&c->graph);
  c->dev = dev;
  if (fv_vit_load(model, &c->vit, err)) return FV_ERR;
  const fv_vit_config *cfg = &c->vit.cfg;
  int batch = opt->batch > 0 ? opt->batch : 1;
  if (dev) {
    uint64_t limit = fv_device_get_info(dev)->max_storage_buffer_range;
    uint64_t per = fv_vit_bytes_per_image(&c->vit, opt->fp16 ? 2 : 4);
    if (per > limit) {
      fv_fail(err, "%s: one image needs %.1f MiB in one tensor, more than the device binds (%.1f MiB)", model,
              (double)per / (1 << 20), (double)limit / (1 << 20));
      goto fail;
    }
    if ((uint64_t)batch > limit / per) batch = (int)(limit / per);
  }
  c->batch = batch;
  c->num_classes = cfg->num_classes;
  c->per_image = (size_t)cfg->in_chans * (size_t)cfg->img_size[0] * (size_t)cfg->img_size[1];
  c->input = calloc((size_t)batch * c->per_image, sizeof *c->input);
  if (!c->input) {
    fv_fail(err, "out of memory for a batch of %d images", batch);
    goto fail;
  }
  fv_exec_options eo = {.storage = opt->fp16 ? FV_F16 : FV_F32, .profile = opt->profile};
  fv_preprocess_params pp;
  fv_preprocess_params_from_config(cfg, &pp);
  if (fv_vit_build(&c->vit, &c->graph, batch, &c->nodes, err) || fv_exec_new(dev, &c->graph, &eo, &c->ex, err) ||
      fv_preprocessor_new(dev, &pp, &c->pre, err))
    goto fail;
  return FV_OK;
fail:
  fv_classifier_close(c);
  return FV_ERR;
}

void fv_classifier_close(fv_classifier *c) {
  fv_preprocessor_free(c->pre);
  fv_exec_free(c->ex);
  fv_graph_free(&c->graph);
  fv_vit_free(&c->vit);
  free(c->input);
  memset(c, 0, sizeof *c);
}

fv_status fv_classifier_set_image(fv_classifier *c, int slot, const fv_image *img, fv_error *err) {
  if (slot < 0 || slot >= c->batch) return fv_fail(err, "batch slot %d outside 0..%d", slot, c->batch - 1);
  if (img->channels != c->vit.cfg.in_chans)
    return fv_fail(err, "image has %d channels, the model takes %d", img->channels, c->vit.cfg.in_chans);
  return fv_preprocessor_run(c->pre, img, c->input + (size_t)slot * c->per_image, err);
}

fv_status fv_classifier_run(fv_classifier *c, int filled, float *logits, float *probs, fv_error *err) {
  if (filled < 1 || filled > c->batch) return fv_fail(err, "%d images for a batch of %d", filled, c->batch);
  memset(c->input + (size_t)filled * c->per_image, 0, (size_t)(c->batch - filled) * c->per_image * sizeof *c->input);
  size_t n_in = (size_t)c->batch * c->per_image, n_out = (size_t)c->batch * (size_t)c->num_classes;
  float *all = malloc(n_out * sizeof *all);
  if (!all) return fv_fail(err, "out of memory");
  fv_status st = fv_exec_write(c->ex, c->nodes.input, c->input, n_in, err);
  if (!st) st = fv_exec_run(c->ex, err);
  size_t keep = (size_t)filled * (size_t)c->num_classes * sizeof *all;
  if (!st && logits && !(st = fv_exec_read(c->ex, c->nodes.logits, all, n_out, err))) memcpy(logits, all, keep);
  if (!st && probs && !(st = fv_exec_read(c->ex, c->nodes.probs, all, n_out, err))) memcpy(probs, all, keep);
  free(all);
  return st;
}

static int by_prob_desc(const void *a, const void *b) {
  const fv_ranked *x = a, *y = b;
  if (x->prob != y->prob) return x->prob < y->prob ? 1 : -1;
  return x->index - y->index;
}

void fv_rank_classes(const float *probs, int n, fv_ranked *out) {
  for (int k = 0; k < n; k++) out[k] = (fv_ranked){k, probs[k]};
  qsort(out, (size_t)n, sizeof *out, by_prob_desc);
}
