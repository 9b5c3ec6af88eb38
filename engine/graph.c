/* graph.c: node constructors with shape and argument checking (see graph.h). */
#include "graph.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fv_graph_init(fv_graph *g) { memset(g, 0, sizeof *g); }

void fv_graph_free(fv_graph *g) {
  for (int i = 0; i < g->count; i++)
    if (g->nodes[i].owns_data) free((void *)g->nodes[i].data);
  free(g->nodes);
  memset(g, 0, sizeof *g);
}

int64_t fv_node_numel(const fv_node *n) {
  int64_t v = 1;
  for (int i = 0; i < n->ndim; i++) v *= n->shape[i];
  return v;
}

const char *fv_op_name(fv_op op) {
  static const char *names[FV_OP_COUNT] = {
      [FV_OP_INPUT] = "input",
      [FV_OP_WEIGHT] = "weight",
      [FV_OP_MATMUL] = "matmul",
      [FV_OP_LAYERNORM] = "layernorm",
      [FV_OP_SOFTMAX] = "softmax",
      [FV_OP_ATTENTION] = "attention",
      [FV_OP_ADD] = "add",
      [FV_OP_IM2COL] = "im2col",
      [FV_OP_EMBED_TOKENS] = "embed_tokens",
      [FV_OP_TOKENS] = "tokens",
      [FV_OP_RESAMPLE] = "resample",
      [FV_OP_CROP_NORMALIZE] = "crop_normalize",
      [FV_OP_STENCIL] = "stencil",
      [FV_OP_SAMPLE] = "sample",
      [FV_OP_WARP] = "warp",
      [FV_OP_PIXEL] = "pixel",
      [FV_OP_RANDOM] = "random",
      [FV_OP_REDUCE] = "reduce",
      [FV_OP_PLASMA] = "plasma",
      [FV_OP_ATTENTION_PROBE] = "attention_probe",
      [FV_OP_TAP_SCALES] = "tap_scales",
      [FV_OP_TAP_MIX] = "tap_mix",
  };
  return op >= 0 && op < FV_OP_COUNT && names[op] ? names[op] : "?";
}

static int graph_failed(fv_graph *g) { return g->status != FV_OK; }

/* Records the first error (later ones are consequences of it) and returns -1. */
__attribute__((format(printf, 2, 3))) static int fail(fv_graph *g, const char *fmt, ...) {
  if (!graph_failed(g)) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g->error.msg, sizeof g->error.msg, fmt, ap);
    va_end(ap);
    g->status = FV_ERR;
  }
  return -1;
}

/* Appends a node and returns its index; sources must already exist. */
static int push(fv_graph *g, fv_op op, int ndim, const int64_t *shape, int s0, int s1, int s2) {
  if (graph_failed(g)) return -1;
  int srcs[3] = {s0, s1, s2};
  for (int i = 0; i < 3; i++)
    if (srcs[i] < -1 || srcs[i] >= g->count)
      return fail(g, "graph: %s source %d is not an existing node (have %d)", fv_op_name(op), srcs[i], g->count);
  if (ndim < 1 || ndim > FV_MAX_DIMS)
    return fail(g, "graph: %s has %d dimensions, expected 1..%d", fv_op_name(op), ndim, FV_MAX_DIMS);
  int64_t numel = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] <= 0 || shape[i] > (1LL << 40))
      return fail(g, "graph: %s dimension %d is %lld, expected a positive size", fv_op_name(op), i,
                  (long long)shape[i]);
    numel *= shape[i];
    if (numel > (1LL << 40)) return fail(g, "graph: %s has more than 2^40 elements", fv_op_name(op));
  }
  /* shape may point into g->nodes (a source's shape): copy it before the array can move. */
  int64_t dims[FV_MAX_DIMS];
  memcpy(dims, shape, (size_t)ndim * sizeof *shape);
  if (g->count == g->capacity) {
    int cap = g->capacity ? 2 * g->capacity : 64;
    fv_node *n = realloc(g->nodes, (size_t)cap * sizeof *n);
    if (!n) return fail(g, "graph: out of memory growing to %d nodes", cap);
    g->nodes = n;
    g->capacity = cap;
  }
  fv_node *n = &g->nodes[g->count];
  memset(n, 0, sizeof *n);
  n->op = op;
  n->dtype = FV_F32;
  n->ndim = ndim;
  memcpy(n->shape, dims, (size_t)ndim * sizeof *dims);
  n->src[0] = s0;
  n->src[1] = s1;
  n->src[2] = s2;
  n->src[3] = -1;
  snprintf(n->name, sizeof n->name, "%s.%d", fv_op_name(op), g->count);
  return g->count++;
}

static const fv_node *node(fv_graph *g, int i) { return &g->nodes[i]; }
static int64_t last_dim(fv_graph *g, int i) { return node(g, i)->shape[node(g, i)->ndim - 1]; }

