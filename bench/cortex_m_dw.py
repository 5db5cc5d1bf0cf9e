#!/usr/bin/env python3
"""cortex_m_dw.py - the fixed-point depthwise convolution on the MLPerf Tiny depthwise shapes,
counted on the emulated Cortex-M4 and M55: the library's DSP / Helium build against the same
kernel as plain C (SCALPEL_NO_SIMD), in estimated cycles per multiply-accumulate.

    /usr/bin/python3 bench/cortex_m_dw.py        (make bench-cortex-m-dw)

Builds and counts bench/cortex_m_dw.c with tests/cortex-m/run.sh; prints a Markdown table.
Exits non-zero when a build or a run fails (the program checks every output against the
reference kernel before it is counted).
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def count(core, plain):
    elf = os.path.join(ROOT, "build", "bench", f"cortex_m_dw-{core}{'-c' if plain else ''}.elf")
    os.makedirs(os.path.dirname(elf), exist_ok=True)
    cmd = ["sh", "tests/cortex-m/run.sh", "count", core, elf, "bench/cortex_m_dw.c"] + (["-DSCALPEL_NO_SIMD"] if plain else [])
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    text = out.stdout + out.stderr
    if out.returncode != 0:
        sys.exit(f"cortex_m_dw.py: {' '.join(cmd)} failed:\n{text}")
    shapes = re.findall(r"^shape (q15|q7) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+) macs (\d+)$", text, re.M)
    m = re.search(r"cyc_per_pair=([\d,]+)", text)
    if not m or len(shapes) != len(m.group(1).split(",")):
        sys.exit(f"cortex_m_dw.py: no counts in the output of {' '.join(cmd)}:\n{text}")
    cycles = [int(v) for v in m.group(1).split(",")]
    return [(s, int(s[7]), c) for s, c in zip(shapes, cycles)]


def main():
    for core in ("m4", "m55"):
        fast, plain = count(core, False), count(core, True)
        print(f"### Cortex-{core.upper()}: depthwise 3x3, estimated cycles per MAC (model {core})\n")
        print("| type | C x H x W, stride | MACs | plain C | library | speed-up |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for (s, macs, cf), (_, _, cp) in zip(fast, plain):
            print(f"| {s[0]} | {s[1]} x {s[2]} x {s[3]}, {s[5]} | {macs} | {cp / macs:.2f} | {cf / macs:.2f} | "
                  f"{cp / cf:.2f}x |")
        print()


if __name__ == "__main__":
    main()
