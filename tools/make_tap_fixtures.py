#!/usr/bin/python3
"""Write the TAP-ViT parity fixtures under tests/fixtures/tap/<name>/.

Each fixture is a hub-style model folder (config.json + model.safetensors)
built from tools/train_vit.py's own model classes (the TAP block there is
the reference: shared/design/methods/tap_adl.md sections 2, 3 and 5), with
random but non-trivial weights, BatchNorm running statistics included, plus

    input.bin             float32 [B, 1, H, W]   normalised inputs
    expected_logits.bin   float32 [B, 10]        PyTorch's logits (eval mode)
    scales_block<i>.bin   float32 [B, gh, gw, K] TAP scale weights of block i
                                                 (TAP blocks only)
    meta.json             what the fixture covers

Fixtures:
    tap_7x7          28x28 gray, patch 4 (7x7 grid), E 32, depth 2, 2 heads,
                     K = 4, temperature 1: the trainer's own configuration.
    tap_7x5_mixed    28x20 gray (7x5 grid, non-square), depth 3 with block 1
                     a plain ViT block (per-block detection), K = 3,
                     temperature 0.7.

Run:  /usr/bin/python3 tools/make_tap_fixtures.py
Deterministic (fixed seeds); needs only torch and numpy.
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import train_vit as tv  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "tests", "fixtures", "tap")


def randomise(model, gen):
    """Non-trivial weights everywhere: the trainer's init leaves biases at 0,
    BN at (1, 0) with running stats (0, 1), which would hide mistakes in the
    folding and in the bias paths."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm1.weight") or name.endswith("norm2.weight") \
                    or name == "norm.weight":
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif "dilation_predictor.proj.1." in name:      # BN gamma, beta
                base = 1.0 if name.endswith("weight") else 0.0
                p.copy_(base + 0.5 * torch.randn(p.shape, generator=gen))
            elif "dilation_predictor" in name:              # conv1, conv2
                fan_in = p.shape[1] * 9
                p.copy_(torch.randn(p.shape, generator=gen) * 0.8 / fan_in ** 0.5)
            else:
                p.copy_(0.3 * torch.randn(p.shape, generator=gen))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.5 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(0.3 + 2.0 * torch.rand(b.shape, generator=gen))
            elif name.endswith("num_batches_tracked"):
                b.fill_(1234)


def build(img_hw, K, temperature, depth, plain_blocks, gen):
    E, heads, patch = 32, 2, 4
    model = tv.VisionTransformer(
        img_size=28, patch_size=patch, in_chans=1, num_classes=10,
        embed_dim=E, depth=depth, num_heads=heads, mlp_ratio=4.0,
        qkv_bias=True, block_fn=tv.TAPBlock,
        block_kwargs={"num_scales": K, "temperature": temperature})
    gh, gw = img_hw[0] // patch, img_hw[1] // patch
    # A non-square grid: the trainer builds square images only, so resize the
    # positional embedding and tell each TAP block its grid here.
    model.pos_embed = nn.Parameter(torch.zeros(1, 1 + gh * gw, E))
    for i in plain_blocks:
        model.blocks[i] = tv.Block(E, heads, 4.0, True)
    for blk in model.blocks:
        if isinstance(blk, tv.TAPBlock):
            blk.tap.grid = (gh, gw)
            blk.tap.num_prefix = 1
    randomise(model, gen)
    return model.eval()


def config(img_hw, K, temperature, depth):
    return {
        "architecture": "vit_tap_fixture",
        "num_classes": 10,
        "num_features": 32,
        "global_pool": "token",
        "pretrained_cfg": {
            "input_size": [1, img_hw[0], img_hw[1]],
            "interpolation": "bilinear",
            "crop_pct": 1.0,
            "crop_mode": "center",
            "mean": [0.5],
            "std": [0.25],
            "num_classes": 10,
        },
        "model_args": {
            "img_size": list(img_hw),
            "patch_size": 4,
            "in_chans": 1,
            "embed_dim": 32,
            "depth": depth,
            "num_heads": 2,
            "mlp_ratio": 4.0,
            "qkv_bias": True,
            "class_token": True,
            "global_pool": "token",
        },
        "tap": {"num_scales": K, "temperature": temperature},
    }


def write(name, img_hw, K, temperature, depth, plain_blocks, seed):
    gen = torch.Generator().manual_seed(seed)
    model = build(img_hw, K, temperature, depth, plain_blocks, gen)
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    tv.save_safetensors(model.state_dict(), os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config(img_hw, K, temperature, depth), f, indent=2)
        f.write("\n")
    B = 3
    x = torch.randn(B, 1, img_hw[0], img_hw[1], generator=gen)
    with torch.no_grad():
        logits = model(x)
    x.numpy().astype("<f4").tofile(os.path.join(d, "input.bin"))
    logits.numpy().astype("<f4").tofile(os.path.join(d, "expected_logits.bin"))
    spread = []
    for i, blk in enumerate(model.blocks):
        if isinstance(blk, tv.TAPBlock):
            s = blk.tap.last_scales.contiguous()
            s.numpy().astype("<f4").tofile(os.path.join(d, "scales_block%d.bin" % i))
            spread.append(float(s.max(dim=-1).values.mean()))
    meta = {"blocks_with_tap": [i for i, b in enumerate(model.blocks)
                                if isinstance(b, tv.TAPBlock)],
            "grid": [img_hw[0] // 4, img_hw[1] // 4], "num_scales": K,
            "temperature": temperature, "batch": B, "seed": seed,
            "max_abs_logit": float(logits.abs().max()),
            "mean_top_scale_weight": spread,
            "torch": torch.__version__}
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(name, json.dumps(meta))


def main():
    torch.set_num_threads(1)
    write("tap_7x7", (28, 28), 4, 1.0, 2, [], seed=1)
    write("tap_7x5_mixed", (28, 20), 3, 0.7, 3, [1], seed=2)


if __name__ == "__main__":
    main()
