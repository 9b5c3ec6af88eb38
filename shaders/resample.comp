#version 450
/* resample.comp: separable resampling of a float image (storage type); see
 * common/resample.glsl for the operation, bindings and limits. resample_u8.comp is the
 * same kernel reading an 8-bit image. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
float fv_image(uint idx) { return fv_load(img[idx]); }

#include "common/resample.glsl"
