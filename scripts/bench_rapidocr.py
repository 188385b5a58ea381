#!/usr/bin/env python3
"""Times RapidOCR (rapidocr-onnxruntime 1.4.4, PP-OCRv4 det + rec + mobile cls, default
config) on the given images, the baseline `thirdfactor eval documents --rapidocr-python`
compares against. Run with the Python of a venv that has the package:

    python3 -m venv /tmp/rapidocr-venv && /tmp/rapidocr-venv/bin/pip install rapidocr-onnxruntime==1.4.4

Prints `image<TAB>milliseconds<TAB>lines` per image (wall time of decode + OCR)."""
import sys
import time

from rapidocr_onnxruntime import RapidOCR


def main(paths):
    engine = RapidOCR()
    if paths:
        engine(paths[0])  # warm-up, as the Rust side does
    for path in paths:
        started = time.perf_counter()
        result, _ = engine(path)
        ms = 1000.0 * (time.perf_counter() - started)
        print(f"{path}\t{ms:.1f}\t{len(result or [])}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
