#!/usr/bin/env python3
"""Pillow BILINEAR resize fixtures for vlm4j's resampler (java/src/test/resources/image/bilinear/).

Requirements: Python 3 with numpy and Pillow (checked with Pillow 12.3.0); run in a venv:
    python models/scripts/make_resample_fixtures.py
CI never runs this; the test (ImageBilinearTest) compares vlm4j's 8-bit output with the committed arrays byte for byte.

What is recorded:
  - two RGB PNGs (227x151 and 40x57: smooth gradients plus noise, so every tap of the filter matters);
  - squash resizes with Image.BILINEAR to sizes that shrink, stretch and mix both (odd sizes included), [h, w, 3] uint8;
  - PubMedCLIP's evaluation transform (sarahESL/PubMedCLIP, spec 06 §6.3: torchvision Resize(256) on a PIL image,
    i.e. shortest side 256 with the long side int(256 * long / short), BILINEAR; then CenterCrop(224) with
    torchvision's offsets round((h - 224) / 2)), the 8-bit crop [224, 224, 3] before ToTensor/Normalize.
"""
import json
import pathlib

import numpy as np
import PIL
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parents[2] / "java/src/test/resources/image/bilinear"


def image(h, w, seed):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([127 + 100 * np.sin(x / 7.0 + c) * np.cos(y / 11.0 - c) for c in range(3)], axis=-1)
    noise = rng.normal(0, 30, size=(h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def pubmedclip_eval(img):
    w, h = img.size
    short, long_ = min(w, h), max(w, h)
    new_long = int(256 * long_ / short)
    size = (256, new_long) if w <= h else (new_long, 256)
    r = img.resize(size, Image.BILINEAR)
    rw, rh = r.size
    top, left = int(round((rh - 224) / 2.0)), int(round((rw - 224) / 2.0))
    return np.asarray(r)[top:top + 224, left:left + 224]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    for name, (h, w, seed) in {"a": (151, 227, 1), "b": (57, 40, 2)}.items():
        arr = image(h, w, seed)
        Image.fromarray(arr, "RGB").save(OUT / f"{name}.png")
        img = Image.open(OUT / f"{name}.png").convert("RGB")
        assert np.array_equal(np.asarray(img), arr)
        sizes = [(64, 97), (200, 290), (151, 120), (23, 227)] if name == "a" else [(200, 13), (57, 101), (31, 17)]
        for (oh, ow) in sizes:
            out = np.asarray(img.resize((ow, oh), Image.BILINEAR))
            np.save(OUT / f"{name}_{oh}x{ow}.npy", out)
            cases.append({"image": f"{name}.png", "height": oh, "width": ow, "expected": f"{name}_{oh}x{ow}.npy"})
        np.save(OUT / f"{name}_pubmedclip.npy", pubmedclip_eval(img))
    (OUT / "cases.json").write_text(json.dumps({"pillow": PIL.__version__, "squash": cases,
                                                 "pubmedclip": ["a", "b"]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
