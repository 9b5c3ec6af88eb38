#version 450
/* tap_mix.comp: FV_OP_TAP_MIX (engine/graph.h, engine/ops/plan_tap.c), one invocation per output
 * value. Prefix rows are copied (bit-identical: fp16 -> fp32 -> fp16 is exact). A patch value is
 * sum_k W[k] * P_k with P_0 the token itself and P_k (k >= 1) the sum of the 3x3 taps at
 * dilation k divided by 9, taps outside the grid reading 0 (zero padding, divisor always 9);
 * taps are summed row-major by (a, e) as in fv_ref_tap_mix.
 *
 * Bindings: 0 x [B, T, C], 1 scales [B, gh, gw, K], 2 out [B, T, C].
 * Push: total, T, C, P, gh, gw. Specialization: 0 K (<= 16). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint K = 4;

layout(std430, binding = 0) readonly buffer BufX { STORE_T x[]; };
layout(std430, binding = 1) readonly buffer BufS { STORE_T scales[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, T, C, P, gh, gw; } p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint c = i % p.C, r = i / p.C;
  uint tok = r % p.T, b = r / p.T;
  if (tok < p.P) {
    o[i] = x[i];
    return;
  }
  uint n = tok - p.P, N = p.gh * p.gw;
  int h = int(n / p.gw), w = int(n % p.gw);
  uint base = (b * p.T + p.P) * p.C + c; /* channel c of the first patch token of image b */
  uint sw = (b * N + n) * K;
  float acc = fv_load(scales[sw]) * fv_load(x[i]);
  for (uint k = 1; k < K; k++) {
    float s = 0.0;
    for (int a = -1; a <= 1; a++) {
      int hh = h + int(k) * a;
      if (hh < 0 || hh >= int(p.gh)) continue;
      for (int e = -1; e <= 1; e++) {
        int ww = w + int(k) * e;
        if (ww < 0 || ww >= int(p.gw)) continue;
        s += fv_load(x[base + (uint(hh) * p.gw + uint(ww)) * p.C]);
      }
    }
    acc += fv_load(scales[sw + k]) * (s / 9.0);
  }
  o[i] = fv_store(acc);
}
