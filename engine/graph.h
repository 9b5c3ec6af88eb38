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
  FV_OP_INPUT,  /* host data written before each run; dtype F32, U8 (images) or U32 (keys) */
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
  /* Separable resampling along one axis of an image src0 [H, W, C] (axis 0 or 1) or of every
   * image of a batch [B, H, W, C] (axis 1 or 2), F32 or U8 input:
   * src1 is a table built by the host, per output index o along the axis:
   * table[o*(2+taps)] = first source index, [+1] = tap count, [+2..] = weights.
   * Output F32 with the axis resized ([H', W, C], [H, W', C], [B, H', W, C], [B, H, W', C]);
   * with round_u8 the result is rounded and clamped to 0..255 as PIL does between its passes. */
  FV_OP_RESAMPLE,
  /* src0 [H, W, C] (values 0..255) -> out [C, h, w]: pixel (top+y, left+x) / 255,
   * then (v - mean[c]) / std[c]. */
  FV_OP_CROP_NORMALIZE,
  /* ---- Image ops (corruptions, TAP, filters). Images are F32 [B, H, W, C] (values in the
   * units the caller chose; corruptions use 0..255), "layers" are [B, H, W, 1]. Where an op
   * reads outside the image, p.*.border says how (fv_border). ---- */
  /* out[b, y, x, c] = sum_t w_t * src0[b, border(y + dy_t), border(x + dx_t), c], summed in tap
   * order in fp32. src1 = taps, a WEIGHT [T, 3] of (dy, dx, w) rows (dy, dx integers). Covers
   * separable blurs (two nodes: a 1xk row then a kx1 column), 2-D kernels (defocus disk),
   * ray kernels (motion blur), box filters. Offsets must be integers within +-2048 (exact in
   * fp16 storage); a tap reading outside with FV_BORDER_ZERO adds nothing.
   * Per-image taps: src1 may instead be any F32 node [B, T, 3] (B = the image batch; an INPUT,
   * say), image b using rows [b]; those offsets are not checked when the graph is built, so they
   * are read as trunc(clamp(d, -2048, 2048)), NaN as 0.
   * src2 (optional, -1): an addend of the image's shape; out = src2 + sum, one fp32 addition
   * after the sum (fv_add(addend, stencil, alpha = beta = 1) in one node: identical in fp32
   * storage; under fp16 storage the sum is not rounded before the addition). */
  FV_OP_STENCIL,
  /* Mean of bilinear samples: out[b, y, x, c] = scale * sum_l bilinear(src0[b], ay_l*y + by_l,
   * ax_l*x + bx_l, c), with src1 a WEIGHT [L, 4] of (ay, by, ax, bx) rows, out [B, OH, OW, C].
   * Bilinear = scipy.ndimage order 1: floor(coord) and floor(coord)+1, each index mapped by the
   * border rule, linear weights, computed in fp32. Zoom blur (one row per zoom factor, the
   * identity included), the snow layer's zoom, any axis-aligned affine resize. The table is
   * stored like any weight (fp16 under fp16 storage: coefficients lose precision there). */
  FV_OP_SAMPLE,
  /* Displacement warp: out[b, y, x, c] = bilinear(src0[b], y + src1[b, y, x, 0], x + src2[b, y, x, 0], c)
   * with src1 = dy, src2 = dx layers [B, H, W, 1] or [1, H, W, 1] (one field for every image),
   * same bilinear/border rule as FV_OP_SAMPLE.
   * Elastic transform; glass blur's pixel shuffle (integer displacements copy exactly). */
  FV_OP_WARP,
  /* Per-value transform of src0 [B, H, W, C] by p.pixel.mode (fv_pixel_mode) with optional
   * src1 = a layer [B, H1, W1, C1] or [1, H1, W1, C1] (shared by every image) with H1 >= H,
   * W1 >= W, read at (y, x), channel c % C1,
   * src2 = per-image stats [B, C2] (FV_OP_REDUCE), src3 = image keys U32 [B] (random modes).
   * Each mode takes exactly the sources its fv_pixel_mode line names (layer: fog, frost, snow,
   * layer_color; stats: contrast, fog; keys: the four noises); the others must be -1.
   * Out has src0's shape. */
  FV_OP_PIXEL,
  /* Random fill: out[b, ...] (shape given, shape[0] = B) = p.random.dist of the Philox stream
   * keyed by (p.random.rng.seed, src0[b]) (src0 = image keys U32 [B]); draw index = the value's
   * linear index within image b. Uniform: a + (b - a) * u; normal: a + b * N(0, 1). */
  FV_OP_RANDOM,
  /* Per-image, per-channel statistic of src0 [B, H, W, C] -> [B, C]: mean or max over H, W
   * (mean: the CPU sums in double, kernels in an fp32 tree; they agree to about 1e-6 relative). */
  FV_OP_REDUCE,
  /* Plasma fractal (diamond-square; methods/corruptions.md 3.8) per image -> [B, N, N, 1],
   * N a power of two, normalised to [0, 1] per image. src0 = image keys U32 [B].
   * Draws: level l (0 for step N), set s (0 squares, 1 diamond set 1, 2 diamond set 2) use
   * stream p.plasma.rng.stream + 3*l + s and the draw index = row-major cell index in that set.
   * Noise amplitude of level l: 100 / decay^l (double, rounded to float); sums as numpy's
   * plasma_fractal orders them, in fp32; normalised as (P - min) / (max - min). N <= 32768. */
  FV_OP_PLASMA,
  /* ---- Token-aware average pooling (shared/design/methods/tap_adl.md 3, 5). Tokens x [B, T, C]
   * with T = P + gh*gw: P prefix tokens (class, distillation, registers), then the patch grid
   * row-major (token P + h*gw + w). ---- */
  /* Per-token scale weights: out [B, gh, gw, K] = softmax over k of Z2 / temperature, where
   * Z1 = conv3x3(patch grid of src0, src1 [K, C*9]) + src2 [K] (src2 may be -1; BN folded into
   * src1/src2 by the loader), Z2 = conv3x3(Z1, src3 [K, K*9]); both convs zero-pad the grid
   * (conv2 pads Z1 with 0, not with the bias). Weight columns are PyTorch's c*9 + ky*3 + kx.
   * Prefix tokens are not read. */
  FV_OP_TAP_SCALES,
  /* out [B, T, C]: prefix rows copied from src0; patch token (h, w), channel c =
   * sum_k src1[b, h, w, k] * P_k(c) with P_0 = src0 at (h, w) and, for k >= 1, P_k = (1/9) *
   * the sum of src0 at (h + k*a, w + k*e), a, e in {-1, 0, 1}, taps outside the grid reading 0
   * (zero padding, divisor always 9). src1 = [B, gh, gw, K] (FV_OP_TAP_SCALES). */
  FV_OP_TAP_MIX,
  /* ---- Attention diagnostics (vision/attention_probe.c, docs/attention.md). src0 = qkv [B, T, 3*H*D] as
   * FV_OP_ATTENTION reads it; A_h = softmax(q_h k_h^T * scale) per (b, h) is recomputed row by row and
   * never stored. p.probe.mode (fv_probe_mode) says what comes out; tokens are P = p.probe.n_prefix
   * prefix tokens, then the grid_h x grid_w patch grid row-major (token P + y*grid_w + x). ---- */
  FV_OP_ATTENTION_PROBE,
  FV_OP_COUNT
} fv_op;

