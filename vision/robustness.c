/* robustness.c: the error table of a corruption-robustness run, its metrics and
 * its files (see robustness.h). The metric formulas are spec 8.1; the AlexNet
 * table is spec 8.2 verbatim. Every number written is computed from integer
 * cell counts in one fixed order, so the same cells give the same bytes however
 * they were produced (shards, resumed runs, merges). */
#include "robustness.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../engine/file.h"
#include "corrupt.h"

/* ---- AlexNet's errors (spec 8.2 values), in the corruptions' order of spec 1.7 (corrupt.h) ---------------------- */

_Static_assert(FV_ROB_CORRUPTIONS == FV_CORRUPTION_COUNT, "one AlexNet row per corruption of corrupt.h");

static const struct {
  double err[FV_ROB_SEVERITIES];
} alexnet[FV_ROB_CORRUPTIONS] = {
    {{0.69528, 0.82542, 0.93554, 0.98138, 0.99452}}, /* gaussian_noise */
    {{0.71224, 0.85108, 0.93574, 0.98182, 0.99146}}, /* shot_noise */
    {{0.78374, 0.89808, 0.94870, 0.98720, 0.99548}}, /* impulse_noise */
    {{0.65624, 0.73202, 0.85036, 0.91364, 0.94714}}, /* defocus_blur */
    {{0.64308, 0.75054, 0.88806, 0.91622, 0.93344}}, /* glass_blur */
    {{0.58430, 0.70048, 0.82108, 0.89750, 0.92638}}, /* motion_blur */
    {{0.70008, 0.76992, 0.80784, 0.84198, 0.87198}}, /* zoom_blur */
    {{0.71726, 0.88392, 0.86468, 0.91870, 0.94952}}, /* snow */
    {{0.61390, 0.79734, 0.88790, 0.89942, 0.93430}}, /* frost */
    {{0.67474, 0.76050, 0.84378, 0.87260, 0.94500}}, /* fog */
    {{0.45140, 0.48502, 0.54048, 0.62166, 0.72440}}, /* brightness */
    {{0.64548, 0.76150, 0.88874, 0.97760, 0.99270}}, /* contrast */
    {{0.52596, 0.70116, 0.55686, 0.64076, 0.80554}}, /* elastic_transform */
    {{0.52218, 0.54620, 0.73728, 0.87092, 0.91262}}, /* pixelate */
    {{0.51002, 0.54718, 0.57294, 0.65458, 0.74778}}, /* jpeg_compression */
    {{0.66192, 0.74440, 0.90246, 0.94548, 0.97268}}, /* speckle_noise */
    {{0.54732, 0.70444, 0.82574, 0.89864, 0.95940}}, /* gaussian_blur */
    {{0.47196, 0.62194, 0.75052, 0.84132, 0.90182}}, /* spatter */
    {{0.59342, 0.65514, 0.51174, 0.70834, 0.82260}}, /* saturate */
};

const char *fv_rob_corruption_name(int c) { return c >= 0 && c < FV_ROB_CORRUPTIONS ? fv_corruption_name(c) : NULL; }

int fv_rob_corruption_from_name(const char *name) { return name ? fv_corruption_from_name(name) : -1; }

double fv_rob_alexnet_error(int c, int s) {
  if (c < 0 || c >= FV_ROB_CORRUPTIONS || s < 1 || s > FV_ROB_SEVERITIES) return NAN;
  return alexnet[c].err[s - 1];
}

int fv_rob_slot(int corruption, int severity) {
  return corruption < 0 ? 0 : 1 + corruption * FV_ROB_SEVERITIES + (severity - 1);
}

void fv_rob_slot_cell(int slot, int *corruption, int *severity) {
  if (slot <= 0) {
    *corruption = -1;
    *severity = 0;
  } else {
    *corruption = (slot - 1) / FV_ROB_SEVERITIES;
    *severity = (slot - 1) % FV_ROB_SEVERITIES + 1;
  }
}

const char *fv_rob_slot_label(int slot, char *buf, int size) {
  int c, s;
  fv_rob_slot_cell(slot, &c, &s);
  if (c < 0)
    snprintf(buf, (size_t)size, "clean");
  else
    snprintf(buf, (size_t)size, "%s/%d", fv_corruption_name(c), s);
  return buf;
}

/* ---- parameters and plans ---------------------------------------------------------------------------------------- */

fv_status fv_rob_params_check(const fv_rob_params *want, const fv_rob_params *got, const char *where, fv_error *err) {
  const struct {
    const char *name, *a, *b;
  } strs[] = {
      {"model", want->model, got->model}, {"dataset", want->dataset, got->dataset},
      {"split", want->split, got->split}, {"corrupted_dataset", want->corrupted_dataset, got->corrupted_dataset},
      {"table", want->table, got->table}, {"variant", want->variant, got->variant},
      {"frost", want->frost, got->frost}};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (strcmp(strs[i].a, strs[i].b) != 0)
      return fv_fail(err, "%s was made with %s '%s', but this run has %s '%s'", where, strs[i].name, strs[i].b,
                     strs[i].name, strs[i].a);
  if (want->limit != got->limit)
    return fv_fail(err, "%s was made with limit %d, but this run has limit %d (0 = all)", where, got->limit,
                   want->limit);
  if (want->seed != got->seed)
    return fv_fail(err, "%s was made with seed %u, but this run has seed %u", where, got->seed, want->seed);
  if (want->fp16 != got->fp16)
    return fv_fail(err, "%s was made with fp16 %s, but this run has fp16 %s", where, got->fp16 ? "on" : "off",
                   want->fp16 ? "on" : "off");
  return FV_OK;
}

fv_status fv_rob_parse_corruptions(const char *list, fv_rob_plan *plan, fv_error *err) {
  memset(plan->corruption, 0, sizeof plan->corruption);
  if (!list || !*list)
    return fv_fail(err,
                   "--corruptions: empty list (expected all, imagenet-c, "
                   "extras or names)");
  if (strcmp(list, "all") == 0) {
    for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) plan->corruption[c] = 1;
    return FV_OK;
  }
  if (strcmp(list, "imagenet-c") == 0 || strcmp(list, "main") == 0) {
    for (int c = 0; c < FV_ROB_MAIN; c++) plan->corruption[c] = 1;
    return FV_OK;
  }
  if (strcmp(list, "extras") == 0) {
    for (int c = FV_ROB_MAIN; c < FV_ROB_CORRUPTIONS; c++) plan->corruption[c] = 1;
    return FV_OK;
  }
  const char *p = list;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t len = comma ? (size_t)(comma - p) : strlen(p);
    char name[64];
    if (len == 0 || len >= sizeof name)
      return fv_fail(err,
                     "--corruptions '%s': empty or overlong name (expected "
                     "comma-separated names)",
                     list);
    memcpy(name, p, len);
    name[len] = '\0';
    int c = fv_rob_corruption_from_name(name);
    if (c < 0)
      return fv_fail(err,
                     "--corruptions: unknown corruption '%s' (expected e.g. "
                     "gaussian_noise, all, imagenet-c)",
                     name);
    plan->corruption[c] = 1;
    p += len;
    if (*p == ',') p++;
  }
  return FV_OK;
}

