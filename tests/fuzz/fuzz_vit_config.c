/* fuzz_vit_config.c: libFuzzer harness for fv_vit_config_parse, then fv_vit_config_resolve
 * against a fixed small ViT tensor set (names and shapes only) and fv_vit_config_for_arch on
 * the input read as an architecture name. It checks memory safety and that every failure
 * carries a message, not which configs are accepted (test_vit_config does that). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vision/vit_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fv_st_tensor tensors[] = {
    {.name = "patch_embed.proj.weight", .ndim = 4, .shape = {64, 3, 8, 8}},
    {.name = "cls_token", .ndim = 3, .shape = {1, 1, 64}},
    {.name = "pos_embed", .ndim = 3, .shape = {1, 17, 64}},
    {.name = "blocks.0.attn.qkv.weight", .ndim = 2, .shape = {192, 64}},
    {.name = "blocks.0.attn.qkv.bias", .ndim = 1, .shape = {192}},
    {.name = "blocks.0.mlp.fc1.weight", .ndim = 2, .shape = {256, 64}},
    {.name = "blocks.1.attn.qkv.weight", .ndim = 2, .shape = {192, 64}},
    {.name = "norm.weight", .ndim = 1, .shape = {64}},
    {.name = "head.weight", .ndim = 2, .shape = {10, 64}},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fv_safetensors st = {
      .path = "fuzz.safetensors", .tensors = tensors, .count = (int)(sizeof tensors / sizeof tensors[0])};
  fv_vit_config cfg;
  fv_error err;
  err.msg[0] = '\0';
  if (fv_vit_config_parse((const char *)data, size, "config.json", &cfg, &err) == FV_OK) {
    if (fv_vit_config_resolve(&cfg, &st, &err) == FV_OK) {
      if (cfg.embed_dim != 64 || cfg.depth != 2 || cfg.num_heads < 1) abort();
    } else if (!err.msg[0]) {
      abort();
    }
    fv_vit_config_free(&cfg);
  } else if (!err.msg[0]) {
    abort();
  }
  char arch[160];
  size_t n = size < sizeof arch - 1 ? size : sizeof arch - 1;
  memcpy(arch, data, n);
  arch[n] = '\0';
  if (fv_vit_config_for_arch(arch, 10, &cfg, &err) == FV_OK) fv_vit_config_free(&cfg);
  return 0;
}
