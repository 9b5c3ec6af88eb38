#version 450
/* matmul_tiled.comp: out[M,N] = A[M,K] . W[N,K]^T (+ bias[N]) (then exact GELU), for GPUs.
 *
 * Each workgroup of 256 invocations computes a 64x64 output tile; each invocation a 4x4 block
 * of it (rows ty + 16*i, columns tx + 16*j, so neighbouring invocations write neighbouring
 * columns and read shared memory without bank conflicts). K is walked in slices of 16: A and W
 * slices are staged in shared memory, transposed to [k][row] so the inner loop reads rows with
 * unit stride. Accumulation is fp32 whatever the storage type. Edge tiles are zero-padded on
 * load and masked on store, so every M, N, K is correct.
 *
 * Not for CPU Vulkan drivers (lavapipe): there every barrier is a coroutine switch; the
 * planner picks matmul_cpu.comp instead. No cooperative-matrix path yet.
 *
 * Bindings: 0 A, 1 W, 2 bias (any tensor when flags bit 0 is clear; never read), 3 out.
 * Push: M, N, K, flags (bit 0: add bias, bit 1: GELU), as for matmul_cpu.comp. */
#extension GL_GOOGLE_include_directive : require
#include "common/fv.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer BufA { STORE_T a[]; };
layout(std430, binding = 1) readonly buffer BufW { STORE_T w[]; };
layout(std430, binding = 2) readonly buffer BufBias { STORE_T bias[]; };
layout(std430, binding = 3) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint M, N, K, flags; } p;

#define BM 64
#define BN 64
#define BK 16
/* +4 padding keeps the transposed stores (stride BM+4) off a single bank. */
shared float sa[BK][BM + 4];
shared float sw[BK][BN + 4];

void main() {
  uint tiles_n = (p.N + BN - 1) / BN;
  uint tiles = ((p.M + BM - 1) / BM) * tiles_n;
  uint gid = fv_group_id();
  if (gid >= tiles) return; /* whole workgroup: barriers below stay uniform */
  uint m0 = (gid / tiles_n) * BM, n0 = (gid % tiles_n) * BN;
  uint tid = gl_LocalInvocationID.x;
  uint tx = tid % 16, ty = tid / 16;

  /* Loader mapping: 64 rows x 16 k per slice = 256 x 4 elements; invocation tid loads row
   * tid/4, k (tid%4)*4 .. +3, consecutive invocations reading consecutive addresses. */
  uint lrow = tid / 4, lk = (tid % 4) * 4;

  float acc[4][4];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 4; j++) acc[i][j] = 0.0;

  for (uint k0 = 0; k0 < p.K; k0 += BK) {
    uint am = m0 + lrow, wn = n0 + lrow;
    for (uint e = 0; e < 4; e++) {
      uint k = k0 + lk + e;
      sa[lk + e][lrow] = (am < p.M && k < p.K) ? fv_load(a[am * p.K + k]) : 0.0;
      sw[lk + e][lrow] = (wn < p.N && k < p.K) ? fv_load(w[wn * p.K + k]) : 0.0;
    }
    barrier();
    for (uint kk = 0; kk < BK; kk++) {
      float av[4], wv[4];
      for (int i = 0; i < 4; i++) av[i] = sa[kk][ty + 16 * i];
      for (int j = 0; j < 4; j++) wv[j] = sw[kk][tx + 16 * j];
      for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = fma(av[i], wv[j], acc[i][j]);
    }
    barrier();
  }

  for (int j = 0; j < 4; j++) {
    uint n = n0 + tx + 16 * j;
    if (n >= p.N) continue;
    float b = (p.flags & 1u) != 0 ? fv_load(bias[n]) : 0.0;
    for (int i = 0; i < 4; i++) {
      uint m = m0 + ty + 16 * i;
      if (m >= p.M) continue;
      float v = acc[i][j] + b;
      if ((p.flags & 2u) != 0) v = fv_gelu(v);
      o[m * p.N + n] = fv_store(v);
    }
  }
}
