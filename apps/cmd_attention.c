/* cmd_attention.c: `fovea attention`: attention maps and statistics of a ViT on images.
 *
 * Runs vision/attention_probe (the engine recomputes the attention rows from every block's qkv)
 * and writes, per image: summary.json (per layer and head: entropy, mean attention distance in
 * patches and pixels, top-1 % share, max weight, ADL diversity; per layer the head-averaged
 * diversity; the rollout), PNG heatmaps of the class token's attention per layer and head, their
 * head mean, the rollout, TAP scale maps for TAP models, and overview.png, a contact sheet.
 * One image argument writes these into DIR itself; several images (or a directory) write them
 * into DIR/<stem>/ and add DIR/mean.json (the statistics averaged over the images) and
 * DIR/images.csv (one row per image and layer), since diversity and distance are read over a
 * data set, not one picture. Every file is written under a temporary name and renamed.
 * Formulas: docs/attention.md. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attention_mean.h"
#include "cli.h"
#include "engine/file.h"
#include "engine/graph.h"
#include "vision/attention_probe.h"
#include "vision/heatmap.h"
#include "vision/image.h"
#include "vision/labels.h"
#include "vision/vit.h"

typedef struct options {
  fv_cli_model_options m;
  char **inputs; /* image files or directories, from argv */
  int n_inputs;
  const char *out;
  float threshold;
  int no_maps; /* statistics only: no PNG */
} options;

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea attention [--model DIR|FILE.safetensors] [--device D] [--fp16] [--threshold TH] [--json]\n"
          "                       [--no-maps] --out DIR IMAGE|DIR ...\n\n"
          "Attention diagnostics of a timm Vision Transformer. For one image, writes into DIR:\n"
          "  summary.json            per layer and head: entropy (nats), mean attention distance (patches and\n"
          "                          input pixels), top-1%% share, max weight, ADL diversity; per layer the\n"
          "                          head-averaged ADL diversity and zeroed-row fraction; the rollout\n"
          "  layer<L>_head<H>.png    the class token's attention over the patch grid (mean over queries for\n"
          "                          models without a class token), over the gray input\n"
          "  layer<L>_mean.png       the same, averaged over heads\n"
          "  rollout.png             attention rollout (Abnar & Zuidema 2020)\n"
          "  layer<L>_tap_scale<K>.png, layer<L>_tap_argmax.png   TAP models: per-token scale weights\n"
          "  overview.png            one row per layer: heads, head mean (, TAP argmax); last row: input, rollout\n"
          "For several images (or a directory), writes those files into DIR/<stem>/ for each image, and:\n"
          "  mean.json               the summary statistics averaged over the images, and per image its\n"
          "                          prediction and per-layer diversity\n"
          "  images.csv              one row per image and layer\n\n"
          "  --model M       model folder or file (default: $FOVEA_MODEL, else the bundled model)\n"
          "  --out DIR       output directory (created if missing)\n"
          "  --threshold TH  ADL threshold: weights <= TH / tokens are dropped (default 2, as the paper)\n"
          "  --device D      device index from `fovea devices`, 'auto', or 'cpu' (default: $FOVEA_DEVICE, auto)\n"
          "  --fp16          fp16 storage (statistics then carry fp16 rounding)\n"
          "  --no-maps       statistics only: write no PNG\n"
          "  --json          also print summary.json (several images: mean.json) on stdout\n"
          "Details and formulas: docs/attention.md.\n");
}

