/* cmd_eval.c: `fovea eval`: accuracy of a model on a labelled data set.
 *
 * Reads an IDX directory or an ImageFolder tree (vision/dataset.h), classifies every item with
 * fv_classifier in batches and reports top-1, top-5, per-class top-1, the confusion matrix (rows:
 * true class, columns: predicted) and throughput, as a table or one JSON object; optionally the
 * confusion matrix as a heat-map PNG. The predicted class is the first index of the largest logit
 * (what torch.argmax returns); top-5 counts ties in index order, as a stable sort would.
 * Any item that cannot be read or classified stops the evaluation: an accuracy over a silently
 * smaller set would be wrong. Non-goals: calibration, per-item output, sharding, resuming. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "vision/classifier.h"
#include "vision/dataset.h"
#include "vision/image.h"
#include "vision/labels.h"

/* A K×K confusion matrix is kept in memory; beyond this many classes it would not fit sensibly. */
#define MAX_EVAL_CLASSES 4096
/* The heat map's cells are 24×24 px, smaller for many classes so the picture stays <= this wide. */
#define PNG_MAX_SIDE 4096

typedef struct options {
  fv_cli_model_options m;
  const char *dataset, *split, *confusion_png;
  int limit;
} options;

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea eval --dataset PATH [--model M] [--split test|train] [--limit N] [--batch N]\n"
          "                  [--device D] [--fp16] [--json] [--confusion-png FILE]\n\n"
          "Measures a timm ViT's accuracy on a labelled data set:\n"
          "  - an IDX directory (MNIST / Fashion-MNIST: t10k-* and train-* images-idx3-ubyte and\n"
          "    labels-idx1-ubyte files, gzipped or not); --split picks t10k-* (test, default) or train-*;\n"
          "  - an ImageFolder tree (one sub-folder of images per class): folders are matched to the model's\n"
          "    label names when every folder name matches one (case, '_', '-', ' ', '/' ignored:\n"
          "    \"ankle_boot\" = \"Ankle boot\"), otherwise taken as classes 0, 1, ... in sorted order.\n\n"
          "  --dataset PATH        the data set folder\n"
          "  --model M             model folder or file (default: $FOVEA_MODEL, else the bundled model)\n"
          "  --split S             test (default) or train; IDX directories only\n"
          "  --limit N             evaluate the first N items only\n"
          "  --batch N             images per forward pass (default 32; lowered to fit the device)\n"
          "  --device D            device index from `fovea devices`, 'auto', or 'cpu' (default: $FOVEA_DEVICE)\n"
          "  --fp16                store weights and activations as fp16 (fp32 accumulation)\n"
          "  --json                one JSON object: images, top1, top5 (fractions), per_class, confusion,\n"
          "                        images_per_second, seconds, device, class_mapping, ...\n"
          "  --confusion-png FILE  write the confusion matrix as a heat map (rows: true class, columns:\n"
          "                        predicted; colour: fraction of the row, dark blue 0 to yellow 1)\n\n"
          "Images per second is the wall clock of the evaluation loop: decoding, preprocessing, inference\n"
          "and scoring; loading the model and opening the data set are not included.\n");
}

static fv_status parse(int argc, char **argv, options *o, fv_error *err) {
  memset(o, 0, sizeof *o);
  o->m.batch = 32;
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
    } else if (strcmp(a, "--confusion-png") == 0) {
      str = &o->confusion_png;
    } else if (strcmp(a, "--limit") == 0) {
      if (fv_cli_parse_int(a, v, 1, FV_DATASET_MAX_ITEMS, &o->limit, err)) return FV_ERR;
      i++;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fv_fail(err, "unknown option '%s' (see fovea eval --help)", a);
    } else {
      return fv_fail(err, "unexpected argument '%s': the data set is given with --dataset (see fovea eval --help)", a);
    }
    if (str) {
      if (!v || !*v) return fv_fail(err, "%s needs a value", a);
      *str = v;
      i++;
    }
  }
  if (!o->dataset) return fv_fail(err, "no data set given: --dataset PATH (see fovea eval --help)");
  if (o->split && strcmp(o->split, "test") != 0 && strcmp(o->split, "train") != 0)
    return fv_fail(err, "--split: unknown split '%s' (expected 'test' or 'train')", o->split);
  if (!o->m.model) o->m.model = fv_cli_default_model();
  return FV_OK;
}

