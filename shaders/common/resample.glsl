/* resample.glsl: the body shared by resample.comp (float image in the storage type) and
 * resample_u8.comp (8-bit image bound as uint words). The including file defines
 * fv_image(idx), the idx-th image value as float, and declares binding 0.
 *
 * Separable resampling along one axis of image [H, W, C], or of each image of a batch
 * [B, H, W, C] along H (AXIS 0: the image index is the output row / out_size; the planner
 * folds a batch resampled along W into one [B*H, W, C] image); table (binding 1, storage type)
 * holds per output index o: [first, count, w_0 .. w_{taps-1}]. out[o, x, c] (axis 0) or
 * out[y, o, c] (axis 1) = sum_k w_k * in[first + k] along the axis, summed in k order from
 * 0, then with ROUND_U8 rounded half up and clamped to 0..255 as PIL does between passes.
 *
 * fp16 storage: first and count are read from an fp16 table, exact only up to 2048, so the
 * planner refuses inputs longer than 2049 along the axis in fp16 mode. first and count are
 * clamped as the reference does, so a malformed table never reads outside the image.
 *
 * Bindings: 0 image, 1 table, 2 out. Push: total, H, W, C, out_size, taps.
 * Specialization: 0 AXIS, 1 ROUND_U8. */

layout(local_size_x = 256) in;
layout(constant_id = 0) const uint AXIS = 0;
layout(constant_id = 1) const uint ROUND_U8 = 0;

layout(std430, binding = 1) readonly buffer BufT { STORE_T table[]; };
layout(std430, binding = 2) writeonly buffer BufOut { STORE_T o[]; };

layout(push_constant) uniform Push { uint total, H, W, C, out_size, taps; } p;

void main() {
  uint i = fv_group_id() * 256 + gl_LocalInvocationID.x;
  if (i >= p.total) return;
  uint c = i % p.C, r = i / p.C;
  uint o_idx, base, stride, in_size;
  if (AXIS == 0) { /* i = ((b * out_size + o) * W + x) * C + c; b = 0 for a single image */
    uint x = r % p.W;
    o_idx = r / p.W;
    uint b = o_idx / p.out_size;
    o_idx %= p.out_size;
    base = b * p.H * p.W * p.C + x * p.C + c;
    stride = p.W * p.C;
    in_size = p.H;
  } else { /* i = (y * out_size + o) * C + c */
    o_idx = r % p.out_size;
    uint y = r / p.out_size;
    base = y * p.W * p.C + c;
    stride = p.C;
    in_size = p.W;
  }
  uint entry = o_idx * (2 + p.taps);
  /* Truncation and clamping exactly as fv_ref_resample's table_entry(). */
  float f = fv_load(table[entry]), n = fv_load(table[entry + 1]);
  uint first = (f >= 0.0 && f < float(in_size)) ? uint(f) : 0;
  uint count = (n >= 0.0 && n <= float(p.taps)) ? uint(n) : 0;
  count = min(count, in_size - first);
  float acc = 0.0;
  for (uint k = 0; k < count; k++) acc += fv_load(table[entry + 2 + k]) * fv_image(base + (first + k) * stride);
  if (ROUND_U8 != 0) acc = clamp(floor(acc + 0.5), 0.0, 255.0);
  o[i] = fv_store(acc);
}
