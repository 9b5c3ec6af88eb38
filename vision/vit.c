/* vit.c: timm's VisionTransformer forward pass, built as an engine graph.
 *
 * Mirrors timm's module order exactly: patch_embed (conv as im2col + matmul), _pos_embed
 * (prefix tokens and positional embedding, with or without no_embed_class), pre-norm blocks
 * (norm1 -> qkv -> fused attention -> proj -> layer scale -> residual; norm2 -> fc1 + GELU ->
 * fc2 -> layer scale -> residual), final norm, pooling (class token or average of the
 * non-prefix tokens, with fc_norm), head; distilled models average head and head_dist.
 * A block with blocks.N.dilation_predictor.* tensors gets token-aware average pooling (tap.h)
 * on its attention branch only: x + ls1(attn(norm1(TAP(x)))), the residual keeps x.
 * Every tensor is looked up by timm's name and its shape checked before use; tensors the
 * model does not use are an error (they mean a variant we would silently compute wrong). */
#include "vit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../engine/dtype.h"
#include "../engine/file.h"
#include "tap.h"

static int is_dir(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && S_ISDIR(s.st_mode);
}

static int is_file(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 && S_ISREG(s.st_mode);
}

fv_status fv_vit_load(const char *path, fv_vit *vit, fv_error *err) {
  memset(vit, 0, sizeof *vit);
  snprintf(vit->path, sizeof vit->path, "%s", path);
  char weights[1200], config[1200];
  if (is_dir(path)) {
    snprintf(weights, sizeof weights, "%s/model.safetensors", path);
    snprintf(config, sizeof config, "%s/config.json", path);
    if (!is_file(weights))
      return fv_fail(err,
                     "%s: model folder has no model.safetensors (expected a timm hub folder with config.json "
                     "and model.safetensors)",
                     path);
  } else if (is_file(path)) {
    snprintf(weights, sizeof weights, "%s", path);
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path) : 1;
    snprintf(config, sizeof config, "%.*s/config.json", dir_len, slash ? path : ".");
  } else {
    return fv_fail(err, "%s: no such model folder or .safetensors file", path);
  }
  if (is_file(config)) {
    size_t len = 0;
    char *text = NULL;
    if (fv_read_file(config, (size_t)16 << 20, &text, &len, err)) return FV_ERR;
    fv_status st = fv_vit_config_parse(text, len, config, &vit->cfg, err);
    free(text);
    if (st) return FV_ERR;
  } else {
    fv_vit_config_default(&vit->cfg);
  }
  if (fv_st_open(weights, &vit->st, err)) goto fail;
  if (fv_vit_config_resolve(&vit->cfg, &vit->st, err)) {
    fv_fail_context(err, "%s", weights);
    goto fail;
  }
  /* Build once with batch 1 to check every tensor name and shape now, not at first use. */
  fv_graph g;
  fv_graph_init(&g);
  fv_vit_graph out;
  fv_status st = fv_vit_build(vit, &g, 1, &out, err);
  fv_graph_free(&g);
  if (st || fv_st_check_all_used(&vit->st, err)) goto fail;
  return FV_OK;
fail:
  fv_vit_free(vit);
  return FV_ERR;
}

void fv_vit_free(fv_vit *vit) {
  fv_st_close(&vit->st);
  free(vit->owned_data);
  fv_vit_config_free(&vit->cfg);
  memset(vit, 0, sizeof *vit);
}

/* Builder state: the graph being built and the first error. */
typedef struct builder {
  fv_vit *vit;
  fv_graph *g;
  fv_error *err;
  fv_status status;
} builder;

/* The tensor `name`, which must have exactly the given shape; NULL after recording an error. */
static fv_st_tensor *checked_tensor(builder *b, const char *name, int ndim, const int64_t *want) {
  if (b->status) return NULL;
  fv_st_tensor *t = fv_st_get(&b->vit->st, name);
  if (!t) {
    b->status = fv_fail(b->err, "%s: missing tensor %s", b->vit->st.path, name);
    return NULL;
  }
  int ok = t->ndim == ndim;
  for (int i = 0; ok && i < ndim; i++) ok = t->shape[i] == want[i];
  if (!ok) {
    char got[128] = "", exp[128] = "";
    for (int i = 0; i < t->ndim; i++)
      snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
    for (int i = 0; i < ndim; i++)
      snprintf(exp + strlen(exp), sizeof exp - strlen(exp), "%s%lld", i ? ", " : "", (long long)want[i]);
    b->status = fv_fail(b->err, "%s: tensor %s has shape [%s], expected [%s]", b->vit->st.path, name, got, exp);
    return NULL;
  }
  return t;
}