static int parse_digit(const char *s, int *v) {
  if (s[0] < '1' || s[0] > '5') return 0;
  *v = s[0] - '0';
  return 1;
}

fv_status fv_rob_parse_severities(const char *s, fv_rob_plan *plan, fv_error *err) {
  int lo, hi;
  if (s && parse_digit(s, &lo) && s[1] == '\0') {
    hi = lo;
  } else if (!s || !parse_digit(s, &lo) || s[1] != '-' || !parse_digit(s + 2, &hi) || s[3] != '\0' || hi < lo) {
    return fv_fail(err, "--severities '%s': expected A-B or A with 1 <= A <= B <= 5", s ? s : "");
  }
  plan->sev_lo = lo;
  plan->sev_hi = hi;
  return FV_OK;
}

fv_status fv_rob_parse_shard(const char *s, int *k, int *n, fv_error *err) {
  char *end = NULL;
  long a, b;
  if (!s) return fv_fail(err, "--shard needs K/N");
  errno = 0;
  a = strtol(s, &end, 10);
  if (end == s || *end != '/' || errno) return fv_fail(err, "--shard '%s': expected K/N, e.g. 2/8", s);
  const char *t = end + 1;
  b = strtol(t, &end, 10);
  if (end == t || *end != '\0' || errno || b < 1 || b > FV_ROB_SLOTS || a < 1 || a > b)
    return fv_fail(err, "--shard '%s': expected K/N with 1 <= K <= N <= %d", s, FV_ROB_SLOTS);
  *k = (int)a;
  *n = (int)b;
  return FV_OK;
}

int fv_rob_plan_cells(const fv_rob_plan *plan, int k, int n, int *slots) {
  int i = 0, count = 0;
  if (n < 1) n = 1;
  if (plan->clean) {
    if (i % n == k - 1 || n == 1) slots[count++] = 0;
    i++;
  }
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    if (!plan->corruption[c]) continue;
    for (int s = plan->sev_lo; s <= plan->sev_hi; s++, i++)
      if (n == 1 || i % n == k - 1) slots[count++] = fv_rob_slot(c, s);
  }
  return count;
}

fv_status fv_rob_set_add(fv_rob_set *s, const fv_rob_params *p, int slot, const fv_rob_cell *c, const char *where,
                         fv_error *err) {
  char label[64];
  if (slot < 0 || slot >= FV_ROB_SLOTS) return fv_fail(err, "%s: cell slot %d out of range", where, slot);
  if (c->images <= 0 || c->correct < 0 || c->correct > c->images)
    return fv_fail(err,
                   "%s: cell %s has %ld correct of %ld images (expected 0 <= "
                   "correct <= images, images > 0)",
                   where, fv_rob_slot_label(slot, label, sizeof label), c->correct, c->images);
  if (!s->have_params) {
    s->params = *p;
    s->have_params = 1;
  } else if (fv_rob_params_check(&s->params, p, where, err)) {
    return FV_ERR;
  }
  if (s->have[slot]) {
    if (s->cell[slot].images != c->images || s->cell[slot].correct != c->correct)
      return fv_fail(err,
                     "%s: cell %s has %ld/%ld correct, but another source has "
                     "%ld/%ld for the same cell",
                     where, fv_rob_slot_label(slot, label, sizeof label), c->correct, c->images, s->cell[slot].correct,
                     s->cell[slot].images);
    return FV_OK;
  }
  s->cell[slot] = *c;
  s->have[slot] = 1;
  return FV_OK;
}

/* ---- metrics ----------------------------------------------------------------------------------------------------- */

void fv_rob_baseline_none(fv_rob_baseline *b) {
  memset(b, 0, sizeof *b);
  b->kind = FV_NORM_NONE;
}

void fv_rob_baseline_alexnet(fv_rob_baseline *b) {
  memset(b, 0, sizeof *b);
  b->kind = FV_NORM_ALEXNET;
  snprintf(b->source, sizeof b->source, "alexnet (compiled in; corruptions.md 8.2)");
  snprintf(b->model, sizeof b->model, "AlexNet (torchvision)");
  b->clean = FV_ROB_ALEXNET_CLEAN;
  b->have_clean = 1;
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++)
    for (int s = 0; s < FV_ROB_SEVERITIES; s++) {
      b->err[c][s] = alexnet[c].err[s];
      b->have[c][s] = 1;
    }
}

static int is_error_value(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1; }

fv_status fv_rob_baseline_load(const char *path, fv_rob_baseline *b, fv_error *err) {
  char *text = NULL;
  size_t len;
  fv_rob_baseline_none(b);
  if (fv_read_file(path, 64u << 20, &text, &len, err)) return FV_ERR;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  fv_status st = FV_OK;
  if (!cJSON_IsObject(root)) {
    st = fv_fail(err, "%s: not a JSON object (expected a RESULTS.json of fovea robustness)", path);
    goto done;
  }
  b->kind = FV_NORM_BASELINE;
  snprintf(b->source, sizeof b->source, "%s", path);
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
  const cJSON *model = cJSON_GetObjectItemCaseSensitive(params ? params : root, "model");
  if (cJSON_IsString(model)) snprintf(b->model, sizeof b->model, "%s", model->valuestring);
  const cJSON *clean = cJSON_GetObjectItemCaseSensitive(root, "clean_error");
  if (is_error_value(clean)) {
    b->clean = clean->valuedouble;
    b->have_clean = 1;
  } else if (clean && !cJSON_IsNull(clean)) {
    st = fv_fail(err, "%s: \"clean_error\" is %s, expected a number in 0..1 or null", path, fv_json_kind(clean));
    goto done;
  }
  const cJSON *errors = cJSON_GetObjectItemCaseSensitive(root, "errors");
  if (!cJSON_IsObject(errors)) {
    st = fv_fail(err,
                 "%s: \"errors\" is %s, expected an object {corruption: [5 "
                 "errors by severity]}",
                 path, fv_json_kind(errors));
    goto done;
  }
  int any = 0;
  const cJSON *item;
  cJSON_ArrayForEach(item, errors) {
    int c = fv_rob_corruption_from_name(item->string);
    if (c < 0) {
      st = fv_fail(err, "%s: \"errors\" has an unknown corruption '%s'", path, item->string);
      goto done;
    }
    if (!cJSON_IsArray(item) || cJSON_GetArraySize(item) != FV_ROB_SEVERITIES) {
      st = fv_fail(err, "%s: errors.%s is %s, expected an array of 5 errors (or nulls)", path, item->string,
                   fv_json_kind(item));
      goto done;
    }
    for (int s = 0; s < FV_ROB_SEVERITIES; s++) {
      const cJSON *v = cJSON_GetArrayItem(item, s);
      if (cJSON_IsNull(v)) continue;
      if (!is_error_value(v)) {
        st = fv_fail(err, "%s: errors.%s[%d] is %s, expected an error in 0..1 or null", path, item->string, s,
                     fv_json_kind(v));
        goto done;
      }
      b->err[c][s] = v->valuedouble;
      b->have[c][s] = 1;
      any = 1;
    }
  }
  if (!any) st = fv_fail(err, "%s: \"errors\" holds no error at all: nothing to normalise by", path);
done:
  cJSON_Delete(root);
  return st;
}