/* Every source passed by the caller must be a valid node (or -1 where optional). */
static int check_src(fv_graph *g, const char *op, int idx, int optional) {
  if (graph_failed(g)) return 0;
  if (idx == -1 && optional) return 1;
  if (idx < 0 || idx >= g->count) {
    fail(g, "graph: %s source %d is not an existing node (have %d)", op, idx, g->count);
    return 0;
  }
  if (g->nodes[idx].dtype == FV_U8 && strcmp(op, "resample") != 0) {
    fail(g, "graph: %s cannot read U8 node %d", op, idx);
    return 0;
  }
  /* U32 nodes are random keys: only check_keys() accepts them, where an op expects keys. */
  if (g->nodes[idx].dtype == FV_U32) {
    fail(g, "graph: %s cannot read U32 node %s as data (U32 inputs are random keys)", op, g->nodes[idx].name);
    return 0;
  }
  return 1;
}

void fv_set_name(fv_graph *g, int i, const char *name) {
  if (i >= 0 && i < g->count && name) snprintf(g->nodes[i].name, sizeof g->nodes[i].name, "%s", name);
}

void fv_mark_output(fv_graph *g, int i) {
  if (i >= 0 && i < g->count) g->nodes[i].is_output = 1;
}

int fv_input(fv_graph *g, const char *name, fv_dtype dtype, int ndim, const int64_t *shape) {
  if (dtype != FV_F32 && dtype != FV_U8 && dtype != FV_U32)
    return fail(g, "graph: input %s must be F32, U8 or U32, got %s", name ? name : "?", fv_dtype_name(dtype));
  int i = push(g, FV_OP_INPUT, ndim, shape, -1, -1, -1);
  if (i < 0) return -1;
  g->nodes[i].dtype = dtype;
  fv_set_name(g, i, name);
  return i;
}

int fv_weight(fv_graph *g, const char *name, int ndim, const int64_t *shape, const void *data, fv_dtype data_dtype,
              int copy) {
  if (data_dtype == FV_U8 || data_dtype == FV_U32 || data_dtype == FV_I64)
    return fail(g, "graph: weight %s cannot be %s (weights are float data)", name ? name : "?",
                fv_dtype_name(data_dtype));
  int i = push(g, FV_OP_WEIGHT, ndim, shape, -1, -1, -1);
  if (i < 0) return -1;
  fv_node *n = &g->nodes[i];
  n->data_dtype = data_dtype;
  if (copy) {
    size_t bytes = (size_t)fv_node_numel(n) * fv_dtype_size(data_dtype);
    void *d = malloc(bytes ? bytes : 1);
    if (!d) return fail(g, "graph: out of memory copying weight %s (%zu bytes)", name ? name : "?", bytes);
    memcpy(d, data, bytes);
    n->data = d;
    n->owns_data = 1;
  } else {
    n->data = data;
  }
  fv_set_name(g, i, name);
  return i;
}

int fv_matmul(fv_graph *g, int a, int w, int bias, int gelu) {
  if (!check_src(g, "matmul", a, 0) || !check_src(g, "matmul", w, 0) || !check_src(g, "matmul", bias, 1)) return -1;
  const fv_node *W = node(g, w);
  if (W->ndim != 2 || W->shape[1] != last_dim(g, a))
    return fail(g, "graph: matmul weight %s must be [N, %lld], got %d dims with last dim %lld", W->name,
                (long long)last_dim(g, a), W->ndim, (long long)W->shape[W->ndim - 1]);
  if (bias >= 0 && (node(g, bias)->ndim != 1 || node(g, bias)->shape[0] != W->shape[0]))
    return fail(g, "graph: matmul bias %s must have %lld elements, got %lld", node(g, bias)->name,
                (long long)W->shape[0], (long long)fv_node_numel(node(g, bias)));
  int64_t shape[FV_MAX_DIMS];
  const fv_node *A = node(g, a);
  memcpy(shape, A->shape, sizeof shape);
  shape[A->ndim - 1] = W->shape[0];
  int i = push(g, FV_OP_MATMUL, A->ndim, shape, a, w, bias);
  if (i >= 0) g->nodes[i].p.matmul.gelu = gelu;
  return i;
}

static int check_vector(fv_graph *g, const char *op, int v, int64_t len) {
  if (v < 0) return 1;
  if (fv_node_numel(node(g, v)) != len) {
    fail(g, "graph: %s parameter %s must have %lld elements, got %lld", op, node(g, v)->name, (long long)len,
         (long long)fv_node_numel(node(g, v)));
    return 0;
  }
  return 1;
}

int fv_layernorm(fv_graph *g, int x, int gamma, int beta, float eps) {
  if (!check_src(g, "layernorm", x, 0) || !check_src(g, "layernorm", gamma, 1) || !check_src(g, "layernorm", beta, 1))
    return -1;
  if (!check_vector(g, "layernorm", gamma, last_dim(g, x)) || !check_vector(g, "layernorm", beta, last_dim(g, x)))
    return -1;
  int i = push(g, FV_OP_LAYERNORM, node(g, x)->ndim, node(g, x)->shape, x, gamma, beta);
  if (i >= 0) g->nodes[i].p.norm.eps = eps;
  return i;
}

