#version 450
/* matmul_cpu.comp: out[M,N] = A[M,K] . W[N,K]^T (+ bias[N]) (then exact GELU), for CPU
 * Vulkan drivers (lavapipe).
 *
 * Why this shape: lavapipe runs a subgroup of 8 invocations as one AVX program, and Mesa's
 * llvmpipe turns *every* storage-buffer or shared-memory load into a loop over the 8 lanes
 * with a bounds check per element, whether or not the address is uniform. Loads are
 * therefore the cost to minimise, and each load instruction should fetch as much as it can:
 * - no shared memory and no barriers (a barrier is a coroutine switch, and shared memory
 *   is loaded lane by lane like a buffer anyway);
 * - each invocation accumulates a TM x TN register block (16 x 16 here), so every loaded
 *   value feeds TN (or TM) FMAs;
 * - with VEC = 1 (K a multiple of 4 floats / 8 halves, planner-checked; the executor
 *   aligns every binding to at least 16 bytes) rows are read as 16-byte vectors:
 *   4 floats, or 8 halves unpacked with unpackHalf2x16 in the fp16 variant; with VEC = 0
 *   the same loop reads one scalar at a time (any K, slower).
 * A workgroup is one subgroup (WG = 8 invocations): rows m0 .. m0+TM-1 are shared by the
 * workgroup and invocation l owns columns n0 + l + WG*j. Rows and columns past M, N are
 * clamped on load (the loads stay in bounds and branch-free) and skipped on store. fp32
 * accumulation in both storage variants.
 *
 * Not for GPUs: there the register block is far too large for occupancy and shared-memory
 * tiling wins; the planner picks matmul_tiled.comp.
 *
 * Bias and GELU are push-constant flags, not specialization constants: the epilogue is a
 * negligible share of the time, and every specialization is one more pipeline for lavapipe
 * to compile (seconds each for a kernel this unrolled).
 *
 * Bindings: 0 A, 1 W, 2 bias (any tensor when flags bit 0 is clear; never read), 3 out.
 * Push: M, N, K, flags (bit 0: add bias, bit 1: GELU). Specialization: 0 VEC. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

#ifndef TM
#define TM 16
#endif
#ifndef TN
#define TN 16
#endif
#ifndef WG
#define WG 8
#endif

layout(local_size_x = WG) in;

layout(constant_id = 0) const uint VEC = 0;

/* Scalar and 16-byte views of the same bindings (descriptor aliasing: one is unused). */
layout(std430, binding = 0) readonly buffer BufA { STORE_T a[]; };
layout(std430, binding = 0) readonly buffer BufA4 { uvec4 a4[]; };
layout(std430, binding = 1) readonly buffer BufW { STORE_T w[]; };
layout(std430, binding = 1) readonly buffer BufW4 { uvec4 w4[]; };
layout(std430, binding = 2) readonly buffer BufBias { STORE_T bias[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint M, N, K, flags; } p;

#ifdef FV_STORAGE_F16
#define VW 8u /* elements per 16-byte load */
#else
#define VW 4u
#endif

float acc[TM][TN];

/* acc += a-chunk (x) w-chunk for one 4-element slice of k. */
void fma4(vec4 av[TM], vec4 wv[TN]) {
  for (int i = 0; i < TM; i++)
    for (int j = 0; j < TN; j++) {
      float s = acc[i][j];
      s = fma(av[i].x, wv[j].x, s);
      s = fma(av[i].y, wv[j].y, s);
      s = fma(av[i].z, wv[j].z, s);
      s = fma(av[i].w, wv[j].w, s);
      acc[i][j] = s;
    }
}

#ifdef FV_STORAGE_F16
vec4 lo_half(uvec4 u) { return vec4(unpackHalf2x16(u.x), unpackHalf2x16(u.y)); }
vec4 hi_half(uvec4 u) { return vec4(unpackHalf2x16(u.z), unpackHalf2x16(u.w)); }
#endif

void main() {
  uint cols = WG * TN;
  uint tiles_n = (p.N + cols - 1) / cols;
  uint gid = fv_group_id();
  if (gid >= tiles_n * ((p.M + TM - 1) / TM)) return;
  uint m0 = (gid / tiles_n) * TM, n0 = (gid % tiles_n) * cols;
  uint lid = gl_LocalInvocationID.x;

  uint arow[TM], wrow[TN];
  for (int i = 0; i < TM; i++) arow[i] = min(m0 + i, p.M - 1) * p.K;
  for (int j = 0; j < TN; j++) wrow[j] = min(n0 + lid + WG * j, p.N - 1) * p.K;
  for (int i = 0; i < TM; i++)
    for (int j = 0; j < TN; j++) acc[i][j] = 0.0;

  if (VEC != 0) {
    /* Row starts are multiples of VW elements (K is), so r / VW indexes 16-byte words. */
    for (uint k = 0; k < p.K; k += VW) {
      uvec4 au[TM], wu[TN];
      for (int i = 0; i < TM; i++) au[i] = a4[(arow[i] + k) / VW];
      for (int j = 0; j < TN; j++) wu[j] = w4[(wrow[j] + k) / VW];
      vec4 av[TM], wv[TN];
#ifdef FV_STORAGE_F16
      for (int i = 0; i < TM; i++) av[i] = lo_half(au[i]);
      for (int j = 0; j < TN; j++) wv[j] = lo_half(wu[j]);
      fma4(av, wv);
      for (int i = 0; i < TM; i++) av[i] = hi_half(au[i]);
      for (int j = 0; j < TN; j++) wv[j] = hi_half(wu[j]);
      fma4(av, wv);
#else
      for (int i = 0; i < TM; i++) av[i] = uintBitsToFloat(au[i]);
      for (int j = 0; j < TN; j++) wv[j] = uintBitsToFloat(wu[j]);
      fma4(av, wv);
#endif
    }
  } else {
    for (uint k = 0; k < p.K; k++) {
      float av[TM], wv[TN];
      for (int i = 0; i < TM; i++) av[i] = fv_load(a[arow[i] + k]);
      for (int j = 0; j < TN; j++) wv[j] = fv_load(w[wrow[j] + k]);
      for (int i = 0; i < TM; i++)
        for (int j = 0; j < TN; j++) acc[i][j] = fma(av[i], wv[j], acc[i][j]);
    }
  }

  /* Epilogue through a private array walked by a loop with a run-time trip count: the
   * compiler cannot unroll it, so the bias/GELU/store code exists once instead of TM*TN
   * times (which tripled pipeline compile time on lavapipe). acc itself is only ever
   * indexed with constants, so it stays in registers in the main loop. */
  float tile[TM * TN];
  for (int i = 0; i < TM; i++)
    for (int j = 0; j < TN; j++) tile[i * TN + j] = acc[i][j];
  uint count = min(uint(TM), p.M - m0) * TN;
  for (uint e = 0; e < count; e++) {
    uint i = e / TN, j = e % TN;
    uint n = n0 + lid + WG * j;
    if (n >= p.N) continue;
    float v = tile[e] + ((p.flags & 1u) != 0 ? fv_load(bias[n]) : 0.0);
    if ((p.flags & 2u) != 0) v = fv_gelu(v);
    o[(m0 + i) * p.N + n] = fv_store(v);
  }
}