/* The weight `name` with exactly the given shape (as stored), re-viewed as view_dims dims. */
static int weight(builder *b, const char *name, int ndim, const int64_t *want, int view_ndim, const int64_t *view) {
  fv_st_tensor *t = checked_tensor(b, name, ndim, want);
  if (!t) return -1;
  return fv_weight(b->g, name, view_ndim, view, t->data, t->dtype, 0);
}

static int vec(builder *b, const char *name, int64_t n) {
  int64_t s[1] = {n};
  return weight(b, name, 1, s, 1, s);
}

static int mat(builder *b, const char *name, int64_t rows, int64_t cols) {
  int64_t s[2] = {rows, cols};
  return weight(b, name, 2, s, 2, s);
}

static int layernorm(builder *b, int x, const char *prefix, int64_t dim) {
  char w[160], bias[160];
  snprintf(w, sizeof w, "%s.weight", prefix);
  snprintf(bias, sizeof bias, "%s.bias", prefix);
  return fv_layernorm(b->g, x, vec(b, w, dim), vec(b, bias, dim), b->vit->cfg.norm_eps);
}

static int linear(builder *b, int x, const char *prefix, int64_t out, int64_t in, int has_bias, int gelu) {
  char w[160], bias[160];
  snprintf(w, sizeof w, "%s.weight", prefix);
  snprintf(bias, sizeof bias, "%s.bias", prefix);
  int wi = mat(b, w, out, in);
  return fv_matmul(b->g, x, wi, has_bias ? vec(b, bias, out) : -1, gelu);
}

/* ---- token-aware average pooling (tap.h; shared/design/methods/tap_adl.md 5) ---------------- */

/* Whether block i has any dilation_predictor tensor; looks without marking anything used. */
static int has_tap_tensors(const fv_safetensors *st, int block) {
  char prefix[64];
  snprintf(prefix, sizeof prefix, "blocks.%d.dilation_predictor.", block);
  size_t len = strlen(prefix);
  for (int i = 0; i < st->count; i++)
    if (strncmp(st->tensors[i].name, prefix, len) == 0) return 1;
  return 0;
}

/* The predictor tensor blocks.<block>.dilation_predictor.proj.<suffix>, converted to fp32. */
static int tap_tensor(builder *b, int block, const char *suffix, int ndim, const int64_t *want, float *dst) {
  char name[128];
  snprintf(name, sizeof name, "blocks.%d.dilation_predictor.proj.%s", block, suffix);
  fv_st_tensor *t = checked_tensor(b, name, ndim, want);
  if (!t) return 0;
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) n *= want[i];
  fv_convert_to_f32(t->data, t->dtype, dst, (size_t)n);
  return 1;
}

/* TAP in front of block i's attention branch when the block has predictor tensors: returns the
 * pooled tokens (x itself for a block without TAP) and sets *scales (-1 without TAP). */