void fv_rob_metrics_compute(const double err[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES],
                            const int have[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES], int have_clean, double clean_error,
                            const fv_rob_baseline *b, fv_rob_metrics *m) {
  memset(m, 0, sizeof *m);
  m->norm = b->kind;
  m->have_clean = have_clean;
  m->clean_error = have_clean ? clean_error : 0;
  memcpy(m->err, err, sizeof m->err);
  memcpy(m->have, have, sizeof m->have);
  int normalised = b->kind != FV_NORM_NONE;
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    int full = 1, base_full = 1;
    double sum = 0, base_sum = 0, deg = 0, base_deg = 0;
    for (int s = 0; s < FV_ROB_SEVERITIES; s++) {
      full &= have[c][s] != 0;
      base_full &= b->have[c][s] != 0;
      if (have[c][s]) {
        sum += err[c][s];
        deg += err[c][s] - clean_error;
      }
      if (b->have[c][s]) {
        base_sum += b->err[c][s];
        base_deg += b->err[c][s] - b->clean;
      }
    }
    if (!full) continue;
    m->mean_err[c] = sum / FV_ROB_SEVERITIES;
    m->have_mean_err[c] = 1;
    if (!normalised) {
      m->ce[c] = 100.0 * sum / FV_ROB_SEVERITIES;
      m->have_ce[c] = 1;
      if (have_clean) {
        m->rce[c] = 100.0 * deg / FV_ROB_SEVERITIES;
        m->have_rce[c] = 1;
      }
      continue;
    }
    if (!base_full || !(base_sum > 0)) continue;
    m->ce[c] = 100.0 * sum / base_sum;
    m->have_ce[c] = 1;
    /* Relative CE divides by the baseline's degradation; when the baseline did
     * not degrade (a sum <= 0) the ratio means nothing and stays undefined. */
    if (have_clean && b->have_clean && base_deg > 0) {
      m->rce[c] = 100.0 * deg / base_deg;
      m->have_rce[c] = 1;
    }
  }
  /* the 15 main corruptions, then the 4 extras, each averaged only when all are
   * defined */
  for (int group = 0; group < 2; group++) {
    int lo = group ? FV_ROB_MAIN : 0, hi = group ? FV_ROB_CORRUPTIONS : FV_ROB_MAIN;
    int all_ce = 1, all_rce = 1, cells = 0;
    double ce = 0, rce = 0, e = 0;
    for (int c = lo; c < hi; c++) {
      all_ce &= m->have_ce[c];
      all_rce &= m->have_rce[c];
      ce += m->ce[c];
      rce += m->rce[c];
      for (int s = 0; s < FV_ROB_SEVERITIES; s++)
        if (have[c][s]) {
          e += err[c][s];
          cells++;
        }
    }
    double n = hi - lo;
    if (group == 0) {
      if (all_ce) m->mce = ce / n, m->have_mce = 1;
      if (all_rce) m->rmce = rce / n, m->have_rmce = 1;
      if (cells) m->mean_error = e / cells, m->mean_accuracy = 1.0 - m->mean_error, m->have_mean_error = cells;
    } else {
      if (all_ce) m->extras_mce = ce / n, m->have_extras_mce = 1;
      if (all_rce) m->extras_rmce = rce / n, m->have_extras_rmce = 1;
      if (cells) m->extras_mean_error = e / cells, m->have_extras_mean_error = cells;
    }
  }
}

static double cell_error(const fv_rob_cell *c) { return 1.0 - (double)c->correct / (double)c->images; }

void fv_rob_set_metrics(const fv_rob_set *s, const fv_rob_baseline *b, fv_rob_metrics *m) {
  double err[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES] = {{0}};
  int have[FV_ROB_CORRUPTIONS][FV_ROB_SEVERITIES] = {{0}};
  for (int slot = 1; slot < FV_ROB_SLOTS; slot++) {
    if (!s->have[slot]) continue;
    int c, sv;
    fv_rob_slot_cell(slot, &c, &sv);
    err[c][sv - 1] = cell_error(&s->cell[slot]);
    have[c][sv - 1] = 1;
  }
  fv_rob_metrics_compute(err, have, s->have[0], s->have[0] ? cell_error(&s->cell[0]) : 0, b, m);
}

const char *fv_rob_norm_definition(fv_rob_norm n) {
  switch (n) {
    case FV_NORM_ALEXNET:
      return "CE_c = 100 * sum_s E_c,s / sum_s E^AlexNet_c,s; relative CE_c = "
             "100 * sum_s (E_c,s - E_clean) / "
             "sum_s (E^AlexNet_c,s - E^AlexNet_clean) with E^AlexNet_clean = "
             "0.4345; mCE and relative mCE = mean "
             "over the 15 main corruptions (Hendrycks & Dietterich 2019; AlexNet "
             "errors of corruptions.md 8.2)";
    case FV_NORM_BASELINE:
      return "CE_c = 100 * sum_s E_c,s / sum_s E^base_c,s; relative CE_c = 100 * "
             "sum_s (E_c,s - E_clean) / "
             "sum_s (E^base_c,s - E^base_clean); mCE and relative mCE = mean "
             "over the 15 main corruptions; the "
             "baseline model scores 100";
    default:
      return "not normalised: CE_c = 100 * mean_s E_c,s (the mean error over "
             "severities, in %); relative CE_c = "
             "100 * mean_s (E_c,s - E_clean); mCE and relative mCE = mean over "
             "the 15 main corruptions";
  }
}

static const char *norm_name(fv_rob_norm n) {
  return n == FV_NORM_ALEXNET ? "alexnet" : n == FV_NORM_BASELINE ? "baseline" : "none";
}

/* ---- a growing text buffer --------------------------------------------------------------------------------------- */

typedef struct sbuf {
  char *data;
  size_t len, cap;
  int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(sbuf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data ? b->data + b->len : NULL, b->data ? room : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->data && (size_t)n < room) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + (size_t)n + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
      b->oom = 1;
      return;
    }
    b->data = d;
    b->cap = cap;
  }
}

/* A JSON string literal; control characters escaped, UTF-8 passed through. */
static void sb_json_string(sbuf *b, const char *s) {
  sb_printf(b, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\')
      sb_printf(b, "\\%c", *p);
    else if (*p < 0x20)
      sb_printf(b, "\\u%04x", *p);
    else
      sb_printf(b, "%c", *p);
  }
  sb_printf(b, "\"");
}

/* Doubles with 17 significant digits: they read back to the same value. */
static void sb_num(sbuf *b, int have, double v) {
  if (have && isfinite(v))
    sb_printf(b, "%.17g", v);
  else
    sb_printf(b, "null");
}

static fv_status sb_commit(sbuf *b, const char *path, fv_error *err) {
  fv_status st = b->oom ? fv_fail(err, "%s: out of memory while formatting", path)
                        : fv_write_file_atomic(path, b->data ? b->data : "", b->len, 1, err);
  free(b->data);
  memset(b, 0, sizeof *b);
  return st;
}

/* ---- atomic files and the cell store ----------------------------------------------------------------------------- */