static int parse(int argc, char **argv, options *o, fv_error *err) {
  memset(o, 0, sizeof *o);
  o->threshold = 2.0f;
  o->m.batch = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int used;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--batch") == 0) {
      return fv_fail(err, "--batch does not apply: fovea attention analyses one image at a time");
    } else if ((used = fv_cli_model_option(argc, argv, &i, &o->m, err)) != 0) {
      if (used < 0) return FV_ERR;
    } else if (strcmp(a, "--out") == 0) {
      if (!v) return fv_fail(err, "--out needs a directory");
      o->out = v;
      i++;
    } else if (strcmp(a, "--threshold") == 0) {
      char *end = NULL;
      double t = v ? strtod(v, &end) : 0;
      if (!v || !end || *end || !(t > 0) || t > 1e6)
        return fv_fail(err, "--threshold needs a positive number, got '%s'", v ? v : "");
      o->threshold = (float)t;
      i++;
    } else if (strcmp(a, "--no-maps") == 0) {
      o->no_maps = 1;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fv_fail(err, "unknown option '%s' (see fovea attention --help)", a);
    } else {
      if (!o->inputs) o->inputs = argv + i; /* inputs are kept contiguous below */
      o->inputs[o->n_inputs++] = argv[i];
    }
  }
  if (!o->n_inputs) return fv_fail(err, "no image given (see fovea attention --help)");
  if (!o->out) return fv_fail(err, "--out DIR is required (see fovea attention --help)");
  if (!o->m.model) o->m.model = fv_cli_default_model();
  return FV_OK;
}

/* The rendering context: the gray input and the sizes every map shares. */
typedef struct render {
  const fv_attention_result *r;
  float *gray; /* [in_h, in_w] 0..1 */
  int scale;   /* single images */
  int tile;    /* overview tiles */
} render;

/* lo < hi: a fixed value range (else the map's own); hi < 0: an argmax map 0..-hi, drawn nearest. */
static fv_status save_map(const render *rd, const char *dir, const char *name, const float *map, float lo, float hi,
                          fv_image *tile, fv_error *err) {
  const fv_attention_result *r = rd->r;
  fv_heatmap_style st = {.scale = rd->scale, .alpha = 0.65f, .lo = lo, .hi = hi < 0 ? -hi : hi, .nearest = hi < 0};
  fv_image img;
  char path[4200];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  if (fv_heatmap_render(map, r->grid_h, r->grid_w, rd->gray, r->in_h, r->in_w, &st, &img, err)) return FV_ERR;
  fv_status s = fv_image_save_png(path, &img, err);
  fv_image_free(&img);
  if (s) return s;
  if (tile) {
    st.scale = rd->tile;
    return fv_heatmap_render(map, r->grid_h, r->grid_w, rd->gray, r->in_h, r->in_w, &st, tile, err);
  }
  return FV_OK;
}

