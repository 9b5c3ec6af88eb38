/* cmd_robustness.c: `fovea robustness`: a model's top-1 error under the
 * ImageNet-C corruptions, with CE, mCE and relative mCE
 * (shared/design/methods/corruptions.md 8), and `fovea robustness merge`, which
 * combines the results of shards.
 *
 * Generation mode corrupts the --dataset images in memory (vision/corrupt.h,
 * keyed by dataset index, so every image gets the same noise whatever the
 * batch, shard or resume) and classifies them in the same pass: no image file
 * is written. Dataset mode (--corrupted-dataset DIR) reads pre-corrupted
 * ImageFolders DIR/<corruption>/<severity>/<class>/<image>, the only way to
 * reproduce published numbers; --dataset then gives the clean cell.
 *
 * Fault tolerance: every finished cell (clean, or one corruption at one
 * severity) is stored as its own small file, written atomically, in OUT.cells/;
 * RESULTS.json, .csv and .svg are rewritten atomically after each cell.
 * --resume skips the cells already stored (after checking they were made with
 * the same parameters), so a run killed at any point and resumed gives the same
 * results as one that was not. --shard K/N keeps every N-th cell of the
 * canonical cell list (round-robin over cells, not images: a cell's error then
 * comes from one process and shards merge exactly). Non-goals: top-5, per-class
 * errors, ImageNet-P, CIFAR-10-C .npy input, writing corrupted images (that is
 * `fovea corrupt`). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vision/classifier.h"
#include "vision/corrupt.h"
#include "vision/dataset.h"
#include "vision/image.h"
#include "vision/robustness.h"

/* Decoded clean images are kept between cells up to this many bytes
 * (Fashion-MNIST's 10,000 test images are 7.8 MB); beyond it they are decoded
 * again for every cell. */
#define IMAGE_CACHE_BYTES (512u << 20)
#define MAX_MERGE_INPUTS 4096
#define MAX_BATCH 4096

typedef struct options {
  fv_cli_model_options m;
  const char *dataset, *split, *corruptions, *severities, *baseline, *out, *shard, *corrupted, *table, *variant,
      *frost_dir;
  int limit, resume, shard_k, shard_n;
  uint32_t seed, frost_seed;
} options;

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea robustness --dataset D --out RESULTS.json [--model M] "
          "[--split S] [--limit N]\n"
          "                        [--corruptions LIST|all|imagenet-c|extras] "
          "[--severities A-B] [--seed N]\n"
          "                        [--table imagenet|cifar10|tiny] "
          "[--variant imagecorruptions|hendrycks]\n"
          "                        [--frost-dir DIR] [--frost-seed N]\n"
          "                        [--baseline alexnet|none|FILE.json] "
          "[--resume] [--shard K/N]\n"
          "                        [--corrupted-dataset DIR] [--device D] "
          "[--batch N] [--fp16] [--json]\n"
          "       fovea robustness merge A.json B.json ... --out RESULTS.json "
          "[--baseline ...] [--json]\n\n"
          "Measures a model's top-1 error on clean images and under the 19 "
          "ImageNet-C corruptions at\n"
          "severities 1-5, and the Hendrycks & Dietterich metrics "
          "(corruptions.md 8):\n"
          "  CE_c          = 100 * sum_s E_c,s / sum_s E^base_c,s\n"
          "  mCE           = mean of CE_c over the 15 main corruptions (the 4 "
          "extras are reported apart)\n"
          "  relative CE_c = 100 * sum_s (E_c,s - E_clean) / sum_s (E^base_c,s "
          "- E^base_clean)\n"
          "  mean error    = mean of E_c,s over the main cells (unnormalised; "
          "not comparable with mCE)\n"
          "where base is AlexNet (the table of the paper, compiled in; "
          "E^AlexNet_clean = 0.4345), a\n"
          "baseline model's RESULTS.json, or none (then CE_c = 100 * mean_s "
          "E_c,s). RESULTS.json says which.\n\n"
          "  --dataset D            clean labelled images (IDX directory or "
          "ImageFolder, as `fovea eval`);\n"
          "                         generation mode corrupts these in memory, "
          "keyed by their index\n"
          "  --corrupted-dataset DIR  dataset mode: read "
          "DIR/<corruption>/<severity>/<class>/<image>\n"
          "                         (the released ImageNet-C layout) instead "
          "of corrupting; --dataset is\n"
          "                         then optional and gives the clean error\n"
          "  --out RESULTS.json     results; also RESULTS.csv, RESULTS.svg and "
          "the cell store RESULTS.json.cells/\n"
          "  --corruptions LIST     all (default in generation mode), "
          "imagenet-c (the 15 main), extras, or\n"
          "                         comma-separated names; dataset mode "
          "defaults to the folders DIR holds\n"
          "  --severities A-B       default 1-5; CE needs all five\n"
          "  --seed N               corruption seed (default 0)\n"
          "  --table T              corruption parameters: imagenet (224 px, "
          "default), cifar10 (32 px), tiny (64 px)\n"
          "  --variant V            imagecorruptions (default) or hendrycks: the "
          "original ImageNet-C script's\n"
          "                         elastic_transform and frost on the imagenet "
          "table (the rest is the same)\n"
          "  --frost-dir DIR        frost1.png..frost5.jpg of the original; "
          "default: procedural textures\n"
          "                         (frost numbers then are not comparable "
          "with published ones)\n"
          "  --frost-seed N         seed of the procedural frost textures "
          "(default 0)\n"
          "  --baseline B           alexnet (default with --table imagenet or "
          "--corrupted-dataset), none\n"
          "                         (default otherwise), or a baseline model's "
          "RESULTS.json\n"
          "  --limit N              the first N images of each data set only\n"
          "  --resume               continue a killed or interrupted run from "
          "its stored cells\n"
          "  --shard K/N            run only cells K, K+N, K+2N, ... of the "
          "cell list; merge the N results\n"
          "                         with `fovea robustness merge` (see "
          "docs/robustness.md for a Slurm array)\n"
          "  --model, --device, --batch, --fp16   as for `fovea eval`\n"
          "  --json                 a one-line JSON summary on stdout instead "
          "of the table\n");
}

