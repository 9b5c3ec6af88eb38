#version 450
/* im2col.comp: patch extraction for a convolution with kernel = stride = P.
 * image [B, C, H, W] -> out [B, (H/P)*(W/P), C*P*P], column c*P*P + ky*P + kx, so a conv
 * weight [E, C, P, P] is a matmul weight [E, C*P*P]. One output element per invocation;
 * pure data movement (values are copied, not converted beyond the storage type).
 *
 * Bindings: 0 image, 1 out. Push: total, C, H, W, P. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, C, H, W, P; } p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint pp = p.P * p.P, cols = p.C * pp;
  uint gw = p.W / p.P, patches = (p.H / p.P) * gw;
  uint col = i % cols, rest = i / cols;
  uint pi = rest % patches, b = rest / patches;
  uint c = col / pp, r = col % pp;
  uint y = (pi / gw) * p.P + r / p.P, x = (pi % gw) * p.P + r % p.P;
  o[i] = img[((b * p.C + c) * p.H + y) * p.W + x];
}
