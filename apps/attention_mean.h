/* attention_mean.h: `fovea attention` over a set of images: the per-image statistics of
 * vision/attention_probe averaged over the set (mean.json) and listed per image and layer
 * (images.csv). Means are plain means of the per-image values. File formats: docs/attention.md. */
#ifndef FV_ATTENTION_MEAN_H
#define FV_ATTENTION_MEAN_H

#include <stdio.h>

#include "vision/attention_probe.h"

typedef struct fv_attention_mean {
  int n, depth, heads, tokens, patch, n_prefix, has_class_token, tap_k, num_classes;
  double *layer;         /* [depth, 3] sums: diversity, zeroed fraction, mean head diversity */
  double *head;          /* [depth, heads, 6] sums: entropy, distance, top share, max weight, diversity, zeroed */
  double *tap;           /* [depth, tap_k] sums of the mean scale weight over patch tokens */
  int *tap_layer;        /* [depth] the block has TAP */
  int *predicted;        /* [num_classes] images predicted as each class */
  FILE *per_image, *csv; /* memory streams: mean.json's per-image entries, images.csv */
  char *per_image_buf, *csv_buf;
  size_t per_image_len, csv_len;
} fv_attention_mean;

/* Adds one image's result (zero-initialise *a before the first call). Every image must give the
 * shape of the first. */
fv_status fv_attention_mean_add(fv_attention_mean *a, const fv_vit_config *cfg, const fv_attention_result *r,
                                const char *image, const char *stem, fv_error *err);

/* mean.json and images.csv of the images added so far (at least one). */
fv_status fv_attention_mean_json(FILE *f, fv_attention_mean *a, const fv_vit_config *cfg, const char *model,
                                 const char *device, int fp16, float threshold);
fv_status fv_attention_mean_csv(FILE *f, fv_attention_mean *a);

/* Layer l's means for the text table: diversity, entropy, distance in pixels, top-1 % share. */
void fv_attention_mean_layer_row(const fv_attention_mean *a, int l, double row[4]);

void fv_attention_mean_free(fv_attention_mean *a);

#endif
