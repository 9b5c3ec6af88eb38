#!/usr/bin/env python3
"""Writes tests/fixtures/cli/: for every model fixture in tests/fixtures/vit/, one image and the
logits PyTorch gives for it through timm's whole evaluation path (PIL decode -> torchvision's
eval transform -> the model), so test_cli.sh can check `fovea classify --json --logits` end to
end, for every ViT variant, on the Vulkan device and on the CPU executor.

Each image is sized floor(H / crop_pct) x floor(W / crop_pct): torchvision's Resize is then the
identity and the crop exact, so the expected logits hold Fovea to 1e-3 on the model alone
(resampling parity, which is within one 8-bit level, has its own test). The model weights are
read back from each fixture's model.safetensors (F16/BF16 widened), not regenerated.

Run with Debian's python3 from the repository root: /usr/bin/python3 tools/make_cli_fixtures.py"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_preprocess_fixtures import eval_transform  # noqa: E402
from make_vit_fixtures import FIXTURES, build  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
VIT = os.path.join(ROOT, "tests", "fixtures", "vit")
OUT = os.path.join(ROOT, "tests", "fixtures", "cli")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = np.frombuffer(data[a:b], dtype=np.uint16 if info["dtype"] in ("F16", "BF16") else "<f4")
        if info["dtype"] == "F16":
            arr = raw.view("<f2").astype(np.float32)
        elif info["dtype"] == "BF16":
            arr = (raw.astype(np.uint32) << 16).view(np.float32)
        else:
            arr = raw.astype(np.float32)
        tensors[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return tensors


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    for name, (_, args, _, _, _) in sorted(FIXTURES.items()):
        cfg = json.load(open(os.path.join(VIT, name, "config.json")))
        pc = cfg["pretrained_cfg"]
        channels, h, w = pc["input_size"]
        crop_pct = pc.get("crop_pct", 0.9)
        sh, sw = math.floor(h / crop_pct), math.floor(w / crop_pct)
        model, _ = build(name, args)
        model.load_state_dict(read_safetensors(os.path.join(VIT, name, "model.safetensors")))
        model.eval()
        # A smooth gradient plus noise: every pixel value differs, nothing saturates.
        yy, xx = np.mgrid[0:sh, 0:sw]
        base = 40 + 150 * (yy / max(sh - 1, 1)) * 0.5 + 150 * (xx / max(sw - 1, 1)) * 0.5
        pixels = np.stack([base + 30 * c for c in range(3)], axis=-1) + rng.normal(0, 12, (sh, sw, 3))
        image = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
        if channels == 1:
            image = image.convert("L")
        png = os.path.join(OUT, f"{name}.png")
        image.save(png)
        # What timm's pipeline does with that file: decode, convert, transform, forward.
        loaded = Image.open(png).convert("L" if channels == 1 else "RGB")
        x = eval_transform((h, w), crop_pct, pc.get("interpolation", "bicubic"), pc.get("crop_mode", "center"),
                           pc["mean"][:channels], pc["std"][:channels])(loaded)
        with torch.no_grad():
            logits = model(x[None]).float().numpy()[0]
        logits.astype("<f4").tofile(os.path.join(OUT, f"{name}.logits"))
        print(f"{name}: {sw}x{sh} image, {logits.size} logits")


if __name__ == "__main__":
    main()