static int tap_block(builder *b, int i, int x, int n_prefix, int grid_h, int grid_w, int *scales) {
  *scales = -1;
  const fv_vit_config *c = &b->vit->cfg;
  fv_safetensors *st = &b->vit->st;
  if (b->status || !has_tap_tensors(st, i)) return x;
  if (c->tap_scales < 1) {
    b->status = fv_fail(b->err,
                        "%s: weights contain TAP tensors but config has no tap section (blocks.%d.dilation_predictor.*"
                        " found); expected config.json \"tap\": {\"num_scales\": K, \"temperature\": 1.0}",
                        st->path, i);
    return -1;
  }
  const int64_t K = c->tap_scales, E = c->embed_dim;
  char name[128];
  snprintf(name, sizeof name, "blocks.%d.dilation_predictor.proj.0.weight", i);
  const fv_st_tensor *t0 = NULL;
  for (int k = 0; k < st->count && !t0; k++)
    if (strcmp(st->tensors[k].name, name) == 0) t0 = &st->tensors[k];
  if (t0 && t0->ndim == 4 && t0->shape[0] != K) {
    b->status =
        fv_fail(b->err, "%s: tensor %s has %lld output channels (scales), but config.json tap.num_scales is %lld",
                st->path, name, (long long)t0->shape[0], (long long)K);
    return -1;
  }
  float *conv1 = malloc((size_t)(K * E * 9) * sizeof *conv1), *conv2 = malloc((size_t)(K * K * 9) * sizeof *conv2);
  float *bn = malloc((size_t)(4 * K) * sizeof *bn);
  if (!conv1 || !conv2 || !bn) {
    b->status = fv_fail(b->err, "%s: out of memory reading the TAP predictor of block %d", st->path, i);
    free(conv1);
    free(conv2);
    free(bn);
    return -1;
  }
  int64_t s1[4] = {K, E, 3, 3}, s2[4] = {K, K, 3, 3}, sk[1] = {K};
  int ok = tap_tensor(b, i, "0.weight", 4, s1, conv1) && tap_tensor(b, i, "1.weight", 1, sk, bn) &&
           tap_tensor(b, i, "1.bias", 1, sk, bn + K) && tap_tensor(b, i, "1.running_mean", 1, sk, bn + 2 * K) &&
           tap_tensor(b, i, "1.running_var", 1, sk, bn + 3 * K) && tap_tensor(b, i, "2.weight", 4, s2, conv2);
  /* num_batches_tracked only counts training steps (BatchNorm uses it for momentum=None): a
   * scalar to accept, and to mark used, and otherwise ignore. */
  snprintf(name, sizeof name, "blocks.%d.dilation_predictor.proj.1.num_batches_tracked", i);
  fv_st_tensor *nbt = ok ? fv_st_get(st, name) : NULL;
  int64_t nbt_numel = 1;
  for (int d = 0; nbt && d < nbt->ndim; d++) nbt_numel *= nbt->shape[d];
  if (nbt && nbt_numel != 1) {
    b->status =
        fv_fail(b->err, "%s: tensor %s has %lld elements, expected a scalar", st->path, name, (long long)nbt_numel);
    ok = 0;
  }
  int out = -1;
  if (ok) {
    fv_tap_weights w = {.K = (int)K,
                        .C = E,
                        .conv1 = conv1,
                        .bn_weight = bn,
                        .bn_bias = bn + K,
                        .bn_mean = bn + 2 * K,
                        .bn_var = bn + 3 * K,
                        .bn_eps = FV_TAP_BN_EPS,
                        .conv2 = conv2};
    snprintf(name, sizeof name, "blocks.%d", i);
    out = fv_tap_build(b->g, x, &w, n_prefix, grid_h, grid_w, c->tap_temperature, name, scales, b->err);
    if (out < 0) {
      fv_fail_context(b->err, "%s", st->path);
      b->status = FV_ERR;
    }
  }
  free(conv1);
  free(conv2);
  free(bn);
  return out;
}

/* cls, dist and register tokens as one [P, E] constant (timm concatenates them in this order). */
static int prefix_tokens(builder *b, int *count) {
  const fv_vit_config *c = &b->vit->cfg;
  int64_t E = c->embed_dim;
  int P = (c->class_token ? 1 : 0) + (c->distilled ? 1 : 0) + c->reg_tokens;
  *count = P;
  if (P == 0 || b->status) return -1;
  float *data = malloc((size_t)P * (size_t)E * sizeof *data);
  if (!data) {
    b->status = fv_fail(b->err, "out of memory");
    return -1;
  }
  struct {
    const char *name;
    int n;
  } parts[3] = {
      {"cls_token", c->class_token ? 1 : 0}, {"dist_token", c->distilled ? 1 : 0}, {"reg_token", c->reg_tokens}};
  int row = 0;
  for (int i = 0; i < 3 && !b->status; i++) {
    if (!parts[i].n) continue;
    int64_t want[3] = {1, parts[i].n, E};
    int node = weight(b, parts[i].name, 3, want, 3, want);
    if (node < 0) break;
    fv_convert_to_f32(b->g->nodes[node].data, b->g->nodes[node].data_dtype, data + (size_t)row * E,
                      (size_t)parts[i].n * E);
    row += parts[i].n;
  }
  int64_t shape[2] = {P, E};
  int node = b->status ? -1 : fv_weight(b->g, "prefix_tokens", 2, shape, data, FV_F32, 1);
  free(data);
  return node;
}