int fv_softmax(fv_graph *g, int x) {
  if (!check_src(g, "softmax", x, 0)) return -1;
  return push(g, FV_OP_SOFTMAX, node(g, x)->ndim, node(g, x)->shape, x, -1, -1);
}

int fv_attention(fv_graph *g, int qkv, int heads, int head_dim, float scale) {
  if (!check_src(g, "attention", qkv, 0)) return -1;
  const fv_node *q = node(g, qkv);
  if (heads < 1 || head_dim < 1 || head_dim > 128)
    return fail(g, "graph: attention needs heads >= 1 and head_dim in 1..128, got %d and %d", heads, head_dim);
  if (q->ndim != 3 || q->shape[2] != 3LL * heads * head_dim)
    return fail(g, "graph: attention input %s must be [B, T, 3*H*D] with 3*H*D = %lld, got last dim %lld", q->name,
                3LL * heads * head_dim, (long long)q->shape[q->ndim - 1]);
  int64_t shape[3] = {q->shape[0], q->shape[1], (int64_t)heads * head_dim};
  int i = push(g, FV_OP_ATTENTION, 3, shape, qkv, -1, -1);
  if (i >= 0) {
    g->nodes[i].p.attn.heads = heads;
    g->nodes[i].p.attn.head_dim = head_dim;
    g->nodes[i].p.attn.scale = scale;
  }
  return i;
}

int fv_add(fv_graph *g, int a, int b, int gamma, float alpha, float beta) {
  if (!check_src(g, "add", a, 0) || !check_src(g, "add", b, 0) || !check_src(g, "add", gamma, 1)) return -1;
  const fv_node *A = node(g, a), *B = node(g, b);
  if (A->ndim != B->ndim || memcmp(A->shape, B->shape, (size_t)A->ndim * sizeof A->shape[0]) != 0)
    return fail(g, "graph: add operands %s and %s differ in shape", A->name, B->name);
  if (!check_vector(g, "add", gamma, last_dim(g, a))) return -1;
  int i = push(g, FV_OP_ADD, A->ndim, A->shape, a, b, gamma);
  if (i >= 0) {
    g->nodes[i].p.add.alpha = alpha;
    g->nodes[i].p.add.beta = beta;
  }
  return i;
}

int fv_im2col(fv_graph *g, int image, int patch) {
  if (!check_src(g, "im2col", image, 0)) return -1;
  const fv_node *im = node(g, image);
  if (im->ndim != 4 || patch < 1 || im->shape[2] % patch || im->shape[3] % patch)
    return fail(g, "graph: im2col needs a [B, C, H, W] input %s with H and W multiples of the patch %d", im->name,
                patch);
  int64_t gh = im->shape[2] / patch, gw = im->shape[3] / patch;
  int64_t shape[3] = {im->shape[0], gh * gw, im->shape[1] * patch * patch};
  int i = push(g, FV_OP_IM2COL, 3, shape, image, -1, -1);
  if (i >= 0) g->nodes[i].p.im2col.patch = patch;
  return i;
}

int fv_embed_tokens(fv_graph *g, int patches, int prefix, int pos, int no_embed_class) {
  if (!check_src(g, "embed_tokens", patches, 0) || !check_src(g, "embed_tokens", prefix, 1) ||
      !check_src(g, "embed_tokens", pos, 1))
    return -1;
  const fv_node *x = node(g, patches);
  if (x->ndim != 3) return fail(g, "graph: embed_tokens patches %s must be [B, N, E]", x->name);
  int64_t E = x->shape[2], P = 0;
  if (prefix >= 0) {
    const fv_node *pr = node(g, prefix);
    if (pr->shape[pr->ndim - 1] != E || fv_node_numel(pr) % E)
      return fail(g, "graph: prefix tokens %s must be [P, %lld], got last dim %lld", pr->name, (long long)E,
                  (long long)pr->shape[pr->ndim - 1]);
    P = fv_node_numel(pr) / E;
  }
  int64_t T = P + x->shape[1];
  int pos_offset = no_embed_class ? (int)P : 0;
  if (pos >= 0 && fv_node_numel(node(g, pos)) != (T - pos_offset) * E)
    return fail(g, "graph: positional embedding %s must have %lld tokens of %lld, got %lld elements",
                node(g, pos)->name, (long long)(T - pos_offset), (long long)E, (long long)fv_node_numel(node(g, pos)));
  int64_t shape[3] = {x->shape[0], T, E};
  int i = push(g, FV_OP_EMBED_TOKENS, 3, shape, patches, prefix, pos);
  if (i >= 0) {
    g->nodes[i].p.embed.n_prefix = (int)P;
    g->nodes[i].p.embed.pos_offset = pos_offset;
  }
  return i;
}