/* How image ops read outside the image (n = the axis length):
 * NEAREST    edge replicate (skimage/scipy "nearest");
 * REFLECT101 OpenCV's default, dcb|abcd|cba;
 * REFLECT    scipy's "reflect", half-sample symmetric, dcba|abcd|dcba;
 * ZERO       zero padding (TAP's 3x3 averages).
 * Reflections repeat for offsets beyond one period, so any offset is defined. */
typedef enum fv_border { FV_BORDER_NEAREST = 0, FV_BORDER_REFLECT101, FV_BORDER_REFLECT, FV_BORDER_ZERO } fv_border;

/* The fixed part of a random stream (engine/philox.h); the image key comes from a tensor. */
typedef struct fv_rng_params {
  uint32_t seed, corruption, severity, stream;
} fv_rng_params;

/* FV_OP_PIXEL modes. f = v / 255 for image inputs (0..255 units), computed as v * (1/255) in
 * fp32; u8(t) = floor(clip(t, 0, 255)), the truncation of methods/corruptions.md 1.4, and
 * u8(255 clip01(t)) = floor(255 clip01(t)). Every "image" mode returns u8(...) values.
 * Arithmetic is fp32 in the written order (engine/ref/ref_image.c is the definition); shot
 * noise divides by lambda as a multiplication by the fp32 1 / lambda.
 * Random modes draw from Philox with key (p.rng.seed, keys[b]) and counter
 * (linear index of the value within image b, attempt, corruption | severity << 8 | stream << 16);
 * a mode that needs two draw kinds uses stream and stream + 1. Parameters are p.pixel.a[]. */