static void cell_file_name(int slot, char *buf, size_t size) {
  int c, s;
  fv_rob_slot_cell(slot, &c, &s);
  if (c < 0)
    snprintf(buf, size, "clean.json");
  else
    snprintf(buf, size, "%s-%d.json", fv_corruption_name(c), s);
}

static void sb_params(sbuf *b, const fv_rob_params *p) {
  sb_printf(b, "\"model\": ");
  sb_json_string(b, p->model);
  sb_printf(b, ", \"dataset\": ");
  sb_json_string(b, p->dataset);
  sb_printf(b, ", \"split\": ");
  sb_json_string(b, p->split);
  sb_printf(b, ", \"corrupted_dataset\": ");
  sb_json_string(b, p->corrupted_dataset);
  sb_printf(b, ", \"table\": ");
  sb_json_string(b, p->table);
  sb_printf(b, ", \"variant\": ");
  sb_json_string(b, p->variant);
  sb_printf(b, ", \"frost\": ");
  sb_json_string(b, p->frost);
  sb_printf(b, ", \"limit\": %d, \"seed\": %u, \"fp16\": %s", p->limit, p->seed, p->fp16 ? "true" : "false");
}

fv_status fv_rob_cell_write(const char *dir, const fv_rob_params *p, int slot, const fv_rob_cell *c, const char *shard,
                            const char *device, fv_error *err) {
  if (mkdir(dir, 0755) != 0 && errno != EEXIST)
    return fv_fail(err, "%s: cannot create the cell folder: %s", dir, strerror(errno));
  char name[64], label[64], path[FV_ROB_STR + 80];
  int cr, sv;
  cell_file_name(slot, name, sizeof name);
  fv_rob_slot_cell(slot, &cr, &sv);
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sbuf b = {0};
  sb_printf(&b, "{\"fovea_robustness_cell\": 1, \"cell\": ");
  sb_json_string(&b, fv_rob_slot_label(slot, label, sizeof label));
  sb_printf(&b, ", \"corruption\": ");
  sb_json_string(&b, cr < 0 ? "clean" : fv_corruption_name(cr));
  sb_printf(&b, ", \"severity\": %d, \"images\": %ld, \"correct\": %ld, \"error\": ", sv, c->images, c->correct);
  sb_num(&b, 1, cell_error(c));
  sb_printf(&b, ", \"seconds\": %.3f, ", c->seconds);
  sb_params(&b, p);
  sb_printf(&b, ", \"shard\": ");
  sb_json_string(&b, shard ? shard : "");
  sb_printf(&b, ", \"device\": ");
  sb_json_string(&b, device ? device : "");
  sb_printf(&b, "}\n");
  return sb_commit(&b, path, err);
}

static fv_status get_string(const cJSON *obj, const char *key, char *out, size_t size, const char *where,
                            fv_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (cJSON_IsNull(v)) {
    out[0] = '\0';
    return FV_OK;
  }
  if (!cJSON_IsString(v)) return fv_fail(err, "%s: \"%s\" is %s, expected a string", where, key, fv_json_kind(v));
  if (strlen(v->valuestring) >= size) return fv_fail(err, "%s: \"%s\" is longer than %zu bytes", where, key, size - 1);
  snprintf(out, size, "%s", v->valuestring);
  return FV_OK;
}

static fv_status get_long(const cJSON *obj, const char *key, long min, long max, long *out, const char *where,
                          fv_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < (double)min ||
      v->valuedouble > (double)max)
    return fv_fail(err, "%s: \"%s\" is %s, expected an integer in %ld..%ld", where, key, fv_json_kind(v), min, max);
  *out = (long)v->valuedouble;
  return FV_OK;
}

static fv_status parse_params(const cJSON *obj, fv_rob_params *p, const char *where, fv_error *err) {
  long limit, seed;
  memset(p, 0, sizeof *p);
  if (get_string(obj, "model", p->model, sizeof p->model, where, err) ||
      get_string(obj, "dataset", p->dataset, sizeof p->dataset, where, err) ||
      get_string(obj, "split", p->split, sizeof p->split, where, err) ||
      get_string(obj, "corrupted_dataset", p->corrupted_dataset, sizeof p->corrupted_dataset, where, err) ||
      get_string(obj, "table", p->table, sizeof p->table, where, err) ||
      get_string(obj, "frost", p->frost, sizeof p->frost, where, err) ||
      get_long(obj, "limit", 0, 1L << 30, &limit, where, err) ||
      get_long(obj, "seed", 0, 0xffffffffL, &seed, where, err))
    return FV_ERR;
  /* "variant" came with --variant; files made before it were all imagecorruptions semantics
   * (generation mode) or have no corruption parameters (dataset mode, table ""). */
  if (cJSON_GetObjectItemCaseSensitive(obj, "variant")) {
    if (get_string(obj, "variant", p->variant, sizeof p->variant, where, err)) return FV_ERR;
  } else {
    snprintf(p->variant, sizeof p->variant, "%s", p->table[0] ? "imagecorruptions" : "");
  }
  const cJSON *fp16 = cJSON_GetObjectItemCaseSensitive(obj, "fp16");
  if (!cJSON_IsBool(fp16)) return fv_fail(err, "%s: \"fp16\" is %s, expected true or false", where, fv_json_kind(fp16));
  p->limit = (int)limit;
  p->seed = (uint32_t)seed;
  p->fp16 = cJSON_IsTrue(fp16);
  return FV_OK;
}

/* A cell object (a cell file, or an entry of RESULTS.json's "cells"): its slot
 * and counts. */
static fv_status parse_cell(const cJSON *obj, int *slot, fv_rob_cell *c, const char *where, fv_error *err) {
  char name[64];
  long sev, images, correct;
  if (get_string(obj, "corruption", name, sizeof name, where, err) ||
      get_long(obj, "severity", 0, FV_ROB_SEVERITIES, &sev, where, err) ||
      get_long(obj, "images", 1, 1L << 40, &images, where, err) ||
      get_long(obj, "correct", 0, images, &correct, where, err))
    return FV_ERR;
  if (strcmp(name, "clean") == 0) {
    if (sev != 0) return fv_fail(err, "%s: the clean cell has severity %ld, expected 0", where, sev);
    *slot = 0;
  } else {
    int cr = fv_rob_corruption_from_name(name);
    if (cr < 0 || sev < 1) return fv_fail(err, "%s: unknown cell '%s' severity %ld", where, name, sev);
    *slot = fv_rob_slot(cr, (int)sev);
  }
  c->images = images;
  c->correct = correct;
  const cJSON *secs = cJSON_GetObjectItemCaseSensitive(obj, "seconds");
  c->seconds = cJSON_IsNumber(secs) ? secs->valuedouble : 0;
  return FV_OK;
}

static int ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && strcmp(s + a - b, suffix) == 0;
}

static fv_status load_cell_file(const char *path, fv_rob_set *s, fv_error *err) {
  char *text = NULL;
  size_t len;
  if (fv_read_file(path, 1u << 20, &text, &len, err)) return FV_ERR;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  fv_rob_params p;
  fv_rob_cell c;
  int slot;
  fv_status st;
  if (!cJSON_IsObject(root) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "fovea_robustness_cell")))
    st = fv_fail(err,
                 "%s: not a fovea robustness cell file (JSON with "
                 "\"fovea_robustness_cell\")",
                 path);
  else
    st = parse_params(root, &p, path, err) || parse_cell(root, &slot, &c, path, err) ||
         fv_rob_set_add(s, &p, slot, &c, path, err);
  cJSON_Delete(root);
  return st;
}

