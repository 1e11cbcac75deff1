#!/usr/bin/env python3
"""Benchmarks semground against its PyTorch reference (bench/reference.py) on the same inputs.

First checks parity: the attention maps of both implementations, for both shipped heads on the
parity photo, must agree within 1e-5, and one training step must give the same loss terms
(within 1e-4) and the same head after the Adam update (within 1e-5). Then times each case in rounds, alternating which side
goes first, one fresh process per side and round, and prints the medians, the ratio
semground / PyTorch and the peak resident memory of each side as a Markdown table.

Every case uses one 224 x 224 photo and phrases from tests/data/parity/phrases.json:
  vgg16-b1, vgg16-b16        VGG16 conv base, batch 1 and 16
  efficientnet-lite0-b1      EfficientNet-Lite0 to its head conv, batch 1
  minilm-b1, minilm-b64      MiniLM phrase embeddings, batch 1 and 64
  head-b16                   the VGG16 head's attention, 16 phrases over one photo
  train-step                 one training step with the trainer's defaults: 16 concept batches
                             of k = 9 pairs, VGG16 maps, 2000 concepts, forward, loss, backward,
                             Adam update, loss terms read back
  matmul-1024                a 1024 x 1024 f32 matrix product, to compare the GEMMs alone
  eval-dev                   the pointing game on the Flickr30k Entities dev set with
                             EfficientNet-Lite0, from the photo files, nothing cached

Usage: python3 bench/compare.py [--rounds 3] [--cases vgg16-b1,minilm-b1] [--features FEATURES]
Run it with a Python that has torch, transformers, tokenizers and efficientnet-lite-pytorch
(the one bench/reference.py needs); the Rust side is built with `cargo bench`.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from reference import DEV_SET

ROOT = Path(__file__).resolve().parent.parent
PARITY_TOLERANCE = 1e-5
LOSS_TOLERANCE = 1e-4
STEP_TOLERANCE = 1e-5
# Timed runs per process, after one warm-up run (none for the long evaluation).
RUNS = {"vgg16-b1": 5, "vgg16-b16": 2, "efficientnet-lite0-b1": 10, "minilm-b1": 10,
        "minilm-b64": 3, "head-b16": 10, "train-step": 5, "matmul-1024": 10, "eval-dev": 1}
LABELS = {
    "vgg16-b1": "VGG16 encode, batch 1",
    "vgg16-b16": "VGG16 encode, batch 16",
    "efficientnet-lite0-b1": "EfficientNet-Lite0 encode, batch 1",
    "minilm-b1": "MiniLM encode, batch 1",
    "minilm-b64": "MiniLM encode, batch 64",
    "head-b16": "head attention, 16 phrases",
    "train-step": "training step, 16 concept batches of k = 9",
    "matmul-1024": "matrix product, 1024 x 1024, f32",
    "eval-dev": "dev-set evaluation, EfficientNet-Lite0",
}


def run_json(command, env=None):
    """Runs a command that prints one JSON line last; stops the benchmark if it fails."""
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


CARGO_FEATURES = []


def rust(arguments):
    env = dict(os.environ)
    env.setdefault("CARGO_TARGET_DIR", str(Path.home() / ".cache/semground-target"))
    return run_json(["cargo", "bench", "--quiet", *CARGO_FEATURES, "--bench", "compare", "--", *arguments], env)


def torch_side(arguments):
    return run_json([sys.executable, str(ROOT / "bench/reference.py"), *arguments])


def check_parity():
    """Compares both implementations' maps; exits on a difference above the tolerance."""
    ours = rust(["--maps"])
    phrases = ["a woman in a white space suit", "the flag", "a helmet"]
    for encoder, maps in ours.items():
        arguments = ["maps", "--encoder", encoder, "--image", "tests/data/parity/photo-224.png"]
        for phrase in phrases:
            arguments += ["--phrase", phrase]
        reference = torch_side(arguments)["maps"]
        worst = max(abs(a - b) for row, other in zip(maps, reference) for a, b in zip(row, other))
        line = f"parity {encoder}: max |semground - PyTorch| = {worst:.2e} over {len(phrases)} maps, tolerance {PARITY_TOLERANCE}"
        if not worst <= PARITY_TOLERANCE:
            sys.exit(f"FAILED {line}")
        print(line)

    with tempfile.TemporaryDirectory() as folder:
        ours = rust(["--train-parity", folder])
        theirs = torch_side(["train-step", "--dir", folder])
    worst_loss = max(abs(ours[name] - theirs[name]) for name in ("loss_common", "loss_independent", "loss_total"))
    line = (f"parity training step: loss {ours['loss_total']:.6f} against {theirs['loss_total']:.6f} "
            f"(max term difference {worst_loss:.2e}, tolerance {LOSS_TOLERANCE}); head after the step: "
            f"max difference {theirs['max_difference']:.2e} in {theirs['worst_tensor']}, tolerance {STEP_TOLERANCE}")
    if not (worst_loss <= LOSS_TOLERANCE and theirs["max_difference"] <= STEP_TOLERANCE):
        sys.exit(f"FAILED {line}")
    print(line)


