/* vit_config.c: what a timm ViT/DeiT model is, from config.json, its architecture name and
 * its tensor shapes (see vit_config.h).
 *
 * Three sources, in order: config.json (top level, "pretrained_cfg" and "model_args"), the
 * architecture-name table (a parser for timm's vit_* / deit_* / deit3_* registry names), and
 * the tensor shapes of the .safetensors file. model_args override the table, as keyword
 * arguments do in timm.create_model; the tensor shapes are the ground truth, and any value
 * from config.json or the table that disagrees with them is an error naming both sources.
 * Within config.json, the top level and model_args must agree too.
 *
 * "Unknown" while resolving: -1 for every int field (0 is a real value for num_classes and
 * reg_tokens), 0 for mlp_ratio, crop_pct and norm_eps, std[0] = 0 for mean/std, and the value
 * 2 (one past the enum) for global_pool, interpolation and crop_mode. After
 * fv_vit_config_resolve succeeds, every field is known.
 *
 * Deliberately not here: loading tensors (vit.c does, and reports unexpected ones with
 * fv_st_check_all_used), timm variants with other blocks (CLIP's norm_pre, qk_norm, attention
 * pooling, RoPE: their names fall outside the table and their extra tensors fail the load), and
 * dynamic image sizes (the positional embedding fixes the grid). */
#include "vit_config.h"
#include "../engine/file.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define UNKNOWN (-1)
#define POOL_UNKNOWN ((fv_pool)2)
#define INTERP_UNKNOWN ((fv_interp)2)
#define CROP_UNKNOWN ((fv_crop_mode)2)
/* fv_vit_config_default marks num_heads so: embed_dim / 64 once embed_dim is known. */
#define HEADS_FROM_EMBED (-2)
#define MAX_DIM 1000000

static void set_unknown(fv_vit_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->num_classes = UNKNOWN;
  cfg->img_size[0] = cfg->img_size[1] = UNKNOWN;
  cfg->patch_size = cfg->in_chans = cfg->embed_dim = cfg->depth = cfg->num_heads = UNKNOWN;
  cfg->mlp_hidden = cfg->qkv_bias = cfg->class_token = cfg->reg_tokens = cfg->no_embed_class = UNKNOWN;
  cfg->distilled = cfg->layer_scale = cfg->fc_norm = UNKNOWN;
  cfg->global_pool = POOL_UNKNOWN;
  cfg->interpolation = INTERP_UNKNOWN;
  cfg->crop_mode = CROP_UNKNOWN;
}

void fv_vit_config_free(fv_vit_config *cfg) {
  if (!cfg) return;
  for (int i = 0; cfg->label_names && i < cfg->n_labels; i++) free(cfg->label_names[i]);
  free(cfg->label_names);
  cfg->label_names = NULL;
  cfg->n_labels = 0;
}

void fv_vit_config_default(fv_vit_config *cfg) {
  static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
  set_unknown(cfg);
  cfg->num_heads = HEADS_FROM_EMBED;
  cfg->interpolation = FV_INTERP_BICUBIC;
  cfg->crop_pct = 0.9f;
  cfg->crop_mode = FV_CROP_CENTER;
  memcpy(cfg->mean, mean, sizeof mean);
  memcpy(cfg->std, std, sizeof std);
}

/* ---- config.json -------------------------------------------------------------------------- */

static int json_int_value(const cJSON *v, int lo, int hi, int *out) {
  if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble != floor(v->valuedouble) ||
      v->valuedouble < lo || v->valuedouble > hi)
    return 0;
  *out = (int)v->valuedouble;
  return 1;
}

/* Optional integer in [lo, hi]: absent or null leaves *out alone. */
static fv_status get_int(const char *path, const cJSON *obj, const char *where, const char *key, int lo, int hi,
                         int *out, fv_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return FV_OK;
  if (!json_int_value(v, lo, hi, out)) {
    if (cJSON_IsNumber(v))
      return fv_fail(err, "%s: %s\"%s\" is %g, expected an integer in %d..%d", path, where, key, v->valuedouble, lo,
                     hi);
    return fv_fail(err, "%s: %s\"%s\" is %s, expected an integer in %d..%d", path, where, key, fv_json_kind(v), lo, hi);
  }
  return FV_OK;
}

static fv_status get_bool(const char *path, const cJSON *obj, const char *where, const char *key, int *out,
                          fv_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return FV_OK;
  if (!cJSON_IsBool(v))
    return fv_fail(err, "%s: %s\"%s\" is %s, expected true or false", path, where, key, fv_json_kind(v));
  *out = cJSON_IsTrue(v);
  return FV_OK;
}

/* Optional string; *out stays NULL when absent or null. */
static fv_status get_string(const char *path, const cJSON *obj, const char *where, const char *key, const char **out,
                            fv_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return FV_OK;
  if (!cJSON_IsString(v))
    return fv_fail(err, "%s: %s\"%s\" is %s, expected a string", path, where, key, fv_json_kind(v));
  *out = v->valuestring;
  return FV_OK;
}

/* "token", "avg" or "" (decided later from the class token, as timm's default); else an error. */
static fv_status parse_pool(const char *path, const char *where, const char *s, fv_pool *out, fv_error *err) {
  if (!s) return FV_OK;
  if (strcmp(s, "token") == 0)
    *out = FV_POOL_TOKEN;
  else if (strcmp(s, "avg") == 0)
    *out = FV_POOL_AVG;
  else if (s[0] == '\0')
    *out = POOL_UNKNOWN;
  else
    return fv_fail(err, "%s: %s\"global_pool\" is \"%.64s\", expected \"token\", \"avg\" or \"\"", path, where, s);
  return FV_OK;
}

