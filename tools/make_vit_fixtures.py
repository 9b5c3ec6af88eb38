#!/usr/bin/python3
"""make_vit_fixtures.py: tiny timm-style ViT/DeiT models with PyTorch reference logits,
for tests/test_vit_parity.c.

timm itself is not installable here (no network; Debian does not package it), so this file
re-implements, in plain PyTorch, the forward pass of timm's VisionTransformer and
VisionTransformerDistilled (timm 0.9 semantics) with timm's exact tensor names:
  patch_embed.proj (Conv2d, kernel = stride = patch) -> _pos_embed (class token, register
  tokens, distillation token; no_embed_class adds pos_embed to the patches before the
  prefix tokens are concatenated, otherwise after) -> pre-norm blocks (LayerNorm eps 1e-6,
  Attention with fused qkv Linear reshaped (B, N, 3, H, D), scaled softmax, proj; optional
  LayerScale ls1/ls2; Mlp fc1 -> exact GELU -> fc2) -> norm -> pool ('token': x[:, 0];
  'avg': mean over non-prefix tokens, then fc_norm instead of norm when fc_norm is on)
  -> head; distilled: (head(x[:, 0]) + head_dist(x[:, 1])) / 2 as timm's eval mode.

For each configuration it writes tests/fixtures/vit/<name>/:
  config.json          hub style: architecture, num_classes, num_features, global_pool,
                       pretrained_cfg {input_size, interpolation, crop_pct, crop_mode, mean,
                       std, ...}, model_args (the hyper-parameters), label_names for some
  model.safetensors    written here with json + struct (no safetensors package), F32, or
                       F16 / BF16 for the two reduced-precision fixtures
  input.bin            float32 little-endian [B, C, H, W], B = 2
  expected_logits.bin  float32 [B, num_classes]
  meta.json            shapes, dtypes and the float64 cross-check of the logits

Weights are random (fixed seeds) but scaled so activations stay O(1): timm's own init
(std 0.02, zero biases, gamma 1e-6) would make attention uniform and layer scale invisible,
and the test would prove little. The reduced-precision fixtures round the weights first and
compute the expected logits from the rounded weights, in float32 like timm; every fixture
is also run in float64 and must agree to ~1e-5.
Deliberately not covered: pretrained weights, dynamic image sizes, other timm ViT options
(qk_norm, pre_norm, attention pooling, RoPE), which Fovea rejects by name.
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "vit")
BATCH = 2


# ---- the model, as timm defines it ----------------------------------------------------------

class PatchEmbed(nn.Module):
    def __init__(self, img_size, patch, in_chans, dim):
        super().__init__()
        self.grid = (img_size[0] // patch, img_size[1] // patch)
        self.num_patches = self.grid[0] * self.grid[1]
        self.proj = nn.Conv2d(in_chans, dim, kernel_size=patch, stride=patch, bias=True)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # B, N, E (row-major patch order)


class Attention(nn.Module):
    def __init__(self, dim, heads, qkv_bias):
        super().__init__()
        self.heads, self.head_dim = heads, dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(B, N, C))


class LayerScale(nn.Module):
    def __init__(self, dim, init_values):
        super().__init__()
        self.gamma = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x):
        return x * self.gamma


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()  # exact erf form, timm's default
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim, heads, mlp_ratio, qkv_bias, init_values):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads, qkv_bias)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class VisionTransformer(nn.Module):
    def __init__(self, img_size, patch_size, in_chans, num_classes, global_pool, embed_dim, depth, num_heads,
                 mlp_ratio, qkv_bias, init_values=None, class_token=True, no_embed_class=False, reg_tokens=0,
                 fc_norm=None, distilled=False):
        super().__init__()
        assert global_pool in ("token", "avg")
        assert class_token or global_pool != "token"
        use_fc_norm = global_pool == "avg" if fc_norm is None else fc_norm
        self.global_pool, self.distilled = global_pool, distilled
        self.no_embed_class = no_embed_class
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if distilled else None
        self.reg_token = nn.Parameter(torch.zeros(1, reg_tokens, embed_dim)) if reg_tokens else None
        self.num_prefix_tokens = int(class_token) + int(distilled) + reg_tokens
        n = self.patch_embed.num_patches
        embed_len = n if no_embed_class else n + self.num_prefix_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_len, embed_dim))
        self.blocks = nn.Sequential(*[Block(embed_dim, num_heads, mlp_ratio, qkv_bias, init_values)
                                      for _ in range(depth)])
        self.norm = nn.LayerNorm(embed_dim, eps=1e-6) if not use_fc_norm else nn.Identity()
        self.fc_norm = nn.LayerNorm(embed_dim, eps=1e-6) if use_fc_norm else nn.Identity()
        self.head = nn.Linear(embed_dim, num_classes)
        self.head_dist = nn.Linear(embed_dim, num_classes) if distilled else None

    def _pos_embed(self, x):
        B = x.shape[0]
        to_cat = []
        if self.cls_token is not None:
            to_cat.append(self.cls_token.expand(B, -1, -1))
        if self.dist_token is not None:
            to_cat.append(self.dist_token.expand(B, -1, -1))
        if self.reg_token is not None:
            to_cat.append(self.reg_token.expand(B, -1, -1))
        if self.no_embed_class:
            # position embedding covers the patches only; prefix tokens are added after
            x = x + self.pos_embed
            return torch.cat(to_cat + [x], dim=1) if to_cat else x
        if to_cat:
            x = torch.cat(to_cat + [x], dim=1)
        return x + self.pos_embed

    def forward(self, x):
        x = self.patch_embed(x)
        x = self._pos_embed(x)
        x = self.blocks(x)
        x = self.norm(x)
        if self.distilled:  # VisionTransformerDistilled.forward_head, eval mode
            return (self.head(x[:, 0]) + self.head_dist(x[:, 1])) / 2
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        else:
            x = x[:, 0]
        return self.head(self.fc_norm(x))


# ---- weights and files ---------------------------------------------------------------------

def randomise(model, gen):
    """O(1) activations: Linear/Conv weights ~ N(0, 1/fan_in), biases ~ N(0, 0.1),
    LayerNorm weight ~ 1 + N(0, 0.1), tokens and positions ~ N(0, 0.5), gamma ~ U(0.2, 0.8)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.2 + 0.6 * torch.rand(p.shape, generator=gen))
            elif "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
            elif p.dim() >= 2 and not name.endswith("token") and name != "pos_embed":
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


