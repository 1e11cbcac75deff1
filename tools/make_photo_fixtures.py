#!/usr/bin/env python3
"""Write the small, synthetic photo fixtures of tests/data/photos (run from anywhere).

Each file exercises one decoding case: colour types, bit depths, EXIF orientation,
truncation, a header that claims a huge size. Needs pillow.
"""

import struct
import zlib
from pathlib import Path

from PIL import Image

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "photos"


def halves(mode, left, right, size=(40, 20)):
    """A photo whose left half is `left` and right half is `right`."""
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def png_with_size(width, height):
    """A valid PNG header claiming width x height, with a one-row IDAT: never decodable in full."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    halves("RGB", (255, 0, 0), (0, 0, 255)).save(OUT / "rgb.jpg", quality=95)
    halves("L", 0, 255).save(OUT / "gray.png")
    halves("RGBA", (255, 0, 0, 255), (0, 0, 0, 0)).save(OUT / "rgba.png")
    halves("I;16", 65535, 0).save(OUT / "gray16.png")
    halves("CMYK", (0, 255, 255, 0), (255, 255, 0, 0)).save(OUT / "cmyk.jpg", quality=95)

    # Stored 40 x 20 with red on the left; EXIF orientation 6 means "rotate 90 degrees
    # clockwise to display", so the upright photo is 20 x 40 with red on top.
    exif = Image.Exif()
    exif[0x0112] = 6
    halves("RGB", (255, 0, 0), (0, 0, 255)).save(OUT / "exif-rotated.jpg", quality=95, exif=exif)

    data = (OUT / "rgb.jpg").read_bytes()
    (OUT / "truncated.jpg").write_bytes(data[: len(data) // 3])
    # Cut inside the compressed scan: the header is whole, the image data is not.
    (OUT / "truncated-scan.jpg").write_bytes(data[: len(data) - 60])
    (OUT / "empty.jpg").write_bytes(b"")
    (OUT / "not-an-image.jpg").write_text("this is a text file, not a photo\n")
    (OUT / "huge-header.png").write_bytes(png_with_size(60000, 60000))
    print(f"wrote fixtures to {OUT}")


if __name__ == "__main__":
    main()
