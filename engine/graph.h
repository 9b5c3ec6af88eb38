/* graph.h: the op graph that models build and executors run.
 *
 * A graph is a flat, topologically ordered list of nodes. Every node produces one
 * contiguous row-major tensor (shape[0] outermost). Inputs are written by the host
 * before each run, weights are constant host data, and every other node is an op
 * whose sources are earlier nodes. The graph holds no device memory: executors
 * (exec.h) plan memory and record work from it, once per graph.
 *
 * Shapes are fixed when the graph is built; a model builds one graph per input
 * shape (batch size, image size). */
#ifndef FV_GRAPH_H
#define FV_GRAPH_H

#include <stdint.h>

#include "dtype.h"
#include "status.h"

#define FV_MAX_DIMS 4
#define FV_MAX_SRC 4

typedef enum fv_op {
  FV_OP_INPUT,  /* host data written before each run; dtype F32 or U8 */
  FV_OP_WEIGHT, /* constant host data (data, data_dtype), uploaded once */
  /* out[M,N] = src0[M,K] . src1[N,K]^T (+ src2[N]) (then exact-erf GELU if p.matmul.gelu).
   * src0 may have any number of leading dims, flattened into M. */
  FV_OP_MATMUL,
  /* LayerNorm over the last dim: (x - mean) / sqrt(var + eps) * src1 + src2 (src1/src2 may be -1) */
  FV_OP_LAYERNORM,
  FV_OP_SOFTMAX, /* over the last dim */
  /* Fused attention. src0 = qkv [B, T, 3*H*D] laid out as timm's qkv linear output
   * (reshape B,T,3,H,D); out = [B, T, H*D] with column h*D + d.
   * softmax(q k^T * scale) v per (b, h), computed flash-style (online softmax). */
  FV_OP_ATTENTION,
  /* out = alpha * src0 + beta * src1 * (src2 >= 0 ? src2[c] : 1), src0/src1 same shape,
   * src2 a per-channel vector over the last dim (timm layer scale gamma). */
  FV_OP_ADD,
  /* Patch extraction for a strided convolution with kernel = stride = p:
   * src0 [B, C, H, W] -> [B, (H/p)*(W/p), C*p*p], column c*p*p + ky*p + kx,
   * so a conv weight [E, C, p, p] is a matmul weight [E, C*p*p]. */
  FV_OP_IM2COL,
  /* Token sequence assembly (timm _pos_embed):
   * src0 patches [B, Np, E]; src1 prefix tokens [P, E] (cls, dist, registers; -1 if P = 0);
   * src2 positional embedding [L, E] (-1 if none).
   * out[b, t] = (t < P ? src1[t] : src0[b, t-P]) + pos[t - pos_offset] when t >= pos_offset,
   * pos_offset = P with no_embed_class (L = Np), 0 otherwise (L = P + Np). */
  FV_OP_EMBED_TOKENS,
  /* Over tokens of src0 [B, T, E]: mean of tokens [start, start+count) -> [B, E],
   * or (mean = 0) copy of those tokens -> [B, count, E]. */
  FV_OP_TOKENS,
  /* Separable resampling along one axis of an image src0 [H, W, C] (F32 or U8 input):
   * src1 is a table built by the host, per output index o along the axis:
   * table[o*(2+taps)] = first source index, [+1] = tap count, [+2..] = weights.
   * Output F32 [H', W, C] (axis 0) or [H, W', C] (axis 1); with round_u8 the result is
   * rounded and clamped to 0..255 as PIL does between its passes. */
  FV_OP_RESAMPLE,
  /* src0 [H, W, C] (values 0..255) -> out [C, h, w]: pixel (top+y, left+x) / 255,
   * then (v - mean[c]) / std[c]. */
  FV_OP_CROP_NORMALIZE,
  FV_OP_COUNT
} fv_op;

typedef struct fv_node {
  fv_op op;
  fv_dtype dtype; /* F32 for every op; an INPUT may be U8 */
  int ndim;
  int64_t shape[FV_MAX_DIMS];
  int src[FV_MAX_SRC]; /* node indices, -1 when unused */
  char name[96];
  int is_output; /* kept alive to the end and readable after a run */
  union {
    struct {
      int gelu;
    } matmul;
    struct {
      float eps;
    } norm;
    struct {
      int heads, head_dim;
      float scale;
    } attn;
    struct {
      float alpha, beta;
    } add;
    struct {
      int patch;
    } im2col;
    struct {
      int n_prefix, pos_offset;
    } embed;
    struct {
      int start, count, mean;
    } tokens;
    struct {
      int axis, taps, round_u8;
    } resample;
    struct {
      int top, left;
      float mean[4], std[4];
    } crop;
  } p;
  /* WEIGHT only: host data of shape[], element type data_dtype; owned by the graph
   * when owns_data is set, otherwise it must outlive the graph (e.g. an mmap). */
  const void *data;
  fv_dtype data_dtype;
  int owns_data;
} fv_node;

typedef struct fv_graph {
  fv_node *nodes;
  int count, capacity;
  fv_status status; /* first construction error, sticky: builders check once at the end */
  fv_error error;
} fv_graph;

void fv_graph_init(fv_graph *g);
void fv_graph_free(fv_graph *g);

int64_t fv_node_numel(const fv_node *n);
const char *fv_op_name(fv_op op);

/* Constructors return the new node's index, or -1 after recording an error in g
 * (every later constructor then returns -1 too). Shapes are checked here, so an
 * executor may assume a well-formed graph. `name` may be NULL. */
int fv_input(fv_graph *g, const char *name, fv_dtype dtype, int ndim, const int64_t *shape);
int fv_weight(fv_graph *g, const char *name, int ndim, const int64_t *shape, const void *data, fv_dtype data_dtype,
              int copy);
int fv_matmul(fv_graph *g, int a, int w, int bias, int gelu);
int fv_layernorm(fv_graph *g, int x, int gamma, int beta, float eps);
int fv_softmax(fv_graph *g, int x);
int fv_attention(fv_graph *g, int qkv, int heads, int head_dim, float scale);
int fv_add(fv_graph *g, int a, int b, int gamma, float alpha, float beta);
int fv_im2col(fv_graph *g, int image, int patch);
int fv_embed_tokens(fv_graph *g, int patches, int prefix, int pos, int no_embed_class);
int fv_tokens_mean(fv_graph *g, int x, int start, int count);
int fv_tokens_slice(fv_graph *g, int x, int start, int count);
int fv_resample(fv_graph *g, int image, int table, int axis, int out_size, int taps, int round_u8);
int fv_crop_normalize(fv_graph *g, int image, int top, int left, int height, int width, const float *mean,
                      const float *std);
void fv_mark_output(fv_graph *g, int node);
void fv_set_name(fv_graph *g, int node, const char *name);

#endif
