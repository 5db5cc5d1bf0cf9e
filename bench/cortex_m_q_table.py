#!/usr/bin/env python3
"""Turn the per-pair counts of bench/cortex_m_q.c (tests/cortex-m/run.sh count) into the paper's
Figure 9 tables in fixed point: per pruning rate, estimated cycles (and executed instructions)
relative to the dense kernel for CSR (G = 1) and grouped CSR, the paper's Cortex-M4 figures beside
them, the break-even pruning rate of each format and the dense kernel's cycles per MAC.

usage: cortex_m_q_table.py CORE < output-of-run.sh-count
"""
import re
import sys

RATES = [10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 99]
# scalpel-method.md section 6, "Kernel sweeps": M4 100x100 matrix-vector, relative time vs dense
PAPER_MV = {"CSR": [None, None, 2.069, 1.791, 1.514, 1.244, 0.958, 0.682, 0.407, 0.251, 0.120],
            "grouped": [None, None, 1.318, 1.145, 0.973, 0.801, 0.630, 0.457, 0.286, 0.198, 0.120]}
# scalpel-method.md section 2: measured break-even pruning rates on the Cortex-M4
PAPER_BREAKEVEN = {"mv": (68, 48), "mm": (73, 56)}
# the three sweeps of cortex_m_q.c, in the order of its marker pairs
SWEEPS = [("q15 matrix-vector", "mv", 2, "mv"), ("q7 matrix-vector", "mv", 4, "mv"),
          ("q15 matrix-matrix", "mm", 2, "mm"), ("q7 matrix-matrix", "mm", 4, "mm")]


# the target: grouped break-even against the dense kernel of the same
# type at or under this pruning rate on the M4 matrix-vector sweeps
TARGET_GROUPED_MV = 35


def breakeven_rate(rel):
    """Pruning rate (float) where the relative time crosses 1.0, or None above the last rate."""
    for i, r in enumerate(rel):
        if r <= 1.0:
            if i == 0:
                return float(RATES[0])
            r0 = rel[i - 1]
            t = (r0 - 1.0) / (r0 - r) if r0 != r else 0.0
            return RATES[i - 1] + t * (RATES[i] - RATES[i - 1])
    return None


def breakeven(rel):
    """Pruning rate where the relative time crosses 1.0 (linear interpolation), as text."""
    for i, r in enumerate(rel):
        if r <= 1.0:
            if i == 0:
                return "<= %d%%" % RATES[0]
            r0 = rel[i - 1]
            t = (r0 - 1.0) / (r0 - r) if r0 != r else 0.0
            return "%.0f%%" % (RATES[i - 1] + t * (RATES[i] - RATES[i - 1]))
    return "> %d%%" % RATES[-1]


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else "?"
    text = sys.stdin.read()
    bad = [l for l in text.splitlines() if "MISMATCH" in l or re.search(r"^cortex-m .*: (FAIL|FAULT|TIMEOUT|BUILD)", l)]
    if bad:
        sys.exit("cortex_m_q_table.py: the bench failed:\n" + "\n".join(bad))
    backend = re.search(r"backend (\S+?),", text)
    macs = re.search(r"macs mv (\d+), mm (\d+)", text)
    nv = re.search(r"mm with (\d+) vectors", text)
    cyc = re.search(r"cyc_per_pair=([0-9,]+)", text)
    ins = re.search(r" per_pair=([0-9,]+)", text)
    if not cyc or not ins or not macs:
        sys.exit("cortex_m_q_table.py: no per-pair counts in the input (did the bench and the QEMU plugin run?)")
    cycles = [int(v) for v in cyc.group(1).split(",")]
    insns = [int(v) for v in ins.group(1).split(",")]
    per_sweep = 1 + 2 * len(RATES)
    if len(cycles) != len(SWEEPS) * per_sweep or len(insns) != len(cycles):
        sys.exit("cortex_m_q_table.py: expected %d pairs, got %d" % (len(SWEEPS) * per_sweep, len(cycles)))
    mac = {"mv": int(macs.group(1)), "mm": int(macs.group(2))}
    model = "M55" if core.lower() == "m55" else "M4"
    print("### Cortex-%s (backend %s): 100x100 fixed point, estimated cycles (%s model) and "
          "instructions relative to dense" % (core.upper(), backend.group(1) if backend else "?", model))
    summary = []
    gm = re.search(r"grouped q15 G=(\d+) q7 G=(\d+)", text)
    gq15, gq7 = (int(gm.group(1)), int(gm.group(2))) if gm else (2, 4)
    for s, (title, op, g, kind) in enumerate(SWEEPS):
        g = gq15 if title.startswith("q15") else gq7
        c = cycles[s * per_sweep:(s + 1) * per_sweep]
        n = insns[s * per_sweep:(s + 1) * per_sweep]
        csr = [c[1 + 2 * i] / c[0] for i in range(len(RATES))]
        grp = [c[2 + 2 * i] / c[0] for i in range(len(RATES))]
        csr_i = [n[1 + 2 * i] / n[0] for i in range(len(RATES))]
        grp_i = [n[2 + 2 * i] / n[0] for i in range(len(RATES))]
        shape = "100x100" if op == "mv" else "100x100 . 100x%s" % (nv.group(1) if nv else "?")
        print()
        print("#### %s %s, CSR (G=1) and grouped G=%d" % (title, shape, g))
        print()
        print("dense: %d cycles, %d instructions, %d MACs: %.2f cycles/MAC, %.2f instructions/MAC"
              % (c[0], n[0], mac[op], c[0] / mac[op], n[0] / mac[op]))
        print()
        paper = op == "mv"
        head = "| rate | CSR cycles | G=%d cycles | CSR insns | G=%d insns |" % (g, g)
        rule = "| ---: | ---: | ---: | ---: | ---: |"
        if paper:
            head += " paper M4 CSR | paper M4 grouped |"
            rule += " ---: | ---: |"
        print(head)
        print(rule)
        for i, rate in enumerate(RATES):
            row = "| %d%% | %.3f | %.3f | %.3f | %.3f |" % (rate, csr[i], grp[i], csr_i[i], grp_i[i])
            if paper:
                row += "".join(" - |" if v is None else " %.3f |" % v
                               for v in (PAPER_MV["CSR"][i], PAPER_MV["grouped"][i]))
            print(row)
        pc, pg = PAPER_BREAKEVEN[kind]
        print()
        print("break-even (cycles): CSR %s, G=%d %s; (instructions): CSR %s, G=%d %s; paper M4 %s: CSR %d%%, grouped %d%%"
              % (breakeven(csr), g, breakeven(grp), breakeven(csr_i), g, breakeven(grp_i), kind, pc, pg))
        verdict = ""
        if op == "mv" and model == "M4":
            be = breakeven_rate(grp)
            verdict = ("PASS" if be is not None and round(be) <= TARGET_GROUPED_MV else "MISS") + \
                " (target <= %d%%)" % TARGET_GROUPED_MV
        summary.append("| %s | %.2f | %s | %s | %d%% | %d%% | %s |"
                       % (title, c[0] / mac[op], breakeven(csr), breakeven(grp), pc, pg, verdict))
    print()
    print("#### Summary, Cortex-%s (cycle estimate)" % core.upper())
    print()
    print("| sweep | dense cycles/MAC | break-even CSR | break-even grouped | paper CSR | paper grouped | grouped |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for line in summary:
        print(line)


if __name__ == "__main__":
    main()
