#!/usr/bin/env python3
"""Writes the hostile-input corpus to tests/fixtures/bad/ and small fuzz seeds to
fuzz/corpus/digitize/: files a clinic archive holds besides ECG pages (truncated, empty,
renamed, refused, oversized, odd formats, pictures of other things).

Deterministic; needs Pillow and NumPy. Run from anywhere: python3 scripts/make-bad-corpus.py
The files are committed, so the tests need neither Python nor Pillow. Large variants of a
real ECG page (16-bit, palette, CMYK, progressive, multi-page TIFF, animated GIF) are made
by tests/hostile.rs at test time instead, from tests/fixtures/dev002.png.
"""

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parent.parent
BAD = ROOT / "tests" / "fixtures" / "bad"
SEEDS = ROOT / "fuzz" / "corpus" / "digitize"
rng = np.random.default_rng(20240611)


def encode(img, **kw):
    b = io.BytesIO()
    img.save(b, **kw)
    return b.getvalue()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width, height):
    """A valid PNG header for a huge RGB image, with a few bytes of pixel data: tiny on disk."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def tiff_claiming(width, height):
    """A little-endian TIFF whose one IFD describes a huge 8-bit grey strip image."""
    entries = [
        (256, 4, 1, width),  # ImageWidth, LONG
        (257, 4, 1, height),  # ImageLength
        (258, 3, 1, 8),  # BitsPerSample, SHORT
        (259, 3, 1, 1),  # Compression: none
        (262, 3, 1, 1),  # PhotometricInterpretation: black is zero
        (273, 4, 1, 8),  # StripOffsets
        (277, 3, 1, 1),  # SamplesPerPixel
        (278, 4, 1, height),  # RowsPerStrip
        (279, 4, 1, width * height),  # StripByteCounts
    ]
    ifd_at = 8 + 16
    out = b"II*\0" + struct.pack("<I", ifd_at) + b"\0" * 16
    out += struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if typ == 3 else struct.pack("<I", value)
        out += struct.pack("<HHI", tag, typ, count) + packed
    return out + struct.pack("<I", 0)


def grid_page(w, h, seed_shift=0):
    """A small red-grid page with a wavy black line: ECG-like enough to reach later stages."""
    img = Image.new("RGB", (w, h), (255, 255, 255))
    d = ImageDraw.Draw(img)
    for x in range(0, w, 8):
        d.line([(x, 0), (x, h)], fill=(250, 200, 200) if x % 40 else (240, 150, 150))
    for y in range(0, h, 8):
        d.line([(0, y), (w, y)], fill=(250, 200, 200) if y % 40 else (240, 150, 150))
    for row in range(3):
        y0 = h * (row + 1) // 4
        pts = [(x, y0 - 12 * np.sin((x + seed_shift) / 9.0) ** 15) for x in range(10, w - 10)]
        d.line(pts, fill=(0, 0, 0), width=2)
    return img


def photo_like(w, h):
    """Smooth coloured blobs, blurred: the statistics of a photo, nothing like a printout."""
    small = rng.integers(0, 256, (h // 40, w // 40, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((w, h), Image.BICUBIC)
    return img.filter(ImageFilter.GaussianBlur(6))


def screenshot(w, h):
    """A desktop-like screenshot: title bar, buttons and lines of grey text-like bars."""
    img = Image.new("RGB", (w, h), (236, 236, 236))
    d = ImageDraw.Draw(img)
    d.rectangle([0, 0, w, 40], fill=(40, 60, 110))
    for i in range(6):
        d.rectangle([20 + i * 150, 60, 150 + i * 150, 95], outline=(90, 90, 90), fill=(250, 250, 250))
    for line in range(30):
        y = 130 + line * 24
        x = 30
        while x < w - 80 and y < h - 20:
            word = int(rng.integers(20, 90))
            d.rectangle([x, y, x + word, y + 10], fill=(60, 60, 60))
            x += word + 12
    return img


def main():
    BAD.mkdir(parents=True, exist_ok=True)
    SEEDS.mkdir(parents=True, exist_ok=True)
    files = {}

    page = grid_page(400, 300)
    png = encode(page, format="PNG")
    jpg = encode(page, format="JPEG", quality=85)
    files["truncated.png"] = png[: len(png) // 2]
    files["truncated.jpg"] = jpg[:600]  # ends inside the headers
    files["empty.jpg"] = b""
    files["report-pdf.jpg"] = (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )
    files["photo.heic"] = struct.pack(">I", 24) + b"ftypheic" + b"\0\0\0\0" + b"mif1heic" + bytes(64)
    files["one-pixel.png"] = encode(Image.new("RGB", (1, 1), (255, 255, 255)), format="PNG")
    random_bytes = rng.integers(0, 256, 4096, dtype=np.uint8).tobytes()
    files["random-bytes.png"] = b"\x00" + random_bytes[1:]  # no format starts with a zero byte here
    files["claims-20000x30000.png"] = png_claiming(20000, 30000)
    files["claims-20000x30000.tif"] = tiff_claiming(20000, 30000)
    files["strip-1x100000.png"] = encode(Image.new("L", (1, 100000), 255), format="PNG", optimize=True)
    files["strip-250x20000.png"] = encode(Image.new("L", (250, 20000), 255), format="PNG", optimize=True)
    files["black-page.png"] = encode(Image.new("1", (2200, 1700), 0), format="PNG", optimize=True)
    files["white-100mp.png"] = encode(Image.new("1", (10000, 10000), 1), format="PNG", optimize=True)
    gradient = np.zeros((900, 1200, 3), dtype=np.uint8)
    gradient[..., 0] = np.linspace(20, 235, 1200)[None, :]
    gradient[..., 1] = np.linspace(40, 220, 900)[:, None]
    gradient[..., 2] = 128
    files["gradient.png"] = encode(Image.fromarray(gradient), format="PNG", optimize=True)
    files["photo-like.jpg"] = encode(photo_like(1200, 900), format="JPEG", quality=70)
    files["screenshot.png"] = encode(screenshot(1280, 800), format="PNG", optimize=True)

    # Formats that decode (small, not ECG pages: the tests check decoding, not digitizing).
    files["grey16.png"] = encode(
        Image.fromarray((np.linspace(0, 65535, 300 * 240).reshape(240, 300)).astype(np.uint16)),
        format="PNG",
    )
    files["palette.png"] = encode(page.quantize(16), format="PNG")
    files["cmyk.jpg"] = encode(page.convert("CMYK"), format="JPEG", quality=80)
    files["progressive.jpg"] = encode(page, format="JPEG", quality=80, progressive=True)
    frames = [grid_page(300, 240, shift) for shift in (0, 20, 40)]
    files["three-pages.tif"] = encode(
        frames[0], format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate"
    )
    files["three-frames.gif"] = encode(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    files["three-frames.webp"] = encode(frames[0], format="WEBP", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    files["exif-rotated.jpg"] = encode(grid_page(400, 300), format="JPEG", quality=80, exif=exif.tobytes())

    for name, data in files.items():
        (BAD / name).write_bytes(data)

    # Fuzz seeds: each decodable format at the smallest page size that passes decode.
    seed_page = grid_page(240, 200)
    seeds = {
        "page.png": encode(seed_page, format="PNG"),
        "page.jpg": encode(seed_page, format="JPEG", quality=60),
        "page.gif": encode(seed_page.quantize(8), format="GIF"),
        "page.bmp": encode(seed_page.quantize(8), format="BMP"),
        "page.tif": encode(seed_page, format="TIFF", compression="packbits"),
        "page.webp": encode(seed_page, format="WEBP", quality=50),
        "page-rgba.png": encode(seed_page.convert("RGBA"), format="PNG"),
        "page-grey16.png": encode(seed_page.convert("I;16"), format="PNG"),
    }
    for name in ["truncated.png", "truncated.jpg", "claims-20000x30000.png", "claims-20000x30000.tif",
                 "photo.heic", "three-frames.gif", "three-frames.webp", "exif-rotated.jpg", "cmyk.jpg",
                 "progressive.jpg", "palette.png"]:
        seeds[name] = files[name]
    for name, data in seeds.items():
        (SEEDS / name).write_bytes(data)

    total = sum(len(d) for d in files.values())
    print(f"{len(files)} files, {total} bytes in {BAD}; {len(seeds)} seeds in {SEEDS}")


if __name__ == "__main__":
    main()