fv_status fv_vit_build(fv_vit *vit, fv_graph *g, int batch, fv_vit_graph *out, fv_error *err) {
  const fv_vit_config *c = &vit->cfg;
  builder b = {.vit = vit, .g = g, .err = err};
  int64_t E = c->embed_dim, C = c->in_chans, p = c->patch_size, H = c->img_size[0], W = c->img_size[1];
  int64_t hidden = c->mlp_hidden, heads = c->num_heads, head_dim = E / heads;
  if (batch < 1 || E < 1 || heads < 1 || E % heads || p < 1 || H % p || W % p)
    return fv_fail(err, "%s: inconsistent model: embed_dim %lld, heads %lld, patch %lld, image %lldx%lld (batch %d)",
                   vit->path, (long long)E, (long long)heads, (long long)p, (long long)H, (long long)W, batch);
  int64_t in_shape[4] = {batch, C, H, W};
  out->input = fv_input(g, "image", FV_F32, 4, in_shape);

  int64_t conv[4] = {E, C, p, p}, conv_view[2] = {E, C * p * p};
  int patches = fv_im2col(g, out->input, (int)p);
  int x = fv_matmul(g, patches, weight(&b, "patch_embed.proj.weight", 4, conv, 2, conv_view),
                    vec(&b, "patch_embed.proj.bias", E), 0);
  int P = 0;
  int prefix = prefix_tokens(&b, &P);
  int64_t Np = (H / p) * (W / p), L = Np + (c->no_embed_class ? 0 : P);
  int64_t pos_shape[3] = {1, L, E}, pos_view[2] = {L, E};
  int pos = weight(&b, "pos_embed", 3, pos_shape, 2, pos_view);
  x = fv_embed_tokens(g, x, prefix, pos, c->no_embed_class);

  if (c->depth > FV_VIT_MAX_DEPTH)
    return fv_fail(err, "%s: depth %d exceeds the supported %d blocks", vit->path, c->depth, FV_VIT_MAX_DEPTH);
  out->depth = c->depth;
  out->n_prefix = P;
  out->grid_h = (int)(H / p);
  out->grid_w = (int)(W / p);
  int tap_blocks = 0;
  for (int i = 0; i < c->depth && !b.status; i++) {
    char n[96];
#define NAME(suffix) (snprintf(n, sizeof n, "blocks.%d.%s", i, suffix), n)
    /* TAP feeds only the attention branch; the residual below keeps the un-pooled x. */
    int h = tap_block(&b, i, x, P, out->grid_h, out->grid_w, &out->tap_scales[i]);
    tap_blocks += out->tap_scales[i] >= 0;
    h = layernorm(&b, h, NAME("norm1"), E);
    h = linear(&b, h, NAME("attn.qkv"), 3 * E, E, c->qkv_bias, 0);
    out->qkv[i] = h;
    h = fv_attention(g, h, (int)heads, (int)head_dim, 1.0f / sqrtf((float)head_dim));
    h = linear(&b, h, NAME("attn.proj"), E, E, 1, 0);
    x = fv_add(g, x, h, c->layer_scale ? vec(&b, NAME("ls1.gamma"), E) : -1, 1.0f, 1.0f);
    h = layernorm(&b, x, NAME("norm2"), E);
    h = linear(&b, h, NAME("mlp.fc1"), hidden, E, 1, 1);
    h = linear(&b, h, NAME("mlp.fc2"), E, hidden, 1, 0);
    x = fv_add(g, x, h, c->layer_scale ? vec(&b, NAME("ls2.gamma"), E) : -1, 1.0f, 1.0f);
#undef NAME
  }

  if (!b.status && c->tap_scales > 0 && tap_blocks == 0)
    return fv_fail(err,
                   "%s: config.json has a tap section (num_scales %d) but no block has TAP tensors "
                   "(blocks.N.dilation_predictor.proj.*), expected them in at least one block",
                   vit->path, c->tap_scales);
  int64_t T = Np + P, K = c->num_classes;
  int logits;
  if (c->global_pool == FV_POOL_AVG) {
    if (!c->fc_norm) x = layernorm(&b, x, "norm", E);
    int pooled = fv_tokens_mean(g, x, P, (int)(T - P));
    if (c->fc_norm) pooled = layernorm(&b, pooled, "fc_norm", E);
    logits = linear(&b, pooled, "head", K, E, 1, 0);
  } else {
    x = layernorm(&b, x, "norm", E);
    logits = linear(&b, fv_tokens_slice(g, x, 0, 1), "head", K, E, 1, 0);
    if (c->distilled) {
      int dist = linear(&b, fv_tokens_slice(g, x, 1, 1), "head_dist", K, E, 1, 0);
      logits = fv_add(g, logits, dist, -1, 0.5f, 0.5f);
    }
  }
  out->logits = logits;
  out->probs = fv_softmax(g, logits);
  fv_set_name(g, out->logits, "logits");
  fv_set_name(g, out->probs, "probs");
  fv_mark_output(g, out->logits);
  fv_mark_output(g, out->probs);
  if (b.status) return FV_ERR;
  if (g->status) return fv_fail(err, "%s: %s", vit->path, g->error.msg);
  return FV_OK;
}

