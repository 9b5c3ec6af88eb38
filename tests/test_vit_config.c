/* test_vit_config.c: config.json parsing, the timm architecture-name table, resolution from
 * tensor shapes, and the errors for conflicts and malformed input.
 *
 * Tensor sets are described in memory (an fv_safetensors with names and shapes only): the
 * resolver reads nothing else, and the file format has its own test. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vision/vit_config.h"

typedef struct fake {
  fv_safetensors st;
  fv_st_tensor t[512];
} fake;

static void add(fake *f, const char *name, int ndim, ...) {
  fv_st_tensor *t = &f->t[f->st.count++];
  memset(t, 0, sizeof *t);
  t->name = strdup(name);
  t->dtype = FV_F32;
  t->ndim = ndim;
  va_list ap;
  va_start(ap, ndim);
  for (int i = 0; i < ndim; i++) t->shape[i] = va_arg(ap, int);
  va_end(ap);
}

typedef struct model {
  int E, depth, C, p, grid, cls, dist, reg, no_embed_class, qkv_bias, ls, fc_norm, classes, hidden;
} model;

/* The tensor names and shapes timm's VisionTransformer(Distilled) would save. */
static void make(fake *f, model m) {
  memset(f, 0, sizeof *f);
  f->st.tensors = f->t;
  f->st.path = "test.safetensors";
  int prefix = m.cls + m.dist + m.reg;
  add(f, "patch_embed.proj.weight", 4, m.E, m.C, m.p, m.p);
  add(f, "patch_embed.proj.bias", 1, m.E);
  if (m.cls) add(f, "cls_token", 3, 1, 1, m.E);
  if (m.dist) add(f, "dist_token", 3, 1, 1, m.E);
  if (m.reg) add(f, "reg_token", 3, 1, m.reg, m.E);
  add(f, "pos_embed", 3, 1, m.grid + (m.no_embed_class ? 0 : prefix), m.E);
  for (int b = 0; b < m.depth; b++) {
    char n[96];
#define T(suffix, ...) (snprintf(n, sizeof n, "blocks.%d.%s", b, suffix), add(f, n, __VA_ARGS__))
    T("norm1.weight", 1, m.E);
    T("attn.qkv.weight", 2, 3 * m.E, m.E);
    if (m.qkv_bias) T("attn.qkv.bias", 1, 3 * m.E);
    T("attn.proj.weight", 2, m.E, m.E);
    if (m.ls) T("ls1.gamma", 1, m.E);
    T("mlp.fc1.weight", 2, m.hidden, m.E);
    T("mlp.fc2.weight", 2, m.E, m.hidden);
    if (m.ls) T("ls2.gamma", 1, m.E);
#undef T
  }
  add(f, m.fc_norm ? "fc_norm.weight" : "norm.weight", 1, m.E);
  if (m.classes) add(f, "head.weight", 2, m.classes, m.E);
  if (m.classes && m.dist) add(f, "head_dist.weight", 2, m.classes, m.E);
}

static void unmake(fake *f) {
  for (int i = 0; i < f->st.count; i++) free(f->t[i].name);
  f->st.count = 0;
}

static const model vit_b16 = {
    .E = 768, .depth = 12, .C = 3, .p = 16, .grid = 196, .cls = 1, .qkv_bias = 1, .classes = 1000, .hidden = 3072};

/* parse + resolve; returns the status, fills cfg (caller frees) and err */
static fv_status load(const char *json, model m, fv_vit_config *cfg, fv_error *err) {
  fake *f = malloc(sizeof *f);
  make(f, m);
  fv_status s = json ? fv_vit_config_parse(json, strlen(json), "config.json", cfg, err) : FV_OK;
  if (!json) fv_vit_config_default(cfg);
  if (s == FV_OK) s = fv_vit_config_resolve(cfg, &f->st, err);
  unmake(f);
  free(f);
  return s;
}

