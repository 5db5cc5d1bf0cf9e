#!/usr/bin/env python3
"""m4_prune_ceiling.py - how fast can the microcontroller rule make a network on the M4?

The microcontroller class prunes weights in groups of G = 2 (q15) in every fully connected
layer and every convolution with one group; depthwise layers, pooling, adds, requantization
and the im2row stay. This script removes a given share of every such layer's groups (lowest
RMS first, the library's group choice), packs the model for cortex-m4, quantizes it to q15
and counts one forward pass on the emulated M4 (bench/cortex_m_lenet.py's measure), for each
rate asked: the speed-up any training schedule could reach at that rate, accuracy aside (the
pruned weights are not retrained; the errors it prints are what pruning alone does).

    /usr/bin/python3 tools/m4_prune_ceiling.py MODEL.scpn DATA_DIR [RATES]
    e.g. tools/m4_prune_ceiling.py build/tr2/ds-cnn-fashion-mnist-dense.scpn ../shared/data/fashion-mnist 0.5,0.9,0.99
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "bench")]
import numpy as np  # noqa: E402
from scalpel.model import CONV2D, FC, Model  # noqa: E402
import scalpel.torch as spt  # noqa: E402
import cortex_m_lenet  # noqa: E402

G = 2


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    model, data = sys.argv[1], sys.argv[2]
    rates = [float(r) for r in (sys.argv[3] if len(sys.argv) == 4 else "0.5,0.7,0.9,0.99").split(",")]
    if any(not 0.0 < r < 1.0 for r in rates):
        sys.exit("m4_prune_ceiling.py: rates must lie in (0, 1)")
    out = os.path.join(ROOT, "build", "m4-ceiling")
    os.makedirs(out, exist_ok=True)
    cli = os.path.join(out, "scalpel")
    subprocess.run(["cc", "-O2", "-DSCALPEL_ZLIB", "-I" + ROOT, os.path.join(ROOT, "examples", "scalpel_cli.c"),
                    "-o", cli, "-lz", "-lm"], check=True)
    base = os.path.splitext(os.path.basename(model))[0].replace("-", "_")
    dense = cortex_m_lenet.measure(cli, model, base + "_dense", ["--data", data])
    print(f"{model}: dense {dense['cyc']} cycles, q15 error {dense['qerr']}%")
    print("| rate of every prunable layer | M4 q15 cycles | speed-up | q15 error (not retrained) |")
    print("| ---: | ---: | ---: | ---: |")
    for r in rates:
        m = Model.load(model)
        for L in m.layers:
            if L.w is not None and (L.kind == FC or (L.kind == CONV2D and L.groups == 1)):
                keep, _ = spt.groups_rate_mask(L.w.reshape(L.rows, L.cols), G, r)
                L.w = (L.w.reshape(L.rows, L.cols) * keep).astype(np.float32).reshape(L.w.shape)
        pruned = os.path.join(out, f"{base}-{int(round(r * 100))}.scpn")
        packed = pruned[:-5] + "-m4.scpn"
        m.save(pruned)
        subprocess.run([cli, "pack", "--hw", "cortex-m4", pruned, "-o", packed], check=True, capture_output=True)
        p = cortex_m_lenet.measure(cli, packed, f"{base}_{int(round(r * 100))}", ["--data", data])
        print(f"| {100 * r:.0f}% | {p['cyc']} | {dense['cyc'] / p['cyc']:.2f}x | {p['qerr']}% |")


if __name__ == "__main__":
    main()
