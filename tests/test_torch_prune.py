#!/usr/bin/env python3
"""scalpel.torch (SIMD-aware pruning in PyTorch, DistributedDataParallel included) against the C
library and against itself across processes.

    /usr/bin/python3 tests/test_torch_prune.py [--parts parity,driver,resume,ddp,nodes,pipeline,example]

Needs numpy and torch (Debian's python3-torch; it fails, never skips, without them), gcc for
the C side (tests/prune_parity.c) and the C tool (build/scalpel, or $SCALPEL_CLI).

PARTS
  parity   Group scores and rate masks equal to the C library's, bit for bit
           (scalpel_prune_group_scores, scalpel_prune_groups_rate through tests/prune_parity.c),
           on 400 random matrices: G = 1, 2, 4, 8, 16, RMS / mean / max, tail groups, rates 0 to
           1, values with ties (repeated magnitudes, zeros, groups of equal scores) and a range
           of magnitudes from 1e-30 to 1e30.
  driver   The x86-avx2 profile read from the C tool (`scalpel plan --hw list --json`) gives the
           layers' break-even rates; prune_simd on a small MLP (synthetic, learnable data) on one process: masks only
           shrink, masked weights and SGD momentum are zero after every step, a layer whose rate
           stays under its break-even is left dense, the rest are pruned past it within the
           tolerance; the model goes through convert_torch to a model file that `scalpel run`
           computes as PyTorch does (within 1e-4 relative) and `scalpel pack --hw x86-avx2` (G =
           8) stores in grouped CSR.
  resume   The same run interrupted (an exception in epoch 7) and started again from its
           checkpoint ends with the same weights, masks and result, bit for bit.
  ddp      `torch.distributed.run --nproc_per_node 2` with gloo, the global batch split between
           the ranks: the same masks as one process with the same global batches (exactly) and
           the same weights within 1e-4; then the same two-process run with rank 1 killed
           (os._exit) in the middle of pruning and restarted by torchrun (--max_restarts 1) from
           the checkpoint: the same masks, and weights within 1e-6, as without the kill.
  nodes    Node pruning with mask layers (NodeMasker): against the C trainer (tests/mask_parity.c:
           conv-relu-pool-conv-relu-pool-fc-relu-fc with node masks on the three hidden weighted
           layers), 8 SGD steps in two configurations (momentum 0.9, weight decay and an L1 pull
           that switches masks off; plain SGD without pull) from the same weights, masks (b on
           both sides of T and T + eps, some a = 0) and batches: every step's loss, grad_b
           (the straight-through gradient, non-zero on masks that are off), b, a and weights
           equal within float tolerances (a exactly, except where b lies within the tolerance
           of a threshold), with masks turning off and back on. Coupling, traced with torch.fx
           on a model with batch norms, a residual add, a depthwise conv, a concat and a
           flatten into an nn.Linear: the shared masks are the expected ones, and remove_nodes
           gives a smaller model computing what the masked one computes (1e-5); refusals
           (PruneError) of a reshape with a literal size, a masked output layer and an
           untraceable model. DDP: torchrun with 2 processes (gloo), the global batch split,
           against one process: the same a, b within 1e-6, and a and b bit-identical on both
           ranks.
  pipeline prune_for per hardware class on a conv-conv-fc-fc model (synthetic 8 x 8 images,
           tolerance 0.06, dense accuracy at least 0.6): cortex-m4 grouped masks (G = 2) on
           conv and fc, each layer above its break-even or dense; x86-avx2 conv channels
           removed, then fc grouped (G = 8); cuda rows removed only, no weight masks. The
           Traditional and Optimized baselines: the storage per layer after export (pack
           --mode traditional / optimized). Every exported model computes in `scalpel run`
           what the pruned PyTorch model computes (1e-4 relative). prune_for(x86-avx2)
           interrupted in the node phase and called again with its checkpoint: bit-identical.
           Under torchrun (2 processes, gloo, the DDP wrapper given): the same nodes, fc masks
           and export as one process (weights within 1e-4), then rank 1 killed in the grouped
           phase and restarted: the node phase replayed from its checkpoint, the same result
           (1e-6). remove_nodes(round_to=8): multiples of 8, the largest-norm rows kept back.
           hw_profile("host", model=) measured by the tool on the model's shapes, then cached;
           calibrate=True; prune_for("host").
  example  examples/prune_torch.py on MNIST (../shared/data/mnist or $SCALPEL_MNIST_DIR; it
           fails without it) with a short schedule: LeNet-300-100 trained, pruned for
           x86-avx2, exported (grouped CSR, G = 8) and benched; its JSON summary; clear errors
           for a missing or truncated IDX file, an unknown network or profile, a bad option.
"""

from __future__ import annotations

import argparse
import gzip
import json
from dataclasses import asdict
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "python"))
sys.path.insert(0, str(REPO / "tests"))

try:
    import torch
    import torch.distributed as dist
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    raise SystemExit(f"FAIL: {e}: install Debian's python3-torch and run with /usr/bin/python3")

import scalpel                         # noqa: E402
import scalpel.torch as spt            # noqa: E402


class Failures:
    def __init__(self):
        self.items, self.checks = [], 0

    def check(self, ok: bool, where: str, msg: str = "") -> bool:
        self.checks += 1
        if not ok:
            self.items.append(f"{where}: {msg}")
            print(f"  FAIL {where}: {msg}", flush=True)
        return ok


# ---- parity with the C library ------------------------------------------------------------------

