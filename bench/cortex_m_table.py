#!/usr/bin/env python3
"""Turn the per-pair counts of bench/cortex_m.c (tests/cortex-m/run.sh count) into the paper's
Cortex-M matrix-vector table: time relative to dense, by pruning rate, for CSR and grouped CSR.

usage: cortex_m_table.py CORE < output-of-run.sh-count
"""
import re
import sys

RATES = [30, 40, 50, 60, 70, 80, 90, 95, 99]
FORMATS = ["CSR (G=1)", "grouped G=2", "grouped G=4"]


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else "?"
    text = sys.stdin.read()
    backend = re.search(r"backend (\S+)", text)
    cyc = re.search(r"cyc_per_pair=([0-9,]+)", text)
    ins = re.search(r"per_pair=([0-9,]+)", text)
    if not cyc or not ins:
        sys.exit("cortex_m_table.py: no per-pair counts in the input (did the QEMU plugin run?)")
    cycles = [int(v) for v in cyc.group(1).split(",")]
    insns = [int(v) for v in ins.group(1).split(",")]
    if len(cycles) != 1 + len(RATES) * len(FORMATS):
        sys.exit("cortex_m_table.py: expected %d pairs, got %d" % (1 + len(RATES) * len(FORMATS), len(cycles)))
    dense = cycles[0]
    print("### Cortex-%s, backend %s: 100x100 fp32 matrix-vector, estimated cycles relative to dense"
          % (core.upper(), backend.group(1) if backend else "?"))
    print()
    print("dense gemv: %d cycles (%d instructions)" % (dense, insns[0]))
    print()
    print("| rate | " + " | ".join(FORMATS) + " |")
    print("| ---: | " + " | ".join("---:" for _ in FORMATS) + " |")
    breakeven = {}
    prev = None
    for i, rate in enumerate(RATES):
        rel = [cycles[1 + i * len(FORMATS) + j] / dense for j in range(len(FORMATS))]
        print("| %d%% | " % rate + " | ".join("%.3f" % r for r in rel) + " |")
        for j, name in enumerate(FORMATS):
            if name in breakeven:
                continue
            if rel[j] <= 1.0:
                if prev is None:
                    breakeven[name] = "<= %d%%" % rate
                else:
                    r0, r1 = prev[j], rel[j]
                    t = (r0 - 1.0) / (r0 - r1) if r0 != r1 else 0.0
                    breakeven[name] = "%.0f%%" % (RATES[i - 1] + t * (rate - RATES[i - 1]))
        prev = rel
    print()
    print("break-even pruning rate: " + ", ".join(
        "%s %s" % (name, breakeven.get(name, "> 99%")) for name in FORMATS))


if __name__ == "__main__":
    main()
