/* attention_mean.c: means of `fovea attention`'s statistics over a set of images (attention_mean.h). */
#include "attention_mean.h"

#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "vision/labels.h"

/* Per head, the statistics that are averaged; per layer the ADL ones. */
enum { H_ENTROPY, H_DISTANCE, H_TOP, H_MAX, H_DIV, H_ZERO, H_N };
enum { L_DIV, L_ZERO, L_HEADDIV, L_N };

void fv_attention_mean_free(fv_attention_mean *a) {
  if (a->per_image) fclose(a->per_image);
  if (a->csv) fclose(a->csv);
  free(a->per_image_buf), free(a->csv_buf);
  free(a->layer), free(a->head), free(a->tap), free(a->tap_layer), free(a->predicted);
}

/* A CSV field: quoted, with inner quotes doubled (paths may hold commas). */
static void csv_text(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

fv_status fv_attention_mean_add(fv_attention_mean *a, const fv_vit_config *cfg, const fv_attention_result *r,
                                const char *image, const char *stem, fv_error *err) {
  const int H = r->heads, Np = r->grid_h * r->grid_w;
  if (a->n == 0) {
    a->depth = r->depth, a->heads = H, a->tokens = r->tokens, a->patch = r->patch, a->n_prefix = r->n_prefix;
    a->has_class_token = r->has_class_token, a->tap_k = r->tap_k, a->num_classes = r->num_classes;
    a->layer = calloc((size_t)r->depth * L_N, sizeof *a->layer);
    a->head = calloc((size_t)r->depth * H * H_N, sizeof *a->head);
    a->tap = calloc((size_t)r->depth * (r->tap_k > 0 ? r->tap_k : 1), sizeof *a->tap);
    a->tap_layer = calloc((size_t)r->depth, sizeof *a->tap_layer);
    a->predicted = calloc((size_t)r->num_classes, sizeof *a->predicted);
    a->per_image = open_memstream(&a->per_image_buf, &a->per_image_len);
    a->csv = open_memstream(&a->csv_buf, &a->csv_len);
    if (!a->layer || !a->head || !a->tap || !a->tap_layer || !a->predicted || !a->per_image || !a->csv)
      return fv_fail(err, "out of memory for the means over images");
    fprintf(a->csv,
            "image,dir,prediction,label,prob,layer,diversity,zeroed_fraction,mean_head_diversity,entropy,"
            "distance_pixels,top_share,max_weight\n");
  } else if (r->depth != a->depth || H != a->heads || r->tokens != a->tokens || r->num_classes != a->num_classes) {
    return fv_fail(err, "%s: %d layers x %d heads, %d tokens; expected %d x %d, %d tokens like the first image", image,
                   r->depth, H, r->tokens, a->depth, a->heads, a->tokens);
  }
  char buf[64];
  const char *label = fv_label_name(cfg, r->top_class, buf, sizeof buf);
  a->predicted[r->top_class]++;
  fprintf(a->per_image, "%s\n    {\"image\": ", a->n ? "," : "");
  fv_json_string(a->per_image, image);
  fprintf(a->per_image, ", \"dir\": ");
  fv_json_string(a->per_image, stem);
  fprintf(a->per_image, ", \"prediction\": {\"index\": %d, \"label\": ", r->top_class);
  fv_json_string(a->per_image, label);
  fprintf(a->per_image, ", \"prob\": %.6g}, \"diversity\": [", (double)r->probs[r->top_class]);
  for (int l = 0; l < r->depth; l++) {
    const fv_attention_layer *ly = &r->layers[l];
    double *L = a->layer + (size_t)l * L_N;
    L[L_DIV] += ly->diversity, L[L_ZERO] += ly->zeroed, L[L_HEADDIV] += ly->mean_head_diversity;
    double mh[H_N] = {0};
    for (int h = 0; h < H; h++) {
      double *hd = a->head + ((size_t)l * H + h) * H_N;
      const double v[H_N] = {ly->entropy[h],    ly->distance[h],       ly->top_share[h],
                             ly->max_weight[h], ly->head_diversity[h], ly->head_zeroed[h]};
      for (int k = 0; k < H_N; k++) hd[k] += v[k], mh[k] += v[k] / H;
    }
    if (ly->tap) {
      a->tap_layer[l] = 1;
      for (int k = 0; k < r->tap_k; k++) {
        double m = 0;
        for (int j = 0; j < Np; j++) m += ly->tap[(size_t)j * r->tap_k + k];
        a->tap[(size_t)l * r->tap_k + k] += m / Np;
      }
    }
    fprintf(a->per_image, "%s%.7g", l ? ", " : "", (double)ly->diversity);
    csv_text(a->csv, image);
    fputc(',', a->csv);
    csv_text(a->csv, stem);
    fprintf(a->csv, ",%d,", r->top_class);
    csv_text(a->csv, label);
    fprintf(a->csv, ",%.6g,%d,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g,%.7g\n", (double)r->probs[r->top_class], l,
            (double)ly->diversity, (double)ly->zeroed, (double)ly->mean_head_diversity, mh[H_ENTROPY],
            mh[H_DISTANCE] * r->patch, mh[H_TOP], mh[H_MAX]);
  }
  fprintf(a->per_image, "]}");
  a->n++;
  return FV_OK;
}

/* Flushes the memory streams so their buffers hold everything written. */
static fv_status flush(fv_attention_mean *a) {
  if (fflush(a->per_image) || fflush(a->csv)) return FV_ERR;
  return FV_OK;
}

fv_status fv_attention_mean_json(FILE *f, fv_attention_mean *a, const fv_vit_config *cfg, const char *model,
                                 const char *device, int fp16, float threshold) {
  if (flush(a)) return FV_ERR;
  const int H = a->heads;
  const double n = a->n;
  char buf[64];
  fprintf(f, "{\n  \"model\": ");
  fv_json_string(f, model);
  fprintf(f, ",\n  \"device\": ");
  fv_json_string(f, device);
  fprintf(f, ",\n  \"storage\": \"%s\", \"images\": %d", fp16 ? "fp16" : "fp32", a->n);
  fprintf(f, ",\n  \"tokens\": %d, \"prefix_tokens\": %d, \"class_token\": %s, \"depth\": %d, \"heads\": %d", a->tokens,
          a->n_prefix, a->has_class_token ? "true" : "false", a->depth, H);
  fprintf(f, ",\n  \"threshold\": %.7g, \"tau\": %.7g, \"tap_scales\": %d", (double)threshold,
          (double)threshold / a->tokens, a->tap_k);
  fprintf(f, ",\n  \"predicted\": {");
  for (int c = 0, first = 1; c < a->num_classes; c++) {
    if (!a->predicted[c]) continue;
    fprintf(f, "%s", first ? "" : ", ");
    fv_json_string(f, fv_label_name(cfg, c, buf, sizeof buf));
    fprintf(f, ": %d", a->predicted[c]);
    first = 0;
  }
  fprintf(f, "},\n  \"layers\": [");
  for (int l = 0; l < a->depth; l++) {
    const double *L = a->layer + (size_t)l * L_N;
    double mh[H_N] = {0};
    for (int h = 0; h < H; h++)
      for (int k = 0; k < H_N; k++) mh[k] += a->head[((size_t)l * H + h) * H_N + k] / (n * H);
    fprintf(f, "%s\n    {\"layer\": %d, \"diversity\": %.7g, \"zeroed_fraction\": %.7g, \"mean_head_diversity\": %.7g",
            l ? "," : "", l, L[L_DIV] / n, L[L_ZERO] / n, L[L_HEADDIV] / n);
    fprintf(f,
            ",\n     \"mean\": {\"entropy\": %.7g, \"distance_patches\": %.7g, \"distance_pixels\": %.7g, "
            "\"top_share\": %.7g, \"max_weight\": %.7g}",
            mh[H_ENTROPY], mh[H_DISTANCE], mh[H_DISTANCE] * a->patch, mh[H_TOP], mh[H_MAX]);
    fprintf(f, ",\n     \"heads\": [");
    for (int h = 0; h < H; h++) {
      const double *hd = a->head + ((size_t)l * H + h) * H_N;
      fprintf(f,
              "%s\n       {\"head\": %d, \"entropy\": %.7g, \"distance_patches\": %.7g, \"distance_pixels\": %.7g, "
              "\"top_share\": %.7g, \"max_weight\": %.7g, \"diversity\": %.7g, \"zeroed_fraction\": %.7g}",
              h ? "," : "", h, hd[H_ENTROPY] / n, hd[H_DISTANCE] / n, hd[H_DISTANCE] / n * a->patch, hd[H_TOP] / n,
              hd[H_MAX] / n, hd[H_DIV] / n, hd[H_ZERO] / n);
    }
    fprintf(f, "]");
    if (a->tap_layer[l]) {
      fprintf(f, ",\n     \"tap\": {\"mean_weights\": [");
      for (int k = 0; k < a->tap_k; k++) fprintf(f, "%s%.7g", k ? ", " : "", a->tap[(size_t)l * a->tap_k + k] / n);
      fprintf(f, "]}");
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n  ],\n  \"per_image\": [");
  fwrite(a->per_image_buf, 1, a->per_image_len, f);
  fprintf(f, "\n  ]\n}\n");
  return FV_OK;
}

fv_status fv_attention_mean_csv(FILE *f, fv_attention_mean *a) {
  if (flush(a)) return FV_ERR;
  fwrite(a->csv_buf, 1, a->csv_len, f);
  return FV_OK;
}

void fv_attention_mean_layer_row(const fv_attention_mean *a, int l, double row[4]) {
  double mh[H_N] = {0};
  for (int h = 0; h < a->heads; h++)
    for (int k = 0; k < H_N; k++) mh[k] += a->head[((size_t)l * a->heads + h) * H_N + k] / ((double)a->n * a->heads);
  row[0] = a->layer[(size_t)l * L_N + L_DIV] / a->n, row[1] = mh[H_ENTROPY];
  row[2] = mh[H_DISTANCE] * a->patch, row[3] = mh[H_TOP];
}