def tensor_bytes(t, dtype):
    t = t.detach().contiguous()
    if dtype == "F32":
        return t.float().numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.half().numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        # bfloat16 is the top half of float32; torch rounds to nearest even when converting.
        bits = t.to(torch.bfloat16).float().numpy().astype("<f4").view("<u4") >> 16
        return bits.astype("<u2").tobytes()
    raise ValueError(dtype)


def write_safetensors(path, tensors, dtype):
    """safetensors: u64 LE header length, JSON header (name -> dtype, shape, data_offsets
    relative to the data), padded with spaces to 8 bytes, then the raw little-endian data.
    Larger element types first so every tensor stays aligned to its element size."""
    size = {"F32": 4, "F16": 2, "BF16": 2}
    items = sorted(tensors.items(), key=lambda kv: kv[0])
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in items:
        data = tensor_bytes(t, dtype)
        assert len(data) == t.numel() * size[dtype]
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def round_weights(model, dtype):
    """Rounds every parameter to the stored precision, so the expected logits are what the
    file actually holds."""
    if dtype == "F32":
        return
    target = torch.float16 if dtype == "F16" else torch.bfloat16
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.to(target).float())


# ---- the fixtures ---------------------------------------------------------------------------

IMAGENET = {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
HALF = {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}

# name: (architecture, model args, pretrained_cfg extras, weight dtype, label names?)
# Sizes are chosen for the 300 KB budget: a block holds (4 + 2 * mlp_ratio) * E^2 weights, so
# most fixtures use the smallest width (24) and mlp_ratio 0.5.
FIXTURES = {
    # (a) class token, token pool, qkv bias, square, RGB (ViT as timm's vit_* defaults)
    "vit_cls_token": ("vit_tiny_patch4_16", dict(
        img_size=16, patch_size=4, in_chans=3, num_classes=10, global_pool="token", embed_dim=24, depth=2,
        num_heads=2, mlp_ratio=0.5, qkv_bias=True), dict(interpolation="bicubic", crop_pct=0.9, **IMAGENET),
        "F32", True),
    # (b) no class token, average pool, fc_norm after pooling, no qkv bias; and (f): one input
    # channel, non-square 24 x 40 image, patch 8, squash crop (merged to stay in the size budget)
    "vit_gray_avg_24x40": ("vit_small_patch8_gray_avg", dict(
        img_size=[24, 40], patch_size=8, in_chans=1, num_classes=7, global_pool="avg", embed_dim=24, depth=2,
        num_heads=3, mlp_ratio=1.0, qkv_bias=False, class_token=False, fc_norm=True),
        dict(interpolation="bilinear", crop_pct=1.0, crop_mode="squash", **HALF), "F32", True),
    # (c) class token + 4 register tokens, no_embed_class (DINOv2 / reg4 style)
    "vit_reg4": ("vit_small_patch4_reg4_16", dict(
        img_size=16, patch_size=4, in_chans=3, num_classes=6, global_pool="token", embed_dim=24, depth=2,
        num_heads=4, mlp_ratio=0.5, qkv_bias=True, reg_tokens=4, no_embed_class=True),
        dict(interpolation="bicubic", crop_pct=1.0, **IMAGENET), "F32", False),
    # (d) DeiT III: layer scale, no_embed_class
    "deit3_layer_scale": ("deit3_small_patch4_16", dict(
        img_size=16, patch_size=4, in_chans=3, num_classes=8, global_pool="token", embed_dim=24, depth=3,
        num_heads=2, mlp_ratio=0.5, qkv_bias=True, init_values=1e-6, no_embed_class=True),
        dict(interpolation="bicubic", crop_pct=1.0, crop_mode="center", **IMAGENET), "F32", True),
    # (e) DeiT distilled: class + distillation tokens, head_dist
    "deit_distilled": ("deit_tiny_distilled_patch4_16", dict(
        img_size=16, patch_size=4, in_chans=3, num_classes=9, global_pool="token", embed_dim=24, depth=2,
        num_heads=4, mlp_ratio=0.5, qkv_bias=True), dict(interpolation="bicubic", crop_pct=0.875, **IMAGENET),
        "F32", False),
    # (g) reduced-precision weights in the file; the widest model, and the largest image
    "vit_f16": ("vit_tiny_patch4_16", dict(
        img_size=16, patch_size=4, in_chans=3, num_classes=10, global_pool="token", embed_dim=32, depth=2,
        num_heads=4, mlp_ratio=0.5, qkv_bias=True), dict(interpolation="bicubic", crop_pct=0.9, **IMAGENET),
        "F16", False),
    # ... and timm's reg4_gap layout: registers, no class token, avg pool with norm *before*
    # pooling (fc_norm False)
    "vit_bf16_reg4_gap": ("vit_small_patch4_reg4_gap_16", dict(
        img_size=16, patch_size=4, in_chans=3, num_classes=5, global_pool="avg", embed_dim=24, depth=2,
        num_heads=2, mlp_ratio=0.5, qkv_bias=True, reg_tokens=4, no_embed_class=True, class_token=False,
        fc_norm=False), dict(interpolation="bicubic", crop_pct=0.95, **IMAGENET), "BF16", False),
}

LABELS = ["tench", "goldfish", "great white shark", "tiger shark", "hammerhead", "electric ray", "stingray",
          "cock", "hen", "ostrich"]


def build(name, args):
    kw = dict(args)
    distilled = "distilled" in name
    img = kw.pop("img_size")
    img = tuple(img) if isinstance(img, list) else (img, img)
    return VisionTransformer(img_size=img, distilled=distilled, **kw), img


def make_fixture(index, name, arch, args, pcfg, dtype, labels):
    torch.manual_seed(1000 + index)
    gen = torch.Generator().manual_seed(1000 + index)
    model, img = build(name, args)
    model.eval()
    randomise(model, gen)
    round_weights(model, dtype)
    x = torch.randn((BATCH, args["in_chans"], img[0], img[1]), generator=gen)
    with torch.no_grad():
        logits = model(x)
        ref64 = model.double()(x.double())
    model.float()
    err64 = (logits.double() - ref64).abs().max().item()
    scale = ref64.abs().max().item()
    assert err64 < 1e-4 * max(1.0, scale), (name, err64)
    assert 0.1 < scale < 100, (name, scale)  # non-degenerate logits

    d = os.path.join(OUT, name)
    os.makedirs(d)
    state = {k: v for k, v in model.state_dict().items()}
    write_safetensors(os.path.join(d, "model.safetensors"), state, dtype)
    x.numpy().astype("<f4").tofile(os.path.join(d, "input.bin"))
    logits.numpy().astype("<f4").tofile(os.path.join(d, "expected_logits.bin"))

    num_classes = args["num_classes"]
    pretrained = {
        "tag": "fovea_fixture",
        "input_size": [args["in_chans"], img[0], img[1]],
        "interpolation": pcfg["interpolation"],
        "crop_pct": pcfg["crop_pct"],
        "crop_mode": pcfg.get("crop_mode", "center"),
        "mean": pcfg["mean"],
        "std": pcfg["std"],
        "num_classes": num_classes,
        "pool_size": None,
        "first_conv": "patch_embed.proj",
        "classifier": ["head", "head_dist"] if "distilled" in name else "head",
    }
    model_args = dict(args)
    config = {
        "architecture": arch,
        "num_classes": num_classes,
        "num_features": args["embed_dim"],
        "global_pool": args["global_pool"],
        "pretrained_cfg": pretrained,
        "model_args": model_args,
    }
    if labels:
        config["label_names"] = (LABELS + ["class %d" % i for i in range(len(LABELS), num_classes)])[:num_classes]
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    meta = {
        "input": {"file": "input.bin", "dtype": "float32", "shape": list(x.shape)},
        "expected_logits": {"file": "expected_logits.bin", "dtype": "float32", "shape": list(logits.shape)},
        "weights_dtype": dtype,
        "tensor_count": len(state),
        "num_prefix_tokens": model.num_prefix_tokens,
        "num_patches": model.patch_embed.num_patches,
        "max_abs_logit": scale,
        "float32_vs_float64_max_abs_diff": err64,
        "seed": 1000 + index,
    }
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    size = sum(os.path.getsize(os.path.join(d, f)) for f in os.listdir(d))
    print("%-20s %-5s %3d tensors, prefix %d, patches %2d, |logit| <= %6.3f, fp32 vs fp64 %.1e, %6d bytes" % (
        name, dtype, len(state), model.num_prefix_tokens, model.patch_embed.num_patches, scale, err64, size))
    return size


def main():
    torch.set_num_threads(1)
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    total = 0
    for i, (name, (arch, args, pcfg, dtype, labels)) in enumerate(FIXTURES.items()):
        total += make_fixture(i, name, arch, args, pcfg, dtype, labels)
    print("total %d bytes in %s" % (total, OUT))
    if total > 300 * 1024:
        sys.exit("fixtures exceed 300 KB")


if __name__ == "__main__":
    main()
