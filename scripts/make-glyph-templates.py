#!/usr/bin/env python3
"""Renders the glyphs of ECG lead labels (I V a A R L F 1-6) and of the printed settings
("25mm/s", "10mm/mV": digits, m, s, /) in common sans and serif fonts and writes their shape
features as a Rust table, src/labels/templates.rs.

The features must match `labels::glyph_features` in Rust: the glyph's ink box is cut into
GRID_W x GRID_H cells and each cell holds the mean ink (0..1), followed by the box's aspect
ratio (width / height). Run again only to change fonts or features:
    python3 scripts/make-glyph-templates.py > src/labels/templates.rs && rustfmt src/labels/templates.rs
The Liberation fonts are Debian's fonts-liberation package; DejaVu is fonts-dejavu-core.
"""
import sys
from PIL import Image, ImageDraw, ImageFont

GRID_W, GRID_H = 6, 9
# Lead names first, then the rest of the settings text.
CHARS = "IVaARLF123456" + "0789ms/"
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
]


def features(img):
    """Mean ink per cell of the ink box, then width/height of the box."""
    w, h = img.size
    px = img.load()
    ink = [[1.0 - px[x, y] / 255.0 for x in range(w)] for y in range(h)]
    xs = [x for x in range(w) if any(ink[y][x] > 0.3 for y in range(h))]
    ys = [y for y in range(h) if any(ink[y][x] > 0.3 for x in range(w))]
    x0, x1, y0, y1 = min(xs), max(xs) + 1, min(ys), max(ys) + 1
    bw, bh = x1 - x0, y1 - y0
    out = []
    for gy in range(GRID_H):
        for gx in range(GRID_W):
            # Cell bounds in continuous box coordinates; area-weighted mean.
            cx0, cx1 = x0 + bw * gx / GRID_W, x0 + bw * (gx + 1) / GRID_W
            cy0, cy1 = y0 + bh * gy / GRID_H, y0 + bh * (gy + 1) / GRID_H
            total, area = 0.0, 0.0
            for y in range(int(cy0), min(int(cy1) + 1, y1)):
                for x in range(int(cx0), min(int(cx1) + 1, x1)):
                    a = max(0.0, min(x + 1, cx1) - max(x, cx0)) * max(0.0, min(y + 1, cy1) - max(y, cy0))
                    total += ink[y][x] * a
                    area += a
            out.append(total / area if area > 0 else 0.0)
    out.append(bw / bh)
    return out, bh


# Font sizes in pixels: large for the glyphs' own shapes, and the sizes an 11 pt label has
# at 100 and 150 DPI, where anti-aliasing thickens every stroke to a pixel or two.
SIZES = [96, 22, 15]


def main():
    rows = []
    for size in SIZES:
        for path in FONTS:
            font = ImageFont.truetype(path, size)
            for ch in CHARS:
                img = Image.new("L", (200, 200), 255)
                ImageDraw.Draw(img).text((40, 20), ch, font=font, fill=0)
                f, _ = features(img)
                rows.append((ch, f"{path.rsplit('/', 1)[1]} at {size} px", f))
    out = sys.stdout
    out.write("//! Shape features of the glyphs of lead labels and printed settings, rendered from open\n")
    out.write("//! fonts (DejaVu Sans, Liberation Sans/Serif/Mono) at several sizes by\n")
    out.write("//! `scripts/make-glyph-templates.py`. Generated: do not edit by hand.\n\n")
    out.write("// Ink shares that happen to be close to 1/π are measurements, not the constant.\n#![allow(clippy::approx_constant)]\n\n")
    out.write(f"/// Cells across a glyph's ink box.\npub const GRID_W: usize = {GRID_W};\n")
    out.write(f"/// Cells down a glyph's ink box.\npub const GRID_H: usize = {GRID_H};\n")
    n = GRID_W * GRID_H + 1
    out.write(f"/// Features per glyph: mean ink per cell, row by row, then width / height.\npub const FEATURES: usize = {n};\n\n")
    out.write("/// (character, features) for every font and size.\n")
    out.write(f"pub static TEMPLATES: [(char, [f32; FEATURES]); {len(rows)}] = [\n")
    for ch, font, f in rows:
        vals = ", ".join(f"{v:.3}" for v in f)
        out.write(f"    // {font}\n    ('{ch}', [{vals}]),\n")
    out.write("];\n")


if __name__ == "__main__":
    main()