/* Counts over the whole evaluation. */
typedef struct tally {
  int K;
  long images, top1, top5;
  long *confusion; /* K*K, [true][predicted] */
  long *per_class; /* K images per true class */
} tally;

/* Scores one item's logits against its label; fails on a non-finite logit, which would make any
 * ranking meaningless. */
static fv_status score(tally *t, const float *logits, int label, const char *item, fv_error *err) {
  int K = t->K, best = 0, rank = 0;
  for (int k = 0; k < K; k++) {
    if (!isfinite(logits[k])) return fv_fail(err, "%s: the model produced a non-finite logit for class %d", item, k);
    if (logits[k] > logits[best]) best = k;
  }
  float mine = logits[label];
  for (int k = 0; k < K; k++) rank += logits[k] > mine || (logits[k] == mine && k < label);
  t->images++;
  t->top1 += best == label;
  t->top5 += rank < 5;
  t->per_class[label]++;
  t->confusion[(size_t)label * (size_t)K + (size_t)best]++;
  return FV_OK;
}

static double fraction(long n, long d) { return d > 0 ? (double)n / (double)d : 0.0; }

static void print_json(const options *o, const fv_vit_config *cfg, const fv_dataset *ds, const char *device,
                       const tally *t, double seconds) {
  char buf[32];
  int K = t->K;
  printf("{\"model\": ");
  fv_json_string(stdout, o->m.model);
  printf(", \"dataset\": ");
  fv_json_string(stdout, o->dataset);
  printf(", \"format\": \"%s\", \"split\": ", fv_dataset_get_kind(ds) == FV_DATASET_IDX ? "idx" : "imagefolder");
  if (fv_dataset_get_kind(ds) == FV_DATASET_IDX)
    fv_json_string(stdout, o->split ? o->split : "test");
  else
    printf("null");
  printf(", \"device\": ");
  fv_json_string(stdout, device);
  printf(", \"fp16\": %s, \"class_mapping\": \"%s\"", o->m.fp16 ? "true" : "false",
         fv_dataset_mapping_name(fv_dataset_class_mapping(ds)));
  printf(", \"images\": %ld, \"top1\": %.10g, \"top5\": %.10g, \"top1_correct\": %ld, \"top5_correct\": %ld", t->images,
         fraction(t->top1, t->images), fraction(t->top5, t->images), t->top1, t->top5);
  printf(", \"seconds\": %.6g, \"images_per_second\": %.6g", seconds, seconds > 0 ? (double)t->images / seconds : 0.0);
  printf(", \"num_classes\": %d, \"per_class\": [", K);
  for (int k = 0; k < K; k++) {
    long right = t->confusion[(size_t)k * (size_t)K + (size_t)k];
    printf("%s{\"index\": %d, \"label\": ", k ? ", " : "", k);
    fv_json_string(stdout, fv_label_name(cfg, k, buf, sizeof buf));
    printf(", \"images\": %ld, \"top1\": ", t->per_class[k]);
    if (t->per_class[k] > 0)
      printf("%.10g}", fraction(right, t->per_class[k]));
    else
      printf("null}");
  }
  printf("], \"confusion\": [");
  for (int r = 0; r < K; r++) {
    printf("%s[", r ? ", " : "");
    for (int c = 0; c < K; c++) printf("%s%ld", c ? ", " : "", t->confusion[(size_t)r * (size_t)K + (size_t)c]);
    printf("]");
  }
  printf("]}\n");
}

