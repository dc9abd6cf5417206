#!/usr/bin/env python3
"""Draws one ECG page the way ECG-Image-Kit lays its pages out, with its truth CSV, for
layouts and distortions the dev set lacks (6x2, 12x1, V1 rhythm strips, 100-300 DPI, strong
noise, crops). This is our own re-statement of the generator's page conventions, from its
documented behaviour and the dev set's metadata, not its code:

- an 11 x 8.5 inch sheet; x in seconds (0.2 s per 5 mm), y in mV (0.5 mV per 5 mm);
- leads fill rows from the bottom up in the order III, aVF, V3, V6, II, aVL, V2, V5, I, aVR,
  V1, V4, `columns` to a row; 3x4 columns show successive 2.5 s, 6x2 and 12x1 columns all
  show the record's first 5 or 10 s; a rhythm strip of 10 s sits below;
- a 0.2 s, 1 mV pulse starts every row, padded with two samples at 0 mV each side; labels
  stand 0.7 mV below the baseline at each panel's start; a bar separates columns;
- then rotation about the centre (black corners), grey Gaussian pixel noise, a crop that is
  scaled back to the full size, a colour cast and JPEG.

usage: kit_style_pages.py RECORD.csv OUT_STEM [--columns 4|2|1] [--full II|V1|None]
       [--dpi 200] [--rot DEG] [--noise SIGMA] [--crop FRACTION] [--jpeg QUALITY] ...
Needs numpy, matplotlib and Pillow. Records come from `cargo run --example records`.
"""
import argparse
import math
import random

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import AutoMinorLocator  # noqa: E402
from PIL import Image  # noqa: E402

BOTTOM_UP = ["III", "aVF", "V3", "V6", "II", "aVL", "V2", "V5", "I", "aVR", "V1", "V4"]
COLUMN_OF_3X4 = {"I": 0, "II": 0, "III": 0, "aVR": 1, "aVL": 1, "aVF": 1,
                 "V1": 2, "V2": 2, "V3": 2, "V4": 3, "V5": 3, "V6": 3}
ALL = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# (major, minor) grid colours as the dev set's metadata records them, 0-255.
GRIDS = {
    "red": ((255, 0, 0), (254, 223, 219)),
    "brown": ((109, 50, 47), (150, 107, 101)),
    "green": ((0, 76, 0), (0, 204, 76)),
    "bw": ((102, 102, 102), (191, 191, 191)),
}
FS = 500.0
STEP = 1.0 / FS


