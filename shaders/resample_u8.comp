#version 450
/* resample_u8.comp: separable resampling of an 8-bit image, bound as uint words (4 bytes
 * each, little-endian, as the host wrote them; the executor pads the binding to 16 bytes so
 * the last word is in range); see common/resample.glsl for the operation and bindings. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(std430, binding = 0) readonly buffer BufIn { uint img_words[]; };
float fv_image(uint idx) { return float((img_words[idx >> 2] >> ((idx & 3u) * 8u)) & 255u); }

#include "common/resample.glsl"
