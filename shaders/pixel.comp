#version 450
/* pixel.comp: FV_OP_PIXEL, the per-value image transforms (engine/graph.h, fv_pixel_mode), one
 * invocation per VB = 8 consecutive values, or RGB pixels for the HSV modes (brightness,
 * saturate): the first value's (image, y, x, channel) comes by division, the others' by
 * counting on (integer division has no vector instruction on CPU devices such as lavapipe,
 * which then divide lane by lane: six divisions per value cost more than most modes). The mode is
 * a specialization constant, so every pipeline is compiled for one mode only. Arithmetic is the
 * fp32 of fv_ref_pixel (engine/ref/ref_image.c) step for step, results `precise` so no multiply
 * and add fuse; random draws are engine/philox.h's (common/philox.glsl), same counters.
 *
 * Bindings: 0 image [B, H, W, C], 1 layer [B1, H1, W1, C1], 2 stats [B, C2] (storage type),
 * 3 keys [B] (uint words), 4 out. Absent sources are bound to the image and never read.
 * Push: total (values, or pixels for HSV), H, W, C, B1, H1, W1, C1, C2, a0..a3 (float bits),
 * inv_a0 (float bits of the host's 1 / a0), seed, corruption, severity, stream.
 * Specialization: 0 MODE (fv_pixel_mode). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"
#include "common/philox.glsl"

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint MODE = 0;
const uint VB = 8; /* consecutive values (pixels for HSV) per invocation */

#define GAUSSIAN_NOISE 0u
#define SHOT_NOISE 1u
#define IMPULSE_NOISE 2u
#define SPECKLE_NOISE 3u
#define BRIGHTNESS 4u
#define SATURATE 5u
#define CONTRAST 6u
#define FOG 7u
#define FROST 8u
#define SNOW 9u
#define LAYER_COLOR 10u
#define THRESHOLD 11u
#define STEP 12u
#define ROUND255 13u
#define QUANTIZE 14u
#define AFFINE 15u

layout(std430, binding = 0) readonly buffer BufIn { STORE_T img[]; };
layout(std430, binding = 1) readonly buffer BufL { STORE_T layer[]; };
layout(std430, binding = 2) readonly buffer BufS { STORE_T stats[]; };
layout(std430, binding = 3) readonly buffer BufK { uint keys[]; };
layout(std430, binding = 4) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push {
  uint total, H, W, C, B1, H1, W1, C1, C2;
  uint a0, a1, a2, a3, inv_a0;
  uint seed, corruption, severity, stream;
} p;

const float INV255 = 1.0 / 255.0;

float clip01(float t) {
  t = t > 0.0 ? t : 0.0;
  return t < 1.0 ? t : 1.0;
}

float u8(float t) {
  t = t > 0.0 ? t : 0.0;
  return floor(t < 255.0 ? t : 255.0);
}

float to_u8_unit(float t) {
  precise float s = 255.0 * clip01(t);
  return floor(s);
}

fv_rng pixel_rng(uint b, uint offset) {
  return fv_rng(p.seed, keys[b], p.corruption, p.severity, p.stream + offset);
}

float layer_at(uint b, uint y, uint x, uint c) {
  uint b1 = p.B1 == 1 ? 0 : b;
  return fv_load(layer[((b1 * p.H1 + y) * p.W1 + x) * p.C1 + c % p.C1]);
}

/* Kept across an invocation's values: FOG, the largest channel mean of image fog_image; SNOW,
 * the grey level of the pixel whose channel 0 is at snow_pixel. */
float fog_max = 0.0;
uint fog_image = 0xFFFFFFFFu;
float snow_gray = 0.0;
uint snow_pixel = 0xFFFFFFFFu;

