#!/usr/bin/env python3
"""The converters (python/scalpel: convert_torch through torch.fx, convert_onnx) against PyTorch,
and the Python model-file reader under hostile bytes.

    /usr/bin/python3 tests/test_convert.py [--nets NAME,...] [--parts nets,refusals,edges,files,mutations,package,cli]

It needs numpy, torch, torchvision and onnx (Debian's python3-numpy, python3-torch,
python3-torchvision, python3-onnx; `make test` installs them): without one it fails, it never
skips. The C tool is build/scalpel, (re)built as tests/test_torch_ops.py does, or $SCALPEL_CLI.

PARTS
  nets       Each network is defined natively in PyTorch (nn.Conv2d, nn.BatchNorm2d, nn.ZeroPad2d
             for TF "same" padding, nn.LocalResponseNorm, ...) with random weights and random
             batch-norm statistics: the four MLPerf Tiny models (DS-CNN, MobileNetV1 0.25,
             ResNet-8, the FC autoencoder), the paper's ConvNet (with
             scalpel.torch_ref.LocalResponseNormWithinChannel), NIN and AlexNet (groups = 2,
             LRN across channels), LeNet-5, and torchvision's mobilenet_v2 (3x96x96) and
             resnet18 (3x64x64). Each goes through both paths: convert_torch, and
             torch.onnx.export (dynamic batch, opset 11, 13 or 17 in turn) then
             `python3 -m scalpel convert`. The model file is run by the C tool
             (`scalpel run --batch B`) at batch 1 and 3 and compared with the module itself,
             evaluated in float64.
  refusals   Modules with nn.LSTM, nn.Upsample and torch.einsum are refused by both paths with a
             message naming the node and its op; truncated and corrupted ONNX files give a
             ConvertError (exit status 1 from the command line), never another exception.
  edges      27 small modules of the shapes users write (clamp with one bound, in-place forms,
             subclasses of nn.Conv2d, sum(branches), two pads in a row, squeeze steps, view back to a
             map, an extra forward argument with a default) convert and agree at batch 1 and 3; and
             what must be refused is, with its reason (values from the batch size, in-place ops read
             again, hooks and weight_norm, over 256 layers, zero padding before a max pool on signed
             values, padding wider than the kernel, even LRN, Linear on a 4-D map, dropout in
             training mode, SiLU, a malformed input_shape).
  files      Every model file under models/ loads in Python and re-serializes to the same bytes;
             the command line's `info` lists them.
  package    `pip install --no-build-isolation ./python` (offline, into a directory) installs a
             package that loads models and runs `python3 -m scalpel info` outside the tree.
  cli        The C tool on converted models: a LeNet-5 pruned with torch.nn.utils.prune goes through
             info, plan, pack --hw cortex-m4 (grouped CSR appears; the packed model computes the same
             outputs), quantize (q15 header) and export-c; a DS-CNN through info, plan, pack, bench
             and export-c.
  mutations  3000 mutated model files (bytes replaced, inserted, deleted, cut; half with the
             checksum fixed up so that the structure checks are reached; seeds of format
             versions 2, 3 and 4, the last with an input preprocessing): Model.from_bytes
             raises ValueError or returns a model that re-serializes to the same bytes;
             nothing else is raised.

TOLERANCE (nets): the bound of tests/test_torch_ops.py (its header derives it), computed on the
converted model, with every gamma(n) taken as gamma(n + 4). The extra 4 units of roundoff per
product cover the weights' own rounding in the conversion: a batch norm folded into the
layer before it changes each weight to fl(w * scale) and each bias to fl(b * scale + shift).
convert_torch computes scale in float64 (one rounding to float32); PyTorch's ONNX exporter
folds in float32 (var + eps, sqrt, divide, multiply: at most 3.5 u relative per weight). A
weight error of k u relative moves an output by at most k u * (|W| . |x|), which adding k
to n in gamma(n) * (|W| . |x|) covers.
"""

from __future__ import annotations

import argparse
import copy
import io
import os
import random
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

try:
    import onnx          # noqa: F401
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError as e:   # a failure, never a skip
    raise SystemExit(f"FAIL: {e}: install Debian's python3-torch, python3-torchvision and python3-onnx "
                     "(tools/deps.sh test) and run with /usr/bin/python3")

import scalpel                                      # noqa: E402
import test_torch_ops as tto                        # noqa: E402
from scalpel import ConvertError, Model             # noqa: E402
from scalpel.torch_ref import LocalResponseNormWithinChannel  # noqa: E402

FOLD_ROUNDINGS = 4
_gamma = tto.gamma
tto.gamma = lambda n: _gamma(n + FOLD_ROUNDINGS)   # the bound of the header, for folded weights
warnings.filterwarnings("ignore")


# ---- the networks, as a PyTorch user writes them ----------------------------------------------