static int has_words(const char *msg, const char *words) {
  char copy[512];
  snprintf(copy, sizeof copy, "%s", words);
  for (char *save = NULL, *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
    if (!strstr(msg, w)) return 0;
  return 1;
}

static void expect_error(const char *what, const char *json, model m, const char *words) {
  fv_vit_config cfg;
  fv_error err = {{0}};
  fv_status s = load(json, m, &cfg, &err);
  CHECK(s == FV_ERR, "%s: expected an error", what);
  if (s == FV_ERR) CHECK(has_words(err.msg, words), "%s: message lacks [%s]: %s", what, words, err.msg);
  fv_vit_config_free(&cfg);
}

static void test_table(void) {
  fv_vit_config c;
  fv_error err = {{0}};
  const char *j =
      "{\"architecture\": \"vit_base_patch16_224.augreg2_in21k_ft_in1k\", \"num_classes\": 1000,"
      " \"global_pool\": \"token\", \"pretrained_cfg\": {\"input_size\": [3, 224, 224],"
      " \"interpolation\": \"bicubic\", \"crop_pct\": 0.9, \"crop_mode\": \"center\","
      " \"mean\": [0.5, 0.5, 0.5], \"std\": [0.5, 0.5, 0.5]}}";
  CHECK(load(j, vit_b16, &c, &err) == FV_OK, "vit_base: %s", err.msg);
  CHECK(c.embed_dim == 768 && c.depth == 12 && c.num_heads == 12 && c.patch_size == 16 && c.img_size[0] == 224 &&
            c.img_size[1] == 224 && c.in_chans == 3,
        "vit_base: sizes %d %d %d %d %d", c.embed_dim, c.depth, c.num_heads, c.patch_size, c.img_size[0]);
  CHECK(c.class_token == 1 && c.reg_tokens == 0 && c.no_embed_class == 0 && c.distilled == 0 && c.qkv_bias == 1 &&
            c.layer_scale == 0 && c.fc_norm == 0 && c.global_pool == FV_POOL_TOKEN && c.num_classes == 1000,
        "vit_base: flags");
  CHECK(c.mlp_hidden == 3072 && c.mlp_ratio == 4.0f && c.norm_eps == 1e-6f, "vit_base: mlp %d %g", c.mlp_hidden,
        (double)c.mlp_ratio);
  CHECK(c.interpolation == FV_INTERP_BICUBIC && c.crop_pct == 0.9f && c.crop_mode == FV_CROP_CENTER &&
            c.mean[0] == 0.5f && c.std[2] == 0.5f,
        "vit_base: preprocessing");
  fv_vit_config_free(&c);

  model s = {
      .E = 384, .depth = 12, .C = 3, .p = 16, .grid = 576, .cls = 1, .qkv_bias = 1, .classes = 1000, .hidden = 1536};
  CHECK(load("{\"architecture\": \"vit_small_patch16_384.augreg_in21k_ft_in1k\"}", s, &c, &err) == FV_OK,
        "vit_small 384: %s", err.msg);
  CHECK(c.num_heads == 6 && c.img_size[0] == 384 && c.crop_pct == 0.9f && c.std[0] > 0.2f, "vit_small 384: %d %d",
        c.num_heads, c.img_size[0]);
  fv_vit_config_free(&c);

  model r = {.E = 768,
             .depth = 12,
             .C = 3,
             .p = 16,
             .grid = 256,
             .reg = 4,
             .no_embed_class = 1,
             .qkv_bias = 1,
             .fc_norm = 1,
             .classes = 1000,
             .hidden = 3072};
  CHECK(load("{\"architecture\": \"vit_base_patch16_reg4_gap_256.sbb_in1k\"}", r, &c, &err) == FV_OK, "reg4_gap: %s",
        err.msg);
  CHECK(c.class_token == 0 && c.reg_tokens == 4 && c.no_embed_class == 1 && c.global_pool == FV_POOL_AVG &&
            c.fc_norm == 1 && c.img_size[0] == 256 && c.num_heads == 12,
        "reg4_gap: flags cls=%d reg=%d nec=%d pool=%d fc=%d", c.class_token, c.reg_tokens, c.no_embed_class,
        c.global_pool, c.fc_norm);
  fv_vit_config_free(&c);
  /* the table says fc_norm for reg4_gap: a checkpoint with a plain norm contradicts it */
  r.fc_norm = 0;
  expect_error("reg4_gap without fc_norm", "{\"architecture\": \"vit_base_patch16_reg4_gap_256\"}", r,
               "fc_norm architecture fc_norm.weight");

  model g = {.E = 768, .depth = 12, .C = 3, .p = 16, .grid = 196, .qkv_bias = 1, .classes = 1000, .hidden = 3072};
  CHECK(load("{\"architecture\": \"vit_base_patch16_gap_224\"}", g, &c, &err) == FV_OK, "gap_224: %s", err.msg);
  CHECK(c.num_heads == 16 && c.fc_norm == 0 && c.global_pool == FV_POOL_AVG, "gap_224: heads %d", c.num_heads);
  fv_vit_config_free(&c);

  model d = {.E = 384,
             .depth = 12,
             .C = 3,
             .p = 16,
             .grid = 196,
             .cls = 1,
             .dist = 1,
             .qkv_bias = 1,
             .classes = 1000,
             .hidden = 1536};
  CHECK(load("{\"architecture\": \"deit_small_distilled_patch16_224.fb_in1k\"}", d, &c, &err) == FV_OK,
        "deit distilled: %s", err.msg);
  CHECK(c.distilled == 1 && c.class_token == 1 && c.num_heads == 6 && c.global_pool == FV_POOL_TOKEN, "deit distilled");
  fv_vit_config_free(&c);

  model d3 = {.E = 768,
              .depth = 12,
              .C = 3,
              .p = 16,
              .grid = 196,
              .cls = 1,
              .no_embed_class = 1,
              .qkv_bias = 1,
              .ls = 1,
              .classes = 1000,
              .hidden = 3072};
  CHECK(load("{\"architecture\": \"deit3_base_patch16_224.fb_in22k_ft_in1k\"}", d3, &c, &err) == FV_OK, "deit3: %s",
        err.msg);
  CHECK(c.layer_scale == 1 && c.no_embed_class == 1 && c.num_heads == 12, "deit3 flags");
  fv_vit_config_free(&c);
  d3.ls = 0;
  expect_error("deit3 without layer scale", "{\"architecture\": \"deit3_base_patch16_224\"}", d3,
               "layer_scale 1 0 ls1.gamma");

  /* the table vs the shapes */
  expect_error("table vs shapes", "{\"architecture\": \"vit_small_patch16_224\"}", vit_b16,
               "embed_dim 384 768 patch_embed.proj.weight architecture");
  expect_error("image size vs pos_embed", "{\"architecture\": \"vit_base_patch16_384\"}", vit_b16, "pos_embed 197 577");
}

static void test_for_arch(void) {
  fv_vit_config c;
  fv_error err = {{0}};
  CHECK(fv_vit_config_for_arch("vit_large_patch14_224", 10, &c, &err) == FV_OK, "for_arch: %s", err.msg);
  CHECK(c.embed_dim == 1024 && c.depth == 24 && c.num_heads == 16 && c.patch_size == 14 && c.mlp_hidden == 4096 &&
            c.num_classes == 10 && c.img_size[0] == 224,
        "for_arch large");
  fv_vit_config_free(&c);
  CHECK(fv_vit_config_for_arch("vit_tiny_patch16_224", 1000, &c, &err) == FV_OK && c.num_heads == 3, "for_arch tiny");
  fv_vit_config_free(&c);
  CHECK(fv_vit_config_for_arch("vit_base_patch16_clip_224", 1000, &c, &err) == FV_ERR &&
            has_words(err.msg, "vit_base_patch16_clip_224 table"),
        "for_arch clip: %s", err.msg);
  CHECK(fv_vit_config_for_arch("vit_base_patch16", 1000, &c, &err) == FV_ERR && has_words(err.msg, "image size"),
        "for_arch without size: %s", err.msg);
  CHECK(fv_vit_config_for_arch("deit_large_patch16_224", 1000, &c, &err) == FV_ERR, "deit has no large");
  CHECK(fv_vit_config_for_arch("resnet50", 1000, &c, &err) == FV_ERR, "resnet50 is not a ViT");
}

static void test_model_args(void) {
  fv_vit_config c;
  fv_error err = {{0}};
  /* model_args override the table, as kwargs do in timm.create_model */
  CHECK(load("{\"architecture\": \"vit_base_patch16_224\", \"model_args\": {\"num_heads\": 8}}", vit_b16, &c, &err) ==
                FV_OK &&
            c.num_heads == 8,
        "model_args num_heads: %s %d", err.msg, c.num_heads);
  fv_vit_config_free(&c);
  model avg = vit_b16;
  avg.fc_norm = 1;
  CHECK(load("{\"architecture\": \"vit_base_patch16_224\", \"model_args\": {\"global_pool\": \"avg\"}}", avg, &c,
             &err) == FV_OK &&
            c.global_pool == FV_POOL_AVG && c.fc_norm == 1 && c.class_token == 1,
        "model_args global_pool avg: %s", err.msg);
  fv_vit_config_free(&c);
  /* unknown architecture: model_args + shapes define everything */
  model m = {.E = 64, .depth = 2, .C = 1, .p = 4, .grid = 6, .cls = 1, .qkv_bias = 0, .classes = 5, .hidden = 96};
  const char *j =
      "{\"architecture\": \"my_tiny_vit\", \"num_classes\": 5, \"model_args\": {\"img_size\": [8, 12],"
      " \"num_heads\": 4, \"mlp_ratio\": 1.5, \"qkv_bias\": false, \"in_chans\": 1}}";
  CHECK(load(j, m, &c, &err) == FV_OK, "unknown arch with model_args: %s", err.msg);
  CHECK(c.img_size[0] == 8 && c.img_size[1] == 12 && c.num_heads == 4 && c.qkv_bias == 0 && c.in_chans == 1 &&
            c.depth == 2 && c.mlp_hidden == 96,
        "unknown arch fields");
  fv_vit_config_free(&c);
  expect_error("unknown arch without num_heads",
               "{\"architecture\": \"my_tiny_vit\", \"model_args\": {\"img_size\": [8, 12]}}", m,
               "num_heads my_tiny_vit model_args");
  /* conflicts with the shapes, naming both sides */
  expect_error("model_args embed_dim", "{\"model_args\": {\"embed_dim\": 384, \"num_heads\": 6}}", vit_b16,
               "embed_dim 384 768 config.json patch_embed.proj.weight");
  expect_error("num_classes vs head", "{\"architecture\": \"vit_base_patch16_224\", \"num_classes\": 10}", vit_b16,
               "num_classes 10 1000 head.weight");
  expect_error("qkv_bias", "{\"architecture\": \"vit_base_patch16_224\", \"model_args\": {\"qkv_bias\": false}}",
               vit_b16, "qkv_bias blocks.0.attn.qkv.bias");
  expect_error("mlp_ratio", "{\"architecture\": \"vit_base_patch16_224\", \"model_args\": {\"mlp_ratio\": 2}}", vit_b16,
               "mlp_ratio 1536 3072");
  expect_error("top level vs model_args", "{\"num_classes\": 1000, \"model_args\": {\"num_classes\": 10}}", vit_b16,
               "num_classes 1000 10 model_args");
  expect_error("input_size vs img_size",
               "{\"pretrained_cfg\": {\"input_size\": [3, 224, 224]}, \"model_args\": {\"img_size\": 384}}", vit_b16,
               "input_size 224x224 img_size 384x384");
  expect_error("unsupported option", "{\"model_args\": {\"pre_norm\": true}}", vit_b16, "pre_norm");
  expect_error(
      "token pool without cls", "{\"architecture\": \"vit_base_patch16_gap_224\", \"global_pool\": \"token\"}",
      (model){.E = 768, .depth = 12, .C = 3, .p = 16, .grid = 196, .qkv_bias = 1, .classes = 1000, .hidden = 3072},
      "token cls_token");
  /* global_pool "": token with a class token, avg without (timm's reading) */
  CHECK(load("{\"architecture\": \"vit_base_patch16_224\", \"global_pool\": \"\"}", vit_b16, &c, &err) == FV_OK &&
            c.global_pool == FV_POOL_TOKEN,
        "empty global_pool: %s", err.msg);
  fv_vit_config_free(&c);
}

static void test_malformed(void) {
  expect_error("malformed JSON", "{\"architecture\": ", vit_b16, "config.json malformed JSON");
  expect_error("not an object", "[1, 2]", vit_b16, "config.json array object");
  expect_error("architecture not a string", "{\"architecture\": 3}", vit_b16, "architecture number string");
  expect_error("crop_mode unknown", "{\"pretrained_cfg\": {\"crop_mode\": \"border\"}}", vit_b16,
               "crop_mode border center squash");
  expect_error("interpolation unknown", "{\"pretrained_cfg\": {\"interpolation\": \"nearest\"}}", vit_b16,
               "interpolation nearest bicubic");
  expect_error("crop_pct", "{\"pretrained_cfg\": {\"crop_pct\": 0}}", vit_b16, "crop_pct");
  expect_error("mean length", "{\"pretrained_cfg\": {\"mean\": [0.5, 0.5], \"std\": [1, 1, 1]}}", vit_b16, "mean 1 3");
  expect_error("std zero", "{\"pretrained_cfg\": {\"mean\": [0, 0, 0], \"std\": [1, 0, 1]}}", vit_b16,
               "std [1] 0 positive");
  expect_error("global_pool map", "{\"global_pool\": \"map\"}", vit_b16, "global_pool map");
  expect_error("patch_size not an int", "{\"model_args\": {\"patch_size\": 16.5}}", vit_b16, "patch_size 16.5 integer");
  expect_error("label_names length", "{\"num_classes\": 1000, \"label_names\": [\"a\", \"b\"]}", vit_b16,
               "label_names 2 1000");
  expect_error("label_names vs head", "{\"architecture\": \"vit_base_patch16_224\", \"label_names\": [\"a\", \"b\"]}",
               vit_b16, "label_names 2 1000");
  expect_error("label_names not strings", "{\"label_names\": [\"a\", 2]}", vit_b16, "label_names [1] string");

  fv_vit_config c;
  fv_error err = {{0}};
  model m = vit_b16;
  m.classes = 3;
  CHECK(load("{\"architecture\": \"vit_base_patch16_224\", \"num_classes\": 3, \"label_names\": [\"cat\", \"dog\", "
             "\"owl\"]}",
             m, &c, &err) == FV_OK &&
            c.n_labels == 3 && strcmp(c.label_names[2], "owl") == 0,
        "label_names: %s", err.msg);
  fv_vit_config_free(&c);
  CHECK(c.label_names == NULL && c.n_labels == 0, "free resets labels");
  /* A single-channel model's config may give one mean and one std. */
  CHECK(load("{\"architecture\": \"vit_base_patch16_224\", \"pretrained_cfg\": {\"mean\": [0.25], \"std\": [0.5]}}",
             vit_b16, &c, &err) == FV_OK &&
            c.mean[0] == 0.25f && c.mean[2] == 0.25f && c.std[1] == 0.5f,
        "one-element mean/std: %s", err.msg);
  fv_vit_config_free(&c);
}

static void test_default(void) {
  fv_vit_config c;
  fv_error err = {{0}};
  model m = {.E = 384, .depth = 3, .C = 3, .p = 16, .grid = 196, .cls = 1, .qkv_bias = 1, .classes = 0, .hidden = 1536};
  CHECK(load(NULL, m, &c, &err) == FV_OK, "bare safetensors: %s", err.msg);
  CHECK(c.num_heads == 6 && c.img_size[0] == 224 && c.depth == 3 && c.num_classes == 0 && c.crop_pct == 0.9f &&
            c.interpolation == FV_INTERP_BICUBIC && c.mean[0] == 0.485f && c.std[2] == 0.225f &&
            c.global_pool == FV_POOL_TOKEN,
        "bare defaults: heads %d img %d", c.num_heads, c.img_size[0]);
  fv_vit_config_free(&c);
  /* without size information, registers and no_embed_class are read off pos_embed */
  model r = {.E = 128,
             .depth = 1,
             .C = 3,
             .p = 8,
             .grid = 16,
             .cls = 1,
             .reg = 4,
             .no_embed_class = 1,
             .classes = 2,
             .hidden = 512};
  CHECK(load(NULL, r, &c, &err) == FV_OK && c.no_embed_class == 1 && c.img_size[0] == 32 && c.reg_tokens == 4 &&
            c.num_heads == 2,
        "bare reg model: %s nec=%d img=%d", err.msg, c.no_embed_class, c.img_size[0]);
  fv_vit_config_free(&c);
  model bad = vit_b16;
  bad.grid = 194; /* 195 tokens: neither 14x14 + 1 nor a square */
  expect_error("pos_embed not a grid", NULL, bad, "pos_embed 195 tokens square");
}

int main(void) {
  test_table();
  test_for_arch();
  test_model_args();
  test_malformed();
  test_default();
  return fv_test_finish();
}