typedef enum fv_pixel_mode {
  FV_PIXEL_GAUSSIAN_NOISE = 0, /* a0 = sigma: u8(255 clip01(f + sigma N)) */
  FV_PIXEL_SHOT_NOISE,         /* a0 = lambda > 0: u8(255 clip01(Poisson(f lambda) / lambda)) */
  FV_PIXEL_IMPULSE_NOISE,      /* a0 = p: flip = U(stream) < p, salt = U(stream+1) < 0.5; 255 / 0 / u8(v) */
  FV_PIXEL_SPECKLE_NOISE,      /* a0 = sigma: u8(255 clip01(f + f sigma N)) */
  FV_PIXEL_BRIGHTNESS,         /* a0 = dV: skimage HSV closed form (corruptions.md 3.9) with
                                  V' = clip01(V + dV); C = 3 */
  FV_PIXEL_SATURATE,           /* a0 = mult, a1 = add on S: closed form 3.9; C = 3 */
  FV_PIXEL_CONTRAST,           /* a0 = k, src2 = channel means (0..255): u8(255 clip01((f - m) k + m)) */
  FV_PIXEL_FOG,                /* a0 = c, src1 = plasma [0,1], src2 = channel maxima (0..255):
                                  maxv = max_c src2 / 255; u8(255 clip01((f + c P) maxv / (maxv + c))) */
  FV_PIXEL_FROST,              /* a0 = a, a1 = b, src1 = texture crop F (0..255, C1 = 3 for RGB): u8(a v + b F) */
  FV_PIXEL_SNOW,               /* a0 = blend, src1 = snow layer S in [0, 1] (H1 >= H, W1 >= W); C = 3:
                                  gray = .299R + .587G + .114B (of f); f2 = blend f + (1 - blend) max(f, 1.5 gray + .5);
                                  u8(255 clip01(f2 + S[y, x] + S[H-1-y, W-1-x])) */
  FV_PIXEL_LAYER_COLOR,        /* a0 = alpha, a1..a3 = colour (0..255) of channels 0..2 (C <= 3), src1 = M:
                                  u8(255 clip01(f (1 - alpha M) + M colour_c / 255)) (spatter water alpha 0, mud 1) */
  FV_PIXEL_THRESHOLD,          /* raw units: t = v < a0 ? 0 : v; then clip01(t) when a1 != 0 */
  FV_PIXEL_STEP,               /* raw units: v > a0 ? 1 : 0 */
  FV_PIXEL_ROUND255,           /* raw units: rint(255 v) / 255 (round half to even) */
  FV_PIXEL_QUANTIZE,           /* u8(a0 v): a0 = 1 for 0..255 images, 255 for [0, 1] layers */
  FV_PIXEL_AFFINE,             /* raw units: a0 v + a1 */
  FV_PIXEL_MODE_COUNT
} fv_pixel_mode;

/* FV_OP_ATTENTION_PROBE modes.
 * STATS: out [B, H, T, FV_PROBE_NSTATS], one row of statistics per (image, head, query), columns
 *   fv_probe_stat. src1 (optional, -1) = the per-head mean attention rows abar [B, H, T]
 *   (FV_PROBE_ROWS with query -1): with it the ADL columns are filled, else they are 0.
 * MEAN:  out [B, T, T] = the head mean M = (1/H) sum_h A_h, the one T x T tensor materialised.
 * ROWS:  out [B, H, T] = row p.probe.query of A_h (the class token's attention when query = 0),
 *   or, with query = -1, the mean over all query rows (abar_h, the column mean). */
