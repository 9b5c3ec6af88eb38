/* cpu_exec.c: the CPU backend of exec.h, running every node with its reference (ref.h).
 *
 * Each node gets a host buffer: inputs and weights for the executor's lifetime (weights
 * converted to fp32 once, from data that may be unaligned inside an mmap), intermediate
 * results from the node that makes them to their last reader (liveness), outputs until the
 * executor is freed. Nodes run in graph order, which graph.c guarantees is topological.
 *
 * fp16 storage (options.storage == FV_F16) is emulated so that `--device cpu` resembles a
 * GPU storing fp16 tensors: every weight, every F32 input and every op output is rounded to
 * fp16 and back (fv_f32_to_f16, round to nearest even) as it is stored; arithmetic inside an
 * op stays fp32, as it does in the kernels. U8 inputs are kept as bytes and U32 inputs (random
 * keys) as raw words: neither is ever rounded.
 *
 * Deliberately not here: profiling (fv_exec_profile returns 0 on the CPU), threading beyond
 * what the references do (OpenMP loops, OpenBLAS), and graph validation (graph.c). */
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "ref/ref.h"

typedef struct cpu_exec {
  fv_exec base;       /* must be first: the interface hands us fv_exec pointers */
  float **buf;        /* per node; NULL while not live */
  uint8_t **u8;       /* per node; U8 inputs only */
  uint32_t **u32;     /* per node; U32 inputs (random keys) only */
  int *last_use;      /* index of the last node reading each node; count for outputs/inputs/weights */
  int *written;       /* per input: written at least once */
  float *tap_z1;      /* FV_OP_TAP_SCALES scratch (conv1 output), sized for the largest such node */
  double *probe_rows; /* FV_OP_ATTENTION_PROBE scratch: 3 rows of the longest such node's tokens */
} cpu_exec;

static const fv_node *node_at(const cpu_exec *cx, int i) { return &cx->base.graph->nodes[i]; }

static int64_t dim(const fv_node *n, int i) { return n->shape[i]; }
static int64_t last_dim(const fv_node *n) { return n->shape[n->ndim - 1]; }

/* Rounds n values to fp16 and back when the storage type asks for it. */
static void store_round(const cpu_exec *cx, float *x, int64_t n) {
  if (cx->base.options.storage != FV_F16) return;
  for (int64_t i = 0; i < n; i++) x[i] = fv_f16_to_f32(fv_f32_to_f16(x[i]));
}

static void cpu_free(fv_exec *ex) {
  cpu_exec *cx = (cpu_exec *)ex;
  if (!cx) return;
  const int count = ex->graph->count;
  for (int i = 0; cx->buf && i < count; i++) free(cx->buf[i]);
  for (int i = 0; cx->u8 && i < count; i++) free(cx->u8[i]);
  for (int i = 0; cx->u32 && i < count; i++) free(cx->u32[i]);
  free(cx->buf);
  free(cx->u8);
  free(cx->u32);
  free(cx->last_use);
  free(cx->written);
  free(cx->tap_z1);
  free(cx->probe_rows);
  free(cx);
}

static float *alloc_floats(int64_t n) { return malloc((size_t)(n > 0 ? n : 1) * sizeof(float)); }

static fv_status cpu_write(fv_exec *ex, int node, const void *data, size_t count, fv_error *err) {
  cpu_exec *cx = (cpu_exec *)ex;
  const fv_node *n = node_at(cx, node);
  if (n->dtype == FV_U8) {
    memcpy(cx->u8[node], data, count);
  } else if (n->dtype == FV_U32) {
    memcpy(cx->u32[node], data, count * sizeof(uint32_t));
  } else {
    memcpy(cx->buf[node], data, count * sizeof(float));
    store_round(cx, cx->buf[node], (int64_t)count);
  }
  cx->written[node] = 1;
  (void)err;
  return FV_OK;
}

