/* cmd_classify.c: `fovea classify`: top-K labels for images with a timm ViT/DeiT model.
 *
 * One graph is built and recorded for the batch size, then replayed per batch; the last
 * batch is padded with zeros rather than recorded again (vision/classifier.c). Each image is
 * decoded on the host and preprocessed on the device (timm's eval transform).
 * An image that cannot be read is reported on stderr, skipped, and makes the exit status 1. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "engine/exec.h"
#include "vision/classifier.h"
#include "vision/image.h"
#include "vision/labels.h"

typedef struct options {
  fv_cli_model_options m;
  int top, logits, profile;
  char **inputs;
  int n_inputs;
} options;

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea classify [--model DIR|FILE.safetensors] [--top K] [--batch N] [--device D] [--fp16]\n"
          "                      [--json] [--logits] [--profile] IMAGE|DIR ...\n\n"
          "Classifies images (PNG, JPEG, WebP, BMP, TIFF; a directory means its images) with a timm\n"
          "Vision Transformer: a hub folder with config.json and model.safetensors, or a .safetensors file.\n\n"
          "  --model M     model folder or file (default: $FOVEA_MODEL, else the bundled model)\n"
          "  --top K       labels per image (default 5)\n"
          "  --batch N     images per forward pass (default 8; lowered to fit the device)\n"
          "  --device D    device index from `fovea devices`, 'auto', or 'cpu' (default: $FOVEA_DEVICE, auto)\n"
          "  --fp16        store weights and activations as fp16 (fp32 accumulation)\n"
          "  --json        one JSON object per image: {\"file\", \"top\": [{\"index\", \"label\", \"prob\"}]}\n"
          "  --logits      with --json, add \"logits\": all classes at full precision\n"
          "  --profile     print per-op GPU time (timestamp queries) on stderr\n");
}

static int parse(int argc, char **argv, options *o, fv_error *err) {
  memset(o, 0, sizeof *o);
  o->top = 5;
  o->m.batch = 8;
  o->inputs = calloc((size_t)argc, sizeof *o->inputs);
  if (!o->inputs) return fv_fail(err, "out of memory");
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int used;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if ((used = fv_cli_model_option(argc, argv, &i, &o->m, err)) != 0) {
      if (used < 0) return FV_ERR;
    } else if (strcmp(a, "--top") == 0) {
      if (fv_cli_parse_int(a, v, 1, 1 << 20, &o->top, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--logits") == 0) {
      o->logits = 1;
    } else if (strcmp(a, "--profile") == 0) {
      o->profile = 1;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fv_fail(err, "unknown option '%s' (see fovea classify --help)", a);
    } else {
      o->inputs[o->n_inputs++] = argv[i];
    }
  }
  if (o->n_inputs == 0) return fv_fail(err, "no images given (see fovea classify --help)");
  if (o->logits && !o->m.json) return fv_fail(err, "--logits needs --json");
  if (!o->m.model) o->m.model = fv_cli_default_model();
  return FV_OK;
}

static void report(const options *o, const fv_vit_config *cfg, const char *file, const float *logits,
                   const float *probs, fv_ranked *scratch) {
  int K = cfg->num_classes, top = o->top < K ? o->top : K;
  fv_rank_classes(probs, K, scratch);
  char buf[32];
  if (o->m.json) {
    printf("{\"file\": ");
    fv_json_string(stdout, file);
    printf(", \"top\": [");
    for (int k = 0; k < top; k++) {
      printf("%s{\"index\": %d, \"label\": ", k ? ", " : "", scratch[k].index);
      fv_json_string(stdout, fv_label_name(cfg, scratch[k].index, buf, sizeof buf));
      printf(", \"prob\": %.6g}", scratch[k].prob);
    }
    printf("]");
    if (o->logits) {
      printf(", \"logits\": [");
      for (int k = 0; k < K; k++) printf("%s%.9g", k ? ", " : "", logits[k]);
      printf("]");
    }
    printf("}\n");
  } else {
    printf("%s\n", file);
    for (int k = 0; k < top; k++)
      printf("  %6.2f%%  %s\n", 100.0 * scratch[k].prob, fv_label_name(cfg, scratch[k].index, buf, sizeof buf));
  }
  fflush(stdout);
}

/* Accumulates per-(op, kernel) times over batches for --profile. */
typedef struct profile_sum {
  fv_profile_entry e[64];
  int n, runs;
} profile_sum;

static void profile_add(profile_sum *sum, fv_exec *ex) {
  fv_profile_entry now[64];
  int n = fv_exec_profile(ex, now, 64);
  for (int i = 0; i < n; i++) {
    int k = 0;
    while (k < sum->n && !(strcmp(sum->e[k].op, now[i].op) == 0 && strcmp(sum->e[k].kernel, now[i].kernel) == 0)) k++;
    if (k == sum->n) {
      if (sum->n == 64) continue;
      sum->e[sum->n++] = (fv_profile_entry){.op = now[i].op, .kernel = now[i].kernel};
    }
    sum->e[k].ms += now[i].ms;
    sum->e[k].nodes += now[i].nodes;
  }
  sum->runs++;
}