static int tokens(fv_graph *g, int x, int start, int count, int mean) {
  if (!check_src(g, "tokens", x, 0)) return -1;
  const fv_node *X = node(g, x);
  if (X->ndim != 3 || start < 0 || count < 1 || start + (int64_t)count > X->shape[1])
    return fail(g, "graph: token range [%d, %d+%d) of %s must lie inside its tokens", start, start, count, X->name);
  int64_t shape[3] = {X->shape[0], mean ? X->shape[2] : count, X->shape[2]};
  int i = push(g, FV_OP_TOKENS, mean ? 2 : 3, shape, x, -1, -1);
  if (i >= 0) {
    g->nodes[i].p.tokens.start = start;
    g->nodes[i].p.tokens.count = count;
    g->nodes[i].p.tokens.mean = mean;
  }
  return i;
}

int fv_tokens_mean(fv_graph *g, int x, int start, int count) { return tokens(g, x, start, count, 1); }
int fv_tokens_slice(fv_graph *g, int x, int start, int count) { return tokens(g, x, start, count, 0); }

int fv_resample(fv_graph *g, int image, int table, int axis, int out_size, int taps, int round_u8) {
  if (!check_src(g, "resample", image, 0) || !check_src(g, "resample", table, 0)) return -1;
  const fv_node *im = node(g, image);
  /* [H, W, C] with axis 0 or 1, or a batch [B, H, W, C] with axis 1 or 2. */
  int first_axis = im->ndim == 4 ? 1 : 0;
  if ((im->ndim != 3 && im->ndim != 4) || axis < first_axis || axis > first_axis + 1 || out_size < 1 || taps < 1)
    return fail(g,
                "graph: resample needs an [H, W, C] image with axis 0 or 1, or a [B, H, W, C] batch with axis 1 or "
                "2, and sizes >= 1; got %s with %d dims, axis %d, taps %d",
                im->name, im->ndim, axis, taps);
  if (fv_node_numel(node(g, table)) != (int64_t)out_size * (2 + taps))
    return fail(g, "graph: resample table %s must hold %lld values, got %lld", node(g, table)->name,
                (long long)out_size * (2 + taps), (long long)fv_node_numel(node(g, table)));
  int64_t shape[FV_MAX_DIMS];
  int ndim = im->ndim;
  memcpy(shape, im->shape, sizeof shape);
  shape[axis] = out_size;
  int i = push(g, FV_OP_RESAMPLE, ndim, shape, image, table, -1);
  if (i >= 0) {
    g->nodes[i].p.resample.axis = axis;
    g->nodes[i].p.resample.taps = taps;
    g->nodes[i].p.resample.round_u8 = round_u8;
  }
  return i;
}

int fv_crop_normalize(fv_graph *g, int image, int top, int left, int height, int width, const float *mean,
                      const float *std) {
  if (!check_src(g, "crop_normalize", image, 0)) return -1;
  const fv_node *im = node(g, image);
  if (im->ndim != 3 || im->shape[2] > 4 || top < 0 || left < 0 || height < 1 || width < 1 ||
      top + (int64_t)height > im->shape[0] || left + (int64_t)width > im->shape[1])
    return fail(g, "graph: crop %dx%d of %s at top %d, left %d lies outside the [H, W, C<=4] image", height, width,
                im->name, top, left);
  int64_t shape[3] = {im->shape[2], height, width};
  int channels = (int)im->shape[2]; /* im dangles once push grows the node array */
  int i = push(g, FV_OP_CROP_NORMALIZE, 3, shape, image, -1, -1);
  if (i < 0) return -1;
  fv_node *n = &g->nodes[i];
  n->p.crop.top = top;
  n->p.crop.left = left;
  for (int c = 0; c < channels; c++) {
    if (!(std[c] > 0)) return fail(g, "graph: crop_normalize std[%d] must be positive", c);
    n->p.crop.mean[c] = mean[c];
    n->p.crop.std[c] = std[c];
  }
  return i;
}

/* ---- image ops ---------------------------------------------------------------------------- */

/* An image batch [B, H, W, C] of float data. */
static int check_image(fv_graph *g, const char *op, int image) {
  if (!check_src(g, op, image, 0)) return 0;
  if (node(g, image)->ndim != 4) {
    fail(g, "graph: %s image %s must be a [B, H, W, C] batch, got %d dims", op, node(g, image)->name,
         node(g, image)->ndim);
    return 0;
  }
  return 1;
}

/* Random keys: a U32 input [B], one key per image. */
static int check_keys(fv_graph *g, const char *op, int keys, int64_t batch) {
  if (graph_failed(g)) return 0;
  if (keys < 0 || keys >= g->count) {
    fail(g, "graph: %s keys %d is not an existing node (have %d)", op, keys, g->count);
    return 0;
  }
  const fv_node *k = node(g, keys);
  if (k->op != FV_OP_INPUT || k->dtype != FV_U32 || k->ndim != 1 || k->shape[0] != batch) {
    fail(g, "graph: %s keys %s must be a U32 input [%lld] (one key per image), got a %s %s with %lld elements", op,
         k->name, (long long)batch, fv_dtype_name(k->dtype), fv_op_name(k->op), (long long)fv_node_numel(k));
    return 0;
  }
  return 1;
}