/* Runs node i, whose output buffer is allocated and whose sources are live. */
static void run_node(cpu_exec *cx, int i) {
  const fv_node *n = node_at(cx, i);
  float *out = cx->buf[i];
  const int s0 = n->src[0], s1 = n->src[1], s2 = n->src[2];
  const float *a = s0 >= 0 ? cx->buf[s0] : NULL;
  const float *b = s1 >= 0 ? cx->buf[s1] : NULL;
  const float *c = s2 >= 0 ? cx->buf[s2] : NULL;
  const fv_node *n0 = s0 >= 0 ? node_at(cx, s0) : NULL;
  switch (n->op) {
    case FV_OP_MATMUL: {
      int64_t K = last_dim(n0), N = last_dim(n), M = fv_node_numel(n0) / K;
      fv_ref_matmul(a, b, c, out, M, N, K, n->p.matmul.gelu);
      break;
    }
    case FV_OP_LAYERNORM: {
      int64_t C = last_dim(n);
      fv_ref_layernorm(a, b, c, out, fv_node_numel(n) / C, C, n->p.norm.eps);
      break;
    }
    case FV_OP_SOFTMAX: fv_ref_softmax(a, out, fv_node_numel(n) / last_dim(n), last_dim(n)); break;
    case FV_OP_ATTENTION:
      fv_ref_attention(a, out, dim(n0, 0), dim(n0, 1), n->p.attn.heads, n->p.attn.head_dim, n->p.attn.scale);
      break;
    case FV_OP_ADD: fv_ref_add(a, b, c, out, fv_node_numel(n), last_dim(n), n->p.add.alpha, n->p.add.beta); break;
    case FV_OP_IM2COL: fv_ref_im2col(a, out, dim(n0, 0), dim(n0, 1), dim(n0, 2), dim(n0, 3), n->p.im2col.patch); break;
    case FV_OP_EMBED_TOKENS:
      fv_ref_embed_tokens(a, b, c, out, dim(n0, 0), dim(n0, 1), dim(n0, 2), n->p.embed.n_prefix, n->p.embed.pos_offset);
      break;
    case FV_OP_TOKENS:
      fv_ref_tokens(a, out, dim(n0, 0), dim(n0, 1), dim(n0, 2), n->p.tokens.start, n->p.tokens.count, n->p.tokens.mean);
      break;
    case FV_OP_RESAMPLE: {
      const int axis = n->p.resample.axis;
      const uint8_t *a8 = n0->dtype == FV_U8 ? cx->u8[s0] : NULL;
      const int64_t taps = n->p.resample.taps, round = n->p.resample.round_u8;
      if (n0->ndim == 3) {
        fv_ref_resample(a, a8, b, out, dim(n0, 0), dim(n0, 1), dim(n0, 2), axis, dim(n, axis), (int)taps, (int)round);
      } else if (axis == 2) {
        /* along W: the batch's rows are one [B*H, W, C] image */
        fv_ref_resample(a, a8, b, out, dim(n0, 0) * dim(n0, 1), dim(n0, 2), dim(n0, 3), 1, dim(n, 2), (int)taps,
                        (int)round);
      } else {
        const int64_t in_img = dim(n0, 1) * dim(n0, 2) * dim(n0, 3), out_img = fv_node_numel(n) / dim(n, 0);
        for (int64_t k = 0; k < dim(n0, 0); k++)
          fv_ref_resample(a ? a + k * in_img : NULL, a8 ? a8 + k * in_img : NULL, b, out + k * out_img, dim(n0, 1),
                          dim(n0, 2), dim(n0, 3), 0, dim(n, 1), (int)taps, (int)round);
      }
      break;
    }
    case FV_OP_CROP_NORMALIZE:
      fv_ref_crop_normalize(a, out, dim(n0, 0), dim(n0, 1), dim(n0, 2), n->p.crop.top, n->p.crop.left, dim(n, 1),
                            dim(n, 2), n->p.crop.mean, n->p.crop.std);
      break;
    case FV_OP_STENCIL: {
      /* taps [T, 3] for every image, or [B, T, 3]: one call per image with its own rows */
      const fv_node *t = node_at(cx, s1);
      const int64_t per = t->ndim == 3 ? dim(n0, 0) : 1, T = dim(t, t->ndim - 2), img = fv_node_numel(n0) / dim(n0, 0);
      for (int64_t k = 0; k < per; k++)
        fv_ref_stencil(a + k * img, b + k * T * 3, T, out + k * img, dim(n0, 0) / per, dim(n0, 1), dim(n0, 2),
                       dim(n0, 3), n->p.image.border);
      if (c) fv_ref_add(c, out, NULL, out, fv_node_numel(n), 0, 1.0f, 1.0f); /* the addend (src2) */
      break;
    }
    case FV_OP_SAMPLE:
      fv_ref_sample(a, b, dim(node_at(cx, s1), 0), out, dim(n0, 0), dim(n0, 1), dim(n0, 2), dim(n0, 3), dim(n, 1),
                    dim(n, 2), n->p.image.border, n->p.image.scale);
      break;
    case FV_OP_WARP:
      fv_ref_warp(a, b, c, dim(node_at(cx, s1), 0), out, dim(n0, 0), dim(n0, 1), dim(n0, 2), dim(n0, 3),
                  n->p.image.border);
      break;
    case FV_OP_PIXEL: {
      fv_ref_pixel_args p = {.image = a,
                             .layer = b,
                             .stats = c,
                             .keys = n->src[3] >= 0 ? cx->u32[n->src[3]] : NULL,
                             .out = out,
                             .B = dim(n0, 0),
                             .H = dim(n0, 1),
                             .W = dim(n0, 2),
                             .C = dim(n0, 3),
                             .mode = n->p.pixel.mode,
                             .rng = n->p.pixel.rng};
      if (s1 >= 0) {
        const fv_node *l = node_at(cx, s1);
        p.B1 = dim(l, 0), p.H1 = dim(l, 1), p.W1 = dim(l, 2), p.C1 = dim(l, 3);
      }
      if (s2 >= 0) p.C2 = dim(node_at(cx, s2), 1);
      memcpy(p.a, n->p.pixel.a, sizeof p.a);
      fv_ref_pixel(&p);
      break;
    }
    case FV_OP_RANDOM:
      fv_ref_random(cx->u32[s0], out, dim(n, 0), fv_node_numel(n) / dim(n, 0), n->p.random.dist, n->p.random.a,
                    n->p.random.b, &n->p.random.rng);
      break;
    case FV_OP_REDUCE: fv_ref_reduce(a, out, dim(n0, 0), dim(n0, 1) * dim(n0, 2), dim(n0, 3), n->p.reduce.kind); break;
    case FV_OP_PLASMA:
      fv_ref_plasma(cx->u32[s0], out, dim(n, 0), (int)dim(n, 1), n->p.plasma.decay, &n->p.plasma.rng);
      break;
    case FV_OP_TAP_SCALES:
      fv_ref_tap_scales(a, b, c, cx->buf[n->src[3]], cx->tap_z1, out, dim(n0, 0), dim(n0, 1), dim(n0, 2),
                        n->p.tap.n_prefix, dim(n, 1), dim(n, 2), (int)dim(n, 3), n->p.tap.temperature);
      break;
    case FV_OP_TAP_MIX:
      fv_ref_tap_mix(a, b, out, dim(n0, 0), dim(n0, 1), dim(n0, 2), n->p.tap.n_prefix, n->p.tap.grid_h, n->p.tap.grid_w,
                     (int)last_dim(node_at(cx, s1)));
      break;
    case FV_OP_ATTENTION_PROBE: {
      fv_ref_probe_args pa = {.qkv = a,
                              .rows = b,
                              .out = out,
                              .scratch = cx->probe_rows,
                              .B = dim(n0, 0),
                              .T = dim(n0, 1),
                              .H = n->p.probe.heads,
                              .D = n->p.probe.head_dim,
                              .n_prefix = n->p.probe.n_prefix,
                              .grid_w = n->p.probe.grid_w,
                              .query = n->p.probe.query,
                              .topk = n->p.probe.topk,
                              .mode = n->p.probe.mode,
                              .scale = n->p.probe.scale,
                              .threshold = n->p.probe.threshold};
      fv_ref_attention_probe(&pa);
      break;
    }
    case FV_OP_INPUT:
    case FV_OP_WEIGHT:
    case FV_OP_COUNT: break;
  }
  store_round(cx, out, fv_node_numel(n));
}