static fv_status parse_float3(const char *path, const cJSON *obj, const char *key, int positive, float out[3],
                              fv_error *err) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
  if (!v || cJSON_IsNull(v)) return FV_OK;
  /* One value per channel: 3, or 1 for single-channel models (one value also fills all three,
   * as timm's transforms broadcast it). */
  int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
  if (n != 3 && n != 1)
    return fv_fail(err, "%s: pretrained_cfg \"%s\" is %s%s, expected an array of 1 or 3 numbers", path, key,
                   fv_json_kind(v), cJSON_IsArray(v) ? " of the wrong length" : "");
  int i = 0;
  for (const cJSON *e = v->child; e; e = e->next, i++) {
    if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble) || (positive && !(e->valuedouble > 0)) ||
        fabs(e->valuedouble) > 1e6)
      return cJSON_IsNumber(e) ? fv_fail(err, "%s: pretrained_cfg \"%s\"[%d] is %g, expected a finite%s number", path,
                                         key, i, e->valuedouble, positive ? " positive" : "")
                               : fv_fail(err, "%s: pretrained_cfg \"%s\"[%d] is %s, expected a finite%s number", path,
                                         key, i, fv_json_kind(e), positive ? " positive" : "");
    out[i] = (float)e->valuedouble;
  }
  if (n == 1) out[1] = out[2] = out[0];
  return FV_OK;
}

static fv_status parse_pretrained_cfg(const char *path, const cJSON *pc, fv_vit_config *cfg, int input_size[3],
                                      fv_error *err) {
  if (!cJSON_IsObject(pc))
    return fv_fail(err, "%s: \"pretrained_cfg\" is %s, expected an object", path, fv_json_kind(pc));
  const cJSON *is = cJSON_GetObjectItemCaseSensitive(pc, "input_size");
  if (is && !cJSON_IsNull(is)) {
    if (!cJSON_IsArray(is) || cJSON_GetArraySize(is) != 3)
      return fv_fail(err, "%s: pretrained_cfg \"input_size\" is %s%s, expected [C, H, W]", path, fv_json_kind(is),
                     cJSON_IsArray(is) ? " of the wrong length" : "");
    int i = 0;
    for (const cJSON *e = is->child; e; e = e->next, i++)
      if (!json_int_value(e, 1, MAX_DIM, &input_size[i]))
        return fv_fail(err, "%s: pretrained_cfg \"input_size\"[%d] is %s, expected a positive integer", path, i,
                       fv_json_kind(e));
  }
  const char *s = NULL;
  if (get_string(path, pc, "pretrained_cfg ", "interpolation", &s, err)) return FV_ERR;
  if (s) {
    if (strcmp(s, "bicubic") == 0)
      cfg->interpolation = FV_INTERP_BICUBIC;
    else if (strcmp(s, "bilinear") == 0)
      cfg->interpolation = FV_INTERP_BILINEAR;
    else
      return fv_fail(err, "%s: pretrained_cfg \"interpolation\" is \"%.64s\", expected \"bicubic\" or \"bilinear\"",
                     path, s);
  }
  s = NULL;
  if (get_string(path, pc, "pretrained_cfg ", "crop_mode", &s, err)) return FV_ERR;
  if (s) {
    if (strcmp(s, "center") == 0)
      cfg->crop_mode = FV_CROP_CENTER;
    else if (strcmp(s, "squash") == 0)
      cfg->crop_mode = FV_CROP_SQUASH;
    else
      return fv_fail(err, "%s: pretrained_cfg \"crop_mode\" is \"%.64s\", expected \"center\" or \"squash\"", path, s);
  }
  const cJSON *cp = cJSON_GetObjectItemCaseSensitive(pc, "crop_pct");
  if (cp && !cJSON_IsNull(cp)) {
    if (!cJSON_IsNumber(cp) || !(cp->valuedouble > 0 && cp->valuedouble <= 1))
      return fv_fail(err, "%s: pretrained_cfg \"crop_pct\" is %s%s, expected a number in (0, 1]", path,
                     fv_json_kind(cp), cJSON_IsNumber(cp) ? " out of range" : "");
    cfg->crop_pct = (float)cp->valuedouble;
  }
  float mean[3] = {0}, std[3] = {0};
  int have_mean = cJSON_GetObjectItemCaseSensitive(pc, "mean") != NULL;
  int have_std = cJSON_GetObjectItemCaseSensitive(pc, "std") != NULL;
  if (parse_float3(path, pc, "mean", 0, mean, err) || parse_float3(path, pc, "std", 1, std, err)) return FV_ERR;
  if (have_mean != have_std)
    return fv_fail(err, "%s: pretrained_cfg has \"%s\" without \"%s\", expected both or neither", path,
                   have_mean ? "mean" : "std", have_mean ? "std" : "mean");
  if (have_mean && std[0] > 0) {
    memcpy(cfg->mean, mean, sizeof mean);
    memcpy(cfg->std, std, sizeof std);
  }
  return FV_OK;
}