uint64_t fv_vit_bytes_per_image(const fv_vit *vit, size_t elem_size) {
  const fv_vit_config *c = &vit->cfg;
  int P = (c->class_token ? 1 : 0) + (c->distilled ? 1 : 0) + c->reg_tokens;
  uint64_t T = (uint64_t)(c->img_size[0] / c->patch_size) * (uint64_t)(c->img_size[1] / c->patch_size) + (uint64_t)P;
  uint64_t widest =
      (uint64_t)c->mlp_hidden > 3u * (uint64_t)c->embed_dim ? (uint64_t)c->mlp_hidden : 3u * (uint64_t)c->embed_dim;
  uint64_t patch_cols = (uint64_t)c->in_chans * (uint64_t)c->patch_size * (uint64_t)c->patch_size;
  if (patch_cols > widest) widest = patch_cols;
  return T * widest * elem_size;
}

/* ---- random models for benchmarks -------------------------------------------------------- */

typedef struct tensor_spec {
  char name[96];
  int ndim;
  int64_t shape[4];
  float fill; /* 0: random normal * 0.02; otherwise this constant (LayerNorm weights, biases) */
} tensor_spec;

static void spec(tensor_spec *s, int *n, const char *name, float fill, int ndim, int64_t a, int64_t b, int64_t c,
                 int64_t d) {
  tensor_spec *t = &s[(*n)++];
  snprintf(t->name, sizeof t->name, "%s", name);
  t->ndim = ndim;
  int64_t dims[4] = {a, b, c, d};
  memcpy(t->shape, dims, sizeof dims);
  t->fill = fill;
}