fv_status fv_rob_store_load(const char *dir, fv_rob_set *s, int *loaded, fv_error *err) {
  *loaded = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return FV_OK;
    return fv_fail(err, "%s: cannot open the cell folder: %s", dir, strerror(errno));
  }
  /* Sorted names, so which of two conflicting files is named first does not
   * depend on the file system's order. */
  char **names = NULL;
  int n = 0, cap = 0;
  fv_status st = FV_OK;
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    /* Finished cells only: temporaries of a killed write are ".json.tmp-XXXXXX"
     * and ignored. */
    if (e->d_name[0] == '.' || !ends_with(e->d_name, ".json")) continue;
    if (n == cap) {
      cap = cap ? cap * 2 : 128;
      char **nn = realloc(names, (size_t)cap * sizeof *nn);
      if (!nn) {
        st = fv_fail(err, "%s: out of memory listing cells", dir);
        break;
      }
      names = nn;
    }
    if (!(names[n] = strdup(e->d_name))) {
      st = fv_fail(err, "%s: out of memory listing cells", dir);
      break;
    }
    n++;
  }
  closedir(d);
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
      char *t = names[j];
      names[j] = names[j - 1];
      names[j - 1] = t;
    }
  for (int i = 0; i < n && st == FV_OK; i++) {
    char path[FV_ROB_STR + 300];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    st = load_cell_file(path, s, err);
    if (st == FV_OK) (*loaded)++;
  }
  for (int i = 0; i < n; i++) free(names[i]);
  free(names);
  return st;
}

/* ---- RESULTS.json ------------------------------------------------------------------------------------------------ */

static void sb_plan(sbuf *b, const fv_rob_plan *plan) {
  sb_printf(b, "\"corruptions\": [");
  int first = 1;
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++)
    if (plan->corruption[c]) {
      sb_printf(b, "%s\"%s\"", first ? "" : ", ", fv_corruption_name(c));
      first = 0;
    }
  sb_printf(b, "], \"severities\": [%d, %d], \"clean\": %s", plan->sev_lo, plan->sev_hi,
            plan->clean ? "true" : "false");
}

static int plan_complete(const fv_rob_set *s, const fv_rob_plan *plan) {
  int slots[FV_ROB_SLOTS];
  int n = fv_rob_plan_cells(plan, 1, 1, slots);
  for (int i = 0; i < n; i++)
    if (!s->have[slots[i]]) return 0;
  return 1;
}

fv_status fv_rob_write_json(const char *path, const fv_rob_set *s, const fv_rob_baseline *b, const fv_rob_info *info,
                            fv_error *err) {
  fv_rob_metrics m;
  fv_rob_set_metrics(s, b, &m);
  sbuf o = {0};
  char label[64];
  sb_printf(&o, "{\n  \"fovea_robustness\": 1,\n  \"mode\": ");
  sb_json_string(&o, info->mode ? info->mode : "generation");
  sb_printf(&o, ",\n  \"params\": {");
  sb_params(&o, &s->params);
  sb_printf(&o, "},\n  \"run\": {");
  sb_plan(&o, info->plan);
  sb_printf(&o, "},\n  \"shard\": ");
  if (info->shard)
    sb_json_string(&o, info->shard);
  else
    sb_printf(&o, "null");
  sb_printf(&o, ",\n  \"complete\": %s", plan_complete(s, info->plan) ? "true" : "false");
  if (info->device) {
    sb_printf(&o, ",\n  \"device\": ");
    sb_json_string(&o, info->device);
  }
  if (info->n_merged > 0) {
    sb_printf(&o, ",\n  \"merged_from\": [");
    for (int i = 0; i < info->n_merged; i++) {
      if (i) sb_printf(&o, ", ");
      sb_json_string(&o, info->merged_from[i]);
    }
    sb_printf(&o, "]");
  }
  sb_printf(&o, ",\n  \"normalisation\": \"%s\",\n  \"ce_definition\": ", norm_name(b->kind));
  sb_json_string(&o, fv_rob_norm_definition(b->kind));
  sb_printf(&o, ",\n  \"baseline\": ");
  if (b->kind == FV_NORM_NONE) {
    sb_printf(&o, "null");
  } else {
    sb_printf(&o, "{\"source\": ");
    sb_json_string(&o, b->source);
    sb_printf(&o, ", \"model\": ");
    sb_json_string(&o, b->model);
    sb_printf(&o, ", \"clean_error\": ");
    sb_num(&o, b->have_clean, b->clean);
    sb_printf(&o, "}");
  }
  sb_printf(&o,
            ",\n  \"units\": \"errors and mean_error are fractions; ce, "
            "relative_ce, mce, relative_mce are %%\"");
  sb_printf(&o, ",\n  \"clean_error\": ");
  sb_num(&o, m.have_clean, m.clean_error);
  sb_printf(&o, ",\n  \"clean_accuracy\": ");
  sb_num(&o, m.have_clean, 1.0 - m.clean_error);
  /* errors / ce / relative_ce hold every requested corruption (in spec order)
   */
  const char *sections[] = {"errors", "ce", "relative_ce"};
  for (int k = 0; k < 3; k++) {
    sb_printf(&o, ",\n  \"%s\": {", sections[k]);
    int first = 1;
    for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
      if (!info->plan->corruption[c]) continue;
      sb_printf(&o, "%s\n    \"%s\": ", first ? "" : ",", fv_corruption_name(c));
      first = 0;
      if (k == 0) {
        sb_printf(&o, "[");
        for (int sv = 0; sv < FV_ROB_SEVERITIES; sv++) {
          if (sv) sb_printf(&o, ", ");
          sb_num(&o, m.have[c][sv], m.err[c][sv]);
        }
        sb_printf(&o, "]");
      } else if (k == 1) {
        sb_num(&o, m.have_ce[c], m.ce[c]);
      } else {
        sb_num(&o, m.have_rce[c], m.rce[c]);
      }
    }
    sb_printf(&o, "%s}", first ? "" : "\n  ");
  }
  sb_printf(&o, ",\n  \"mce\": ");
  sb_num(&o, m.have_mce, m.mce);
  sb_printf(&o, ",\n  \"relative_mce\": ");
  sb_num(&o, m.have_rmce, m.rmce);
  sb_printf(&o, ",\n  \"mean_error\": ");
  sb_num(&o, m.have_mean_error, m.mean_error);
  sb_printf(&o, ",\n  \"mean_accuracy\": ");
  sb_num(&o, m.have_mean_error, m.mean_accuracy);
  sb_printf(&o, ",\n  \"mean_error_cells\": %d", m.have_mean_error);
  sb_printf(&o, ",\n  \"extras\": {\"mean_error\": ");
  sb_num(&o, m.have_extras_mean_error, m.extras_mean_error);
  sb_printf(&o, ", \"mean_error_cells\": %d, \"mce\": ", m.have_extras_mean_error);
  sb_num(&o, m.have_extras_mce, m.extras_mce);
  sb_printf(&o, ", \"relative_mce\": ");
  sb_num(&o, m.have_extras_rmce, m.extras_rmce);
  sb_printf(&o, "}");
  sb_printf(&o, ",\n  \"notes\": [");
  for (int i = 0; i < 8 && info->notes[i]; i++) {
    sb_printf(&o, "%s\n    ", i ? "," : "");
    sb_json_string(&o, info->notes[i]);
  }
  sb_printf(&o, "%s]", info->notes[0] ? "\n  " : "");
  sb_printf(&o, ",\n  \"cells\": [");
  double total = 0;
  int first = 1;
  for (int slot = 0; slot < FV_ROB_SLOTS; slot++) {
    if (!s->have[slot]) continue;
    int c, sv;
    fv_rob_slot_cell(slot, &c, &sv);
    const fv_rob_cell *cell = &s->cell[slot];
    sb_printf(&o, "%s\n    {\"cell\": ", first ? "" : ",");
    first = 0;
    sb_json_string(&o, fv_rob_slot_label(slot, label, sizeof label));
    sb_printf(&o,
              ", \"corruption\": \"%s\", \"severity\": %d, \"images\": %ld, "
              "\"correct\": %ld, \"error\": ",
              c < 0 ? "clean" : fv_corruption_name(c), sv, cell->images, cell->correct);
    sb_num(&o, 1, cell_error(cell));
    sb_printf(&o, ", \"seconds\": %.3f}", cell->seconds);
    total += cell->seconds;
  }
  sb_printf(&o, "%s],\n  \"seconds_total\": %.3f\n}\n", first ? "" : "\n  ", total);
  return sb_commit(&o, path, err);
}