def parity_cases(rng):
    cases = []
    for k in range(400):
        group = [1, 2, 4, 8, 16][k % 5]
        imp = ["rms", "mean", "max"][(k // 5) % 3]
        rows, cols = int(rng.integers(1, 12)), int(rng.integers(1, 70))
        kind = k % 4
        if kind == 0:
            w = rng.standard_normal((rows, cols))
        elif kind == 1:        # ties: few distinct magnitudes, zeros
            w = rng.choice([0.0, 0.5, -0.5, 1.0, -1.0, 2.0], size=(rows, cols))
        elif kind == 2:        # magnitudes over 60 decades
            w = rng.standard_normal((rows, cols)) * 10.0 ** rng.uniform(-30, 30, size=(rows, cols))
        else:                  # whole groups equal
            w = np.repeat(rng.standard_normal((rows, -(-cols // group))), group, axis=1)[:, :cols]
        rate = [0.0, 1.0, 0.37, 0.5, 0.9, 0.999][k % 6] if k % 7 else float(rng.uniform())
        cases.append((w.astype(np.float32), group, imp, np.float32(rate)))
    return cases


def check_parity(tmp: Path, fails: Failures):
    print("part parity: group scores and rate masks against the C library", flush=True)
    exe = tmp / "prune_parity"
    r = subprocess.run(["gcc", "-std=c99", "-O2", f"-I{REPO}", str(REPO / "tests" / "prune_parity.c"), "-o", str(exe),
                        "-lm"], capture_output=True, text=True)
    if not fails.check(r.returncode == 0, "build prune_parity", r.stderr[-1000:]):
        return
    cases = parity_cases(np.random.default_rng(5))
    with open(tmp / "cases.bin", "wb") as f:
        for w, group, imp, rate in cases:
            f.write(struct.pack("<4if", w.shape[0], w.shape[1], group, spt.IMPORTANCE[imp], rate))
            f.write(w.tobytes())
    r = subprocess.run([str(exe), str(tmp / "cases.bin"), str(tmp / "out.bin")], capture_output=True, text=True)
    if not fails.check(r.returncode == 0, "prune_parity", r.stderr):
        return
    data, at, bad = (tmp / "out.bin").read_bytes(), 0, 0
    for k, (w, group, imp, rate) in enumerate(cases):
        rows, cols = w.shape
        ng = rows * (-(-cols // group))
        status, cut = struct.unpack_from("<if", data, at)
        at += 8
        c_scores = np.frombuffer(data, np.float32, ng, at)
        at += 4 * ng
        c_mask = np.frombuffer(data, np.uint8, rows * cols, at).reshape(rows, cols)
        at += rows * cols
        scores = spt.group_scores(w, group, imp).reshape(-1)
        mask, py_cut = spt.groups_rate_mask(w, group, float(rate), imp)
        ok = status == 0 and scores.tobytes() == c_scores.tobytes() and np.array_equal(mask, c_mask) and \
            np.float32(py_cut) == np.float32(cut)
        bad += not fails.check(ok, f"parity case {k} ({rows}x{cols} G={group} {imp} rate {rate})",
                               f"status {status}, scores equal {scores.tobytes() == c_scores.tobytes()}, masks equal "
                               f"{np.array_equal(mask, c_mask)}, cut {py_cut} vs {cut}")
        if bad > 5:
            break
    print(f"  {len(cases)} matrices: scores, masks and cuts identical to the C library's", flush=True)


# ---- a small learnable problem -----------------------------------------------------------------

N_TRAIN, N_TEST, IN, BATCH, DENSE_EPOCHS = 768, 256, 32, 64, 12


def problem():
    g = torch.Generator().manual_seed(42)
    teacher = [torch.randn(IN, 24, generator=g), torch.randn(24, 10, generator=g)]
    x = torch.randn(N_TRAIN + N_TEST, IN, generator=g)
    y = torch.argmax(torch.relu(x @ teacher[0]) @ teacher[1], dim=1)
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def make_model():
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(IN, 64), nn.ReLU(), nn.Linear(64, 48), nn.ReLU(), nn.Linear(48, 10))


def run_pruning(rank: int, world: int, checkpoint, crash_at=None, breakeven=None, log=None):
    """Dense training (DENSE_EPOCHS) then prune_simd; returns (base model, pruner, result). Each
    rank trains on its share of every global batch of BATCH (rank r: the r-th slice)."""
    xtr, ytr, xte, yte = problem()
    base = make_model()
    model = nn.parallel.DistributedDataParallel(base) if world > 1 else base
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    pruner = spt.GroupPruner(model, group=8)
    pruner.attach(opt)
    local = BATCH // world

    def train_epoch(epoch: int) -> None:
        if crash_at is not None and epoch == crash_at[0] and rank == crash_at[1]:
            crash_at[2]()
        perm = torch.randperm(N_TRAIN, generator=torch.Generator().manual_seed(1000 + epoch))
        model.train()
        for j in range(N_TRAIN // BATCH):
            idx = perm[j * BATCH:(j + 1) * BATCH][rank * local:(rank + 1) * local]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            return float((base(xte).argmax(1) == yte).float().mean())

    if not (checkpoint and os.path.exists(checkpoint)):
        for e in range(DENSE_EPOCHS):
            train_epoch(100 + e)
    res = spt.prune_simd(model, opt, pruner, train_epoch, evaluate, breakeven=breakeven or {"0": 0.2, "2": 0.2,
                         "4": 0.99}, rate_start=0.5, rate_step=0.1, rate_max=0.95, tolerance=0.05,
                         epochs_per_stage=2, checkpoint=checkpoint, log=log)
    return base, pruner, res


def state_of(base, pruner, res) -> dict:
    return {"state": {k: v.clone() for k, v in base.state_dict().items()}, "rates": pruner.rates(),
            "result": res}


def masks_equal(a: dict, b: dict) -> bool:
    return all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"] if k.endswith("scalpel_mask"))


def weights_diff(a: dict, b: dict) -> float:
    return max(float((a["state"][k].double() - b["state"][k].double()).abs().max()) for k in a["state"])


def cli_path() -> Path:
    """build/scalpel as tests/test_torch_ops.py builds it (its import turns autograd off for
    its own use: the mode is put back)."""
    grad = torch.is_grad_enabled()
    import test_torch_ops
    torch.set_grad_enabled(grad)
    return test_torch_ops.cli_path()


def check_driver(tmp: Path, fails: Failures):
    print("part driver: prune_simd on one process, exported to the C library", flush=True)
    # the break-even rates come from the C library's profile (here x86-avx2: G = 8, as the test's pruner)
    prof = spt.hw_profile("x86-avx2", str(cli_path()))
    probe = spt.GroupPruner(make_model(), group=prof["group"])
    be = spt.breakevens(probe, prof)
    fails.check(prof["group"] == 8 and be == {"0": prof["breakeven"]["mv_grouped"], "2": prof["breakeven"]["mv_grouped"],
                                              "4": prof["breakeven"]["mv_grouped"]}, "hw_profile",
                f"x86-avx2 from `scalpel plan --hw list --json`: {prof}")
    be["4"] = 0.99                                   # a layer that can never get faster: left dense
    base, pruner, res = run_pruning(0, 1, None, breakeven=be)
    fails.check(res.dense_accuracy > 0.5, "driver", f"dense accuracy {res.dense_accuracy:.3f}: the problem is not learnt")
    fails.check(res.skipped == ["4"], "driver", f"skipped {res.skipped}: expected the last layer (break-even 0.99)")
    for n in ("0", "2"):
        fails.check(pruner.rate(n) > 0.2, "driver", f"layer {n} pruned {pruner.rate(n):.3f}, not past its break-even")
    fails.check(res.dense_accuracy - res.accuracy <= 0.05 + 1e-6, "driver",
                f"accuracy {res.accuracy:.3f} more than the tolerance below dense {res.dense_accuracy:.3f}")
    fails.check(pruner.rate("4") == 0.0, "driver", "the skipped layer has masked weights")
    for n, m in pruner.layers.items():
        w = m.weight.detach()
        fails.check(bool((w[m.scalpel_mask == 0] == 0).all()), "driver", f"layer {n}: masked weights are not zero")
        # groups of 8 along each row: a group is kept or pruned whole
        mk = m.scalpel_mask.reshape(m.weight.shape[0], -1)
        cols = mk.shape[1]
        full = (cols // 8) * 8
        g = mk[:, :full].reshape(mk.shape[0], -1, 8)
        fails.check(bool(((g.min(2).values == g.max(2).values)).all()), "driver", f"layer {n}: a group is split")
    print(f"  dense {res.dense_accuracy:.3f} -> {res.accuracy:.3f}, rates "
          f"{ {n: round(r, 3) for n, r in pruner.rates().items()} }, {res.stages} stages, skipped {res.skipped}",
          flush=True)
    # momentum at masked positions is zero after a step
    xtr, ytr, _, _ = problem()
    opt = torch.optim.SGD(base.parameters(), lr=0.01, momentum=0.9)
    pruner.attach(opt)
    loss = F.cross_entropy(base(xtr[:32]), ytr[:32])
    loss.backward()
    opt.step()
    for n, m in pruner.layers.items():
        mom = opt.state[m.weight]["momentum_buffer"]
        fails.check(bool((mom[m.scalpel_mask == 0] == 0).all()), "driver", f"layer {n}: momentum kept where masked")
        fails.check(bool((m.weight.detach()[m.scalpel_mask == 0] == 0).all()), "driver",
                    f"layer {n}: a step revived masked weights")
    # to the C library
    path = tmp / "pruned.scpn"
    scalpel.convert_torch(base, (IN,), path)
    cli = cli_path()
    x = torch.randn(5, IN, generator=torch.Generator().manual_seed(3))
    np.save(tmp / "x.npy", x.numpy())
    r = subprocess.run([str(cli), "run", str(path), "--input", str(tmp / "x.npy"), "--output", str(tmp / "y.npy")],
                       capture_output=True, text=True)
    if fails.check(r.returncode == 0, "scalpel run", r.stderr):
        with torch.no_grad():
            ref = base(x).numpy()
        got = np.load(tmp / "y.npy").reshape(ref.shape)
        fails.check(float(np.abs(got - ref).max()) <= 1e-4 * float(np.abs(ref).max()), "scalpel run",
                    f"C output differs from PyTorch by {float(np.abs(got - ref).max()):.3g}")
    packed = tmp / "packed.scpn"
    r = subprocess.run([str(cli), "pack", "--hw", "x86-avx2", str(path), "-o", str(packed)], capture_output=True,
                       text=True)
    if fails.check(r.returncode == 0, "scalpel pack", r.stderr):
        m = scalpel.Model.load(packed)
        stores = [L.storage for L in m.layers if L.weighted]
        fails.check(scalpel.STORAGE_GCSR in stores, "scalpel pack", f"no grouped-CSR layer after packing ({stores})")
        print(f"  exported: scalpel run agrees; pack --hw x86-avx2 stores {['gcsr' if s else 'dense' for s in stores]}",
              flush=True)


class _Crash(Exception):
    pass


def check_resume(tmp: Path, fails: Failures):
    print("part resume: interrupted and resumed from the checkpoint, bit for bit", flush=True)
    a = state_of(*run_pruning(0, 1, str(tmp / "a.ckpt")))
    at = a["result"].epochs // 2 + 1     # in the middle of a stage's epochs

    def boom():
        raise _Crash()

    ck = str(tmp / "b.ckpt")
    try:
        run_pruning(0, 1, ck, crash_at=[at, 0, boom])
        fails.check(False, "resume", "the crash did not happen (too few epochs?)")
        return
    except _Crash:
        pass
    fails.check(os.path.exists(ck), "resume", "no checkpoint was written")
    b = state_of(*run_pruning(0, 1, ck))
    same = all(torch.equal(a["state"][k], b["state"][k]) for k in a["state"])
    fails.check(same, "resume", f"weights or masks differ after resuming (max {weights_diff(a, b):.3g})")
    fails.check(a["result"] == b["result"], "resume", f"results differ: {a['result']} vs {b['result']}")
    print(f"  interrupted in epoch {at} of {a['result'].epochs} and resumed: identical", flush=True)


# ---- distributed ----------------------------------------------------------------------------------

def worker(out: str, crash_epoch: int) -> None:
    """One torchrun rank: the pruning run of run_pruning on its share of the batches."""
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))

    def die():
        open(os.path.join(out, "killed"), "w").close()
        os._exit(3)

    crash = [crash_epoch, 1, die] if crash_epoch >= 0 and restart == 0 else None
    base, pruner, res = run_pruning(rank, world, os.path.join(out, "ddp.ckpt"), crash_at=crash)
    if rank == 0:
        torch.save(state_of(base, pruner, res), os.path.join(out, "final.pt"))
        scalpel.convert_torch(base, (IN,), os.path.join(out, "model.scpn"))
    dist.barrier()
    dist.destroy_process_group()


def torchrun(out: Path, crash_epoch: int, restarts: int) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    # loopback only: a sandbox's host name may not resolve, and gloo would look it up
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    # --redirects 2 --tee 2: Debian's torch 1.13 under Python 3.11 cannot parse the defaults
    # ("0": an IntFlag's zero member is no longer iterated), so every launch names a value
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--redirects", "2", "--tee", "2",
           "--max_restarts", str(restarts),
           "--master_addr", "127.0.0.1", "--master_port", str(29500 + os.getpid() % 1000), str(Path(__file__).resolve()), "--worker", str(out),
           "--crash-epoch", str(crash_epoch)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


def check_ddp(tmp: Path, fails: Failures):
    print("part ddp: two processes (torchrun, gloo) against one; a rank killed and restarted", flush=True)
    one = state_of(*run_pruning(0, 1, None))
    t0 = time.time()
    r = torchrun(tmp / "ddp2", -1, 0)
    if not fails.check(r.returncode == 0, "torchrun 2 processes", (r.stderr or r.stdout)[-3000:]):
        return
    two = torch.load(tmp / "ddp2" / "final.pt")
    fails.check(masks_equal(one, two), "ddp", "the masks of 2 processes differ from 1 process's")
    d = weights_diff(one, two)
    fails.check(d <= 1e-4, "ddp", f"weights differ from 1 process's by {d:.3g} (> 1e-4)")
    fails.check(one["result"].skipped == two["result"].skipped, "ddp", "different layers skipped")
    print(f"  2 processes: masks identical to 1 process, weights within {d:.2g} ({time.time() - t0:.1f} s)", flush=True)
    t0 = time.time()
    at = two["result"].epochs // 2 + 1
    r = torchrun(tmp / "ddp2k", at, 1)
    if not fails.check(r.returncode == 0, "torchrun with a killed rank", (r.stderr or r.stdout)[-3000:]):
        return
    fails.check(os.path.exists(tmp / "ddp2k" / "killed"), "ddp kill", f"rank 1 was not killed (epoch {at})")
    killed = torch.load(tmp / "ddp2k" / "final.pt")
    fails.check(masks_equal(two, killed), "ddp kill", "masks differ after the restart")
    d = weights_diff(two, killed)
    fails.check(d <= 1e-6, "ddp kill", f"weights differ after the restart by {d:.3g}")
    print(f"  rank 1 killed in epoch {at} of {two['result'].epochs}, torchrun restarted both from the checkpoint: same masks, weights within {d:.2g} "
          f"({time.time() - t0:.1f} s)", flush=True)


# ---- node pruning with mask layers ------------------------------------------------------------------

NODE_T, NODE_ON = np.float32(0.8), np.float32(np.float32(0.8) + np.float32(1e-4))


def lenet_small():
    """The network of tests/mask_parity.c."""
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(24, 10), nn.ReLU(), nn.Linear(10, 3))


def node_parity_run(exe: Path, tmp: Path, tag: str, lr, momentum, wd, lam, steps, batch, seed, fails: Failures):
    """One run of the C trainer and of NodeMasker from the same state; returns the transitions
    (on -> off, off -> on) seen."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    model = lenet_small()
    weighted = [model[0], model[3], model[7], model[9]]
    for m in weighted:                                  # larger biases: every node active somewhere
        with torch.no_grad():
            m.bias.uniform_(-0.1, 0.3)
    n_nodes = 20
    b0 = rng.uniform(0.7994, 0.802, n_nodes).astype(np.float32)
    a0 = np.where(b0 >= NODE_ON, 1.0, np.where(b0 < NODE_T, 0.0, rng.integers(0, 2, n_nodes))).astype(np.float32)
    xs = [rng.standard_normal((batch, 1, 14, 14)).astype(np.float32) for _ in range(steps)]
    ys = [rng.integers(0, 3, batch).astype(np.int32) for _ in range(steps)]
    with open(tmp / f"mask_{tag}.bin", "wb") as f:
        f.write(struct.pack("<2i4f", steps, batch, lr, momentum, wd, lam))
        for m in weighted:
            f.write(m.weight.detach().numpy().astype(np.float32).tobytes())
            f.write(m.bias.detach().numpy().astype(np.float32).tobytes())
        f.write(a0.tobytes())
        f.write(b0.tobytes())
        for x, y in zip(xs, ys):
            f.write(x.tobytes())
            f.write(y.tobytes())
    r = subprocess.run([str(exe), str(tmp / f"mask_{tag}.bin"), str(tmp / f"mask_{tag}.out")], capture_output=True,
                       text=True)
    if not fails.check(r.returncode == 0, f"mask_parity {tag}", r.stderr):
        return 0, 0
    data = np.frombuffer((tmp / f"mask_{tag}.out").read_bytes(), np.float32)
    sizes = [w.weight.numel() + w.bias.numel() for w in weighted]
    per = 1 + 3 * n_nodes + sum(sizes)
    if not fails.check(data.size == per * steps, f"mask_parity {tag}", f"{data.size} floats, expected {per * steps}"):
        return 0, 0

    masker = spt.NodeMasker(model, torch.from_numpy(xs[0]), layers=["0", "3", "7"], mask_lambda=lam)
    fails.check(list(masker.layers) == ["0", "3", "7"] and len(masker.sets) == n_nodes, f"nodes {tag}",
                f"masks {dict(masker.layers)}")
    with torch.no_grad():
        masker.a.copy_(torch.from_numpy(a0))
        masker.b.copy_(torch.from_numpy(b0))
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    off = on = 0
    worst = {"loss": 0.0, "grad_b": 0.0, "b": 0.0, "w": 0.0}
    excused = live_dead = n_dead = 0
    tol_b = 2e-6
    for k in range(steps):
        row = data[k * per:(k + 1) * per]
        c_loss, c_a, c_b, c_g = row[0], row[1:21], row[21:41], row[41:61]
        c_w = row[61:]
        a_before = masker.a.clone().numpy()
        opt.zero_grad()
        loss = F.cross_entropy(model(torch.from_numpy(xs[k])), torch.from_numpy(ys[k]).long())
        loss.backward()
        g = masker.grad_b.clone().numpy()
        opt.step()
        masker.update(lr)
        p_a, p_b = masker.a.numpy().copy(), masker.b.numpy().copy()
        p_w = np.concatenate([np.concatenate([m.weight.detach().numpy().ravel(), m.bias.detach().numpy()])
                              for m in weighted])
        worst["loss"] = max(worst["loss"], abs(float(loss) - float(c_loss)))
        gs = float(np.abs(c_g).max()) or 1.0
        worst["grad_b"] = max(worst["grad_b"], float(np.abs(g - c_g).max()) / gs)
        worst["b"] = max(worst["b"], float(np.abs(p_b - c_b).max()))
        worst["w"] = max(worst["w"], float(np.abs(p_w - c_w).max()))
        fails.check(np.allclose(float(loss), float(c_loss), rtol=1e-5, atol=1e-6), f"nodes {tag} step {k}",
                    f"loss {float(loss)} vs C {float(c_loss)}")
        fails.check(float(np.abs(g - c_g).max()) <= 1e-4 * gs + 1e-7, f"nodes {tag} step {k}",
                    f"grad_b differs by {float(np.abs(g - c_g).max()):.3g} (max |grad_b| {gs:.3g})")
        fails.check(float(np.abs(p_b - c_b).max()) <= tol_b, f"nodes {tag} step {k}",
                    f"b differs by {float(np.abs(p_b - c_b).max()):.3g}")
        fails.check(float(np.abs(p_w - c_w).max()) <= 1e-5 * max(1.0, float(np.abs(c_w).max())), f"nodes {tag} step {k}",
                    f"weights differ by {float(np.abs(p_w - c_w).max()):.3g}")
        diff = np.nonzero(p_a != c_a)[0]
        near = np.minimum(np.abs(c_b - NODE_T), np.abs(c_b - NODE_ON)) <= tol_b
        fails.check(bool(np.all(near[diff])), f"nodes {tag} step {k}",
                    f"a differs at nodes {diff.tolist()} (C b {c_b[diff].tolist()}, Python b {p_b[diff].tolist()})")
        if diff.size:                          # a threshold tie: carry on from the C trainer's a
            excused += diff.size
            with torch.no_grad():
                masker.a.copy_(torch.from_numpy(c_a.copy()))
        # the straight-through gradient reaches masks that are off (so they can come back); it is
        # 0 only where nothing downstream passes a gradient (every mask after it off, a dead ReLU)
        dead = a_before == 0
        live_dead += int(((c_g != 0) & (g != 0) & dead).sum())
        n_dead += int(dead.sum())
        off += int(((a_before == 1) & (c_a == 0)).sum())
        on += int(((a_before == 0) & (c_a == 1)).sum())
    fails.check(n_dead == 0 or live_dead > 0, f"nodes {tag}", "no mask that was off got a gradient")
    print(f"  {tag}: {steps} steps, batch {batch}: worst |loss| {worst['loss']:.2g}, grad_b {worst['grad_b']:.2g} "
          f"(relative), b {worst['b']:.2g}, weights {worst['w']:.2g}; masks off {off}, back on {on}; "
          f"{live_dead} of {n_dead} off-mask gradients non-zero{f', {excused} threshold ties' if excused else ''}",
          flush=True)
    return off, on


class CoupledNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c0, self.b0 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.c1, self.b1 = nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8)
        self.dw, self.pw = nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.Conv2d(8, 6, 1)
        self.c2 = nn.Conv2d(8, 5, 1)
        self.fc, self.out = nn.Linear(11 * 4 * 4, 7), nn.Linear(7, 3)

    def forward(self, x):
        y = F.relu(self.b0(self.c0(x)))
        y = F.relu(y + self.b1(self.c1(y)))                      # residual: c0 and c1 share masks
        d = F.relu(self.pw(F.relu(self.dw(y))))                  # depthwise: dw with its input
        h = torch.cat([d, F.relu(self.c2(y))], 1)                # concat: offsets
        return self.out(F.relu(self.fc(torch.flatten(F.max_pool2d(h, 2), 1))))


class LiteralView(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 4 * 4, 2)

    def forward(self, x):
        return self.fc(F.relu(self.c(x)).view(-1, 64))


class Untraceable(nn.Module):
    def __init__(self):
        super().__init__()
        self.c, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 4 * 4, 2)

    def forward(self, x):
        y = F.relu(self.c(x))
        if y.sum() > 0:                                          # data-dependent control flow
            y = y * 2
        return self.fc(torch.flatten(y, 1))


def check_nodes_coupling(fails: Failures):
    torch.manual_seed(11)
    model = CoupledNet()
    x = torch.randn(6, 3, 8, 8)
    stats = model.b0.running_mean.clone()
    spt.NodeMasker(model, x, layers=["c0", "dw", "pw", "c2", "fc"])
    mk = spt.NodeMasker(model, x, layers=["c0", "dw", "pw", "c2", "fc"])     # takes over the first one's hooks
    fails.check(torch.equal(stats, model.b0.running_mean), "nodes tracing", "tracing changed batch-norm statistics")
    fails.check(max(len(m._forward_pre_hooks) for m in model.modules()) == 1, "nodes tracing",
                "a second masker on the same model stacked its hooks on the first one's")
    L = mk.layers
    fails.check(L.get("c0") == L.get("c1") == L.get("dw") == list(range(8)), "nodes coupling",
                f"residual and depthwise channels should share c0's masks: {dict(L)}")
    fails.check(L.get("pw") == list(range(8, 14)) and L.get("c2") == list(range(14, 19)) and
                L.get("fc") == list(range(19, 26)) and len(mk.sets) == 26, "nodes coupling", f"masks {dict(L)}")
    fails.check(mk.consumers.get("fc", (None, 0))[1] == 16, "nodes coupling", "fc should read 16 features per map")
    # a few training steps with a pull, so that masks really switch off, then removal
    opt = mk.attach(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    mk.mask_lambda = 0.0005                     # b starts 2e-4 above T: 2.5e-5 a step
    y = torch.randint(0, 3, (6,))
    for _ in range(6):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    with torch.no_grad():                      # plus a random pattern, so every layer loses some
        mk.a.mul_((torch.rand(mk.a.shape, generator=torch.Generator().manual_seed(2)) > 0.3).float())
        for n in mk.layers:
            v = mk.node_a(n)
            if v.sum() == 0:
                mk.set_nodes(n, a=torch.cat([torch.ones(1), v[1:]]))
    kept = mk.kept()
    model.eval()
    with torch.no_grad():
        ref = model(x)
    small = spt.remove_nodes(model, mk)
    with torch.no_grad():
        got = small(x)
    d = float((got - ref).abs().max())
    fails.check(d <= 1e-5 * max(1.0, float(ref.abs().max())), "nodes removal", f"removed model differs by {d:.3g}")
    shapes = {"c0": small.c0.out_channels, "c1": small.c1.out_channels, "dw": small.dw.groups, "pw": small.pw.out_channels,
              "c2": small.c2.out_channels, "fc": small.fc.out_features}
    fails.check(shapes == kept and small.fc.in_features == 16 * (kept["pw"] + kept["c2"]) and
                small.b0.num_features == kept["c0"] and small.out.in_features == kept["fc"], "nodes removal",
                f"shapes {shapes}, kept {kept}, fc in {small.fc.in_features}")
    fails.check(not hasattr(small, "scalpel_node_a") and
                not any(m._forward_pre_hooks or m._forward_hooks for m in small.modules()),
                "nodes removal", "the copy kept the masks or hooks")
    fails.check(hasattr(model, "scalpel_node_a") and any(m._forward_pre_hooks for m in model.modules()),
                "nodes removal", "the masked model lost its masks")
    print(f"  coupling: residual + batch norm + depthwise share one mask per channel, concat offsets, flatten "
          f"16 features per map; removal {sum(p.numel() for p in model.parameters())} -> "
          f"{sum(p.numel() for p in small.parameters())} parameters (kept {kept}), outputs within {d:.2g}", flush=True)
    # refusals
    for what, make, example, layers, expect in (
            ("literal view", LiteralView, torch.randn(2, 1, 6, 6), ["c"], "literal size"),
            ("output layer", LiteralView, torch.randn(2, 1, 6, 6), ["fc"], "output"),
            ("untraceable", Untraceable, torch.randn(2, 1, 6, 6), None, "does not trace")):
        try:
            spt.NodeMasker(make(), example, layers=layers)
            fails.check(False, f"nodes refusal ({what})", "accepted")
        except spt.PruneError as e:
            fails.check(expect in str(e), f"nodes refusal ({what})", f"message {e}")
    print("  refused with PruneError: a view with a literal size, a masked output layer, an untraceable model",
          flush=True)


def check_lr_scale(fails: Failures) -> None:
    """NodeMasker(lr_scale=0.25) steps b (gradient and pull) as lr_scale 1 does at a quarter of
    the rate; lr_scale outside (0, 1] is refused."""
    import copy
    torch.manual_seed(5)
    x, y = torch.randn(8, 1, 14, 14), torch.randint(0, 3, (8,))
    base = lenet_small()
    out = []
    for scale, lr in ((0.25, 0.08), (1.0, 0.02)):
        m = copy.deepcopy(base)
        mk = spt.NodeMasker(m, x, layers=["0", "3"], mask_lambda=0.5, lr_scale=scale)
        F.cross_entropy(m(x), y).backward()
        mk.update(lr)
        out.append(mk.b.clone())
        mk.detach()
    d = float((out[0] - out[1]).abs().max())
    fails.check(d <= 1e-7 and bool((out[1] != spt.MASK_INIT).any()), "nodes lr_scale",
                f"b after one step differs by {d:.3g}, or did not move")
    for bad in (0.0, 1.5, float("nan")):
        try:
            spt.NodeMasker(copy.deepcopy(base), x, lr_scale=bad)
            fails.check(False, "nodes lr_scale", f"lr_scale {bad} accepted")
        except spt.PruneError as e:
            fails.check("lr_scale" in str(e), "nodes lr_scale", str(e))
    print(f"  lr_scale 0.25 at lr 0.08 steps b as lr_scale 1 at 0.02 (within {d:.2g}); 0, 1.5, NaN refused",
          flush=True)


class BNNet(nn.Module):
    """c0's channels are read only by c1, whose batch norm normalizes any common scale of them away."""
    def __init__(self):
        super().__init__()
        self.c0, self.b0 = nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6)
        self.c1, self.b1 = nn.Conv2d(6, 5, 3, padding=1), nn.BatchNorm2d(5)
        self.fc = nn.Linear(5, 3)

    def forward(self, x):
        y = F.relu(self.b1(self.c1(F.relu(self.b0(self.c0(x))))))
        return self.fc(y.mean(dim=(2, 3)))


def check_frozen_bn(fails: Failures) -> None:
    """NodeMasker(freeze_bn=True, the default): in training the batch norms normalize with their
    running statistics (not updated), their flag is restored after each call, training and
    evaluation compute the same function, and b's data gradient is no longer normalized away:
    with batch statistics the gradients of the masks on c0 (read only by c1, then a batch norm)
    sum to zero, as scaling all of c0's channels does not change the loss."""
    import copy
    torch.manual_seed(9)
    x, y = torch.randn(16, 2, 8, 8), torch.randint(0, 3, (16,))
    base = BNNet()
    with torch.no_grad():                     # running statistics as a trained model has them
        for bn in (base.b0, base.b1):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    sums = {}
    for frozen in (True, False):
        m = copy.deepcopy(base)
        mk = spt.NodeMasker(m, x, layers=["c0"], freeze_bn=frozen)
        m.train()
        stats = m.b0.running_mean.clone()
        out = m(x)
        F.cross_entropy(out, y).backward()
        g = mk.grad_b.clone()
        sums[frozen] = (float(g.sum()), float(g.abs().sum()))
        moved = not torch.equal(stats, m.b0.running_mean)
        fails.check(m.b0.training and m.b1.training, "frozen bn", "the batch norm's training flag was not restored")
        if frozen:                              # a call that raises inside the batch norm, then a good one
            try:
                m.b1(torch.randn(2, 4, 3, 3))
            except (RuntimeError, ValueError):
                pass
            m(x)
            fails.check(m.b1.training, "frozen bn", "a call that raised left the batch norm in evaluation mode")
        fails.check(moved != frozen, "frozen bn", f"freeze_bn={frozen}: running statistics "
                    f"{'changed' if moved else 'unchanged'}")
        if frozen:
            m.eval()
            with torch.no_grad():
                d = float((m(x) - out).abs().max())
            fails.check(d <= 1e-6, "frozen bn", f"training and evaluation differ by {d:.3g}")
            mk.a[1] = 0.0
            small = spt.remove_nodes(m, mk)
            fails.check(not any(q._forward_hooks or q._forward_pre_hooks for q in small.modules()),
                        "frozen bn", "the removed copy kept the masker's hooks")
            mk.detach()
            fails.check(not any(q._forward_hooks or q._forward_pre_hooks for q in m.modules()),
                        "frozen bn", "detach() left hooks")
    (s1, a1), (s0, a0) = sums[True], sums[False]
    fails.check(abs(s0) <= 1e-3 * a0 and abs(s1) >= 0.05 * a1, "frozen bn",
                f"sum of b's gradients over c0's masks: batch statistics {s0:.3g} of {a0:.3g} (should be ~0), "
                f"frozen {s1:.3g} of {a1:.3g} (should not)")
    print(f"  frozen batch norm: statistics kept, flag restored, train = eval; c0's mask gradients sum to "
          f"{s0:.2g} (of {a0:.2g}) with batch statistics, {s1:.2g} (of {a1:.2g}) frozen", flush=True)


def check_order(fails: Failures) -> None:
    """NodeMasker(order="output"): b spread evenly over [T + eps, max] within each masked layer,
    in the order of how far switching each channel off alone moves the model's output on the
    example (computed here by hand, by zeroing c0's output channels); "equal" (default) starts
    every b at init; a masker on a model that already has masks keeps its b; an unknown order
    is refused."""
    import copy
    torch.manual_seed(13)
    x = torch.randn(10, 2, 8, 8)
    base = BNNet()
    base.eval()
    with torch.no_grad():
        ref = base(x)
        dist = []
        for c in range(base.c0.out_channels):
            keep = torch.ones(1, base.c0.out_channels, 1, 1)
            keep[0, c] = 0.0
            h = F.relu(base.b0(base.c0(x))) * keep
            out = base.fc(F.relu(base.b1(base.c1(h))).mean(dim=(2, 3)))
            dist.append(float(((out - ref).double() ** 2).sum(dim=1).mean()))
    want = sorted(range(len(dist)), key=lambda c: (dist[c], c))
    m = copy.deepcopy(base)
    m.train()
    mk = spt.NodeMasker(m, x, layers=["c0", "c1"], order="output")
    lo = float(np.float32(np.float32(spt.MASK_THRESHOLD) + np.float32(spt.MASK_EPS)))
    b0 = mk.node_b("c0")
    got = sorted(range(b0.numel()), key=lambda c: float(b0[c]))
    fails.check(got == want, "nodes order", f"c0's b {b0.tolist()} not in the order of its output distances {dist}")
    ok = all(abs(float(v.min()) - lo) <= 1e-7 and abs(float(v.max()) - spt.MASK_MAX) <= 1e-7 and
             len(set(v.tolist())) == v.numel() for v in (b0, mk.node_b("c1")))
    fails.check(ok and bool((mk.a == 1).all()) and m.training and m.b0.training, "nodes order",
                f"b {mk.b.tolist()}: each layer's should span [{lo}, {spt.MASK_MAX}], all on, training mode kept")
    d = max(abs(a - b) for a, b in zip(mk.scores["c0"], dist))
    fails.check(d <= 1e-9 * max(1.0, max(dist)), "nodes order", f"scores differ from the distances by {d:.3g}")
    again = spt.NodeMasker(m, x, layers=["c0", "c1"], order="equal")        # a resume keeps b
    fails.check(torch.equal(again.b, mk.b), "nodes order", "a second masker reset b")
    eq = spt.NodeMasker(copy.deepcopy(base), x, layers=["c0", "c1"])
    fails.check(bool((eq.b == np.float32(spt.MASK_INIT)).all()), "nodes order", "order 'equal' should start at init")
    try:
        spt.NodeMasker(copy.deepcopy(base), x, order="random")
        fails.check(False, "nodes order", "order 'random' accepted")
    except spt.PruneError as e:
        fails.check("order" in str(e), "nodes order", str(e))
    print(f"  order 'output': b ordered by the output's move when each map alone is off, over [{lo:.4f}, "
          f"{spt.MASK_MAX:.4f}] per layer; 'equal' at init; a resume keeps b; an unknown order refused", flush=True)


class FlatNet(nn.Module):
    """conv -> flatten -> fc -> fc: the conv's masks reach the fc through the flatten (a mask
    per map covers its 16 features); `batch_wide` subtracts the batch mean at the end, so a
    sample's output depends on the others in its batch."""
    def __init__(self, batch_wide=False):
        super().__init__()
        self.batch_wide = batch_wide
        self.c0 = nn.Conv2d(2, 5, 3, padding=1)
        self.f1, self.f2 = nn.Linear(5 * 16, 7), nn.Linear(7, 3)

    def forward(self, x):
        y = self.f2(F.relu(self.f1(torch.flatten(F.relu(self.c0(x)), 1))))
        return y - y.mean(dim=0, keepdim=True) if self.batch_wide else y


def check_order_batched(fails: Failures) -> None:
    """The output order runs many masks per forward pass (the example repeated, a row of a per
    repeat): its scores equal one pass per mask, through a flatten into an fc layer too; a model
    whose output does not follow a repeated batch (a batch mean) is scored one mask per pass,
    with the same result as by hand."""
    import copy
    torch.manual_seed(17)
    x = torch.randn(3, 2, 4, 4)
    for batch_wide in (False, True):
        base = FlatNet(batch_wide)
        scored = copy.deepcopy(base)
        batches = []
        scored.register_forward_pre_hook(lambda mod, inp: batches.append(inp[0].shape[0]))
        mk = spt.NodeMasker(scored, x, layers=["c0", "f1"], order="output")
        m = copy.deepcopy(base)
        hand = spt.NodeMasker(m, x, layers=["c0", "f1"])       # equal order: masks on, unscored
        with torch.no_grad():
            m.eval()
            ref = m(x).double()
            want = []
            for i in range(len(hand.sets)):
                hand.a[i] = 0.0
                want.append(float(((m(x).double() - ref) ** 2).sum(dim=1).mean()))
                hand.a[i] = 1.0
        got = mk.scores["c0"] + mk.scores["f1"]
        d = max(abs(a - b) for a, b in zip(got, want))
        fails.check(len(got) == len(want) == 12 and d <= 1e-6 * max(want), "nodes order",
                    f"batch_wide={batch_wide}: batched scores differ from one pass per mask by {d:.3g}")
        # the reference (the shape pass runs the traced copy), the repeat check (2 copies), the
        # 12 masks in one pass, then its first and last mask alone; batch-wide: the first of
        # those differs, and the 12 masks go one a pass
        want_b = [3, 6, 36] + ([3] + [3] * 12 if batch_wide else [3, 3])
        fails.check(batches == want_b, "nodes order", f"batch_wide={batch_wide}: passes of {batches}, expected {want_b}")
    print("  order 'output' batched: 21 masks a pass give the scores of one pass per mask (flatten into fc "
          "too); a batch-wide model goes one mask a pass", flush=True)


def node_ddp_run(rank: int, world: int):
    """4 steps of NodeMasker training of the parity network with a pull, the global batch of 16
    split between the ranks; returns (a, b)."""
    torch.manual_seed(21)
    base = lenet_small()
    g = torch.Generator().manual_seed(22)
    x, y = torch.randn(4, 16, 1, 14, 14, generator=g), torch.randint(0, 3, (4, 16), generator=g)
    masker = spt.NodeMasker(base, x[0], layers=["0", "3", "7"], mask_lambda=0.002)
    with torch.no_grad():
        masker.b.copy_(0.7995 + 0.0025 * torch.rand(masker.b.shape, generator=g))
        masker.a.copy_((masker.b >= 0.8001).float())
    model = nn.parallel.DistributedDataParallel(base) if world > 1 else base
    opt = masker.attach(torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    local = 16 // world
    for k in range(4):
        opt.zero_grad()
        F.cross_entropy(model(x[k, rank * local:(rank + 1) * local]), y[k, rank * local:(rank + 1) * local]).backward()
        opt.step()
    return masker.a.clone(), masker.b.clone()


def node_worker(out: str) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    a, b = node_ddp_run(rank, world)
    torch.save({"a": a, "b": b}, os.path.join(out, f"nodes{rank}.pt"))
    dist.barrier()
    dist.destroy_process_group()


def check_nodes_ddp(tmp: Path, fails: Failures):
    out = tmp / "nodes_ddp"
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--redirects", "2", "--tee", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(28500 + os.getpid() % 1000), str(Path(__file__).resolve()),
           "--node-worker", str(out)]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if not fails.check(r.returncode == 0, "nodes torchrun", (r.stderr or r.stdout)[-3000:]):
        return
    r0, r1 = torch.load(out / "nodes0.pt"), torch.load(out / "nodes1.pt")
    a1, b1 = node_ddp_run(0, 1)
    fails.check(torch.equal(r0["a"], r1["a"]) and torch.equal(r0["b"], r1["b"]), "nodes ddp",
                "a or b differ between the ranks")
    db = float((r0["b"] - b1).abs().max())
    fails.check(torch.equal(r0["a"], a1), "nodes ddp", f"a of 2 processes differs from 1 process's at "
                f"{torch.nonzero(r0['a'] != a1).flatten().tolist()}")
    fails.check(db <= 1e-6, "nodes ddp", f"b of 2 processes differs from 1 process's by {db:.3g}")
    print(f"  ddp: 2 processes (torchrun, gloo): a and b bit-identical on both ranks, a equal to 1 process's, "
          f"b within {db:.2g}; {int((a1 == 0).sum())} of {a1.numel()} masks off ({time.time() - t0:.1f} s)", flush=True)


def check_nodes(tmp: Path, fails: Failures):
    print("part nodes: node pruning with mask layers against the C trainer; coupling, removal, DDP", flush=True)
    exe = tmp / "mask_parity"
    r = subprocess.run(["cc", "-std=c99", "-O2", f"-I{REPO}", str(REPO / "tests" / "mask_parity.c"), "-o", str(exe),
                        "-lm"], capture_output=True, text=True)
    if fails.check(r.returncode == 0, "build mask_parity", r.stderr[-1000:]):
        off1, on1 = node_parity_run(exe, tmp, "momentum 0.9, wd 1e-4, lambda 0.002", 0.05, 0.9, 1e-4, 0.002, 8, 16, 31,
                                    fails)
        off2, on2 = node_parity_run(exe, tmp, "plain SGD, lambda 0", 0.1, 0.0, 0.0, 0.0, 8, 16, 32, fails)
        fails.check(off1 + off2 > 0 and on1 + on2 > 0, "nodes parity",
                    f"the runs should switch masks off ({off1 + off2}) and back on ({on1 + on2})")
    lam = [spt.node_lambda(s) for s in range(4)]
    fails.check(lam == [float(np.float32(v)) for v in (0.001, 0.002, 0.004, 0.008)] and
                spt.node_lambda(100, 1.0, 10.0) == 1e6, "node_lambda", f"{lam}")
    check_nodes_coupling(fails)
    check_lr_scale(fails)
    check_frozen_bn(fails)
    check_order(fails)
    check_order_batched(fails)
    check_nodes_ddp(tmp, fails)


# ---- the pipeline per hardware class ------------------------------------------------------------

P_TRAIN, P_TEST = 320, 160
PRUNE_LR = 0.005          # b moves by lr * grad_b in a band of 0.0002: a small rate while masks train


def pipe_problem():
    """8x8 one-channel images, 4 classes: the quadrant of largest mean (a small convnet learns it)."""
    g = torch.Generator().manual_seed(11)
    x = torch.randn(P_TRAIN + P_TEST, 1, 8, 8, generator=g)
    y = torch.argmax(F.avg_pool2d(x, 4).reshape(len(x), 4), 1)          # the quadrant of largest mean
    return x[:P_TRAIN], y[:P_TRAIN], x[P_TRAIN:], y[P_TRAIN:]


def pipe_model():
    torch.manual_seed(3)
    return nn.Sequential(nn.Conv2d(1, 12, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(12, 12, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(48, 32), nn.ReLU(), nn.Linear(32, 4))


def PIPE_HOOK(model, epoch, rank):  # the distributed test's kill switch (replaced in the worker)
    pass


PIPE_KW = dict(tolerance=0.06, max_stages=5, epochs_per_stage=2, log=None)


def pipe_fns(data):
    xtr, ytr, xte, yte = data

    def train_epoch(model, opt, epoch):
        perm = torch.randperm(P_TRAIN, generator=torch.Generator().manual_seed(500 + epoch))
        ddp = isinstance(model, nn.parallel.DistributedDataParallel)
        rank, world = (dist.get_rank(), dist.get_world_size()) if ddp else (0, 1)
        local = 32 // world                 # the global batch of 32, split between DDP's ranks
        PIPE_HOOK(model, epoch, rank)
        model.train()
        for j in range(P_TRAIN // 32):
            idx = perm[j * 32:(j + 1) * 32][rank * local:(rank + 1) * local]
            loss = F.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()

    def evaluate(model):
        model.eval()
        with torch.no_grad():
            return float((model(xte).argmax(1) == yte).float().mean())
    return train_epoch, evaluate


_DENSE = {}


def pipe_dense(data):
    """The trained dense model (trained once, copied for every pipeline) and a fresh optimizer."""
    import copy
    if "m" not in _DENSE:
        m = pipe_model()
        opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9)
        te, _ = pipe_fns(data)
        for e in range(25):
            te(m, opt, 1000 + e)
        _DENSE["m"] = m
    m = copy.deepcopy(_DENSE["m"])
    return m, torch.optim.SGD(m.parameters(), lr=PRUNE_LR, momentum=0.9)


def grouped_ok(m: nn.Module, g: int) -> bool:
    mk = m.scalpel_mask.reshape(m.weight.shape[0], -1)
    full = (mk.shape[1] // g) * g
    gr = mk[:, :full].reshape(mk.shape[0], -1, g)
    return bool((gr.min(2).values == gr.max(2).values).all())


def run_in_c(cli: Path, tmp: Path, model: nn.Module, path: Path, tag: str, fails: Failures) -> None:
    """The exported (packed) model computes in C what the pruned PyTorch model computes."""
    x = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(9))
    np.save(tmp / "px.npy", x.numpy())
    r = subprocess.run([str(cli), "run", str(path), "--input", str(tmp / "px.npy"), "--output", str(tmp / "py.npy")],
                       capture_output=True, text=True)
    if fails.check(r.returncode == 0, f"pipeline {tag}: scalpel run", r.stderr):
        model.eval()
        with torch.no_grad():
            ref = model(x).numpy()
        got = np.load(tmp / "py.npy").reshape(ref.shape)
        err = float(np.abs(got - ref).max()) / float(np.abs(ref).max())
        fails.check(err <= 1e-4, f"pipeline {tag}: scalpel run", f"C output differs from PyTorch by {err:.3g} relative")


def check_pipeline(tmp: Path, fails: Failures):
    print("part pipeline: prune_for per hardware class, the Traditional and Optimized baselines, export to C",
          flush=True)
    cli = cli_path()
    data = pipe_problem()
    te, ev = pipe_fns(data)
    ex = data[0][:4]
    weighted = ["0", "3", "7", "9"]
    kw = dict(PIPE_KW, cli=str(cli))
    # microcontroller (low parallelism): grouped pruning of every layer, dense below break-even
    m, opt = pipe_dense(data)
    prof = spt.hw_profile("cortex-m4", str(cli))
    out, res = spt.prune_for(m, opt, prof, te, ev, ex, export_path=str(tmp / "m4.scpn"), **kw)
    fails.check(res.dense_accuracy >= 0.6, "pipeline m4", f"dense accuracy {res.dense_accuracy:.3f}: not learnt")
    fails.check(res.nodes is None and res.groups is not None, "pipeline m4", "expected grouped pruning only")
    fails.check(res.dense_accuracy - res.accuracy <= 0.06 + 1e-6, "pipeline m4", f"accuracy {res.accuracy:.3f}")
    mods = dict(out.named_modules())
    bes = {"0": prof["breakeven"]["mm_grouped"], "3": prof["breakeven"]["mm_grouped"],
           "7": prof["breakeven"]["mv_grouped"], "9": prof["breakeven"]["mv_grouped"]}
    pruned = [n for n in weighted if res.groups.layer_rate[n] > 0]
    fails.check(len(pruned) >= 2 and any(isinstance(mods[n], nn.Conv2d) for n in pruned) and
                any(isinstance(mods[n], nn.Linear) for n in pruned), "pipeline m4",
                f"grouped masks expected on conv and fc layers: rates {res.groups.layer_rate}")
    for n in weighted:
        r = res.groups.layer_rate[n]
        fails.check((r > bes[n] and n not in res.groups.skipped) or (r == 0 and n in res.groups.skipped),
                    "pipeline m4", f"layer {n}: rate {r:.3f} against break-even {bes[n]:.3f}, skipped {res.groups.skipped}")
        fails.check(grouped_ok(mods[n], 2), "pipeline m4", f"layer {n}: a group of 2 is split")
    fails.check([mods[n].weight.shape[0] for n in weighted] == [12, 12, 32, 4], "pipeline m4", "shapes changed")
    run_in_c(cli, tmp, out, tmp / "m4.scpn", "m4", fails)
    print(f"  cortex-m4: {res.dense_accuracy:.3f} -> {res.accuracy:.3f}, rates "
          f"{ {n: round(r, 3) for n, r in res.layer_rate.items()} }, dense {res.groups.skipped}", flush=True)
    # CPU (moderate): conv channels removed, then grouped fc (conv frozen)
    m, opt = pipe_dense(data)
    prof = spt.hw_profile("x86-avx2", str(cli))
    out, res = spt.prune_for(m, opt, prof, te, ev, ex, export_path=str(tmp / "avx2.scpn"), **kw)
    mods = dict(out.named_modules())
    fails.check(res.nodes is not None and res.groups is not None, "pipeline avx2", "expected nodes then groups")
    if res.nodes is not None and res.groups is not None:
        fails.check(sorted(res.nodes.nodes_before) == ["0", "3"], "pipeline avx2",
                    f"node masks on {sorted(res.nodes.nodes_before)}: expected the convolutions")
        fails.check(mods["0"].out_channels + mods["3"].out_channels < 24 and mods["7"].in_features < 48,
                    "pipeline avx2", f"no conv channel removed: {res.nodes.nodes_after}")
        fails.check(all("scalpel_mask" not in dict(mods[n].named_buffers()) for n in ("0", "3")), "pipeline avx2",
                    "a convolution got weight masks")
        fails.check(any(res.groups.layer_rate[n] > prof["breakeven"]["mv_grouped"] for n in ("7", "9")),
                    "pipeline avx2", f"no fc layer grouped: {res.groups.layer_rate}")
        for n in ("7", "9"):
            fails.check(grouped_ok(mods[n], 8), "pipeline avx2", f"layer {n}: a group of 8 is split")
        fails.check(res.dense_accuracy - res.accuracy <= 0.06 + 1e-6, "pipeline avx2",
                    f"accuracy {res.accuracy:.3f} vs dense {res.dense_accuracy:.3f}")
        print(f"  x86-avx2: {res.dense_accuracy:.3f} -> {res.nodes.accuracy:.3f} (nodes {res.nodes.nodes_after}) "
              f"-> {res.accuracy:.3f}, fc rates { {n: round(res.groups.layer_rate[n], 3) for n in ('7', '9')} }",
              flush=True)
    run_in_c(cli, tmp, out, tmp / "avx2.scpn", "avx2", fails)
    if res.nodes is not None and res.groups is not None:
        check_pipeline_resume(tmp, cli, out, res, fails)
        check_pipeline_ddp(tmp, cli, out, res, fails)
    # GPU (high): node pruning only
    m, opt = pipe_dense(data)
    out, res = spt.prune_for(m, opt, "cuda", te, ev, ex, export_path=str(tmp / "cuda.scpn"), **kw)
    mods = dict(out.named_modules())
    fails.check(res.groups is None and res.nodes is not None, "pipeline cuda", "expected node pruning only")
    if res.nodes is not None:
        fails.check(sorted(res.nodes.nodes_before) == ["0", "3", "7"], "pipeline cuda",
                    f"node masks on {sorted(res.nodes.nodes_before)}: expected every hidden layer")
        shapes = [mods[n].weight.shape[0] for n in weighted]
        fails.check(sum(shapes[:3]) < 56 and shapes[3] == 4, "pipeline cuda", f"no node removed: {shapes}")
        fails.check(all("scalpel_mask" not in dict(mods[n].named_buffers()) and bool((mods[n].weight != 0).all())
                        for n in weighted), "pipeline cuda", "weight masks or zeros in a node-pruned model")
        fails.check(res.dense_accuracy - res.accuracy <= 0.06 + 1e-6, "pipeline cuda", f"accuracy {res.accuracy:.3f}")
        print(f"  cuda: {res.dense_accuracy:.3f} -> {res.accuracy:.3f}, rows {shapes}", flush=True)
    run_in_c(cli, tmp, out, tmp / "cuda.scpn", "cuda", fails)
    check_round_to(data, fails)
    check_host_profile(tmp, cli, data, fails)
    # the baselines: storage per layer after convert_torch + scalpel pack --mode traditional / optimized
    # every layer (the default pruner), then two layers only, conv 0 already at 60% (a stage ANDs
    # its mask into the old one) and fc 7 on the ladder (at most 45%): a mix of rates above and
    # below 50% where Traditional stores CSR and Optimized keeps the lighter layers dense
    for mode, fn, only in (("traditional", spt.prune_traditional, False), ("optimized", spt.prune_optimized, False),
                           ("traditional", spt.prune_traditional, True), ("optimized", spt.prune_optimized, True)):
        m, opt = pipe_dense(data)
        pruner = None
        if only:
            pruner = spt.GroupPruner(m, group=1, layers=["0", "7"])
            pruner.prune("0", 0.6)
        res = fn(m, opt, lambda e: te(m, opt, e), lambda: ev(m), tolerance=0.05, rate_start=0.3, rate_step=0.15,
                 max_stages=2 if only else 3, pruner=pruner, log=None)
        path = tmp / f"{mode}.scpn"
        spt.export(m, (1, 8, 8), str(path), "x86-avx2", mode, str(cli))
        stores = [(L.storage, L.group) for L in scalpel.Model.load(path).layers if L.weighted]
        rates = [res.layer_rate.get(n, 0.0) for n in weighted]
        if only:
            fails.check(rates[0] >= 0.6 - 1e-3 and 0 < rates[2] < 0.5 and rates[1] == rates[3] == 0,
                        f"baseline {mode} (two layers)", f"rates {rates}: expected [0.6, 0, 0.3 or 0.45, 0]")
        if mode == "traditional":
            want = [(scalpel.STORAGE_GCSR, 1) if r > 0 else (scalpel.STORAGE_DENSE, 0) for r in rates]
            fails.check(only or all(r > 0 for r in rates), "baseline traditional", f"not every layer pruned: {rates}")
        else:
            want = [(scalpel.STORAGE_DENSE, 0) if n in res.skipped else (scalpel.STORAGE_GCSR, 1) for n in weighted]
            fails.check(all((n in res.skipped) == (r < 0.5) for n, r in zip(weighted, rates)), "baseline optimized",
                        f"dense layers {res.skipped} for rates {rates}")
            if only:
                fails.check(want == [(scalpel.STORAGE_GCSR, 1)] + [(scalpel.STORAGE_DENSE, 0)] * 3,
                            "baseline optimized (two layers)", f"expected CSR for conv 0 only: {want}")
        fails.check([(s, g if s else 0) for s, g in stores] == want, f"baseline {mode}",
                    f"storage {stores}, expected {want}")
        run_in_c(cli, tmp, m, path, mode, fails)
        print(f"  {mode}{' (two layers)' if only else ''}: {res.dense_accuracy:.3f} -> {res.accuracy:.3f}, "
              f"rates {[round(r, 3) for r in rates]}, "
              f"storage {['csr' if s else 'dense' for s, _ in stores]}", flush=True)


def pipe_worker(out: str, crash_epoch: int) -> None:
    """One torchrun rank of prune_for(x86-avx2) on the DDP-wrapped model, the global batch split;
    rank 1 dies in epoch crash_epoch of the first launch (torchrun restarts both ranks, which
    resume from the checkpoint)."""
    global PIPE_HOOK
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    restart = int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0"))

    def hook(model, epoch, r):
        if epoch < 1000 and not isinstance(model, nn.parallel.DistributedDataParallel):   # 1000+: pipe_dense
            raise RuntimeError(f"epoch {epoch}: train_epoch got a {type(model).__name__}, not the DDP wrapper")
        if epoch == crash_epoch and r == 1 and restart == 0:
            open(os.path.join(out, "killed"), "w").close()
            os._exit(3)
    PIPE_HOOK = hook
    data = pipe_problem()
    te, ev = pipe_fns(data)
    m, _ = pipe_dense(data)
    ddp = nn.parallel.DistributedDataParallel(m)
    opt = torch.optim.SGD(ddp.parameters(), lr=PRUNE_LR, momentum=0.9)
    small, res = spt.prune_for(ddp, opt, "x86-avx2", te, ev, data[0][:4], checkpoint=os.path.join(out, "pipe.ckpt"),
                               export_path=os.path.join(out, "avx2.scpn"), **PIPE_KW)
    if rank == 0:
        torch.save({"state": small.state_dict(), "nodes_after": res.nodes.nodes_after,
                    "groups": asdict(res.groups), "accuracy": res.accuracy, "epochs": res.groups.epochs,
                    "node_epochs": res.nodes.epochs}, os.path.join(out, "pipe.pt"))
    dist.barrier()
    dist.destroy_process_group()


def pipe_torchrun(out: Path, crash_epoch: int, restarts: int) -> subprocess.CompletedProcess:
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=str(REPO / "python"), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo",
               SCALPEL_CLI=str(cli_path()))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--redirects", "2", "--tee", "2",
           "--max_restarts", str(restarts), "--master_addr", "127.0.0.1",
           "--master_port", str(27500 + os.getpid() % 1000), str(Path(__file__).resolve()), "--pipe-worker", str(out),
           "--crash-epoch", str(crash_epoch)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


def same_pipeline(a_state: dict, b_state: dict, tol: float):
    """(masks and shapes equal, largest weight difference)."""
    if sorted(a_state) != sorted(b_state) or any(a_state[k].shape != b_state[k].shape for k in a_state):
        return False, float("inf")
    masks = all(torch.equal(a_state[k], b_state[k]) for k in a_state if k.endswith("scalpel_mask"))
    d = max(float((a_state[k].float() - b_state[k].float()).abs().max()) for k in a_state if a_state[k].numel())
    return masks, d


def check_pipeline_ddp(tmp: Path, cli: Path, one: nn.Module, one_res, fails: Failures) -> None:
    """prune_for under torchrun (2 processes, gloo) against one process; a rank killed in the
    grouped phase and restarted resumes across the phases from the checkpoints."""
    t0 = time.time()
    r = pipe_torchrun(tmp / "pipe2", -1, 0)
    if not fails.check(r.returncode == 0, "pipeline ddp: torchrun 2 processes", (r.stderr or r.stdout)[-3000:]):
        return
    two = torch.load(tmp / "pipe2" / "pipe.pt")
    fails.check(two["nodes_after"] == one_res.nodes.nodes_after, "pipeline ddp",
                f"nodes kept {two['nodes_after']} by 2 processes, {one_res.nodes.nodes_after} by 1")
    masks, d = same_pipeline(one.state_dict(), two["state"], 1e-4)
    fails.check(masks, "pipeline ddp", "shapes or fc masks of 2 processes differ from 1 process's")
    fails.check(d <= 1e-4, "pipeline ddp", f"weights differ from 1 process's by {d:.3g} (> 1e-4)")
    fails.check(two["groups"]["skipped"] == one_res.groups.skipped, "pipeline ddp", "different layers left dense")
    a = scalpel.Model.load(tmp / "avx2.scpn")
    b = scalpel.Model.load(tmp / "pipe2" / "avx2.scpn")
    same_store = [(L.kind, L.storage, L.group) for L in a.layers] == [(L.kind, L.storage, L.group) for L in b.layers]
    fails.check(same_store, "pipeline ddp", "the exported files differ in layers or storage")
    run_in_c(cli, tmp, _load_small(one, two["state"]), tmp / "pipe2" / "avx2.scpn", "ddp export", fails)
    print(f"  ddp: prune_for(x86-avx2) on 2 processes: nodes {two['nodes_after']}, fc masks and export as 1 "
          f"process's, weights within {d:.2g} ({time.time() - t0:.1f} s)", flush=True)
    t0 = time.time()
    at = two["node_epochs"] + 1                       # in the grouped phase: the node phase is replayed
    r = pipe_torchrun(tmp / "pipe2k", at, 1)
    if not fails.check(r.returncode == 0, "pipeline ddp with a killed rank", (r.stderr or r.stdout)[-3000:]):
        return
    fails.check(os.path.exists(tmp / "pipe2k" / "killed"), "pipeline ddp kill", f"rank 1 was not killed (epoch {at})")
    killed = torch.load(tmp / "pipe2k" / "pipe.pt")
    masks, d = same_pipeline(two["state"], killed["state"], 1e-6)
    fails.check(masks and killed["nodes_after"] == two["nodes_after"], "pipeline ddp kill",
                "nodes or masks differ after the restart")
    fails.check(d <= 1e-6, "pipeline ddp kill", f"weights differ after the restart by {d:.3g}")
    fails.check(killed["epochs"] == two["epochs"], "pipeline ddp kill", "a different number of epochs")
    print(f"  ddp: rank 1 killed in epoch {at} (grouped phase), restarted: the node phase replayed from its "
          f"checkpoint, the same nodes and masks, weights within {d:.2g} ({time.time() - t0:.1f} s)", flush=True)


def check_pipeline_resume(tmp: Path, cli: Path, one: nn.Module, one_res, fails: Failures) -> None:
    """prune_for(x86-avx2) on one process interrupted in the node phase (an exception in epoch
    3), then called again with the same checkpoint: the same result as without the interruption."""
    global PIPE_HOOK
    data = pipe_problem()
    te, ev = pipe_fns(data)

    def boom(model, epoch, rank):
        if epoch == 3:
            raise _Crash()
    ck = str(tmp / "pipe1.ckpt")
    m, opt = pipe_dense(data)
    PIPE_HOOK = boom
    try:
        spt.prune_for(m, opt, "x86-avx2", te, ev, data[0][:4], checkpoint=ck, cli=str(cli), **PIPE_KW)
        fails.check(False, "pipeline resume", "the crash did not happen")
        return
    except _Crash:
        pass
    finally:
        PIPE_HOOK = lambda model, epoch, rank: None   # noqa: E731
    fails.check(os.path.exists(ck + ".nodes"), "pipeline resume", "no node-phase checkpoint was written")
    m, opt = pipe_dense(data)
    small, res = spt.prune_for(m, opt, "x86-avx2", te, ev, data[0][:4], checkpoint=ck, cli=str(cli), **PIPE_KW)
    masks, d = same_pipeline(one.state_dict(), small.state_dict(), 0.0)
    fails.check(masks and d == 0.0 and res.nodes.nodes_after == one_res.nodes.nodes_after and
                res.groups.epochs == one_res.groups.epochs, "pipeline resume",
                f"resumed run differs: nodes {res.nodes.nodes_after}, weights by {d:.3g}")
    print(f"  resume: interrupted in epoch 3 (node phase) and called again: bit-identical result", flush=True)


def _load_small(like: nn.Module, state: dict) -> nn.Module:
    import copy
    m = copy.deepcopy(like)
    m.load_state_dict(state)
    return m


def check_host_profile(tmp: Path, cli: Path, data, fails: Failures) -> None:
    """hw_profile with a model file: "host" measured by the tool on the model's shapes, then read
    from its cache; calibrate=True measures a named profile; the built-in figures without a
    model; prune_for("host") prunes with the measured rates."""
    os.environ["XDG_CACHE_HOME"] = str(tmp / "cache")
    m, opt = pipe_dense(data)
    path = tmp / "profile.scpn"
    scalpel.convert_torch(m, (1, 8, 8), str(path))
    first = spt.hw_profile("host", str(cli), model=str(path))
    again = spt.hw_profile("host", str(cli), model=str(path))
    fails.check("calibrated" in first["note"] and "cached" in again["note"], "host profile",
                f"notes {first['note']!r}, {again['note']!r}")
    fails.check(first["breakeven"] == again["breakeven"] or
                all(abs(first["breakeven"][k] - again["breakeven"][k]) < 1e-6 for k in first["breakeven"]),
                "host profile", "the cached rates differ from the measured ones")
    cached = list((tmp / "cache" / "scalpel").glob("host-*.profile"))
    fails.check(len(cached) == 1, "host profile", f"cache files {cached}")
    named = spt.hw_profile("x86-avx2", str(cli))
    cal = spt.hw_profile("x86-avx2", str(cli), model=str(path), calibrate=True)
    fails.check(cal["name"] == "x86-avx2" and cal["group"] == 8 and "calibrated" in cal["note"] and
                cal["breakeven"] != named["breakeven"], "host profile", f"calibrated x86-avx2: {cal}")
    try:
        spt.hw_profile("x86-avx2", str(cli), calibrate=True)
        fails.check(False, "host profile", "calibrate without a model accepted")
    except spt.PruneError as e:
        fails.check("model" in str(e), "host profile", str(e))
    out, res = spt.prune_for(m, opt, "host", *pipe_fns(data), data[0][:4], export_path=str(tmp / "host.scpn"),
                             cli=str(cli), **PIPE_KW)
    fails.check(res.hw == first["name"] and os.path.exists(tmp / "host.scpn") and "measur" in res.report,
                "host profile", f"prune_for(host): profile {res.hw}, report {res.report[:200]!r}")
    print(f"  host profile: {first['name']} measured on the model's shapes "
          f"(mv_grouped {first['breakeven']['mv_grouped']:.3f}), then cached; prune_for('host') "
          f"{res.dense_accuracy:.3f} -> {res.accuracy:.3f}", flush=True)
    del os.environ["XDG_CACHE_HOME"]


def check_round_to(data, fails: Failures) -> None:
    """remove_nodes(round_to=8): each masked layer keeps a multiple of 8 (at most its rows), the
    removed nodes of largest weight-row norm coming back first."""
    m, _ = pipe_dense(data)
    masker = spt.NodeMasker(m, data[0][:4], "all")
    with torch.no_grad():
        masker.set_nodes("0", a=torch.tensor([1.0] * 5 + [0.0] * 7))      # 5 of 12 -> 8
        masker.set_nodes("3", a=torch.tensor([1.0] * 9 + [0.0] * 3))      # 9 of 12 -> 12 (capped)
        masker.set_nodes("7", a=torch.tensor([1.0] * 16 + [0.0] * 16))   # 16 of 32 stays
    norms = (m[0].weight.detach().double().reshape(12, -1) ** 2).sum(1)
    back = sorted(sorted(range(5, 12), key=lambda i: (-float(norms[i]), i))[:3])
    small = spt.remove_nodes(m, masker, round_to=8)
    shapes = [small[0].out_channels, small[3].out_channels, small[7].out_features]
    fails.check(shapes == [8, 12, 16], "round_to", f"kept {shapes}, expected [8, 12, 16]")
    rows = list(range(5)) + back
    fails.check(shapes[0] == 8 and torch.equal(small[0].weight, m[0].weight[rows]), "round_to",
                f"conv 0 kept rows other than 0..4 and the largest removed {back}")
    try:
        spt.remove_nodes(m, masker, round_to=4)
        fails.check(False, "round_to", "round_to 4 accepted")
    except spt.PruneError as e:
        fails.check("round_to" in str(e), "round_to", str(e))
    print(f"  round_to 8: kept {shapes} of [12, 12, 32], conv 0 kept back rows {back} (largest norms)", flush=True)


def check_example(tmp: Path, fails: Failures):
    """examples/prune_torch.py, the user's whole path, on a short schedule: MNIST (from
    ../shared/data or $SCALPEL_MNIST_DIR), LeNet-300-100 for x86-avx2; its summary and its
    errors on bad input."""
    print("part example: examples/prune_torch.py on a short schedule, and its refusals", flush=True)
    cli = cli_path()
    # every network it offers takes 28 x 28 images to 10 classes and converts for the C library
    import importlib.util
    spec = importlib.util.spec_from_file_location("prune_torch_example", REPO / "examples" / "prune_torch.py")
    pt = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pt)
    for net in pt.NETS:
        m = pt.build(net).eval()
        try:
            with torch.no_grad():
                shape = tuple(m(torch.zeros(2, 1, 28, 28)).shape)
            scalpel.convert_torch(m, (1, 28, 28), str(tmp / f"{net}.scpn"))
            loaded = scalpel.Model.load(tmp / f"{net}.scpn")
            ok = shape == (2, 10) and loaded.output_shape == (10, 1, 1)
            fails.check(ok, f"example network {net}", f"output {shape}, converted {loaded.output_shape}")
        except Exception as e:          # noqa: BLE001 - any failure is the finding
            fails.check(False, f"example network {net}", f"{type(e).__name__}: {e}")
    print(f"  the example's networks ({', '.join(pt.NETS)}) map 28 x 28 images to 10 outputs and convert", flush=True)
    mnist = Path(os.environ.get("SCALPEL_MNIST_DIR") or REPO.parent / "shared" / "data" / "mnist")
    if not fails.check(mnist.is_dir(), "example", f"MNIST is not in {mnist} (set SCALPEL_MNIST_DIR)"):
        return
    ex = [sys.executable, str(REPO / "examples" / "prune_torch.py")]
    out = tmp / "example"
    t0 = time.time()
    r = subprocess.run(ex + ["--net", "lenet-300-100", "--data", str(mnist), "--hw", "x86-avx2", "--out", str(out),
                             "--cli", str(cli), "--dense-epochs", "2", "--train-subset", "4000", "--max-stages", "2",
                             "--tolerance", "0.05", "--bench-rounds", "1", "--threads", "1"],
                       capture_output=True, text=True, timeout=900)
    if not fails.check(r.returncode == 0, "example run", (r.stderr or r.stdout)[-2000:]):
        return
    summ = json.loads((out / "lenet-300-100-mnist-x86-avx2.json").read_text())
    fails.check(summ["dense_error"] < 0.3 and summ["error"] <= summ["dense_error"] + 0.05 + 1e-6 and
                0 < summ["rate"] < 1 and summ["bench"]["speedup"] > 0 and
                summ["weight_bytes"]["pruned"] < summ["weight_bytes"]["dense"], "example summary", f"{summ}")
    m = scalpel.Model.load(out / "lenet-300-100-mnist-x86-avx2.scpn")
    fails.check(any(L.storage == scalpel.STORAGE_GCSR and L.group == 8 for L in m.layers), "example export",
                "no layer stored in grouped CSR (G = 8)")
    fails.check((out / "lenet-300-100-mnist-dense.pt").exists(), "example", "the dense model was not kept")
    print(f"  lenet-300-100 for x86-avx2: error {100 * summ['dense_error']:.2f}% -> {100 * summ['error']:.2f}%, "
          f"{100 * summ['rate']:.1f}% of weights gone, {summ['bench']['speedup']:.2f}x here ({time.time() - t0:.1f} s)",
          flush=True)
    for what, argv, msg in (
            ("a missing data directory", ["--net", "lenet-5", "--data", str(tmp / "none"), "--hw", "x86-avx2"],
             "no train-images-idx3-ubyte"),
            ("an unknown network", ["--net", "vgg", "--data", str(mnist), "--hw", "x86-avx2"], "invalid choice"),
            ("an unknown profile", ["--net", "lenet-300-100", "--data", str(mnist), "--hw", "z80"],
             "hardware profile 'z80'"),
            ("a negative stage count", ["--net", "lenet-5", "--data", str(mnist), "--hw", "x86-avx2",
                                        "--stage-epochs", "0"], "--stage-epochs 0: at least 1")):
        r = subprocess.run(ex + argv + ["--out", str(out), "--cli", str(cli), "--dense-epochs", "1",
                                        "--train-subset", "64", "--max-stages", "1"],
                           capture_output=True, text=True, timeout=300)
        fails.check(r.returncode != 0 and msg in (r.stderr + r.stdout) and "Traceback" not in r.stderr,
                    f"example refuses {what}", (r.stderr or r.stdout)[-600:])
    bad = tmp / "truncated"
    bad.mkdir(exist_ok=True)
    for f in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        raw = gzip.open(mnist / (f + ".gz")).read() if (mnist / (f + ".gz")).exists() else (mnist / f).read_bytes()
        (bad / f).write_bytes(raw[:-7] if f.startswith("train-images") else raw)
    r = subprocess.run(ex + ["--net", "lenet-5", "--data", str(bad), "--hw", "x86-avx2", "--out", str(out),
                             "--cli", str(cli)], capture_output=True, text=True, timeout=300)
    fails.check(r.returncode != 0 and "the header says" in r.stderr and "Traceback" not in r.stderr,
                "example refuses a truncated IDX file", (r.stderr or r.stdout)[-600:])
    print("  refused with a message: a missing or truncated IDX file, an unknown network or profile, "
          "--stage-epochs 0", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="parity,driver,resume,ddp,nodes,pipeline,example")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--node-worker", help=argparse.SUPPRESS)
    ap.add_argument("--pipe-worker", help=argparse.SUPPRESS)
    ap.add_argument("--crash-epoch", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.crash_epoch)
        return 0
    if args.pipe_worker:
        torch.set_num_threads(1)
        pipe_worker(args.pipe_worker, args.crash_epoch)
        return 0
    if args.node_worker:
        node_worker(args.node_worker)
        return 0
    parts = set(args.parts.split(","))
    known = {"parity", "driver", "resume", "ddp", "nodes", "pipeline", "example"}
    if parts - known:
        ap.error(f"unknown part(s) {sorted(parts - known)}")
    torch.set_num_threads(1)
    t0 = time.time()
    fails = Failures()
    with tempfile.TemporaryDirectory(prefix="scalpel_torch_prune_") as d:
        tmp = Path(d)
        for name, fn in (("parity", check_parity), ("driver", check_driver), ("resume", check_resume),
                         ("ddp", check_ddp), ("nodes", check_nodes), ("pipeline", check_pipeline),
                         ("example", check_example)):
            if name in parts:
                fn(tmp, fails)
    print(f"test_torch_prune: {fails.checks - len(fails.items)} passed, {len(fails.items)} failed")
    if fails.items:
        print(f"\nFAILED ({time.time() - t0:.1f} s):", file=sys.stderr)
        for item in fails.items:
            print("  " + item, file=sys.stderr)
        return 1
    print(f"\nall checks passed ({time.time() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
