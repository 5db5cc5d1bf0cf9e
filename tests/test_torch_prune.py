#!/usr/bin/env python3
"""scalpel.torch (SIMD-aware pruning in PyTorch, DistributedDataParallel included) against the C
library and against itself across processes.

    /usr/bin/python3 tests/test_torch_prune.py [--parts parity,driver,resume,ddp]

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
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", default="parity,driver,resume,ddp")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--crash-epoch", type=int, default=-1, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.crash_epoch)
        return 0
    parts = set(args.parts.split(","))
    known = {"parity", "driver", "resume", "ddp"}
    if parts - known:
        ap.error(f"unknown part(s) {sorted(parts - known)}")
    torch.set_num_threads(1)
    t0 = time.time()
    fails = Failures()
    with tempfile.TemporaryDirectory(prefix="scalpel_torch_prune_") as d:
        tmp = Path(d)
        for name, fn in (("parity", check_parity), ("driver", check_driver), ("resume", check_resume),
                         ("ddp", check_ddp)):
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
