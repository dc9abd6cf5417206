#!/usr/bin/env python3
"""WFDB round trip: the record ecg-digitize writes must read back, with the `wfdb` package,
to the same millivolts as its CSV (to 1 µV), with empty CSV cells as NaN.

usage: wfdb_roundtrip.py <ecg-digitize binary> <image>
"""
import csv
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import wfdb


def main() -> int:
    binary, image = sys.argv[1], Path(sys.argv[2])
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([binary, str(image), "--out-dir", out, "--format", "csv,wfdb"], check=True)
        stem = image.stem
        record = wfdb.rdrecord(str(Path(out) / stem))
        with open(Path(out) / f"{stem}.csv", newline="") as f:
            rows = list(csv.reader(f))
        header, rows = rows[0], rows[1:]
        assert record.fs == 500, record.fs
        assert record.sig_len == len(rows), (record.sig_len, len(rows))
        assert record.sig_name == header[1:], record.sig_name
        assert all(u == "mV" for u in record.units), record.units
        assert all(g == 1000 for g in record.adc_gain), record.adc_gain
        checked = 0
        for n, row in enumerate(rows):
            for j, cell in enumerate(row[1:]):
                value = record.p_signal[n, j]
                if cell == "":
                    assert math.isnan(value), (n, j, value)
                else:
                    assert abs(value - float(cell)) <= 0.0015, (n, header[j + 1], value, cell)
                    checked += 1
        assert checked > 12 * 1000, checked
        print(f"wfdb round trip ok: {checked} samples of {len(record.sig_name)} leads match the CSV")
    return 0


if __name__ == "__main__":
    sys.exit(main())
