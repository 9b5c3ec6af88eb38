/* fv.glsl: helpers shared by every Fovea compute kernel.
 *
 * Storage type: every kernel is compiled twice (cmake/shaders.cmake). Without FV_STORAGE_F16
 * tensors are float buffers; with it they are float16_t buffers. Kernels declare buffers of
 * STORE_T, read them with fv_load() and write them with fv_store(), and do all arithmetic in
 * fp32. Only GL_EXT_shader_16bit_storage is enabled, deliberately not the fp16 *arithmetic*
 * extension: we never compute in fp16, and the arithmetic extension would add the Float16
 * capability, which needs the shaderFloat16 device feature that some devices with 16-bit
 * storage lack.
 *
 * Workgroups: the executor folds a linear workgroup count into x,y (each within
 * maxComputeWorkGroupCount), so the grid may hold a few groups past the work; fv_group_id()
 * recovers the linear id and every kernel returns when that id is past its work.
 *
 * This file does not declare bindings or push constants: each kernel owns its interface. */
#ifndef FV_GLSL
#define FV_GLSL

#ifdef FV_STORAGE_F16
#extension GL_EXT_shader_16bit_storage : require
#define STORE_T float16_t
#else
#define STORE_T float
#endif

#define fv_load(x) float(x)
#define fv_store(x) STORE_T(x)

uint fv_group_id() { return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x; }

/* Push constants carry floats as their bit patterns in uint words. */
float fv_float(uint bits) { return uintBitsToFloat(bits); }

/* erf in fp32 (GLSL has none); max abs error about 1.1e-7 (2 ulp near 0.75) against libm.
 * |x| < 0.75: the Maclaurin series of erf to the z^8 term (the next term is below 1e-9 there).
 * Otherwise: erf = 1 - exp(-x^2) * P(t), t = 1 / (1 + x/2), with P a degree-11 least-squares
 * fit of erfc(x) exp(x^2) on [0.5, 4] (relative error 2e-12 in exact arithmetic); beyond
 * x = 4, erfc is below fp32's resolution near 1 and the formula still returns 1. */
float fv_erf(float x) {
  float a = abs(x);
  float r;
  if (a < 0.75) {
    float z = a * a;
    float p = 1.6462114365889246e-06;   /* 2/sqrt(pi) / (n! (2n+1)), n = 8 */
    p = p * z - 1.4925650358406250e-05; /* n = 7, and so on with alternating signs */
    p = p * z + 1.2055332981789664e-04;
    p = p * z - 8.5483270234508520e-04;
    p = p * z + 5.2239776254421880e-03;
    p = p * z - 2.6866170645131252e-02;
    p = p * z + 1.1283791670955126e-01;
    p = p * z - 3.7612638903183754e-01;
    p = p * z + 1.1283791670955126;
    r = a * p;
  } else {
    float t = 1.0 / (1.0 + 0.5 * a);
    float p = 0.020026236397193736;
    p = p * t - 0.07927539211298552;
    p = p * t + 0.03429159699868142;
    p = p * t + 0.3352307591501295;
    p = p * t - 0.747830014211144;
    p = p * t + 0.6078848229937092;
    p = p * t - 0.2583972151561922;
    p = p * t + 0.3047418837903568;
    p = p * t + 0.21425560788199638;
    p = p * t + 0.2874803872415263;
    p = p * t + 0.2815690285310393;
    p = p * t + 2.3049123436702133e-05;
    r = 1.0 - p * exp(-a * a);
  }
  return x < 0.0 ? -r : r;
}

/* Exact (erf) GELU, as timm's nn.GELU() default. */
float fv_gelu(float x) { return 0.5 * x * (1.0 + fv_erf(x * 0.70710678118654752)); }

#endif
