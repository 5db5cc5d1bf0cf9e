#!/usr/bin/env python3
"""cortex_m_lenet.py - LeNet-300-100 and LeNet-5 end to end on an emulated Cortex-M4, in q15:
dense, Traditional and Scalpel, as the paper's Table (M4 column) measures them.

    python3 bench/cortex_m_lenet.py          (make bench-cortex-m-lenet)

For each model file it
  1. quantizes it to q15 with `scalpel quantize` (activation ranges from 500 MNIST training
     images; the synthetic digits when MNIST is absent) and reads back the float and q15 test
     errors and weight bytes the tool prints; the header goes to build/bench/lenet/;
  2. builds tests/cortex-m/qnet_deploy.c around that header (static deployment: no malloc, one
     static workspace) with -fcallgraph-info=su, runs it under QEMU with the instruction
     counter and takes the estimated M4 cycles of one forward pass;
  3. reads flash (text + data) and RAM (data + bss) from arm-none-eabi-size, and the deepest
     stack of scalpel_qnet_forward from the call graph GCC wrote (static frames only; the
     memcpy / memset leaves of newlib add a few dozen bytes).
Speed-up = dense cycles / cycles; relative size = weight bytes / dense weight bytes (values,
indices, row pointers, biases, multipliers and shifts, all counted).

Models: models/lenet300-{dense,traditional}.scpn and models/lenet5-{dense,traditional}.scpn
(Traditional = Han's pruning in CSR, profile-independent), and the Scalpel models pruned for
the cortex-m4 profile (G = 2 everywhere): models/cortex-m4/lenet{300,5}-scalpel.scpn.

Then models/fashion-mnist/ds-cnn-dense.scpn (the DS-CNN trained in PyTorch on Fashion-MNIST:
conv 64 stride 2, four depthwise-separable blocks, average pooling, fc 10) in q15 and q7,
per layer and per output channel, calibrated on 500 Fashion-MNIST training images: test
errors, cycles, flash, RAM, stack. Skipped, saying so, without Fashion-MNIST."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "bench", "lenet")
NETS = [("lenet300", "LeNet-300-100", 9.17, 6.93), ("lenet5", "LeNet-5", 3.51, 6.72)]
VARIANTS = [("dense", "models/{n}-dense.scpn"), ("traditional", "models/{n}-traditional.scpn"),
            ("scalpel", "models/cortex-m4/{n}-scalpel.scpn")]
PAPER_TRAD = {"lenet300": (6.01, 9.31), "lenet5": (1.19, 7.08)}


def run(cmd, env=None):
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("cortex_m_lenet: failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout))
    return p.stdout


def data_args():
    d = os.environ.get("SCALPEL_MNIST_DIR") or os.path.join(ROOT, "..", "shared", "data", "mnist")
    return ["--data", d] if os.path.isdir(d) else ["--synthetic"]


def fashion_dir():
    d = os.environ.get("SCALPEL_FASHION_MNIST_DIR") or os.path.join(ROOT, "..", "shared", "data", "fashion-mnist")
    return d if os.path.isdir(d) else None


def dscnn_table(cli):
    """The Fashion-MNIST DS-CNN in q15 and q7, per layer and per channel, on the emulated M4."""
    d = fashion_dir()
    print("## DS-CNN trained on Fashion-MNIST, on the Cortex-M4 (batch 1, estimated cycles)\n")
    if d is None:
        print("Not measured: no Fashion-MNIST (set SCALPEL_FASHION_MNIST_DIR).\n")
        return
    model, macs_dense = "models/fashion-mnist/ds-cnn-dense.scpn", 3776384
    print("| quantization | test error float / fixed | weight bytes | est. cycles | cycles per MAC | flash / RAM bytes"
          " | stack bytes |")
    print("|---|---|---|---|---|---|---|")
    for dt in ("q15", "q7"):
        for pc in (False, True):
            args = ["--data", d, "--dtype", dt] + (["--per-channel"] if pc else [])
            r = measure(cli, model, "dscnn_%s%s" % (dt, "_pc" if pc else ""), args)
            print("| %s per %s | %s%% / %s%% | %d | %d | %.2f | %d / %d | %d%s |" % (
                dt, "channel" if pc else "layer", r["ferr"], r["qerr"], r["wb"], r["cyc"], r["cyc"] / macs_dense,
                r["flash"], r["ram"], r["stack"], " (dynamic: %s)" % r["dyn"] if r["dyn"] else ""))
    print()


def deepest_stack(ci_path, root="scalpel_qnet_forward"):
    frames, edges = {}, {}
    for line in open(ci_path):
        m = re.match(r'node: \{ title: "([^"]+)" label: "[^"]*\\n[^"]*\\n(\d+) bytes \((\w+)', line)
        if m:
            frames[m.group(1)] = (int(m.group(2)), m.group(3))
        m = re.match(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"', line)
        if m:
            edges.setdefault(m.group(1), []).append(m.group(2))
    dynamic = [n for n, (_, q) in frames.items() if q != "static"]
    memo = {}

    def depth(n, seen):
        if n in memo:
            return memo[n]
        if n in seen:
            sys.exit("cortex_m_lenet: recursion through %s" % n)
        d = frames.get(n, (0, "static"))[0] + max([depth(c, seen | {n}) for c in edges.get(n, [])] or [0])
        memo[n] = d
        return d
    return depth(root, frozenset()), dynamic


def measure(cli, model, name, data):
    """One model file on the emulated M4: quantized to q15 (`scalpel quantize`, activation
    ranges from `data`: ["--data", DIR] or ["--synthetic"]) into OUT/NAME.h, built into
    tests/cortex-m/qnet_deploy.c and counted. Returns the float and q15 test errors (strings, in
    %), fixed-point weight bytes, estimated cycles and instructions of one forward pass, flash,
    RAM and the deepest static stack (with any dynamic frames named)."""
    os.makedirs(OUT, exist_ok=True)
    env = dict(os.environ, CORTEX_M_LD=os.path.join(ROOT, "tests", "cortex-m", "cortex-m-4mb.ld"))
    q = run([cli, "quantize", model, name, "-o", os.path.join(OUT, name + ".h")] + data)
    errs = re.search(r"float ([\d.]+)%, fixed point ([\d.]+)%", q)
    wb = re.search(r"weight bytes: float (\d+), fixed point (\d+)", q)
    elf = os.path.join(OUT, name + ".elf")
    c = run(["sh", "tests/cortex-m/run.sh", "count", "m4", elf, "tests/cortex-m/qnet_deploy.c", "-I" + OUT,
             "-DSCALPEL_NO_MALLOC", '-DQNET_HEADER="%s.h"' % name, "-DQNET=" + name, "-fcallgraph-info=su"], env=env)
    cyc = int(re.search(r"cyc_per_pair=(\d+)", c).group(1))
    ins = int(re.search(r" per_pair=(\d+)", c).group(1))
    size = run(["arm-none-eabi-size", elf]).splitlines()[1].split()
    text, data_b, bss = int(size[0]), int(size[1]), int(size[2])
    stack, dyn = deepest_stack(elf + "-qnet_deploy.ci")
    return dict(ferr=errs.group(1), qerr=errs.group(2), wb=int(wb.group(2)), cyc=cyc, ins=ins, flash=text + data_b,
                ram=data_b + bss, stack=stack, dyn=dyn)


def main():
    os.makedirs(OUT, exist_ok=True)
    cli = os.path.join(OUT, "scalpel")
    zlib = subprocess.run(["sh", "-c", "echo '#include <zlib.h>' | cc -E - >/dev/null 2>&1"]).returncode == 0
    run(["cc", "-O2", "-I."] + (["-DSCALPEL_ZLIB"] if zlib else []) + ["examples/scalpel_cli.c", "-o", cli] +
        (["-lz"] if zlib else []) + ["-lm"])
    print("## Cortex-M4 end to end: q15, batch 1, estimated cycles (QEMU + instruction counter, M4 timing rules)\n")
    for net, title, paper_speed, paper_size in NETS:
        rows = []
        for var, pattern in VARIANTS:
            r = measure(cli, pattern.format(n=net), "%s_%s" % (net, var), data_args())
            r["var"] = var
            rows.append(r)
        d = rows[0]
        print("### %s (MNIST)\n" % title)
        print("| model | test error float / q15 | weight bytes | relative size | instructions | est. cycles | speed-up"
              " | flash / RAM bytes | stack bytes |")
        print("|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            print("| %s | %s%% / %s%% | %d | %.2f%% | %d | %d | %.2fx | %d / %d | %d%s |" % (
                r["var"], r["ferr"], r["qerr"], r["wb"], 100.0 * r["wb"] / d["wb"], r["ins"], r["cyc"],
                d["cyc"] / r["cyc"], r["flash"], r["ram"], r["stack"], " (dynamic: %s)" % r["dyn"] if r["dyn"] else ""))
        t = PAPER_TRAD[net]
        print("\nPaper (M4): Scalpel %.2fx / %.2f%%, Traditional %.2fx / %.2f%%. Dense q15: %.2f cycles per MAC "
              "of the whole network.\n" % (paper_speed, paper_size, t[0], t[1], d["cyc"] / macs(net)))


def macs(net):
    # multiply-accumulates of one dense forward pass
    return 784 * 300 + 300 * 100 + 100 * 10 if net == "lenet300" else \
        20 * 25 * 24 * 24 + 50 * 500 * 8 * 8 + 800 * 500 + 500 * 10


if __name__ == "__main__":
    main()
    dscnn_table(os.path.join(OUT, "scalpel"))