static fv_status parse_model_args(const char *path, const cJSON *ma, fv_vit_config *cfg, fv_pool *pool,
                                  int *num_classes, fv_error *err) {
  const char *w = "model_args ";
  if (!cJSON_IsObject(ma)) return fv_fail(err, "%s: \"model_args\" is %s, expected an object", path, fv_json_kind(ma));
  const cJSON *img = cJSON_GetObjectItemCaseSensitive(ma, "img_size");
  if (img && !cJSON_IsNull(img)) {
    int h, wd;
    if (json_int_value(img, 1, MAX_DIM, &h)) {
      cfg->img_size[0] = cfg->img_size[1] = h;
    } else if (cJSON_IsArray(img) && cJSON_GetArraySize(img) == 2 && json_int_value(img->child, 1, MAX_DIM, &h) &&
               json_int_value(img->child->next, 1, MAX_DIM, &wd)) {
      cfg->img_size[0] = h;
      cfg->img_size[1] = wd;
    } else {
      return fv_fail(err, "%s: model_args \"img_size\" is %s, expected a positive integer or [H, W]", path,
                     fv_json_kind(img));
    }
  }
  if (get_int(path, ma, w, "patch_size", 1, 4096, &cfg->patch_size, err) ||
      get_int(path, ma, w, "embed_dim", 1, MAX_DIM, &cfg->embed_dim, err) ||
      get_int(path, ma, w, "depth", 1, 10000, &cfg->depth, err) ||
      get_int(path, ma, w, "num_heads", 1, MAX_DIM, &cfg->num_heads, err) ||
      get_int(path, ma, w, "reg_tokens", 0, 4096, &cfg->reg_tokens, err) ||
      get_int(path, ma, w, "in_chans", 1, 4, &cfg->in_chans, err) ||
      get_int(path, ma, w, "num_classes", 0, 10000000, num_classes, err) ||
      get_bool(path, ma, w, "qkv_bias", &cfg->qkv_bias, err) ||
      get_bool(path, ma, w, "class_token", &cfg->class_token, err) ||
      get_bool(path, ma, w, "no_embed_class", &cfg->no_embed_class, err) ||
      get_bool(path, ma, w, "fc_norm", &cfg->fc_norm, err))
    return FV_ERR;
  const cJSON *r = cJSON_GetObjectItemCaseSensitive(ma, "mlp_ratio");
  if (r && !cJSON_IsNull(r)) {
    if (!cJSON_IsNumber(r) || !(r->valuedouble > 0 && r->valuedouble <= 1000))
      return fv_fail(err, "%s: model_args \"mlp_ratio\" is %s, expected a positive number", path, fv_json_kind(r));
    cfg->mlp_ratio = (float)r->valuedouble;
  }
  const cJSON *iv = cJSON_GetObjectItemCaseSensitive(ma, "init_values");
  if (iv) {
    if (cJSON_IsNull(iv))
      cfg->layer_scale = 0;
    else if (cJSON_IsNumber(iv) && isfinite(iv->valuedouble))
      cfg->layer_scale = iv->valuedouble != 0;
    else
      return fv_fail(err, "%s: model_args \"init_values\" is %s, expected a number or null", path, fv_json_kind(iv));
  }
  const char *s = NULL;
  if (get_string(path, ma, w, "global_pool", &s, err) || parse_pool(path, w, s, pool, err)) return FV_ERR;
  /* Options that add blocks Fovea does not build: refuse them here, by name. */
  static const char *unsupported[] = {"pre_norm", "qk_norm", "scale_attn_norm", "scale_mlp_norm", NULL};
  for (int i = 0; unsupported[i]; i++) {
    int on = 0;
    if (get_bool(path, ma, w, unsupported[i], &on, err)) return FV_ERR;
    if (on)
      return fv_fail(err, "%s: model_args \"%s\" is true, which Fovea's ViT does not support (expected false)", path,
                     unsupported[i]);
  }
  return FV_OK;
}

/* "tap": {"num_scales": K (1..16), "temperature": T (> 0, default 1), "blocks": "all" (optional)}.
 * Other keys are refused: they would describe a TAP variant the engine does not compute. */
static fv_status parse_tap(const char *path, const cJSON *tap, fv_vit_config *cfg, fv_error *err) {
  if (!cJSON_IsObject(tap))
    return fv_fail(err, "%s: \"tap\" is %s, expected an object {\"num_scales\": K, \"temperature\": T}", path,
                   fv_json_kind(tap));
  int k = 0;
  if (get_int(path, tap, "tap ", "num_scales", 1, 16, &k, err)) return FV_ERR;
  if (k == 0) return fv_fail(err, "%s: \"tap\" has no \"num_scales\", expected an integer in 1..16", path);
  cfg->tap_scales = k;
  cfg->tap_temperature = 1.0f;
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(tap, "temperature");
  if (t && !cJSON_IsNull(t)) {
    if (!cJSON_IsNumber(t))
      return fv_fail(err, "%s: tap \"temperature\" is %s, expected a positive number", path, fv_json_kind(t));
    if (!(t->valuedouble > 0) || !isfinite((float)t->valuedouble))
      return fv_fail(err, "%s: tap \"temperature\" is %g, expected a positive finite number", path, t->valuedouble);
    cfg->tap_temperature = (float)t->valuedouble;
  }
  for (const cJSON *e = tap->child; e; e = e->next) {
    if (strcmp(e->string, "num_scales") == 0 || strcmp(e->string, "temperature") == 0) continue;
    if (strcmp(e->string, "blocks") == 0 &&
        (cJSON_IsNull(e) || (cJSON_IsString(e) && strcmp(e->valuestring, "all") == 0)))
      continue; /* the tensors decide per block; "all" says nothing more */
    return fv_fail(err,
                   "%s: tap \"%.64s\" is not supported, expected only \"num_scales\", \"temperature\" and "
                   "\"blocks\": \"all\" (the blocks with TAP are those with dilation_predictor tensors)",
                   path, e->string);
  }
  return FV_OK;
}

static fv_status parse_labels(const char *path, const cJSON *ln, fv_vit_config *cfg, fv_error *err) {
  if (!cJSON_IsArray(ln))
    return fv_fail(err, "%s: \"label_names\" is %s, expected an array of strings", path, fv_json_kind(ln));
  int n = cJSON_GetArraySize(ln);
  cfg->label_names = calloc((size_t)(n > 0 ? n : 1), sizeof *cfg->label_names);
  if (!cfg->label_names) return fv_fail(err, "%s: out of memory for %d label names", path, n);
  int i = 0;
  for (const cJSON *e = ln->child; e; e = e->next, i++) {
    if (!cJSON_IsString(e))
      return fv_fail(err, "%s: \"label_names\"[%d] is %s, expected a string", path, i, fv_json_kind(e));
    cfg->label_names[i] = strdup(e->valuestring);
    if (!cfg->label_names[i]) return fv_fail(err, "%s: out of memory copying label %d", path, i);
    cfg->n_labels = i + 1;
  }
  return FV_OK;
}

