#!/usr/bin/python3
"""make_jpeg_fixtures.py: Pillow's JPEG round trips, for tests/test_corrupt_host.c (vision/jpeg.c).

jpeg_compression (spec 3.13) is Image.save(buf, 'JPEG', quality=q) followed by Image.open(buf)
with Pillow's defaults. This script builds two small synthetic images (odd sizes, so partial
8x8 and 16x16 blocks and the 4:2:0 edge handling are exercised), one RGB and one gray, and
writes into tests/fixtures/jpeg/:
  * input_rgb.png, input_gray.png: the inputs (lossless);
  * rt_<rgb|gray>_q<Q>.png: the decoded pixels of Pillow's round trip at quality Q;
  * save_<rgb|gray>_q85_opt.jpg: Pillow's file for save(quality=85, optimize=True), which
    fv_jpeg_save is compared with after decoding (the headers may differ in the JFIF density).
Pillow on Debian links the same libjpeg-turbo as Fovea, so the C side should match exactly.
Run with /usr/bin/python3 (Debian's python3-pil) from the repository root.
"""
import io
import os

import numpy as np
from PIL import Image

OUT = os.path.join("tests", "fixtures", "jpeg")
QUALITIES = (25, 7, 85)


def synthetic(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 5.0) * np.cos(y / 7.0)
    g = 255 * x / (w - 1)
    b = np.where((x - w / 2) ** 2 + (y - h / 2) ** 2 < (min(h, w) / 3) ** 2, 220.0, 40.0)
    img = np.stack([r, g, b], axis=-1) + rng.normal(0, 12, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def roundtrip(im, q):
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=q)
    buf.seek(0)
    return Image.open(buf).convert(im.mode)


def main():
    os.makedirs(OUT, exist_ok=True)
    rgb = Image.fromarray(synthetic(29, 45, 1), "RGB")
    gray = Image.fromarray(synthetic(23, 37, 2)[:, :, 1], "L")
    for name, im in (("rgb", rgb), ("gray", gray)):
        im.save(os.path.join(OUT, f"input_{name}.png"))
        for q in QUALITIES:
            roundtrip(im, q).save(os.path.join(OUT, f"rt_{name}_q{q}.png"))
        im.save(os.path.join(OUT, f"save_{name}_q85_opt.jpg"), "JPEG", quality=85, optimize=True)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