static void print_text(const options *o, const fv_vit_config *cfg, const fv_dataset *ds, const char *device,
                       const tally *t, double seconds) {
  char buf[32];
  int K = t->K;
  if (fv_dataset_get_kind(ds) == FV_DATASET_IDX)
    printf("dataset   %s (IDX, %s split)\n", o->dataset, o->split ? o->split : "test");
  else
    printf("dataset   %s (ImageFolder, %d classes mapped %s)\n", o->dataset, fv_dataset_folder_count(ds),
           fv_dataset_mapping_name(fv_dataset_class_mapping(ds)));
  printf("model     %s (%d classes)\n", o->m.model, K);
  printf("device    %s%s\n", device, o->m.fp16 ? " (fp16 storage)" : "");
  printf("images    %ld\n", t->images);
  printf("top-1     %.2f%%  (%ld correct)\n", 100.0 * fraction(t->top1, t->images), t->top1);
  printf("top-5     %.2f%%  (%ld correct)\n", 100.0 * fraction(t->top5, t->images), t->top5);
  printf("speed     %.1f images/s  (%.3g s: decoding, preprocessing, inference; model load excluded)\n\n",
         seconds > 0 ? (double)t->images / seconds : 0.0, seconds);
  printf("%5s  %-24s %8s %8s\n", "class", "label", "images", "top-1");
  for (int k = 0; k < K; k++) {
    if (t->per_class[k] == 0 && K > 20) continue; /* long label lists: only classes present */
    long right = t->confusion[(size_t)k * (size_t)K + (size_t)k];
    printf("%5d  %-24.24s %8ld ", k, fv_label_name(cfg, k, buf, sizeof buf), t->per_class[k]);
    if (t->per_class[k] > 0)
      printf("%7.2f%%\n", 100.0 * fraction(right, t->per_class[k]));
    else
      printf("%8s\n", "-");
  }
  if (K > 20) {
    printf("\n(confusion matrix of %d classes: see --json or --confusion-png)\n", K);
    return;
  }
  printf("\nconfusion matrix (rows: true class, columns: predicted)\n%5s", "");
  for (int c = 0; c < K; c++) printf(" %6d", c);
  printf("\n");
  for (int r = 0; r < K; r++) {
    printf("%5d", r);
    for (int c = 0; c < K; c++) printf(" %6ld", t->confusion[(size_t)r * (size_t)K + (size_t)c]);
    printf("\n");
  }
}

/* A viridis-like colour scale: v in [0, 1] → RGB. */
static void colour(double v, uint8_t rgb[3]) {
  static const uint8_t stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  if (!(v > 0)) v = 0;
  if (v > 1) v = 1;
  double x = v * 4;
  int i = (int)x;
  if (i > 3) i = 3;
  double f = x - i;
  for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)lround(stops[i][c] + f * (stops[i + 1][c] - stops[i][c]));
}

/* The confusion matrix as a picture: cell (r, c) coloured by the fraction of true class r predicted
 * as c; rows without images light gray; one pixel of white between cells when they are big enough. */
