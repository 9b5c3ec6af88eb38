#version 450
/* attention.comp: fused softmax(q k^T * scale) v per (batch, head), flash-style.
 *
 * Reads q, k, v straight out of timm's qkv projection [B, T, 3*H*D] (q column h*D + d,
 * k column (H + h)*D + d, v column (2H + h)*D + d) and writes [B, T, H*D] (column h*D + d).
 * Each workgroup takes WG * QPI consecutive queries of one (b, h); each invocation owns QPI
 * query rows (WG apart), keeping q and its output accumulators in registers. Keys and values
 * stream through shared memory in tiles of BK keys; per tile every invocation computes its
 * scores, then rescales its running sums once (online softmax: running max m, running
 * denominator l), so the T x T score matrix never exists and any T works. fp32 throughout.
 *
 * Tiles are stored as vec4s, the head dimension padded with zeros to HD4 = ceil(HD / 4)
 * vectors. Loops over the head dimension and the rows have compile-time trip counts and
 * unroll; the loops over a tile's keys run to the tile's key count and deliberately do not
 * (unrolled BK x HD4 x QPI bodies took LLVM minutes to compile on lavapipe). QPI > 1 is for
 * CPU drivers (lavapipe), where each
 * shared-memory load is a loop over the SIMD lanes: one vec4 load then feeds 4 * QPI FMAs.
 * GPUs use QPI = 1 and WG = 64.
 *
 * HD (the head dimension, 1..128) is a specialization constant; the planner keeps the two
 * tiles (2 * BK * HD4 * 16 bytes) within 16 KiB of shared memory. Not done here: masks,
 * block sparsity, splitting one query row across invocations (which would help GPUs at
 * large HD); those belong to later variants.
 *
 * Bindings: 0 qkv, 1 out. Push: B, T, H, scale bits.
 * Specialization: 0 WG (local size), 1 HD, 2 BK, 3 QPI (query rows per invocation). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BK = 32;
layout(constant_id = 3) const uint QPI = 1;
const uint HD4 = (HD + 3) / 4;

layout(std430, binding = 0) readonly buffer BufQKV { STORE_T qkv[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint B, T, H, scale_bits; } p;

shared vec4 ks[BK * HD4];
shared vec4 vs[BK * HD4];

/* Four consecutive head-dimension values starting at d of the row at base, zero past HD. */
vec4 load4(uint base, uint d) {
  vec4 v = vec4(0.0);
  for (uint c = 0; c < 4; c++)
    if (d + c < HD) v[c] = fv_load(qkv[base + d + c]);
  return v;
}

void main() {
  uint per_group = WG * QPI;
  uint qblocks = (p.T + per_group - 1) / per_group;
  uint gid = fv_group_id();
  if (gid >= qblocks * p.B * p.H) return; /* whole workgroup: barriers stay uniform */
  uint qb = gid % qblocks, bh = gid / qblocks;
  uint h = bh % p.H, b = bh / p.H;
  uint tid = gl_LocalInvocationID.x;
  uint row_stride = 3 * p.H * HD;
  uint batch_base = b * p.T * row_stride;
  float scale = fv_float(p.scale_bits);

  /* Query rows past T (clamped to T-1 for loading) still load tiles and meet every barrier. */
  vec4 q[QPI][HD4], acc[QPI][HD4];
  float m[QPI], l[QPI];
  for (uint r = 0; r < QPI; r++) {
    uint tq = min(qb * per_group + r * WG + tid, p.T - 1);
    uint qbase = batch_base + tq * row_stride + h * HD;
    for (uint d4 = 0; d4 < HD4; d4++) {
      q[r][d4] = load4(qbase, d4 * 4) * scale;
      acc[r][d4] = vec4(0.0);
    }
    m[r] = -3.402823466e38;
    l[r] = 0.0;
  }

  uint kcol = (p.H + h) * HD, vcol = (2 * p.H + h) * HD;
  for (uint k0 = 0; k0 < p.T; k0 += BK) {
    uint nk = min(BK, p.T - k0);
    barrier(); /* the previous tile has been read by everyone */
    for (uint e = tid; e < nk * HD4; e += WG) {
      uint j = e / HD4, d = (e % HD4) * 4;
      uint rb = batch_base + (k0 + j) * row_stride;
      ks[e] = load4(rb + kcol, d);
      vs[e] = load4(rb + vcol, d);
    }
    barrier();

    float sc[QPI][BK];
    float tmax[QPI];
    for (uint r = 0; r < QPI; r++) tmax[r] = m[r];
    for (uint j = 0; j < nk; j++) {
      vec4 s4[QPI];
      for (uint r = 0; r < QPI; r++) s4[r] = vec4(0.0);
      for (uint d4 = 0; d4 < HD4; d4++) {
        vec4 kv = ks[j * HD4 + d4];
        for (uint r = 0; r < QPI; r++) s4[r] = fma(q[r][d4], kv, s4[r]);
      }
      for (uint r = 0; r < QPI; r++) {
        float s = (s4[r].x + s4[r].y) + (s4[r].z + s4[r].w);
        sc[r][j] = s;
        tmax[r] = max(tmax[r], s);
      }
    }
    for (uint r = 0; r < QPI; r++) {
      float corr = exp(m[r] - tmax[r]);
      l[r] *= corr;
      for (uint d4 = 0; d4 < HD4; d4++) acc[r][d4] *= corr;
      m[r] = tmax[r];
    }
    for (uint j = 0; j < nk; j++) {
      float pj[QPI];
      for (uint r = 0; r < QPI; r++) {
        pj[r] = exp(sc[r][j] - m[r]);
        l[r] += pj[r];
      }
      for (uint d4 = 0; d4 < HD4; d4++) {
        vec4 vv = vs[j * HD4 + d4];
        for (uint r = 0; r < QPI; r++) acc[r][d4] = fma(vec4(pj[r]), vv, acc[r][d4]);
      }
    }
  }

  for (uint r = 0; r < QPI; r++) {
    uint tq = qb * per_group + r * WG + tid;
    if (tq >= p.T) continue;
    float inv = 1.0 / l[r];
    uint obase = (b * p.T + tq) * (p.H * HD) + h * HD;
    for (uint d4 = 0; d4 < HD4; d4++)
      for (uint c = 0; c < 4; c++)
        if (d4 * 4 + c < HD) o[obase + d4 * 4 + c] = fv_store(acc[r][d4][c] * inv);
  }
}