fv_status fv_vit_config_parse(const char *json, size_t len, const char *path, fv_vit_config *cfg, fv_error *err) {
  set_unknown(cfg);
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) {
    const char *at = cJSON_GetErrorPtr();
    long off = at && at >= json && at <= json + len ? (long)(at - json) : -1;
    fv_fail(err, "%s: malformed JSON (error near byte %ld of %zu), expected a JSON object", path, off, len);
    goto fail;
  }
  if (!cJSON_IsObject(root)) {
    fv_fail(err, "%s: top level is %s, expected a JSON object", path, fv_json_kind(root));
    goto fail;
  }
  const char *arch = NULL, *pool_s = NULL;
  if (get_string(path, root, "", "architecture", &arch, err)) goto fail;
  if (arch) {
    if (strlen(arch) >= sizeof cfg->architecture) {
      fv_fail(err, "%s: \"architecture\" is %zu characters long, expected fewer than %zu", path, strlen(arch),
              sizeof cfg->architecture);
      goto fail;
    }
    snprintf(cfg->architecture, sizeof cfg->architecture, "%s", arch);
  }
  fv_pool top_pool = POOL_UNKNOWN, args_pool = POOL_UNKNOWN;
  int top_classes = UNKNOWN, args_classes = UNKNOWN;
  if (get_int(path, root, "", "num_classes", 0, 10000000, &top_classes, err)) goto fail;
  if (get_string(path, root, "", "global_pool", &pool_s, err) || parse_pool(path, "", pool_s, &top_pool, err))
    goto fail;

  int input_size[3] = {UNKNOWN, UNKNOWN, UNKNOWN};
  const cJSON *pc = cJSON_GetObjectItemCaseSensitive(root, "pretrained_cfg");
  if (pc && !cJSON_IsNull(pc) && parse_pretrained_cfg(path, pc, cfg, input_size, err)) goto fail;
  const cJSON *ma = cJSON_GetObjectItemCaseSensitive(root, "model_args");
  if (ma && !cJSON_IsNull(ma) && parse_model_args(path, ma, cfg, &args_pool, &args_classes, err)) goto fail;

  /* The top level and model_args describe the same model: they must agree. */
  if (top_classes != UNKNOWN && args_classes != UNKNOWN && top_classes != args_classes) {
    fv_fail(err, "%s: \"num_classes\" is %d but model_args \"num_classes\" is %d, expected the same value", path,
            top_classes, args_classes);
    goto fail;
  }
  cfg->num_classes = top_classes != UNKNOWN ? top_classes : args_classes;
  if (pool_s && ma && cJSON_GetObjectItemCaseSensitive(ma, "global_pool") && top_pool != args_pool) {
    fv_fail(err, "%s: \"global_pool\" is \"%s\" but model_args \"global_pool\" differs, expected the same value", path,
            pool_s);
    goto fail;
  }
  cfg->global_pool = top_pool != POOL_UNKNOWN ? top_pool : args_pool;
  if (input_size[0] != UNKNOWN) {
    if (cfg->in_chans != UNKNOWN && cfg->in_chans != input_size[0]) {
      fv_fail(err, "%s: pretrained_cfg \"input_size\" has %d channels but model_args \"in_chans\" is %d", path,
              input_size[0], cfg->in_chans);
      goto fail;
    }
    if (cfg->img_size[0] != UNKNOWN && (cfg->img_size[0] != input_size[1] || cfg->img_size[1] != input_size[2])) {
      fv_fail(err,
              "%s: pretrained_cfg \"input_size\" is %dx%d but model_args \"img_size\" is %dx%d, expected the "
              "same size (Fovea runs a model at the size its positional embedding was trained for)",
              path, input_size[1], input_size[2], cfg->img_size[0], cfg->img_size[1]);
      goto fail;
    }
    cfg->in_chans = input_size[0];
    cfg->img_size[0] = input_size[1];
    cfg->img_size[1] = input_size[2];
  }
  const cJSON *tap = cJSON_GetObjectItemCaseSensitive(root, "tap");
  if (tap && !cJSON_IsNull(tap) && parse_tap(path, tap, cfg, err)) goto fail;
  const cJSON *ln = cJSON_GetObjectItemCaseSensitive(root, "label_names");
  if (ln && !cJSON_IsNull(ln)) {
    if (parse_labels(path, ln, cfg, err)) goto fail;
    if (cfg->num_classes != UNKNOWN && cfg->n_labels != cfg->num_classes) {
      fv_fail(err, "%s: \"label_names\" has %d names but \"num_classes\" is %d, expected one name per class", path,
              cfg->n_labels, cfg->num_classes);
      goto fail;
    }
  }
  cJSON_Delete(root);
  return FV_OK;
fail:
  cJSON_Delete(root);
  fv_vit_config_free(cfg);
  return FV_ERR;
}

/* ---- architecture-name table ---------------------------------------------------------------- */

typedef struct arch_info {
  int embed_dim, depth, num_heads, patch_size, img_size, reg_tokens;
  int class_token, no_embed_class, layer_scale, distilled, qkv_bias, fc_norm;
  float mlp_ratio;
  fv_pool global_pool;
} arch_info;

typedef struct size_entry {
  const char *name;
  int embed_dim, depth, num_heads;
} size_entry;

