"""scalpel.torch: Scalpel's SIMD-aware weight pruning inside a PyTorch training loop, on one
process or many (DistributedDataParallel).

The group arithmetic is the C library's, bit for bit (``scalpel_prune_group_scores`` /
``scalpel_prune_groups_rate``): a weight matrix W [rows x cols] (an ``nn.Linear`` weight, or
an ``nn.Conv2d`` weight [out, in/groups, kh, kw] flattened per output row) is cut into aligned
groups of G along each row (a tail group shorter), each group is scored (RMS by default, or
mean |w|, or max |w|; a group of one weight scores |w|), and pruning to a rate removes the
round(rate * groups) groups of lowest score, ties broken by position. Masks only shrink: a
stage ANDs its new mask into the old one, as the C trainer does.

    import scalpel.torch as st
    pruner = st.GroupPruner(model, group=16)          # every nn.Linear and nn.Conv2d
    pruner.attach(optimizer)                          # masks re-applied after every step
    ...
    pruner.prune("fc1", 0.9)                          # or let the driver run the stages:
    result = st.prune_simd(model, optimizer, pruner, train_epoch, evaluate,
                           breakeven=0.1, checkpoint="prune.ckpt")
    scalpel.convert_torch(model, (1, 28, 28), "pruned.scpn")   # then: scalpel pack --hw ...

Masks live in the modules as buffers named ``scalpel_mask`` (uint8, the weight's shape), so
they are part of ``state_dict`` and of every checkpoint. Re-applying them zeroes the masked
weights and the optimizer's per-weight state there (SGD momentum, Adam's moments), as
``scalpel_trainer_apply_masks`` clears the momentum.

Distributed runs. Under ``torch.distributed`` (DDP with gloo or NCCL) every pruning decision
is made on rank 0 and broadcast: the masks, and the accuracy ``evaluate`` returns, which
decides every stage. The weights DDP keeps in step would give the same masks on every rank
in exact arithmetic, but a broadcast makes identical decisions true by construction, whatever
the ranks' hardware or reduction order does to the last bit; the cost is one mask per stage.
Checkpoints are written by rank 0 (to a temporary file, then renamed) after every epoch and
read by every rank on resume.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

__all__ = ["IMPORTANCE", "weight_matrix", "group_scores", "groups_rate_mask", "groups_threshold_mask",
           "han_dropout", "hw_profile", "breakevens", "GroupPruner", "PruneResult", "prune_simd", "PruneError"]

IMPORTANCE = {"rms": 0, "mean": 1, "max": 2}
GROUPS = (1, 2, 4, 8, 16)


class PruneError(ValueError):
    """Bad arguments to the pruning routines (the message says which)."""


# ---- the C library's group arithmetic ---------------------------------------------------------

def _c_sqrt(x: np.ndarray) -> np.ndarray:
    """scalpel__sqrt: the exponent halved as a first guess, then six Newton steps, in double
    (so that scores round to the same float32 as the C library's)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(x)
    pos = x > 0
    if np.any(pos):
        xp = x[pos]
        u = xp.view(np.uint64)
        y = ((u >> np.uint64(1)) + np.uint64(1023 << 51)).view(np.float64)
        for _ in range(6):
            y = 0.5 * (y + xp / y)
        out[pos] = y
    return out


def _matrix(w) -> np.ndarray:
    a = w.detach().cpu().float().numpy() if isinstance(w, torch.Tensor) else np.asarray(w, dtype=np.float32)
    if a.ndim < 2:
        raise PruneError(f"weight of shape {a.shape}: expected a matrix or a convolution weight")
    a = a.reshape(a.shape[0], -1)
    if not np.all(np.isfinite(a)):
        raise PruneError("the weights hold NaN or infinite values")
    return a


def weight_matrix(module: nn.Module) -> torch.Tensor:
    """The module's weight as the C library's W [rows x cols]: nn.Linear as it is, nn.Conv2d
    [out, in/groups, kh, kw] flattened per output row (a view)."""
    w = module.weight
    return w.reshape(w.shape[0], -1)


def _check_group(group: int, importance: str) -> int:
    if group not in GROUPS:
        raise PruneError(f"group {group}: one of {GROUPS}")
    if importance not in IMPORTANCE:
        raise PruneError(f"importance {importance!r}: one of {sorted(IMPORTANCE)}")
    return IMPORTANCE[importance]


def group_scores(w, group: int, importance: str = "rms") -> np.ndarray:
    """scores [rows x ceil(cols / G)] float32, as scalpel_prune_group_scores computes them."""
    imp = _check_group(group, importance)
    a = _matrix(w)
    rows, cols = a.shape
    ng = -(-cols // group)
    pad = np.zeros((rows, ng * group), np.float32)
    pad[:, :cols] = a
    g = pad.reshape(rows, ng, group)
    absg = np.abs(g)
    m = np.full(ng, group, np.float64)
    if cols % group:
        m[-1] = cols % group
    if imp == 2:                                  # max |w|
        s = absg.max(axis=2)
    else:                                         # in double, in the C library's order
        acc = np.zeros((rows, ng), np.float64)
        for i in range(group):
            v = g[:, :, i].astype(np.float64)
            acc = acc + (v * v if imp == 0 else np.abs(v))
        q = acc / m
        s = (_c_sqrt(q) if imp == 0 else q).astype(np.float32)
    s = s.astype(np.float32)
    single = m == 1                               # a group of one weight scores exactly |w|
    if np.any(single):
        s[:, single] = absg[:, single, 0]
    return s


def _expand(keep_groups: np.ndarray, cols: int, group: int) -> np.ndarray:
    rows = keep_groups.shape[0]
    return np.repeat(keep_groups, group, axis=1)[:, :cols].reshape(rows, cols)


def groups_rate_mask(w, group: int, rate: float, importance: str = "rms"):
    """(mask uint8 [rows x cols], cut): the round(rate * groups) groups of lowest score pruned
    (ties: earlier groups first), as scalpel_prune_groups_rate; cut = the largest pruned score
    (0 when nothing is pruned)."""
    rate32 = np.float32(rate)
    if not (0.0 <= float(rate32) <= 1.0):
        raise PruneError(f"rate {rate}: expected 0..1")
    a = _matrix(w)
    s = group_scores(a, group, importance)
    flat = s.reshape(-1)
    count = flat.size
    k = min(int(float(rate32) * float(count) + 0.5), count)
    keep = np.ones(count, np.uint8)
    cut = 0.0
    if k > 0:
        order = np.argsort(flat, kind="stable")
        keep[order[:k]] = 0
        cut = float(flat[order[k - 1]])
    return _expand(keep.reshape(s.shape), a.shape[1], group), cut


def groups_threshold_mask(w, group: int, threshold: float, importance: str = "rms") -> np.ndarray:
    """mask uint8 [rows x cols]: groups scoring under threshold pruned
    (scalpel_prune_groups_threshold; threshold 0 keeps everything)."""
    t = np.float32(threshold)
    if not t >= 0:
        raise PruneError(f"threshold {threshold}: expected a number >= 0")
    a = _matrix(w)
    s = group_scores(a, group, importance)
    return _expand((s >= t).astype(np.uint8), a.shape[1], group)


def han_dropout(p0: float, kept: int, total: int) -> float:
    """Han et al.'s rule for retraining a pruned layer: p = p0 * sqrt(kept / total)
    (scalpel_dropout_han)."""
    if total <= 0 or kept < 0:
        return 0.0
    return float(np.float32(p0 * float(_c_sqrt(np.array([kept / total]))[0])))


# ---- hardware profiles, from the C library -----------------------------------------------------

def hw_profile(name: str, cli: Optional[str] = None) -> dict:
    """The C library's hardware profile `name` ("x86-avx2", "cortex-m4", ..., or "host": the
    kernels compiled into the tool), from `scalpel plan --hw list --json`: name, class, group
    (G), dtype, batch and breakeven (mv_csr, mv_grouped, mm_csr, mm_grouped). cli: the
    scalpel tool (default $SCALPEL_CLI, else `scalpel` on PATH)."""
    import json
    import shutil
    import subprocess
    exe = cli or os.environ.get("SCALPEL_CLI") or shutil.which("scalpel")
    if not exe:
        raise PruneError("the scalpel tool was not found: build it (cc -O2 -march=native -I. examples/scalpel_cli.c "
                         "-o scalpel -lm), then pass cli= or set SCALPEL_CLI")
    r = subprocess.run([exe, "plan", "--hw", "list", "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise PruneError(f"{exe} plan --hw list --json failed: {(r.stderr or r.stdout).strip()}")
    data = json.loads(r.stdout)
    profiles = {p["name"]: p for p in data["profiles"]}
    if name == "host" and data.get("host"):
        return data["host"]
    if name not in profiles:
        raise PruneError(f"hardware profile {name!r}: one of {sorted(profiles)} or host")
    return profiles[name]


def breakevens(pruner: "GroupPruner", profile: dict, batch: Optional[int] = None) -> Dict[str, float]:
    """Each layer's break-even rate on a profile, as the C drivers take it: the grouped
    matrix-vector kernel's for an nn.Linear at batch 1, the matrix-matrix kernel's otherwise
    (batch: the profile's by default)."""
    b = int(profile.get("batch", 1) if batch is None else batch)
    be = profile["breakeven"]
    return {n: float(be["mv_grouped"] if isinstance(m, nn.Linear) and b == 1 else be["mm_grouped"])
            for n, m in pruner.layers.items()}


# ---- masks in a model -------------------------------------------------------------------------

def _unwrap(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def _rank() -> int:
    return dist.get_rank() if _distributed() else 0


def _broadcast(t: torch.Tensor) -> torch.Tensor:
    """t from rank 0 on every rank (in place; through the backend's device)."""
    if _distributed():
        dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
        buf = t.detach().to(dev).contiguous()
        dist.broadcast(buf, 0)
        t.copy_(buf.to(t.device))
    return t


def _broadcast_float(v: float) -> float:
    return float(_broadcast(torch.tensor([float(v)], dtype=torch.float64))[0])


class GroupPruner:
    """Masks of aligned groups on a model's nn.Linear and nn.Conv2d layers.

    model: the model (or its DistributedDataParallel wrapper). group: G, the SIMD width of the
    target (16 for AVX-512 fp32, 8 for AVX2, 4 for NEON / Helium fp32, 2 for Cortex-M4 q15; the
    profiles of ``scalpel plan --hw list``). layers: names (as in named_modules) to prune;
    default every nn.Linear and nn.Conv2d. importance: "rms" (default), "mean" or "max".
    Depthwise convolutions (one input channel per group) are left out of the default: they stay
    dense on every target and shrink only by node pruning."""

    def __init__(self, model: nn.Module, group: int, layers: Optional[Sequence[str]] = None,
                 importance: str = "rms"):
        _check_group(int(group), importance)
        self.model, self.group, self.importance = model, int(group), importance
        base = _unwrap(model)
        modules = dict(base.named_modules())
        if layers is None:
            names = [n for n, m in modules.items() if isinstance(m, nn.Linear) or
                     (isinstance(m, nn.Conv2d) and not (m.groups > 1 and m.groups == m.in_channels))]
        else:
            names = list(layers)
        self.layers: "OrderedDict[str, nn.Module]" = OrderedDict()
        for n in names:
            m = modules.get(n)
            if not isinstance(m, (nn.Linear, nn.Conv2d)):
                raise PruneError(f"layer {n!r}: not an nn.Linear or nn.Conv2d of the model")
            if "scalpel_mask" not in dict(m.named_buffers(recurse=False)):
                m.register_buffer("scalpel_mask", torch.ones_like(m.weight, dtype=torch.uint8))
            self.layers[n] = m
        if not self.layers:
            raise PruneError("the model has no nn.Linear or nn.Conv2d layer to prune")
        self._optimizers: List[torch.optim.Optimizer] = []

    # -- masks --

    def mask(self, name: str) -> torch.Tensor:
        return self.layers[name].scalpel_mask

    def prune(self, name: str, rate: float) -> float:
        """Prune layer `name` to `rate` of its groups (scored on its current weights; the new
        mask is ANDed into the old one), decided on rank 0 and broadcast; then apply. Returns
        the layer's pruned fraction of weights."""
        m = self.layers[name]
        with torch.no_grad():
            new = torch.ones_like(m.scalpel_mask)
            if _rank() == 0:
                mk, _ = groups_rate_mask(weight_matrix(m), self.group, rate, self.importance)
                new.copy_(torch.from_numpy(mk).reshape(m.weight.shape))
            _broadcast(new)
            m.scalpel_mask.mul_(new)
        self.apply()
        return self.rate(name)

    def rate(self, name: str) -> float:
        """Fraction of layer `name`'s weights masked."""
        mk = self.layers[name].scalpel_mask
        return 1.0 - float(mk.sum()) / float(mk.numel())

    def rates(self) -> Dict[str, float]:
        return {n: self.rate(n) for n in self.layers}

    def kept(self, name: str) -> int:
        return int(self.layers[name].scalpel_mask.sum())

    def apply(self) -> None:
        """Zero every masked weight, and the optimizers' state there (attach() registers them):
        call after every optimizer step (attach() does it)."""
        with torch.no_grad():
            for m in self.layers.values():
                keep = m.scalpel_mask.to(m.weight.dtype)
                m.weight.mul_(keep)
                for opt in self._optimizers:
                    state = opt.state.get(m.weight)
                    if not state:
                        continue
                    for v in state.values():
                        if isinstance(v, torch.Tensor) and v.shape == m.weight.shape:
                            v.mul_(keep.to(v.dtype))

    def attach(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """After every optimizer.step() the masks are re-applied (weights and optimizer state)."""
        if optimizer in self._optimizers:
            return optimizer
        self._optimizers.append(optimizer)
        step = optimizer.step
        pruner = self

        def step_and_mask(*args, **kwargs):
            out = step(*args, **kwargs)
            pruner.apply()
            return out

        optimizer.step = step_and_mask
        return optimizer


# ---- the stage driver --------------------------------------------------------------------------

@dataclass
class PruneResult:
    """What prune_simd achieved: accuracies, the pruned fraction of every layer, the layers
    left dense (their rate would not beat the kernel's break-even), the order and stages."""
    dense_accuracy: float = 0.0
    accuracy: float = 0.0
    rate: float = 0.0
    layer_rate: Dict[str, float] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)
    order: List[str] = field(default_factory=list)
    layer_accuracy: Dict[str, float] = field(default_factory=dict)
    stages: int = 0
    epochs: int = 0


def _ladder(s: int, rate_start: float, rate_step: float, rate_max: float, rate_keep: float) -> float:
    """scalpel__drv_rate: the rate of stage s (linear, or geometric with rate_keep)."""
    if rate_keep > 0.0:
        r = 1.0 - (1.0 - float(np.float32(rate_start))) * float(np.float32(rate_keep)) ** s
    else:
        r = float(np.float32(rate_start)) + s * float(np.float32(rate_step))
    return float(np.float32(min(r, float(np.float32(rate_max)))))


def _snapshot(base: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return {"model": {k: v.detach().clone() for k, v in base.state_dict().items()},
            "optimizer": _clone(optimizer.state_dict())}


def _clone(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().clone()
    if isinstance(obj, dict):
        return {k: _clone(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_clone(v) for v in obj]
    return obj


def _restore(base: nn.Module, optimizer: torch.optim.Optimizer, snap: dict) -> None:
    base.load_state_dict(snap["model"])
    optimizer.load_state_dict(_clone(snap["optimizer"]))


def prune_simd(model: nn.Module, optimizer: torch.optim.Optimizer, pruner: GroupPruner,
               train_epoch: Callable[[int], None], evaluate: Callable[[], float], *,
               breakeven: Union[float, Dict[str, float]] = 0.0, order: Optional[Sequence[str]] = None,
               rate_start: float = 0.5, rate_step: float = 0.1, rate_max: float = 0.95, rate_keep: float = 0.0,
               max_stages: int = 8, epochs_per_stage: int = 1, tolerance: float = 0.01, patience: int = 0,
               dropouts: Optional[Dict[str, nn.Dropout]] = None, checkpoint: Optional[str] = None,
               log: Optional[Callable[[str], None]] = print) -> PruneResult:
    """SIMD-aware pruning of a trained model, layer by layer, as scalpel_prune_simd does.

    train_epoch(epoch): one epoch of the user's training (DDP or not); epoch counts every epoch
    the driver runs (seed the data order with it, e.g. DistributedSampler.set_epoch, for runs
    that resume identically). evaluate(): test accuracy in [0, 1] (rank 0's value decides).

    The layers (pruner.layers, in `order` or by weight count, largest first) are pruned one at
    a time. Layer stage s prunes to the ladder's rate (rate_start + s * rate_step, or with
    rate_keep 1 - (1 - rate_start) * rate_keep^s; at most rate_max), re-applies the masks,
    scales the layer's dropout (dropouts[name]) by Han's rule, trains epochs_per_stage epochs
    and evaluates. A stage more than `tolerance` below the dense accuracy is a miss; after
    patience + 1 misses in a row the layer goes back to its last stage within tolerance and
    its ladder ends. A layer whose pruned fraction does not exceed its break-even rate
    (breakeven: one rate, or per layer name: the grouped kernel's break-even on the target, from
    `scalpel plan --hw NAME`) is restored dense: it would not run faster.

    checkpoint: a file written after every epoch and stage (rank 0; atomically); when it exists
    at the start, the run resumes from it (every rank reads it), and finishes exactly as an
    uninterrupted run would when train_epoch is deterministic."""
    base = _unwrap(model)
    names = list(order) if order is not None else sorted(
        pruner.layers, key=lambda n: -pruner.layers[n].weight.numel())   # stable: ties keep model order
    for n in names:
        if n not in pruner.layers:
            raise PruneError(f"order: {n!r} is not one of the pruner's layers")
    be = {n: float(breakeven[n] if isinstance(breakeven, dict) else breakeven) for n in names}
    say = log if (log is not None and _rank() == 0) else (lambda text: None)
    p0 = {n: float(d.p) for n, d in (dropouts or {}).items()}

    st = {"phase": "dense", "o": 0, "s": 0, "e": 0, "last": -1.0, "misses": 0, "epoch": 0,
          "now": 0.0, "result": asdict(PruneResult(order=names))}
    good = layer_snap = None
    if checkpoint and os.path.exists(checkpoint):
        ck = torch.load(checkpoint, map_location="cpu")
        _restore(base, optimizer, ck)
        st, good, layer_snap = ck["driver"], ck["good"], ck["layer_snap"]
        for n, d in (dropouts or {}).items():
            d.p = ck["dropout"].get(n, d.p)
        say(f"resumed from {checkpoint}: layer {st['o']} stage {st['s']} epoch {st['e']}")

    def save() -> None:
        if not checkpoint:
            return
        if _rank() == 0:
            tmp = f"{checkpoint}.tmp"
            torch.save({**_snapshot(base, optimizer), "driver": st, "good": good, "layer_snap": layer_snap,
                        "dropout": {n: d.p for n, d in (dropouts or {}).items()}}, tmp)
            os.replace(tmp, checkpoint)
        if _distributed():
            dist.barrier()

    res = st["result"]
    if st["phase"] == "dense":
        res["dense_accuracy"] = st["now"] = _broadcast_float(evaluate())
        say(f"dense accuracy {res['dense_accuracy']:.4f}")
        st["phase"] = "layers"
        save()
    while st["o"] < len(names):
        name = names[st["o"]]
        cap = min(float(np.float32(rate_max)), 1.0)
        if st["s"] == 0 and st["e"] == 0 and layer_snap is None:
            if cap <= be[name]:
                res["skipped"].append(name)
                st["o"] += 1
                continue
            layer_snap = good = _snapshot(base, optimizer)
            st.update(last=-1.0, misses=0, before=st["now"])
        end = False
        while not end:
            if st["e"] == 0:          # the stage's pruning (again, on resume: the same weights)
                rate = _ladder(st["s"], rate_start, rate_step, rate_max, rate_keep)
                if st["s"] >= max_stages or rate <= st["last"]:
                    break
                st["last"] = rate
                achieved = pruner.prune(name, rate)
                if name in p0:
                    dropouts[name].p = han_dropout(p0[name], pruner.kept(name), pruner.mask(name).numel())
                say(f"{name}: stage {st['s']} rate {rate:.3f} (pruned {achieved:.3f})")
            while st["e"] < epochs_per_stage:
                train_epoch(st["epoch"])
                pruner.apply()
                st["epoch"] += 1
                st["e"] += 1
                res["epochs"] = st["epoch"]
                if st["e"] < epochs_per_stage:
                    save()
            acc = _broadcast_float(evaluate())
            res["stages"] += 1
            past = float(res["dense_accuracy"]) - acc > tolerance + 1e-6
            say(f"{name}: stage {st['s']} accuracy {acc:.4f}{' (past tolerance)' if past else ''}")
            if past:
                st["misses"] += 1
                end = st["misses"] > patience
            else:
                st["misses"] = 0
                st["now"] = acc
                good = _snapshot(base, optimizer)
            st["s"] += 1
            st["e"] = 0
            save()
        if st["misses"] > 0:
            _restore(base, optimizer, good)
        if not pruner.rate(name) > be[name]:
            _restore(base, optimizer, layer_snap)
            st["now"] = st["before"]
            res["skipped"].append(name)
            say(f"{name}: pruned {pruner.rate(name):.3f}, not above its break-even {be[name]:.3f}: left dense")
        else:
            res["layer_accuracy"][name] = st["now"]
        good = layer_snap = None
        st.update(o=st["o"] + 1, s=0, e=0, last=-1.0, misses=0)
        save()
    res["accuracy"] = st["now"]
    total = sum(pruner.mask(n).numel() for n in pruner.layers)
    kept = sum(pruner.kept(n) for n in pruner.layers)
    res["layer_rate"] = pruner.rates()
    res["rate"] = 1.0 - kept / total if total else 0.0
    return PruneResult(**res)
