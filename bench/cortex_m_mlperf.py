#!/usr/bin/env python3
"""cortex_m_mlperf.py - the four MLPerf Tiny models in q7 on the emulated Cortex-M4 and M55,
dense and with SIMD-aware pruning of 50, 70 and 90% of the grouped layers' groups: estimated
cycles of one inference, flash, RAM and stack, against a 256 KB RAM / 1 MB flash part.

    /usr/bin/python3 bench/cortex_m_mlperf.py        (make bench-cortex-m-mlperf)

1. tests/gen_mlperf_firmware.c builds the models of examples/reference_nets.h (random weights
   from a fixed seed, BatchNorms folded, no final softmax), quantizes them to q7 with one
   weight scale per output channel (calibrated on random inputs) and exports each with
   scalpel_qnet_export_c, with one input and the host's output, into build/bench/mlperf/;
   with --pruned also the variants _p50 / _p70 / _p90 (G = 4 groups of the FC layers and the
   one-group convolutions removed, lowest RMS first, then planned and packed for the q7
   cortex-m4 profile: the layers above their kernel's break-even go grouped CSR), counted on
   the M4, and _p50_mve / ... (G = 16, the cortex-m55 profile), counted on the M55.
2. tests/cortex-m/mlperf_firmware.c runs each under QEMU with the instruction counter (static
   workspace, no malloc; the output must equal the host's, or the run fails) and gives the
   estimated cycles of the forward pass (the M4 or M55 timing rules of the counter).
3. arm-none-eabi-size gives flash (text + data) and RAM (data + bss: the workspace, the test
   board's C library); GCC's call graph (-fcallgraph-info=su) the deepest stack under
   scalpel_qnet_forward. "workspace" is what the planner needs (two ping-pong buffers, the
   tensors a later layer reads again, one block of im2row), "tensors" what every tensor of
   the network would take in a buffer of its own.
Prints Markdown tables; exits non-zero when anything fails.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "bench", "mlperf")
MODELS = [("ds_cnn", "DS-CNN (keyword spotting)"), ("mobilenet_v1", "MobileNetV1-0.25 (visual wake words)"),
          ("resnet_8", "ResNet-8 (image classification)"), ("autoencoder", "FC autoencoder (anomaly detection)")]
RAM_PART, FLASH_PART = 256 * 1024, 1024 * 1024
sys.path.insert(0, os.path.join(ROOT, "bench"))
from cortex_m_lenet import deepest_stack  # noqa: E402  (the same stack reading as the LeNet table)


def run(cmd):
    p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit("cortex_m_mlperf: failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stdout))
    return p.stdout


def main():
    os.makedirs(OUT, exist_ok=True)
    gen = os.path.join(OUT, "gen_mlperf_firmware")
    run(["cc", "-O2", "-I.", "tests/gen_mlperf_firmware.c", "-o", gen, "-lm"])
    print(run([gen, OUT, "--pruned"]))
    for core in ("m4", "m55"):
        print("### Cortex-%s: MLPerf Tiny in q7 (per-channel weights), batch 1, estimated cycles (%s model)\n"
              % (core.upper(), core))
        g = 16 if core == "m55" else 4
        print("Pruned: that share of the G = %d weight groups (the q7 SIMD width of the core) removed from the FC "
              "layers and the one-group convolutions (depthwise filters kept whole), then planned for the %s "
              "profile: only the layers above their kernel's break-even are stored grouped (\"grouped\"); "
              "\"MACs run\" counts the stored weights.\n" % (g, "cortex-m55" if core == "m55" else "cortex-m4"))
        print("| model | pruned | grouped | MACs run | weight bytes | est. cycles | speed-up | flash | RAM "
              "| workspace / all tensors | stack | fits 256 KB / 1 MB |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, title in MODELS:
            dense_cyc = None
            for pct in (0, 50, 70, 90):
                variant = name if pct == 0 else "%s_p%d%s" % (name, pct, "_mve" if core == "m55" else "")
                row = one(core, variant, title if pct == 0 else "", pct)
                if pct == 0:
                    dense_cyc = row[0]
                print(row[1].replace("SPEEDUP", "%.2fx" % (dense_cyc / row[0])))
        print()


def one(core, name, title, pct):
    """Counts one exported variant on one core: (cycles, the table row with SPEEDUP to fill)."""
    elf = os.path.join(OUT, "%s-%s.elf" % (name, core))
    out = run(["sh", "tests/cortex-m/run.sh", "count", core, elf, "tests/cortex-m/mlperf_firmware.c", "-I" + OUT,
               "-DSCALPEL_NO_MALLOC", "-DMLPERF=" + name, "-fcallgraph-info=su"])
    m = re.search(r"layers \((\d+) grouped\), (\d+) weight bytes, workspace (\d+) bytes \(all tensors: (\d+)\), "
                  r"(\d+) MACs, (\d+) run", out)
    cyc = int(re.search(r"cyc_per_pair=(\d+)", out).group(1))
    size = run(["arm-none-eabi-size", elf]).splitlines()[1].split()
    text, data_b, bss = int(size[0]), int(size[1]), int(size[2])
    stack, dyn = deepest_stack(elf + "-mlperf_firmware.ci")
    grouped, wb, ws, tensors, macs, macs_run = (int(v) for v in m.groups())
    flash, ram = text + data_b, data_b + bss
    fits = "yes" if ram + stack <= RAM_PART and flash <= FLASH_PART else "no (%s)" % (
        "RAM" if ram + stack > RAM_PART else "flash")
    return cyc, "| %s | %s | %d | %d | %d | %d | SPEEDUP | %d | %d | %d / %d | %d%s | %s |" % (
        title, "%d%%" % pct if pct else "dense", grouped, macs_run, wb, cyc, flash, ram, ws, tensors, stack,
        " (dynamic: %s)" % dyn if dyn else "", fits)


if __name__ == "__main__":
    main()
