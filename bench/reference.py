#!/usr/bin/env python3
"""PyTorch CPU reference of semground's model, for parity checks and benchmarks.

Builds the same networks from the same `weights/` files (f16 widened to f32):
  - VGG16 conv base (pool5, Caffe BGR input) from torch.nn.functional layers;
  - EfficientNet-Lite0 from the `efficientnet-lite-pytorch==0.1.0` model class;
  - all-MiniLM-L6-v2 from `transformers.BertModel` with the `tokenizers` tokenizer, masked
    mean pooling and L2 normalisation;
  - the head's attention from `weights/head-<encoder>.safetensors`: batch norms in
    inference mode, the 1x1 stack as matrix products, ReLU, softmax over the 49 regions;
  - for training, the whole head (attention with batch statistics, the two-branch concept
    decoder, the loss `both`) and torch.optim.Adam with burn's defaults.

Usage:
  python3 bench/reference.py maps --encoder vgg16 --image PHOTO --phrase TEXT [--phrase ...]
      prints one JSON object: {"maps": [[49 numbers] per phrase]}
  python3 bench/reference.py train-step --dir DIR
      repeats in f64 the training step that semground wrote to DIR (tests/common/train_step.rs) and
      prints one JSON object: its loss terms and the largest difference from semground's
      head after the step
  python3 bench/reference.py time --case NAME [--runs N] [--warmup N]
      times one case of bench/compare.py and prints one JSON line:
      {"case", "seconds": [one per run], "peak_rss_mb", "detail"}
Photos are resized to 224 x 224 with Pillow's bilinear filter; semground uses its own
bilinear resize, so give photos already at 224 x 224 for exact parity.
Needs torch, transformers, tokenizers, efficientnet-lite-pytorch, safetensors, pillow, numpy.
"""

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parent.parent
WEIGHTS = ROOT / "weights"
MAX_TOKENS = 256
VGG_BLOCKS = [(1, 2), (2, 2), (3, 3), (4, 3), (5, 3)]
BGR_MEAN = torch.tensor([103.939, 116.779, 123.68]).reshape(1, 3, 1, 1)


def load_f32(name):
    return {key: value.float() for key, value in load_file(str(WEIGHTS / name)).items()}


class Vgg16(torch.nn.Module):
    """VGG16 conv base up to pool5: [batch, 3, 224, 224] RGB 0-255 -> [batch, 512, 7, 7]."""

    def __init__(self):
        super().__init__()
        self.state = load_f32("vgg16.safetensors")

    def forward(self, pixels):
        x = pixels.flip(1) - BGR_MEAN
        for block, convs in VGG_BLOCKS:
            for conv in range(1, convs + 1):
                name = f"block{block}_conv{conv}"
                x = torch.relu(torch.nn.functional.conv2d(
                    x, self.state[f"{name}.weight"], self.state[f"{name}.bias"], padding=1))
            x = torch.nn.functional.max_pool2d(x, 2, 2)
        return x


class EfficientNetLite0(torch.nn.Module):
    """EfficientNet-Lite0 to its head conv: [batch, 3, 224, 224] -> [batch, 1280, 7, 7]."""

    def __init__(self):
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.model = EfficientNet.from_name("efficientnet-lite0")
        missing, unexpected = self.model.load_state_dict(load_f32("efficientnet_lite0.safetensors"), strict=False)
        if unexpected or not all(name.startswith("_fc.") for name in missing):
            raise ValueError(f"invalid weights/efficientnet_lite0.safetensors: missing {missing}, unexpected {unexpected}; "
                             "regenerate it with tools/convert_weights.py")
        self.model.eval()

    def forward(self, pixels):
        return self.model.extract_features((pixels - 127.0) / 128.0)