def same_pad(n: int, k: int, s: int):
    """TF "same": (before, after), the odd cell after."""
    t = max(((n + s - 1) // s - 1) * s + k - n, 0)
    return t // 2, t - t // 2


def conv_same(c_in, c_out, k, s, h, w, groups=1, kw=None):
    """[ZeroPad2d,] Conv2d with TF "same" padding on an h x w map: (layers, out h, out w)."""
    kw = k if kw is None else kw
    (pt, pb), (pl, pr) = same_pad(h, k, s), same_pad(w, kw, s)
    layers = []
    if (pt, pb) == (pl, pr) and pt == pb:
        layers.append(nn.Conv2d(c_in, c_out, (k, kw), s, padding=pt, groups=groups))
    else:
        layers += [nn.ZeroPad2d((pl, pr, pt, pb)), nn.Conv2d(c_in, c_out, (k, kw), s, groups=groups)]
    return layers, (h + s - 1) // s, (w + s - 1) // s


def ds_cnn():
    layers, h, w = conv_same(1, 64, 10, 2, 49, 10, kw=4)
    layers += [nn.BatchNorm2d(64), nn.ReLU()]
    for _ in range(4):
        dw, h, w = conv_same(64, 64, 3, 1, h, w, groups=64)
        layers += dw + [nn.BatchNorm2d(64), nn.ReLU(), nn.Conv2d(64, 64, 1), nn.BatchNorm2d(64), nn.ReLU()]
    layers += [nn.AvgPool2d((24, 5)), nn.Flatten(), nn.Linear(64, 12), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


def mobilenet_v1():
    outs = [16, 32, 32, 64, 64, 128, 128, 128, 128, 128, 128, 256, 256]
    strides = [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1]
    layers, h, w = conv_same(3, 8, 3, 2, 96, 96)
    layers += [nn.BatchNorm2d(8), nn.ReLU()]
    c = 8
    for o, s in zip(outs, strides):
        dw, h, w = conv_same(c, c, 3, s, h, w, groups=c)
        layers += dw + [nn.BatchNorm2d(c), nn.ReLU(), nn.Conv2d(c, o, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
        c = o
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(c, 2), nn.Softmax(dim=1)]
    return nn.Sequential(*layers)


class ResStack(nn.Module):
    def __init__(self, c_in, c, s, h):
        super().__init__()
        a, h2, _ = conv_same(c_in, c, 3, s, h, h)
        self.a = nn.Sequential(*a, nn.BatchNorm2d(c), nn.ReLU())
        self.b = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1), nn.BatchNorm2d(c))
        self.short = nn.Conv2d(c_in, c, 1, s) if s != 1 else nn.Identity()

    def forward(self, x):
        return F.relu(self.b(self.a(x)) + self.short(x))


def resnet8():
    return nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), ResStack(16, 16, 1, 32),
                         ResStack(16, 32, 2, 32), ResStack(32, 64, 2, 16), nn.AvgPool2d(8), nn.Flatten(),
                         nn.Linear(64, 10), nn.Softmax(dim=1))


def autoencoder():
    layers, n = [], 640
    for o in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        layers += [nn.Linear(n, o), nn.BatchNorm1d(o), nn.ReLU()]
        n = o
    return nn.Sequential(*layers, nn.Linear(n, 640))


def convnet():
    return nn.Sequential(
        nn.Conv2d(3, 32, 5, 1, 2), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
        LocalResponseNormWithinChannel(3, 5e-5, 0.75),
        nn.Conv2d(32, 32, 5, 1, 2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
        LocalResponseNormWithinChannel(3, 5e-5, 0.75),
        nn.Conv2d(32, 64, 5, 1, 2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Flatten(), nn.Linear(64 * 4 * 4, 10))


def nin():
    def block(c_in, c, k, p):
        return [nn.Conv2d(c_in, c, k, 1, p), nn.ReLU()]
    return nn.Sequential(
        *block(3, 192, 5, 2), *block(192, 160, 1, 0), *block(160, 96, 1, 0), nn.MaxPool2d(3, 2, ceil_mode=True),
        nn.Dropout(0.5),
        *block(96, 192, 5, 2), *block(192, 192, 1, 0), *block(192, 192, 1, 0), nn.AvgPool2d(3, 2, ceil_mode=True),
        nn.Dropout(0.5),
        *block(192, 192, 3, 1), *block(192, 192, 1, 0), *block(192, 10, 1, 0), nn.AvgPool2d(8, 1, ceil_mode=True),
        nn.Flatten())


class AlexNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 11, 4), nn.ReLU(inplace=True), nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(96, 256, 5, 1, 2, groups=2), nn.ReLU(inplace=True), nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0),
            nn.MaxPool2d(3, 2, ceil_mode=True),
            nn.Conv2d(256, 384, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, 1, 1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, 1, 1, groups=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, ceil_mode=True))
        self.classifier = nn.Sequential(
            nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Dropout(), nn.Linear(4096, 1000))

    def forward(self, x):
        x = self.features(x)
        return self.classifier(x.view(x.size(0), -1))