static fv_status parse_plan(const cJSON *run, fv_rob_plan *plan, const char *where, fv_error *err) {
  memset(plan, 0, sizeof *plan);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(run, "corruptions");
  const cJSON *sev = cJSON_GetObjectItemCaseSensitive(run, "severities");
  const cJSON *clean = cJSON_GetObjectItemCaseSensitive(run, "clean");
  if (!cJSON_IsArray(list) || !cJSON_IsArray(sev) || cJSON_GetArraySize(sev) != 2 || !cJSON_IsBool(clean))
    return fv_fail(err,
                   "%s: \"run\" needs \"corruptions\" (names), \"severities\" "
                   "[lo, hi] and \"clean\"",
                   where);
  const cJSON *item;
  cJSON_ArrayForEach(item, list) {
    int c = cJSON_IsString(item) ? fv_rob_corruption_from_name(item->valuestring) : -1;
    if (c < 0) return fv_fail(err, "%s: run.corruptions holds %s, not a corruption name", where, fv_json_kind(item));
    plan->corruption[c] = 1;
  }
  const cJSON *lo = cJSON_GetArrayItem(sev, 0), *hi = cJSON_GetArrayItem(sev, 1);
  if (!cJSON_IsNumber(lo) || !cJSON_IsNumber(hi) || lo->valueint < 1 || hi->valueint > 5 || lo->valueint > hi->valueint)
    return fv_fail(err, "%s: run.severities must be [lo, hi] with 1 <= lo <= hi <= 5", where);
  plan->sev_lo = lo->valueint;
  plan->sev_hi = hi->valueint;
  plan->clean = cJSON_IsTrue(clean);
  return FV_OK;
}

fv_status fv_rob_load_results(const char *path, fv_rob_set *s, fv_rob_plan *plan, char *shard, int shard_size,
                              fv_error *err) {
  char *text = NULL;
  size_t len;
  if (fv_read_file(path, 64u << 20, &text, &len, err)) return FV_ERR;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  fv_status st = FV_OK;
  fv_rob_params p;
  if (!cJSON_IsObject(root) || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(root, "fovea_robustness"))) {
    st = fv_fail(err,
                 "%s: not a RESULTS.json of fovea robustness (no "
                 "\"fovea_robustness\" key)",
                 path);
    goto done;
  }
  const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
  const cJSON *cells = cJSON_GetObjectItemCaseSensitive(root, "cells");
  if (!cJSON_IsObject(params) || !cJSON_IsArray(cells)) {
    st = fv_fail(err, "%s: needs \"params\" (an object) and \"cells\" (an array)", path);
    goto done;
  }
  if ((st = parse_params(params, &p, path, err))) goto done;
  if (plan && (st = parse_plan(cJSON_GetObjectItemCaseSensitive(root, "run"), plan, path, err))) goto done;
  if (shard) {
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(root, "shard");
    snprintf(shard, (size_t)shard_size, "%s", cJSON_IsString(sh) ? sh->valuestring : "");
  }
  /* The parameters must match even when the file holds no cell yet. */
  if (!s->have_params) {
    s->params = p;
    s->have_params = 1;
  } else if ((st = fv_rob_params_check(&s->params, &p, path, err))) {
    goto done;
  }
  const cJSON *item;
  int i = 0;
  cJSON_ArrayForEach(item, cells) {
    char where[FV_ROB_STR + 40];
    snprintf(where, sizeof where, "%s: cells[%d]", path, i++);
    int slot;
    fv_rob_cell c;
    if ((st = parse_cell(item, &slot, &c, where, err)) || (st = fv_rob_set_add(s, &p, slot, &c, where, err))) goto done;
  }
done:
  cJSON_Delete(root);
  return st;
}

fv_status fv_rob_results_baseline(const char *path, char *spec, int size, fv_error *err) {
  char *text = NULL;
  size_t len;
  if (fv_read_file(path, 64u << 20, &text, &len, err)) return FV_ERR;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  fv_status st = FV_OK;
  const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalisation");
  const cJSON *base = cJSON_GetObjectItemCaseSensitive(root, "baseline");
  const cJSON *source = cJSON_GetObjectItemCaseSensitive(base, "source");
  if (!cJSON_IsString(norm))
    st = fv_fail(err,
                 "%s: \"normalisation\" is %s, expected \"alexnet\", "
                 "\"baseline\" or \"none\"",
                 path, fv_json_kind(norm));
  else if (strcmp(norm->valuestring, "alexnet") == 0 || strcmp(norm->valuestring, "none") == 0)
    snprintf(spec, (size_t)size, "%s", norm->valuestring);
  else if (strcmp(norm->valuestring, "baseline") == 0 && cJSON_IsString(source))
    snprintf(spec, (size_t)size, "%s", source->valuestring);
  else
    st = fv_fail(err, "%s: unknown normalisation '%s' or no baseline.source", path, norm->valuestring);
  cJSON_Delete(root);
  return st;
}