fv_status fv_vit_random(const char *arch, uint64_t seed, fv_vit *vit, fv_error *err) {
  memset(vit, 0, sizeof *vit);
  snprintf(vit->path, sizeof vit->path, "random:%s", arch);
  if (fv_vit_config_for_arch(arch, 1000, &vit->cfg, err)) return FV_ERR;
  const fv_vit_config *c = &vit->cfg;
  int64_t E = c->embed_dim, C = c->in_chans, p = c->patch_size, Hd = c->mlp_hidden, K = c->num_classes;
  int P = (c->class_token ? 1 : 0) + (c->distilled ? 1 : 0) + c->reg_tokens;
  int64_t L = (int64_t)(c->img_size[0] / p) * (c->img_size[1] / p) + (c->no_embed_class ? 0 : P);
  int max = 16 + 16 * c->depth, n = 0;
  tensor_spec *s = calloc((size_t)max, sizeof *s);
  if (!s) return fv_fail(err, "out of memory");
  spec(s, &n, "patch_embed.proj.weight", 0, 4, E, C, p, p);
  spec(s, &n, "patch_embed.proj.bias", 1e-9f, 1, E, 0, 0, 0);
  if (c->class_token) spec(s, &n, "cls_token", 0, 3, 1, 1, E, 0);
  if (c->distilled) spec(s, &n, "dist_token", 0, 3, 1, 1, E, 0);
  if (c->reg_tokens) spec(s, &n, "reg_token", 0, 3, 1, c->reg_tokens, E, 0);
  spec(s, &n, "pos_embed", 0, 3, 1, L, E, 0);
  for (int i = 0; i < c->depth; i++) {
    char b[64];
#define BLK(suffix) (snprintf(b, sizeof b, "blocks.%d.%s", i, suffix), b)
    spec(s, &n, BLK("norm1.weight"), 1, 1, E, 0, 0, 0);
    spec(s, &n, BLK("norm1.bias"), 1e-9f, 1, E, 0, 0, 0);
    spec(s, &n, BLK("attn.qkv.weight"), 0, 2, 3 * E, E, 0, 0);
    if (c->qkv_bias) spec(s, &n, BLK("attn.qkv.bias"), 1e-9f, 1, 3 * E, 0, 0, 0);
    spec(s, &n, BLK("attn.proj.weight"), 0, 2, E, E, 0, 0);
    spec(s, &n, BLK("attn.proj.bias"), 1e-9f, 1, E, 0, 0, 0);
    if (c->layer_scale) spec(s, &n, BLK("ls1.gamma"), 0.1f, 1, E, 0, 0, 0);
    spec(s, &n, BLK("norm2.weight"), 1, 1, E, 0, 0, 0);
    spec(s, &n, BLK("norm2.bias"), 1e-9f, 1, E, 0, 0, 0);
    spec(s, &n, BLK("mlp.fc1.weight"), 0, 2, Hd, E, 0, 0);
    spec(s, &n, BLK("mlp.fc1.bias"), 1e-9f, 1, Hd, 0, 0, 0);
    spec(s, &n, BLK("mlp.fc2.weight"), 0, 2, E, Hd, 0, 0);
    spec(s, &n, BLK("mlp.fc2.bias"), 1e-9f, 1, E, 0, 0, 0);
    if (c->layer_scale) spec(s, &n, BLK("ls2.gamma"), 0.1f, 1, E, 0, 0, 0);
#undef BLK
  }
  const char *final_norm = c->global_pool == FV_POOL_AVG && c->fc_norm ? "fc_norm" : "norm";
  char nw[32], nb[32];
  snprintf(nw, sizeof nw, "%s.weight", final_norm);
  snprintf(nb, sizeof nb, "%s.bias", final_norm);
  spec(s, &n, nw, 1, 1, E, 0, 0, 0);
  spec(s, &n, nb, 1e-9f, 1, E, 0, 0, 0);
  spec(s, &n, "head.weight", 0, 2, K, E, 0, 0);
  spec(s, &n, "head.bias", 1e-9f, 1, K, 0, 0, 0);
  if (c->distilled) {
    spec(s, &n, "head_dist.weight", 0, 2, K, E, 0, 0);
    spec(s, &n, "head_dist.bias", 1e-9f, 1, K, 0, 0, 0);
  }
  size_t total = 0;
  for (int i = 0; i < n; i++) {
    int64_t numel = 1;
    for (int d = 0; d < s[i].ndim; d++) numel *= s[i].shape[d];
    total += (size_t)numel;
  }
  float *data = malloc(total * sizeof *data);
  vit->st.tensors = calloc((size_t)n, sizeof *vit->st.tensors);
  vit->st.path = strdup(vit->path);
  if (!data || !vit->st.tensors || !vit->st.path) {
    free(data);
    free(s);
    fv_vit_free(vit);
    return fv_fail(err, "out of memory creating %zu random weights", total);
  }
  vit->owned_data = data;
  uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    fv_st_tensor *t = &vit->st.tensors[i];
    t->name = strdup(s[i].name);
    vit->st.count = i + 1;
    if (!t->name) {
      free(s);
      fv_vit_free(vit);
      return fv_fail(err, "out of memory");
    }
    t->dtype = FV_F32;
    t->ndim = s[i].ndim;
    int64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) numel *= (t->shape[d] = s[i].shape[d]);
    for (int64_t k = 0; k < numel; k++) {
      float v = s[i].fill;
      if (v == 0) { /* uniform with the variance of N(0, 0.02^2): cheap and close to timm's init */
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        v = (float)(((double)(state >> 11) / 9007199254740992.0) * 2.0 - 1.0) * 0.0346f;
      }
      data[at + (size_t)k] = v;
    }
    t->data = data + at;
    t->bytes = (size_t)numel * 4;
    at += (size_t)numel;
  }
  free(s);
  return FV_OK;
}