class MiniLM(torch.nn.Module):
    """all-MiniLM-L6-v2 sentence embeddings: phrases -> [phrases, 384], L2-normalised."""

    def __init__(self):
        super().__init__()
        from tokenizers import Tokenizer
        from transformers import BertConfig, BertModel

        self.tokenizer = Tokenizer.from_file(str(WEIGHTS / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                            intermediate_size=1536, max_position_embeddings=512, layer_norm_eps=1e-12,
                            hidden_act="gelu", attn_implementation="eager")
        self.model = BertModel(config, add_pooling_layer=False)
        missing, unexpected = self.model.load_state_dict(load_f32("minilm_l6.safetensors"), strict=False)
        if unexpected or not all("position_ids" in name for name in missing):
            raise ValueError(f"invalid weights/minilm_l6.safetensors: missing {missing}, unexpected {unexpected}; "
                             "regenerate it with tools/convert_weights.py")
        self.model.eval()

    def forward(self, phrases):
        ids = [encoding.ids for encoding in self.tokenizer.encode_batch(list(phrases))]
        length = max(len(sequence) for sequence in ids)
        input_ids = torch.zeros(len(ids), length, dtype=torch.long)
        mask = torch.zeros(len(ids), length)
        for row, sequence in enumerate(ids):
            input_ids[row, : len(sequence)] = torch.tensor(sequence)
            mask[row, : len(sequence)] = 1
        hidden = self.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
        pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
        return torch.nn.functional.normalize(pooled, dim=1)


class Attention(torch.nn.Module):
    """The head's attention: ([batch, m, 7, 7], [batch, 384]) -> [batch, 49], rows summing to 1."""

    def __init__(self, encoder):
        super().__init__()
        path = WEIGHTS / f"head-{encoder}.safetensors"
        description = json.loads(path.with_suffix(".json").read_text())
        config = description["config"]["attention"]
        self.state = load_f32(path.name)
        self.layers = len(config["layers"])
        self.relu_on_scores = config["relu_on_scores"]
        self.eps = config["batch_norm_eps"]

    def norm(self, x, prefix):
        return torch.nn.functional.batch_norm(
            x, self.state[f"{prefix}.running_mean"], self.state[f"{prefix}.running_var"],
            self.state[f"{prefix}.weight"], self.state[f"{prefix}.bias"], training=False, eps=self.eps)

    def forward(self, image, phrase):
        batch, channels, height, width = image.shape
        image = self.norm(image, "attention.image_norm")
        phrase = self.norm(phrase, "attention.phrase_norm")

        # [batch, m, h, w] -> [batch, regions, m + l]: the phrase beside every region.
        regions = image.reshape(batch, channels, height * width).transpose(1, 2)
        x = torch.cat([regions, phrase.unsqueeze(1).expand(-1, height * width, -1)], dim=2)
        for index in range(self.layers):
            weight = self.state[f"attention.convs.{index}.weight"].flatten(1)  # [out, in, 1, 1] -> [out, in]
            x = x @ weight.T + self.state[f"attention.convs.{index}.bias"]
            if index < self.layers - 1 or self.relu_on_scores:
                x = torch.relu(x)
        return torch.softmax(x.squeeze(2), dim=1)


# Adam as burn's AdamConfig defaults it. torch's own default epsilon is 1e-8.
ADAM = {"betas": (0.9, 0.999), "eps": 1e-5}
BATCH_NORM_MOMENTUM = 0.1


class TrainingHead:
    """The whole head as `semground train` trains it, on concept batches:
    ([batches, k, m, 7, 7], [batches, k, l]) -> logits common [batches, C], independent [batches, k, C].

    `state` contains a full head's tensors in semground's names (head.safetensors of `semground train`).
    Batch norms use the batch's statistics and update their running ones with the biased variance,
    as burn does (torch.nn.BatchNorm would use the unbiased one)."""

    def __init__(self, state, eps=1e-5):
        self.state = {name: value.clone() for name, value in state.items()}
        self.parameters = [value.requires_grad_() for name, value in self.state.items() if "running" not in name]
        self.layers = sum(1 for name in state if name.startswith("attention.convs.") and name.endswith(".weight"))
        self.eps = eps

    def norm(self, x, prefix, dims):
        """Normalises with the batch's statistics and moves the running ones towards them."""
        with torch.no_grad():
            mean, var = x.mean(dims), x.var(dims, unbiased=False)
            for name, value in (("running_mean", mean), ("running_var", var)):
                running = self.state[f"{prefix}.{name}"]
                running.mul_(1 - BATCH_NORM_MOMENTUM).add_(value * BATCH_NORM_MOMENTUM)
        return torch.nn.functional.batch_norm(
            x, None, None, self.state[f"{prefix}.weight"], self.state[f"{prefix}.bias"], training=True, eps=self.eps)

    def reduce(self, prefix, maps):
        """Applies a 1x1 convolution as a matrix product: [n, m, regions] -> [n, reduced, regions]."""
        return self.state[f"{prefix}.weight"].flatten(1) @ maps + self.state[f"{prefix}.bias"].unsqueeze(1)

    def forward(self, image, phrase):
        batches, k, channels, height, width = image.shape
        regions = height * width
        image = self.norm(image.reshape(batches * k, channels, height, width), "attention.image_norm", (0, 2, 3))
        phrase = self.norm(phrase.reshape(batches * k, -1), "attention.phrase_norm", (0,))

        # The first 1x1 layer split into its image and phrase columns, as semground computes it:
        # [batches * k, m, h, w] -> [batches * k, regions, m].
        weight = self.state["attention.convs.0.weight"].flatten(1)
        bias = self.state["attention.convs.0.bias"]
        x = image.reshape(batches * k, channels, regions).transpose(1, 2) @ weight[:, :channels].T
        x = torch.relu(x + (phrase @ weight[:, channels:].T + bias).unsqueeze(1))
        for index in range(1, self.layers):
            weight = self.state[f"attention.convs.{index}.weight"].flatten(1)
            x = torch.relu(x @ weight.T + self.state[f"attention.convs.{index}.bias"])
        attention = torch.softmax(x.reshape(batches * k, regions), dim=1)

        # Attended maps: [batches * k, m, regions] weighted per region.
        attended = image.reshape(batches * k, channels, regions) * attention.unsqueeze(1)
        independent = self.reduce("decoder.independent_reduce", attended).flatten(1)
        independent = torch.nn.functional.linear(
            independent, self.state["decoder.independent_classifier.weight"], self.state["decoder.independent_classifier.bias"])
        summed = attended.reshape(batches, k, channels, regions).sum(1)
        common = self.reduce("decoder.common_reduce", summed).flatten(1)
        common = torch.nn.functional.linear(
            common, self.state["decoder.common_classifier.weight"], self.state["decoder.common_classifier.bias"])
        return common, independent.reshape(batches, k, -1)


def step_inputs(batches, k, channels, phrase_dim, concepts):
    """Builds the fixed inputs of tests/common/train_step.rs with the same formulas, in f32."""
    image = np.arange(batches * k * channels * 49, dtype=np.int64) * 2_654_435_761 % 1000
    phrase = np.arange(batches * k * phrase_dim, dtype=np.int64) * 40_503 % 1000
    image = image.astype(np.float32) / np.float32(250.0)
    phrase = phrase.astype(np.float32) / np.float32(5000.0) - np.float32(0.1)
    targets = np.arange(batches, dtype=np.int64) * 7919 % concepts
    return (torch.from_numpy(image).reshape(batches, k, channels, 7, 7),
            torch.from_numpy(phrase).reshape(batches, k, phrase_dim), torch.from_numpy(targets))


def fresh_head_state(channels, phrase_dim, concepts, layers=(512, 128, 32, 1), reduced=64):
    """Builds a full head's tensors with torch's default initialisation, in semground's names."""
    state = {}
    for prefix, width in (("attention.image_norm", channels), ("attention.phrase_norm", phrase_dim)):
        state.update({f"{prefix}.weight": torch.ones(width), f"{prefix}.bias": torch.zeros(width),
                      f"{prefix}.running_mean": torch.zeros(width), f"{prefix}.running_var": torch.ones(width)})
    inputs = channels + phrase_dim
    for index, width in enumerate(layers):
        conv = torch.nn.Conv2d(inputs, width, 1)
        state[f"attention.convs.{index}.weight"], state[f"attention.convs.{index}.bias"] = conv.weight.data, conv.bias.data
        inputs = width
    state[f"attention.convs.{len(layers) - 1}.bias"] = torch.ones(1)  # as semground's init: the last ReLU passes at first
    for branch in ("independent", "common"):
        conv, linear = torch.nn.Conv2d(channels, reduced, 1), torch.nn.Linear(reduced * 49, concepts)
        state[f"decoder.{branch}_reduce.weight"], state[f"decoder.{branch}_reduce.bias"] = conv.weight.data, conv.bias.data
        state[f"decoder.{branch}_classifier.weight"], state[f"decoder.{branch}_classifier.bias"] = linear.weight.data, linear.bias.data
    return state


def train_step(head, optimizer, image, phrase, targets):
    """Runs one step of the loss `both` and returns its terms (before the update) and the correct count."""
    common, independent = head.forward(image, phrase)
    batches, k, concepts = independent.shape
    loss_common = torch.nn.functional.cross_entropy(common, targets)
    loss_independent = torch.nn.functional.cross_entropy(independent.reshape(batches * k, concepts),
                                                         targets.repeat_interleave(k))
    loss = loss_common + loss_independent
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return {"loss_common": loss_common.item(), "loss_independent": loss_independent.item(),
            "loss_total": loss.item(), "correct": int((common.argmax(1) == targets).sum())}


def train_step_parity(folder, learning_rate):
    """Repeats semground's step in `folder` and compares the head after it, tensor by tensor.

    The reference step runs in f64. Adam's first update is about lr * g / (|g| + eps), so where a
    gradient is near eps = 1e-5 its f32 rounding moves the update a lot. A f32 PyTorch step
    differs from the f64 one by up to 4e-5 in the first attention layer's weights."""
    inputs = {name: value.double() for name, value in load_file(str(folder / "inputs.safetensors")).items()}
    before = {name: value.double() for name, value in load_file(str(folder / "head-before.safetensors")).items()}
    head = TrainingHead(before)
    optimizer = torch.optim.Adam(head.parameters, lr=learning_rate, **ADAM)
    with torch.enable_grad():
        result = train_step(head, optimizer, inputs["image"], inputs["phrase"], inputs["targets"].long())
    after = load_file(str(folder / "head-after.safetensors"))
    worst = max(((head.state[name].detach() - value.double()).abs().max().item(), name) for name, value in after.items())
    result["max_difference"], result["worst_tensor"] = worst
    return result


def photo_tensor(path):
    """Reads a photo as [1, 3, 224, 224] RGB values 0-255."""
    photo = Image.open(path).convert("RGB")
    if photo.size != (224, 224):
        photo = photo.resize((224, 224), Image.BILINEAR)
    return torch.from_numpy(np.asarray(photo, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def image_encoder(encoder):
    return Vgg16() if encoder == "vgg16" else EfficientNetLite0()


PARITY_PHOTO = ROOT / "tests/data/parity/photo-224.png"
CASES = ["vgg16-b1", "vgg16-b16", "efficientnet-lite0-b1", "minilm-b1", "minilm-b64", "head-b16", "train-step",
         "matmul-1024", "eval-dev"]
DEV_SET = ROOT.parent / "shared/data/flickr30k-entities-dev/annotations.json"


def bench_phrases(count):
    """Returns the parity phrase file's phrases of at most 12 words, cycled to `count`, as the Rust side does."""
    listed = json.loads((ROOT / "tests/data/parity/phrases.json").read_text())["phrases"]
    short = [phrase for phrase in listed if len(phrase.split()) <= 12]
    return [short[i % len(short)] for i in range(count)]


def evaluate_dev_set():
    """Plays the pointing game of the EfficientNet-Lite0 model on the dev set, paper protocol:
    the centre of the best of 49 cells, scaled to the annotated size, must fall in a box."""
    encoder, minilm, attention = EfficientNetLite0(), MiniLM(), Attention("efficientnet-lite0")
    data = json.loads(DEV_SET.read_text())
    phrases = hits = 0
    for image in data["images"]:
        path = DEV_SET.parent / "images" / image["file"]
        if not path.exists() or not image["phrases"]:
            continue
        features = encoder(photo_tensor(path))
        texts = [entry["phrase"] for entry in image["phrases"]]
        maps = attention(features.expand(len(texts), -1, -1, -1), minilm(texts))
        for entry, cell in zip(image["phrases"], maps.argmax(dim=1).tolist()):
            x = (cell % 7 + 0.5) * image["width"] / 7
            y = (cell // 7 + 0.5) * image["height"] / 7
            hits += any(x0 <= x < x1 and y0 <= y < y1 for x0, y0, x1, y1 in entry["boxes"])
            phrases += 1
    return {"phrases": phrases, "hits": hits}


def time_case(case, runs, warmup):
    """Times one case; the work of each run ends with a result in host memory, as in Rust."""
    pixels = photo_tensor(PARITY_PHOTO)
    if case in ("vgg16-b1", "vgg16-b16", "efficientnet-lite0-b1"):
        model = image_encoder("vgg16" if case.startswith("vgg16") else "efficientnet-lite0")
        batch = pixels.expand(16 if case.endswith("b16") else 1, -1, -1, -1).contiguous()
        work = lambda: model(batch).numpy()
    elif case in ("minilm-b1", "minilm-b64"):
        model, texts = MiniLM(), bench_phrases(64 if case.endswith("b64") else 1)
        work = lambda: model(texts).numpy()
    elif case == "head-b16":
        features = Vgg16()(pixels)
        embeddings = MiniLM()(bench_phrases(16))
        attention = Attention("vgg16")
        work = lambda: attention(features.expand(16, -1, -1, -1), embeddings).numpy()
    elif case == "matmul-1024":
        left, right = torch.ones(1024, 1024), torch.ones(1024, 1024)
        work = lambda: (left @ right).numpy()
    elif case == "train-step":
        image, phrase, targets = step_inputs(16, 9, 512, 384, 2000)
        head = TrainingHead(fresh_head_state(512, 384, 2000))
        optimizer = torch.optim.Adam(head.parameters, lr=1e-3, **ADAM)

        def work():
            with torch.enable_grad():
                return train_step(head, optimizer, image, phrase, targets)
    elif case == "eval-dev":
        work = evaluate_dev_set
    else:
        raise SystemExit(f"unknown case {case!r}")

    for _ in range(warmup):
        work()
    seconds, detail = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
        detail = result if isinstance(result, dict) else None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({"case": case, "seconds": seconds, "peak_rss_mb": peak, "detail": detail}))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    defaults = argparse.ArgumentDefaultsHelpFormatter
    maps = commands.add_parser("maps", formatter_class=defaults, help="print the attention maps of phrases over one photo",
                               description="Prints {\"maps\": [[49 weights] per phrase]} for the shipped head of --encoder.")
    maps.add_argument("--encoder", choices=["vgg16", "efficientnet-lite0"], default="vgg16", help="image encoder and its head")
    maps.add_argument("--image", type=Path, required=True, help="photo file; 224 x 224 for exact parity")
    maps.add_argument("--phrase", action="append", required=True, help="a phrase; repeat for several")
    step = commands.add_parser(
        "train-step", formatter_class=defaults, help="repeat and check the training step semground wrote to a folder",
        description="Repeats in f64 the training step in DIR and prints its loss terms and the largest difference "
                    "from semground's head after the step. Create DIR with "
                    "`cargo bench --bench compare -- --train-parity DIR` (bench/compare.py does this itself).")
    step.add_argument("--dir", type=Path, required=True,
                      help="folder with head-before.safetensors, inputs.safetensors and head-after.safetensors")
    step.add_argument("--learning-rate", type=float, default=1e-3, help="Adam's learning rate, as semground's step used")
    timing = commands.add_parser("time", formatter_class=defaults, help="time one benchmark case of bench/compare.py",
                                 description="Times one case and prints {\"case\", \"seconds\", \"peak_rss_mb\", \"detail\"}.")
    timing.add_argument("--case", required=True, choices=CASES, help="the case to time")
    timing.add_argument("--runs", type=int, default=5, help="timed runs")
    timing.add_argument("--warmup", type=int, default=1, help="untimed runs before them")
    args = parser.parse_args()

    torch.set_grad_enabled(False)
    if args.command == "time":
        time_case(args.case, args.runs, args.warmup)
        return
    if args.command == "train-step":
        missing = [name for name in ("head-before.safetensors", "inputs.safetensors", "head-after.safetensors")
                   if not (args.dir / name).is_file()]
        if missing:
            sys.exit(f"{args.dir} lacks {', '.join(missing)}; create the folder's files with "
                     f"`cargo bench --bench compare -- --train-parity {args.dir}`")
        print(json.dumps(train_step_parity(args.dir, args.learning_rate)))
        return
    features = image_encoder(args.encoder)(photo_tensor(args.image))
    embeddings = MiniLM()(args.phrase)
    heatmaps = Attention(args.encoder)(features.expand(len(args.phrase), -1, -1, -1), embeddings)
    print(json.dumps({"maps": heatmaps.tolist()}))


if __name__ == "__main__":
    main()