fv_status fv_rob_results_notes(const char *path, char notes[][FV_ROB_NOTE], int max, int *n, fv_error *err) {
  char *text = NULL;
  size_t len;
  if (fv_read_file(path, 64u << 20, &text, &len, err)) return FV_ERR;
  cJSON *root = cJSON_ParseWithLength(text, len);
  free(text);
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(root, "notes"), *item;
  fv_status st = FV_OK;
  if (!cJSON_IsArray(list)) {
    st = fv_fail(err, "%s: \"notes\" is %s, expected an array of strings", path, fv_json_kind(list));
  } else {
    cJSON_ArrayForEach(item, list) {
      if (!cJSON_IsString(item)) continue;
      int seen = 0;
      for (int i = 0; i < *n; i++) seen |= strncmp(notes[i], item->valuestring, FV_ROB_NOTE - 1) == 0;
      if (seen || *n >= max) continue;
      snprintf(notes[*n], FV_ROB_NOTE, "%s", item->valuestring);
      (*n)++;
    }
  }
  cJSON_Delete(root);
  return st;
}

/* ---- CSV --------------------------------------------------------------------------------------------------------- */

static void csv_num(sbuf *b, int have, double v) {
  if (have && isfinite(v)) sb_printf(b, "%.10g", v);
}

fv_status fv_rob_write_csv(const char *path, const fv_rob_set *s, const fv_rob_baseline *b, fv_error *err) {
  fv_rob_metrics m;
  fv_rob_set_metrics(s, b, &m);
  sbuf o = {0};
  sb_printf(&o,
            "kind,corruption,severity,images,correct,error,ce,relative_ce,"
            "value,seconds\n");
  for (int slot = 0; slot < FV_ROB_SLOTS; slot++) {
    if (!s->have[slot]) continue;
    int c, sv;
    fv_rob_slot_cell(slot, &c, &sv);
    const fv_rob_cell *cell = &s->cell[slot];
    sb_printf(&o, "cell,%s,%d,%ld,%ld,%.10g,,,,%.3f\n", c < 0 ? "clean" : fv_corruption_name(c), sv, cell->images,
              cell->correct, cell_error(cell), cell->seconds);
  }
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    if (!m.have_mean_err[c] && !m.have_ce[c]) continue;
    sb_printf(&o, "corruption,%s,,,,", fv_corruption_name(c));
    csv_num(&o, m.have_mean_err[c], m.mean_err[c]);
    sb_printf(&o, ",");
    csv_num(&o, m.have_ce[c], m.ce[c]);
    sb_printf(&o, ",");
    csv_num(&o, m.have_rce[c], m.rce[c]);
    sb_printf(&o, ",,\n");
  }
  const struct {
    const char *name;
    int have;
    double v;
  } rows[] = {{"clean_error", m.have_clean, m.clean_error},
              {"mce", m.have_mce, m.mce},
              {"relative_mce", m.have_rmce, m.rmce},
              {"mean_error", m.have_mean_error, m.mean_error},
              {"mean_accuracy", m.have_mean_error, m.mean_accuracy},
              {"extras_mean_error", m.have_extras_mean_error, m.extras_mean_error},
              {"extras_mce", m.have_extras_mce, m.extras_mce},
              {"extras_relative_mce", m.have_extras_rmce, m.extras_rmce}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (!rows[i].have) continue;
    sb_printf(&o, "summary,%s,,,,,,,", rows[i].name);
    csv_num(&o, 1, rows[i].v);
    sb_printf(&o, ",\n");
  }
  sb_printf(&o, "summary,normalisation,,,,,,,%s,\n", norm_name(b->kind));
  return sb_commit(&o, path, err);
}

/* ---- SVG --------------------------------------------------------------------------------------------------------- */

static void sb_xml(sbuf *b, const char *s) {
  for (; *s; s++) {
    if (*s == '&')
      sb_printf(b, "&amp;");
    else if (*s == '<')
      sb_printf(b, "&lt;");
    else if (*s == '>')
      sb_printf(b, "&gt;");
    else if (*s == '"')
      sb_printf(b, "&quot;");
    else if ((unsigned char)*s >= 0x20)
      sb_printf(b, "%c", *s);
  }
}