def lenet5():
    return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2, 2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2, 2),
                         nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))


NETS = {
    "ds-cnn": (ds_cnn, (1, 49, 10)),
    "mobilenet-v1": (mobilenet_v1, (3, 96, 96)),
    "resnet-8": (resnet8, (3, 32, 32)),
    "autoencoder": (autoencoder, (640,)),
    "convnet": (convnet, (3, 32, 32)),
    "nin": (nin, (3, 32, 32)),
    "alexnet": (AlexNet, (3, 227, 227)),
    "lenet-5": (lenet5, (1, 28, 28)),
    "torchvision-mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(), (3, 96, 96)),
    "torchvision-resnet18": (lambda: torchvision.models.resnet18(), (3, 64, 64)),
}


def make_net(name: str, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    m = NETS[name][0]()
    g = torch.Generator().manual_seed(seed + 1)
    for mod in m.modules():            # batch norms that do something when folded
        if isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d)):
            C = mod.num_features
            mod.running_mean.copy_(0.1 * torch.randn(C, generator=g))
            mod.running_var.copy_(0.5 + torch.rand(C, generator=g))
            mod.weight.data.copy_(0.75 + 0.5 * torch.rand(C, generator=g))
            mod.bias.data.copy_(0.1 * torch.randn(C, generator=g))
    return m.eval()


# ---- checks -----------------------------------------------------------------------------------

class Failures:
    """The failed checks, and the count of checks made (passed = checks - failures)."""

    def __init__(self):
        self.items = []
        self.checks = 0

    def add(self, where, msg):
        self.items.append(f"{where}: {msg}")
        print(f"  FAIL {where}: {msg}", flush=True)


def onnx_bytes(module: nn.Module, shape, opset: int) -> bytes:
    f = io.BytesIO()
    torch.onnx.export(module, torch.randn((1,) + tuple(shape)), f, opset_version=opset, input_names=["x"],
                      output_names=["y"], dynamic_axes={"x": {0: "N"}, "y": {0: "N"}})
    return f.getvalue()


def py_cli(*args) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"))
    return subprocess.run([sys.executable, "-m", "scalpel", *map(str, args)], capture_output=True, text=True, env=env)


def compare(cli, tmp: Path, fails: Failures, where: str, module: nn.Module, model_path: Path, shape, seed: int):
    """`scalpel run` at batch 1 and 3 against the module in float64, within the bound."""
    model = Model.load(model_path)
    ref_module = scalpel.to_torch(model).double()
    orig = copy.deepcopy(module).double()
    worst = 0.0
    for n in (1, 3):
        x = torch.from_numpy(np.random.default_rng(seed + n).standard_normal((n,) + tuple(shape)).astype(np.float32))
        np.save(tmp / "in.npy", x.numpy())
        try:
            tto.run_cli(cli, "run", model_path, "--input", tmp / "in.npy", "--output", tmp / "out.npy", "--batch", n)
        except AssertionError as e:
            fails.add(where, str(e))
            return
        fails.checks += 1
        got = torch.from_numpy(np.load(tmp / "out.npy").astype(np.float64)).reshape(n, -1)
        with torch.no_grad():
            want = orig(x.double()).reshape(n, -1)
            _, bound = tto.reference_and_bound(ref_module, x.double().reshape((n,) + model.input_shape))
        err = (got - want).abs()
        slack = 1e-12 * float(want.abs().max())
        bad = err > bound + slack
        if got.shape != want.shape:
            fails.add(where, f"output shape {tuple(got.shape)}, PyTorch {tuple(want.shape)}")
        elif bool(bad.any()):
            j = int(torch.argmax((err - bound).reshape(-1)))
            fails.add(where, f"batch {n}: {int(bad.sum())} outputs beyond the bound; worst |C - torch| "
                             f"{float(err.reshape(-1)[j]):.3g} against bound {float(bound.reshape(-1)[j]):.3g}")
        worst = max(worst, float(err.max()) / max(float(want.abs().max()), 1e-30))
    return worst


