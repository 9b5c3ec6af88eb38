/* cmd_corrupt.c: `fovea corrupt`: writes ImageNet-C style corrupted copies of images,
 * OUT/<corruption>/<severity>/<stem>.png (or .jpg at quality 85, as the released ImageNet-C
 * stores them), and OUT/manifest.json recording the seed, table, frost source, device and,
 * per output, the image key and source file. `--bench` times the corruptions instead of
 * writing anything (tests/bench/corrupt_bench.sh).
 *
 * Images are read in chunks; each chunk goes through every (corruption, severity) before the
 * next is read, so every recorded graph serves many images (vision/corrupt.c keeps a few).
 * Images within a chunk are grouped by size for batching. An input whose pixels are all grey
 * (R = G = B, e.g. a gray PNG) follows the gray rule of vision/corrupt.h and is written gray.
 * The corruption itself lives in vision/corrupt.c; nothing here changes pixels except the
 * optional --imagenet-preprocess (Resize 256 bilinear + CenterCrop 224, spec 1.1). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vision/corrupt.h"
#include "vision/corrupt_frost.h"
#include "vision/image.h"
#include "vision/jpeg.h"
#include "vision/preprocess.h"

typedef struct options {
  int corruption[FV_CORRUPTION_COUNT], n_corruptions;
  int sev_lo, sev_hi;
  uint32_t seed, frost_seed;
  fv_corrupt_table table;
  fv_corrupt_variant variant;
  int jpeg85, preprocess, json, bench, batch;
  const char *frost_dir, *device, *out;
  char **inputs;
  int n_inputs;
} options;

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea corrupt --corruption NAME[,NAME...]|all|main --severity S|A-B|all --out DIR\n"
          "                     [--seed N] [--table imagenet|cifar10|tiny] [--format png|jpeg85]\n"
          "                     [--variant imagecorruptions|hendrycks] [--frost-dir DIR] [--frost-seed N] [--device D] "
          "[--batch N]\n"
          "                     [--imagenet-preprocess] [--json] [--bench] IMAGE|DIR ...\n\n"
          "Writes DIR/<corruption>/<severity>/<stem>.png for every image (stem = file name without\n"
          "extension) and DIR/manifest.json. Corruptions follow the imagecorruptions package\n"
          "(methods/corruptions.md), seeded by a counter-based generator: the same --seed gives the\n"
          "same bytes on every device and batch size. An image's key is a hash of its file name.\n"
          "Inputs whose pixels are all grey are corrupted as RGB and written gray (PIL 'L' weights).\n\n"
          "  --corruption   names, comma-separated; 'all' = all 19, 'main' = the 15 of mCE:\n"
          "                 ");
  for (int c = 0; c < FV_CORRUPTION_COUNT; c++)
    fprintf(out, "%s%s", fv_corruption_name(c),
            c + 1 < FV_CORRUPTION_COUNT ? (c % 5 == 4 ? ",\n                 " : ", ") : "\n");
  fprintf(out,
          "  --severity     one level 1..5, a range A-B, or 'all'\n"
          "  --seed N       random seed (default 0)\n"
          "  --table T      parameter table: imagenet (224 px, default), cifar10 (32 px), tiny (64 px);\n"
          "                 parameters are never rescaled to the image size (a note says so)\n"
          "  --variant V    imagecorruptions (default) or hendrycks: the original ImageNet-C script's\n"
          "                 elastic_transform and frost (no texture rescale) on the imagenet table;\n"
          "                 the other 17 corruptions, and the cifar10/tiny tables, are the same in both\n"
          "  --format F     png (default) or jpeg85: JPEG quality 85 with optimised Huffman tables,\n"
          "                 as the released ImageNet-C stores its images\n"
          "  --frost-dir D  frost1.png ... frost5.jpg of the original repository (default: procedural\n"
          "                 textures, whose frost numbers are not comparable with published ones)\n"
          "  --frost-seed N seed of the procedural frost textures (default 0)\n"
          "  --device D     device index, 'auto' or 'cpu' (default: $FOVEA_DEVICE, auto)\n"
          "  --batch N      images per graph run (default 16)\n"
          "  --imagenet-preprocess  Resize(256) bilinear + CenterCrop(224) first, as ImageNet-C was made\n"
          "  --json         print a JSON summary on stdout\n"
          "  --bench        time every (corruption, severity) on the inputs and write nothing\n");
}

static fv_status parse_corruptions(const char *v, options *o, fv_error *err) {
  if (!v || !*v) return fv_fail(err, "--corruption needs a name, a comma-separated list, 'all' or 'main'");
  o->n_corruptions = 0;
  if (strcmp(v, "all") == 0 || strcmp(v, "main") == 0) {
    int n = strcmp(v, "all") == 0 ? FV_CORRUPTION_COUNT : FV_MAIN_CORRUPTIONS;
    for (int c = 0; c < n; c++) o->corruption[o->n_corruptions++] = c;
    return FV_OK;
  }
  char buf[1024];
  snprintf(buf, sizeof buf, "%s", v);
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int c = fv_corruption_from_name(tok);
    if (c < 0)
      return fv_fail(err, "--corruption: unknown corruption '%s' (see fovea corrupt --help for the 19 names)", tok);
    int dup = 0;
    for (int k = 0; k < o->n_corruptions; k++) dup |= o->corruption[k] == c;
    if (!dup) o->corruption[o->n_corruptions++] = c;
  }
  if (o->n_corruptions == 0) return fv_fail(err, "--corruption: no corruption named in '%s'", v);
  return FV_OK;
}

static fv_status parse_severity(const char *v, options *o, fv_error *err) {
  if (!v) return fv_fail(err, "--severity needs a level 1..5, a range A-B or 'all'");
  if (strcmp(v, "all") == 0) {
    o->sev_lo = 1, o->sev_hi = 5;
    return FV_OK;
  }
  int a, b;
  char tail;
  if (sscanf(v, "%d-%d%c", &a, &b, &tail) == 2 || (sscanf(v, "%d%c", &a, &tail) == 1 && (b = a, 1))) {
    if (a >= 1 && b <= 5 && a <= b) {
      o->sev_lo = a, o->sev_hi = b;
      return FV_OK;
    }
  }
  return fv_fail(err, "--severity: '%s' is not a level 1..5, a range A-B within 1..5, or 'all'", v);
}

static fv_status parse_u32(const char *opt, const char *v, uint32_t *out, fv_error *err) {
  if (!v) return fv_fail(err, "%s needs a value", opt);
  char *end;
  errno = 0;
  unsigned long long x = strtoull(v, &end, 10);
  if (end == v || *end || errno || x > 0xFFFFFFFFull || v[0] == '-')
    return fv_fail(err, "%s: '%s' is not an integer in 0..4294967295", opt, v);
  *out = (uint32_t)x;
  return FV_OK;
}

static int parse(int argc, char **argv, options *o, fv_error *err) {
  memset(o, 0, sizeof *o);
  o->batch = 16;
  o->inputs = calloc((size_t)argc, sizeof *o->inputs);
  if (!o->inputs) return fv_fail(err, "out of memory");
  int have_sev = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      exit(0);
    } else if (strcmp(a, "--corruption") == 0) {
      if (parse_corruptions(v, o, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--severity") == 0) {
      if (parse_severity(v, o, err)) return FV_ERR;
      have_sev = 1;
      i++;
    } else if (strcmp(a, "--seed") == 0) {
      if (parse_u32(a, v, &o->seed, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--frost-seed") == 0) {
      if (parse_u32(a, v, &o->frost_seed, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--table") == 0) {
      int t = fv_corrupt_table_from_name(v);
      if (t < 0) return fv_fail(err, "--table: '%s' is not imagenet, cifar10 or tiny", v ? v : "");
      o->table = (fv_corrupt_table)t;
      i++;
    } else if (strcmp(a, "--variant") == 0) {
      int t = fv_corrupt_variant_from_name(v);
      if (t < 0) return fv_fail(err, "--variant: '%s' is not imagecorruptions or hendrycks", v ? v : "");
      o->variant = (fv_corrupt_variant)t;
      i++;
    } else if (strcmp(a, "--format") == 0) {
      if (v && strcmp(v, "png") == 0)
        o->jpeg85 = 0;
      else if (v && strcmp(v, "jpeg85") == 0)
        o->jpeg85 = 1;
      else
        return fv_fail(err, "--format: '%s' is not png or jpeg85", v ? v : "");
      i++;
    } else if (strcmp(a, "--frost-dir") == 0) {
      if (!v || !*v) return fv_fail(err, "--frost-dir needs a directory");
      o->frost_dir = v;
      i++;
    } else if (strcmp(a, "--device") == 0) {
      if (!v || !*v) return fv_fail(err, "--device needs a device index, 'auto' or 'cpu'");
      o->device = v;
      i++;
    } else if (strcmp(a, "--batch") == 0) {
      if (fv_cli_parse_int(a, v, 1, 4096, &o->batch, err)) return FV_ERR;
      i++;
    } else if (strcmp(a, "--out") == 0) {
      if (!v || !*v) return fv_fail(err, "--out needs a directory");
      o->out = v;
      i++;
    } else if (strcmp(a, "--imagenet-preprocess") == 0) {
      o->preprocess = 1;
    } else if (strcmp(a, "--json") == 0) {
      o->json = 1;
    } else if (strcmp(a, "--bench") == 0) {
      o->bench = 1;
    } else if (a[0] == '-' && a[1] != '\0') {
      return fv_fail(err, "unknown option '%s' (see fovea corrupt --help)", a);
    } else {
      o->inputs[o->n_inputs++] = argv[i];
    }
  }
  if (o->n_corruptions == 0) return fv_fail(err, "--corruption is required (see fovea corrupt --help)");
  if (!have_sev) return fv_fail(err, "--severity is required (see fovea corrupt --help)");
  if (!o->out && !o->bench) return fv_fail(err, "--out is required (see fovea corrupt --help)");
  if (o->n_inputs == 0) return fv_fail(err, "no images given (see fovea corrupt --help)");
  return FV_OK;
}

/* Loads an image as RGB, and makes it gray when all its pixels are grey (the gray rule). */
static fv_status load(const options *o, fv_preprocessor **pp, fv_device *dev, const char *path, fv_image *img,
                      fv_error *err) {
  if (fv_image_load(path, 3, img, err)) return FV_ERR;
  if (o->preprocess) {
    if (!*pp) {
      fv_preprocess_params p = {.height = 224,
                                .width = 224,
                                .interp = FV_INTERP_BILINEAR,
                                .crop_pct = 0.875f, /* floor(224 / 0.875) = 256 */
                                .crop_mode = FV_CROP_CENTER,
                                .mean = {0, 0, 0},
                                .std = {1.0f / 255, 1.0f / 255, 1.0f / 255}};
      if (fv_preprocessor_new(dev, &p, pp, err)) return FV_ERR;
    }
    float *chw = malloc(sizeof(float) * 3 * 224 * 224);
    uint8_t *hwc = malloc(3 * 224 * 224);
    if (!chw || !hwc || fv_preprocessor_run(*pp, img, chw, err)) {
      free(chw);
      free(hwc);
      fv_image_free(img);
      return chw && hwc ? fv_fail_context(err, "%s", path) : fv_fail(err, "out of memory");
    }
    /* The graph yields v / 255 / (1 / 255) = the 8-bit value up to rounding. */
    for (int c = 0; c < 3; c++)
      for (int i = 0; i < 224 * 224; i++) {
        long q = lrintf(chw[c * 224 * 224 + i]);
        hwc[i * 3 + c] = (uint8_t)(q < 0 ? 0 : q > 255 ? 255 : q);
      }
    free(chw);
    fv_image_free(img);
    *img = (fv_image){224, 224, 3, hwc};
  }
  size_t hw = (size_t)img->width * img->height;
  int grey = 1;
  for (size_t i = 0; i < hw && grey; i++)
    grey = img->pixels[3 * i] == img->pixels[3 * i + 1] && img->pixels[3 * i] == img->pixels[3 * i + 2];
  if (grey) {
    for (size_t i = 0; i < hw; i++) img->pixels[i] = img->pixels[3 * i];
    img->channels = 1;
  }
  return FV_OK;
}

