#!/usr/bin/python3
"""make_corrupt_fixtures.py: Pillow's pixelate, for tests/test_corrupt.c (vision/corrupt.c).

pixelate (spec 3.12) is Pillow through and through: imagecorruptions resizes down with BOX and
back up with NEAREST; the CIFAR-10-C and Tiny-ImageNet-C scripts go back up with BOX. This script
writes into tests/fixtures/corrupt/:
  * pixelate_input.png: a 37x29 RGB image (odd sizes: partial boxes, NEAREST ties);
  * pixelate_<imagenet|cifar10|tiny>_s<S>.png: Pillow's result for each table's scale at
    severity S (imagenet: int(W s), int(H s) with BOX then NEAREST; cifar10 / tiny: BOX both ways).
Run with /usr/bin/python3 (Debian's python3-pil, Pillow 9.4) from the repository root.
"""
import os

import numpy as np
from PIL import Image

OUT = os.path.join("tests", "fixtures", "corrupt")
SCALES = {
    "imagenet": (0.6, 0.5, 0.4, 0.3, 0.25),
    "cifar10": (0.95, 0.9, 0.85, 0.75, 0.65),
    "tiny": (0.9, 0.8, 0.7, 0.6, 0.5),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(7)
    h, w = 29, 37
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    base = np.stack([128 + 90 * np.sin(x / 4.0), 255 * x / (w - 1), 128 + 90 * np.cos(y / 3.0)], axis=2)
    img = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)
    im = Image.fromarray(img, "RGB")
    im.save(os.path.join(OUT, "pixelate_input.png"))
    for table, scales in SCALES.items():
        up = Image.NEAREST if table == "imagenet" else Image.BOX
        for s, c in enumerate(scales, 1):
            out = im.resize((int(w * c), int(h * c)), Image.BOX).resize((w, h), up)
            out.save(os.path.join(OUT, f"pixelate_{table}_s{s}.png"))


if __name__ == "__main__":
    main()
