#!/usr/bin/env python3
"""Times Debian's PyTorch on a timm ViT architecture with random weights: the reference run that
tests/bench/cpu_vs_torch.sh compares Fovea's CPU executor against, in the same invocation.

The model is the plain-PyTorch re-implementation of timm's VisionTransformer in
tools/make_vit_fixtures.py (timm is not installable here), so both sides run the same graph:
same shapes, exact GELU, fused-free attention as timm 0.6 writes it. Prints one JSON object."""
import argparse
import json
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from make_vit_fixtures import VisionTransformer  # noqa: E402

SIZES = {"tiny": (192, 12, 3), "small": (384, 12, 6), "base": (768, 12, 12), "large": (1024, 24, 16)}


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--arch", default="vit_base_patch16_224")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--iters", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    m = re.fullmatch(r"vit_(tiny|small|base|large)_patch(\d+)_(\d+)", a.arch.split(".")[0])
    if not m:
        sys.exit(f"torch_vit.py: unsupported architecture {a.arch!r}; expected vit_SIZE_patchP_IMG")
    dim, depth, heads = SIZES[m.group(1)]
    patch, img = int(m.group(2)), int(m.group(3))
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = VisionTransformer(img_size=(img, img), patch_size=patch, in_chans=3, num_classes=1000,
                              global_pool="token", embed_dim=dim, depth=depth, num_heads=heads, mlp_ratio=4.0,
                              qkv_bias=True).eval()
    x = torch.randn(a.batch, 3, img, img)
    with torch.no_grad():
        model(x)  # warm-up
        t0 = time.perf_counter()
        for _ in range(a.iters):
            model(x)
        sec = (time.perf_counter() - t0) / a.iters
    print(json.dumps({"arch": a.arch, "engine": f"torch {torch.__version__}", "threads": a.threads,
                      "batch": a.batch, "iters": a.iters, "latency_ms_per_batch": sec * 1e3,
                      "latency_ms_per_image": sec * 1e3 / a.batch}))


if __name__ == "__main__":
    main()