def machine():
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    import torch

    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), {date.today().isoformat()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="processes per side and case (default 3)")
    parser.add_argument("--cases", help="comma-separated cases (default: all)")
    parser.add_argument("--features", help="extra cargo features for the Rust side's build")
    args = parser.parse_args()
    if args.features:
        CARGO_FEATURES.extend(["--features", args.features])
    if args.rounds < 1:
        sys.exit(f"--rounds must be at least 1, got {args.rounds}")
    cases = [case for case in (args.cases or ",".join(RUNS)).split(",") if case]
    unknown = [case for case in cases if case not in RUNS]
    if unknown:
        sys.exit(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(RUNS)}")
    if "eval-dev" in cases and not DEV_SET.is_file():
        message = f"eval-dev needs the Flickr30k Entities dev set at {DEV_SET}, which is missing"
        if args.cases:
            sys.exit(f"{message}; leave eval-dev out of --cases")
        print(f"skipping eval-dev: {message}")
        cases.remove("eval-dev")

    print(machine())
    print("building the Rust side with `cargo bench` (its first build compiles burn: about 20 minutes on 2 cores)",
          flush=True)
    check_parity()
    rows = []
    for case in cases:
        rounds = 1 if case == "eval-dev" else args.rounds
        warmup = "0" if case == "eval-dev" else "1"
        timing = ["--case", case, "--runs", str(RUNS[case]), "--warmup", warmup]
        results = {"semground": [], "PyTorch": []}
        for index in range(rounds):
            order = [("semground", rust), ("PyTorch", lambda a: torch_side(["time", *a]))]
            for side, runner in order if index % 2 == 0 else reversed(order):
                results[side].append(runner(timing))
        medians = {side: statistics.median(s for r in runs for s in r["seconds"]) for side, runs in results.items()}
        peaks = {side: max(r["peak_rss_mb"] for r in runs) for side, runs in results.items()}
        details = {side: runs[-1]["detail"] for side, runs in results.items()}
        rows.append((case, medians, peaks, details))
        print(f"{case}: semground {medians['semground']:.4f} s, PyTorch {medians['PyTorch']:.4f} s, "
              f"ratio {medians['semground'] / medians['PyTorch']:.2f}", flush=True)

    print()
    print("| case | semground median | PyTorch median | ratio | semground peak RSS | PyTorch peak RSS |")
    print("|---|---|---|---|---|---|")
    for case, medians, peaks, details in rows:
        label = LABELS[case]
        if case == "eval-dev":
            parts = [f"{side} {d['hits']}/{d['phrases']} hits" for side, d in details.items() if d]
            label += f" ({', '.join(parts)})"
        print(f"| {label} | {medians['semground'] * 1e3:.1f} ms | {medians['PyTorch'] * 1e3:.1f} ms | "
              f"{medians['semground'] / medians['PyTorch']:.2f} | {peaks['semground']:.0f} MB | {peaks['PyTorch']:.0f} MB |")


if __name__ == "__main__":
    main()
