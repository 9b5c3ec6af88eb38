/* cmd_filter.c: `fovea filter`: label, select and corrupt the frames of a video with a ViT.
 *
 * Parses the options, opens the device, the classifier and (with --corrupt) a corruptor, and runs
 * video/filter.c's pipeline. Draws a progress line with an ETA (from the container's duration) when
 * stderr is a terminal, prints each decode error as a warning, and one summary line on stdout.
 * Exit status: 0 when the output was written (decode errors are warnings), 1 otherwise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "video/filter.h"
#include "vision/labels.h"

typedef struct options {
  fv_cli_model_options m;
  const char *input, *output, *labels;
  const char *select; /* comma-separated, resolved once the model's labels are known */
  const char *corrupt;
  int every, seed, top, lossless, crf;
  double min_prob;
} options;

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: fovea filter INPUT OUTPUT [--model M] [--labels FILE.jsonl] [--every N]\n"
      "                    [--select LABEL[,LABEL...]] [--min-prob P] [--corrupt NAME:SEVERITY[,...]]\n"
      "                    [--seed N] [--device D] [--batch N] [--fp16] [--lossless] [--crf N] [--top K] [--json]\n\n"
      "Runs a ViT over every frame of a video (any file FFmpeg reads) and writes the frames again,\n"
      "each with its input timestamp (variable frame rate is kept); audio is copied when the output\n"
      "container takes it. OUTPUT: .mp4 or .mkv (H.264, libx264), .webm (VP9), .mkv with --lossless\n"
      "(FFV1), or a PNG pattern with %%d (numbered by input frame index, with a timestamps .txt).\n\n"
      "  --model M         model folder or file (default: $FOVEA_MODEL, else the bundled model)\n"
      "  --labels FILE     one JSON object per classified frame: {\"frame\", \"pts_time\", \"top\":\n"
      "                    [{\"index\", \"label\", \"prob\"}], \"written\"}\n"
      "  --every N         classify and keep only every N-th frame (frames 0, N, 2N, ...; default 1)\n"
      "  --select L,...    write only frames whose top-1 label (name or class index) is listed\n"
      "  --min-prob P      write only frames whose top-1 probability is >= P (default 0)\n"
      "  --corrupt C:S,... apply ImageNet-C corruptions (name:severity 1..5, in order) before\n"
      "                    classification and write the corrupted frames; keyed by frame index\n"
      "  --seed N          corruption seed (default 0)\n"
      "  --device D        device index from `fovea devices`, 'auto', or 'cpu' (default: $FOVEA_DEVICE, auto)\n"
      "  --batch N         frames per forward pass (default 8; lowered to fit the device)\n"
      "  --fp16            store weights and activations as fp16 (fp32 accumulation)\n"
      "  --lossless        .mkv: FFV1 instead of H.264\n"
      "  --crf N           H.264/VP9 quality, lower is better (defaults 23 / 32)\n"
      "  --top K           labels per frame in --labels (default 5)\n"
      "  --json            the summary as one JSON object\n");
}

