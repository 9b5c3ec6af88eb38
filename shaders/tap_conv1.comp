#version 450
/* tap_conv1.comp: first half of FV_OP_TAP_SCALES (engine/ops/plan_tap.c), one workgroup per
 * patch token: Z1[token, k] = sum over the 9 taps and C channels of w1[k, c*9 + t] * x[tap, c]
 * (+ b1[k]), taps outside the grid skipped (zero padding), written to fp32 scratch.
 *
 * Each invocation strides over channels (consecutive invocations read consecutive channels of
 * one token row) and keeps K partial sums; the workgroup adds them with a shared-memory tree.
 * The tap order matches fv_ref_tap_scales (taps outer, channels inner); only the split of the
 * channel sum across invocations differs, which is fp32 rounding.
 *
 * Bindings: 0 x [B, T, C], 1 w1 [K, C*9], 2 b1 [K] (any tensor when absent; never read),
 * 3 z1 scratch (float, [tokens, K]). Push: tokens (B*gh*gw), T, C, P, gh, gw.
 * Specialization: 0 WG (power of two), 1 K (<= 16), 2 HAS_BIAS. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const uint K = 4;
layout(constant_id = 2) const uint HAS_BIAS = 0;

layout(std430, binding = 0) readonly buffer BufX { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer BufW { STORE_T w1[]; };
layout(std430, binding = 2) readonly buffer BufB { STORE_T b1[]; };
layout(std430, binding = 3) writeonly buffer BufZ { float z1[]; };

layout(push_constant) uniform Push { uint tokens, T, C, P, gh, gw; } p;

shared float red[WG * K];

void main() {
  uint token = fv_group_id(); /* uniform over the workgroup */
  if (token >= p.tokens) return;
  uint t = gl_LocalInvocationID.x;
  uint N = p.gh * p.gw;
  uint b = token / N, n = token % N;
  int h = int(n / p.gw), w = int(n % p.gw);

  float acc[16];
  for (uint k = 0; k < K; k++) acc[k] = 0.0;
  for (uint tap = 0; tap < 9; tap++) {
    int hh = h + int(tap / 3) - 1, ww = w + int(tap % 3) - 1;
    if (hh < 0 || hh >= int(p.gh) || ww < 0 || ww >= int(p.gw)) continue;
    uint row = (b * p.T + p.P + uint(hh) * p.gw + uint(ww)) * p.C;
    for (uint c = t; c < p.C; c += WG) {
      float v = fv_load(x[row + c]);
      for (uint k = 0; k < K; k++) acc[k] += fv_load(w1[(k * p.C + c) * 9 + tap]) * v;
    }
  }
  for (uint k = 0; k < K; k++) red[k * WG + t] = acc[k];
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (t < s)
      for (uint k = 0; k < K; k++) red[k * WG + t] += red[k * WG + t + s];
    barrier();
  }
  for (uint k = t; k < K; k += WG) z1[token * K + k] = red[k * WG] + (HAS_BIAS != 0 ? fv_load(b1[k]) : 0.0);
}
