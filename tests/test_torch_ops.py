#!/usr/bin/env python3
"""Parity of the C library's forward pass with PyTorch, for every layer kind, and the model
file format between python/scalpel and the C library.

Run from anywhere (the repository root is this file's parent's parent):

    /usr/bin/python3 tests/test_torch_ops.py [-v] [-k SUBSTRING]

It needs numpy and torch (it fails, never skips, without them) and the command-line tool
build/scalpel, which it (re)builds when missing or older than the headers or
examples/scalpel_cli.c:  cc -O2 -march=native -I. examples/scalpel_cli.c -o build/scalpel -lm.
SCALPEL_CLI=/path/to/tool uses another build of the tool instead. Exit status 0 when every
check passes, 1 otherwise (each failure names its case and the largest difference).

PARTS
  1. Forward parity. Each case builds a small network with python/scalpel (random weights,
     fixed seed), saves it, runs `scalpel run MODEL --input IN.npy --output OUT.npy --batch B`
     on random float32 inputs (N = 1 with B = 1; N = 3 with B = 3 and with B = 2, so that a
     batch is split), and compares with scalpel.to_torch(MODEL) run in float64 on the same
     input. Cases cover every kind and the parameters that change the code path: conv2d
     rectangular kernels (10x4 as DS-CNN), stride per axis, asymmetric "same" padding,
     dilation, groups 2, depthwise with channel multiplier 1 and 2, 1x1 (plain and strided),
     the square stride-1 path; max / average pooling with padding, ceil on and off,
     count_include_pad on and off, asymmetric and large pads, global average pooling;
     batchnorm on its own; add with a fused ReLU after it and without (its output read
     again); concat; every activation; softmax after fc and after conv; lrn across channels
     (with more than 64 channels, and channels of very different sizes) and within a
     channel; fc after a conv (flatten); skip connections through set_next_input;
     grouped-CSR layers (G = 1, 2, 4, 16, grouped and depthwise convolutions, 32-bit
     indices). A self-check first: the reference's two ways of pooling (PyTorch's padding
     and ceil mode, explicit padding and counts) agree wherever PyTorch takes the window.
 1b. The reference networks the C library builds (`scalpel demo --net NAME`: DS-CNN,
     MobileNetV1, ResNet-8, the FC autoencoder, ConvNet, NIN, LeNet-5) load in Python,
     re-serialize to the same bytes, and are checked layer by layer: each layer's C output
     (from the network cut after it) against PyTorch applied to the C tensors it read.
  2. Files. Python-written files of each dense case come back byte-identical from a C load
     and save (`scalpel pack --hw host --mode dense`, which keeps dense layers as they
     are); a network of the first version's kinds written as format version 1, 2 and 3
     runs the same in C; files the C library writes (`scalpel demo`, then packed to grouped
     CSR) load in Python and re-serialize to the same bytes.
 2b. Format version 4 (the header's packed batch and input preprocessing): files the C tool
     writes (`pack --batch 4`; `import-safetensors --mean --std`, the preprocessing folded
     into an fc and done by a batchnorm before a padded conv) load in Python with their
     metadata and re-serialize byte for byte; Python-written ones come back identical from a
     C load and save; invalid metadata is refused by the Python writer; every targeted
     change of the new header fields and the preprocessing array (checksum fixed) is judged
     by Python as the C reader judges it, and those that break the format are refused; a
     layer stored as the C no-retrain planner's TASD, which the C reader takes, is refused by
     Python with a message naming the layer and the storage.
  3. Hostile input. Every truncation, every single-bit flip of the header and records (the
     checksum catches it), bad versions and random bytes make Model.load raise ValueError;
     header and record bytes (and version 4's preprocessing array) changed with the checksum
     fixed up are accepted or refused by Python exactly when the C reader (`scalpel info`)
     accepts or refuses them (files of versions 1 to 4), and what
     Python accepts re-serializes to the same bytes. Nothing may raise another exception.

TOLERANCE (part 1): derived from rounding-error bounds, not from what passes.
  Notation: u = 2^-24 (float32 unit roundoff), gamma(n) = n*u / (1 - n*u). The C library
  computes in float32; the reference (to_torch in float64, whose own rounding, ~1e-16
  relative, is negligible here) is treated as exact. The test carries, next to every
  reference tensor t, a bound e(t) >= |C's float32 tensor - t| elementwise, starting from
  e = 0 for the network input (the same float32 values go to both). Per kind, with x the
  reference input, e its bound, y the reference output:
    fc, conv2d   an inner product of n = cols products plus the bias, in any order (SIMD,
                 blocked, FMA-contracted or not), is within gamma(n+1) * sum|terms|
                 (Higham, Accuracy and Stability, 3.1); the input error adds |W| . e:
                   e_y = |W| (*) e + gamma(cols+1) * (|W| (*) (|x| + e) + |b|)
                 where (*) is the layer's own operator (F.linear / F.conv2d on absolute
                 values: the "absolute-value network" gives sum|terms| for every output).
    relu, clip, maxpool, concat   exact operations, 1-Lipschitz: e_y = e (maxpool: the max
                 of e over the window; concat: both inputs' bounds).
    avgpool      m = kh*kw cells summed, one division: e_y = avg(e) + gamma(m+1) * avg(|x|+e)
                 with the layer's own divisor.
    batchnorm    x*a + c: e_y = |a| e + gamma(2) (|a| (|x|+e) + |c|).
    add          e_y = e1 + e2 + u (|x1| + |x2| + e1 + e2).
    leaky_relu   e_y = max(1, |s|) e + u |s| (|x| + e).
    sigmoid      slope <= 1/4; expf within L ulps (L = 2, one ulp <= 2u relative), then one
                 addition and one division: e_y = e/4 + (2uL + 2u) |y|.
    tanh         slope <= 1, tanhf within L ulps: e_y = e + 2uL |y|.
    hardswish    slope <= 3/2 (x*(x+3)/6 on [-3, 3]); x+3, two products and the constant
                 1/6 rounded: e_y = 1.5 e + 4u |y|.
    softmax      an input error E = max over the channels of e moves every y_c by a factor
                 in [exp(-2E), exp(2E)]; rounding: x_c - max (u |x_c - max| absolute, the
                 same relative in exp), expf (2uL), the sum of C terms (gamma(C)), the
                 division (u): e_y = y (expm1(2E) + 4uL + u (|x_c - m| + max_c |x_c - m|)
                 + gamma(C) + u).
    lrn          y = x / D^beta, D = k + a*s, s the window's sum of n squares (n = size
                 across channels, size^2 within one): computed as a sum of those n rounded
                 squares in any order, s is within gamma(n+1) s (the bound PyTorch's and any
                 direct summation meet; a running sum that adds and subtracts squares of
                 other channels does not, and is held to it: see lrn_across_dynamic_range);
                 D's rounding (a = alpha/n, a*s, k + .) gives a relative error
                 dD = (2u a s + a gamma(n+1) s) / D + u; powf adds 2uL and beta*dD, the
                 division u. The input error: |dy| <= e / D^beta + beta a |x| / D^(beta+1)
                 * window sum of 2 |x| e. e_y = that + |y| (beta dD + 2uL + u).
  The check is |C - reference| <= K * e_y + FLOOR with K = 2 (room for the second-order
  terms the first-order rules above drop, which are O(u^2) relative) and FLOOR = 2^-120
  (float32 results that underflow, e.g. expf of a very negative number, have absolute not
  relative error; 2^-120 is below every meaningful value here). Exact kinds therefore must
  match bit for bit. The report gives, per case, the largest |difference| and its ratio to
  the allowance. Part 1b uses the same rules for one layer at a time (e = 0 at its input).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import zlib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))
sys.dont_write_bytecode = True           # leave no __pycache__ in the source tree

try:
    import numpy as np
    import torch
except ImportError as exc:  # fail, never skip
    print(f"FAIL: test_torch_ops needs numpy and torch ({exc}); run it with /usr/bin/python3 "
          f"or install them", file=sys.stderr)
    sys.exit(1)

import scalpel                                   # noqa: E402
from scalpel import model as smodel              # noqa: E402
from scalpel import torch_ref                    # noqa: E402
from scalpel.model import (ADD, AVGPOOL, BATCHNORM, CLIP, CONCAT, CONV2D, FC, HARDSWISH,  # noqa: E402
                           LEAKY_RELU, LRN, LRN_WITHIN_CHANNEL, MAXPOOL, RELU, SIGMOID, SOFTMAX,
                           TANH, Model)

torch.set_grad_enabled(False)

U = 2.0 ** -24          # float32 unit roundoff
LIBM_ULPS = 2           # expf, tanhf, powf: within 2 ulps (glibc's are within 1)
LIBM = 2.0 * U * LIBM_ULPS
K_SAFETY = 2.0
FLOOR = 2.0 ** -120


def gamma(n: int) -> float:
    return n * U / (1.0 - n * U)


# ---- the command-line tool ------------------------------------------------------------------

def cli_path() -> Path:
    """The scalpel tool: $SCALPEL_CLI, or build/scalpel (re)built when missing or stale."""
    if os.environ.get("SCALPEL_CLI"):
        return Path(os.environ["SCALPEL_CLI"])
    exe = REPO / "build" / "scalpel"
    sources = [REPO / "examples" / "scalpel_cli.c"] + sorted(REPO.glob("scalpel*.h"))
    newest = max(p.stat().st_mtime for p in sources if p.exists())
    if not exe.exists() or exe.stat().st_mtime < newest:
        exe.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["cc", "-O2", "-march=native", "-I.", "examples/scalpel_cli.c", "-o", str(exe), "-lm"]
        print("building:", " ".join(cmd), flush=True)
        r = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        if r.returncode != 0:
            print(r.stdout + r.stderr, file=sys.stderr)
            raise SystemExit("FAIL: could not build the scalpel tool")
    return exe


def run_cli(cli: Path, *args, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run([str(cli), *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"`scalpel {' '.join(map(str, args))}` exited {r.returncode}: "
                             f"{(r.stderr or r.stdout).strip()}")
    return r


# ---- cases ----------------------------------------------------------------------------------

def rand_w(rng, shape, fan_in, scale=1.0):
    return (rng.uniform(-1.0, 1.0, size=shape) * scale * math.sqrt(3.0 / fan_in)).astype(np.float32)


def conv(m: Model, rng, out_c, kernel, stride=1, pad=0, dilation=1, groups=1, scale=1.0):
    c = m.next_input_shape()[0]
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    fan = c // groups * kh * kw
    return m.add_conv2d(out_c, kernel, stride, pad, dilation, groups,
                        w=rand_w(rng, (out_c, c // groups, kh, kw), fan, scale),
                        b=rand_w(rng, (out_c,), 4, 0.5))


def fc(m: Model, rng, outputs, scale=1.0):
    n = int(np.prod(m.next_input_shape()))
    return m.add_fc(outputs, w=rand_w(rng, (outputs, n), n, scale), b=rand_w(rng, (outputs,), 4, 0.5))


def bn(m: Model, rng):
    c = m.next_input_shape()[0]
    return m.add_batchnorm(mean=rng.normal(0, 0.5, c), var=rng.uniform(0.2, 2.0, c),
                           gamma=rng.uniform(0.5, 1.5, c), beta=rng.normal(0, 0.3, c), eps=1e-3)


CASES = []


def case(name, input_shape, scale=1.0, channel_scale=None):
    """Registers a case builder: f(model, rng) appends the layers. Inputs are standard normal
    times `scale`, and times channel_scale[c] on channel c when given."""
    def deco(f):
        cs = None if channel_scale is None else np.asarray(channel_scale, np.float64).reshape(-1, 1, 1)
        CASES.append((name, input_shape, scale if cs is None else scale * cs, f))
        return f
    return deco


@case("conv_dscnn_10x4_same_asym", (1, 19, 9))
def _(m, r):
    conv(m, r, 8, (10, 4), stride=2, pad=(4, 1, 5, 2))   # TF "same": the odd cell bottom / right
    m.add_relu()
    conv(m, r, 8, 3, pad=1, groups=8)                    # depthwise
    bn(m, r)
    m.add_relu()
    conv(m, r, 12, 1)
    m.add_relu()
    m.add_global_avgpool()
    fc(m, r, 5)
    m.add_softmax()


@case("conv_stride_per_axis", (3, 9, 11))
def _(m, r):
    conv(m, r, 5, (3, 2), stride=(2, 1), pad=(1, 0, 1, 1))
    conv(m, r, 4, (2, 3), stride=(1, 3), pad=(1, 1, 0, 2))


@case("conv_dilation", (2, 12, 12))
def _(m, r):
    conv(m, r, 4, 3, dilation=(2, 1), pad=(2, 1, 2, 1))
    m.add_relu()
    conv(m, r, 3, (2, 3), stride=(1, 2), dilation=(1, 3), pad=(0, 2, 1, 3))


@case("conv_groups2", (4, 7, 7))
def _(m, r):
    conv(m, r, 6, 3, pad=1, groups=2)
    m.add_relu()
    conv(m, r, 4, 1, groups=2)
    conv(m, r, 4, (3, 1), stride=(2, 1), groups=2)


@case("depthwise_mult1_stride2_same", (6, 8, 8))
def _(m, r):
    conv(m, r, 6, 3, stride=2, pad=(0, 0, 1, 1), groups=6)
    m.add_relu()
    conv(m, r, 6, (1, 3), pad=(0, 1, 0, 1), groups=6)


@case("depthwise_mult2_dilated", (3, 9, 9))
def _(m, r):
    conv(m, r, 6, 3, pad=1, groups=3)
    conv(m, r, 12, 3, dilation=2, pad=(2, 1, 2, 3), groups=6)


@case("depthwise_strided_dilated_padded", (6, 9, 17))
def _(m, r):
    conv(m, r, 6, 3, stride=(1, 3), dilation=(1, 2), pad=(1, 4, 0, 2), groups=6)
    conv(m, r, 12, (2, 3), stride=(2, 2), pad=(1, 2, 0, 0), groups=6)


@case("conv_kernel_larger_than_input", (4, 3, 4))
def _(m, r):
    conv(m, r, 6, 5, pad=2)               # every window runs past the map on some side
    conv(m, r, 6, (5, 3), pad=(2, 1, 3, 2), groups=6)     # depthwise: taps wholly outside


@case("conv_1x1_plain_and_strided", (5, 6, 6))
def _(m, r):
    conv(m, r, 7, 1)
    m.add_relu()
    conv(m, r, 4, 1, stride=2)
    conv(m, r, 3, 1, stride=(1, 2))


@case("first_version_kinds_v2", (2, 10, 18))
def _(m, r):
    conv(m, r, 4, 3)                     # square, stride 1, unpadded: the direct GEMM path
    m.add_relu()
    m.add_maxpool(2, 2)
    conv(m, r, 5, 3, pad=1)
    m.add_relu()
    fc(m, r, 10)
    m.add_relu()
    fc(m, r, 3)


@case("maxpool_pad_floor", (3, 9, 9))
def _(m, r):
    m.add_maxpool(3, 2, pad=1)


@case("maxpool_ceil", (3, 10, 10))
def _(m, r):
    m.add_maxpool(3, 2, ceil_mode=True)


@case("maxpool_ceil_last_window_dropped", (2, 5, 5))
def _(m, r):
    m.add_maxpool(3, 3, pad=1, ceil_mode=True)       # ceil gives 3, the third window starts in the pad


@case("maxpool_asym_pads_ceil", (2, 7, 8))
def _(m, r):
    m.add_maxpool((2, 3), (2, 1), pad=(0, 1, 1, 0), ceil_mode=True)


@case("maxpool_large_pad", (2, 6, 6))
def _(m, r):
    m.add_maxpool(3, 2, pad=2)
    m.add_maxpool(3, 1, pad=2, ceil_mode=True)


@case("maxpool_after_conv_relu", (3, 8, 8))
def _(m, r):
    conv(m, r, 4, 3, pad=1)
    m.add_relu()
    m.add_maxpool(2, 2)
    m.add_maxpool(3, 2, pad=1, ceil_mode=True)


@case("maxpool_first_version_partial_windows", (3, 8, 9))
def _(m, r):
    m.add_maxpool(3, 2)                   # floor: the last row / column left out
    m.add_maxpool(2, 1)


@case("relu_not_after_its_conv", (3, 6, 6))
def _(m, r):
    conv(m, r, 3, 3, pad=1)               # 0
    m.set_next_input(-1)
    m.add_relu()                          # 1 reads the input, not the conv: nothing to fuse
    m.add_add(0)


for _cip in (False, True):
    for _ceil in (False, True):
        def _make(cip=_cip, ceil=_ceil):
            def f(m, r):
                m.add_avgpool(3, 2, pad=1, ceil_mode=ceil, count_include_pad=cip)
            return f
        case(f"avgpool_pad1{'_ceil' if _ceil else ''}_{'count_pads' if _cip else 'inside'}",
             (3, 10, 10))(_make())

for _cip in (False, True):
    def _make2(cip=_cip):
        def f(m, r):
            m.add_avgpool((2, 3), 2, pad=(0, 1, 1, 2), ceil_mode=True, count_include_pad=cip)
            m.add_avgpool(3, 1, pad=2, count_include_pad=cip)
        return f
    case(f"avgpool_asym_large_pads_{'count_pads' if _cip else 'inside'}", (2, 7, 8))(_make2())


@case("global_avgpool", (5, 7, 6))
def _(m, r):
    m.add_global_avgpool()


@case("avgpool_after_conv", (3, 8, 8))
def _(m, r):
    conv(m, r, 4, 3, pad=1)
    m.add_avgpool(2, 2)
    m.add_relu()
    m.add_global_avgpool()


@case("batchnorm_standalone", (4, 5, 5))
def _(m, r):
    bn(m, r)                              # on the network input
    conv(m, r, 4, 3, pad=1)
    m.add_relu()
    bn(m, r)                              # after a ReLU: not foldable, runs as its own layer


@case("add_fused_relu", (4, 6, 6))
def _(m, r):
    conv(m, r, 4, 3, pad=1)
    m.add_relu()                          # 1
    conv(m, r, 4, 3, pad=1)
    m.add_add(1)
    m.add_relu()                          # fused into the add
    conv(m, r, 4, 1)
    m.add_add(-1)                         # + the network input
    m.add_relu()


@case("add_output_read_again", (4, 6, 6))
def _(m, r):
    conv(m, r, 4, 3, pad=1)               # 0
    m.add_relu()                          # 1
    conv(m, r, 4, 3, pad=1)               # 2
    m.add_add(1)                          # 3: read again below, so the ReLU cannot fuse
    m.add_relu()                          # 4
    m.set_next_input(3)
    conv(m, r, 4, 1)                      # 5 reads the add's output
    m.add_add(4)                          # 6


@case("concat_branches", (3, 6, 6))
def _(m, r):
    conv(m, r, 4, 3, pad=1)               # 0
    m.add_relu()                          # 1
    m.set_next_input(-1)
    conv(m, r, 2, 1)                      # 2 reads the network input
    m.add_concat(1)                       # 3: [2 ; 1] = 6 channels
    m.add_concat(-1)                      # 4: + the input = 9 channels
    m.add_maxpool(2, 2)
    fc(m, r, 6)


for _name, _add in (("clip", lambda m: m.add_clip(-0.5, 0.75)), ("relu6", lambda m: m.add_relu6()),
                    ("leaky_relu", lambda m: m.add_leaky_relu(0.1)),
                    ("leaky_relu_negative_slope", lambda m: m.add_leaky_relu(-0.3)),
                    ("sigmoid", lambda m: m.add_sigmoid()), ("tanh", lambda m: m.add_tanh()),
                    ("hardswish", lambda m: m.add_hardswish()), ("relu", lambda m: m.add_relu())):
    def _make3(add=_add):
        def f(m, r):
            add(m)                        # on the input: the operation alone
            conv(m, r, 4, 3, pad=1, scale=3.0)
            add(m)                        # after a conv
        return f
    case(f"activation_{_name}", (3, 6, 6), scale=4.0)(_make3())


@case("activation_chain", (3, 6, 6), scale=3.0)
def _(m, r):
    conv(m, r, 6, 3, pad=1, scale=2.0)
    m.add_hardswish()
    conv(m, r, 6, 3, pad=1, scale=2.0)
    m.add_sigmoid()
    conv(m, r, 4, 1, scale=4.0)
    m.add_tanh()
    m.add_leaky_relu(0.2)
    m.add_relu6()


@case("softmax_after_fc", (3, 4, 4))
def _(m, r):
    fc(m, r, 10, scale=5.0)
    m.add_softmax()


@case("softmax_after_conv", (3, 5, 5), scale=2.0)
def _(m, r):
    conv(m, r, 6, 3, pad=1, scale=3.0)
    m.add_softmax()


@case("softmax_on_input_wide_range", (7, 3, 3), scale=30.0)
def _(m, r):
    m.add_softmax()


@case("lrn_across_alexnet", (8, 5, 5), scale=3.0)
def _(m, r):
    conv(m, r, 8, 3, pad=1, scale=3.0)
    m.add_relu()
    m.add_lrn(5, alpha=1e-4, beta=0.75, k=1.0)
    m.add_lrn(3, alpha=0.5, beta=0.75, k=2.0)


@case("lrn_across_70_channels", (70, 3, 3), scale=2.0)
def _(m, r):
    m.add_lrn(5, alpha=1.0, beta=0.75, k=1.0)
    m.add_lrn(7, alpha=2.0, beta=1.5, k=0.5)


# A few large channels among small ones: once the large ones leave the window, the sum of the
# small squares must still be accurate (PyTorch sums each window; a running sum that added and
# subtracted the large squares has lost the small ones).
@case("lrn_across_dynamic_range", (70, 2, 2),
      channel_scale=[1e3 if c < 6 or 30 <= c < 36 else 1e-2 for c in range(70)])
def _(m, r):
    m.add_lrn(5, alpha=1.0, beta=0.75, k=1.0)


@case("lrn_within_channel", (3, 7, 7), scale=2.0)
def _(m, r):
    m.add_lrn(3, alpha=1.0, beta=0.75, k=1.0, within_channel=True)
    conv(m, r, 4, 3, pad=1)
    m.add_lrn(5, alpha=2.0, beta=0.5, k=1.5, within_channel=True)


@case("fc_after_conv_flatten", (2, 6, 5))
def _(m, r):
    conv(m, r, 3, 3, pad=(1, 0, 1, 0))
    m.add_relu()
    fc(m, r, 7)
    m.add_relu()
    fc(m, r, 4)


@case("skip_connections", (3, 6, 6))
def _(m, r):
    conv(m, r, 3, 3, pad=1)               # 0
    m.add_relu()                          # 1
    m.set_next_input(-1)
    conv(m, r, 3, 3, pad=1)               # 2 reads the input
    m.add_add(1)                          # 3
    m.set_next_input(0)
    m.add_maxpool(2, 2)                   # 4 reads layer 0's output
    m.set_next_input(3)
    m.add_avgpool(2, 2)                   # 5 reads the add's output
    m.add_add(4)                          # 6
    fc(m, r, 5)


@case("sparse_gcsr_layers", (4, 6, 6))
def _(m, r):
    def prune_and_pack(L, group):
        w = L.dense_weights().copy()
        keep = r.random((w.shape[0], (w.shape[1] + group - 1) // group)) < 0.4
        w[~np.repeat(keep, group, axis=1)[:, :w.shape[1]]] = 0.0
        w[0, :] = 0.0                     # a row without any stored group
        L.w = w
        L.sparsify(group)

    prune_and_pack(conv(m, r, 8, 3, pad=1), 4)
    m.add_relu()
    prune_and_pack(conv(m, r, 6, (3, 2), pad=(1, 0, 1, 1), groups=2), 1)      # grouped
    prune_and_pack(conv(m, r, 6, 3, stride=2, pad=(0, 0, 1, 1), groups=6), 2)  # depthwise
    prune_and_pack(fc(m, r, 9), 16)       # 6*3*4 = 72 columns: a tail group
    L = fc(m, r, 5)
    prune_and_pack(L, 2)                  # 9 columns: a tail group
    L.sparsify(2, index_bits=32)          # 32-bit column indices


@case("mobilenet_block", (3, 12, 12), scale=2.0)
def _(m, r):
    conv(m, r, 8, 3, stride=2, pad=(0, 0, 1, 1))    # 0
    bn(m, r)                                         # 1
    m.add_relu6()                                    # 2
    conv(m, r, 8, 3, pad=1, groups=8)                # 3
    bn(m, r)                                         # 4
    m.add_hardswish()                                # 5
    conv(m, r, 8, 1)                                 # 6
    m.add_add(2)                                     # 7
    m.add_global_avgpool()
    fc(m, r, 4)
    m.add_softmax()


def case_seed(name: str, salt: int) -> int:
    """A fixed seed per case (from its name, so that adding cases changes no other's data)."""
    return zlib.crc32(name.encode()) * 4 + salt


def build_case(name, input_shape, f):
    m = Model(input_shape)
    f(m, np.random.default_rng(case_seed(name, 0)))
    return m


def describe_output(m: Model, j: int) -> str:
    """Output j of a sample as (c, h, w) when the last layer's output is a map."""
    c, h, w = m.output_shape
    return f"{j}" if h * w == 1 else f"{j} = (c {j // (h * w)}, h {j // w % h}, w {j % w})"


# ---- reference and error bound --------------------------------------------------------------

def _channel_window_sum(t, half):
    """Sum over channels c-half..c+half (zero past the ends) at every position."""
    C = t.shape[1]
    tp = torch.nn.functional.pad(t, (0, 0, 0, 0, half, half))
    return sum(tp[:, d:d + C] for d in range(2 * half + 1))


def _lrn_window_sum(L, t):
    size = L.kernel_h
    if L.mode & LRN_WITHIN_CHANNEL:
        return torch.nn.functional.avg_pool2d(t, size, 1, size // 2, count_include_pad=True) * (size * size)
    return _channel_window_sum(t, size // 2)


def reference_and_bound(module, x):
    """(reference output [N, outputs], error bound [N, outputs]) for float64 input x: the
    bound of every tensor propagated from the input (e = 0) through every layer."""
    ts = module.tensors(x)
    es = [torch.zeros_like(x)]
    for i, L in enumerate(module.layers):
        s1 = i - L.from_
        s2 = i - L.from2 if L.kind in (ADD, CONCAT) else None
        es.append(layer_bound(module, i, ts[s1], es[s1], None if s2 is None else ts[s2],
                              None if s2 is None else es[s2], ts[i + 1]))
    n = x.shape[0]
    return ts[-1].reshape(n, -1), es[-1].reshape(n, -1)


def layer_bound(module, i, xin, e, x2, e2, y):
    """The error bound of layer i's output y (reference), given its reference input xin with
    bound e (and the second input x2, e2 of a join), by the rules of the header comment."""
    L = module.layers[i]
    kind = L.kind
    if kind in (FC, CONV2D):
        w, b = getattr(module, f"w{i}"), getattr(module, f"b{i}")
        terms = torch_ref.apply_layer(L, xin.abs() + e, w=w.abs(), b=b.abs())
        prop = torch_ref.apply_layer(L, e, w=w.abs(), b=None)
        eo = prop + gamma(L.cols + 1) * terms
    elif kind in (RELU, CLIP):
        eo = e
    elif kind == MAXPOOL:
        eo = torch_ref.maxpool(L, e)
    elif kind == AVGPOOL:
        eo = torch_ref.avgpool(L, e) + gamma(L.kernel_h * L.kernel_w + 1) * torch_ref.avgpool(L, xin.abs() + e)
    elif kind == BATCHNORM:
        p = getattr(module, f"params{i}")
        C = L.out_shape[0]
        a, c = p[:C].abs().reshape(1, C, 1, 1), p[C:].abs().reshape(1, C, 1, 1)
        eo = a * e + gamma(2) * (a * (xin.abs() + e) + c)
    elif kind in (ADD, CONCAT):
        if kind == ADD:
            eo = e + e2 + U * (xin.abs() + x2.abs() + e + e2)
        else:
            eo = torch.cat([e, e2], dim=1)
    elif kind == LEAKY_RELU:
        s = abs(L.alpha)
        eo = max(1.0, s) * e + U * s * (xin.abs() + e)
    elif kind == SIGMOID:
        eo = 0.25 * e + (LIBM + 2 * U) * y.abs()
    elif kind == TANH:
        eo = e + LIBM * y.abs()
    elif kind == HARDSWISH:
        eo = 1.5 * e + 4 * U * y.abs()
    elif kind == SOFTMAX:
        C = L.out_shape[0]
        E = e.amax(dim=1, keepdim=True)
        dev = (xin - xin.amax(dim=1, keepdim=True)).abs()
        eo = y * (torch.expm1(2 * E) + 2 * LIBM + U * (dev + dev.amax(dim=1, keepdim=True)) + gamma(C) + U)
    elif kind == LRN:
        size, beta = L.kernel_h, L.beta
        within = bool(L.mode & LRN_WITHIN_CHANNEL)
        n = size * size if within else size
        a = L.alpha / n
        s = _lrn_window_sum(L, xin * xin)
        D = L.k + a * s
        err_s = gamma(n + 1) * s      # a sum of n squares, each rounded, in any order
        dD = (2 * U * a * s + a * err_s) / D + U
        prop = e / D ** beta + beta * a * xin.abs() / D ** (beta + 1) * _lrn_window_sum(L, 2 * xin.abs() * e)
        eo = prop + y.abs() * (beta * dD + LIBM + U)
    else:
        raise AssertionError(f"no error rule for kind {kind}")
    return eo


# ---- part 1: forward parity -----------------------------------------------------------------

class Failures:
    def __init__(self):
        self.items = []

    def add(self, where, msg):
        self.items.append(f"{where}: {msg}")
        print(f"  FAIL {where}: {msg}", flush=True)


def check_torch_ref_pools(fails: Failures):
    """The reference's two ways of pooling (PyTorch's own padding and ceil mode, and explicit
    padding with window counts) agree wherever PyTorch takes the window."""
    rng = np.random.default_rng(11)
    n = 0
    for H, W in ((5, 5), (6, 7), (9, 8)):
        x = torch.from_numpy(rng.standard_normal((2, 3, H, W)))
        for k in (1, 2, 3, 4):
            for st in (1, 2, 3):
                for p in range(k // 2 + 1):
                    for ceil in (False, True):
                        for cip in (False, True):
                            m = Model((3, H, W))
                            try:
                                L = m.add_avgpool(k, st, p, ceil_mode=ceil, count_include_pad=cip)
                            except ValueError:
                                continue  # the window does not fit
                            n += 1
                            if not torch.allclose(torch_ref.avgpool(L, x, True), torch_ref.avgpool(L, x, False),
                                                  rtol=1e-12, atol=0):
                                fails.add("torch_ref", f"avgpool k{k} s{st} p{p} ceil {ceil} cip {cip} on "
                                                       f"{H}x{W}: the two formulations differ")
                            if not cip:
                                M = Model((3, H, W)).add_maxpool(k, st, p, ceil_mode=ceil)
                                if not torch.equal(torch_ref.maxpool(M, x, True), torch_ref.maxpool(M, x, False)):
                                    fails.add("torch_ref", f"maxpool k{k} s{st} p{p} ceil {ceil} on {H}x{W}: "
                                                           f"the two formulations differ")
    print(f"  torch reference: explicit and PyTorch-native pooling agree on {n} windows", flush=True)


def check_forward(cli, tmp: Path, fails: Failures, only, verbose):
    print("part 1: forward parity with PyTorch (float64 reference, derived bound)", flush=True)
    check_torch_ref_pools(fails)
    worst = (0.0, "")
    for name, shape, scale, f in CASES:
        if only and only not in name:
            continue
        failed_before = len(fails.items)
        try:
            m = build_case(name, shape, f)
            path = tmp / f"{name}.scpn"
            m.save(path)
            module = scalpel.to_torch(path).double()
            rng = np.random.default_rng(case_seed(name, 1))
            line = []
            for n, batch in ((1, 1), (3, 3), (3, 2)):
                x = (rng.standard_normal((n,) + tuple(shape)) * scale).astype(np.float32)
                xin, out = tmp / f"{name}_{n}_{batch}_in.npy", tmp / f"{name}_{n}_{batch}_out.npy"
                np.save(xin, x)
                run_cli(cli, "run", path, "--input", xin, "--output", out, "--batch", batch)
                yc = np.load(out)
                if yc.dtype != np.float32 or yc.shape[0] != n or \
                        yc.shape[1:] not in ((m.output_size,), tuple(m.output_shape)):
                    fails.add(name, f"output {yc.dtype} {yc.shape}, expected float32 [{n}, {m.output_size}] "
                                    f"or [{n}, {m.output_shape}]")
                    continue
                yc = yc.reshape(n, -1).astype(np.float64)
                ref, bound = reference_and_bound(module, torch.from_numpy(x.astype(np.float64)))
                ref, bound = ref.numpy(), bound.numpy()
                allowed = K_SAFETY * bound + FLOOR
                diff = np.abs(yc - ref)
                diff[~np.isfinite(yc)] = np.inf
                ratio = diff / allowed
                j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
                line.append(f"N={n}/b{batch} max|d|={diff.max():.3g} ratio={ratio[j]:.3g}")
                if ratio[j] > worst[0]:
                    worst = (float(ratio[j]), f"{name} N={n}")
                if ratio[j] > 1.0:
                    fails.add(name, f"N={n} batch {batch}: sample {j[0]} output {describe_output(m, j[1])}: "
                                    f"C {yc[j]!r} vs torch {ref[j]!r}: |diff| {diff[j]:.6g} "
                                    f"(relative {diff[j] / max(abs(ref[j]), 1e-300):.3g}) > allowed "
                                    f"{allowed[j]:.6g}; {int((ratio > 1).sum())} of {ratio.size} outputs "
                                    f"out of bound")
            print(f"  {'ok  ' if len(fails.items) == failed_before else 'BAD '}{name:42s} "
                  + ("; ".join(line) if verbose else line[-1] if line else ""), flush=True)
        except Exception as exc:      # a crash of the case is a failure, with its trace
            fails.add(name, f"{type(exc).__name__}: {exc}")
            if verbose:
                traceback.print_exc()
    print(f"  largest |diff| / allowance: {worst[0]:.3g} ({worst[1]})", flush=True)


REFERENCE_NETS = ("ds-cnn", "mobilenet-v1", "resnet-8", "autoencoder", "convnet", "nin", "alexnet", "lenet-5")


def check_reference_nets(cli, tmp: Path, fails: Failures, nets=REFERENCE_NETS):
    """The reference networks the C library builds (`scalpel demo --net NAME`), checked layer by
    layer at batch 1 and batch 3: a propagated worst-case bound grows by about the sum of |W|
    per layer and says nothing after twenty layers, so every layer's C output (the network cut
    after it, run by `scalpel run`) is compared with that layer applied by PyTorch to the C
    output it read, under the bound of that one layer (e = 0 at its input). AlexNet's cuts up
    to its convolutions are small; its three fc cuts carry the 244 MB of weights."""
    print("part 1b: reference networks built by the C library (scalpel demo --net), layer by layer,"
          " batch 1 and 3", flush=True)
    for name in nets:
        path, cut, out = tmp / f"ref_{name}.scpn", tmp / "ref_cut.scpn", tmp / "ref_out.npy"
        failed_before = len(fails.items)
        try:
            run_cli(cli, "demo", "--net", name, "-o", path)
            m = Model.load(path)
            if m.to_bytes() != path.read_bytes():
                fails.add(f"net {name}", "Python re-serializes the C-written file to other bytes")
            module = scalpel.to_torch(m).double()
            x3 = np.random.default_rng(case_seed(name, 2)).standard_normal((3,) + m.input_shape).astype(np.float32)
            batches = {1: x3[:1].copy(), 3: x3}
            for n, x in batches.items():
                np.save(tmp / f"ref_in{n}.npy", x)
            # C's tensors per batch: the input, then each layer's output
            ct = {n: [x.astype(np.float64)] for n, x in batches.items()}
            for t in range(1, len(m.layers) + 1):
                mt = Model(m.input_shape)
                mt.layers = m.layers[:t]
                mt.save(cut)
                for n in batches:
                    run_cli(cli, "run", cut, "--input", tmp / f"ref_in{n}.npy", "--output", out, "--batch", n)
                    ct[n].append(np.load(out).astype(np.float64).reshape((n,) + tuple(m.layers[t - 1].out_shape)))
            worst = (0.0, -1, 0)
            for n in batches:
                for i, L in enumerate(m.layers):
                    xi = torch.from_numpy(ct[n][i - L.from_])
                    x2 = torch.from_numpy(ct[n][i - L.from2]) if L.kind in (ADD, CONCAT) else None
                    y = torch_ref.apply_layer(L, xi, x2, getattr(module, f"w{i}", None), getattr(module, f"b{i}", None),
                                              getattr(module, f"params{i}", None))
                    bound = layer_bound(module, i, xi, torch.zeros_like(xi), x2,
                                        None if x2 is None else torch.zeros_like(x2), y)
                    allowed = K_SAFETY * bound.numpy() + FLOOR
                    diff = np.abs(ct[n][i + 1] - y.numpy())
                    diff[~np.isfinite(ct[n][i + 1])] = np.inf
                    ratio = diff / allowed
                    j = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
                    if ratio[j] > worst[0]:
                        worst = (float(ratio[j]), i, n)
                    if ratio[j] > 1.0:
                        fails.add(f"net {name}", f"batch {n}, layer {i} ({L!r}): at {j} C {ct[n][i + 1][j]!r} vs torch "
                                                 f"{float(y[j])!r}: |diff| {diff[j]:.6g} > allowed {allowed[j]:.6g}")
            kinds = sorted({L.kind_name for L in m.layers})
            print(f"  {'ok  ' if len(fails.items) == failed_before else 'BAD '}{name:14s} {len(m.layers):3d} layers "
                  f"({', '.join(kinds)}): largest ratio {worst[0]:.3g} (layer {worst[1]}, batch {worst[2]})", flush=True)
        except (AssertionError, ValueError, RuntimeError) as exc:
            fails.add(f"net {name}", f"{type(exc).__name__}: {exc}")


# ---- part 2: files between Python and C -----------------------------------------------------

def check_files(cli, tmp: Path, fails: Failures, only):
    print("part 2: model files between python/scalpel and the C library", flush=True)
    count = 0
    for name, shape, scale, f in CASES:
        if only and only not in name:
            continue
        try:
            m = build_case(name, shape, f)
        except ValueError:
            continue                      # reported by part 1
        if any(L.weighted and L.storage != smodel.STORAGE_DENSE for L in m.layers):
            continue                      # pack --mode dense would densify it: not a round trip
        src, dst = tmp / f"rt_{name}.scpn", tmp / f"rt_{name}_c.scpn"
        m.save(src)
        try:
            run_cli(cli, "pack", "--hw", "host", "--mode", "dense", src, "-o", dst)
            a, b = src.read_bytes(), dst.read_bytes()
            if a != b:
                k = next(i for i in range(min(len(a), len(b))) if a[i] != b[i]) if len(a) == len(b) else -1
                fails.add(f"roundtrip {name}", f"C load + save changed the file ({len(a)} -> {len(b)} "
                                                f"bytes, first difference at byte {k})")
            count += 1
        except AssertionError as exc:
            fails.add(f"roundtrip {name}", str(exc))
    print(f"  {count} Python-written files: C load + save gives the same bytes", flush=True)

    # versions 1, 2 and 3 of one network of the first version's kinds
    name, shape, scale, f = next(c for c in CASES if c[0] == "first_version_kinds_v2")
    m = build_case(name, shape, f)
    x = (np.random.default_rng(8).standard_normal((3,) + shape)).astype(np.float32)
    np.save(tmp / "v_in.npy", x)
    outs = {}
    for version in (1, 2, 3):
        path = tmp / f"v{version}.scpn"
        data = m.to_bytes(version=version)
        if struct.unpack_from("<H", data, 4)[0] != version:
            fails.add(f"version {version}", "the file does not carry its version")
        path.write_bytes(data)
        if Model.load(path).to_bytes() != m.to_bytes():
            fails.add(f"version {version}", "Python does not read back the same network")
        try:
            run_cli(cli, "run", path, "--input", tmp / "v_in.npy", "--output", tmp / f"v{version}_out.npy")
            outs[version] = np.load(tmp / f"v{version}_out.npy")
        except AssertionError as exc:
            fails.add(f"version {version}", str(exc))
    if len(outs) == 3 and not (np.array_equal(outs[1], outs[2]) and np.array_equal(outs[2], outs[3])):
        fails.add("versions", "versions 1, 2 and 3 of one network give different outputs in C")
    if m.to_bytes()[4] != 2:
        fails.add("versions", "the writer does not choose version 2 for first-version kinds")
    print("  format versions 1, 2, 3 of one network: read alike by Python and C", flush=True)

    # files the C library writes: the demo (dense) and its grouped-CSR packing
    demo, packed = tmp / "demo.scpn", tmp / "demo_packed.scpn"
    try:
        run_cli(cli, "demo", "-o", demo)
        run_cli(cli, "pack", "--hw", "x86-avx2", "--mode", "scalpel", demo, "-o", packed)
        dm, pm = Model.load(demo), Model.load(packed)
        if dm.to_bytes() != demo.read_bytes() or pm.to_bytes() != packed.read_bytes():
            fails.add("C-written files", "Python re-serializes them to other bytes")
        kinds = [L.storage for L in pm.layers if L.weighted]
        if smodel.STORAGE_GCSR not in kinds:
            fails.add("C-written files", f"the packed demo holds no grouped-CSR layer ({kinds})")
        for a, b in zip(dm.layers, pm.layers):
            if a.weighted and not np.array_equal(a.dense_weights(), b.dense_weights()):
                fails.add("C-written files", "grouped-CSR weights differ from the dense ones")
        print(f"  C-written files (demo, packed {['dense' if k == 0 else 'gcsr' for k in kinds]}): "
              f"read and re-written byte for byte", flush=True)
    except (AssertionError, ValueError) as exc:
        fails.add("C-written files", str(exc))


# ---- part 2b: format version 4 --------------------------------------------------------------

def write_safetensors(path: Path, tensors) -> None:
    """A safetensors file of F32 tensors [(name, array), ...], written as the format defines it
    (u64 header length, JSON header padded with spaces to a multiple of 8, the data)."""
    import json
    header, blobs, at = {}, [], 0
    for name, a in tensors:
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(np.shape(a)), "data_offsets": [at, at + len(b)]}
        blobs.append(b)
        at += len(b)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    path.write_bytes(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def _arrays_end(data: bytes) -> int:
    """The end of the last layer array of a version 3 / 4 file (where version 4's preprocessing
    array is placed after, on the next multiple of 64)."""
    n = struct.unpack_from("<I", data, 12)[0]
    end = 64 + n * 224
    for i in range(n):
        r = 64 + i * 224
        for field in (48, 64, 80, 96, 112, 136):
            o, s = struct.unpack_from("<QQ", data, r + field)
            if s:
                end = max(end, o + s)
    return end


def _v4_mutations(data: bytes):
    """(what, bytes with the checksum fixed, must be refused) for targeted changes of version
    4's header fields and preprocessing array of a valid file."""
    flags = struct.unpack_from("<I", data, 28)[0]
    off, size = struct.unpack_from("<QQ", data, 48)
    c = size // 8
    out = []

    def put(what, refuse, fmt, at, value):
        d = bytearray(data)
        struct.pack_into(fmt, d, at, value)
        if bytes(d) != data:
            out.append((what, _fix_crc(d), refuse))

    for f in (0, 1, 2, 3, 4, 5, 7, 0x80000001, 0xFFFFFFFF):
        put(f"flags {f}", not (f == 1 and flags == 3), "<I", 28, f)   # layer 0 a batchnorm: may say folded
    for b in (1, 65536, 65537, 0x80000000, 0xFFFFFFFF):
        put(f"packed_batch {b}", b > 65536, "<I", 40, b)
    for bits, what, valid in ((0x3F800000, "1.0", True), (0, "0", False), (0x80000000, "-0.0", False),
                              (0xBF800000, "-1.0", False), (0x7F800000, "inf", False), (0x7FC00000, "NaN", False),
                              (0x7F7FFFFF, "FLT_MAX", False), (0x00000001, "denormal", True)):
        put(f"range {what}", not (flags and valid), "<I", 44, bits)
    for o in (0, 4, 64, off + 4, off + 64, max(off, 128) - 64, 2 ** 63):
        put(f"preprocessing offset {o}", True, "<Q", 48, o)
    for n in (0, 4, 8, 9, 16, 24, 32, 40, 2 ** 63):
        put(f"preprocessing size {n}", True, "<Q", 56, n)
    put("version 3", True, "<H", 4, 3)
    if flags:
        for bits, what, valid in ((0x7FC00000, "NaN", False), (0x7F800000, "inf", False),
                                  (0x7F7FFFFF, "FLT_MAX", False), (0x80000000, "-0.0", True)):
            put(f"mean[0] {what}", not valid, "<I", off, bits)
        for bits, what, valid in ((0, "0", False), (0x80000000, "-0.0", False), (0xBF800000, "-1.0", False),
                                  (0x7F800000, "inf", False), (0x7FC00000, "NaN", False),
                                  (0x7F7FFFFF, "FLT_MAX", False), (0x00000001, "denormal", True)):
            put(f"std[{c - 1}] {what}", not valid, "<I", off + 4 * (2 * c - 1), bits)
        gap = _arrays_end(data)
        if gap < off:
            put("a nonzero byte before the preprocessing", True, "<B", gap, 1)
    return out


def check_files_v4(cli, tmp: Path, fails: Failures):
    """Version 4 (the header's packed batch and input preprocessing) between Python and C:
    files the C tool writes (`pack --batch`, `import-safetensors --mean --std`, folded and done
    by a batchnorm) load in Python and re-serialize byte for byte; Python-written ones come
    back identical from a C load and save; every targeted change of the new header fields
    and of the preprocessing array (checksum fixed) is judged by Python as by the C reader,
    and the changes that break the format are refused by both; a layer stored as the C
    planner's TASD is refused by Python with a message naming the layer and the storage."""
    print("part 2b: format version 4 (packed batch, input preprocessing) between python/scalpel and C", flush=True)
    rng = np.random.default_rng(44)
    fc_st, conv_st = tmp / "v4_fc.safetensors", tmp / "v4_conv.safetensors"
    write_safetensors(fc_st, [("fc.weight", rng.normal(0, 0.05, (10, 784))), ("fc.bias", rng.normal(0, 0.1, 10))])
    write_safetensors(conv_st, [("c.weight", rng.normal(0, 0.2, (4, 3, 3, 3))), ("c.bias", rng.normal(0, 0.1, 4)),
                                ("f.weight", rng.normal(0, 0.05, (5, 256))), ("f.bias", rng.normal(0, 0.1, 5))])
    demo, packed, folded, layer = (tmp / f"v4_{k}.scpn" for k in ("demo", "packed", "folded", "layer"))
    F, LAYER = smodel.INPUT_NORM_FOLDED, smodel.INPUT_NORM_LAYER
    # path: (command, expected packed_batch, expected input_norm fields or None)
    made = {
        packed: (["pack", "--hw", "cortex-m4", "--batch", "4", demo, "-o", packed], 4, None),
        folded: (["import-safetensors", fc_st, "--arch", "784,fc:10", "--mean", "0.1307", "--std", "0.3081",
                  "-o", folded], 0, (F, 1, 1.0, [0.1307], [0.3081])),
        layer: (["import-safetensors", conv_st, "--arch", "3x8x8,conv:4:3:1:1,relu,fc:5", "--mean", "0.5,0.4,0.3",
                 "--std", "0.2,0.25,0.3", "--input-range", "255", "-o", layer], 0,
                (LAYER, 3, 255.0, [0.5, 0.4, 0.3], [0.2, 0.25, 0.3])),
    }
    try:
        run_cli(cli, "demo", "-o", demo)
        for path, (args, _, _) in made.items():
            run_cli(cli, *args)
    except AssertionError as exc:
        fails.add("version 4 (C-written)", str(exc))
        return
    files = {}
    for path, (_, batch, norm) in made.items():
        where = f"version 4 {path.name}"
        data = path.read_bytes()
        files[path.name] = data
        if struct.unpack_from("<H", data, 4)[0] != 4:
            fails.add(where, f"the C tool wrote version {struct.unpack_from('<H', data, 4)[0]}, expected 4")
            continue
        try:
            m = Model.load(path)
        except ValueError as exc:
            fails.add(where, f"Python cannot read it: {exc}")
            continue
        got = None if m.input_norm is None else (m.input_norm.where, m.input_norm.channels, m.input_norm.range,
                                                  m.input_norm.mean, m.input_norm.std)
        want = None if norm is None else norm[:3] + ([float(np.float32(v)) for v in norm[3]],
                                                     [float(np.float32(v)) for v in norm[4]])
        if m.packed_batch != batch or got != want:
            fails.add(where, f"read packed_batch {m.packed_batch}, input_norm {got}; expected {batch}, {want}")
        if m.to_bytes() != data:
            fails.add(where, "Python re-serializes the C-written file to other bytes")
        try:
            m.to_bytes(version=3)
            fails.add(where, "written as version 3, which cannot hold its metadata")
        except ValueError:
            pass
    print(f"  C-written version 4 files ({', '.join(files)}): read and re-written byte for byte", flush=True)

    # Python-written version 4 files: C load + save (pack --mode dense keeps the preprocessing)
    count = 0
    for where_norm, shape, norm in ((LAYER, (3, 6, 6), dict(where="layer", range=255.0, mean=[0.5, 0.4, 0.3],
                                                             std=[0.2, 0.25, 0.3])),
                                    (F, (2, 6, 6), dict(where="folded", mean=[0.1], std=[0.3]))):
        m = Model(shape, input_norm=norm)
        if where_norm == LAYER:
            m.add_batchnorm_affine(rng.uniform(0.5, 2, shape[0]), rng.normal(0, 1, shape[0]))
        conv(m, rng, 4, 3, pad=1)
        m.add_relu()
        fc(m, rng, 5)
        src, dst = tmp / "v4_py.scpn", tmp / "v4_py_c.scpn"
        m.save(src)
        try:
            run_cli(cli, "pack", "--hw", "host", "--mode", "dense", src, "-o", dst)
            if src.read_bytes() != dst.read_bytes():
                fails.add(f"version 4 Python-written ({m.input_norm.where_name})", "C load + save changed the file")
            count += 1
        except AssertionError as exc:
            fails.add(f"version 4 Python-written ({m.input_norm.where_name})", str(exc))
    m = Model((1, 4, 4), packed_batch=65536)
    fc(m, rng, 3)
    m.save(tmp / "v4_batch.scpn")
    r = run_cli(cli, "info", tmp / "v4_batch.scpn", check=False)
    if r.returncode != 0 or "packed for batch 65536" not in r.stdout:
        fails.add("version 4 Python-written (packed_batch)", f"`scalpel info` exited {r.returncode}: "
                                                             f"{(r.stderr or r.stdout).strip()[-300:]}")
    else:
        count += 1
    for bad in (dict(packed_batch=65537), dict(packed_batch=-1),
                dict(input_norm=dict(where="layer", mean=[0], std=[1])),      # layer 0 is no batchnorm
                dict(input_norm=dict(where="folded", mean=[0, 0], std=[1, 1])),
                dict(input_norm=dict(where="folded", mean=[0], std=[0])),
                dict(input_norm=dict(where="folded", mean=[0], std=[1], range=0)),
                dict(input_norm=dict(where="folded", mean=[float("nan")], std=[1])),
                dict(input_norm=dict(where=0, mean=[0], std=[1]))):
        m = Model((1, 4, 4), **bad)
        fc(m, rng, 3)
        try:
            m.to_bytes()
            fails.add("version 4 (Python writer)", f"{bad} written without an error")
        except ValueError:
            count += 1
    print(f"  {count} Python-written version 4 files and refusals: C load + save gives the same bytes, "
          "invalid metadata refused", flush=True)

    # targeted changes of the new fields, checksum fixed: Python judges as the C reader does
    plain = Model((1, 4, 4))
    fc(plain, rng, 3)
    relabeled = bytearray(plain.to_bytes(version=3))
    struct.pack_into("<H", relabeled, 4, 4)
    cases = [("v3 file relabeled version 4", _fix_crc(relabeled), False)]
    for name, data in files.items():
        cases += [(f"{name}: {what}", d, refuse) for what, d, refuse in _v4_mutations(data)]
    agree = accepted = refused = 0
    path = tmp / "v4_mutant.scpn"
    for what, data, refuse in cases:
        try:
            ok, res = _python_verdict(data)
        except Exception as exc:  # noqa: BLE001 - anything but ValueError is a bug
            fails.add("version 4 mutation", f"{what}: {type(exc).__name__}: {exc}")
            continue
        if refuse and ok:
            fails.add("version 4 mutation", f"{what}: accepted, must be refused")
        refused += not ok
        path.write_bytes(data)
        c_ok = run_cli(cli, "info", path, check=False).returncode == 0
        if ok != c_ok:
            fails.add("version 4 mutation", f"{what}: Python {'accepts' if ok else 'refuses (' + res + ')'}, "
                                            f"the C reader {'accepts' if c_ok else 'refuses'}")
            continue
        agree += 1
        if ok:
            accepted += 1
            if res.to_bytes(version=4) != data:
                fails.add("version 4 mutation", f"{what}: accepted but re-written differently")
    print(f"  {len(cases)} changes of version 4's header fields and preprocessing array (checksum fixed): "
          f"{refused} refused with ValueError, Python and the C reader agree on {agree} ({accepted} accepted "
          "by both and re-written byte for byte)", flush=True)

    # a layer stored as the C no-retrain planner's TASD (T = 0 terms: no decomposition array)
    m = Model((1, 4, 4), packed_batch=2)
    fc(m, rng, 3)
    m.add_relu()
    d = bytearray(m.to_bytes())
    wo, ws = struct.unpack_from("<QQ", d, 64 + 48)
    d[wo:wo + ws] = bytes(ws)
    struct.pack_into("<I", d, 64 + 20, 3)               # storage TASD, field 32: 0 terms
    struct.pack_into("<QQ", d, 64 + 48, 0, 0)
    d = _fix_crc(d)
    (tmp / "v4_tasd.scpn").write_bytes(d)
    r = run_cli(cli, "info", tmp / "v4_tasd.scpn", check=False)
    if r.returncode != 0 or "tasd" not in r.stdout:
        fails.add("version 4 TASD layer", "the C reader does not take the crafted file: "
                                          f"{(r.stderr or r.stdout).strip()}")
    ok, res = _python_verdict(d)
    if ok or not ("layer 0" in res and "storage tasd" in res and "not supported" in res):
        fails.add("version 4 TASD layer", f"Python {'accepts it' if ok else 'refuses it with ' + repr(res)}; expected "
                                          "a refusal naming layer 0 and its storage")
    else:
        print(f"  a TASD layer (read by C): Python refuses it: {res}", flush=True)


# ---- part 3: hostile input ------------------------------------------------------------------

def _fix_crc(data: bytearray) -> bytes:
    struct.pack_into("<I", data, len(data) - 4, zlib.crc32(bytes(data[:-4])) & 0xFFFFFFFF)
    return bytes(data)


def _python_verdict(data: bytes):
    """(accepted, model or message); any exception but ValueError propagates (a failure)."""
    try:
        return True, Model.from_bytes(data)
    except ValueError as exc:
        return False, str(exc)


def check_hostile(cli, tmp: Path, fails: Failures):
    print("part 3: hostile input", flush=True)
    m = Model((3, 6, 6))
    rng = np.random.default_rng(5)
    conv(m, rng, 4, 3, pad=(1, 0, 1, 1))
    bn(m, rng)
    m.add_maxpool(2, 2, ceil_mode=True)
    m.set_next_input(0)
    m.add_avgpool(2, 2, ceil_mode=True)
    m.add_add(2)
    fc(m, rng, 3).sparsify(4)
    good = m.to_bytes()
    n_checked = 0

    def expect_reject(data, what):
        nonlocal n_checked
        n_checked += 1
        try:
            ok, res = _python_verdict(data)
        except Exception as exc:      # noqa: BLE001 - anything but ValueError is a bug
            fails.add("hostile", f"{what}: {type(exc).__name__}: {exc}")
            return
        if ok:
            fails.add("hostile", f"{what}: accepted")

    for cut in range(len(good)):
        expect_reject(good[:cut], f"truncated to {cut} bytes")
    expect_reject(good + b"\0\0\0\0", "4 bytes appended")
    records_end = 64 + len(m.layers) * 224
    for pos in range(len(good)):
        if pos >= records_end and pos % 7:
            continue                      # the data: every 7th byte
        data = bytearray(good)
        data[pos] ^= 1 << (pos % 8)
        expect_reject(bytes(data), f"bit {pos % 8} of byte {pos} flipped")
    for version in (0, smodel.FORMAT_VERSION + 1, 0xFFFF):
        data = bytearray(good)
        struct.pack_into("<H", data, 4, version)
        expect_reject(_fix_crc(data), f"version {version}")
        expect_reject(bytes(data), f"version {version}, stale checksum")
    r = random.Random(9)
    for k in range(200):
        size = r.choice([0, 3, 4, 63, 64, 68, 100, 300, 1000, 5000])
        junk = bytes(r.getrandbits(8) for _ in range(size))
        if k % 2 and size >= 4:
            junk = b"SCPN" + junk[4:]
        expect_reject(_fix_crc(bytearray(junk)) if size >= 8 and k % 4 == 1 else junk, f"random bytes #{k}")
    print(f"  {n_checked} damaged files refused with ValueError", flush=True)

    # header and record bytes changed, checksum fixed up: Python decides as the C reader does
    small = Model((2, 6, 6))
    conv(small, rng, 3, 3, pad=1)
    small.add_relu()
    small.add_maxpool(2, 2)
    fc(small, rng, 4).sparsify(2)
    # version 4: a batchnorm doing the input preprocessing (3 channels), a packed batch
    meta = Model((3, 6, 6), input_norm=dict(where="layer", range=255.0, mean=[0.5, 0.4, 0.3], std=[0.2, 0.25, 0.3]),
                 packed_batch=4)
    bn(meta, rng)
    conv(meta, rng, 2, 3, pad=1)
    fc(meta, rng, 3).sparsify(2)
    v4 = meta.to_bytes()
    for data, hows, what in ((good, ("xor1", "ff"), "version 3"), (small.to_bytes(version=2), ("xor1",), "version 2"),
                             (small.to_bytes(version=1), ("xor1",), "version 1"), (v4, ("xor1", "ff"), "version 4")):
        # version 4: the preprocessing array at the end of the data too
        extra = range(struct.unpack_from("<Q", data, 48)[0], len(data) - 4) if what == "version 4" else ()
        agree, accepted = _mutations_agree(cli, tmp, fails, data, hows, what, extra)
        print(f"  {what}: {agree} header / record mutations with a valid checksum, Python and C agree "
              f"({accepted} accepted by both)", flush=True)


def _mutations_agree(cli, tmp, fails, good: bytes, hows, what, extra=()):
    """Changes every header and record byte of a valid file and the bytes at positions
    `extra` (xor1: its lowest bit; ff: to 0xff), fixes the checksum, and compares Python's
    verdict with the C reader's."""
    version = struct.unpack_from("<H", good, 4)[0]
    n_layers = struct.unpack_from("<I", good, 12)[0]
    records_end = 64 + n_layers * smodel.RECORD_SIZES[version]
    agree = accepted = 0
    path = tmp / "mutant.scpn"
    for pos in list(range(records_end)) + list(extra):
        for how in hows:
            data = bytearray(good)
            if how == "xor1":
                data[pos] ^= 1
            elif data[pos] == 0xFF:
                continue
            else:
                data[pos] = 0xFF
            data = _fix_crc(data)
            try:
                ok, res = _python_verdict(data)
            except Exception as exc:  # noqa: BLE001
                fails.add("mutation", f"{what} byte {pos} {how}: {type(exc).__name__}: {exc}")
                continue
            path.write_bytes(data)
            c_ok = run_cli(cli, "info", path, check=False).returncode == 0
            if ok != c_ok:
                fails.add("mutation", f"{what} byte {pos} {how}: Python "
                                      f"{'accepts' if ok else 'refuses (' + res + ')'}, the C reader "
                                      f"{'accepts' if c_ok else 'refuses'}")
                continue
            agree += 1
            if ok:
                accepted += 1
                if res.to_bytes(version=version) != data:
                    fails.add("mutation", f"{what} byte {pos} {how}: accepted but re-written differently")
    return agree, accepted


# ---- main -----------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-v", "--verbose", action="store_true", help="every batch's numbers, traces")
    ap.add_argument("-k", dest="only", default="", help="only the parity cases whose name contains this")
    ap.add_argument("--parts", default="forward,nets,files,hostile",
                    help="which parts to run, comma-separated (default all): forward (1), nets (1b), files (2), "
                         "hostile (3); e.g. forward,nets for another backend's tool under QEMU")
    ap.add_argument("--nets", default=",".join(REFERENCE_NETS),
                    help="the reference networks of part 1b, comma-separated (default all)")
    args = ap.parse_args()
    nets = [n for n in args.nets.split(",") if n]
    if set(nets) - set(REFERENCE_NETS):
        ap.error("unknown network(s): " + ", ".join(sorted(set(nets) - set(REFERENCE_NETS))))
    parts = set(args.parts.split(","))
    unknown = parts - {"forward", "nets", "files", "hostile"}
    if unknown:
        ap.error("unknown part(s): " + ", ".join(sorted(unknown)))
    t0 = time.time()
    cli = cli_path()
    fails = Failures()
    with tempfile.TemporaryDirectory(prefix="scalpel_torch_ops_") as d:
        tmp = Path(d)
        if "forward" in parts:
            check_forward(cli, tmp, fails, args.only, args.verbose)
        if not args.only:
            if "nets" in parts:
                check_reference_nets(cli, tmp, fails, nets)
            if "files" in parts:
                check_files(cli, tmp, fails, args.only)
                check_files_v4(cli, tmp, fails)
            if "hostile" in parts:
                check_hostile(cli, tmp, fails)
    dt = time.time() - t0
    if fails.items:
        print(f"\nFAILED: {len(fails.items)} check(s) failed ({dt:.1f} s):", file=sys.stderr)
        for item in fails.items:
            print("  " + item, file=sys.stderr)
        return 1
    print(f"\nall checks passed ({dt:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