static int check_border(fv_graph *g, const char *op, fv_border border) {
  if (graph_failed(g)) return 0;
  if (border < FV_BORDER_NEAREST || border > FV_BORDER_ZERO) {
    fail(g, "graph: %s border mode %d is not an fv_border (0..3)", op, (int)border);
    return 0;
  }
  return 1;
}

/* Reads element i of a WEIGHT node as float (its host data, any float dtype). */
static float weight_value(const fv_node *w, int64_t i) {
  float v;
  fv_convert_to_f32((const char *)w->data + (size_t)i * fv_dtype_size(w->data_dtype), w->data_dtype, &v, 1);
  return v;
}

int fv_stencil(fv_graph *g, int image, int taps, fv_border border) {
  return fv_stencil_add(g, image, taps, border, -1);
}

int fv_stencil_add(fv_graph *g, int image, int taps, fv_border border, int addend) {
  if (!check_image(g, "stencil", image) || !check_src(g, "stencil", taps, 0) || !check_border(g, "stencil", border) ||
      !check_src(g, "stencil", addend, 1))
    return -1;
  const fv_node *im = node(g, image), *ad = addend >= 0 ? node(g, addend) : NULL;
  if (ad && (ad->ndim != 4 || memcmp(ad->shape, im->shape, 4 * sizeof im->shape[0]) != 0))
    return fail(g, "graph: stencil addend %s must have the image %s's shape", node(g, addend)->name,
                node(g, image)->name);
  const fv_node *t = node(g, taps);
  /* Per-image taps [B, T, 3] are data computed or written at run time: not checked here. */
  if (t->ndim == 3 && t->shape[0] == node(g, image)->shape[0] && t->shape[1] >= 1 && t->shape[2] == 3) {
    int i = push(g, FV_OP_STENCIL, 4, node(g, image)->shape, image, taps, addend);
    if (i >= 0) g->nodes[i].p.image.border = border;
    return i;
  }
  if (t->op != FV_OP_WEIGHT || t->ndim != 2 || t->shape[1] != 3 || !t->data)
    return fail(g, "graph: stencil taps %s must be a WEIGHT [T, 3] of (dy, dx, w) rows, or [B, T, 3] per image",
                t->name);
  /* Offsets are integers; kernels read them from the weight buffer, so they must also be exact in
   * fp16 storage (|d| <= 2048). */
  for (int64_t r = 0; r < t->shape[0]; r++)
    for (int k = 0; k < 2; k++) {
      float d = weight_value(t, r * 3 + k);
      if (!(d == floorf(d)) || fabsf(d) > 2048.0f)
        return fail(g, "graph: stencil tap %lld of %s has offset %g, expected an integer in -2048..2048", (long long)r,
                    t->name, (double)d);
    }
  int i = push(g, FV_OP_STENCIL, 4, node(g, image)->shape, image, taps, addend);
  if (i >= 0) g->nodes[i].p.image.border = border;
  return i;
}

int fv_sample(fv_graph *g, int image, int table, int out_h, int out_w, fv_border border, float scale) {
  if (!check_image(g, "sample", image) || !check_src(g, "sample", table, 0) || !check_border(g, "sample", border))
    return -1;
  const fv_node *t = node(g, table);
  if (t->ndim != 2 || t->shape[1] != 4)
    return fail(g, "graph: sample table %s must be [L, 4] of (ay, by, ax, bx) rows", t->name);
  if (out_h < 1 || out_w < 1) return fail(g, "graph: sample output size %dx%d must be positive", out_h, out_w);
  const fv_node *im = node(g, image);
  int64_t shape[4] = {im->shape[0], out_h, out_w, im->shape[3]};
  int i = push(g, FV_OP_SAMPLE, 4, shape, image, table, -1);
  if (i >= 0) {
    g->nodes[i].p.image.border = border;
    g->nodes[i].p.image.scale = scale;
  }
  return i;
}

/* A layer [B1, H, W, 1] whose batch is the image's or 1 (shared by every image). */
static int check_field(fv_graph *g, const char *op, int field, const fv_node *im) {
  if (!check_src(g, op, field, 0)) return 0;
  const fv_node *f = node(g, field);
  if (f->ndim != 4 || (f->shape[0] != im->shape[0] && f->shape[0] != 1) || f->shape[1] != im->shape[1] ||
      f->shape[2] != im->shape[2] || f->shape[3] != 1) {
    fail(g, "graph: %s displacement %s must be [%lld or 1, %lld, %lld, 1]", op, f->name, (long long)im->shape[0],
         (long long)im->shape[1], (long long)im->shape[2]);
    return 0;
  }
  return 1;
}