/* All PNGs and the contact sheet, into dir. */
static fv_status write_images(const char *dir, const fv_attention_result *r, fv_error *err) {
  const int H = r->heads, L = r->depth, Np = r->grid_h * r->grid_w, P = r->n_prefix;
  const int tap_col = r->tap_k > 0 ? 1 : 0, cols = H + 1 + tap_col;
  const int side = r->in_h > r->in_w ? r->in_h : r->in_w;
  render rd = {
      .r = r, .scale = side >= 224 ? 1 : (224 + side - 1) / side, .tile = side >= 96 ? 1 : (96 + side - 1) / side};
  fv_image *tiles = calloc((size_t)(L + 1) * cols, sizeof *tiles);
  float *map = malloc((size_t)Np * sizeof *map), *mean = malloc((size_t)Np * sizeof *mean);
  rd.gray = malloc((size_t)r->in_h * r->in_w * sizeof *rd.gray);
  fv_status st = FV_OK;
  if (!tiles || !map || !mean || !rd.gray) {
    st = fv_fail(err, "out of memory rendering heatmaps");
    goto done;
  }
  for (int k = 0; k < r->in_h * r->in_w; k++) {
    float g = 0;
    for (int c = 0; c < r->in_chans; c++) g += r->input[(size_t)c * r->in_h * r->in_w + k];
    g /= (float)r->in_chans;
    rd.gray[k] = g < 0 ? 0 : g > 1 ? 1 : g;
  }
  char name[96];
  for (int l = 0; l < L && !st; l++) {
    const fv_attention_layer *ly = &r->layers[l];
    memset(mean, 0, (size_t)Np * sizeof *mean);
    for (int h = 0; h < H && !st; h++) {
      for (int j = 0; j < Np; j++) {
        map[j] = ly->cls_rows[(size_t)h * r->tokens + P + j];
        mean[j] += map[j] / (float)H;
      }
      snprintf(name, sizeof name, "layer%d_head%d.png", l, h);
      st = save_map(&rd, dir, name, map, 0, 0, &tiles[l * cols + h], err);
    }
    snprintf(name, sizeof name, "layer%d_mean.png", l);
    if (!st) st = save_map(&rd, dir, name, mean, 0, 0, &tiles[l * cols + H], err);
    if (!ly->tap || st) continue;
    const int K = r->tap_k;
    for (int k = 0; k < K && !st; k++) {
      for (int j = 0; j < Np; j++) map[j] = ly->tap[(size_t)j * K + k];
      snprintf(name, sizeof name, "layer%d_tap_scale%d.png", l, k);
      st = save_map(&rd, dir, name, map, 0, 1, NULL, err); /* weights: a fixed 0..1 scale */
    }
    for (int j = 0; j < Np; j++) {
      int best = 0;
      for (int k = 1; k < K; k++)
        if (ly->tap[(size_t)j * K + k] > ly->tap[(size_t)j * K + best]) best = k;
      map[j] = (float)best;
    }
    snprintf(name, sizeof name, "layer%d_tap_argmax.png", l);
    if (!st) st = save_map(&rd, dir, name, map, 0, K > 1 ? -(float)(K - 1) : -1, &tiles[l * cols + H + 1], err);
  }
  if (!st) st = save_map(&rd, dir, "rollout.png", r->rollout, 0, 0, &tiles[L * cols + 1], err);
  if (!st) st = fv_heatmap_gray(rd.gray, r->in_h, r->in_w, rd.tile, &tiles[L * cols], err);
  if (!st) {
    fv_image sheet;
    char path[4200];
    snprintf(path, sizeof path, "%s/overview.png", dir);
    st = fv_heatmap_sheet(tiles, (L + 1) * cols, cols, 4, &sheet, err);
    if (!st) st = fv_image_save_png(path, &sheet, err);
    fv_image_free(&sheet);
  }
done:
  for (int k = 0; tiles && k < (L + 1) * cols; k++) fv_image_free(&tiles[k]);
  free(tiles), free(map), free(mean), free(rd.gray);
  return st;
}

static void json_floats(FILE *f, const float *v, int n, int stride) {
  fputc('[', f);
  for (int i = 0; i < n; i++) fprintf(f, "%s%.7g", i ? ", " : "", (double)v[(size_t)i * stride]);
  fputc(']', f);
}

static double mean_of(const float *v, int n) {
  double s = 0;
  for (int i = 0; i < n; i++) s += v[i];
  return s / n;
}

