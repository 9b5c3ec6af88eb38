#version 450
/* tap_scales.comp: second half of FV_OP_TAP_SCALES (engine/ops/plan_tap.c), one invocation per
 * patch token: Z2[k] = sum over the 9 taps and K inputs of w2[k, j*9 + t] * Z1[tap, j] (taps
 * outside the grid skipped: conv2 zero-pads Z1, not the bias), then the softmax over k of
 * Z2 / temperature in fp32, written as out[b, h, w, k].
 *
 * Bindings: 0 z1 scratch (float, [tokens, K]), 1 w2 [K, K*9], 2 out [B, gh, gw, K].
 * Push: tokens, gh, gw, temperature bits. Specialization: 0 K (<= 16). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint K = 4;

layout(std430, binding = 0) readonly buffer BufZ { float z1[]; };
layout(std430, binding = 1) readonly buffer BufW { STORE_T w2[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint tokens, gh, gw, temperature_bits; } p;

void main() {
  uint token = fv_group_id() * 64 + gl_LocalInvocationID.x;
  if (token >= p.tokens) return;
  uint N = p.gh * p.gw;
  uint b = token / N, n = token % N;
  int h = int(n / p.gw), w = int(n % p.gw);
  float temperature = fv_float(p.temperature_bits);

  float z[16];
  float mx = -3.402823466e38;
  for (uint k = 0; k < K; k++) {
    float acc = 0.0;
    for (uint tap = 0; tap < 9; tap++) {
      int hh = h + int(tap / 3) - 1, ww = w + int(tap % 3) - 1;
      if (hh < 0 || hh >= int(p.gh) || ww < 0 || ww >= int(p.gw)) continue;
      uint src = (b * N + uint(hh) * p.gw + uint(ww)) * K;
      for (uint j = 0; j < K; j++) acc += fv_load(w2[(k * K + j) * 9 + tap]) * z1[src + j];
    }
    z[k] = acc / temperature;
    mx = max(mx, z[k]);
  }
  float sum = 0.0;
  for (uint k = 0; k < K; k++) {
    z[k] = exp(z[k] - mx);
    sum += z[k];
  }
  for (uint k = 0; k < K; k++) o[token * K + k] = fv_store(z[k] / sum);
}
