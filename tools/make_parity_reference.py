#!/usr/bin/env python3
"""Produce the reference outputs that tests/parity.rs compares semground's encoders against.

Runs independent PyTorch implementations on the same f16 weights that semground loads
(weights/*.safetensors, widened to f32), so differences measure the implementations, not
the weight precision:
  - VGG16 conv base: torch.nn layers built here from the Keras architecture;
  - EfficientNet-Lite0: the `efficientnet-lite-pytorch==0.1.0` package's own model class;
  - all-MiniLM-L6-v2: Hugging Face `transformers.BertModel` and the `tokenizers` library.

Writes tests/data/parity/photo-224.png (input), reference.safetensors and phrases.json.
Usage: python3 tools/make_parity_reference.py   (needs torch, transformers,
efficientnet-lite-pytorch, safetensors, pillow, numpy)
"""

import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.numpy import save_file
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
OUT = ROOT / "tests" / "data" / "parity"
SOURCE_PHOTO = ROOT.parent / "shared" / "data" / "photos" / "astronaut.jpg"

PHRASES = [
    "a woman in a white space suit",
    "the flag",
    "Crème Brûlée on a TABLE!",
    "two dogs 🐕 running   on the beach",
    "a",
    # Longer than the 256-token limit, to check truncation.
    " ".join(["the small red bicycle leaning against the old stone wall"] * 30),
]
MAX_TOKENS = 256


def load_f32(name: str) -> dict:
    return {k: v.float() for k, v in load_file(str(WEIGHTS / name)).items()}


def photo_input() -> torch.Tensor:
    """Return a real photo resized to 224 x 224 once and stored, so both sides read identical pixels."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "photo-224.png"
    if not path.exists():
        Image.open(SOURCE_PHOTO).convert("RGB").resize((224, 224), Image.BILINEAR).save(path)
    rgb = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)  # [224, 224, 3]
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)  # [1, 3, 224, 224]


def vgg16_pool5(pixels: torch.Tensor) -> torch.Tensor:
    state = load_f32("vgg16.safetensors")
    mean = torch.tensor([103.939, 116.779, 123.68]).reshape(1, 3, 1, 1)
    x = pixels.flip(1) - mean  # RGB -> BGR, Caffe mean
    for block, convs in [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]:
        for conv in range(1, convs + 1):
            name = f"block{block}_conv{conv}"
            x = torch.relu(torch.nn.functional.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"], padding=1))
        x = torch.nn.functional.max_pool2d(x, 2, 2)
    return x


def efficientnet_map(pixels: torch.Tensor) -> torch.Tensor:
    from efficientnet_lite_pytorch import EfficientNet

    model = EfficientNet.from_name("efficientnet-lite0")
    state = load_f32("efficientnet_lite0.safetensors")
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all(name.startswith("_fc.") for name in missing), missing
    model.eval()
    return model.extract_features((pixels - 127.0) / 128.0)


def minilm(phrases):
    from tokenizers import Tokenizer
    from transformers import BertConfig, BertModel

    tokenizer = Tokenizer.from_file(str(WEIGHTS / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(MAX_TOKENS)
    encodings = [tokenizer.encode(p) for p in phrases]
    ids = [e.ids for e in encodings]

    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                        intermediate_size=1536, max_position_embeddings=512, layer_norm_eps=1e-12,
                        hidden_act="gelu", attn_implementation="eager")
    model = BertModel(config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(load_f32("minilm_l6.safetensors"), strict=False)
    assert not unexpected and all("position_ids" in m for m in missing), (missing, unexpected)
    model.eval()

    length = max(len(i) for i in ids)
    input_ids = torch.zeros(len(ids), length, dtype=torch.long)
    mask = torch.zeros(len(ids), length)
    for row, sequence in enumerate(ids):
        input_ids[row, : len(sequence)] = torch.tensor(sequence)
        mask[row, : len(sequence)] = 1
    hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state
    pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
    return torch.nn.functional.normalize(pooled, dim=1), ids


def main() -> None:
    torch.set_grad_enabled(False)
    pixels = photo_input()
    embeddings, ids = minilm(PHRASES)
    tensors = {
        "vgg16_pool5": vgg16_pool5(pixels).numpy(),
        "efficientnet_lite0": efficientnet_map(pixels).numpy(),
        "minilm_embeddings": embeddings.numpy(),
    }
    save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
              str(OUT / "reference.safetensors"))
    (OUT / "phrases.json").write_text(json.dumps({"phrases": PHRASES, "token_ids": ids}, ensure_ascii=False, indent=1) + "\n")
    for name, value in tensors.items():
        print(f"{name}: shape {list(value.shape)}, mean {value.mean():.6f}, max {value.max():.6f}")


if __name__ == "__main__":
    main()
