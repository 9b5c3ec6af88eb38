#version 450
/* crop_normalize.comp: image [H, W, C] (values 0..255) -> out [C, h, w] with
 * out[c, y, x] = (image[top + y, left + x, c] / 255 - mean[c]) / std[c]: the centre crop,
 * ToTensor scaling and Normalize of timm's eval transform in one pass. C <= 4.
 *
 * Bindings: 0 image, 1 out. Push: total, W, C, top, left, h, w, mean[4] bits, std[4] bits. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push {
  uint total, W, C, top, left, h, w;
  uint mean_bits[4], std_bits[4]; /* arrays of uint, not uvec4: no 16-byte alignment padding */
} p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint x = i % p.w, r = i / p.w;
  uint y = r % p.h, c = r / p.h;
  float v = fv_load(img[((p.top + y) * p.W + p.left + x) * p.C + c]);
  /* Same operation order as the reference: divide, subtract, divide. */
  o[i] = fv_store((v / 255.0 - uintBitsToFloat(p.mean_bits[c])) / uintBitsToFloat(p.std_bits[c]));
}