static const size_entry vit_sizes[] = {
    {"tiny", 192, 12, 3},    {"small", 384, 12, 6},  {"medium", 512, 12, 8}, {"base", 768, 12, 12},
    {"large", 1024, 24, 16}, {"huge", 1280, 32, 16}, {NULL, 0, 0, 0},
};

static const size_entry *find_size(const char *name, int allow_tiny, int allow_medium, int allow_large) {
  for (const size_entry *s = vit_sizes; s->name; s++)
    if (strcmp(s->name, name) == 0) {
      if (!allow_tiny && strcmp(name, "tiny") == 0) return NULL;
      if (!allow_medium && strcmp(name, "medium") == 0) return NULL;
      if (!allow_large && (strcmp(name, "large") == 0 || strcmp(name, "huge") == 0)) return NULL;
      return s;
    }
  return NULL;
}

/* Parses "<digits>" after prefix; 0 when tok is not prefix followed by 1..5 digits. */
static int number_after(const char *tok, const char *prefix) {
  size_t n = strlen(prefix);
  if (strncmp(tok, prefix, n) != 0) return 0;
  tok += n;
  size_t d = strlen(tok);
  if (d < 1 || d > 5) return 0;
  for (size_t i = 0; i < d; i++)
    if (!isdigit((unsigned char)tok[i])) return 0;
  return atoi(tok);
}

/* Understands the timm registry names whose model_args are known here:
 *   vit_{tiny,small,medium,base,large,huge}_patch{P}[_reg{N}][_gap][_{IMG}]
 *   deit_{tiny,small,base}[_distilled]_patch16_{IMG}
 *   deit3_{small,medium,base,large,huge}_patch{P}_{IMG}
 * with any ".pretrained_tag" ignored. Returns 0 for anything else (including vit_*_clip_*,
 * *_dinov2, *_siglip_*): such models need model_args. The timm facts encoded:
 * - reg-token models have no_embed_class=True; "_gap" means class_token=False, global_pool='avg'.
 * - fc_norm follows timm's default (LayerNorm after pooling when global_pool is 'avg'), except
 *   the two gap models without registers, which set fc_norm=False explicitly in timm:
 *   vit_base_patch16_gap_224 (which also has num_heads=16) and vit_medium_patch16_gap_* (which
 *   also have qkv_bias=False and init_values=1e-6).
 * - deit3_* have no_embed_class=True and layer scale (init_values=1e-6). */
static int parse_arch(const char *full, arch_info *a) {
  char name[128];
  snprintf(name, sizeof name, "%s", full);
  char *dot = strchr(name, '.');
  if (dot) *dot = '\0';
  char *tok[16];
  int n = 0;
  for (char *save = NULL, *t = strtok_r(name, "_", &save); t; t = strtok_r(NULL, "_", &save)) {
    if (n == 16) return 0;
    tok[n++] = t;
  }
  if (n < 3) return 0;
  *a = (arch_info){.reg_tokens = 0,
                   .class_token = 1,
                   .no_embed_class = 0,
                   .layer_scale = 0,
                   .distilled = 0,
                   .qkv_bias = 1,
                   .fc_norm = 0,
                   .mlp_ratio = 4.0f,
                   .global_pool = FV_POOL_TOKEN,
                   .img_size = UNKNOWN};
  const int is_vit = strcmp(tok[0], "vit") == 0, is_deit = strcmp(tok[0], "deit") == 0,
            is_deit3 = strcmp(tok[0], "deit3") == 0;
  if (!is_vit && !is_deit && !is_deit3) return 0;
  const size_entry *size = find_size(tok[1], !is_deit3, !is_deit, !is_deit);
  if (!size) return 0;
  a->embed_dim = size->embed_dim;
  a->depth = size->depth;
  a->num_heads = size->num_heads;
  int i = 2;
  if (is_deit && strcmp(tok[i], "distilled") == 0) {
    a->distilled = 1;
    i++;
  }
  if (i >= n || !(a->patch_size = number_after(tok[i], "patch"))) return 0;
  if (is_deit && a->patch_size != 16) return 0;
  i++;
  int gap = 0;
  for (; i < n; i++) {
    int v;
    if (is_vit && (v = number_after(tok[i], "reg")) > 0 && !a->reg_tokens) {
      a->reg_tokens = v;
      a->no_embed_class = 1;
    } else if (is_vit && strcmp(tok[i], "gap") == 0 && !gap) {
      gap = 1;
    } else if ((v = number_after(tok[i], "")) > 0 && a->img_size == UNKNOWN && i == n - 1) {
      a->img_size = v;
    } else {
      return 0; /* a variant this table does not know */
    }
  }
  if (gap) {
    a->class_token = 0;
    a->global_pool = FV_POOL_AVG;
    a->fc_norm = 1;
    if (!a->reg_tokens && size->embed_dim == 768) {
      a->num_heads = 16;
      a->fc_norm = 0;
    } else if (!a->reg_tokens && size->embed_dim == 512) {
      a->qkv_bias = 0;
      a->layer_scale = 1;
      a->fc_norm = 0;
    } else if (!a->reg_tokens) {
      return 0;
    }
  }
  if (is_deit3) {
    a->no_embed_class = 1;
    a->layer_scale = 1;
  }
  return 1;
}

/* ---- resolution ----------------------------------------------------------------------------- */

typedef struct resolver {
  fv_vit_config *cfg;
  const fv_safetensors *st;
  const char *file;    /* the safetensors path, for messages */
  char table_src[192]; /* "architecture table entry for 'name'" */
  fv_error *err;
} resolver;

static const fv_st_tensor *find(const fv_safetensors *st, const char *name) {
  for (int i = 0; st && i < st->count; i++)
    if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
  return NULL;
}

/* Takes the table's value for an unknown field; a field config.json set is kept (model_args
 * override the table, as kwargs do in timm). */