static fv_status write_png(const char *path, const tally *t, fv_error *err) {
  int K = t->K, cell = 24;
  if (K * cell > PNG_MAX_SIDE) cell = PNG_MAX_SIDE / K > 0 ? PNG_MAX_SIDE / K : 1;
  int gap = cell >= 4;
  fv_image img = {.width = K * cell, .height = K * cell, .channels = 3};
  img.pixels = malloc((size_t)img.width * (size_t)img.height * 3);
  if (!img.pixels) return fv_fail(err, "%s: out of memory for a %dx%d heat map", path, img.width, img.height);
  memset(img.pixels, 255, (size_t)img.width * (size_t)img.height * 3);
  for (int r = 0; r < K; r++) {
    for (int c = 0; c < K; c++) {
      uint8_t rgb[3] = {220, 220, 220};
      if (t->per_class[r] > 0) colour(fraction(t->confusion[(size_t)r * (size_t)K + (size_t)c], t->per_class[r]), rgb);
      for (int y = r * cell; y < (r + 1) * cell - gap; y++)
        for (int x = c * cell; x < (c + 1) * cell - gap; x++)
          memcpy(img.pixels + ((size_t)y * img.width + x) * 3, rgb, 3);
    }
  }
  fv_status st = fv_image_save_png(path, &img, err);
  fv_image_free(&img);
  return st;
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int fv_cmd_eval(int argc, char **argv) {
  options o;
  fv_error err;
  fv_device *dev = NULL;
  fv_classifier cls = {0};
  fv_dataset *ds = NULL;
  tally t = {0};
  float *logits = NULL;
  int *slot_label = NULL, *slot_item = NULL;
  int status = 1;
  fv_progress bar = {0};

  if (parse(argc, argv, &o, &err) || fv_cli_open_device(o.m.device, &dev, &err)) goto fail;
  fv_classifier_options co = {.batch = o.m.batch, .fp16 = o.m.fp16};
  if (fv_classifier_open(o.m.model, dev, &co, &cls, &err)) goto fail;
  const fv_vit_config *cfg = &cls.vit.cfg;
  if (cls.num_classes > MAX_EVAL_CLASSES) {
    fv_fail(&err, "%s: %d classes; fovea eval keeps a confusion matrix of at most %d classes", o.m.model,
            cls.num_classes, MAX_EVAL_CLASSES);
    goto fail;
  }
  fv_dataset_options dopt = {.channels = cfg->in_chans,
                             .num_classes = cls.num_classes,
                             .label_names = cfg->label_names,
                             .n_labels = cfg->n_labels,
                             .limit = o.limit};
  if (fv_dataset_open(o.dataset, o.split, &dopt, &ds, &err)) goto fail;
  if (fv_dataset_get_kind(ds) == FV_DATASET_FOLDER)
    fprintf(stderr, "fovea: ImageFolder classes mapped %s: %s\n", fv_dataset_mapping_name(fv_dataset_class_mapping(ds)),
            fv_dataset_mapping_note(ds));

  size_t K = (size_t)cls.num_classes;
  t.K = cls.num_classes;
  t.confusion = calloc(K * K, sizeof *t.confusion);
  t.per_class = calloc(K, sizeof *t.per_class);
  logits = malloc((size_t)cls.batch * K * sizeof *logits);
  slot_label = malloc((size_t)cls.batch * sizeof *slot_label);
  slot_item = malloc((size_t)cls.batch * sizeof *slot_item);
  if (!t.confusion || !t.per_class || !logits || !slot_label || !slot_item) {
    fv_fail(&err, "out of memory for %zu classes", K);
    goto fail;
  }

  int n = fv_dataset_count(ds);
  char name[1200];
  fv_progress_start(&bar, n, "images");
  double start = now_seconds();
  for (int next = 0; next < n;) {
    int filled = 0;
    for (; next < n && filled < cls.batch; next++, filled++) {
      fv_image img = {0};
      fv_status st = fv_dataset_get(ds, next, &img, &slot_label[filled], &err);
      if (!st) st = fv_classifier_set_image(&cls, filled, &img, &err);
      fv_image_free(&img);
      if (st) {
        if (fv_dataset_get_kind(ds) == FV_DATASET_IDX)
          fv_fail_context(&err, "%s", fv_dataset_item_name(ds, next, name, sizeof name));
        goto fail;
      }
      slot_item[filled] = next;
    }
    if (fv_classifier_run(&cls, filled, logits, NULL, &err)) goto fail;
    for (int s = 0; s < filled; s++)
      if (score(&t, logits + (size_t)s * K, slot_label[s], fv_dataset_item_name(ds, slot_item[s], name, sizeof name),
                &err))
        goto fail;
    fv_progress_update(&bar, next);
  }
  double seconds = now_seconds() - start;
  fv_progress_finish(&bar);
  if (dev && fv_device_validation_errors(dev)) {
    fv_fail(&err, "the Vulkan validation layer reported %d message(s)", fv_device_validation_errors(dev));
    goto fail;
  }
  if (o.confusion_png && write_png(o.confusion_png, &t, &err)) goto fail;
  if (o.m.json)
    print_json(&o, cfg, ds, fv_cli_device_name(dev), &t, seconds);
  else
    print_text(&o, cfg, ds, fv_cli_device_name(dev), &t, seconds);
  status = 0;
  goto done;
fail:
  fv_progress_finish(&bar);
  fv_cli_error(err.msg);
done:
  fv_dataset_close(ds);
  fv_classifier_close(&cls);
  fv_device_close(dev);
  free(t.confusion);
  free(t.per_class);
  free(logits);
  free(slot_label);
  free(slot_item);
  return status;
}