int fv_warp(fv_graph *g, int image, int dy, int dx, fv_border border) {
  if (!check_image(g, "warp", image) || !check_border(g, "warp", border)) return -1;
  const fv_node *im = node(g, image);
  if (!check_field(g, "warp", dy, im) || !check_field(g, "warp", dx, im)) return -1;
  if (node(g, dy)->shape[0] != node(g, dx)->shape[0])
    return fail(g, "graph: warp displacements %s and %s differ in batch size", node(g, dy)->name, node(g, dx)->name);
  int i = push(g, FV_OP_WARP, 4, im->shape, image, dy, dx);
  if (i >= 0) g->nodes[i].p.image.border = border;
  return i;
}

int fv_pixel(fv_graph *g, int image, int layer, int stats, int keys, fv_pixel_mode mode, const float a[4],
             const fv_rng_params *rng) {
  if (!check_image(g, "pixel", image) || !check_src(g, "pixel", layer, 1) || !check_src(g, "pixel", stats, 1))
    return -1;
  static const float zeros[4] = {0, 0, 0, 0};
  if (!a) a = zeros;
  if (mode < 0 || mode >= FV_PIXEL_MODE_COUNT)
    return fail(g, "graph: pixel mode %d is not an fv_pixel_mode (0..%d)", (int)mode, FV_PIXEL_MODE_COUNT - 1);
  const fv_node *im = node(g, image);
  const int64_t B = im->shape[0], H = im->shape[1], W = im->shape[2], C = im->shape[3];
  int needs_layer =
      mode == FV_PIXEL_FOG || mode == FV_PIXEL_FROST || mode == FV_PIXEL_SNOW || mode == FV_PIXEL_LAYER_COLOR;
  int needs_stats = mode == FV_PIXEL_CONTRAST || mode == FV_PIXEL_FOG;
  int needs_keys = mode <= FV_PIXEL_SPECKLE_NOISE;
  int needs_rgb = mode == FV_PIXEL_BRIGHTNESS || mode == FV_PIXEL_SATURATE || mode == FV_PIXEL_SNOW;
  if (needs_rgb && C != 3)
    return fail(g, "graph: pixel mode %d needs an RGB image (C = 3), got C = %lld", mode, (long long)C);
  if (mode == FV_PIXEL_LAYER_COLOR && C > 3)
    return fail(g, "graph: pixel layer_color takes at most 3 channels (a colour per channel), got %lld", (long long)C);
  if (needs_layer != (layer >= 0))
    return fail(g, "graph: pixel mode %d %s a layer", mode, needs_layer ? "needs" : "takes no");
  if (needs_stats != (stats >= 0))
    return fail(g, "graph: pixel mode %d %s per-image stats", mode, needs_stats ? "needs" : "takes no");
  if (needs_keys != (keys >= 0))
    return fail(g, "graph: pixel mode %d %s random keys", mode, needs_keys ? "needs" : "takes no");
  if (needs_keys && !rng) return fail(g, "graph: pixel noise mode %d needs rng parameters", mode);
  if (needs_keys && !check_keys(g, "pixel", keys, B)) return -1;
  if (layer >= 0) {
    const fv_node *l = node(g, layer);
    if (l->ndim != 4 || (l->shape[0] != B && l->shape[0] != 1) || l->shape[1] < H || l->shape[2] < W)
      return fail(g, "graph: pixel layer %s must be [%lld or 1, >= %lld, >= %lld, C1]", l->name, (long long)B,
                  (long long)H, (long long)W);
  }
  if (stats >= 0) {
    const fv_node *s = node(g, stats);
    if (s->ndim != 2 || s->shape[0] != B || (mode == FV_PIXEL_CONTRAST && s->shape[1] != C))
      return fail(g, "graph: pixel stats %s must be [%lld, %s]", s->name, (long long)B,
                  mode == FV_PIXEL_CONTRAST ? "C" : "C2");
  }
  if (mode == FV_PIXEL_SHOT_NOISE && !(a[0] > 0.0f))
    return fail(g, "graph: pixel shot noise needs lambda a0 > 0, got %g", (double)a[0]);
  int i = push(g, FV_OP_PIXEL, 4, im->shape, image, layer, stats);
  if (i < 0) return -1;
  fv_node *n = &g->nodes[i];
  n->src[3] = keys;
  n->p.pixel.mode = mode;
  for (int k = 0; k < 4; k++) n->p.pixel.a[k] = a[k];
  if (rng) n->p.pixel.rng = *rng;
  return i;
}

