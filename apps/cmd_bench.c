/* cmd_bench.c: `fovea bench vit`: latency of a named timm architecture with random weights,
 * and the GEMM throughput of its linear layers, on one device.
 *
 * Both figures are wall-clock over repeated replays after a warm-up run, so they include
 * submission overhead; --profile adds the per-op GPU split. Comparisons against other
 * engines (PyTorch) live in tests/bench/, which run both in the same invocation. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "engine/exec.h"
#include "vision/vit.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: fovea bench vit --arch NAME [--device D] [--batch N] [--iters N] [--fp16] [--json]\n\n"
          "Runs timm architecture NAME (e.g. vit_base_patch16_224, deit_small_patch16_224) with random\n"
          "weights and reports latency per image and the GFLOP/s of its matmul shapes.\n\n"
          "  --device D   device index, 'auto' or 'cpu' (default: $FOVEA_DEVICE, auto)\n"
          "  --batch N    images per forward pass (default 1)\n"
          "  --iters N    timed replays after one warm-up (default 5)\n"
          "  --fp16       fp16 storage\n"
          "  --json       one JSON object on stdout\n");
}

/* Times `iters` replays of ex; returns seconds per replay. */
static fv_status time_runs(fv_exec *ex, int iters, double *seconds, fv_error *err) {
  if (fv_exec_run(ex, err)) return FV_ERR; /* warm-up: first-touch, caches, clocks */
  double t0 = now_seconds();
  for (int i = 0; i < iters; i++)
    if (fv_exec_run(ex, err)) return FV_ERR;
  *seconds = (now_seconds() - t0) / iters;
  return FV_OK;
}