static int parse(int argc, char **argv, options *o, fv_error *err) {
  memset(o, 0, sizeof *o);
  o->m.batch = 8;
  o->every = 1;
  o->top = 5;
  o->crf = -1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int used;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if ((used = fv_cli_model_option(argc, argv, &i, &o->m, err)) != 0) {
      if (used < 0) return FV_ERR;
    } else if (strcmp(a, "--labels") == 0 || strcmp(a, "--select") == 0 || strcmp(a, "--corrupt") == 0) {
      if (!v || !*v) return fv_fail(err, "%s needs a value", a);
      *(a[2] == 'l' ? &o->labels : a[2] == 's' ? &o->select : &o->corrupt) = v;
      i++;
    } else if (strcmp(a, "--every") == 0) {
      if (fv_cli_parse_int(a, v, 1, 1 << 30, &o->every, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (fv_cli_parse_int(a, v, 0, 2147483647, &o->seed, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--top") == 0) {
      if (fv_cli_parse_int(a, v, 1, 1 << 20, &o->top, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--crf") == 0) {
      if (fv_cli_parse_int(a, v, 0, 63, &o->crf, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--min-prob") == 0) {
      char *end = NULL;
      o->min_prob = v ? strtod(v, &end) : NAN;
      if (!v || end == v || *end || !(o->min_prob >= 0 && o->min_prob <= 1))
        return fv_fail(err, "--min-prob: '%s' is not a probability in 0..1", v ? v : "");
      i++;
    } else if (strcmp(a, "--lossless") == 0) {
      o->lossless = 1;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fv_fail(err, "unknown option '%s' (see fovea filter --help)", a);
    } else if (!o->input) {
      o->input = a;
    } else if (!o->output) {
      o->output = a;
    } else {
      return fv_fail(err, "unexpected argument '%s': filter takes one INPUT and one OUTPUT", a);
    }
  }
  if (!o->input || !o->output)
    return fv_fail(err, "filter needs an INPUT and an OUTPUT video (see fovea filter --help)");
  if (!fv_video_output_supported(o->output))
    return fv_fail(err,
                   "%s: unsupported output; use .mp4 or .mkv (H.264), .webm (VP9), .mkv with --lossless (FFV1), "
                   "or a PNG pattern with %%d such as frames/%%05d.png",
                   o->output);
  if (!o->m.model) o->m.model = fv_cli_default_model();
  return FV_OK;
}

/* --corrupt gaussian_noise:3,fog:1 */
static fv_status parse_corrupt(const char *list, fv_filter_options *fo, fv_error *err) {
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char item[64];
    if (len == 0 || len >= sizeof item) return fv_fail(err, "--corrupt: bad item in '%s'", list);
    memcpy(item, p, len);
    item[len] = '\0';
    char *colon = strchr(item, ':');
    if (!colon) return fv_fail(err, "--corrupt: '%s' is not NAME:SEVERITY (e.g. gaussian_noise:3)", item);
    *colon = '\0';
    int c = fv_corruption_from_name(item);
    if (c < 0)
      return fv_fail(err, "--corrupt: unknown corruption '%s' (e.g. gaussian_noise, fog, jpeg_compression)", item);
    int s;
    if (fv_cli_parse_int("--corrupt severity", colon + 1, 1, 5, &s, err)) return FV_ERR;
    if (fo->n_corrupt == FV_FILTER_MAX_CORRUPT)
      return fv_fail(err, "--corrupt: at most %d corruptions", FV_FILTER_MAX_CORRUPT);
    fo->corrupt[fo->n_corrupt].corruption = c;
    fo->corrupt[fo->n_corrupt].severity = s;
    fo->n_corrupt++;
    p += len;
    if (*p == ',') p++;
  }
  return FV_OK;
}

/* --select Trouser,Bag or 1,8: names from the model's labels, or class indices. */
static fv_status parse_select(const char *list, const fv_vit_config *cfg, fv_filter_options *fo, fv_error *err) {
  const char *p = list;
  char buf[32];
  while (*p) {
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    int found = -1;
    for (int k = 0; k < cfg->num_classes && found < 0; k++) {
      const char *name = fv_label_name(cfg, k, buf, sizeof buf);
      if (strlen(name) == len && strncmp(name, p, len) == 0) found = k;
    }
    if (found < 0 && len > 0 && len < 10 && strspn(p, "0123456789") >= len) {
      int k = atoi(p);
      if (k < cfg->num_classes) found = k;
    }
    if (found < 0)
      return fv_fail(err, "--select: '%.*s' is neither a label of the model (e.g. '%s') nor a class index 0..%d",
                     (int)len, p, fv_label_name(cfg, 0, buf, sizeof buf), cfg->num_classes - 1);
    if (fo->n_select == FV_FILTER_MAX_SELECT) return fv_fail(err, "--select: at most %d labels", FV_FILTER_MAX_SELECT);
    fo->select[fo->n_select++] = found;
    p += len;
    if (*p == ',') p++;
  }
  if (fo->n_select == 0) return fv_fail(err, "--select: no labels in '%s'", list);
  return FV_OK;
}

typedef struct progress {
  int enabled, drawn;
  double start, last;
} progress;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void progress_clear(progress *p) {
  if (p->drawn) fprintf(stderr, "\r\033[K");
  p->drawn = 0;
}

static void on_progress(void *user, const fv_filter_stats *s) {
  progress *p = user;
  double t = now_s();
  if (!p->enabled || t - p->last < 0.2) return;
  p->last = t;
  double elapsed = t - p->start, fps = elapsed > 0 ? (double)s->read / elapsed : 0;
  if (s->duration > 0) {
    double f = (s->pts_time - s->start_time) / s->duration;
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    int filled = (int)(f * 30);
    fprintf(stderr, "\r[%.*s%*s] %.1f/%.1f s, %ld frames, %.1f fps", filled,
            "==============================", 30 - filled, "", s->pts_time - s->start_time, s->duration, s->read, fps);
    if (f > 0.001) {
      long eta = (long)(elapsed * (1 - f) / f + 0.5);
      fprintf(stderr, ", ETA %ld:%02ld", eta / 60, eta % 60);
    }
  } else {
    fprintf(stderr, "\r%ld frames, %.1f fps", s->read, fps);
  }
  fprintf(stderr, "\033[K");
  fflush(stderr);
  p->drawn = 1;
}

static void on_warning(void *user, const char *msg) {
  progress_clear(user);
  fprintf(stderr, "fovea: warning: %s\n", msg);
}

static double share(double part, const fv_filter_stats *s) {
  double total = s->decode_s + s->corrupt_s + s->classify_s + s->encode_s;
  return total > 0 ? 100.0 * part / total : 0.0;
}

static void summary(const options *o, const fv_filter_stats *s, const fv_device *dev) {
  double fps = s->seconds > 0 ? (double)s->read / s->seconds : 0;
  long skipped = s->read - s->classified;
  if (o->m.json) {
    printf("{\"input\": ");
    fv_json_string(stdout, o->input);
    printf(", \"output\": ");
    fv_json_string(stdout, o->output);
    printf(", \"device\": ");
    fv_json_string(stdout, fv_cli_device_name(dev));
    printf(
        ", \"frames_read\": %ld, \"frames_written\": %ld, \"undecodable\": %ld, \"not_selected\": %ld, "
        "\"skipped_by_every\": %ld, \"seconds\": %.6f, \"frames_per_second\": %.3f, \"stage_seconds\": {\"decode\": "
        "%.6f, \"corrupt\": %.6f, \"classify\": %.6f, \"encode\": %.6f}, \"skipped_streams\": %d}\n",
        s->read, s->written, s->undecodable, s->unselected, skipped, s->seconds, fps, s->decode_s, s->corrupt_s,
        s->classify_s, s->encode_s, s->skipped_streams);
  } else {
    printf("%s: %ld frames read, %ld written, %ld dropped as undecodable", o->input, s->read, s->written,
           s->undecodable);
    if (s->unselected) printf(", %ld not selected", s->unselected);
    if (skipped) printf(", %ld skipped by --every", skipped);
    printf("; %.1f frames/s (%.2f s on %s); busy time: decode %.2f s (%.0f%%), ", fps, s->seconds,
           fv_cli_device_name(dev), s->decode_s, share(s->decode_s, s));
    if (s->corrupt_s > 0) printf("corrupt %.2f s (%.0f%%), ", s->corrupt_s, share(s->corrupt_s, s));
    printf("classify %.2f s (%.0f%%), encode %.2f s (%.0f%%)\n", s->classify_s, share(s->classify_s, s), s->encode_s,
           share(s->encode_s, s));
  }
  fflush(stdout);
}

int fv_cmd_filter(int argc, char **argv) {
  options o;
  fv_error err;
  fv_device *dev = NULL;
  fv_classifier cls = {0};
  fv_corruptor *cr = NULL;
  int status = 1;
  fv_filter_options fo = {0};
  if (parse(argc, argv, &o, &err) || (o.corrupt && parse_corrupt(o.corrupt, &fo, &err)) ||
      fv_cli_open_device(o.m.device, &dev, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  fv_classifier_options co = {.batch = o.m.batch, .fp16 = o.m.fp16};
  if (fv_classifier_open(o.m.model, dev, &co, &cls, &err) ||
      (o.select && parse_select(o.select, &cls.vit.cfg, &fo, &err))) {
    fv_cli_error(err.msg);
    goto done;
  }
  if (fo.n_corrupt > 0) {
    fv_corrupt_options cop = {.table = FV_TABLE_IMAGENET, .seed = (uint32_t)o.seed, .batch = cls.batch};
    if (fv_corruptor_open(dev, &cop, &cr, &err)) {
      fv_cli_error(err.msg);
      goto done;
    }
  }
  progress bar = {.enabled = isatty(STDERR_FILENO), .start = now_s()};
  fo.input = o.input;
  fo.output = o.output;
  fo.labels = o.labels;
  fo.every = o.every;
  fo.min_prob = (float)o.min_prob;
  fo.top = o.top;
  fo.writer.lossless = o.lossless;
  fo.writer.crf = o.crf;
  fo.on_warning = on_warning;
  fo.on_progress = on_progress;
  fo.user = &bar;
  fv_filter_stats stats;
  fv_status st = fv_filter_run(&cls, cr, &fo, &stats, &err);
  progress_clear(&bar);
  if (st) {
    fv_cli_error(err.msg);
    goto done;
  }
  if (dev && fv_device_validation_errors(dev)) {
    fprintf(stderr, "fovea: error: the Vulkan validation layer reported %d message(s)\n",
            fv_device_validation_errors(dev));
    goto done;
  }
  if (stats.skipped_streams)
    fprintf(stderr, "fovea: note: %d audio stream(s) not copied: %s cannot hold their codec\n", stats.skipped_streams,
            o.output);
  summary(&o, &stats, dev);
  status = 0;
done:
  fv_corruptor_close(cr);
  fv_classifier_close(&cls);
  fv_device_close(dev);
  return status;
}
