/* cli.c: helpers shared by the fovea subcommands (see cli.h). */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vision/image.h"

int fv_cli_error(const char *msg) {
  fprintf(stderr, "fovea: error: %s\n", msg);
  return 1;
}

fv_status fv_cli_open_device(const char *spec, fv_device **dev, fv_error *err) {
  *dev = NULL;
  if (!spec || !*spec) spec = getenv("FOVEA_DEVICE");
  if (spec && strcmp(spec, "cpu") == 0) return FV_OK;
  if (fv_device_open(spec, dev, err)) return FV_ERR;
  const fv_device_info *info = fv_device_get_info(*dev);
  if (info->is_cpu)
    fprintf(stderr,
            "fovea: warning: running on %s, a CPU Vulkan implementation; a GPU would be much faster "
            "(--device cpu uses the native CPU executor)\n",
            info->name);
  return FV_OK;
}

const char *fv_cli_default_model(void) {
  const char *env = getenv("FOVEA_MODEL");
  return env && *env ? env : FOVEA_DATA_DIR "/models/fmnist-vit";
}

const char *fv_cli_device_name(const fv_device *dev) { return dev ? fv_device_get_info(dev)->name : "cpu"; }

fv_status fv_cli_parse_int(const char *option, const char *value, int min, int max, int *out, fv_error *err) {
  if (!value) return fv_fail(err, "%s needs a value", option);
  char *end = NULL;
  errno = 0;
  long v = strtol(value, &end, 10);
  if (end == value || *end != '\0' || errno || v < min || v > max)
    return fv_fail(err, "%s: '%s' is not an integer in %d..%d", option, value, min, max);
  *out = (int)v;
  return FV_OK;
}

int fv_cli_model_option(int argc, char **argv, int *i, fv_cli_model_options *m, fv_error *err) {
  const char *a = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
  if (strcmp(a, "--fp16") == 0) {
    m->fp16 = 1;
    return 1;
  }
  if (strcmp(a, "--json") == 0) {
    m->json = 1;
    return 1;
  }
  if (strcmp(a, "--batch") == 0) {
    if (fv_cli_parse_int(a, v, 1, 4096, &m->batch, err)) return -1;
  } else if (strcmp(a, "--model") == 0) {
    if (!v || !*v) {
      fv_fail(err, "--model needs a model folder or .safetensors file");
      return -1;
    }
    m->model = v;
  } else if (strcmp(a, "--device") == 0) {
    if (!v || !*v) {
      fv_fail(err, "--device needs a device index, 'auto' or 'cpu'");
      return -1;
    }
    m->device = v;
  } else {
    return 0;
  }
  (*i)++;
  return 1;
}

void fv_json_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      fprintf(out, "\\%c", *p);
    else if (*p < 0x20)
      fprintf(out, "\\u%04x", *p);
    else
      fputc(*p, out);
  }
  fputc('"', out);
}

void fv_progress_start(fv_progress *p, int total, const char *what) {
  p->enabled = total > 1 && isatty(STDERR_FILENO);
  p->total = total;
  p->what = what;
  p->last_drawn = -1;
  fv_progress_update(p, 0);
}

void fv_progress_update(fv_progress *p, int done) {
  if (!p->enabled || done == p->last_drawn) return;
  const int width = 30;
  int filled = p->total ? done * width / p->total : width;
  fprintf(stderr, "\r[%.*s%*s] %d/%d %s", filled, "==============================", width - filled, "", done, p->total,
          p->what);
  fflush(stderr);
  p->last_drawn = done;
}

void fv_progress_finish(fv_progress *p) {
  if (p->enabled) fprintf(stderr, "\r\033[K");
}

fv_status fv_cli_collect_images(char *const *inputs, int n_inputs, char ***files, int *count, fv_error *err) {
  *files = NULL;
  *count = 0;
  for (int i = 0; i < n_inputs; i++) {
    char **list;
    int n;
    if (fv_list_images(inputs[i], &list, &n, err)) return FV_ERR;
    char **grown = realloc(*files, (size_t)(*count + n) * sizeof *grown);
    if (!grown) {
      fv_image_list_free(list, n);
      return fv_fail(err, "out of memory listing images");
    }
    *files = grown;
    memcpy(*files + *count, list, (size_t)n * sizeof *list);
    *count += n;
    free(list); /* the strings moved into *files */
  }
  return FV_OK;
}

fv_status fv_cli_file_stems(char *const *files, int n, int unique, char ***stems, fv_error *err) {
  *stems = calloc((size_t)(n > 0 ? n : 1), sizeof **stems);
  if (!*stems) return fv_fail(err, "out of memory");
  for (int i = 0; i < n; i++) {
    const char *base = strrchr(files[i], '/');
    if (!((*stems)[i] = strdup(base ? base + 1 : files[i]))) return fv_fail(err, "out of memory");
    char *dot = strrchr((*stems)[i], '.');
    if (dot && dot != (*stems)[i]) *dot = '\0';
    for (int j = 0; j < i && unique; j++)
      if (strcmp((*stems)[j], (*stems)[i]) == 0)
        return fv_fail(err, "inputs %.400s and %.400s have the same stem '%.100s': their outputs would collide",
                       files[j], files[i], (*stems)[i]);
  }
  return FV_OK;
}

fv_status fv_cli_make_dirs(const char *path, fv_error *err) {
  char buf[4096];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return fv_fail(err, "%s: path is too long", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(buf, 0777) && errno != EEXIST)
      return fv_fail(err, "cannot create directory %s: %s", buf, strerror(errno));
    *p = '/';
  }
  if (mkdir(buf, 0777) && errno != EEXIST) return fv_fail(err, "cannot create directory %s: %s", buf, strerror(errno));
  struct stat st;
  if (stat(buf, &st) || !S_ISDIR(st.st_mode)) return fv_fail(err, "%s exists and is not a directory", buf);
  if (access(buf, W_OK)) return fv_fail(err, "cannot write into directory %s: %s", buf, strerror(errno));
  return FV_OK;
}