typedef struct manifest_entry {
  int image, corruption, severity;
} manifest_entry;

static fv_status write_manifest(const options *o, const char *device, const char *frost, char **files, char **stems,
                                const uint32_t *keys, int n_files, const int *done, long empty_spatter, double seconds,
                                fv_error *err) {
  char path[4096], tmp[4200];
  snprintf(path, sizeof path, "%s/manifest.json", o->out);
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  FILE *f = fopen(tmp, "w");
  if (!f) return fv_fail(err, "cannot write %s: %s", tmp, strerror(errno));
  const char *ext = o->jpeg85 ? "jpg" : "png";
  fprintf(f, "{\n  \"generator\": \"fovea corrupt\",\n  \"reference\": \"%s\",\n",
          o->variant == FV_VARIANT_HENDRYCKS
              ? "imagecorruptions 1.1.2 semantics; elastic_transform and frost of the original ImageNet-C script"
              : "imagecorruptions 1.1.2 semantics");
  fprintf(f, "  \"seed\": %u,\n  \"table\": \"%s\",\n  \"variant\": \"%s\",\n  \"frost\": ", (unsigned)o->seed,
          fv_corrupt_table_name(o->table), fv_corrupt_variant_name(o->variant));
  fv_json_string(f, frost);
  fprintf(f, ",\n  \"device\": ");
  fv_json_string(f, device);
  fprintf(f, ",\n  \"format\": \"%s\",\n  \"imagenet_preprocess\": %s,\n", o->jpeg85 ? "jpeg85" : "png",
          o->preprocess ? "true" : "false");
  fprintf(f, "  \"empty_spatter\": %ld,\n  \"seconds\": %.3f,\n  \"corruptions\": [", empty_spatter, seconds);
  for (int k = 0; k < o->n_corruptions; k++)
    fprintf(f, "%s\"%s\"", k ? ", " : "", fv_corruption_name(o->corruption[k]));
  fprintf(f, "],\n  \"severities\": [");
  for (int s = o->sev_lo; s <= o->sev_hi; s++) fprintf(f, "%s%d", s > o->sev_lo ? ", " : "", s);
  fprintf(f, "],\n  \"outputs\": [");
  int first = 1;
  for (int k = 0; k < o->n_corruptions; k++)
    for (int s = o->sev_lo; s <= o->sev_hi; s++)
      for (int i = 0; i < n_files; i++) {
        if (!done[i]) continue;
        char rel[4096];
        snprintf(rel, sizeof rel, "%s/%d/%s.%s", fv_corruption_name(o->corruption[k]), s, stems[i], ext);
        fprintf(f, "%s\n    {\"file\": ", first ? "" : ",");
        fv_json_string(f, rel);
        fprintf(f, ", \"corruption\": \"%s\", \"severity\": %d, \"key\": %u, \"source\": ",
                fv_corruption_name(o->corruption[k]), s, (unsigned)keys[i]);
        fv_json_string(f, files[i]);
        fprintf(f, "}");
        first = 0;
      }
  fprintf(f, "\n  ]\n}\n");
  int bad = ferror(f);
  if (fclose(f) || bad) {
    unlink(tmp);
    return fv_fail(err, "cannot write %s", tmp);
  }
  if (rename(tmp, path)) {
    unlink(tmp);
    return fv_fail(err, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  }
  return FV_OK;
}

static fv_status save(const options *o, int c, int s, const char *stem, const fv_image *img, fv_error *err) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s/%d/%s.%s", o->out, fv_corruption_name(c), s, stem, o->jpeg85 ? "jpg" : "png");
  return o->jpeg85 ? fv_jpeg_save(path, img, 85, 1, err) : fv_image_save_png(path, img, err);
}

