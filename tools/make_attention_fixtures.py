#!/usr/bin/python3
"""make_attention_fixtures.py: expected attention diagnostics for tests/test_attention_probe.c.

Writes tests/fixtures/attention/:
  model/config.json, model/model.safetensors
      a small random-weight timm-layout ViT (tools/train_vit.py's VisionTransformer and
      safetensors writer): 20x20 gray input, patch 2 (10x10 grid + class token = 101 tokens,
      so the "top 1 %" share sums ceil(101/100) = 2 weights), embed 21, 3 heads (head dim 7),
      depth 3. Weights are scaled so attention is far from uniform (timm's std-0.02 init
      would make every statistic trivial).
  input.png     20x20 gray image the test feeds through the model's preprocessing
  expected.json per layer: the engine's per-row statistics [H, T, 6] (entropy, mean distance
                in patch units, top-1 % share, max weight, per-head ADL cosine, zeroed flag),
                class-token rows [H, T], mean rows [H, T], the ADL diversity (heads averaged
                first), its zeroed fraction, the per-head diversities; the rollout's class row
                over the patches; and an op-level case (random qkv, 2 prefix tokens, a 3x5 grid).
  expected_M.bin float32 little-endian [depth, T, T]: the head-mean attention per layer.

Everything is computed in float64 from PyTorch's attention maps with plain numpy, independently
of the C code: the formulas are docs/attention.md's and shared/design/methods/tap_adl.md 4/7's.
Run: /usr/bin/python3 tools/make_attention_fixtures.py
"""

import json
import math
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train_vit  # noqa: E402  (model classes and the safetensors writer)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "attention")
IMG, PATCH, EMBED, HEADS, DEPTH, MEAN, STD, TH = 20, 2, 21, 3, 3, 0.3, 0.35, 2.0