float pixel_value(uint b, uint y, uint x, uint c, float v, uint idx) {
  float a0 = fv_float(p.a0), a1 = fv_float(p.a1);
  precise float f = v * INV255;
  if (MODE == GAUSSIAN_NOISE) {
    precise float t = f + a0 * fv_rng_normal(pixel_rng(b, 0u), idx);
    return to_u8_unit(t);
  } else if (MODE == SHOT_NOISE) {
    precise float mean = f * a0;
    precise float t = fv_rng_poisson(pixel_rng(b, 0u), idx, mean) * fv_float(p.inv_a0);
    return to_u8_unit(t);
  } else if (MODE == IMPULSE_NOISE) {
    bool flip = fv_rng_uniform(pixel_rng(b, 0u), idx) < a0;
    bool salt = fv_rng_uniform(pixel_rng(b, 1u), idx) < 0.5;
    return flip ? (salt ? 255.0 : 0.0) : u8(v);
  } else if (MODE == SPECKLE_NOISE) {
    precise float t = f + f * (a0 * fv_rng_normal(pixel_rng(b, 0u), idx));
    return to_u8_unit(t);
  } else if (MODE == CONTRAST) {
    precise float m = fv_load(stats[b * p.C2 + c]) * INV255;
    precise float t = (f - m) * a0 + m;
    return to_u8_unit(t);
  } else if (MODE == FOG) {
    if (b != fog_image) { /* once per image, not per value */
      fog_max = fv_load(stats[b * p.C2]);
      for (uint k = 1; k < p.C2; k++) fog_max = max(fog_max, fv_load(stats[b * p.C2 + k]));
      fog_image = b;
    }
    precise float maxv = fog_max * INV255;
    precise float t = ((f + a0 * layer_at(b, y, x, c)) * maxv) / (maxv + a0);
    return to_u8_unit(t);
  } else if (MODE == FROST) {
    precise float t = a0 * v + a1 * layer_at(b, y, x, c);
    return u8(t);
  } else if (MODE == SNOW) {
    uint px = ((b * p.H + y) * p.W + x) * p.C;
    if (px != snow_pixel) { /* once per pixel, not per channel */
      precise float g = 0.299 * (fv_load(img[px]) * INV255) + 0.587 * (fv_load(img[px + 1]) * INV255) +
                        0.114 * (fv_load(img[px + 2]) * INV255);
      snow_gray = g;
      snow_pixel = px;
    }
    float gray = snow_gray;
    precise float f2 = a0 * f + (1.0 - a0) * max(f, 1.5 * gray + 0.5);
    precise float t = f2 + layer_at(b, y, x, c) + layer_at(b, p.H - 1 - y, p.W - 1 - x, c);
    return to_u8_unit(t);
  } else if (MODE == LAYER_COLOR) {
    float M = layer_at(b, y, x, c);
    float col = c == 0 ? a1 : (c == 1 ? fv_float(p.a2) : fv_float(p.a3));
    precise float colour = col * INV255;
    precise float t = f * (1.0 - a0 * M) + M * colour;
    return to_u8_unit(t);
  } else if (MODE == THRESHOLD) {
    float t = v < a0 ? 0.0 : v;
    return a1 != 0.0 ? clip01(t) : t;
  } else if (MODE == STEP) {
    return v > a0 ? 1.0 : 0.0;
  } else if (MODE == ROUND255) {
    precise float s = 255.0 * v;
    precise float t = roundEven(s) / 255.0;
    return t;
  } else if (MODE == QUANTIZE) {
    precise float t = a0 * v;
    return u8(t);
  }
  precise float t = a0 * v + a1; /* AFFINE */
  return t;
}

void pixel_hsv(uint px) {
  float r = fv_load(img[3 * px]) * INV255, g = fv_load(img[3 * px + 1]) * INV255, b = fv_load(img[3 * px + 2]) * INV255;
  float V = max(max(r, g), b);
  vec3 rgb = vec3(r, g, b);
  precise vec3 outv;
  if (MODE == BRIGHTNESS) {
    precise float Vp = clip01(V + fv_float(p.a0));
    if (V > 0.0) {
      precise float s = Vp / V;
      outv = rgb * s;
    } else {
      outv = vec3(Vp);
    }
  } else {
    float mn = min(min(r, g), b);
    precise float S = V > 0.0 ? (V - mn) / V : 0.0;
    precise float Sp = clip01(fv_float(p.a0) * S + fv_float(p.a1));
    if (S > 0.0) {
      precise float k = Sp / S;
      outv = V - (V - rgb) * k;
    } else {
      precise float q = V * (1.0 - Sp);
      outv = vec3(V, q, q);
    }
  }
  for (uint c = 0; c < 3; c++) o[3 * px + c] = fv_store(to_u8_unit(outv[c]));
}

void main() {
  uint i0 = (fv_group_id() * 256 + gl_LocalInvocationID.x) * VB;
  if (i0 >= p.total) return;
  if (MODE == BRIGHTNESS || MODE == SATURATE) {
    for (uint k = 0; k < VB && i0 + k < p.total; k++) pixel_hsv(i0 + k);
    return;
  }
  /* (b, y, x, c) of the first value by division, of the next ones by counting */
  uint c = i0 % p.C, r = i0 / p.C;
  uint x = r % p.W;
  r /= p.W;
  uint y = r % p.H, b = r / p.H;
  for (uint k = 0; k < VB && i0 + k < p.total; k++) {
    uint idx = (y * p.W + x) * p.C + c; /* index within image b: the draw index */
    o[i0 + k] = fv_store(pixel_value(b, y, x, c, fv_load(img[i0 + k]), idx));
    if (++c == p.C) {
      c = 0;
      if (++x == p.W) {
        x = 0;
        if (++y == p.H) y = 0, b++;
      }
    }
  }
}