static fv_status parse_u32(const char *option, const char *v, uint32_t *out, fv_error *err) {
  char *end = NULL;
  if (!v) return fv_fail(err, "%s needs a value", option);
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (end == v || *end || errno || x > UINT32_MAX || v[0] == '-')
    return fv_fail(err, "%s: '%s' is not an integer in 0..%u", option, v, UINT32_MAX);
  *out = (uint32_t)x;
  return FV_OK;
}

static fv_status parse(int argc, char **argv, options *o, fv_error *err) {
  memset(o, 0, sizeof *o);
  o->m.batch = 32;
  o->shard_k = o->shard_n = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **str = NULL;
    int used;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if ((used = fv_cli_model_option(argc, argv, &i, &o->m, err)) != 0) {
      if (used < 0) return FV_ERR;
    } else if (strcmp(a, "--dataset") == 0) {
      str = &o->dataset;
    } else if (strcmp(a, "--split") == 0) {
      str = &o->split;
    } else if (strcmp(a, "--corruptions") == 0) {
      str = &o->corruptions;
    } else if (strcmp(a, "--severities") == 0) {
      str = &o->severities;
    } else if (strcmp(a, "--baseline") == 0) {
      str = &o->baseline;
    } else if (strcmp(a, "--out") == 0) {
      str = &o->out;
    } else if (strcmp(a, "--shard") == 0) {
      str = &o->shard;
    } else if (strcmp(a, "--corrupted-dataset") == 0) {
      str = &o->corrupted;
    } else if (strcmp(a, "--table") == 0) {
      str = &o->table;
    } else if (strcmp(a, "--variant") == 0) {
      str = &o->variant;
    } else if (strcmp(a, "--frost-dir") == 0) {
      str = &o->frost_dir;
    } else if (strcmp(a, "--resume") == 0) {
      o->resume = 1;
    } else if (strcmp(a, "--limit") == 0) {
      if (fv_cli_parse_int(a, v, 1, FV_DATASET_MAX_ITEMS, &o->limit, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_u32(a, v, &o->seed, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--frost-seed") == 0) {
      if (parse_u32(a, v, &o->frost_seed, err)) return FV_ERR;
      i++;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fv_fail(err, "unknown option '%s' (see fovea robustness --help)", a);
    } else {
      return fv_fail(err, "unexpected argument '%s' (see fovea robustness --help)", a);
    }
    if (str) {
      if (!v || !*v) return fv_fail(err, "%s needs a value", a);
      *str = v;
      i++;
    }
  }
  if (!o->out) return fv_fail(err, "no output given: --out RESULTS.json (see fovea robustness --help)");
  if (!o->dataset && !o->corrupted)
    return fv_fail(err,
                   "no data set given: --dataset PATH, or --corrupted-dataset "
                   "DIR (see fovea robustness --help)");
  if (o->split && strcmp(o->split, "test") != 0 && strcmp(o->split, "train") != 0)
    return fv_fail(err, "--split: unknown split '%s' (expected 'test' or 'train')", o->split);
  if (o->shard && fv_rob_parse_shard(o->shard, &o->shard_k, &o->shard_n, err)) return FV_ERR;
  if (o->corrupted && (o->table || o->variant || o->frost_dir))
    return fv_fail(err,
                   "--table, --variant and --frost-dir choose how images are "
                   "corrupted; --corrupted-dataset reads images "
                   "that are already corrupted");
  if (o->table && fv_corrupt_table_from_name(o->table) < 0)
    return fv_fail(err, "--table: unknown table '%s' (expected imagenet, cifar10 or tiny)", o->table);
  if (o->variant && fv_corrupt_variant_from_name(o->variant) < 0)
    return fv_fail(err, "--variant: unknown variant '%s' (expected imagecorruptions or hendrycks)", o->variant);
  if (!o->m.model) o->m.model = fv_cli_default_model();
  return FV_OK;
}

/* OUT.json → OUT.csv / OUT.svg (any other name gets the suffix appended). */
static void sibling(const char *out, const char *ext, char *buf, size_t size) {
  size_t n = strlen(out);
  if (n > 5 && strcmp(out + n - 5, ".json") == 0) n -= 5;
  snprintf(buf, size, "%.*s%s", (int)n, out, ext);
}

/* Copies src into dst, truncating to size - 1 bytes. */
static void copy_str(char *dst, size_t size, const char *src) {
  size_t n = strlen(src);
  if (n >= size) n = size - 1;
  memcpy(dst, src, n);
  dst[n] = '\0';
}

/* Paths are recorded absolute, so a resume from another working folder matches. */
static void absolute(const char *path, char *buf, size_t size) {
  char real[PATH_MAX];
  copy_str(buf, size, path && realpath(path, real) ? real : (path ? path : ""));
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void format_duration(double s, char *buf, size_t size) {
  if (!(s >= 0) || s > 1e7)
    snprintf(buf, size, "?");
  else if (s < 60)
    snprintf(buf, size, "%.0fs", s);
  else if (s < 3600)
    snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
  else
    snprintf(buf, size, "%dh%02dm", (int)s / 3600, (int)s % 3600 / 60);
}

/* Progress over the whole run: a redrawn line on a terminal, one line per
 * finished cell always. */
typedef struct progress {
  int tty, cells_total, cells_done;
  long images_total, images_done;
  double start;
} progress;

static void progress_draw(progress *p, const char *cell, long done, long total) {
  if (!p->tty) return;
  double elapsed = now_seconds() - p->start,
         frac = p->images_total ? (double)(p->images_done + done) / p->images_total : 0;
  char eta[32];
  format_duration(frac > 0 ? elapsed * (1 - frac) / frac : -1, eta, sizeof eta);
  fprintf(stderr, "\r\033[K[cell %d/%d] %s %ld/%ld images | overall %.1f%% | ETA %s", p->cells_done + 1, p->cells_total,
          cell, done, total, 100 * frac, eta);
  fflush(stderr);
}

static void progress_cell_done(progress *p, const char *cell, const fv_rob_cell *c, long planned_images) {
  p->cells_done++;
  p->images_done += planned_images;
  double elapsed = now_seconds() - p->start, frac = p->images_total ? (double)p->images_done / p->images_total : 1;
  char eta[32];
  format_duration(frac > 0 ? elapsed * (1 - frac) / frac : -1, eta, sizeof eta);
  if (p->tty) fprintf(stderr, "\r\033[K");
  fprintf(stderr,
          "fovea: %-22s error %6.2f%%  (%ld images, %.1f s)  [%d/%d cells, ETA "
          "%s]\n",
          cell, 100.0 * (1.0 - (double)c->correct / (double)c->images), c->images, c->seconds, p->cells_done,
          p->cells_total, eta);
}

/* The clean data set with its decoded images kept between cells while they fit.
 */
typedef struct source {
  fv_dataset *ds;
  int n;
  fv_image *cache;
  int *labels;
  size_t cached_bytes;
} source;

static fv_status source_get(source *src, int i, fv_image *img, int *label, int *borrowed, fv_error *err) {
  if (src->cache && src->cache[i].pixels) {
    *img = src->cache[i];
    *label = src->labels[i];
    *borrowed = 1;
    return FV_OK;
  }
  *borrowed = 0;
  if (fv_dataset_get(src->ds, i, img, label, err)) return FV_ERR;
  size_t bytes = (size_t)img->width * (size_t)img->height * (size_t)img->channels;
  if (src->cache && src->cached_bytes + bytes <= IMAGE_CACHE_BYTES) {
    src->cache[i] = *img;
    src->labels[i] = *label;
    src->cached_bytes += bytes;
    *borrowed = 1;
  }
  return FV_OK;
}

static void source_close(source *src) {
  if (src->cache)
    for (int i = 0; i < src->n; i++) fv_image_free(&src->cache[i]);
  free(src->cache);
  free(src->labels);
  fv_dataset_close(src->ds);
  memset(src, 0, sizeof *src);
}

static int argmax(const float *logits, int k) {
  int best = 0;
  for (int j = 1; j < k; j++)
    if (logits[j] > logits[best]) best = j;
  return best;
}

/* Everything one run holds. */
typedef struct run {
  options o;
  fv_device *dev;
  fv_classifier cls;
  fv_corruptor *cr;
  source clean;
  float *logits;
  int *slot_label;
  fv_image *in, *out;
  uint32_t *keys;
  fv_rob_params params;
  fv_rob_plan plan;
  fv_rob_baseline baseline;
  fv_rob_set set;
  char cells_dir[PATH_MAX], csv[PATH_MAX], svg[PATH_MAX], shard[32], title[2 * FV_ROB_STR + 64];
  const char *notes[8];
  char note_buf[4][FV_ROB_STR + 400];
  progress prog;
  int B; /* images per batch: the classifier's, at most MAX_BATCH */
} run;

/* Scores `filled` images in the classifier's slots against their labels. */
static fv_status classify_batch(run *r, int filled, long *correct, const char *cell, fv_error *err) {
  int K = r->cls.num_classes;
  if (fv_classifier_run(&r->cls, filled, r->logits, NULL, err)) return fv_fail_context(err, "cell %s", cell);
  for (int s = 0; s < filled; s++) {
    const float *l = r->logits + (size_t)s * (size_t)K;
    for (int k = 0; k < K; k++)
      if (!isfinite(l[k])) return fv_fail(err, "cell %s: the model produced a non-finite logit for class %d", cell, k);
    *correct += argmax(l, K) == r->slot_label[s];
  }
  return FV_OK;
}

/* The corruption tables are made for one image size (corruptions.md 6.3): say
 * so when the data set's images differ. Decided from the first image before any
 * cell runs, so every run, resumed or not, writes the same notes. */
static fv_status check_size(run *r, fv_error *err) {
  if (!r->cr || r->clean.n == 0) return FV_OK;
  fv_image first = {0};
  int label, borrowed;
  if (source_get(&r->clean, 0, &first, &label, &borrowed, err)) return FV_ERR;
  const fv_image *img = &first;
  fv_corrupt_table t = (fv_corrupt_table)fv_corrupt_table_from_name(r->params.table);
  int want = fv_corrupt_table_size(t);
  if (img->width != want || img->height != want) {
    snprintf(r->note_buf[2], sizeof r->note_buf[2],
             "images are %dx%d but the corruption table '%s' is made for "
             "%dx%d: its parameters were applied "
             "unscaled (corruptions.md 6.3)",
             img->width, img->height, r->params.table, want, want);
    fprintf(stderr, "fovea: warning: %s\n", r->note_buf[2]);
  }
  if (!borrowed) fv_image_free(&first);
  return FV_OK;
}

/* One cell of generation mode: the clean images, corrupted unless slot 0. */
static fv_status run_generated(run *r, int slot, fv_rob_cell *cell, const char *label, fv_error *err) {
  int corruption, severity, n = r->clean.n, B = r->B;
  fv_rob_slot_cell(slot, &corruption, &severity);
  int borrowed[MAX_BATCH];
  fv_status st = FV_OK;
  for (int next = 0; next < n && st == FV_OK;) {
    int filled = 0;
    for (; next < n && filled < B; next++, filled++) {
      if ((st = source_get(&r->clean, next, &r->in[filled], &r->slot_label[filled], &borrowed[filled], err))) break;
      r->keys[filled] = (uint32_t)next;
    }
    if (st == FV_OK && corruption >= 0)
      st = fv_corrupt_images(r->cr, corruption, severity, r->in, r->keys, filled, r->out, err);
    for (int s = 0; s < filled && st == FV_OK; s++)
      st = fv_classifier_set_image(&r->cls, s, corruption >= 0 ? &r->out[s] : &r->in[s], err);
    if (corruption >= 0 && st == FV_OK)
      for (int s = 0; s < filled; s++) fv_image_free(&r->out[s]);
    for (int s = 0; s < filled; s++)
      if (!borrowed[s]) fv_image_free(&r->in[s]);
    memset(r->in, 0, (size_t)B * sizeof *r->in);
    if (st == FV_OK) st = classify_batch(r, filled, &cell->correct, label, err);
    cell->images += filled;
    progress_draw(&r->prog, label, next, n);
  }
  if (st) fv_fail_context(err, "cell %s", label);
  return st;
}

/* One cell of dataset mode: DIR/<corruption>/<severity> as an ImageFolder (slot
 * 0: --dataset). */
static fv_status run_folder(run *r, int slot, fv_rob_cell *cell, const char *label, fv_error *err) {
  int corruption, severity, B = r->B;
  fv_rob_slot_cell(slot, &corruption, &severity);
  if (corruption < 0) return run_generated(r, slot, cell, label, err);
  char path[PATH_MAX + 64];
  snprintf(path, sizeof path, "%s/%s/%d", r->o.corrupted, fv_rob_corruption_name(corruption), severity);
  const fv_vit_config *cfg = &r->cls.vit.cfg;
  fv_dataset_options dopt = {.channels = cfg->in_chans,
                             .num_classes = r->cls.num_classes,
                             .label_names = cfg->label_names,
                             .n_labels = cfg->n_labels,
                             .limit = r->o.limit};
  fv_dataset *ds = NULL;
  if (fv_dataset_open(path, NULL, &dopt, &ds, err)) return fv_fail_context(err, "cell %s", label);
  int n = fv_dataset_count(ds);
  fv_status st = FV_OK;
  for (int next = 0; next < n && st == FV_OK;) {
    int filled = 0;
    for (; next < n && filled < B && st == FV_OK; next++, filled++) {
      fv_image img = {0};
      st = fv_dataset_get(ds, next, &img, &r->slot_label[filled], err);
      if (st == FV_OK) st = fv_classifier_set_image(&r->cls, filled, &img, err);
      fv_image_free(&img);
    }
    if (st == FV_OK) st = classify_batch(r, filled, &cell->correct, label, err);
    cell->images += filled;
    progress_draw(&r->prog, label, next, n);
  }
  fv_dataset_close(ds);
  if (st == FV_OK && cell->images == 0) st = fv_fail(err, "%s: no images", path);
  if (st) fv_fail_context(err, "cell %s", label);
  return st;
}

/* The cells of this run (shard) that are stored, for RESULTS.json: cells of
 * other plans that the store may also hold stay out, so a resumed run writes
 * what an uninterrupted one would. */
static void planned_subset(const run *r, fv_rob_set *out) {
  int slots[FV_ROB_SLOTS];
  int n = fv_rob_plan_cells(&r->plan, r->o.shard_k, r->o.shard_n, slots);
  memset(out, 0, sizeof *out);
  out->params = r->set.params;
  out->have_params = 1;
  for (int i = 0; i < n; i++)
    if (r->set.have[slots[i]]) {
      out->have[slots[i]] = 1;
      out->cell[slots[i]] = r->set.cell[slots[i]];
    }
}

static fv_status write_outputs(run *r, const fv_rob_set *s, fv_error *err) {
  fv_rob_info info = {.plan = &r->plan,
                      .shard = r->o.shard ? r->shard : NULL,
                      .device = fv_cli_device_name(r->dev),
                      .mode = r->o.corrupted ? "dataset" : "generation"};
  memcpy(info.notes, r->notes, sizeof info.notes);
  return fv_rob_write_json(r->o.out, s, &r->baseline, &info, err) || fv_rob_write_csv(r->csv, s, &r->baseline, err) ||
         fv_rob_write_svg(r->svg, s, &r->baseline, r->title, err);
}

static void print_table(const fv_rob_set *s, const fv_rob_baseline *b, const char *out, const char *csv,
                        const char *svg, const char *const *notes) {
  fv_rob_metrics m;
  fv_rob_set_metrics(s, b, &m);
  printf("%-20s %7s %7s %7s %7s %7s %8s %8s\n", "corruption", "s1", "s2", "s3", "s4", "s5", "CE", "rel.CE");
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    int any = 0;
    for (int v = 0; v < 5; v++) any |= m.have[c][v];
    if (!any) continue;
    if (c == FV_ROB_MAIN) printf("-- extras (not in mCE) --\n");
    printf("%-20s", fv_rob_corruption_name(c));
    for (int v = 0; v < 5; v++)
      if (m.have[c][v])
        printf(" %6.2f%%", 100 * m.err[c][v]);
      else
        printf(" %7s", "-");
    if (m.have_ce[c])
      printf(" %8.2f", m.ce[c]);
    else
      printf(" %8s", "-");
    if (m.have_rce[c])
      printf(" %8.2f\n", m.rce[c]);
    else
      printf(" %8s\n", "-");
  }
  printf("\n");
  if (m.have_clean)
    printf("clean error          %.2f%%  (accuracy %.2f%%)\n", 100 * m.clean_error, 100 * (1 - m.clean_error));
  if (m.have_mean_error)
    printf(
        "mean error           %.2f%%  over %d main cells (unnormalised; "
        "mean accuracy %.2f%%)\n",
        100 * m.mean_error, m.have_mean_error, 100 * m.mean_accuracy);
  if (m.have_mce) printf("mCE                  %.2f\n", m.mce);
  if (m.have_rmce) printf("relative mCE         %.2f\n", m.rmce);
  if (m.have_extras_mean_error)
    printf("extras mean error    %.2f%%  over %d cells\n", 100 * m.extras_mean_error, m.have_extras_mean_error);
  if (m.have_extras_mce) printf("extras mCE           %.2f  (the 4 extras; not part of mCE)\n", m.extras_mce);
  printf("normalisation        %s\n", b->kind == FV_NORM_ALEXNET ? "AlexNet (corruptions.md 8.2), CE in % of AlexNet's"
                                      : b->kind == FV_NORM_BASELINE ? b->source
                                                                    : "none: CE = mean error over severities (%)");
  for (int i = 0; i < 8 && notes && notes[i]; i++) printf("note: %s\n", notes[i]);
  printf(
      "results              %s\n                     %s\n                   "
      "  %s\n",
      out, csv, svg);
}

static void print_json_summary(const fv_rob_set *s, const fv_rob_baseline *b, const char *out, const char *csv,
                               const char *svg, int ran, int skipped, double seconds) {
  fv_rob_metrics m;
  fv_rob_set_metrics(s, b, &m);
  printf("{\"out\": ");
  fv_json_string(stdout, out);
  printf(", \"csv\": ");
  fv_json_string(stdout, csv);
  printf(", \"svg\": ");
  fv_json_string(stdout, svg);
  printf(
      ", \"cells_run\": %d, \"cells_resumed\": %d, \"seconds\": %.3f, "
      "\"normalisation\": \"%s\"",
      ran, skipped, seconds,
      b->kind == FV_NORM_ALEXNET    ? "alexnet"
      : b->kind == FV_NORM_BASELINE ? "baseline"
                                    : "none");
  const struct {
    const char *k;
    int have;
    double v;
  } f[] = {{"clean_error", m.have_clean, m.clean_error},
           {"mce", m.have_mce, m.mce},
           {"relative_mce", m.have_rmce, m.rmce},
           {"mean_error", m.have_mean_error, m.mean_error},
           {"mean_accuracy", m.have_mean_error, m.mean_accuracy}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
    if (f[i].have)
      printf(", \"%s\": %.17g", f[i].k, f[i].v);
    else
      printf(", \"%s\": null", f[i].k);
  printf("}\n");
}

static fv_status open_baseline(const char *spec, fv_rob_baseline *b, fv_error *err) {
  if (strcmp(spec, "alexnet") == 0) {
    fv_rob_baseline_alexnet(b);
    return FV_OK;
  }
  if (strcmp(spec, "none") == 0) {
    fv_rob_baseline_none(b);
    return FV_OK;
  }
  if (fv_rob_baseline_load(spec, b, err)) return fv_fail_context(err, "--baseline");
  return FV_OK;
}

/* Dataset mode without --corruptions: the corruption folders DIR holds. */
static fv_status plan_from_folders(const char *dir, fv_rob_plan *plan, fv_error *err) {
  int any = 0;
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    char path[PATH_MAX + 64];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, fv_rob_corruption_name(c));
    plan->corruption[c] = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    any |= plan->corruption[c];
  }
  if (!any)
    return fv_fail(err,
                   "%s: no corruption folders (expected e.g. "
                   "%s/gaussian_noise/1/<class>/<image>)",
                   dir, dir);
  return FV_OK;
}

static int run_main(int argc, char **argv) {
  run *r = calloc(1, sizeof *r);
  fv_error err;
  int status = 1, ran = 0, resumed = 0;
  if (!r) return fv_cli_error("out of memory");
  options *o = &r->o;
  double start = now_seconds();
  if (parse(argc, argv, o, &err)) goto fail;
  snprintf(r->shard, sizeof r->shard, "%d/%d", o->shard_k, o->shard_n);
  snprintf(r->cells_dir, sizeof r->cells_dir, "%s.cells", o->out);
  sibling(o->out, ".csv", r->csv, sizeof r->csv);
  sibling(o->out, ".svg", r->svg, sizeof r->svg);

  /* the plan */
  r->plan.clean = o->dataset != NULL;
  if (fv_rob_parse_severities(o->severities ? o->severities : "1-5", &r->plan, &err)) goto fail;
  if (o->corruptions ? fv_rob_parse_corruptions(o->corruptions, &r->plan, &err)
      : o->corrupted ? plan_from_folders(o->corrupted, &r->plan, &err)
                     : fv_rob_parse_corruptions("all", &r->plan, &err))
    goto fail;

  /* the model, the clean data set, the corruptor */
  if (fv_cli_open_device(o->m.device, &r->dev, &err)) goto fail;
  fv_classifier_options co = {.batch = o->m.batch, .fp16 = o->m.fp16};
  if (fv_classifier_open(o->m.model, r->dev, &co, &r->cls, &err)) goto fail;
  r->B = r->cls.batch < MAX_BATCH ? r->cls.batch : MAX_BATCH;
  const fv_vit_config *cfg = &r->cls.vit.cfg;
  size_t B = (size_t)r->B;
  r->logits = malloc(B * (size_t)r->cls.num_classes * sizeof *r->logits);
  r->slot_label = calloc(B, sizeof *r->slot_label);
  r->in = calloc(B, sizeof *r->in);
  r->out = calloc(B, sizeof *r->out);
  r->keys = calloc(B, sizeof *r->keys);
  if (!r->logits || !r->slot_label || !r->in || !r->out || !r->keys) {
    fv_fail(&err, "out of memory for a batch of %zu", B);
    goto fail;
  }
  fv_rob_params *p = &r->params;
  absolute(o->m.model, p->model, sizeof p->model);
  if (o->dataset) {
    fv_dataset_options dopt = {.channels = cfg->in_chans,
                               .num_classes = r->cls.num_classes,
                               .label_names = cfg->label_names,
                               .n_labels = cfg->n_labels,
                               .limit = o->limit};
    if (fv_dataset_open(o->dataset, o->split, &dopt, &r->clean.ds, &err)) goto fail;
    r->clean.n = fv_dataset_count(r->clean.ds);
    r->clean.cache = calloc((size_t)r->clean.n, sizeof *r->clean.cache);
    r->clean.labels = calloc((size_t)r->clean.n, sizeof *r->clean.labels);
    if (!r->clean.cache || !r->clean.labels) {
      fv_fail(&err, "out of memory for %d images", r->clean.n);
      goto fail;
    }
    absolute(o->dataset, p->dataset, sizeof p->dataset);
    if (fv_dataset_get_kind(r->clean.ds) == FV_DATASET_IDX)
      snprintf(p->split, sizeof p->split, "%s", o->split ? o->split : "test");
    else
      fprintf(stderr, "fovea: ImageFolder classes mapped %s: %s\n",
              fv_dataset_mapping_name(fv_dataset_class_mapping(r->clean.ds)), fv_dataset_mapping_note(r->clean.ds));
  }
  p->limit = o->limit;
  p->fp16 = o->m.fp16;
  if (o->corrupted) {
    absolute(o->corrupted, p->corrupted_dataset, sizeof p->corrupted_dataset);
  } else {
    p->seed = o->seed;
    fv_corrupt_options copt = {
        .table = (fv_corrupt_table)(o->table ? fv_corrupt_table_from_name(o->table) : 0),
        .variant = (fv_corrupt_variant)(o->variant ? fv_corrupt_variant_from_name(o->variant) : 0),
        .seed = o->seed,
        .frost_dir = o->frost_dir,
        .frost_seed = o->frost_seed,
        .batch = r->B};
    if (fv_corruptor_open(r->dev, &copt, &r->cr, &err)) goto fail;
    snprintf(p->table, sizeof p->table, "%s", fv_corrupt_table_name(copt.table));
    snprintf(p->variant, sizeof p->variant, "%s", fv_corrupt_variant_name(copt.variant));
    snprintf(p->frost, sizeof p->frost, "%s", fv_corruptor_frost_source(r->cr));
  }

  /* normalisation and notes */
  const char *base = o->baseline                                           ? o->baseline
                     : (o->corrupted || strcmp(p->table, "imagenet") == 0) ? "alexnet"
                                                                           : "none";
  if (open_baseline(base, &r->baseline, &err)) goto fail;
  int nn = 0;
  if (!o->corrupted) {
    r->notes[nn++] =
        "generation mode: corrupted in memory with Fovea's seeded "
        "corruptions, not the released ImageNet-C "
        "images; errors are comparable between models run with "
        "the same seed and table, and with published "
        "numbers only in dataset mode (--corrupted-dataset)";
    if (r->plan.corruption[FV_FROST] && !o->frost_dir) {
      snprintf(r->note_buf[0], sizeof r->note_buf[0],
               "frost textures: %s, not the original photographs: frost errors are not comparable with "
               "published frost errors",
               p->frost);
      r->notes[nn++] = r->note_buf[0];
    }
  }
  if (r->plan.clean)
    r->notes[nn++] =
        "clean protocol: the --dataset images through the model's own "
        "preprocessing (its config's resize and crop); "
        "corrupted images go through the same preprocessing after corruption";
  if (o->corrupted && r->plan.clean)
    r->notes[nn++] =
        "ImageNet-C was made with Resize 256 / CenterCrop 224 and "
        "JPEG q85: a clean set prepared differently is "
        "not the same view (corruptions.md 8.3)";
  if (!r->plan.clean)
    r->notes[nn++] =
        "no clean cell (no --dataset): relative CE and relative "
        "mCE are undefined";
  if (check_size(r, &err)) goto fail;
  if (r->note_buf[2][0]) r->notes[nn++] = r->note_buf[2];
  snprintf(r->title, sizeof r->title, "fovea robustness: %s on %s",
           strrchr(p->model, '/') ? strrchr(p->model, '/') + 1 : p->model,
           o->corrupted ? p->corrupted_dataset : p->dataset);

  /* the cell store: resume, or refuse to mix with an earlier run */
  r->set.params = *p;
  r->set.have_params = 1;
  int loaded = 0;
  if (fv_rob_store_load(r->cells_dir, &r->set, &loaded, &err)) {
    fv_fail_context(&err, "cannot resume");
    goto fail;
  }
  if (loaded > 0 && !o->resume) {
    fv_fail(&err,
            "%s holds %d finished cell(s) of an earlier run: pass --resume to "
            "continue it, or remove the folder",
            r->cells_dir, loaded);
    goto fail;
  }

  int slots[FV_ROB_SLOTS];
  int count = fv_rob_plan_cells(&r->plan, o->shard_k, o->shard_n, slots);
  int todo = 0;
  for (int i = 0; i < count; i++) todo += !r->set.have[slots[i]];
  resumed = count - todo;
  if (resumed) fprintf(stderr, "fovea: resuming: %d of %d cells already done in %s\n", resumed, count, r->cells_dir);
  r->prog = (progress){.tty = isatty(STDERR_FILENO), .cells_total = todo, .start = now_seconds()};
  long per_cell = r->clean.n > 0 ? r->clean.n : (o->limit ? o->limit : 1000);
  r->prog.images_total = (long)todo * per_cell;

  fv_rob_set out;
  for (int i = 0; i < count; i++) {
    int slot = slots[i];
    if (r->set.have[slot]) continue;
    char label[64];
    fv_rob_slot_label(slot, label, sizeof label);
    fv_rob_cell cell = {0};
    double t0 = now_seconds();
    if ((o->corrupted ? run_folder(r, slot, &cell, label, &err) : run_generated(r, slot, &cell, label, &err)))
      goto fail;
    if (r->dev && fv_device_validation_errors(r->dev)) {
      fv_fail(&err, "the Vulkan validation layer reported %d message(s)", fv_device_validation_errors(r->dev));
      goto fail;
    }
    /* Whole milliseconds, as the files store them, so a resumed run reads back
     * what it wrote. */
    cell.seconds = round((now_seconds() - t0) * 1000) / 1000;
    if (fv_rob_cell_write(r->cells_dir, p, slot, &cell, o->shard ? r->shard : "", fv_cli_device_name(r->dev), &err) ||
        fv_rob_set_add(&r->set, p, slot, &cell, r->cells_dir, &err))
      goto fail;
    ran++;
    progress_cell_done(&r->prog, label, &cell, per_cell);
    planned_subset(r, &out);
    if (write_outputs(r, &out, &err)) goto fail;
  }
  planned_subset(r, &out);
  if (write_outputs(r, &out, &err)) goto fail;
  if (r->cr && fv_corruptor_empty_spatter(r->cr) > 0)
    fprintf(stderr,
            "fovea: note: %ld spatter draw(s) had no liquid above the "
            "threshold and were left unchanged\n",
            fv_corruptor_empty_spatter(r->cr));
  if (o->m.json)
    print_json_summary(&out, &r->baseline, o->out, r->csv, r->svg, ran, resumed, now_seconds() - start);
  else
    print_table(&out, &r->baseline, o->out, r->csv, r->svg, r->notes);
  status = 0;
  goto done;
fail:
  if (r->prog.tty) fprintf(stderr, "\r\033[K");
  fv_cli_error(err.msg);
done:
  source_close(&r->clean);
  fv_corruptor_close(r->cr);
  fv_classifier_close(&r->cls);
  fv_device_close(r->dev);
  free(r->logits);
  free(r->slot_label);
  free(r->in);
  free(r->out);
  free(r->keys);
  free(r);
  return status;
}

/* ---- merge ------------------------------------------------------------------------------------------------------- */

static int merge_main(int argc, char **argv) {
  fv_error err;
  const char *out = NULL, *baseline = NULL, **inputs = NULL;
  int n = 0, json = 0, status = 1;
  fv_rob_set *set = calloc(1, sizeof *set);
  char(*notes)[FV_ROB_NOTE] = calloc(8, sizeof *notes);
  int n_notes = 0;
  fv_rob_baseline *b = calloc(1, sizeof *b);
  inputs = calloc(MAX_MERGE_INPUTS, sizeof *inputs);
  if (!set || !b || !inputs || !notes) {
    fv_fail(&err, "out of memory");
    goto fail;
  }
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--out") == 0 || strcmp(a, "--baseline") == 0) {
      if (!v || !*v) {
        fv_fail(&err, "%s needs a value", a);
        goto fail;
      }
      *(a[2] == 'o' ? &out : &baseline) = v;
      i++;
    } else if (strcmp(a, "--json") == 0) {
      json = 1;
    } else if (a[0] == '-' && a[1] != '\0') {
      fv_fail(&err, "unknown option '%s' (see fovea robustness --help)", a);
      goto fail;
    } else if (n < MAX_MERGE_INPUTS) {
      inputs[n++] = a;
    } else {
      fv_fail(&err, "more than %d inputs to merge", MAX_MERGE_INPUTS);
      goto fail;
    }
  }
  if (!out) {
    fv_fail(&err,
            "no output given: fovea robustness merge A.json B.json ... "
            "--out RESULTS.json");
    goto fail;
  }
  if (n == 0) {
    fv_fail(&err,
            "nothing to merge: give the RESULTS.json files (or their "
            ".cells folders) of the shards");
    goto fail;
  }
  fv_rob_plan plan = {0}, p;
  int have_plan = 0, shard_n = 0;
  int seen_k[FV_ROB_SLOTS + 1] = {0};
  char spec[FV_ROB_STR] = "", s[FV_ROB_STR];
  for (int i = 0; i < n; i++) {
    struct stat st;
    if (stat(inputs[i], &st) == 0 && S_ISDIR(st.st_mode)) {
      int loaded;
      if (fv_rob_store_load(inputs[i], set, &loaded, &err)) goto fail;
      continue;
    }
    char shard[32];
    if (fv_rob_load_results(inputs[i], set, &p, shard, sizeof shard, &err)) goto fail;
    if (have_plan && memcmp(&p, &plan, sizeof p) != 0) {
      fv_fail(&err,
              "%s: planned for other corruptions, severities or clean cell "
              "than %s; shards of one run share a plan",
              inputs[i], inputs[0]);
      goto fail;
    }
    plan = p;
    have_plan = 1;
    if (fv_rob_results_baseline(inputs[i], s, sizeof s, &err) ||
        fv_rob_results_notes(inputs[i], notes, 7, &n_notes, &err))
      goto fail;
    if (spec[0] && strcmp(spec, s) != 0 && !baseline) {
      fv_fail(&err,
              "%s is normalised by '%s' but an earlier input by '%s': choose "
              "one with --baseline",
              inputs[i], s, spec);
      goto fail;
    }
    snprintf(spec, sizeof spec, "%s", s);
    int k, nn;
    if (shard[0] && fv_rob_parse_shard(shard, &k, &nn, &err) == FV_OK) {
      if (shard_n && nn != shard_n) {
        fv_fail(&err, "%s is shard %s, but an earlier input is one of %d shards", inputs[i], shard, shard_n);
        goto fail;
      }
      shard_n = nn;
      if (seen_k[k]++)
        fprintf(stderr,
                "fovea: warning: shard %s given twice (identical cells are "
                "accepted once)\n",
                shard);
    }
  }
  if (!have_plan) {
    /* only cell folders: the plan is what they hold */
    plan.sev_lo = 5;
    plan.sev_hi = 1;
    plan.clean = set->have[0];
    for (int slot = 1; slot < FV_ROB_SLOTS; slot++) {
      if (!set->have[slot]) continue;
      int c, v;
      fv_rob_slot_cell(slot, &c, &v);
      plan.corruption[c] = 1;
      if (v < plan.sev_lo) plan.sev_lo = v;
      if (v > plan.sev_hi) plan.sev_hi = v;
    }
    if (plan.sev_lo > plan.sev_hi) plan.sev_lo = 1, plan.sev_hi = 5;
  }
  if (!set->have_params) {
    fv_fail(&err, "the inputs hold no cells");
    goto fail;
  }
  if (open_baseline(baseline ? baseline : spec[0] ? spec : "alexnet", b, &err)) goto fail;
  if (shard_n)
    for (int k = 1; k <= shard_n; k++)
      if (!seen_k[k])
        fprintf(stderr,
                "fovea: warning: shard %d/%d is missing: the merged results "
                "are partial\n",
                k, shard_n);
  fv_rob_info info = {.plan = &plan, .mode = set->params.corrupted_dataset[0] ? "dataset" : "generation"};
  for (int i = 0; i < n_notes; i++) info.notes[i] = notes[i];
  char csv[PATH_MAX], svg[PATH_MAX], title[2 * FV_ROB_STR + 64];
  sibling(out, ".csv", csv, sizeof csv);
  sibling(out, ".svg", svg, sizeof svg);
  const char *model = strrchr(set->params.model, '/') ? strrchr(set->params.model, '/') + 1 : set->params.model;
  snprintf(title, sizeof title, "fovea robustness: %s on %s", model,
           set->params.corrupted_dataset[0] ? set->params.corrupted_dataset : set->params.dataset);
  if (fv_rob_write_json(out, set, b, &info, &err) || fv_rob_write_csv(csv, set, b, &err) ||
      fv_rob_write_svg(svg, set, b, title, &err))
    goto fail;
  if (json)
    print_json_summary(set, b, out, csv, svg, 0, 0, 0);
  else
    print_table(set, b, out, csv, svg, NULL);
  status = 0;
  goto done;
fail:
  fv_cli_error(err.msg);
done:
  free(set);
  free(b);
  free(inputs);
  free(notes);
  return status;
}

int fv_cmd_robustness(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "merge") == 0) return merge_main(argc - 1, argv + 1);
  return run_main(argc, argv);
}