static void from_table(int *field, int value) {
  if (*field == UNKNOWN && value != UNKNOWN) *field = value;
}

/* Sets a field from the tensor shapes, or checks the value config.json / the table gave. */
static fv_status from_shape(resolver *r, const char *field_name, int *field, int value, const char *tensor_desc,
                            const char *given_by) {
  if (*field == UNKNOWN || *field == HEADS_FROM_EMBED) {
    *field = value;
    return FV_OK;
  }
  if (*field != value)
    return fv_fail(r->err, "%s: %s is %d according to %s, but %d according to %s", r->file, field_name, *field,
                   given_by, value, tensor_desc);
  return FV_OK;
}

static int shape_is(const fv_st_tensor *t, int ndim, const int64_t *want) {
  if (t->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (want[i] >= 0 && t->shape[i] != want[i]) return 0;
  return 1;
}

static void shape_str(const fv_st_tensor *t, char *buf, size_t cap) {
  size_t used = 0;
  buf[0] = '\0';
  used += (size_t)snprintf(buf, cap, "[");
  for (int i = 0; i < t->ndim && used < cap; i++)
    used += (size_t)snprintf(buf + used, cap - used, "%s%lld", i ? ", " : "", (long long)t->shape[i]);
  if (used < cap) snprintf(buf + used, cap - used, "]");
}

static fv_status bad_shape(resolver *r, const fv_st_tensor *t, const char *expected) {
  char s[128];
  shape_str(t, s, sizeof s);
  return fv_fail(r->err, "%s: tensor \"%s\" has shape %s, expected %s", r->file, t->name, s, expected);
}

/* Counts blocks.N.* to find the depth: the largest N + 1, with every block in between present. */
static fv_status count_blocks(resolver *r, int *depth) {
  long max = -1;
  for (int i = 0; i < r->st->count; i++) {
    const char *n = r->st->tensors[i].name;
    if (strncmp(n, "blocks.", 7) != 0 || !isdigit((unsigned char)n[7])) continue;
    char *end;
    long v = strtol(n + 7, &end, 10);
    if (*end != '.' || v > 10000) continue;
    if (v > max) max = v;
  }
  for (long b = 0; b <= max; b++) {
    char name[64];
    snprintf(name, sizeof name, "blocks.%ld.attn.qkv.weight", b);
    if (!find(r->st, name))
      return fv_fail(r->err,
                     "%s: block %ld has no tensor \"%s\" although blocks up to %ld exist, expected every block "
                     "0..%ld",
                     r->file, b, name, max, max);
  }
  *depth = (int)(max + 1);
  return FV_OK;
}

static int is_square(int64_t v, int64_t *root) {
  if (v <= 0) return 0;
  int64_t s = (int64_t)llround(sqrt((double)v));
  while (s * s > v) s--;
  while ((s + 1) * (s + 1) <= v) s++;
  *root = s;
  return s * s == v;
}

static fv_status resolve_shapes(resolver *r) {
  fv_vit_config *c = r->cfg;
  const char *given = r->table_src[0] ? "config.json or the architecture table" : "config.json";
  const fv_st_tensor *pe = find(r->st, "patch_embed.proj.weight");
  const fv_st_tensor *pos = find(r->st, "pos_embed");
  if (!pe) return fv_fail(r->err, "%s: no tensor \"patch_embed.proj.weight\", expected a timm ViT checkpoint", r->file);
  if (!pos) return fv_fail(r->err, "%s: no tensor \"pos_embed\", expected a timm ViT checkpoint", r->file);
  if (!shape_is(pe, 4, (int64_t[]){-1, -1, -1, -1}) || pe->shape[2] != pe->shape[3] || pe->shape[0] < 1 ||
      pe->shape[0] > MAX_DIM || pe->shape[1] < 1 || pe->shape[1] > 4 || pe->shape[2] < 1 || pe->shape[2] > 4096)
    return bad_shape(r, pe, "[embed_dim, in_chans (1..4), patch, patch]");
  if (from_shape(r, "embed_dim", &c->embed_dim, (int)pe->shape[0], "patch_embed.proj.weight", given) ||
      from_shape(r, "in_chans", &c->in_chans, (int)pe->shape[1], "patch_embed.proj.weight", given) ||
      from_shape(r, "patch_size", &c->patch_size, (int)pe->shape[2], "patch_embed.proj.weight", given))
    return FV_ERR;
  const int64_t E = c->embed_dim;
  if (!shape_is(pos, 3, (int64_t[]){1, -1, E}) || pos->shape[1] < 1) return bad_shape(r, pos, "[1, tokens, embed_dim]");

  const fv_st_tensor *cls = find(r->st, "cls_token"), *dist = find(r->st, "dist_token"),
                     *reg = find(r->st, "reg_token");
  if (cls && !shape_is(cls, 3, (int64_t[]){1, 1, E})) return bad_shape(r, cls, "[1, 1, embed_dim]");
  if (dist && !shape_is(dist, 3, (int64_t[]){1, 1, E})) return bad_shape(r, dist, "[1, 1, embed_dim]");
  if (reg && (!shape_is(reg, 3, (int64_t[]){1, -1, E}) || reg->shape[1] > 4096))
    return bad_shape(r, reg, "[1, reg_tokens, embed_dim]");
  if (from_shape(r, "class_token", &c->class_token, cls != NULL, "the presence of tensor cls_token", given) ||
      from_shape(r, "distilled", &c->distilled, dist != NULL, "the presence of tensor dist_token", given) ||
      from_shape(r, "reg_tokens", &c->reg_tokens, reg ? (int)reg->shape[1] : 0, "tensor reg_token", given))
    return FV_ERR;

  int depth = 0;
  if (count_blocks(r, &depth)) return FV_ERR;
  if (depth < 1) return fv_fail(r->err, "%s: no blocks.N tensors, expected at least one transformer block", r->file);
  if (from_shape(r, "depth", &c->depth, depth, "the blocks.N tensors", given)) return FV_ERR;
  const fv_st_tensor *qkv = find(r->st, "blocks.0.attn.qkv.weight");
  if (!shape_is(qkv, 2, (int64_t[]){3 * E, E})) return bad_shape(r, qkv, "[3 * embed_dim, embed_dim]");
  if (from_shape(r, "qkv_bias", &c->qkv_bias, find(r->st, "blocks.0.attn.qkv.bias") != NULL,
                 "the presence of tensor blocks.0.attn.qkv.bias", given) ||
      from_shape(r, "layer_scale", &c->layer_scale, find(r->st, "blocks.0.ls1.gamma") != NULL,
                 "the presence of tensor blocks.0.ls1.gamma", given) ||
      from_shape(r, "fc_norm", &c->fc_norm, find(r->st, "fc_norm.weight") != NULL,
                 "the presence of tensor fc_norm.weight", given))
    return FV_ERR;
  const fv_st_tensor *fc1 = find(r->st, "blocks.0.mlp.fc1.weight");
  if (!fc1) return fv_fail(r->err, "%s: no tensor \"blocks.0.mlp.fc1.weight\", expected a timm ViT block", r->file);
  if (!shape_is(fc1, 2, (int64_t[]){-1, E}) || fc1->shape[0] < 1 || fc1->shape[0] > 64 * E)
    return bad_shape(r, fc1, "[mlp_hidden, embed_dim]");
  c->mlp_hidden = (int)fc1->shape[0];
  if (c->mlp_ratio > 0) {
    int want = (int)((double)E * c->mlp_ratio); /* timm: int(embed_dim * mlp_ratio) */
    if (want != c->mlp_hidden)
      return fv_fail(r->err,
                     "%s: mlp_ratio %g from %s gives a hidden size of %d, but tensor blocks.0.mlp.fc1.weight "
                     "has %d rows",
                     r->file, (double)c->mlp_ratio, given, want, c->mlp_hidden);
  } else {
    c->mlp_ratio = (float)c->mlp_hidden / (float)E;
  }

  const fv_st_tensor *head = find(r->st, "head.weight");
  if (head && (!shape_is(head, 2, (int64_t[]){-1, E}) || head->shape[0] > 10000000))
    return bad_shape(r, head, "[num_classes, embed_dim]");
  if (from_shape(r, "num_classes", &c->num_classes, head ? (int)head->shape[0] : 0,
                 head ? "tensor head.weight" : "the absence of tensor head.weight", given))
    return FV_ERR;
  const fv_st_tensor *head_dist = find(r->st, "head_dist.weight");
  if (c->distilled && c->num_classes > 0 && !head_dist)
    return fv_fail(r->err, "%s: distilled model (dist_token present) has no tensor \"head_dist.weight\"", r->file);
  if (!c->distilled && head_dist)
    return fv_fail(r->err, "%s: tensor \"head_dist.weight\" present but no dist_token, expected both or neither",
                   r->file);

  /* Tokens: L must equal the grid (+ the prefix tokens unless no_embed_class). */
  const int64_t L = pos->shape[1];
  const int prefix = c->class_token + c->distilled + c->reg_tokens;
  const int64_t p = c->patch_size;
  if (c->img_size[0] == UNKNOWN) {
    /* No size given: the positional embedding's grid must be square. */
    int64_t side;
    if (prefix > 0 && c->no_embed_class == UNKNOWN) {
      if (L > prefix && is_square(L - prefix, &side))
        c->no_embed_class = 0;
      else if (is_square(L, &side))
        c->no_embed_class = 1;
    }
    const int64_t grid_tokens = prefix > 0 && c->no_embed_class == 0 ? L - prefix : L;
    if (!is_square(grid_tokens, &side))
      return fv_fail(r->err,
                     "%s: pos_embed has %lld tokens with %d prefix tokens, which leaves no square grid of "
                     "patches; expected img_size in config.json model_args",
                     r->file, (long long)L, prefix);
    if (side * p > MAX_DIM) return fv_fail(r->err, "%s: image size %lld is too large", r->file, (long long)(side * p));
    c->img_size[0] = c->img_size[1] = (int)(side * p);
  }
  if (c->img_size[0] % p || c->img_size[1] % p)
    return fv_fail(r->err,
                   "%s: image size %dx%d is not a multiple of the patch size %lld (from patch_embed.proj.weight)",
                   r->file, c->img_size[0], c->img_size[1], (long long)p);
  const int64_t grid = (int64_t)(c->img_size[0] / p) * (c->img_size[1] / p);
  if (c->no_embed_class == UNKNOWN) c->no_embed_class = L == grid && prefix > 0;
  const int64_t want_L = grid + (c->no_embed_class ? 0 : prefix);
  if (L != want_L)
    return fv_fail(r->err,
                   "%s: pos_embed has %lld tokens, expected %lld: a %dx%d image in %lldx%lld patches gives %lld, "
                   "plus %d prefix tokens %s (no_embed_class=%d)",
                   r->file, (long long)L, (long long)want_L, c->img_size[0], c->img_size[1], (long long)p, (long long)p,
                   (long long)grid, prefix, c->no_embed_class ? "not embedded" : "embedded", c->no_embed_class);
  return FV_OK;
}

fv_status fv_vit_config_resolve(fv_vit_config *cfg, const fv_safetensors *st, fv_error *err) {
  resolver r = {.cfg = cfg, .st = st, .file = st && st->path ? st->path : "safetensors", .err = err};
  if (!st) return fv_fail(err, "vit config: no safetensors file to resolve the model from");

  arch_info a;
  if (cfg->architecture[0] && parse_arch(cfg->architecture, &a)) {
    snprintf(r.table_src, sizeof r.table_src, "the architecture table entry for '%s'", cfg->architecture);
    from_table(&cfg->embed_dim, a.embed_dim);
    from_table(&cfg->depth, a.depth);
    from_table(&cfg->num_heads, a.num_heads);
    from_table(&cfg->patch_size, a.patch_size);
    if (cfg->img_size[0] == UNKNOWN && a.img_size != UNKNOWN) cfg->img_size[0] = cfg->img_size[1] = a.img_size;
    from_table(&cfg->reg_tokens, a.reg_tokens);
    from_table(&cfg->class_token, a.class_token);
    from_table(&cfg->no_embed_class, a.no_embed_class);
    from_table(&cfg->layer_scale, a.layer_scale);
    from_table(&cfg->distilled, a.distilled);
    from_table(&cfg->qkv_bias, a.qkv_bias);
    if (cfg->mlp_ratio <= 0) cfg->mlp_ratio = a.mlp_ratio;
    /* A class token switched off in model_args leaves the pool to be decided below (avg). */
    if (cfg->global_pool == POOL_UNKNOWN && !(cfg->class_token == 0 && a.global_pool == FV_POOL_TOKEN))
      cfg->global_pool = a.global_pool;
    /* The table's fc_norm holds for the table's pool; with another pool, the shapes decide. */
    if (cfg->fc_norm == UNKNOWN && cfg->global_pool == a.global_pool) cfg->fc_norm = a.fc_norm;
  }
  if (resolve_shapes(&r)) return FV_ERR;

  if (cfg->num_heads == HEADS_FROM_EMBED) cfg->num_heads = cfg->embed_dim / 64 > 0 ? cfg->embed_dim / 64 : 1;
  if (cfg->num_heads == UNKNOWN)
    return fv_fail(err,
                   "%s: num_heads for architecture '%s' is not in config.json model_args nor in the "
                   "architecture table, and tensor shapes cannot determine it; expected model_args \"num_heads\"",
                   r.file, cfg->architecture[0] ? cfg->architecture : "(none)");
  if (cfg->embed_dim % cfg->num_heads || cfg->embed_dim / cfg->num_heads > 128)
    return fv_fail(err, "%s: embed_dim %d does not split into %d heads of at most 128 dimensions", r.file,
                   cfg->embed_dim, cfg->num_heads);
  if (cfg->global_pool == POOL_UNKNOWN) cfg->global_pool = cfg->class_token ? FV_POOL_TOKEN : FV_POOL_AVG;
  if (cfg->global_pool == FV_POOL_TOKEN && !cfg->class_token)
    return fv_fail(err, "%s: global_pool is \"token\" but the model has no cls_token, expected global_pool \"avg\"",
                   r.file);
  if (cfg->distilled && cfg->global_pool != FV_POOL_TOKEN)
    return fv_fail(err, "%s: distilled model (dist_token) with global_pool \"avg\", expected \"token\"", r.file);
  if (cfg->label_names && cfg->n_labels != cfg->num_classes)
    return fv_fail(err,
                   "%s: config.json has %d label_names but the model has %d classes (head.weight), expected one "
                   "name per class",
                   r.file, cfg->n_labels, cfg->num_classes);
  if (cfg->interpolation == INTERP_UNKNOWN) cfg->interpolation = FV_INTERP_BICUBIC;
  if (cfg->crop_mode == CROP_UNKNOWN) cfg->crop_mode = FV_CROP_CENTER;
  if (!(cfg->crop_pct > 0)) cfg->crop_pct = 0.9f;
  if (!(cfg->std[0] > 0)) {
    fv_vit_config d;
    fv_vit_config_default(&d);
    memcpy(cfg->mean, d.mean, sizeof d.mean);
    memcpy(cfg->std, d.std, sizeof d.std);
  }
  if (!(cfg->norm_eps > 0)) cfg->norm_eps = 1e-6f;
  return FV_OK;
}

fv_status fv_vit_config_for_arch(const char *arch, int num_classes, fv_vit_config *cfg, fv_error *err) {
  fv_vit_config_default(cfg);
  arch_info a;
  if (strlen(arch) >= sizeof cfg->architecture || !parse_arch(arch, &a))
    return fv_fail(err,
                   "architecture '%.128s' is not in the table, expected a timm name such as vit_base_patch16_224, "
                   "deit_small_distilled_patch16_224 or deit3_base_patch16_384",
                   arch);
  if (a.img_size == UNKNOWN)
    return fv_fail(err, "architecture '%s' names no image size, expected a suffix such as _224", arch);
  if (num_classes < 0) return fv_fail(err, "architecture '%s': num_classes is %d, expected >= 0", arch, num_classes);
  snprintf(cfg->architecture, sizeof cfg->architecture, "%s", arch);
  cfg->num_classes = num_classes;
  cfg->img_size[0] = cfg->img_size[1] = a.img_size;
  cfg->patch_size = a.patch_size;
  cfg->in_chans = 3;
  cfg->embed_dim = a.embed_dim;
  cfg->depth = a.depth;
  cfg->num_heads = a.num_heads;
  cfg->mlp_ratio = a.mlp_ratio;
  cfg->mlp_hidden = (int)((double)a.embed_dim * a.mlp_ratio);
  cfg->qkv_bias = a.qkv_bias;
  cfg->class_token = a.class_token;
  cfg->reg_tokens = a.reg_tokens;
  cfg->no_embed_class = a.no_embed_class;
  cfg->distilled = a.distilled;
  cfg->layer_scale = a.layer_scale;
  cfg->fc_norm = a.fc_norm;
  cfg->global_pool = a.global_pool;
  cfg->norm_eps = 1e-6f;
  return FV_OK;
}