static int by_ms_desc(const void *a, const void *b) {
  const fv_profile_entry *x = a, *y = b;
  return x->ms < y->ms ? 1 : x->ms > y->ms ? -1 : 0;
}

static void profile_print(profile_sum *sum, const fv_device *dev) {
  if (!dev) {
    fprintf(stderr, "fovea: --profile measures GPU time; nothing to report with --device cpu\n");
    return;
  }
  if (sum->n == 0) {
    fprintf(stderr, "fovea: --profile: device %s has no compute timestamps\n", fv_cli_device_name(dev));
    return;
  }
  double total = 0;
  for (int i = 0; i < sum->n; i++) total += sum->e[i].ms;
  qsort(sum->e, (size_t)sum->n, sizeof sum->e[0], by_ms_desc);
  fprintf(stderr, "profile: %d batch run(s) on %s, GPU time from timestamp queries\n", sum->runs,
          fv_cli_device_name(dev));
  fprintf(stderr, "  %-16s %-22s %7s %11s %7s\n", "op", "kernel", "nodes", "total ms", "share");
  for (int i = 0; i < sum->n; i++)
    fprintf(stderr, "  %-16s %-22s %7d %11.3f %6.1f%%\n", sum->e[i].op, sum->e[i].kernel, sum->e[i].nodes, sum->e[i].ms,
            total > 0 ? 100.0 * sum->e[i].ms / total : 0.0);
  fprintf(stderr, "  %-16s %-22s %7s %11.3f\n", "total", "", "", total);
}

int fv_cmd_classify(int argc, char **argv) {
  options o;
  fv_error err;
  fv_device *dev = NULL;
  fv_classifier cls = {0};
  char **files = NULL;
  int n_files = 0, status = 1, failures = 0;
  float *logits = NULL, *probs = NULL;
  fv_ranked *scratch = NULL;
  int *slot_file = NULL;
  profile_sum prof = {0};

  if (parse(argc, argv, &o, &err) || fv_cli_collect_images(o.inputs, o.n_inputs, &files, &n_files, &err) ||
      fv_cli_open_device(o.m.device, &dev, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  fv_classifier_options co = {
      .batch = o.m.batch < n_files ? o.m.batch : n_files, .fp16 = o.m.fp16, .profile = o.profile};
  if (fv_classifier_open(o.m.model, dev, &co, &cls, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  const fv_vit_config *cfg = &cls.vit.cfg;
  size_t K = (size_t)cls.num_classes;
  logits = malloc((size_t)cls.batch * K * sizeof *logits);
  probs = malloc((size_t)cls.batch * K * sizeof *probs);
  scratch = malloc(K * sizeof *scratch);
  slot_file = malloc((size_t)cls.batch * sizeof *slot_file);
  if (!logits || !probs || !scratch || !slot_file) {
    fv_cli_error("out of memory");
    goto done;
  }
  fv_progress bar;
  fv_progress_start(&bar, n_files, "images");
  int next = 0;
  while (next < n_files) {
    int filled = 0;
    for (; next < n_files && filled < cls.batch; next++) {
      fv_image img = {0};
      fv_status st = fv_image_load(files[next], cfg->in_chans, &img, &err);
      if (!st) st = fv_classifier_set_image(&cls, filled, &img, &err);
      fv_image_free(&img);
      if (st) {
        fv_progress_finish(&bar);
        fprintf(stderr, "fovea: error: %s\n", err.msg);
        failures++;
        continue;
      }
      slot_file[filled++] = next;
    }
    if (filled == 0) break;
    if (fv_classifier_run(&cls, filled, logits, probs, &err)) {
      fv_progress_finish(&bar);
      fv_cli_error(err.msg);
      goto done;
    }
    if (o.profile) profile_add(&prof, cls.ex);
    fv_progress_finish(&bar);
    for (int s = 0; s < filled; s++) report(&o, cfg, files[slot_file[s]], logits + s * K, probs + s * K, scratch);
    fv_progress_update(&bar, next);
  }
  fv_progress_finish(&bar);
  if (o.profile) profile_print(&prof, dev);
  if (dev && fv_device_validation_errors(dev)) {
    fprintf(stderr, "fovea: error: the Vulkan validation layer reported %d message(s)\n",
            fv_device_validation_errors(dev));
    goto done;
  }
  status = failures ? 1 : 0;
  if (failures) fprintf(stderr, "fovea: %d of %d image(s) could not be classified\n", failures, n_files);
done:
  fv_classifier_close(&cls);
  fv_device_close(dev);
  fv_image_list_free(files, n_files);
  free(o.inputs);
  free(logits);
  free(probs);
  free(scratch);
  free(slot_file);
  return status;
}