def check_nets(cli, tmp: Path, fails: Failures, names):
    print("part nets: PyTorch networks through convert_torch and ONNX, run in C at batch 1 and 3", flush=True)
    opsets = [11, 13, 17]
    for k, name in enumerate(names):
        t0 = time.time()
        shape = NETS[name][1]
        module = make_net(name, 100 + k)
        results = []
        # path 1: torch.fx
        p1 = tmp / f"{name}.fx.scpn"
        try:
            scalpel.convert_torch(module, shape, p1)
            r = compare(cli, tmp, fails, f"{name} (convert_torch)", module, p1, shape, 7 * k)
            results.append(f"fx {r:.1e}" if r is not None else "fx FAIL")
        except (ConvertError, ValueError) as e:
            fails.add(f"{name} (convert_torch)", str(e))
        # path 2: ONNX through the command line
        opset = opsets[k % len(opsets)]
        p2, src = tmp / f"{name}.onnx.scpn", tmp / f"{name}.onnx"
        try:
            src.write_bytes(onnx_bytes(module, shape, opset))
            r = py_cli("convert", src, "-o", p2)
            if r.returncode != 0:
                fails.add(f"{name} (ONNX opset {opset})", f"convert exited {r.returncode}: {r.stderr.strip()}")
            else:
                r2 = compare(cli, tmp, fails, f"{name} (ONNX opset {opset})", module, p2, shape, 7 * k + 3)
                results.append(f"onnx{opset} {r2:.1e}" if r2 is not None else "onnx FAIL")
        except Exception as e:   # noqa: BLE001 - the export itself failing is a failure of this case
            fails.add(f"{name} (ONNX opset {opset})", f"{type(e).__name__}: {e}")
        n_layers = len(Model.load(p1).layers) if p1.exists() else 0
        print(f"  {name:<26} {n_layers:3d} layers  max rel diff {', '.join(results)}  ({time.time() - t0:.1f} s)",
              flush=True)


class LSTMNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(8, 8, batch_first=True)

    def forward(self, x):
        return self.lstm(x.flatten(2))[0]


class UpsampleNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 3, padding=1)
        self.up = nn.Upsample(scale_factor=2)

    def forward(self, x):
        return self.up(self.conv(x))


class EinsumNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)

    def forward(self, x):
        y = self.conv(x)
        return torch.einsum("nchw,nchw->nc", y, x)