def main():
    p = argparse.ArgumentParser()
    p.add_argument("record")
    p.add_argument("out")
    p.add_argument("--columns", type=int, default=4)
    p.add_argument("--full", default="II", help="rhythm strip lead, or None")
    p.add_argument("--dpi", type=int, default=200)
    p.add_argument("--pulse", type=int, default=1)
    p.add_argument("--grid", default="red", help="red, brown, green, bw or random")
    p.add_argument("--labels", type=int, default=1)
    p.add_argument("--header", type=int, default=0)
    p.add_argument("--rot", type=float, default=0.0)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--crop", type=float, default=0.0)
    p.add_argument("--warm", type=int, default=0, help="a warm colour cast")
    p.add_argument("--jpeg", type=int, default=0, help="JPEG quality; 0 writes PNG")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    rng = random.Random(a.seed)

    data = np.genfromtxt(a.record, delimiter=",", names=True)
    sig = {n: np.asarray(data[n], dtype=float) for n in ALL}
    cols = a.columns
    secs = 10.0 / cols
    nseg = int(round(secs * FS))
    rows = math.ceil(12 / cols) + (a.full != "None")
    width_in, height_in = 11.0, 8.5
    mm5_in = 5 / 25.4
    x_max = width_in * 0.2 / mm5_in
    y_max = height_in * 0.5 / mm5_in
    row_h = y_max / (rows + 2)
    x_gap = math.floor(((x_max - cols * secs) / 2) / 0.2) * 0.2

    if a.grid == "random":
        major = tuple(rng.randint(60, 200) for _ in range(3))
        minor = tuple(min(255, c + rng.randint(40, 90)) for c in major)
    else:
        major, minor = GRIDS[a.grid]
    ink = (0.0,) * 3 if a.grid == "bw" else (rng.uniform(0, 0.2),) * 3

    fig, ax = plt.subplots(figsize=(width_in, height_in), dpi=a.dpi)
    fig.subplots_adjust(left=0, right=1, bottom=0, top=1)
    ax.set_xlim(0, x_max)
    ax.set_ylim(0, y_max)
    ax.tick_params(colors="white")
    dc = 0.2 if a.pulse else 0.0
    lw = 0.75
    pulse_x = np.arange(0, 0.2 + 4 * STEP, STEP)
    pulse_y = np.ones(len(pulse_x))
    pulse_y[:2] = pulse_y[-2:] = 0
    truth = {n: np.full(5000, np.nan) for n in ALL}

    y_off = row_h / 2
    for i, name in enumerate(BOTTOM_UP):
        if i % cols == 0:
            y_off += row_h
        x_off = (i % cols) * secs
        start = COLUMN_OF_3X4[name] * nseg if cols == 4 else 0
        seg = sig[name][start:start + nseg]
        truth[name][start:start + nseg] = seg
        if a.labels:
            ax.text(x_off + x_gap + dc, y_off - 0.7, name, fontsize=11)
        if a.pulse and i % cols == 0:
            ax.plot(pulse_x + x_off + x_gap, pulse_y + y_off, linewidth=lw * 1.5, color=ink)
        xs = np.arange(len(seg)) * STEP + x_off + dc + x_gap
        ax.plot(xs, seg + y_off, linewidth=lw, color=ink)
        if (i + 1) % cols != 0:
            bar_x = len(seg) * STEP + x_off + dc + x_gap
            ax.plot([bar_x, bar_x], [y_off - 0.35, y_off + 0.35], linewidth=lw * 3, color=ink)
    if a.full != "None":
        base = row_h / 2 + 0.3
        if a.labels:
            ax.text(x_gap + dc, row_h / 2 - 0.5, a.full, fontsize=11)
        if a.pulse:
            ax.plot(pulse_x + x_gap, pulse_y + base, linewidth=lw * 1.5, color=ink)
        seg = sig[a.full][:5000]
        truth[a.full][:] = seg
        ax.plot(np.arange(len(seg)) * STEP + x_gap + dc, seg + base, linewidth=lw, color=ink)
    if a.header:
        for k, line in enumerate([f"ID: {a.seed:06d}      Name: Test Patient",
                                  "Age: 64      Sex: F", "Date: 2021-03-04"]):
            ax.text(0.05, int(y_max) - 0.5 * k, line, fontsize=11)
    ax.text(2, 0.5, "25mm/s", fontsize=11)
    ax.text(4, 0.5, "10mm/mV", fontsize=11)
    ax.set_xticks(np.arange(0, x_max, 0.2))
    ax.set_yticks(np.arange(0, y_max, 0.5))
    ax.minorticks_on()
    ax.xaxis.set_minor_locator(AutoMinorLocator(5))
    ax.grid(which="major", linewidth=0.5, color=[c / 255 for c in major])
    ax.grid(which="minor", linewidth=0.5, color=[c / 255 for c in minor])
    fig.canvas.draw()
    img = np.asarray(fig.canvas.buffer_rgba())[:, :, :3].astype(np.float64)
    plt.close(fig)

    h, w = img.shape[:2]
    if a.rot:
        pil = Image.fromarray(img.astype(np.uint8)).rotate(
            a.rot, resample=Image.BILINEAR, fillcolor=(0, 0, 0))
        img = np.asarray(pil).astype(np.float64)
    if a.noise:
        grey = np.random.default_rng(a.seed).normal(0, a.noise, size=(h, w))
        img = img + grey[:, :, None]
    img = np.clip(img, 0, 255)
    if a.crop:
        t, left = int(round(h * a.crop)), int(round(w * a.crop))
        pil = Image.fromarray(img[t:h - t, left:w - left].astype(np.uint8))
        img = np.asarray(pil.resize((w, h), Image.BILINEAR)).astype(np.float64)
    if a.warm:
        img = img * np.array([1.0, 0.85, 0.65])[None, None, :]
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    if a.jpeg:
        pil.save(a.out + ".jpg", quality=a.jpeg)
    else:
        pil.save(a.out + ".png")
    with open(a.out + ".csv", "w") as f:
        f.write("time_s," + ",".join(ALL) + "\n")
        for j in range(5000):
            cells = ["" if np.isnan(truth[n][j]) else f"{truth[n][j]:.4f}" for n in ALL]
            f.write(f"{j / FS:.3f}," + ",".join(cells) + "\n")


if __name__ == "__main__":
    main()