static void write_summary(FILE *f, const options *o, const char *image, const fv_vit *vit, const fv_device *dev,
                          const fv_attention_result *r) {
  const int H = r->heads, Np = r->grid_h * r->grid_w, P = r->n_prefix;
  char buf[64];
  fprintf(f, "{\n  \"model\": ");
  fv_json_string(f, o->m.model);
  fprintf(f, ",\n  \"image\": ");
  fv_json_string(f, image);
  fprintf(f, ",\n  \"device\": ");
  fv_json_string(f, fv_cli_device_name(dev));
  fprintf(f, ",\n  \"storage\": \"%s\"", o->m.fp16 ? "fp16" : "fp32");
  fprintf(f, ",\n  \"input_size\": [%d, %d, %d], \"patch_size\": %d, \"grid\": [%d, %d]", r->in_chans, r->in_h, r->in_w,
          r->patch, r->grid_h, r->grid_w);
  fprintf(f, ",\n  \"tokens\": %d, \"prefix_tokens\": %d, \"class_token\": %s, \"depth\": %d, \"heads\": %d", r->tokens,
          P, r->has_class_token ? "true" : "false", r->depth, H);
  fprintf(f, ",\n  \"map_rows\": \"%s\"", r->has_class_token ? "class token" : "mean over queries");
  fprintf(f, ",\n  \"threshold\": %.7g, \"tau\": %.7g, \"top_tokens\": %d", (double)r->threshold,
          (double)r->threshold / r->tokens, (r->tokens + 99) / 100);
  fprintf(f, ",\n  \"prediction\": {\"index\": %d, \"label\": ", r->top_class);
  fv_json_string(f, fv_label_name(&vit->cfg, r->top_class, buf, sizeof buf));
  fprintf(f, ", \"prob\": %.6g}", (double)r->probs[r->top_class]);
  fprintf(f, ",\n  \"tap_scales\": %d", r->tap_k);
  fprintf(f, ",\n  \"layers\": [");
  for (int l = 0; l < r->depth; l++) {
    const fv_attention_layer *ly = &r->layers[l];
    fprintf(f, "%s\n    {\"layer\": %d, \"diversity\": %.7g, \"zeroed_fraction\": %.7g, \"mean_head_diversity\": %.7g",
            l ? "," : "", l, (double)ly->diversity, (double)ly->zeroed, (double)ly->mean_head_diversity);
    fprintf(f,
            ",\n     \"mean\": {\"entropy\": %.7g, \"distance_patches\": %.7g, \"distance_pixels\": %.7g, "
            "\"top_share\": %.7g, \"max_weight\": %.7g}",
            mean_of(ly->entropy, H), mean_of(ly->distance, H), mean_of(ly->distance, H) * r->patch,
            mean_of(ly->top_share, H), mean_of(ly->max_weight, H));
    fprintf(f, ",\n     \"heads\": [");
    for (int h = 0; h < H; h++) {
      fprintf(f,
              "%s\n       {\"head\": %d, \"entropy\": %.7g, \"distance_patches\": %.7g, \"distance_pixels\": %.7g, "
              "\"top_share\": %.7g, \"max_weight\": %.7g, \"diversity\": %.7g, \"zeroed_fraction\": %.7g,\n"
              "        \"map\": ",
              h ? "," : "", h, (double)ly->entropy[h], (double)ly->distance[h], (double)ly->distance[h] * r->patch,
              (double)ly->top_share[h], (double)ly->max_weight[h], (double)ly->head_diversity[h],
              (double)ly->head_zeroed[h]);
      json_floats(f, ly->cls_rows + (size_t)h * r->tokens + P, Np, 1);
      fputc('}', f);
    }
    fprintf(f, "]");
    if (ly->tap) {
      /* Per scale: the mean weight over patch tokens, and the share of tokens that prefer it. */
      const int K = r->tap_k;
      fprintf(f, ",\n     \"tap\": {\"mean_weights\": [");
      for (int k = 0; k < K; k++) {
        double m = 0;
        for (int j = 0; j < Np; j++) m += ly->tap[(size_t)j * K + k];
        fprintf(f, "%s%.7g", k ? ", " : "", m / Np);
      }
      fprintf(f, "], \"argmax_share\": [");
      for (int k = 0; k < K; k++) {
        int c = 0;
        for (int j = 0; j < Np; j++) {
          int best = 0;
          for (int q = 1; q < K; q++)
            if (ly->tap[(size_t)j * K + q] > ly->tap[(size_t)j * K + best]) best = q;
          c += best == k;
        }
        fprintf(f, "%s%.7g", k ? ", " : "", (double)c / Np);
      }
      fprintf(f, "]}");
    }
    fprintf(f, "}");
  }
  fprintf(f, "\n  ],\n  \"rollout\": ");
  json_floats(f, r->rollout, Np, 1);
  fprintf(f, "\n}\n");
}

