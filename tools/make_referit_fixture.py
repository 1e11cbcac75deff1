#!/usr/bin/env python3
"""Write the ReferIt (RefCLEF) loader fixture: tests/data/referit/refs(berkeley).p and
instances.json, in the layout of the `refer` toolkit, with made-up objects.

The real refs pickles were written by Python 2, which stores text as byte strings
(SHORT_BINSTRING / BINSTRING opcodes). Python 3 pickles bytes differently, so this script
writes text in the Python 2 way, to test the loader on what users have.

Usage: python3 tools/make_referit_fixture.py   (standard library only)
"""

import io
import json
import pickle
import struct
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "tests/data/referit"


class Python2Pickler(pickle._Pickler):
    """Pickles `str` as Python 2 byte strings, as cPickle did."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_py2_str(self, text):
        data = text.encode("utf-8")
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(text)

    dispatch[str] = save_py2_str


def sentence(sent_id, text):
    return {"tokens": text.split(), "raw": text, "sent_id": sent_id, "sent": text.lower()}


def main():
    refs = [
        {"image_id": 25, "ann_id": 250, "ref_id": 0, "split": "train", "category_id": 7,
         "file_name": "25_1.jpg", "sent_ids": [0, 1],
         "sentences": [sentence(0, "Sky on the left"), sentence(1, "blue sky")]},
        {"image_id": 25, "ann_id": 251, "ref_id": 1, "split": "test", "category_id": 3,
         "file_name": "25_2.jpg", "sent_ids": [2, 3],
         "sentences": [sentence(2, "man in the middle"), sentence(3, "  ")]},
        {"image_id": 31, "ann_id": 310, "ref_id": 2, "split": "test", "category_id": 5,
         "file_name": "31_1.jpg", "sent_ids": [4],
         "sentences": [sentence(4, "the rock bottom right")]},
    ]
    instances = {
        "images": [
            {"id": 25, "file_name": "25.jpg", "width": 40, "height": 30},
            {"id": 31, "file_name": "31.jpg", "width": 4, "height": 4},
        ],
        "annotations": [
            {"id": 250, "image_id": 25, "category_id": 7, "iscrowd": 0, "area": 150.0,
             "bbox": [0, 0, 15, 10],
             "segmentation": [[0, 0, 15, 0, 15, 10, 0, 10]]},
            {"id": 251, "image_id": 25, "category_id": 3, "iscrowd": 0, "area": 200.0,
             "bbox": [15, 5, 10, 20],
             "segmentation": [[21, 5, 25, 5, 25, 25]]},
            # pycocotools' compressed RLE of a 4 x 4 mask: column 1 rows 1-2, column 2.
            {"id": 310, "image_id": 31, "category_id": 5, "iscrowd": 1, "area": 6.0,
             "bbox": [1, 0, 2, 4],
             "segmentation": {"size": [4, 4], "counts": "52123"}},
        ],
        "categories": [{"id": 3, "name": "man"}, {"id": 5, "name": "rock"}, {"id": 7, "name": "sky"}],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    Python2Pickler(buffer, protocol=2).dump(refs)
    (OUT / "refs(berkeley).p").write_bytes(buffer.getvalue())
    (OUT / "instances.json").write_text(json.dumps(instances, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