/* Frees an intermediate once its last reader has run; inputs, weights and outputs stay. */
static void release(cpu_exec *cx, int src, int reader) {
  if (src < 0) return;
  const fv_node *s = node_at(cx, src);
  if (s->op == FV_OP_INPUT || s->op == FV_OP_WEIGHT || s->is_output) return;
  if (cx->last_use[src] != reader) return;
  free(cx->buf[src]);
  cx->buf[src] = NULL;
}

static fv_status cpu_run(fv_exec *ex, fv_error *err) {
  cpu_exec *cx = (cpu_exec *)ex;
  const fv_graph *g = ex->graph;
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = node_at(cx, i);
    if (n->op == FV_OP_INPUT && !cx->written[i])
      return fv_fail(err, "cpu executor: input %s was never written before the run", n->name);
  }
  for (int i = 0; i < g->count; i++) {
    const fv_node *n = node_at(cx, i);
    if (n->op == FV_OP_INPUT || n->op == FV_OP_WEIGHT) continue;
    if (!cx->buf[i]) {
      /* An op with no reader and no output mark is dead: skip it. */
      if (!n->is_output && cx->last_use[i] < 0) continue;
      cx->buf[i] = alloc_floats(fv_node_numel(n));
      if (!cx->buf[i])
        return fv_fail(err, "cpu executor: out of memory allocating %lld floats for node %s",
                       (long long)fv_node_numel(n), n->name);
    }
    run_node(cx, i);
    for (int k = 0; k < FV_MAX_SRC; k++) {
      int s = n->src[k];
      int dup = 0; /* the same source twice (add(x, x)) must be released once */
      for (int j = 0; j < k; j++) dup |= n->src[j] == s;
      if (!dup) release(cx, s, i);
    }
  }
  return FV_OK;
}

