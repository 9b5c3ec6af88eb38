#version 450
/* attention_probe.comp: FV_OP_ATTENTION_PROBE, attention diagnostics recomputed from qkv.
 *
 * A workgroup computes whole attention rows a = softmax(q k^T * scale) of one (image, head, query)
 * into shared memory (each invocation owns keys j = tid, tid + WG, ...; only the max and the sum
 * cross invocations, through a fixed-order tree, so results are deterministic), then reduces them:
 * STATS writes the fv_probe_stat columns of that row, MEAN sums the rows of all heads of one query
 * (the head-mean matrix M), ROWS writes one query's row per head or the mean of all of a head's rows.
 * Per-head T x T attention never reaches memory. fp32 throughout; the C reference works in double.
 *
 * The grid position of token t >= P is ((t - P) / GW, (t - P) % GW); distances are Euclidean in
 * patch units over patch keys, renormalised by their total weight; prefix queries get -1.
 * Top-k share: k rounds of a (value, lowest index) argmax tree, each removing the winner.
 *
 * Bindings: 0 qkv [B, T, 3*H*HD], 1 abar [B, H, T] (STATS with HAS_ROWS; else an unread alias),
 * 2 out. Push: groups, H, P, GW, query (0xFFFFFFFF = mean over queries), topk, scale, tau.
 * Specialization: 0 WG (power of two), 1 HD, 2 T, 3 ACC (T for MEAN/ROWS, 1 for STATS),
 * 4 MODE (0 stats, 1 mean, 2 rows), 5 HAS_ROWS. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint T = 64;
layout(constant_id = 3) const uint ACC = 1;
layout(constant_id = 4) const uint MODE = 0;
layout(constant_id = 5) const uint HAS_ROWS = 0;

layout(std430, binding = 0) readonly buffer BufQKV { STORE_T qkv[]; };
layout(std430, binding = 1) readonly buffer BufRows { STORE_T abar[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint groups, H, P, GW, query, topk, scale_bits, tau_bits; } p;

shared float row[T];
shared float acc[ACC];
shared vec4 red[WG];
shared uint redi[WG];
shared float qs[HD];

#define NEG_INF uintBitsToFloat(0xFF800000u)

/* Combines one vec4 per invocation over the workgroup, component c by max when is_max[c], else by
 * sum; every invocation gets the result. One tree for up to four quantities: on CPU drivers each
 * barrier costs a switch through every SIMD chunk of the workgroup, so fewer trees matter. */
vec4 wg_reduce(vec4 v, bvec4 is_max) {
  uint tid = gl_LocalInvocationID.x;
  red[tid] = v;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (tid < s) red[tid] = mix(red[tid] + red[tid + s], max(red[tid], red[tid + s]), is_max);
    barrier();
  }
  vec4 r = red[0];
  barrier(); /* everyone has read red[0] before it is written again */
  return r;
}

/* Row i of head h of image b into row[] (each invocation writes only its own keys j = tid + k WG).
 * Each invocation takes the max m and sum l = sum exp(s - m) of its own keys; one tree then merges
 * the (m, l) pairs (m = max, l = l1 exp(m1 - m) + l2 exp(m2 - m)) and each invocation rescales its
 * entries by exp(m_own - m) / l: one reduction per row instead of two. */
void compute_row(uint b, uint h, uint i) {
  uint tid = gl_LocalInvocationID.x;
  uint stride = 3 * p.H * HD;
  uint base = b * T * stride;
  float scale = fv_float(p.scale_bits);
  barrier(); /* the previous row's readers of qs are done */
  for (uint d = tid; d < HD; d += WG) qs[d] = fv_load(qkv[base + i * stride + h * HD + d]);
  barrier();
  float m = NEG_INF;
  for (uint j = tid; j < T; j += WG) {
    uint kb = base + j * stride + (p.H + h) * HD;
    float s = 0.0;
    for (uint d = 0; d < HD; d++) s = fma(qs[d], fv_load(qkv[kb + d]), s);
    s *= scale;
    row[j] = s;
    m = max(m, s);
  }
  float l = 0.0;
  for (uint j = tid; j < T; j += WG) {
    float e = exp(row[j] - m);
    row[j] = e;
    l += e;
  }
  /* Merge the (m, l) pairs; an invocation without keys has l = 0 and must add nothing (its m is
   * -inf, and exp(-inf - -inf) would be NaN). */
  red[tid].xy = vec2(m, l);
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (tid < s) {
      vec2 a = red[tid].xy, c = red[tid + s].xy;
      float mm = max(a.x, c.x);
      red[tid].xy = vec2(mm, (a.y > 0.0 ? a.y * exp(a.x - mm) : 0.0) + (c.y > 0.0 ? c.y * exp(c.x - mm) : 0.0));
    }
    barrier();
  }
  vec2 g = red[0].xy;
  barrier();
  float f = l > 0.0 ? exp(m - g.x) / g.y : 0.0;
  for (uint j = tid; j < T; j += WG) row[j] *= f;
}