int fv_random(fv_graph *g, int keys, int ndim, const int64_t *shape, fv_random_dist dist, float a, float b,
              const fv_rng_params *rng) {
  if (graph_failed(g)) return -1;
  if (ndim < 1 || ndim > FV_MAX_DIMS || !shape || !rng)
    return fail(g, "graph: random needs 1..%d dims, a shape and rng", FV_MAX_DIMS);
  if (dist != FV_RANDOM_UNIFORM && dist != FV_RANDOM_NORMAL)
    return fail(g, "graph: random distribution %d is not an fv_random_dist", (int)dist);
  if (!check_keys(g, "random", keys, shape[0])) return -1;
  int i = push(g, FV_OP_RANDOM, ndim, shape, keys, -1, -1);
  if (i < 0) return -1;
  if (fv_node_numel(&g->nodes[i]) / g->nodes[i].shape[0] > UINT32_MAX)
    return fail(g, "graph: random %s has more than 2^32 values per image (draw indices are 32-bit)", g->nodes[i].name);
  g->nodes[i].p.random.dist = dist;
  g->nodes[i].p.random.a = a;
  g->nodes[i].p.random.b = b;
  g->nodes[i].p.random.rng = *rng;
  return i;
}

int fv_reduce(fv_graph *g, int image, fv_reduce_kind kind) {
  if (!check_image(g, "reduce", image)) return -1;
  if (kind != FV_REDUCE_MEAN && kind != FV_REDUCE_MAX)
    return fail(g, "graph: reduce kind %d is not an fv_reduce_kind", (int)kind);
  int64_t shape[2] = {node(g, image)->shape[0], node(g, image)->shape[3]};
  int i = push(g, FV_OP_REDUCE, 2, shape, image, -1, -1);
  if (i >= 0) g->nodes[i].p.reduce.kind = kind;
  return i;
}

int fv_plasma(fv_graph *g, int keys, int size, float decay, const fv_rng_params *rng) {
  if (graph_failed(g)) return -1;
  if (size < 2 || size > (1 << 15) || (size & (size - 1)) != 0)
    return fail(g, "graph: plasma size %d must be a power of two in 2..32768", size);
  if (!(decay > 0.0f) || !rng) return fail(g, "graph: plasma needs decay > 0 and rng, got decay %g", (double)decay);
  if (keys < 0 || keys >= g->count) return fail(g, "graph: plasma keys %d is not an existing node", keys);
  int64_t B = node(g, keys)->shape[0];
  if (!check_keys(g, "plasma", keys, B)) return -1;
  int64_t shape[4] = {B, size, size, 1};
  int i = push(g, FV_OP_PLASMA, 4, shape, keys, -1, -1);
  if (i < 0) return -1;
  g->nodes[i].p.plasma.decay = decay;
  g->nodes[i].p.plasma.rng = *rng;
  return i;
}

/* ---- token-aware average pooling -------------------------------------------------------------- */

/* Tokens [B, n_prefix + gh*gw, C]. */
static int check_tap_tokens(fv_graph *g, const char *op, int x, int n_prefix, int64_t gh, int64_t gw) {
  if (!check_src(g, op, x, 0)) return 0;
  const fv_node *X = node(g, x);
  if (n_prefix < 0 || gh < 1 || gw < 1 || X->ndim != 3 || X->shape[1] != n_prefix + gh * gw) {
    fail(g, "graph: %s tokens %s must be [B, %d + %lldx%lld, C] (prefix tokens, then the patch grid), got %d dims%s",
         op, X->name, n_prefix, (long long)gh, (long long)gw, X->ndim,
         X->ndim == 3 ? " with a different token count" : "");
    return 0;
  }
  return 1;
}

static int check_matrix(fv_graph *g, const char *op, const char *role, int m, int64_t rows, int64_t cols) {
  if (!check_src(g, op, m, 0)) return 0;
  const fv_node *M = node(g, m);
  if (M->ndim != 2 || M->shape[0] != rows || M->shape[1] != cols) {
    fail(g, "graph: %s %s %s must be [%lld, %lld]", op, role, M->name, (long long)rows, (long long)cols);
    return 0;
  }
  return 1;
}

int fv_tap_scales(fv_graph *g, int x, int w1, int b1, int w2, int n_prefix, int grid_h, int grid_w, float temperature) {
  if (!check_tap_tokens(g, "tap_scales", x, n_prefix, grid_h, grid_w) || !check_src(g, "tap_scales", w1, 0) ||
      !check_src(g, "tap_scales", b1, 1))
    return -1;
  const int64_t C = last_dim(g, x), K = node(g, w1)->shape[0];
  if (K < 1 || K > FV_TAP_MAX_SCALES)
    return fail(g, "graph: tap_scales conv1 %s has %lld output channels, expected 1..%d scales", node(g, w1)->name,
                (long long)K, FV_TAP_MAX_SCALES);
  if (!check_matrix(g, "tap_scales", "conv1", w1, K, C * 9) || !check_vector(g, "tap_scales", b1, K) ||
      !check_matrix(g, "tap_scales", "conv2", w2, K, K * 9))
    return -1;
  if (!(temperature > 0.0f) || !isfinite(temperature))
    return fail(g, "graph: tap_scales temperature %g must be positive and finite", (double)temperature);
  int64_t shape[4] = {node(g, x)->shape[0], grid_h, grid_w, K};
  int i = push(g, FV_OP_TAP_SCALES, 4, shape, x, w1, b1);
  if (i < 0) return -1;
  fv_node *n = &g->nodes[i];
  n->src[3] = w2;
  n->p.tap.n_prefix = n_prefix;
  n->p.tap.grid_h = grid_h;
  n->p.tap.grid_w = grid_w;
  n->p.tap.temperature = temperature;
  return i;
}

