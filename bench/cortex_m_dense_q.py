#!/usr/bin/env python3
"""cortex_m_dense_q.py - the dense fixed-point layers of the LeNets on the emulated Cortex-M4,
side by side with CMSIS-NN's int8 (s8) kernels, in estimated cycles per multiply-accumulate
(the QEMU plugin's M4 model, -O2, batch 1):

    /usr/bin/python3 bench/cortex_m_dense_q.py        (part of make bench-cortex-m)

Builds and counts bench/cortex_m_dense_q.c with tests/cortex-m/run.sh (the 4 MB linker script:
the q15 fc 784 -> 300 weights alone take 470 KB). The CMSIS-NN figures are the ones measured
earlier with the same counter (CMSIS-NN built with its DSP path and called
directly); a q7 figure at or under its CMSIS-NN figure is a PASS. A convolution is compared with
its im2row counted, as CMSIS-NN's convolution counts its im2col; the matrix product alone is
shown beside it. Exits non-zero when the build or the run fails (the program checks every
output against the `_ref` kernels), not on a MISS: the table is a measurement.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# shape -> CMSIS-NN s8 cycles per MAC on the M4 model
CMSIS_S8 = {"fc 784 -> 300": 2.37, "fc 300 -> 100": 2.54, "fc 100 -> 10": 3.24,
            "conv 20x12x12 -> 50 5x5": 2.39, "conv 1x28x28 -> 20 5x5": 8.11}


def main():
    elf = os.path.join(ROOT, "build", "bench", "cortex_m_dense_q-m4.elf")
    os.makedirs(os.path.dirname(elf), exist_ok=True)
    cmd = ["sh", "tests/cortex-m/run.sh", "count", "m4", elf, "bench/cortex_m_dense_q.c"]
    env = dict(os.environ, CORTEX_M_LD=os.path.join(ROOT, "tests", "cortex-m", "cortex-m-4mb.ld"))
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    text = out.stdout + out.stderr
    if out.returncode != 0 or "MISMATCH" in text:
        sys.exit(f"cortex_m_dense_q.py: {' '.join(cmd)} failed:\n{text}")
    cases = re.findall(r"^case (.+) (q15|q7): (\d+) MACs$", text, re.M)
    m = re.search(r"cyc_per_pair=([\d,]+)", text)
    if not cases or not m:
        sys.exit(f"cortex_m_dense_q.py: no counts in the output of {' '.join(cmd)}:\n{text}")
    cycles = [int(v) for v in m.group(1).split(",")]
    # one pair per fc, two per conv (im2row, then the product)
    per = {}
    i = 0
    for shape, typ, macs in cases:
        n = 2 if shape.startswith("conv") else 1
        if i + n > len(cycles):
            sys.exit("cortex_m_dense_q.py: fewer marker pairs than cases")
        per[(shape, typ)] = (int(macs), cycles[i:i + n])
        i += n
    if i != len(cycles):
        sys.exit("cortex_m_dense_q.py: more marker pairs than cases")
    print("### Cortex-M4: dense fixed-point layers against CMSIS-NN s8, estimated cycles per MAC (model m4)\n")
    print("| shape | CMSIS-NN s8 | Scalpel q7 | q7: product alone | Scalpel q15 | q7 against CMSIS-NN |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    misses = 0
    for shape, ref in CMSIS_S8.items():
        if (shape, "q7") not in per or (shape, "q15") not in per:
            sys.exit(f"cortex_m_dense_q.py: no count for {shape}")
        macs, c7 = per[(shape, "q7")]
        _, c15 = per[(shape, "q15")]
        q7, q15 = sum(c7) / macs, sum(c15) / macs
        alone = f"{c7[-1] / macs:.2f}" if len(c7) > 1 else ""
        ok = round(q7, 2) <= ref
        misses += not ok
        print(f"| {shape} | {ref:.2f} | {q7:.2f} | {alone} | {q15:.2f} | "
              f"{'PASS' if ok else 'MISS'} ({ref / q7:.2f}x) |")
    print(f"\n{len(CMSIS_S8) - misses} of {len(CMSIS_S8)} shapes at or under CMSIS-NN's s8 figure\n")


if __name__ == "__main__":
    main()