/* Builds a text in memory (open_memstream) and writes it atomically to dir/name. */
typedef fv_status (*text_writer)(FILE *f, const void *ctx);

static fv_status write_text(const char *dir, const char *name, text_writer fn, const void *ctx, int print,
                            fv_error *err) {
  char *buf = NULL, path[4200];
  size_t len = 0;
  FILE *mem = open_memstream(&buf, &len);
  if (!mem) return fv_fail(err, "out of memory writing %s", name);
  fv_status st = fn(mem, ctx);
  if (fclose(mem) || st) st = fv_fail(err, "cannot build %s: out of memory", name);
  if (!st && snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
    st = fv_fail(err, "output path %s/%s is too long", dir, name);
  if (!st) st = fv_write_file_atomic(path, buf, len, 0, err);
  if (!st && print) fwrite(buf, 1, len, stdout);
  free(buf);
  return st;
}

/* ---- one image ---------------------------------------------------------------------------------- */

typedef struct summary_ctx {
  const options *o;
  const char *image;
  const fv_vit *vit;
  const fv_device *dev;
  const fv_attention_result *r;
} summary_ctx;

static fv_status summary_writer(FILE *f, const void *ctx) {
  const summary_ctx *c = ctx;
  write_summary(f, c->o, c->image, c->vit, c->dev, c->r);
  return FV_OK;
}

/* Per-layer means over heads, one line per layer: what a person reads first. */
static void print_layer_table(const double (*rows)[4], int depth) {
  printf("  layer  diversity  entropy  distance(px)  top1%%\n");
  for (int l = 0; l < depth; l++)
    printf("  %5d  %9.4f  %7.3f  %12.2f  %5.3f\n", l, rows[l][0], rows[l][1], rows[l][2], rows[l][3]);
}

/* ---- several images: mean.json and images.csv (attention_mean.h) -------------------------------- */

typedef struct mean_ctx {
  const options *o;
  const fv_vit *vit;
  const fv_device *dev;
  fv_attention_mean *agg;
} mean_ctx;

static fv_status mean_writer(FILE *f, const void *ctx) {
  const mean_ctx *c = ctx;
  return fv_attention_mean_json(f, c->agg, &c->vit->cfg, c->o->m.model, fv_cli_device_name(c->dev), c->o->m.fp16,
                                c->o->threshold);
}

static fv_status csv_writer(FILE *f, const void *ctx) {
  const mean_ctx *c = ctx;
  return fv_attention_mean_csv(f, c->agg);
}

/* ---- the command ------------------------------------------------------------------------------- */

/* Analyses one image and writes its summary.json (and maps) into dir. */
static fv_status analyse_image(const options *o, fv_attention_analyzer *an, const fv_vit *vit, const fv_device *dev,
                               const char *image, const char *dir, int print_json, fv_attention_result *res,
                               fv_error *err) {
  fv_image img = {0};
  summary_ctx sc = {.o = o, .image = image, .vit = vit, .dev = dev, .r = res};
  fv_status st = fv_image_load(image, vit->cfg.in_chans, &img, err);
  if (!st) st = fv_cli_make_dirs(dir, err);
  if (!st) st = fv_attention_analyzer_run(an, &img, res, err);
  if (!st && !o->no_maps) st = write_images(dir, res, err);
  if (!st) st = write_text(dir, "summary.json", summary_writer, &sc, print_json, err);
  fv_image_free(&img);
  return st;
}

int fv_cmd_attention(int argc, char **argv) {
  options o;
  fv_error err = {{0}};
  fv_device *dev = NULL;
  fv_vit vit;
  memset(&vit, 0, sizeof vit);
  fv_attention_result res;
  memset(&res, 0, sizeof res);
  char **files = NULL, **stems = NULL;
  int n_files = 0, status = 1;
  fv_attention_mean agg;
  memset(&agg, 0, sizeof agg);
  fv_attention_analyzer *an = NULL; /* the graph, recorded once for all images */
  if (parse(argc, argv, &o, &err) || fv_cli_collect_images(o.inputs, o.n_inputs, &files, &n_files, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  /* One image named on its own keeps the flat layout; anything else gets a folder per image. */
  fv_attention_options ao = {.threshold = o.threshold, .fp16 = o.m.fp16};
  struct stat st;
  const int single = o.n_inputs == 1 && n_files == 1 && stat(o.inputs[0], &st) == 0 && !S_ISDIR(st.st_mode);
  if ((!single && fv_cli_file_stems(files, n_files, 1, &stems, &err)) || fv_vit_load(o.m.model, &vit, &err) ||
      fv_cli_make_dirs(o.out, &err) || fv_cli_open_device(o.m.device, &dev, &err) ||
      fv_attention_analyzer_open(&vit, dev, &ao, &an, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  if (single) {
    if (analyse_image(&o, an, &vit, dev, files[0], o.out, o.m.json, &res, &err)) {
      fv_cli_error(err.msg);
      goto done;
    }
    if (!o.m.json) {
      printf("%s: %d layers x %d heads, %d tokens; wrote %s/summary.json%s\n", files[0], res.depth, res.heads,
             res.tokens, o.out, o.no_maps ? "" : " and heatmaps");
      double(*rows)[4] = calloc((size_t)res.depth, sizeof *rows);
      for (int l = 0; rows && l < res.depth; l++) {
        const fv_attention_layer *ly = &res.layers[l];
        rows[l][0] = ly->diversity, rows[l][1] = mean_of(ly->entropy, res.heads);
        rows[l][2] = mean_of(ly->distance, res.heads) * res.patch, rows[l][3] = mean_of(ly->top_share, res.heads);
      }
      if (rows) print_layer_table((const double(*)[4])rows, res.depth);
      free(rows);
    }
    status = 0;
    goto done;
  }
  fv_progress bar;
  fv_progress_start(&bar, n_files, "images");
  for (int i = 0; i < n_files; i++) {
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", o.out, stems[i]);
    fv_status s = analyse_image(&o, an, &vit, dev, files[i], dir, 0, &res, &err);
    if (!s) s = fv_attention_mean_add(&agg, &vit.cfg, &res, files[i], stems[i], &err);
    fv_attention_result_free(&res);
    memset(&res, 0, sizeof res);
    if (s) {
      fv_progress_finish(&bar);
      fv_cli_error(err.msg);
      goto done;
    }
    fv_progress_update(&bar, i + 1);
  }
  fv_progress_finish(&bar);
  mean_ctx mc = {.o = &o, .vit = &vit, .dev = dev, .agg = &agg};
  if (write_text(o.out, "images.csv", csv_writer, &mc, 0, &err) ||
      write_text(o.out, "mean.json", mean_writer, &mc, o.m.json, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  if (!o.m.json) {
    printf("%d images: %d layers x %d heads, %d tokens; wrote %s/mean.json, %s/images.csv and a folder per image\n",
           agg.n, agg.depth, agg.heads, agg.tokens, o.out, o.out);
    printf("means over the images:\n");
    double(*rows)[4] = calloc((size_t)agg.depth, sizeof *rows);
    for (int l = 0; rows && l < agg.depth; l++) fv_attention_mean_layer_row(&agg, l, rows[l]);
    if (rows) print_layer_table((const double(*)[4])rows, agg.depth);
    free(rows);
  }
  status = 0;
done:
  fv_attention_mean_free(&agg);
  fv_attention_analyzer_close(an);
  for (int i = 0; stems && i < n_files; i++) free(stems[i]);
  free(stems);
  if (files) fv_image_list_free(files, n_files);
  fv_attention_result_free(&res);
  fv_vit_free(&vit);
  if (dev) fv_device_close(dev);
  return status;
}
