#!/usr/bin/env python3
"""Fill semground's feature cache with VGG16 pool5 maps computed by PyTorch on the CPU.

An optional accelerator for large training sets: PyTorch's CPU convolutions are several
times faster than burn's CPU backend, and tests/parity.rs shows both give the same maps (to a
relative 1e-5) from the same weights. The entries are byte-for-byte in semground's cache
format (`CACHE/vgg16-v1/ab/<sha256 of the photo file>.f16`, 512 x 7 x 7 little-endian f16),
so `semground train` and `semground eval` then find them and skip the encoder.
Photos are read with Pillow and, if not 224 x 224 already, resized bilinearly, which differs
slightly from semground's own resize: use it for photos stored at 224 x 224.

Usage: python3 tools/extract_features_torch.py --images DIR [--cache DIR] [--reverse]
Needs torch, numpy, pillow, safetensors.
"""

import argparse
import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).reshape(1, 3, 1, 1)
BLOCKS = [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]


def vgg16(state, pixels):
    x = pixels.flip(1) - BGR_MEAN
    for block, convs in BLOCKS:
        for conv in range(1, convs + 1):
            name = f"block{block}_conv{conv}"
            x = torch.relu(torch.nn.functional.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"], padding=1))
        x = torch.nn.functional.max_pool2d(x, 2, 2)
    return x


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, required=True)
    parser.add_argument("--cache", type=Path, default=Path(os.environ.get("SEMGROUND_CACHE", Path.home() / ".cache/semground/features")))
    parser.add_argument("--reverse", action="store_true", help="walk the photos in reverse name order")
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    state = {k: v.float() for k, v in load_file(str(ROOT / "weights/vgg16.safetensors")).items()}
    names = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if args.reverse:
        names.reverse()

    pending = []

    def flush():
        if not pending:
            return
        batch = torch.stack([pixels for _, pixels in pending])
        maps = vgg16(state, batch).numpy().astype(np.float16)
        for (target, _), values in zip(pending, maps):
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
            temporary.write_bytes(values.astype("<f2").tobytes())
            os.replace(temporary, target)
        pending.clear()

    done = 0
    for path in names:
        data = path.read_bytes()
        key = hashlib.sha256(data).hexdigest()
        target = args.cache / "vgg16-v1" / key[:2] / f"{key}.f16"
        if target.exists():
            continue
        image = Image.open(path).convert("RGB")
        if image.size != (224, 224):
            image = image.resize((224, 224), Image.BILINEAR)
        pending.append((target, torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)))
        if len(pending) == args.batch:
            flush()
            done += args.batch
            if done % 512 == 0:
                print(f"{done} photos encoded", flush=True)
    flush()
    print(f"done: {len(names)} photos in {args.images}")


if __name__ == "__main__":
    main()