static fv_status cpu_read(fv_exec *ex, int node, float *dst, size_t count, fv_error *err) {
  cpu_exec *cx = (cpu_exec *)ex;
  const fv_node *n = node_at(cx, node);
  if (n->dtype == FV_U8) {
    for (size_t i = 0; i < count; i++) dst[i] = (float)cx->u8[node][i];
    return FV_OK;
  }
  if (n->dtype == FV_U32) {
    fv_convert_to_f32(cx->u32[node], FV_U32, dst, count);
    return FV_OK;
  }
  if (!cx->buf[node])
    return fv_fail(err, "cpu executor: output %s has not been computed; run the graph first", n->name);
  memcpy(dst, cx->buf[node], count * sizeof(float));
  return FV_OK;
}

static const fv_exec_backend cpu_backend = {
    .free = cpu_free, .write = cpu_write, .run = cpu_run, .read = cpu_read, .profile = NULL};

fv_status fv_cpu_exec_new(const fv_graph *g, const fv_exec_options *opt, fv_exec **out, fv_error *err) {
  *out = NULL;
  if (g->status != FV_OK) return fv_fail(err, "%s", g->error.msg);
  cpu_exec *cx = calloc(1, sizeof *cx);
  if (!cx) return fv_fail(err, "cpu executor: out of memory");
  cx->base.backend = &cpu_backend;
  cx->base.graph = g;
  cx->base.options.storage = FV_F32;
  if (opt) cx->base.options = *opt;
  const int count = g->count;
  const size_t slots = (size_t)(count > 0 ? count : 1);
  cx->buf = calloc(slots, sizeof *cx->buf);
  cx->u8 = calloc(slots, sizeof *cx->u8);
  cx->u32 = calloc(slots, sizeof *cx->u32);
  cx->last_use = malloc(slots * sizeof *cx->last_use);
  cx->written = calloc(slots, sizeof *cx->written);
  if (!cx->buf || !cx->u8 || !cx->u32 || !cx->last_use || !cx->written) {
    fv_fail(err, "cpu executor: out of memory for %d nodes", count);
    goto fail;
  }
  for (int i = 0; i < count; i++) cx->last_use[i] = -1;
  int64_t tap_z1 = 0; /* TAP_SCALES scratch: one [B, gh*gw, K] buffer shared by every such node */
  for (int i = 0; i < count; i++)
    if (g->nodes[i].op == FV_OP_TAP_SCALES && fv_node_numel(&g->nodes[i]) > tap_z1)
      tap_z1 = fv_node_numel(&g->nodes[i]);
  if (tap_z1 > 0 && !(cx->tap_z1 = alloc_floats(tap_z1))) {
    fv_fail(err, "cpu executor: out of memory for TAP scratch (%lld floats)", (long long)tap_z1);
    goto fail;
  }
  for (int i = 0; i < count; i++)
    for (int k = 0; k < FV_MAX_SRC; k++)
      if (g->nodes[i].src[k] >= 0) cx->last_use[g->nodes[i].src[k]] = i;
  int64_t probe_t = 0; /* ATTENTION_PROBE scratch: the longest token count of any such node */
  for (int i = 0; i < count; i++)
    if (g->nodes[i].op == FV_OP_ATTENTION_PROBE && g->nodes[g->nodes[i].src[0]].shape[1] > probe_t)
      probe_t = g->nodes[g->nodes[i].src[0]].shape[1];
  if (probe_t > 0 && !(cx->probe_rows = malloc((size_t)probe_t * 3 * sizeof *cx->probe_rows))) {
    fv_fail(err, "cpu executor: out of memory for attention probe rows (%lld tokens)", (long long)probe_t);
    goto fail;
  }

  for (int i = 0; i < count; i++) {
    const fv_node *n = &g->nodes[i];
    const int64_t numel = fv_node_numel(n);
    if (n->op == FV_OP_INPUT && n->dtype == FV_U8) {
      cx->u8[i] = malloc((size_t)(numel > 0 ? numel : 1));
      if (!cx->u8[i]) {
        fv_fail(err, "cpu executor: out of memory for input %s (%lld bytes)", n->name, (long long)numel);
        goto fail;
      }
    } else if (n->op == FV_OP_INPUT && n->dtype == FV_U32) {
      cx->u32[i] = malloc((size_t)(numel > 0 ? numel : 1) * sizeof(uint32_t));
      if (!cx->u32[i]) {
        fv_fail(err, "cpu executor: out of memory for input %s (%lld keys)", n->name, (long long)numel);
        goto fail;
      }
    } else if (n->op == FV_OP_INPUT || n->op == FV_OP_WEIGHT) {
      cx->buf[i] = alloc_floats(numel);
      if (!cx->buf[i]) {
        fv_fail(err, "cpu executor: out of memory for %s %s (%lld floats)", fv_op_name(n->op), n->name,
                (long long)numel);
        goto fail;
      }
      if (n->op == FV_OP_WEIGHT) {
        if (!n->data) {
          fv_fail(err, "cpu executor: weight %s has no data", n->name);
          goto fail;
        }
        fv_convert_to_f32(n->data, n->data_dtype, cx->buf[i], (size_t)numel);
        store_round(cx, cx->buf[i], numel);
      }
    }
  }
  *out = &cx->base;
  return FV_OK;
fail:
  cpu_free(&cx->base);
  return FV_ERR;
}