def row_stats(A, P, gw, abar=None, th=TH):
    """A [T, T] one head's attention (rows = queries) -> [T, 6]."""
    T = A.shape[0]
    k = -(-T // 100)
    out = np.zeros((T, 6))
    pos = [None] * P + [((j - P) // gw, (j - P) % gw) for j in range(P, T)]
    tau = th / T
    for i in range(T):
        a = A[i]
        nz = a[a > 0]
        out[i, 0] = -(nz * np.log(nz)).sum()
        if i < P:
            out[i, 1] = -1.0
        else:
            d = np.array([math.hypot(pos[j][0] - pos[i][0], pos[j][1] - pos[i][1]) for j in range(P, T)])
            w = a[P:]
            out[i, 1] = (w * d).sum() / w.sum()
        out[i, 2] = np.sort(a)[::-1][:k].sum()
        out[i, 3] = a.max()
        if abar is not None:
            mt = np.where(a > tau, a, 0.0)
            at = np.where(abar > tau, abar, 0.0)
            out[i, 4] = (mt * at).sum() / (max(np.linalg.norm(mt), 1e-8) * max(np.linalg.norm(at), 1e-8))
            out[i, 5] = 1.0 if not (a > tau).any() else 0.0
    return out


def diversity(M, th=TH):
    """tap_adl.md 4/7 for one [T, T] matrix: (1 - mean_i cos, zeroed fraction)."""
    T = M.shape[0]
    tau = th / T
    abar = M.mean(axis=0)
    at = np.where(abar > tau, abar, 0.0)
    mt = np.where(M > tau, M, 0.0)
    cos = (mt @ at) / (np.maximum(np.linalg.norm(mt, axis=1), 1e-8) * max(np.linalg.norm(at), 1e-8))
    return 1.0 - cos.mean(), float((~(M > tau).any(axis=1)).mean())


def rollout(Ms):
    T = Ms[0].shape[0]
    R = np.eye(T)
    for M in Ms:
        hat = 0.5 * M + 0.5 * np.eye(T)
        hat = hat / hat.sum(axis=1, keepdims=True)
        R = hat @ R
    return R


def softmax_rows(s):
    s = s - s.max(axis=-1, keepdims=True)
    e = np.exp(s)
    return e / e.sum(axis=-1, keepdims=True)


def op_case():
    """Random qkv, B = 1, T = 17 = 2 prefix + 3x5 grid, H = 2, D = 5, scale 0.9."""
    rng = np.random.default_rng(7)
    B, P, gh, gw, H, D, scale = 1, 2, 3, 5, 2, 5, 0.9
    T = P + gh * gw
    qkv = rng.uniform(-1.5, 1.5, size=(B, T, 3 * H * D)).astype(np.float32)
    x = qkv.astype(np.float64).reshape(B, T, 3, H, D)
    q, k = x[0, :, 0], x[0, :, 1]  # [T, H, D]
    A = np.stack([softmax_rows(scale * q[:, h] @ k[:, h].T) for h in range(H)])  # [H, T, T]
    abar = A.mean(axis=1)
    stats = np.stack([row_stats(A[h], P, gw, abar[h]) for h in range(H)])
    return {"B": B, "P": P, "grid_h": gh, "grid_w": gw, "H": H, "D": D, "scale": scale, "threshold": TH,
            "qkv": qkv.reshape(-1).tolist(), "stats": stats.reshape(-1).tolist(),
            "M": A.mean(axis=0).reshape(-1).tolist(), "mean_rows": abar.reshape(-1).tolist(),
            "cls_rows": A[:, 1, :].reshape(-1).tolist()}


def main():
    torch.manual_seed(11)
    model = train_vit.VisionTransformer(img_size=IMG, patch_size=PATCH, in_chans=1, num_classes=10,
                                        embed_dim=EMBED, depth=DEPTH, num_heads=HEADS, mlp_ratio=2.0)
    with torch.no_grad():
        model.pos_embed.normal_(0, 0.5)
        model.cls_token.normal_(0, 0.5)
        for blk in model.blocks:
            blk.attn.qkv.weight.normal_(0, 0.45)
            blk.attn.qkv.bias.normal_(0, 0.1)
            blk.attn.proj.weight.normal_(0, 0.2)
            blk.mlp.fc1.weight.normal_(0, 0.2)
            blk.mlp.fc2.weight.normal_(0, 0.2)
        model.head.weight.normal_(0, 0.3)
    model.eval()
    os.makedirs(os.path.join(OUT, "model"), exist_ok=True)
    train_vit.save_safetensors(model.state_dict(), os.path.join(OUT, "model", "model.safetensors"))
    config = {
        "architecture": "vit_attention_fixture",
        "num_classes": 10,
        "num_features": EMBED,
        "global_pool": "token",
        "pretrained_cfg": {"input_size": [1, IMG, IMG], "interpolation": "bilinear", "crop_pct": 1.0,
                           "crop_mode": "center", "mean": [MEAN], "std": [STD], "num_classes": 10},
        "model_args": {"img_size": IMG, "patch_size": PATCH, "in_chans": 1, "embed_dim": EMBED,
                       "depth": DEPTH, "num_heads": HEADS, "mlp_ratio": 2.0, "qkv_bias": True,
                       "class_token": True, "global_pool": "token"},
    }
    with open(os.path.join(OUT, "model", "config.json"), "w") as f:
        json.dump(config, f, indent=1)

    # A blob and a bar on a dark background: structure the attention can follow.
    yy, xx = np.mgrid[0:IMG, 0:IMG]
    img = 200 * np.exp(-((yy - 6.5) ** 2 + (xx - 12.0) ** 2) / 12.0) + 40 * (np.abs(xx - 5) < 2)
    img = np.clip(np.rint(img + 10), 0, 255).astype(np.uint8)
    Image.fromarray(img, mode="L").save(os.path.join(OUT, "input.png"))

    model.double()
    for blk in model.blocks:
        blk.attn.keep_attn = True
    x = (torch.from_numpy(img.astype(np.float64)) / 255.0 - MEAN) / STD
    with torch.no_grad():
        logits = model(x.reshape(1, 1, IMG, IMG))
    P, gw = 1, IMG // PATCH
    layers, Ms = [], []
    for blk in model.blocks:
        A = blk.attn.last_attn[0].numpy()  # [H, T, T]
        M = A.mean(axis=0)
        abar = A.mean(axis=1)
        stats = np.stack([row_stats(A[h], P, gw, abar[h]) for h in range(HEADS)])
        div, zeroed = diversity(M)
        head = [diversity(A[h]) for h in range(HEADS)]
        layers.append({"stats": stats.reshape(-1).tolist(), "cls_rows": A[:, 0, :].reshape(-1).tolist(),
                       "mean_rows": abar.reshape(-1).tolist(), "diversity": div, "zeroed": zeroed,
                       "head_diversity": [d for d, _ in head], "head_zeroed": [z for _, z in head]})
        Ms.append(M)
    # The training loss (train_vit.adl_loss, tap_adl.md 4) is the same statistic: mean cos over layers.
    attns = [blk.attn.last_attn for blk in model.blocks]
    loss = float(train_vit.adl_loss(attns, threshold=TH)) * (len(attns) + 1e-6) / len(attns)
    assert abs(loss - np.mean([1.0 - l["diversity"] for l in layers])) < 1e-9, loss
    R = rollout(Ms)
    T = Ms[0].shape[0]
    np.stack(Ms).astype("<f4").tofile(os.path.join(OUT, "expected_M.bin"))
    expected = {"tokens": T, "heads": HEADS, "depth": DEPTH, "n_prefix": P, "grid": [IMG // PATCH, gw],
                "threshold": TH, "logits": logits[0].tolist(), "layers": layers,
                "rollout": R[0, P:].tolist(), "op_case": op_case()}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f)
    print("wrote", OUT, "T =", T, "diversity", [round(l["diversity"], 4) for l in layers])


if __name__ == "__main__":
    main()