typedef enum fv_probe_mode { FV_PROBE_STATS = 0, FV_PROBE_MEAN, FV_PROBE_ROWS } fv_probe_mode;
/* STATS columns (natural logs; distances in patch units):
 * ENTROPY   -sum_j a_j ln a_j over all T keys;
 * DISTANCE  sum_j a_j d_ij / sum_j a_j over patch keys j (d = Euclidean distance between the grid
 *           positions of query and key), -1 for prefix queries, which have no grid position;
 * TOP_SHARE the sum of the p.probe.topk largest a_j (topk = ceil(T / 100): "top 1 %");
 * MAX       the largest a_j;
 * ADL_COS   cos(abar~, a~) with x~ = x * [x > tau], tau = p.probe.threshold / T, cos = u.v /
 *           (max(|u|, 1e-8) max(|v|, 1e-8)) (methods/tap_adl.md 4, per head);
 * ADL_ZERO  1 when thresholding zeroed the whole row (no a_j > tau), else 0. */
typedef enum fv_probe_stat {
  FV_PROBE_ENTROPY = 0,
  FV_PROBE_DISTANCE,
  FV_PROBE_TOP_SHARE,
  FV_PROBE_MAX,
  FV_PROBE_ADL_COS,
  FV_PROBE_ADL_ZERO,
  FV_PROBE_NSTATS
} fv_probe_stat;

typedef enum fv_random_dist { FV_RANDOM_UNIFORM = 0, FV_RANDOM_NORMAL } fv_random_dist;
typedef enum fv_reduce_kind { FV_REDUCE_MEAN = 0, FV_REDUCE_MAX } fv_reduce_kind;

typedef struct fv_node {
  fv_op op;
  fv_dtype dtype; /* F32 for every op; an INPUT may be U8 or U32 */
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
    struct {
      fv_border border;
      float scale; /* FV_OP_SAMPLE only */
    } image;       /* FV_OP_STENCIL, FV_OP_SAMPLE, FV_OP_WARP */
    struct {
      fv_pixel_mode mode;
      float a[4];
      fv_rng_params rng;
    } pixel;
    struct {
      fv_random_dist dist;
      float a, b;
      fv_rng_params rng;
    } random;
    struct {
      fv_reduce_kind kind;
    } reduce;
    struct {
      float decay;
      fv_rng_params rng;
    } plasma;
    struct {
      int n_prefix, grid_h, grid_w;
      float temperature; /* FV_OP_TAP_SCALES only */
    } tap;
    struct {
      int heads, head_dim, n_prefix, grid_h, grid_w, query, topk;
      fv_probe_mode mode;
      float scale, threshold;
    } probe;
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
/* Image ops (see the enum above for semantics). Sources that are optional take -1. */
int fv_stencil(fv_graph *g, int image, int taps, fv_border border);
int fv_stencil_add(fv_graph *g, int image, int taps, fv_border border, int addend);
int fv_sample(fv_graph *g, int image, int table, int out_h, int out_w, fv_border border, float scale);
int fv_warp(fv_graph *g, int image, int dy, int dx, fv_border border);
int fv_pixel(fv_graph *g, int image, int layer, int stats, int keys, fv_pixel_mode mode, const float a[4],
             const fv_rng_params *rng);
/* shape[0] is the batch and must equal the keys' length. */
int fv_random(fv_graph *g, int keys, int ndim, const int64_t *shape, fv_random_dist dist, float a, float b,
              const fv_rng_params *rng);
int fv_reduce(fv_graph *g, int image, fv_reduce_kind kind);
int fv_plasma(fv_graph *g, int keys, int size, float decay, const fv_rng_params *rng);
/* TAP ops (see the enum above). x is [B, n_prefix + grid_h*grid_w, C]; K <= FV_TAP_MAX_SCALES. */
#define FV_TAP_MAX_SCALES 16
int fv_tap_scales(fv_graph *g, int x, int w1, int b1, int w2, int n_prefix, int grid_h, int grid_w, float temperature);
int fv_tap_mix(fv_graph *g, int x, int scales, int n_prefix);
/* Attention probe (see FV_OP_ATTENTION_PROBE). heads, head_dim and scale as the block's fv_attention;
 * T of qkv must equal n_prefix + grid_h * grid_w. query: ROWS only (-1 = mean over queries, else a
 * token index). rows: STATS only, the abar node (ROWS, query -1) or -1. threshold: ADL th (2). */
int fv_attention_probe(fv_graph *g, int qkv, fv_probe_mode mode, int heads, int head_dim, float scale, int n_prefix,
                       int grid_h, int grid_w, int query, int rows, float threshold);
void fv_mark_output(fv_graph *g, int node);
void fv_set_name(fv_graph *g, int node, const char *name);

#endif
