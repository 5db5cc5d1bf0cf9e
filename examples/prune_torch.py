#!/usr/bin/env python3
"""prune_torch.py - a PyTorch model trained, pruned with scalpel.torch for a hardware profile,
exported, and measured by the C library: the whole user path in one script, on one process or
many (torchrun).

    PYTHONPATH=python /usr/bin/python3 examples/prune_torch.py --net lenet-300-100 \\
        --data ../shared/data/mnist --hw x86-avx2 --out build/torch-results
    /usr/bin/python3 -m torch.distributed.run --nproc_per_node 2 --redirects 2 --tee 2 \\
        examples/prune_torch.py --net lenet-5 --hw x86-avx2 ...        (DDP, gloo)

Steps (each says what it does; rank 0 prints):
  1. the IDX data (MNIST or Fashion-MNIST, gzip'd or not), pixels scaled to [0, 1];
  2. the dense model: trained here (SGD, momentum 0.9, --dense-epochs epochs), or loaded from
     OUT/NET-DATA-dense.pt when an earlier run trained it (delete it to train again);
  3. scalpel.torch.prune_for on the profile (--hw: cortex-m4 grouped pruning everywhere;
     x86-avx2 node pruning of the convolutions, then grouped fc; cuda node pruning only), with
     --tolerance of accuracy, --stage-epochs epochs per stage, a checkpoint in OUT (a rerun
     resumes);
  4. export: convert_torch, then `scalpel pack --hw HW` (OUT/NET-DATA-HW.scpn), and the dense
     model the same way (mode dense) for the comparison;
  5. measured by the C library: `scalpel bench` of the dense and the pruned file, alternately
     (--bench-rounds rounds each; the ratio of the medians), and for cortex-m4 the q15 models
     (`scalpel quantize`) counted on the emulated Cortex-M4 (bench/cortex_m_lenet.py's counter);
  6. a JSON summary (OUT/NET-DATA-HW.json): errors, sizes, speed-ups, epochs, wall time.

An "epoch" is a pass over --train-subset training images (default all), a different slice
each epoch, so that slow networks can run shorter stages; the test set is always whole.
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python"))
import scalpel                      # noqa: E402
import scalpel.torch as st          # noqa: E402


# ---- data ---------------------------------------------------------------------------------------

def read_idx(path: Path, magic: int, dims: int) -> np.ndarray:
    """An IDX file (gzip'd when it ends in .gz): the magic number and sizes checked against the
    bytes present before anything is read."""
    raw = gzip.open(path, "rb").read() if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 + 4 * dims or struct.unpack(">I", raw[:4])[0] != magic:
        raise SystemExit(f"prune_torch: {path}: not an IDX file of {dims} dimension(s)")
    shape = struct.unpack(">" + "I" * dims, raw[4:4 + 4 * dims])
    n = int(np.prod(shape, dtype=np.int64))
    if len(raw) != 4 + 4 * dims + n:
        raise SystemExit(f"prune_torch: {path}: {len(raw)} bytes, the header says {4 + 4 * dims + n}")
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load_split(d: Path, prefix: str):
    def find(name):
        for p in (d / name, d / (name + ".gz")):
            if p.exists():
                return p
        raise SystemExit(f"prune_torch: {d}: no {name}[.gz] (MNIST layout)")
    x = read_idx(find(f"{prefix}-images-idx3-ubyte"), 0x803, 3)
    y = read_idx(find(f"{prefix}-labels-idx1-ubyte"), 0x801, 1)
    if len(x) != len(y):
        raise SystemExit(f"prune_torch: {d}: {len(x)} {prefix} images, {len(y)} labels")
    return torch.from_numpy(x.astype(np.float32) / 255.0).unsqueeze(1), torch.from_numpy(y.astype(np.int64))


# ---- the networks (28 x 28 x 1 inputs, 10 classes) ------------------------------------------------

class DSBlock(nn.Sequential):
    """Depthwise 3x3 (stride s), batch norm, ReLU, pointwise 1x1, batch norm, ReLU."""
    def __init__(self, c: int, out: int, s: int = 1):
        super().__init__(nn.Conv2d(c, c, 3, s, 1, groups=c, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                         nn.Conv2d(c, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU())


class ResStack(nn.Module):
    """One stack of MLPerf Tiny's ResNet-8 (resnet_v1_eembc): conv 3x3 (stride s), BN, ReLU,
    conv 3x3, BN; the shortcut the identity or a 1x1 stride-s conv; add; ReLU."""
    def __init__(self, c: int, out: int, s: int):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c, out, 3, s, 1), nn.BatchNorm2d(out)
        self.conv2, self.bn2 = nn.Conv2d(out, out, 3, 1, 1), nn.BatchNorm2d(out)
        self.short = nn.Conv2d(c, out, 1, s) if s != 1 or c != out else nn.Identity()

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + self.short(x))


def build(net: str) -> nn.Module:
    if net == "lenet-300-100":
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(), nn.Linear(300, 100), nn.ReLU(),
                             nn.Linear(100, 10))
    if net == "lenet-5":                       # Caffe's LeNet: no ReLU after the convolutions
        return nn.Sequential(nn.Conv2d(1, 20, 5), nn.MaxPool2d(2), nn.Conv2d(20, 50, 5), nn.MaxPool2d(2),
                             nn.Flatten(), nn.Linear(800, 500), nn.ReLU(), nn.Linear(500, 10))
    if net == "ds-cnn":                        # MLPerf Tiny's DS-CNN, its first conv 3x3 stride 2 for images
        return nn.Sequential(nn.Conv2d(1, 64, 3, 2, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                             *[DSBlock(64, 64) for _ in range(4)], nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(64, 10))
    if net == "resnet-8":
        return nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(), ResStack(16, 16, 1),
                             ResStack(16, 32, 2), ResStack(32, 64, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(64, 10))
    if net == "convnet":                       # cuda-convnet's CIFAR-10 net (Caffe's cifar10_full) on 28 x 28
        return nn.Sequential(nn.Conv2d(1, 32, 5, 1, 2), nn.MaxPool2d(3, 2, ceil_mode=True), nn.ReLU(),
                             nn.LocalResponseNorm(3, 5e-5, 0.75), nn.Conv2d(32, 32, 5, 1, 2), nn.ReLU(),
                             nn.AvgPool2d(3, 2, ceil_mode=True), nn.LocalResponseNorm(3, 5e-5, 0.75),
                             nn.Conv2d(32, 64, 5, 1, 2), nn.ReLU(), nn.AvgPool2d(3, 2, ceil_mode=True),
                             nn.Flatten(), nn.Linear(64 * 3 * 3, 10))   # 28 -> 14 -> 7 -> 3 (ceil-mode pools)
    raise SystemExit(f"prune_torch: --net {net}: lenet-300-100, lenet-5, ds-cnn, resnet-8 or convnet")


NETS = ("lenet-300-100", "lenet-5", "ds-cnn", "resnet-8", "convnet")


# ---- training, on one process or under DDP --------------------------------------------------------

def rank_world():
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def make_fns(data, args):
    xtr, ytr, xte, yte = data
    subset = min(args.train_subset or len(xtr), len(xtr))
    batch = args.batch

    def train_epoch(model, opt, epoch):
        """One epoch: --train-subset images (slice `epoch` of a fixed shuffle), the global batch
        split between the ranks (DDP averages the gradients: the same step as one process)."""
        rank, world = rank_world() if isinstance(model, nn.parallel.DistributedDataParallel) else (0, 1)
        order = torch.randperm(len(xtr), generator=torch.Generator().manual_seed(args.seed))
        start = (epoch * subset) % len(xtr)
        idx = torch.cat([order, order])[start:start + subset]
        idx = idx[torch.randperm(subset, generator=torch.Generator().manual_seed(1000 + epoch))]
        local = batch // world
        model.train()
        for j in range(subset // batch):
            b = idx[j * batch:(j + 1) * batch][rank * local:(rank + 1) * local]
            loss = F.cross_entropy(model(xtr[b]), ytr[b])
            opt.zero_grad()
            loss.backward()
            opt.step()

    def evaluate(model):
        """Accuracy on the whole test set (each rank its share, the counts summed)."""
        m = st._unwrap(model)
        rank, world = rank_world()
        m.eval()
        right = torch.zeros(1, dtype=torch.float64)
        with torch.no_grad():
            for i in range(rank * 1000, len(xte), world * 1000):
                right += (m(xte[i:i + 1000]).argmax(1) == yte[i:i + 1000]).sum()
        if dist.is_initialized():
            dist.all_reduce(right)
        return float(right[0]) / len(xte)
    return train_epoch, evaluate


def dense_model(args, data, fns, tag: str, say):
    """The trained dense model: OUT/TAG-dense.pt when it exists, else trained here (rank 0 saves)."""
    path = Path(args.out) / f"{tag}-dense.pt"
    torch.manual_seed(args.seed)
    model = build(args.net)
    if path.exists():
        model.load_state_dict(torch.load(path))
        say(f"dense model: {path} (trained earlier; delete it to train again)")
        return model, 0.0
    t0 = time.time()
    train_epoch, evaluate = fns
    m = nn.parallel.DistributedDataParallel(model) if dist.is_initialized() else model
    opt = torch.optim.SGD(m.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.dense_epochs)
    for e in range(args.dense_epochs):
        train_epoch(m, opt, 10000 + e)
        sched.step()
        say(f"dense epoch {e}: test error {100 * (1 - evaluate(m)):.2f}%")
    if rank_world()[0] == 0:
        torch.save(model.state_dict(), path)
    if dist.is_initialized():
        dist.barrier()
    return model, time.time() - t0


# ---- measured by the C library --------------------------------------------------------------------

def run(cmd, **kw) -> str:
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT, **kw)
    if p.returncode != 0:
        raise SystemExit(f"prune_torch: {' '.join(map(str, cmd))} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p.stdout


def bench_pair(cli: str, dense: Path, pruned: Path, rounds: int) -> dict:
    """`scalpel bench` of the dense and the pruned file alternately; medians of each."""
    t = {"dense": [], "pruned": []}
    for _ in range(rounds):
        for k, p in (("dense", dense), ("pruned", pruned)):
            out = run([cli, "bench", p, "--repeat", "5"])
            t[k].append(float(re.search(r"^\s*stored\s+[\d.]+\s+([\d.]+)", out, re.M).group(1)))
    md, mp = statistics.median(t["dense"]), statistics.median(t["pruned"])
    return {"dense_us": md, "pruned_us": mp, "speedup": md / mp, "dense_runs": t["dense"], "pruned_runs": t["pruned"]}


def cortex_m4(cli: str, model: Path, name: str, data_dir: str) -> dict:
    """q15 on the emulated Cortex-M4: bench/cortex_m_lenet.py's quantize-and-count."""
    sys.path.insert(0, str(ROOT / "bench"))
    import cortex_m_lenet
    return cortex_m_lenet.measure(cli, str(model), name, ["--data", data_dir])


def run_names(args):
    """(TAG, NAME): NET-DATA names the dense files, NET-DATA-HW[-TAG] the run's."""
    tag = f"{args.net}-{Path(args.data).name}"
    return tag, f"{tag}-{args.hw}{'-' + args.tag if args.tag else ''}"


def rebench(args) -> int:
    """--rebench: the bench pair of an earlier run's files again; its summary updated."""
    tag, name = run_names(args)
    out = Path(args.out)
    path = out / f"{name}.json"
    if not path.exists():
        raise SystemExit(f"prune_torch: --rebench: no summary {path} (run without --rebench first)")
    summary = json.loads(path.read_text())
    summary["bench"] = bench_pair(args.cli, out / f"{tag}-dense.scpn", out / f"{name}.scpn", args.bench_rounds)
    path.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"{name}: dense {summary['bench']['dense_us']:.2f} us, pruned {summary['bench']['pruned_us']:.2f} us: "
          f"{summary['bench']['speedup']:.2f}x")
    return 0