void stats(uint b, uint h, uint i) {
  uint tid = gl_LocalInvocationID.x;
  compute_row(b, h, i);
  float tau = fv_float(p.tau_bits);
  bool patch_query = i >= p.P;
  int qy = int((i - p.P) / p.GW), qx = int((i - p.P) % p.GW);
  float ent = 0.0, mx = 0.0, dnum = 0.0, dden = 0.0, dot = 0.0, nm = 0.0, na = 0.0;
  uint abase = (b * p.H + h) * T;
  for (uint j = tid; j < T; j += WG) {
    float a = row[j];
    if (a > 0.0) ent -= a * log(a);
    mx = max(mx, a);
    if (patch_query && j >= p.P) {
      float dy = float(int((j - p.P) / p.GW) - qy), dx = float(int((j - p.P) % p.GW) - qx);
      dnum += a * sqrt(dy * dy + dx * dx);
      dden += a;
    }
    if (HAS_ROWS != 0) {
      float mt = a > tau ? a : 0.0;
      float ab = fv_load(abar[abase + j]);
      float at = ab > tau ? ab : 0.0;
      dot += mt * at;
      nm += mt * mt;
      na += at * at;
    }
  }
  vec4 r1 = wg_reduce(vec4(ent, dnum, dden, mx), bvec4(false, false, false, true));
  ent = r1.x, dnum = r1.y, dden = r1.z, mx = r1.w;
  if (HAS_ROWS != 0) {
    vec4 r2 = wg_reduce(vec4(dot, nm, na, 0.0), bvec4(false));
    dot = r2.x, nm = r2.y, na = r2.z;
  }
  /* Top-k: each round every invocation offers its largest remaining weight (lowest index on ties). */
  float top = 0.0;
  for (uint k = 0; k < p.topk && k < T; k++) {
    float bv = -1.0;
    uint bi = 0xFFFFFFFFu;
    for (uint j = tid; j < T; j += WG)
      if (row[j] > bv) {
        bv = row[j];
        bi = j;
      }
    red[tid].x = bv;
    redi[tid] = bi;
    barrier();
    for (uint s = WG / 2; s > 0; s >>= 1) {
      if (tid < s && (red[tid + s].x > red[tid].x || (red[tid + s].x == red[tid].x && redi[tid + s] < redi[tid]))) {
        red[tid].x = red[tid + s].x;
        redi[tid] = redi[tid + s];
      }
      barrier();
    }
    float v = red[0].x;
    uint w = redi[0];
    barrier();
    top += v;
    if (w < T && w % WG == tid) row[w] = -1.0; /* only the owner of key w touches row[w] */
  }
  if (tid == 0) {
    uint ob = ((b * p.H + h) * T + i) * 6;
    o[ob + 0] = fv_store(ent);
    o[ob + 1] = fv_store(patch_query ? (dden > 0.0 ? dnum / dden : 0.0) : -1.0);
    o[ob + 2] = fv_store(top);
    o[ob + 3] = fv_store(mx);
    float cosv = HAS_ROWS != 0 ? dot / (max(sqrt(nm), 1e-8) * max(sqrt(na), 1e-8)) : 0.0;
    o[ob + 4] = fv_store(cosv);
    o[ob + 5] = fv_store(HAS_ROWS != 0 && nm == 0.0 ? 1.0 : 0.0);
  }
}

void main() {
  uint g = fv_group_id(); /* uniform over the workgroup: the return keeps barriers uniform */
  if (g >= p.groups) return;
  uint tid = gl_LocalInvocationID.x;
  if (MODE == 0) {
    uint i = g % T, bh = g / T;
    stats(bh / p.H, bh % p.H, i);
    return;
  }
  for (uint j = tid; j < ACC; j += WG) acc[j] = 0.0;
  uint b, count, obase;
  if (MODE == 1) {
    uint i = g % T;
    b = g / T;
    for (uint h = 0; h < p.H; h++) {
      compute_row(b, h, i);
      for (uint j = tid; j < T; j += WG) acc[j] += row[j];
    }
    count = p.H;
    obase = (b * T + i) * T;
  } else {
    uint h = g % p.H;
    b = g / p.H;
    bool all = p.query == 0xFFFFFFFFu;
    uint first = all ? 0 : p.query, last = all ? T : p.query + 1;
    for (uint i = first; i < last; i++) {
      compute_row(b, h, i);
      for (uint j = tid; j < T; j += WG) acc[j] += row[j];
    }
    count = last - first;
    obase = (b * p.H + h) * T;
  }
  float inv = 1.0 / float(count);
  for (uint j = tid; j < T; j += WG) o[obase + j] = fv_store(acc[j] * inv);
}
