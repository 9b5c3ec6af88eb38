#version 450
/* plasma.comp: FV_OP_PLASMA, the diamond-square fractal of fv_ref_plasma (corruptions.md 3.8),
 * one workgroup per image. Each level is two phases separated by memoryBarrierBuffer() +
 * barrier(): the square centres, then both diamond sets (they read only corners and centres,
 * never each other). The fractal is built in fp32 scratch memory (fp16 storage could not hold
 * its +-1e4 intermediate values precisely), then normalised to [0, 1] with a shared-memory
 * min/max tree and written to the output in the storage type.
 *
 * Bindings: 0 keys [B] (uint words), 1 scratch (float, B*N*N), 2 out [B, N, N, 1].
 * Push: B, N, levels, seed, corruption, severity, stream, w[16] (float bits: the noise
 * amplitude of each level, fv_ref_plasma_wibble). */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"
#include "common/philox.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer BufK { uint keys[]; };
layout(std430, binding = 1) coherent buffer BufP { float P[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push {
  uint B, N, levels, seed, corruption, severity, stream;
  uint w[16];
} p;

shared float smin[256], smax[256];

void sync_phase() {
  memoryBarrierBuffer();
  barrier();
}

float wibbled(float s, float w, float u) {
  precise float v = s * 0.25 + w * (-w + (w + w) * u);
  return v;
}

void main() {
  uint img = fv_group_id(); /* uniform over the workgroup */
  if (img >= p.B) return;
  uint lid = gl_LocalInvocationID.x, N = p.N, base = img * N * N;
  if (lid == 0) P[base] = 0.0;
  sync_phase();
  uint step = N;
  for (uint l = 0; l < p.levels; l++, step >>= 1) {
    float w = uintBitsToFloat(p.w[l]);
    uint cells = N / step, h = step / 2, count = cells * cells;
    fv_rng r = fv_rng(p.seed, keys[img], p.corruption, p.severity, p.stream + 3 * l);
    for (uint k = lid; k < count; k += 256) {
      uint i = k / cells, j = k % cells, i1 = (i + 1) % cells, j1 = (j + 1) % cells;
      precise float s = (P[base + i * step * N + j * step] + P[base + i1 * step * N + j * step]) +
                        (P[base + i * step * N + j1 * step] + P[base + i1 * step * N + j1 * step]);
      P[base + (i * step + h) * N + j * step + h] = wibbled(s, w, fv_rng_uniform(r, k));
    }
    sync_phase();
    fv_rng r1 = fv_rng(p.seed, keys[img], p.corruption, p.severity, p.stream + 3 * l + 1);
    fv_rng r2 = fv_rng(p.seed, keys[img], p.corruption, p.severity, p.stream + 3 * l + 2);
    for (uint k = lid; k < count; k += 256) {
      uint i = k / cells, j = k % cells;
      uint im1 = (i + cells - 1) % cells, i1 = (i + 1) % cells, jm1 = (j + cells - 1) % cells, j1 = (j + 1) % cells;
      float centre = P[base + (i * step + h) * N + j * step + h], corner = P[base + i * step * N + j * step];
      /* set 1 at (i*step, j*step + h): centres (i-1, j), (i, j); corners (i, j), (i, j+1) */
      precise float s1 = (centre + P[base + (im1 * step + h) * N + j * step + h]) +
                         (corner + P[base + i * step * N + j1 * step]);
      /* set 2 at (i*step + h, j*step): centres (i, j-1), (i, j); corners (i, j), (i+1, j) */
      precise float s2 = (centre + P[base + (i * step + h) * N + jm1 * step + h]) +
                         (corner + P[base + i1 * step * N + j * step]);
      P[base + i * step * N + j * step + h] = wibbled(s1, w, fv_rng_uniform(r1, k));
      P[base + (i * step + h) * N + j * step] = wibbled(s2, w, fv_rng_uniform(r2, k));
    }
    sync_phase();
  }
  float mn = uintBitsToFloat(0x7F800000u), mx = uintBitsToFloat(0xFF800000u);
  for (uint k = lid; k < N * N; k += 256) {
    mn = min(mn, P[base + k]);
    mx = max(mx, P[base + k]);
  }
  smin[lid] = mn;
  smax[lid] = mx;
  barrier();
  for (uint s = 128; s > 0; s >>= 1) {
    if (lid < s) {
      smin[lid] = min(smin[lid], smin[lid + s]);
      smax[lid] = max(smax[lid], smax[lid + s]);
    }
    barrier();
  }
  mn = smin[0];
  precise float range = smax[0] - mn;
  for (uint k = lid; k < N * N; k += 256) {
    precise float v = range > 0.0 ? (P[base + k] - mn) / range : 0.0;
    o[base + k] = fv_store(v);
  }
}