/* Indices of a chunk sorted so that images of one size and channel count are adjacent. */
static const fv_image *g_sort_images;
static int by_size(const void *a, const void *b) {
  const fv_image *x = &g_sort_images[*(const int *)a], *y = &g_sort_images[*(const int *)b];
  if (x->height != y->height) return x->height - y->height;
  if (x->width != y->width) return x->width - y->width;
  if (x->channels != y->channels) return x->channels - y->channels;
  return *(const int *)a - *(const int *)b;
}

int fv_cmd_corrupt(int argc, char **argv) {
  options o;
  fv_error err;
  fv_device *dev = NULL;
  fv_corruptor *cr = NULL;
  fv_preprocessor *pp = NULL;
  char **files = NULL, **stems = NULL;
  int n_files = 0, status = 1, failures = 0;
  uint32_t *keys = NULL;
  int *done = NULL, *order = NULL;
  fv_image *imgs = NULL, *outs = NULL, *group = NULL;
  uint32_t *group_keys = NULL;
  double *bench_sec = NULL;
  long written = 0;

  if (parse(argc, argv, &o, &err) || fv_cli_collect_images(o.inputs, o.n_inputs, &files, &n_files, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  keys = calloc((size_t)n_files, sizeof *keys);
  done = calloc((size_t)n_files, sizeof *done);
  if (!keys || !done) {
    fv_cli_error("out of memory");
    goto done;
  }
  /* --bench writes nothing, so it may time the same file twice. */
  if (fv_cli_file_stems(files, n_files, !o.bench, &stems, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  for (int i = 0; i < n_files; i++) keys[i] = fv_corrupt_path_key(files[i]);
  /* User frost textures are checked before anything is written (procedural ones cannot fail). */
  for (int k = 0; k < o.n_corruptions && o.frost_dir; k++)
    if (o.corruption[k] == FV_FROST) {
      fv_frost_textures *t = NULL;
      if (fv_frost_open(o.frost_dir, o.frost_seed, &t, &err)) {
        fv_cli_error(err.msg);
        goto done;
      }
      fv_frost_close(t);
    }
  if (!o.bench) {
    if (fv_cli_make_dirs(o.out, &err)) {
      fv_cli_error(err.msg);
      goto done;
    }
    for (int k = 0; k < o.n_corruptions; k++)
      for (int s = o.sev_lo; s <= o.sev_hi; s++) {
        char d[4096];
        snprintf(d, sizeof d, "%s/%s/%d", o.out, fv_corruption_name(o.corruption[k]), s);
        if (fv_cli_make_dirs(d, &err)) {
          fv_cli_error(err.msg);
          goto done;
        }
      }
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.fovea-write-test.%ld", o.out, (long)getpid());
    FILE *f = fopen(probe, "w");
    if (!f) {
      fv_fail(&err, "cannot write into --out %.900s: %s", o.out, strerror(errno));
      fv_cli_error(err.msg);
      goto done;
    }
    fclose(f);
    unlink(probe);
  }
  if (fv_cli_open_device(o.device, &dev, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  fv_corrupt_options co = {.table = o.table,
                           .variant = o.variant,
                           .seed = o.seed,
                           .frost_dir = o.frost_dir,
                           .frost_seed = o.frost_seed,
                           .batch = o.batch};
  if (fv_corruptor_open(dev, &co, &cr, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  const int n_sev = o.sev_hi - o.sev_lo + 1, pairs = o.n_corruptions * n_sev;
  /* A chunk holds enough images that graph building is amortised, bounded in memory. */
  int chunk = o.bench ? n_files : (o.batch * 8 > 256 ? o.batch * 8 : 256);
  if (chunk > n_files) chunk = n_files;
  imgs = calloc((size_t)chunk, sizeof *imgs);
  outs = calloc((size_t)chunk, sizeof *outs);
  group = calloc((size_t)chunk, sizeof *group);
  group_keys = calloc((size_t)chunk, sizeof *group_keys);
  order = calloc((size_t)chunk, sizeof *order);
  bench_sec = calloc((size_t)pairs, sizeof *bench_sec);
  if (!imgs || !outs || !group || !group_keys || !order || !bench_sec) {
    fv_cli_error("out of memory");
    goto done;
  }
  fv_progress bar;
  fv_progress_start(&bar, n_files * pairs, o.bench ? "corruptions timed" : "images written");
  double t_start = now_seconds();
  int bench_images = 0;
  for (int base = 0; base < n_files; base += chunk) {
    int m = n_files - base < chunk ? n_files - base : chunk, loaded = 0;
    for (int i = 0; i < m; i++) {
      if (load(&o, &pp, dev, files[base + i], &imgs[loaded], &err)) {
        fv_progress_finish(&bar);
        fprintf(stderr, "fovea: error: %s\n", err.msg);
        failures++;
        continue;
      }
      order[loaded++] = base + i;
    }
    /* Sort (image, file index) pairs by size so each same-size run is one fv_corrupt_images call. */
    int *perm = malloc(sizeof(int) * (size_t)(loaded ? loaded : 1));
    if (!perm) {
      fv_cli_error("out of memory");
      goto done;
    }
    for (int i = 0; i < loaded; i++) perm[i] = i;
    g_sort_images = imgs;
    qsort(perm, (size_t)loaded, sizeof *perm, by_size);
    if (o.bench) bench_images += loaded;
    for (int k = 0; k < o.n_corruptions; k++)
      for (int s = o.sev_lo; s <= o.sev_hi; s++) {
        for (int r = 0; r < loaded;) {
          int e = r;
          while (e < loaded && imgs[perm[e]].width == imgs[perm[r]].width &&
                 imgs[perm[e]].height == imgs[perm[r]].height && imgs[perm[e]].channels == imgs[perm[r]].channels)
            e++;
          int n = e - r;
          for (int i = 0; i < n; i++) {
            group[i] = imgs[perm[r + i]];
            group_keys[i] = keys[order[perm[r + i]]];
          }
          if (o.bench) { /* untimed first call builds and records the graph */
            int warm = n < o.batch ? n : o.batch;
            if (fv_corrupt_images(cr, o.corruption[k], s, group, group_keys, warm, outs, &err)) goto fail;
            for (int i = 0; i < warm; i++) fv_image_free(&outs[i]);
          }
          double t0 = now_seconds();
          if (fv_corrupt_images(cr, o.corruption[k], s, group, group_keys, n, outs, &err)) goto fail;
          bench_sec[k * n_sev + (s - o.sev_lo)] += now_seconds() - t0;
          for (int i = 0; i < n; i++) {
            int fi = order[perm[r + i]];
            if (!o.bench && save(&o, o.corruption[k], s, stems[fi], &outs[i], &err)) {
              for (int j = i; j < n; j++) fv_image_free(&outs[j]);
              goto fail;
            }
            fv_image_free(&outs[i]);
            written++;
          }
          fv_progress_update(&bar, (int)written);
          r = e;
        }
      }
    for (int i = 0; i < loaded; i++) {
      done[order[i]] = 1;
      fv_image_free(&imgs[i]);
    }
    free(perm);
    continue;
  fail:
    free(perm);
    fv_progress_finish(&bar);
    fv_cli_error(err.msg);
    for (int i = 0; i < loaded; i++) fv_image_free(&imgs[i]);
    goto done;
  }
  fv_progress_finish(&bar);
  double seconds = now_seconds() - t_start;
  const char *note = fv_corruptor_take_note(cr);
  if (note) fprintf(stderr, "fovea: note: %s\n", note);
  if (fv_corruptor_empty_spatter(cr))
    fprintf(stderr, "fovea: note: %ld spatter draw(s) had no liquid at all and were left unchanged (spec 3.15)\n",
            fv_corruptor_empty_spatter(cr));
  if (o.bench) {
    double total = 0;
    for (int p = 0; p < pairs; p++) total += bench_sec[p];
    if (o.json) {
      printf("{\"device\": ");
      fv_json_string(stdout, fv_cli_device_name(dev));
      printf(
          ", \"images\": %d, \"pairs\": %d, \"seconds\": %.6f, \"corruptions_per_second\": %.3f, "
          "\"ms_per_image_all_pairs\": %.3f, \"cells\": [",
          bench_images, pairs, total, total > 0 ? bench_images * pairs / total : 0.0,
          bench_images ? 1000.0 * total / bench_images : 0.0);
      for (int p = 0; p < pairs; p++)
        printf("%s{\"corruption\": \"%s\", \"severity\": %d, \"ms_per_image\": %.4f}", p ? ", " : "",
               fv_corruption_name(o.corruption[p / n_sev]), o.sev_lo + p % n_sev,
               bench_images ? 1000.0 * bench_sec[p] / bench_images : 0.0);
      printf("]}\n");
    } else {
      printf("device: %s, %d image(s), timed after one warm-up batch per cell (graph build excluded)\n",
             fv_cli_device_name(dev), bench_images);
      printf("%-18s", "ms per image");
      for (int s = o.sev_lo; s <= o.sev_hi; s++) printf("  %8s%d", "s", s);
      printf("\n");
      for (int k = 0; k < o.n_corruptions; k++) {
        printf("%-18s", fv_corruption_name(o.corruption[k]));
        for (int s = o.sev_lo; s <= o.sev_hi; s++)
          printf("  %9.3f", bench_images ? 1000.0 * bench_sec[k * n_sev + (s - o.sev_lo)] / bench_images : 0.0);
        printf("\n");
      }
      printf("total: %d corruptions in %.3f s = %.1f corruptions/s, %.2f ms per image for all %d pairs\n",
             bench_images * pairs, total, total > 0 ? bench_images * pairs / total : 0.0,
             bench_images ? 1000.0 * total / bench_images : 0.0, pairs);
    }
  } else {
    if (write_manifest(&o, fv_cli_device_name(dev), fv_corruptor_frost_source(cr), files, stems, keys, n_files, done,
                       fv_corruptor_empty_spatter(cr), seconds, &err)) {
      fv_cli_error(err.msg);
      goto done;
    }
    if (o.json) {
      printf("{\"outputs\": %ld, \"images\": %d, \"failed\": %d, \"seconds\": %.3f, \"manifest\": ", written,
             n_files - failures, failures, seconds);
      char mpath[4096];
      snprintf(mpath, sizeof mpath, "%s/manifest.json", o.out);
      fv_json_string(stdout, mpath);
      printf("}\n");
    }
  }
  if (dev && fv_device_validation_errors(dev)) {
    fprintf(stderr, "fovea: error: the Vulkan validation layer reported %d message(s)\n",
            fv_device_validation_errors(dev));
    goto done;
  }
  status = failures ? 1 : 0;
  if (failures) fprintf(stderr, "fovea: %d of %d image(s) could not be read\n", failures, n_files);
done:
  fv_corruptor_close(cr);
  fv_preprocessor_free(pp);
  fv_device_close(dev);
  for (int i = 0; stems && i < n_files; i++) free(stems[i]);
  free(stems);
  fv_image_list_free(files, n_files);
  free(o.inputs);
  free(keys);
  free(done);
  free(order);
  free(imgs);
  free(outs);
  free(group);
  free(group_keys);
  free(bench_sec);
  return status;
}
