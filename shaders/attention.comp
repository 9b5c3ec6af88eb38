#version 450
/* attention.comp: fused softmax(q k^T * scale) v per (batch, head), flash-style.
 *
 * Reads q, k, v straight out of timm's qkv projection [B, T, 3*H*D] (q column h*D + d,
 * k column (H + h)*D + d, v column (2H + h)*D + d) and writes [B, T, H*D] (column h*D + d).
 * Each workgroup takes WG consecutive queries of one (b, h); each invocation owns one query
 * row, keeping q and its output accumulator in registers. Keys and values stream through
 * shared memory in tiles of BK; per tile every invocation computes its BK scores, then
 * rescales its running sum once (online softmax: running max m, running denominator l), so
 * the T x T score matrix never exists and any T works. fp32 throughout.
 *
 * HD (the head dimension, 1..128) is a specialization constant so the per-row loops have a
 * compile-time trip count; the planner keeps 2 * BK * HD floats within 16 KiB of shared
 * memory. Not done here: masks, block sparsity, splitting one query row across invocations
 * (which would help GPUs at large HD); those belong to later variants.
 *
 * Bindings: 0 qkv, 1 out. Push: B, T, H, scale bits.
 * Specialization: 0 WG (queries per workgroup = local size), 1 HD, 2 BK. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint HD = 64;
layout(constant_id = 2) const uint BK = 32;

layout(std430, binding = 0) readonly buffer BufQKV { STORE_T qkv[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint B, T, H, scale_bits; } p;

shared float ks[BK * HD];
shared float vs[BK * HD];

void main() {
  uint qblocks = (p.T + WG - 1) / WG;
  uint gid = fv_group_id();
  if (gid >= qblocks * p.B * p.H) return; /* whole workgroup: barriers stay uniform */
  uint qb = gid % qblocks, bh = gid / qblocks;
  uint h = bh % p.H, b = bh / p.H;
  uint tid = gl_LocalInvocationID.x;
  uint tq = qb * WG + tid;
  bool has_row = tq < p.T;
  uint row_stride = 3 * p.H * HD;
  uint batch_base = b * p.T * row_stride;

  /* Inactive invocations (past T) still load tiles and meet every barrier. */
  float q[HD], acc[HD];
  float scale = fv_float(p.scale_bits);
  uint qbase = batch_base + min(tq, p.T - 1) * row_stride + h * HD;
  for (uint d = 0; d < HD; d++) {
    q[d] = fv_load(qkv[qbase + d]) * scale;
    acc[d] = 0.0;
  }
  float m = -3.402823466e38, l = 0.0;

  uint kcol = (p.H + h) * HD, vcol = (2 * p.H + h) * HD;
  for (uint k0 = 0; k0 < p.T; k0 += BK) {
    uint nk = min(BK, p.T - k0);
    barrier(); /* the previous tile has been read by everyone */
    for (uint e = tid; e < nk * HD; e += WG) {
      uint j = e / HD, d = e % HD;
      uint rb = batch_base + (k0 + j) * row_stride;
      ks[e] = fv_load(qkv[rb + kcol + d]);
      vs[e] = fv_load(qkv[rb + vcol + d]);
    }
    barrier();

    float sc[BK];
    float tmax = m;
    for (uint j = 0; j < BK; j++) {
      if (j >= nk) break;
      float s = 0.0;
      for (uint d = 0; d < HD; d++) s = fma(q[d], ks[j * HD + d], s);
      sc[j] = s;
      tmax = max(tmax, s);
    }
    float corr = exp(m - tmax);
    l *= corr;
    for (uint d = 0; d < HD; d++) acc[d] *= corr;
    for (uint j = 0; j < BK; j++) {
      if (j >= nk) break;
      float pj = exp(sc[j] - tmax);
      l += pj;
      for (uint d = 0; d < HD; d++) acc[d] = fma(pj, vs[j * HD + d], acc[d]);
    }
    m = tmax;
  }

  if (!has_row) return;
  float inv = 1.0 / l;
  uint obase = (b * p.T + tq) * (p.H * HD) + h * HD;
  for (uint d = 0; d < HD; d++) o[obase + d] = fv_store(acc[d] * inv);
}