/* 19 colours that stay apart on white (Tableau 20 without its light grey). */
static const char *const palette[FV_ROB_CORRUPTIONS] = {
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#dbdb8d", "#9edae5"};

fv_status fv_rob_write_svg(const char *path, const fv_rob_set *s, const fv_rob_baseline *b, const char *title,
                           fv_error *err) {
  fv_rob_metrics m;
  fv_rob_set_metrics(s, b, &m);
  const int W = 1280, H = 620;
  /* left panel: error (%) against severity; right panel: CE per corruption as
   * horizontal bars */
  const double lx0 = 70, lx1 = 560, ly0 = 70, ly1 = 520;
  const double rx0 = 900, rx1 = 1240, ry0 = 70, ry1 = 520;
  sbuf o = {0};
  sb_printf(&o,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
            "height=\"%d\" viewBox=\"0 0 %d %d\" "
            "font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
            "font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
            W, H, W, H);
  sb_printf(&o,
            "<text x=\"%d\" y=\"28\" font-size=\"16\" font-weight=\"bold\" "
            "text-anchor=\"middle\">",
            W / 2);
  sb_xml(&o, title ? title : "fovea robustness");
  sb_printf(&o, "</text>\n<text x=\"%d\" y=\"48\" text-anchor=\"middle\" fill=\"#444\">", W / 2);
  char line[512];
  snprintf(line, sizeof line,
           "clean error %s%.2f%%, mean corruption error (main) %s%.2f%%, mCE "
           "%s%.2f, relative mCE %s%.2f (%s)",
           m.have_clean ? "" : "n/a ", m.have_clean ? 100 * m.clean_error : 0.0, m.have_mean_error ? "" : "n/a ",
           m.have_mean_error ? 100 * m.mean_error : 0.0, m.have_mce ? "" : "n/a ", m.have_mce ? m.mce : 0.0,
           m.have_rmce ? "" : "n/a ", m.have_rmce ? m.rmce : 0.0,
           b->kind == FV_NORM_ALEXNET    ? "normalised by AlexNet"
           : b->kind == FV_NORM_BASELINE ? "normalised by a baseline model"
                                         : "not normalised: CE = mean error over severities");
  sb_xml(&o, line);
  sb_printf(&o, "</text>\n");

  /* left panel axes: x = severity 0 (clean) .. 5, y = error 0..100 % */
  sb_printf(&o, "<g stroke=\"#ccc\" stroke-width=\"1\">\n");
  for (int yv = 0; yv <= 100; yv += 20) {
    double y = ly1 - (ly1 - ly0) * yv / 100.0;
    sb_printf(&o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>\n", lx0, y, lx1, y);
  }
  sb_printf(&o,
            "</g>\n<g stroke=\"black\" stroke-width=\"1\"><line x1=\"%.1f\" "
            "y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/>"
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\"/></g>\n",
            lx0, ly1, lx1, ly1, lx0, ly0, lx0, ly1);
  for (int yv = 0; yv <= 100; yv += 20) {
    double y = ly1 - (ly1 - ly0) * yv / 100.0;
    sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", lx0 - 6, y + 4, yv);
  }
  for (int sv = 0; sv <= FV_ROB_SEVERITIES; sv++) {
    double x = lx0 + (lx1 - lx0) * sv / 5.0;
    sb_printf(&o,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"black\"/>\n",
              x, ly1, x, ly1 + 5);
    sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", x, ly1 + 20,
              sv == 0 ? "clean" : (const char *[]){"", "1", "2", "3", "4", "5"}[sv]);
  }
  sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">severity</text>\n", (lx0 + lx1) / 2, ly1 + 40);
  sb_printf(&o,
            "<text transform=\"translate(%.1f %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">top-1 error (%%)</text>\n",
            lx0 - 45, (ly0 + ly1) / 2);
  sb_printf(&o,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-weight=\"bold\">Error by severity</text>\n",
            (lx0 + lx1) / 2, ly0 - 8);
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    int points = 0;
    sbuf pts = {0};
    if (m.have_clean) {
      sb_printf(&pts, "%.1f,%.1f ", lx0, ly1 - (ly1 - ly0) * m.clean_error);
    }
    for (int sv = 0; sv < FV_ROB_SEVERITIES; sv++) {
      if (!m.have[c][sv]) continue;
      double x = lx0 + (lx1 - lx0) * (sv + 1) / 5.0, y = ly1 - (ly1 - ly0) * m.err[c][sv];
      sb_printf(&pts, "%.1f,%.1f ", x, y);
      points++;
    }
    if (points > 0 && !pts.oom) {
      sb_printf(&o,
                "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s "
                "points=\"%s\"><title>%s</title>"
                "</polyline>\n",
                palette[c], c >= FV_ROB_MAIN ? " stroke-dasharray=\"6 3\"" : "", pts.data, fv_corruption_name(c));
      for (int sv = 0; sv < FV_ROB_SEVERITIES; sv++) {
        if (!m.have[c][sv]) continue;
        double x = lx0 + (lx1 - lx0) * (sv + 1) / 5.0, y = ly1 - (ly1 - ly0) * m.err[c][sv];
        sb_printf(&o,
                  "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                  "fill=\"%s\"><title>%s s%d: %.2f%%</title></circle>\n",
                  x, y, palette[c], fv_corruption_name(c), sv + 1, 100 * m.err[c][sv]);
      }
    }
    free(pts.data);
    if (pts.oom) o.oom = 1;
  }
  if (m.have_clean)
    sb_printf(&o,
              "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" "
              "fill=\"black\"><title>clean: %.2f%%</title></circle>\n",
              lx0, ly1 - (ly1 - ly0) * m.clean_error, 100 * m.clean_error);

  /* legend between the panels: one row per corruption, extras dashed */
  double gx = 590, gy = ly0;
  sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" font-weight=\"bold\">corruption</text>\n", gx, gy - 8);
  for (int c = 0, row = 0; c < FV_ROB_CORRUPTIONS; c++) {
    int any = 0;
    for (int sv = 0; sv < FV_ROB_SEVERITIES; sv++) any |= m.have[c][sv];
    if (!any) continue;
    double y = gy + 12 + 22 * row++;
    sb_printf(&o,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"%s\" stroke-width=\"3\"%s/>\n",
              gx, y - 4, gx + 24, y - 4, palette[c], c >= FV_ROB_MAIN ? " stroke-dasharray=\"6 3\"" : "");
    sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\">%s%s</text>\n", gx + 30, y, fv_corruption_name(c),
              c >= FV_ROB_MAIN ? " (extra)" : "");
  }

  /* right panel: CE per corruption */
  double max_ce = 100;
  int rows = 0;
  for (int c = 0; c < FV_ROB_CORRUPTIONS; c++) {
    int any = 0;
    for (int sv = 0; sv < FV_ROB_SEVERITIES; sv++) any |= m.have[c][sv];
    rows += any;
    if (m.have_ce[c] && m.ce[c] > max_ce) max_ce = m.ce[c];
  }
  max_ce = ceil(max_ce / 20.0) * 20.0;
  sb_printf(&o,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
            "font-weight=\"bold\">%s</text>\n",
            (rx0 + rx1) / 2, ry0 - 8,
            b->kind == FV_NORM_NONE      ? "CE = mean error over severities (%)"
            : b->kind == FV_NORM_ALEXNET ? "CE (AlexNet = 100)"
                                         : "CE (baseline = 100)");
  for (double v = 0; v <= max_ce + 1e-9; v += max_ce > 200 ? 50 : 20) {
    double x = rx0 + (rx1 - rx0) * v / max_ce;
    sb_printf(&o,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"#ccc\"/>\n",
              x, ry0, x, ry1);
    sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", x, ry1 + 20, v);
  }
  sb_printf(&o,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"black\"/>\n",
            rx0, ry0, rx0, ry1);
  sb_printf(&o,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
            "stroke=\"black\"/>\n",
            rx0, ry1, rx1, ry1);
  double bar_h = rows > 0 ? (ry1 - ry0) / rows : 0;
  for (int c = 0, row = 0; c < FV_ROB_CORRUPTIONS; c++) {
    int any = 0;
    for (int sv = 0; sv < FV_ROB_SEVERITIES; sv++) any |= m.have[c][sv];
    if (!any) continue;
    double y = ry0 + bar_h * row++;
    sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s%s</text>\n", rx0 - 6, y + bar_h / 2 + 4,
              fv_corruption_name(c), c >= FV_ROB_MAIN ? " (extra)" : "");
    if (m.have_ce[c]) {
      double w = (rx1 - rx0) * m.ce[c] / max_ce;
      sb_printf(&o,
                "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                "fill=\"%s\"%s><title>%s: CE %.2f</title>"
                "</rect>\n",
                rx0, y + bar_h * 0.15, w, bar_h * 0.7, palette[c], c >= FV_ROB_MAIN ? " fill-opacity=\"0.6\"" : "",
                fv_corruption_name(c), m.ce[c]);
      sb_printf(&o, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">%.1f</text>\n", rx0 + w + 3, y + bar_h / 2 + 4,
                m.ce[c]);
    } else {
      sb_printf(&o,
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\" "
                "fill=\"#888\">n/a (needs severities 1-5)</text>\n",
                rx0 + 4, y + bar_h / 2 + 4);
    }
  }
  if (m.have_mce) {
    double x = rx0 + (rx1 - rx0) * m.mce / max_ce;
    sb_printf(&o,
              "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
              "stroke=\"black\" stroke-dasharray=\"4 3\"/>\n",
              x, ry0, x, ry1);
    sb_printf(&o,
              "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
              "font-size=\"11\">mCE %.1f</text>\n",
              x, ry1 + 36, m.mce);
  }
  sb_printf(&o, "<text x=\"%.1f\" y=\"%d\" fill=\"#444\" font-size=\"11\">", lx0 - 40, H - 16);
  sb_printf(&o, "model ");
  sb_xml(&o, s->params.model);
  sb_printf(&o, "; data ");
  sb_xml(&o, s->params.corrupted_dataset[0] ? s->params.corrupted_dataset : s->params.dataset);
  if (s->params.limit) sb_printf(&o, " (first %d images)", s->params.limit);
  sb_printf(&o, "; table %s", s->params.table[0] ? s->params.table : "n/a");
  if (strcmp(s->params.variant, "hendrycks") == 0) sb_printf(&o, " (hendrycks variant)");
  sb_printf(&o, "; seed %u", s->params.seed);
  if (s->params.frost[0]) {
    sb_printf(&o, "; frost ");
    sb_xml(&o, s->params.frost);
  }
  sb_printf(&o, "</text>\n</svg>\n");
  return sb_commit(&o, path, err);
}