def check_refusals(cli, tmp: Path, fails: Failures):
    print("part refusals: unsupported operators and damaged ONNX files", flush=True)
    cases = [("nn.LSTM", LSTMNet(), (4, 2, 4), "LSTM", "LSTM"),
             ("nn.Upsample", UpsampleNet(), (2, 4, 4), "Upsample", "Resize"),
             ("torch.einsum", EinsumNet(), (2, 4, 4), "einsum", "Einsum")]
    for what, module, shape, fx_word, onnx_word in cases:
        fails.checks += 2
        try:
            scalpel.convert_torch(module.eval(), shape[:3] if len(shape) == 3 else shape)
            fails.add(f"refuse {what} (convert_torch)", "converted without an error")
        except ConvertError as e:
            if fx_word not in str(e) or "node" not in str(e):
                fails.add(f"refuse {what} (convert_torch)", f"the message does not name the node and op: {e}")
            else:
                print(f"  convert_torch {what}: {e}", flush=True)
        src, out = tmp / "refuse.onnx", tmp / "refuse.scpn"
        try:
            src.write_bytes(onnx_bytes(module.eval(), shape, 13))
        except Exception as e:   # noqa: BLE001
            fails.add(f"refuse {what} (ONNX)", f"the export failed: {type(e).__name__}: {e}")
            continue
        r = py_cli("convert", src, "-o", out)
        if r.returncode != 1 or onnx_word not in r.stderr or "Traceback" in r.stderr:
            fails.add(f"refuse {what} (ONNX)", f"exit {r.returncode}, stderr {r.stderr.strip()!r}")
        else:
            print(f"  convert {what} (ONNX): {r.stderr.strip()}", flush=True)
        if out.exists():
            fails.add(f"refuse {what} (ONNX)", "an output file was written")
    # damaged files: in process (many) and through the command line (a few)
    # a network whose file is mostly structure (nodes, attributes, shapes), little weight data
    torch.manual_seed(5)
    small = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(2, 2, 3, 2), nn.BatchNorm2d(2), nn.ReLU(),
                          nn.LocalResponseNorm(3), nn.MaxPool2d(2, ceil_mode=True), nn.Conv2d(2, 2, 1), nn.ReLU6(),
                          nn.Flatten(), nn.Linear(8, 3), nn.Softmax(dim=1)).eval()
    good = onnx_bytes(small, (2, 8, 8), 13)
    scalpel.convert_onnx(good)         # the undamaged file converts
    from scalpel.onnx_convert import convert_onnx
    rng = random.Random(3)
    cut = [good[:len(good) * j // 16] for j in range(16)]
    corrupt = []
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        corrupt.append(bytes(b))
    counts = {"refused": 0, "converted": 0}
    for k, data in enumerate(cut + corrupt):
        fails.checks += 1
        try:
            convert_onnx(data)
            counts["converted"] += 1
            if k < len(cut):
                fails.add("truncated ONNX", f"the first {len(data)} of {len(good)} bytes converted")
        except ConvertError:
            counts["refused"] += 1
        except Exception as e:   # noqa: BLE001 - exactly what must not happen
            fails.add("damaged ONNX", f"{type(e).__name__} instead of ConvertError: {e}")
            break
    for j in (1, 5, 11):
        (tmp / "cut.onnx").write_bytes(cut[j])
        r = py_cli("convert", tmp / "cut.onnx", "-o", tmp / "cut.scpn")
        if r.returncode != 1 or "Traceback" in r.stderr or not r.stderr.strip():
            fails.add("truncated ONNX (command line)", f"exit {r.returncode}, stderr {r.stderr.strip()!r}")
    print(f"  {len(cut)} truncated and {len(corrupt)} corrupted ONNX files: {counts['refused']} refused, "
          f"{counts['converted']} converted (bytes inside weights), no other exception", flush=True)


def file_version(data) -> int:
    return int.from_bytes(bytes(data[4:6]), "little")


def check_files(cli, tmp: Path, fails: Failures):
    print("part files: every model file in models/", flush=True)
    paths = sorted(REPO.glob("models/**/*.scpn"))
    if not paths:
        fails.add("models/", "no model files found")
    for p in paths:
        fails.checks += 1
        try:
            m, data = Model.load(p), p.read_bytes()
            if m.to_bytes(version=file_version(data)) != data:
                fails.add(str(p.relative_to(REPO)), "Python re-serializes it to other bytes")
        except ValueError as e:
            fails.add(str(p.relative_to(REPO)), f"Python cannot read it: {e}")
    r = py_cli("info", paths[0]) if paths else None
    if r is not None and (r.returncode != 0 or "layers" not in r.stdout):
        fails.add("python3 -m scalpel info", f"exit {r.returncode}: {r.stderr.strip()}")
    print(f"  {len(paths)} files read and re-written byte for byte (in the version each was written in)", flush=True)


def check_mutations(cli, tmp: Path, fails: Failures, count: int = 3000):
    print(f"part mutations: {count} mutated model files through Model.from_bytes", flush=True)
    seeds = [(REPO / "models" / "lenet5-scalpel.scpn").read_bytes(), (REPO / "models" / "lenet300-dense.scpn").read_bytes()]
    m = scalpel.convert_torch(make_net("resnet-8", 9), NETS["resnet-8"][1], check=False)
    seeds.append(m.to_bytes())
    # format version 4: the header's input preprocessing and packed batch, the preprocessing's array
    m.input_norm = dict(where="folded", range=255.0, mean=[0.49, 0.48, 0.45], std=[0.25, 0.24, 0.26])
    m.packed_batch = 8
    seeds.append(m.to_bytes())
    rng = random.Random(12)
    stats = {"refused": 0, "accepted": 0}
    for i in range(count):
        data = bytearray(rng.choice(seeds))
        how = rng.randrange(4)
        if how == 0:
            for _ in range(rng.randint(1, 8)):
                # mostly the header and records, where structure lives
                at = rng.randrange(min(len(data), 64 + 224 * 40)) if rng.random() < 0.8 else rng.randrange(len(data))
                data[at] = rng.randrange(256)
        elif how == 1:
            at = rng.randrange(len(data))
            data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        elif how == 2:
            at = rng.randrange(len(data))
            del data[at:at + rng.randint(1, 64)]
        else:
            del data[rng.randrange(len(data)):]
        fails.checks += 1
        if i % 2 and len(data) >= 8:
            data = bytearray(tto._fix_crc(data))
        try:
            got = Model.from_bytes(bytes(data))
            stats["accepted"] += 1
            if got.to_bytes(version=file_version(data)) != bytes(data):
                fails.add(f"mutation {i}", "an accepted file re-serializes to other bytes")
        except ValueError:
            stats["refused"] += 1
        except Exception as e:   # noqa: BLE001 - exactly what must not happen
            fails.add(f"mutation {i}", f"{type(e).__name__}: {e}")
            if len(fails.items) > 20:
                break
    print(f"  {stats['refused']} refused with ValueError, {stats['accepted']} accepted (and re-serialized "
          "identically), no other exception", flush=True)


class _Apply(nn.Module):
    """conv (2 -> 3 channels, 3x3, pad 1), then f."""

    def __init__(self, f):
        super().__init__()
        self.c, self.f = nn.Conv2d(2, 3, 3, padding=1), f

    def forward(self, x):
        return self.f(self.c(x))


class _MyConv(nn.Conv2d):             # a subclass without its own forward: a leaf
    pass


class _MyConvRelu(nn.Conv2d):         # with its own forward: traced through to F.conv2d
    def forward(self, x):
        return F.relu(super().forward(x))


class _SumBranches(nn.Module):
    def __init__(self):
        super().__init__()
        self.b = nn.ModuleList([nn.Conv2d(2, 2, 1) for _ in range(3)])

    def forward(self, x):
        return sum(b(x) for b in self.b)


class _SqueezeHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.fc = nn.Conv2d(2, 4, 3), nn.Linear(4, 3)

    def forward(self, x):
        return torch.softmax(self.fc(F.adaptive_avg_pool2d(self.c(x), 1).squeeze(-1).squeeze(-1)), dim=-1)


class _Unflatten(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc, self.c = nn.Linear(8, 4), nn.Conv2d(4, 2, 1)

    def forward(self, x):
        y = self.fc(x)
        return self.c(y.view(y.size(0), -1, 1, 1))


class _ExtraArg(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 2, 1)

    def forward(self, x, extra=None):
        return self.c(x) if extra is None else self.c(x) + extra


class _BatchDependent(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(2, 3, 1)

    def forward(self, x):
        return F.leaky_relu(self.c(x), 0.1 * (x.size(0) // 2))


class _InplaceReadAgain(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.r = nn.Conv2d(4, 4, 1), nn.ReLU(inplace=True)

    def forward(self, x):
        y = self.c(x)
        z = self.r(y)
        return z + y


class _InplaceAddUnused(nn.Module):
    def __init__(self):
        super().__init__()
        self.c = nn.Conv2d(4, 4, 1)

    def forward(self, x):
        out = self.c(x)
        out.add_(x)
        return F.relu(out)


def _hooked():
    m = nn.Sequential(nn.Conv2d(2, 2, 1))
    m[0].register_forward_hook(lambda mod, i, o: o * 2)
    return m


# (name, module factory, input shape, None: converts and agrees; else a word the refusal must hold)
EDGE_CASES = [
    ("clamp(min=0) is a ReLU", lambda: _Apply(lambda y: torch.clamp(y, min=0)), (2, 4, 4), None),
    ("clamp with one bound", lambda: _Apply(lambda y: torch.clamp(y, min=-1)), (2, 4, 4), None),
    ("clamp_min method", lambda: _Apply(lambda y: y.clamp_min(0.5)), (2, 4, 4), None),
    ("in-place relu_ read once", lambda: _Apply(lambda y: y.relu_()), (2, 4, 4), None),
    ("nn.Softmax2d", lambda: nn.Sequential(nn.Conv2d(2, 3, 1), nn.Softmax2d()), (2, 4, 4), None),
    ("a bare nn.Conv2d", lambda: nn.Conv2d(4, 6, 3), (4, 5, 5), None),
    ("a bare nn.Linear", lambda: nn.Linear(4, 6), (4,), None),
    ("subclasses of nn.Conv2d", lambda: nn.Sequential(_MyConv(2, 3, 3), _MyConvRelu(3, 3, 1)), (2, 5, 5), None),
    ("sum(branches)", _SumBranches, (2, 4, 4), None),
    ("two pads in a row", lambda: nn.Sequential(nn.ZeroPad2d(1), nn.ZeroPad2d((0, 1, 0, 0)), nn.Conv2d(2, 2, 3)),
     (2, 4, 4), None),
    ("squeeze(-1) twice, softmax(-1)", _SqueezeHead, (2, 5, 5), None),
    ("view(N, -1, 1, 1) after fc", _Unflatten, (8,), None),
    ("forward(x, extra=None)", _ExtraArg, (2, 4, 4), None),
    ("ReLU, ZeroPad2d, MaxPool2d", lambda: nn.Sequential(nn.Conv2d(2, 2, 1), nn.ReLU(), nn.ZeroPad2d((0, 1, 0, 1)),
                                                         nn.MaxPool2d(2)), (2, 5, 5), None),
    ("a value from the batch size", _BatchDependent, (2, 4, 4), "batch size"),
    ("in-place op read again", _InplaceReadAgain, (4, 3, 3), "in-place"),
    ("unused out.add_(x)", _InplaceAddUnused, (4, 3, 3), "in-place"),
    ("forward hooks", _hooked, (2, 4, 4), "hooks"),
    ("weight_norm", lambda: nn.Sequential(nn.utils.weight_norm(nn.Conv2d(4, 3, 3))), (4, 5, 5), "hooks"),
    ("more than 256 layers", lambda: nn.Sequential(*[nn.ReLU() if i % 2 else nn.Conv2d(2, 2, 1) for i in range(300)]),
     (2, 3, 3), "256"),
    ("ZeroPad2d before MaxPool2d on signed values", lambda: nn.Sequential(nn.ZeroPad2d(1), nn.MaxPool2d(2)),
     (2, 4, 4), "negative"),
    ("padding wider than the kernel", lambda: nn.Sequential(nn.ReLU(), nn.ZeroPad2d(3), nn.MaxPool2d(2)), (2, 4, 4),
     "ZeroPad2d"),
    ("LocalResponseNorm of even size", lambda: nn.LocalResponseNorm(2), (4, 3, 3), "odd"),
    ("nn.Linear on a 4-D map", lambda: nn.Sequential(nn.Conv2d(2, 4, 1), nn.Linear(4, 5)), (2, 4, 4), "last axis"),
    ("F.dropout(training=True)", lambda: _Apply(F.dropout), (2, 4, 4), "training"),
    ("SiLU", lambda: nn.Sequential(nn.Conv2d(2, 2, 1), nn.SiLU()), (2, 4, 4), "SiLU"),
    ("input_shape as a string", lambda: nn.ReLU(), "3,8,8", "input_shape"),
]


def check_edges(cli, tmp: Path, fails: Failures):
    """Small modules of the shapes users write: each converts and agrees with the module
    (convert_torch's own check, and to_torch against the module here at batch 1 and 3), or is
    refused with a ConvertError whose message holds the expected word."""
    print(f"part edges: {len(EDGE_CASES)} small modules through convert_torch", flush=True)
    for name, make, shape, word in EDGE_CASES:
        fails.checks += 1
        torch.manual_seed(3)
        module = make().eval()
        try:
            model = scalpel.convert_torch(module, shape)
        except ConvertError as e:
            if word is None or word not in str(e):
                fails.add(f"edge {name}", f"refused: {e}" if word is None else f"the refusal does not say {word!r}: {e}")
            continue
        except Exception as e:   # noqa: BLE001 - exactly what must not happen
            fails.add(f"edge {name}", f"{type(e).__name__} instead of ConvertError: {e}")
            continue
        if word is not None:
            fails.add(f"edge {name}", f"converted; expected a refusal naming {word!r}")
            continue
        for n in (1, 3):
            x = torch.randn((n,) + tuple(shape), dtype=torch.float64)
            with torch.no_grad():
                ref = copy.deepcopy(module).double()(x).reshape(n, -1)
                got = scalpel.to_torch(model).double()(x)
            if ref.shape != got.shape or float((ref - got).abs().max()) > 1e-5 * max(float(ref.abs().max()), 1e-30):
                fails.add(f"edge {name}", f"batch {n}: the converted model disagrees with the module")
    print("  each converted and agreed, or was refused with its reason", flush=True)


def check_package(cli, tmp: Path, fails: Failures):
    """pip installs the package (offline: the system's setuptools) and it works from there."""
    print("part package: pip install --no-build-isolation ./python, then used from outside the tree", flush=True)
    import shutil
    src, target = tmp / "pkg-src", tmp / "pkg-target"
    shutil.copytree(REPO / "python", src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    fails.checks += 3
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps", "--no-index",
                        "--target", str(target), str(src)], capture_output=True, text=True)
    if r.returncode != 0:
        fails.add("pip install", (r.stderr or r.stdout).strip()[-2000:])
        return
    env = dict(os.environ, PYTHONPATH=str(target))
    model = REPO / "models" / "lenet5-dense.scpn"
    r = subprocess.run([sys.executable, "-c", "import scalpel, sys; m = scalpel.Model.load(sys.argv[1]); "
                        "print(scalpel.__file__); print(len(m.layers))", str(model)],
                       capture_output=True, text=True, env=env, cwd=str(tmp))
    if r.returncode != 0 or not r.stdout.startswith(str(target)):
        fails.add("installed package", f"exit {r.returncode}: {(r.stderr or r.stdout).strip()}")
    r = subprocess.run([sys.executable, "-m", "scalpel", "info", str(model)], capture_output=True, text=True, env=env,
                       cwd=str(tmp))
    if r.returncode != 0 or "layers" not in r.stdout:
        fails.add("installed python3 -m scalpel info", f"exit {r.returncode}: {r.stderr.strip()}")
    print("  installed, imported and run from outside the repository", flush=True)


def check_cli(cli, tmp: Path, fails: Failures):
    """The C tool's commands on converted models: a pruned LeNet-5 to a q15 header, and a
    converted DS-CNN (every new kind but LRN) through info, plan, pack, bench, export-c and a
    q7 header calibrated on random inputs (its 1 x 49 x 10 input is no MNIST image)."""
    print("part cli: converted models through scalpel info / plan / pack / bench / run / export-c / quantize", flush=True)
    import torch.nn.utils.prune as prune
    net = make_net("lenet-5", 21)
    layers = [(m, "weight") for m in net if isinstance(m, (nn.Conv2d, nn.Linear))]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=0.9)
    for m, name in layers:
        prune.remove(m, name)
    x = np.random.default_rng(4).standard_normal((2, 1, 28, 28)).astype(np.float32)
    np.save(tmp / "cli_in.npy", x)
    steps = [
        ("lenet-5", ["info", "{m}"]),
        ("lenet-5", ["plan", "--hw", "cortex-m4", "{m}"]),
        ("lenet-5", ["pack", "--hw", "cortex-m4", "{m}", "-o", "{p}"]),
        ("lenet-5", ["run", "{m}", "--input", str(tmp / "cli_in.npy"), "--output", str(tmp / "cli_a.npy")]),
        ("lenet-5", ["run", "{p}", "--input", str(tmp / "cli_in.npy"), "--output", str(tmp / "cli_b.npy")]),
        ("lenet-5", ["quantize", "{p}", "lenet5", "-o", str(tmp / "lenet5_q15.h"), "--synthetic", "--calib", "50",
                     "--test", "50"]),
        ("lenet-5", ["export-c", "{p}", "lenet5", "-o", str(tmp / "lenet5_f32.h")]),
        ("ds-cnn", ["info", "{m}"]),
        ("ds-cnn", ["plan", "--hw", "x86-avx2", "{m}"]),
        ("ds-cnn", ["pack", "--hw", "host", "{m}", "-o", "{p}"]),
        ("ds-cnn", ["bench", "{p}", "--repeat", "1"]),
        ("ds-cnn", ["export-c", "{p}", "dscnn", "-o", str(tmp / "dscnn.h")]),
        ("ds-cnn", ["quantize", "{p}", "dscnn", "-o", str(tmp / "dscnn_q7.h"), "--random", "--calib", "20", "--test",
                    "20", "--dtype", "q7", "--per-channel", "--drop-softmax"]),
    ]
    paths = {}
    for name, module in (("lenet-5", net), ("ds-cnn", make_net("ds-cnn", 22))):
        m, p = tmp / f"cli_{name}.scpn", tmp / f"cli_{name}_packed.scpn"
        scalpel.convert_torch(module, NETS[name][1], m)
        paths[name] = (m, p)
    for name, args in steps:
        m, p = paths[name]
        args = [a.replace("{m}", str(m)).replace("{p}", str(p)) for a in args]
        fails.checks += 1
        r = tto.run_cli(cli, *args, check=False)
        if r.returncode != 0:
            fails.add(f"scalpel {' '.join(args[:1])} ({name})", (r.stderr or r.stdout).strip()[-500:])
    fails.checks += 2
    if "gcsr" not in tto.run_cli(cli, "info", paths["lenet-5"][1], check=False).stdout:
        fails.add("pack (lenet-5)", "the pruned LeNet-5 packed for the M4 holds no grouped-CSR layer")
    if (tmp / "cli_a.npy").exists() and (tmp / "cli_b.npy").exists():
        a, b = np.load(tmp / "cli_a.npy"), np.load(tmp / "cli_b.npy")
        if not np.allclose(a, b, rtol=1e-4, atol=1e-5 * float(np.abs(a).max())):
            fails.add("pack (lenet-5)", f"the packed model computes other outputs (max diff {float(np.abs(a - b).max()):.3g})")
    print(f"  {len(steps)} commands on a pruned LeNet-5 and a DS-CNN converted from PyTorch", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="nets,refusals,edges,files,mutations,package,cli")
    ap.add_argument("--nets", default=",".join(NETS))
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    known = {"nets", "refusals", "edges", "files", "mutations", "package", "cli"}
    if parts - known:
        ap.error(f"unknown part(s) {sorted(parts - known)}")
    names = [n for n in args.nets.split(",") if n]
    if set(names) - set(NETS):
        ap.error(f"unknown network(s) {sorted(set(names) - set(NETS))}; known: {', '.join(NETS)}")
    torch.set_num_threads(1)
    t0 = time.time()
    cli = tto.cli_path()
    fails = Failures()
    with tempfile.TemporaryDirectory(prefix="scalpel_convert_") as d:
        tmp = Path(d)
        if "files" in parts:
            check_files(cli, tmp, fails)
        if "mutations" in parts:
            check_mutations(cli, tmp, fails)
        if "package" in parts:
            check_package(cli, tmp, fails)
        if "cli" in parts:
            check_cli(cli, tmp, fails)
        if "refusals" in parts:
            check_refusals(cli, tmp, fails)
        if "edges" in parts:
            check_edges(cli, tmp, fails)
        if "nets" in parts:
            check_nets(cli, tmp, fails, names)
    dt = time.time() - t0
    print(f"test_convert: {fails.checks - len(fails.items)} passed, {len(fails.items)} failed")
    if fails.items:
        print(f"\nFAILED: {len(fails.items)} check(s) failed ({dt:.1f} s):", file=sys.stderr)
        for item in fails.items:
            print("  " + item, file=sys.stderr)
        return 1
    print(f"\nall checks passed ({dt:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
