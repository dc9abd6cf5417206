#!/usr/bin/env python3
"""Plausibility of digitized real pages (no ground truth): for every JSON that ecg-digitize
wrote, are there 12 leads, a heart rate of 30-220 bpm (median over the leads), and amplitudes
under 5 mV? Prints one line per page and a summary; overlays still need a look by eye.

usage: real_images_report.py <dir of .json outputs> [<dir of input images>]
"""
import json
import sys
from pathlib import Path


def heart_rate(samples, fs):
    """Beats per minute from R peaks: local maxima of the absolute slope's envelope."""
    xs = [v for v in samples if v is not None]
    if len(xs) < fs * 2:
        return None
    mean = sum(xs) / len(xs)
    xs = [v - mean for v in xs]
    slope = [abs(xs[i + 1] - xs[i - 1]) for i in range(1, len(xs) - 1)]
    thr = 0.5 * sorted(slope)[int(len(slope) * 0.99)]
    peaks, last = [], -fs
    for i, s in enumerate(slope):
        if s > thr and i - last > 0.25 * fs:
            peaks.append(i)
            last = i
    if len(peaks) < 2:
        return None
    rr = [(b - a) / fs for a, b in zip(peaks, peaks[1:])]
    rr.sort()
    return 60.0 / rr[len(rr) // 2]


def main():
    out = Path(sys.argv[1])
    inputs = Path(sys.argv[2]) if len(sys.argv) > 2 else None
    names = sorted(p.stem for p in inputs.iterdir()) if inputs else sorted(p.stem for p in out.glob("*.json"))
    ok = 0
    for name in names:
        path = out / f"{name}.json"
        if not path.exists():
            print(f"{name:40s} FAILED (no output)")
            continue
        d = json.loads(path.read_text())
        leads = d["leads"]
        # The page's heart rate: the median over the leads long enough to show two beats
        # (a 3x4 page without a rhythm strip has 2.5 s panels; one flat lead says nothing).
        rates = sorted(r for r in (heart_rate(l["samples_mv"], d["fs_hz"]) for l in leads) if r)
        hr = rates[len(rates) // 2] if rates else None
        amp = max((abs(v) for l in leads for v in l["samples_mv"] if v is not None), default=0)
        good = len(leads) == 12 and hr is not None and 30 <= hr <= 220 and amp < 5
        ok += good
        hr_text = f"{hr:5.0f}" if hr else "    -"
        print(f"{name:40s} {'ok ' if good else 'BAD'} leads {len(leads):2d} hr {hr_text} max {amp:5.2f} mV layout {d['layout']}")
    print(f"\n{ok} of {len(names)} pages give 12 plausible leads")


if __name__ == "__main__":
    main()