int fv_tap_mix(fv_graph *g, int x, int scales, int n_prefix) {
  if (!check_src(g, "tap_mix", scales, 0)) return -1;
  const fv_node *S = node(g, scales);
  if (S->ndim != 4 || S->shape[3] < 1 || S->shape[3] > FV_TAP_MAX_SCALES)
    return fail(g, "graph: tap_mix scales %s must be [B, grid_h, grid_w, K] with K in 1..%d", S->name,
                FV_TAP_MAX_SCALES);
  const int64_t gh = S->shape[1], gw = S->shape[2];
  if (!check_tap_tokens(g, "tap_mix", x, n_prefix, gh, gw)) return -1;
  if (node(g, x)->shape[0] != S->shape[0])
    return fail(g, "graph: tap_mix tokens %s and scales %s differ in batch size", node(g, x)->name, S->name);
  int i = push(g, FV_OP_TAP_MIX, 3, node(g, x)->shape, x, scales, -1);
  if (i < 0) return -1;
  g->nodes[i].p.tap.n_prefix = n_prefix;
  g->nodes[i].p.tap.grid_h = (int)gh;
  g->nodes[i].p.tap.grid_w = (int)gw;
  return i;
}

/* ---- attention probe -------------------------------------------------------------------- */

int fv_attention_probe(fv_graph *g, int qkv, fv_probe_mode mode, int heads, int head_dim, float scale, int n_prefix,
                       int grid_h, int grid_w, int query, int rows, float threshold) {
  if (!check_src(g, "attention_probe", qkv, 0) || !check_src(g, "attention_probe", rows, 1)) return -1;
  const fv_node *q = node(g, qkv);
  if (heads < 1 || head_dim < 1 || head_dim > 128)
    return fail(g, "graph: attention_probe needs heads >= 1 and head_dim in 1..128, got %d and %d", heads, head_dim);
  if (q->ndim != 3 || q->shape[2] != 3LL * heads * head_dim)
    return fail(g, "graph: attention_probe input %s must be [B, T, 3*H*D] with 3*H*D = %lld, got last dim %lld",
                q->name, 3LL * heads * head_dim, (long long)q->shape[q->ndim - 1]);
  const int64_t B = q->shape[0], T = q->shape[1];
  if (n_prefix < 0 || grid_h < 1 || grid_w < 1 || (int64_t)n_prefix + (int64_t)grid_h * grid_w != T)
    return fail(g, "graph: attention_probe tokens: %lld in %s, expected n_prefix %d + grid %dx%d", (long long)T,
                q->name, n_prefix, grid_h, grid_w);
  if (!(threshold >= 0.0f)) return fail(g, "graph: attention_probe threshold %g must be >= 0", (double)threshold);
  if (mode == FV_PROBE_ROWS && (query < -1 || query >= T))
    return fail(g, "graph: attention_probe query %d must be -1 (mean) or a token below %lld", query, (long long)T);
  if (mode != FV_PROBE_STATS && rows >= 0) return fail(g, "graph: attention_probe rows are read in STATS mode only");
  if (rows >= 0) {
    const fv_node *r = node(g, rows);
    if (r->ndim != 3 || r->shape[0] != B || r->shape[1] != heads || r->shape[2] != T)
      return fail(g, "graph: attention_probe rows %s must be [%lld, %d, %lld]", r->name, (long long)B, heads,
                  (long long)T);
  }
  int64_t shape[4];
  int ndim;
  if (mode == FV_PROBE_STATS) {
    ndim = 4, shape[0] = B, shape[1] = heads, shape[2] = T, shape[3] = FV_PROBE_NSTATS;
  } else if (mode == FV_PROBE_MEAN) {
    ndim = 3, shape[0] = B, shape[1] = T, shape[2] = T;
  } else if (mode == FV_PROBE_ROWS) {
    ndim = 3, shape[0] = B, shape[1] = heads, shape[2] = T;
  } else {
    return fail(g, "graph: attention_probe mode %d is not an fv_probe_mode", (int)mode);
  }
  int i = push(g, FV_OP_ATTENTION_PROBE, ndim, shape, qkv, rows, -1);
  if (i < 0) return -1;
  fv_node *n = &g->nodes[i];
  n->p.probe.heads = heads;
  n->p.probe.head_dim = head_dim;
  n->p.probe.scale = scale;
  n->p.probe.n_prefix = n_prefix;
  n->p.probe.grid_h = grid_h;
  n->p.probe.grid_w = grid_w;
  n->p.probe.query = mode == FV_PROBE_ROWS ? query : 0;
  n->p.probe.topk = (int)((T + 99) / 100);
  n->p.probe.mode = mode;
  n->p.probe.threshold = threshold;
  return i;
}