# ---- main -------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--net", required=True, choices=NETS)
    ap.add_argument("--data", required=True, help="an MNIST-layout directory (MNIST or Fashion-MNIST)")
    ap.add_argument("--hw", required=True, help="a profile of `scalpel plan --hw list`, or host")
    ap.add_argument("--out", required=True, help="directory for the models, checkpoints and the summary")
    ap.add_argument("--cli", default=os.environ.get("SCALPEL_CLI"), help="the scalpel tool (default $SCALPEL_CLI)")
    ap.add_argument("--dense-epochs", type=int, default=10)
    ap.add_argument("--stage-epochs", type=int, default=1)
    ap.add_argument("--max-stages", type=int, default=8)
    ap.add_argument("--tolerance", type=float, default=0.002, help="accuracy the pruning may cost (0.002: 0.2 points)")
    ap.add_argument("--rate-keep", type=float, default=0.0,
                    help="geometric ladder: stage s prunes to 1 - 0.5 * KEEP^s (default: linear, 0.5 + 0.1 s)")
    ap.add_argument("--rate-max", type=float, default=0.95)
    ap.add_argument("--patience", type=int, default=0, help="misses in a row forgiven before a ladder ends")
    ap.add_argument("--fc-stage-epochs", type=int, default=0,
                    help="epochs per stage of the fc phase after node pruning (default: --stage-epochs)")
    ap.add_argument("--mask-lr-scale", type=float, default=1.0,
                    help="the node masks' learning rate, a fraction of --prune-lr (1: the C trainer's)")
    ap.add_argument("--mask-order", default="auto", choices=("auto", "equal", "output"),
                    help="the masks' initial b (auto: ordered by output sensitivity when the model has batch norms)")
    ap.add_argument("--lambda-start", type=float, default=0.001, help="node pruning's first L1 pull")
    ap.add_argument("--lambda-factor", type=float, default=2.0, help="the pull's growth per stage")
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--prune-lr", type=float, default=0.005)
    ap.add_argument("--weight-decay", type=float, default=1e-4)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--train-subset", type=int, default=0, help="images per epoch (default: all)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads per process (default: torch's)")
    ap.add_argument("--bench-rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tag", default="", help="a suffix for the output names (e.g. np2)")
    ap.add_argument("--rebench", action="store_true",
                    help="only time the dense and the pruned file of an earlier run again (on a quieter machine) "
                         "and update its summary")
    args = ap.parse_args()
    for what, v, lo in (("--dense-epochs", args.dense_epochs, 1), ("--stage-epochs", args.stage_epochs, 1),
                        ("--max-stages", args.max_stages, 1), ("--batch", args.batch, 2),
                        ("--bench-rounds", args.bench_rounds, 1), ("--train-subset", args.train_subset, 0),
                        ("--patience", args.patience, 0), ("--fc-stage-epochs", args.fc_stage_epochs, 0)):
        if v < lo:
            ap.error(f"{what} {v}: at least {lo}")
    for what, v, hi in (("--tolerance", args.tolerance, 1.0), ("--lambda-start", args.lambda_start, 1e6),
                        ("--lambda-factor", args.lambda_factor, 1e3),
                        ("--lr", args.lr, 10.0), ("--prune-lr", args.prune_lr, 10.0),
                        ("--weight-decay", args.weight_decay, 1.0), ("--rate-keep", args.rate_keep, 0.99),
                        ("--rate-max", args.rate_max, 0.999), ("--mask-lr-scale", args.mask_lr_scale, 1.0)):
        if not (0.0 <= v <= hi):
            ap.error(f"{what} {v}: 0 .. {hi:g}")
    if not args.cli:
        ap.error("--cli PATH or SCALPEL_CLI: the scalpel tool (cc -O2 -march=native -I. examples/scalpel_cli.c "
                 "-o scalpel -lm)")
    if args.hw != "host":
        try:
            st.hw_profile(args.hw, args.cli)
        except st.PruneError as e:
            ap.error(str(e))
    if args.rebench:
        return rebench(args)
    if "RANK" in os.environ:
        dist.init_process_group("gloo")
    if args.threads:
        torch.set_num_threads(args.threads)
    rank, world = rank_world()
    if args.batch % world:
        ap.error(f"--batch {args.batch}: a multiple of the {world} processes")
    say = print if rank == 0 else (lambda *a, **k: None)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    d = Path(args.data)
    data = load_split(d, "train") + load_split(d, "t10k")
    dname = d.name
    tag, name = run_names(args)
    fns = make_fns(data, args)
    model, dense_wall = dense_model(args, data, fns, tag, say)
    dense_file = out / f"{tag}-dense.scpn"
    if rank == 0:              # before pruning: the drivers prune the model in place
        st.export(model, tuple(data[0].shape[1:]), str(dense_file), args.hw, "dense", args.cli)
    ddp = nn.parallel.DistributedDataParallel(model) if dist.is_initialized() else model
    opt = torch.optim.SGD(ddp.parameters(), lr=args.prune_lr, momentum=0.9, weight_decay=args.weight_decay)
    t0 = time.time()
    small, res = st.prune_for(ddp, opt, args.hw, fns[0], fns[1], data[0][:64], tolerance=args.tolerance,
                              max_stages=args.max_stages, epochs_per_stage=args.stage_epochs,
                              lambda_start=args.lambda_start, rate_keep=args.rate_keep, rate_max=args.rate_max,
                              patience=args.patience, fc_epochs_per_stage=args.fc_stage_epochs,
                              mask_lr_scale=args.mask_lr_scale, mask_order=args.mask_order, lambda_factor=args.lambda_factor,
                              checkpoint=str(out / f"{name}.ckpt"), export_path=str(out / f"{name}.scpn"),
                              cli=args.cli, log=say)
    prune_wall = time.time() - t0
    summary = {"net": args.net, "data": dname, "hw": args.hw, "hw_class": res.hw_class, "processes": world,
               "threads": torch.get_num_threads(), "train_subset": args.train_subset or len(data[0]),
               "dense_error": 1 - res.dense_accuracy, "error": 1 - res.accuracy, "rate": res.rate,
               "layer_rate": res.layer_rate, "stage_epochs": args.stage_epochs, "tolerance": args.tolerance,
               "lambda_start": args.lambda_start, "rate_keep": args.rate_keep, "rate_max": args.rate_max,
               "patience": args.patience, "fc_stage_epochs": args.fc_stage_epochs,
               "mask_lr_scale": args.mask_lr_scale, "mask_order": args.mask_order, "lambda_factor": args.lambda_factor,
               "prune_lr": args.prune_lr, "dense_train_s": dense_wall, "prune_s": prune_wall,
               "nodes": res.nodes.nodes_after if res.nodes else None,
               "nodes_before": res.nodes.nodes_before if res.nodes else None,
               "epochs": (res.nodes.epochs if res.nodes else 0) + (res.groups.epochs if res.groups else 0),
               "grouped_dense": res.groups.skipped if res.groups else None}
    if rank == 0:
        pruned_file = out / f"{name}.scpn"
        info_d, info_p = run([args.cli, "info", dense_file]), run([args.cli, "info", pruned_file])
        wb = [int(re.search(r"^total: (\d+) weight bytes", s, re.M).group(1))
              for s in (info_d, info_p)]
        summary["weight_bytes"] = {"dense": wb[0], "pruned": wb[1]}
        summary["bench"] = bench_pair(args.cli, dense_file, pruned_file, args.bench_rounds)
        say(f"bench on this machine: dense {summary['bench']['dense_us']:.2f} us, pruned "
            f"{summary['bench']['pruned_us']:.2f} us: {summary['bench']['speedup']:.2f}x")
        if args.hw.startswith("cortex-m"):
            try:
                cd = cortex_m4(args.cli, dense_file, f"{tag.replace('-', '_')}_dense", args.data)
                cp = cortex_m4(args.cli, pruned_file, f"{name.replace('-', '_')}", args.data)
                summary["cortex_m4"] = {"dense": cd, "pruned": cp, "speedup": cd["cyc"] / cp["cyc"]}
                say(f"Cortex-M4 q15: dense {cd['cyc']} cycles ({cd['qerr']}% error), pruned {cp['cyc']} cycles "
                    f"({cp['qerr']}% error): {cd['cyc'] / cp['cyc']:.2f}x")
            except SystemExit as e:     # the tool's own message says why (e.g. no fixed-point LRN)
                lines = str(e).splitlines()
                why = [ln for ln in lines if ln.startswith("scalpel:")]
                summary["cortex_m4"] = {"error": (why[-1] if why else lines[0])[:300]}
                say(f"Cortex-M4: not measured: {summary['cortex_m4']['error']}")
        summary["wall_s"] = time.time() - t_start
        (out / f"{name}.json").write_text(json.dumps(summary, indent=1) + "\n")
        say(f"{name}: error {100 * summary['dense_error']:.2f}% -> {100 * summary['error']:.2f}%, "
            f"weights gone {100 * res.rate:.1f}%, prune {prune_wall:.0f} s; summary in {out / (name + '.json')}")
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (st.PruneError, scalpel.ConvertError) as e:
        sys.exit(f"prune_torch: {e}")