/* GFLOP/s of out[M,N] = x[M,K] W^T + b on random data. */
static fv_status gemm_rate(fv_device *dev, const fv_exec_options *eo, int64_t M, int64_t N, int64_t K, int gelu,
                           int iters, double *gflops, fv_error *err) {
  fv_graph g;
  fv_graph_init(&g);
  fv_exec *ex = NULL;
  float *w = malloc((size_t)(N * K + N) * sizeof *w);
  float *x = malloc((size_t)(M * K) * sizeof *x);
  fv_status st = FV_ERR;
  if (!w || !x) {
    fv_fail(err, "out of memory");
    goto done;
  }
  uint64_t s = 88172645463325252ull;
  for (int64_t i = 0; i < N * K + N; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    w[i] = (float)((double)(s >> 11) / 9007199254740992.0 - 0.5) * 0.05f;
  }
  for (int64_t i = 0; i < M * K; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  int64_t xs[2] = {M, K}, ws[2] = {N, K}, bs[1] = {N};
  int in = fv_input(&g, "x", FV_F32, 2, xs);
  int out =
      fv_matmul(&g, in, fv_weight(&g, "w", 2, ws, w, FV_F32, 0), fv_weight(&g, "b", 1, bs, w + N * K, FV_F32, 0), gelu);
  fv_mark_output(&g, out);
  double sec = 0;
  if (fv_exec_new(dev, &g, eo, &ex, err) || fv_exec_write(ex, in, x, (size_t)(M * K), err) ||
      time_runs(ex, iters, &sec, err))
    goto done;
  *gflops = 2.0 * (double)M * (double)N * (double)K / sec * 1e-9;
  st = FV_OK;
done:
  fv_exec_free(ex);
  fv_graph_free(&g);
  free(w);
  free(x);
  return st;
}

int fv_cmd_bench(int argc, char **argv) {
  const char *arch = NULL, *device = NULL;
  int batch = 1, iters = 5, json = 0, fp16 = 0;
  fv_error err;
  if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (strcmp(argv[1], "vit") != 0) {
    fprintf(stderr, "fovea bench: error: unknown benchmark '%s' (available: vit)\n", argv[1]);
    return 2;
  }
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(a, "--arch") == 0 && v) {
      arch = v;
      i++;
    } else if (strcmp(a, "--device") == 0 && v) {
      device = v;
      i++;
    } else if (strcmp(a, "--batch") == 0) {
      if (fv_cli_parse_int(a, v, 1, 4096, &batch, &err)) return fv_cli_error(err.msg);
      i++;
    } else if (strcmp(a, "--iters") == 0) {
      if (fv_cli_parse_int(a, v, 1, 100000, &iters, &err)) return fv_cli_error(err.msg);
      i++;
    } else if (strcmp(a, "--json") == 0) {
      json = 1;
    } else if (strcmp(a, "--fp16") == 0) {
      fp16 = 1;
    } else {
      fprintf(stderr, "fovea bench: error: unknown or incomplete option '%s'\n", a);
      return 2;
    }
  }
  if (!arch) return fv_cli_error("fovea bench vit needs --arch NAME, e.g. --arch vit_base_patch16_224");

  int status = 1;
  fv_vit vit = {0};
  fv_device *dev = NULL;
  fv_graph g;
  fv_exec *ex = NULL;
  float *input = NULL;
  fv_graph_init(&g);
  fv_exec_options eo = {.storage = fp16 ? FV_F16 : FV_F32};
  fv_vit_graph vg;
  double sec = 0;
  if (fv_vit_random(arch, 1, &vit, &err) || fv_cli_open_device(device, &dev, &err) ||
      fv_vit_build(&vit, &g, batch, &vg, &err) || fv_exec_new(dev, &g, &eo, &ex, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  const fv_vit_config *c = &vit.cfg;
  size_t n_in = (size_t)batch * (size_t)c->in_chans * (size_t)c->img_size[0] * (size_t)c->img_size[1];
  input = malloc(n_in * sizeof *input);
  if (!input) {
    fv_cli_error("out of memory");
    goto done;
  }
  for (size_t i = 0; i < n_in; i++) input[i] = (float)((i * 2654435761u) % 2000) / 1000.0f - 1.0f;
  if (fv_exec_write(ex, vg.input, input, n_in, &err) || time_runs(ex, iters, &sec, &err)) {
    fv_cli_error(err.msg);
    goto done;
  }
  /* The four linear shapes of a block, at this batch's token count. */
  int P = (c->class_token ? 1 : 0) + (c->distilled ? 1 : 0) + c->reg_tokens;
  int64_t T = (int64_t)(c->img_size[0] / c->patch_size) * (c->img_size[1] / c->patch_size) + P;
  int64_t M = T * batch, E = c->embed_dim, Hd = c->mlp_hidden;
  struct {
    const char *name;
    int64_t N, K;
    int gelu;
  } shapes[4] = {{"qkv", 3 * E, E, 0}, {"proj", E, E, 0}, {"fc1", Hd, E, 1}, {"fc2", E, Hd, 0}};
  double rate[4], flops = 0, secs = 0;
  for (int s = 0; s < 4; s++) {
    if (gemm_rate(dev, &eo, M, shapes[s].N, shapes[s].K, shapes[s].gelu, iters, &rate[s], &err)) {
      fv_cli_error(err.msg);
      goto done;
    }
    double f = 2.0 * (double)M * (double)shapes[s].N * (double)shapes[s].K;
    flops += f;
    secs += f / (rate[s] * 1e9);
  }
  double overall = flops / secs * 1e-9;
  if (json) {
    printf("{\"arch\": ");
    fv_json_string(stdout, arch);
    printf(", \"device\": ");
    fv_json_string(stdout, fv_cli_device_name(dev));
    printf(
        ", \"storage\": \"%s\", \"batch\": %d, \"iters\": %d, \"latency_ms_per_batch\": %.3f, "
        "\"latency_ms_per_image\": %.3f, \"images_per_second\": %.3f, \"gemm_gflops\": %.3f, \"gemm\": {",
        fp16 ? "f16" : "f32", batch, iters, sec * 1e3, sec * 1e3 / batch, batch / sec, overall);
    for (int s = 0; s < 4; s++)
      printf("%s\"%s\": {\"M\": %lld, \"N\": %lld, \"K\": %lld, \"gflops\": %.3f}", s ? ", " : "", shapes[s].name,
             (long long)M, (long long)shapes[s].N, (long long)shapes[s].K, rate[s]);
    printf("}}\n");
  } else {
    printf("%s on %s (%s storage), batch %d, %d timed runs\n", arch, fv_cli_device_name(dev), fp16 ? "f16" : "f32",
           batch, iters);
    printf("  latency      %.2f ms per batch, %.2f ms per image, %.2f images/s\n", sec * 1e3, sec * 1e3 / batch,
           batch / sec);
    for (int s = 0; s < 4; s++)
      printf("  gemm %-5s   M=%lld N=%lld K=%lld: %.2f GFLOP/s\n", shapes[s].name, (long long)M, (long long)shapes[s].N,
             (long long)shapes[s].K, rate[s]);
    printf("  gemm overall %.2f GFLOP/s (FLOP-weighted over the block's linear layers)\n", overall);
  }
  status = 0;
done:
  fv_exec_free(ex);
  fv_graph_free(&g);
  fv_device_close(dev);
  fv_vit_free(&vit);
  free(input);
  return status;
}
