"""scalpel.torch: Scalpel's SIMD-aware weight pruning and node pruning with mask layers inside a
PyTorch training loop, on one process or many (DistributedDataParallel).

Node pruning (NodeMasker, node_lambda, remove_nodes; see the section "node pruning with mask
layers" below and docs/pytorch-pruning.md) follows the C trainer's mask layers step for step
and ends in a smaller dense copy of the model.

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

import contextlib
import os
import weakref
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

__all__ = ["IMPORTANCE", "weight_matrix", "group_scores", "groups_rate_mask", "groups_threshold_mask",
           "han_dropout", "hw_profile", "breakevens", "GroupPruner", "PruneResult", "prune_simd", "PruneError",
           "NodeMasker", "node_lambda", "remove_nodes", "prune_nodes", "prune_traditional", "prune_optimized",
           "prune_for", "export", "PipelineResult", "HW_LOW", "HW_MODERATE", "HW_HIGH"]

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

def _cli(cli: Optional[str]) -> str:
    import shutil
    exe = cli or os.environ.get("SCALPEL_CLI") or shutil.which("scalpel")
    if not exe:
        raise PruneError("the scalpel tool was not found: build it (cc -O2 -march=native -I. examples/scalpel_cli.c "
                         "-o scalpel -lm), then pass cli= or set SCALPEL_CLI")
    return str(exe)


def hw_profile(name: str, cli: Optional[str] = None, model: Optional[str] = None, calibrate: bool = False,
               batch: Optional[int] = None) -> dict:
    """The C library's hardware profile `name` ("x86-avx2", "cortex-m4", ..., or "host": the
    kernels compiled into the tool): name, class, group (G), dtype, batch and breakeven (mv_csr,
    mv_grouped, mm_csr, mm_grouped). cli: the scalpel tool (default $SCALPEL_CLI, else `scalpel`
    on PATH).

    Without `model`, the built-in figures (`scalpel plan --hw list --json`). With `model` (a
    model file, e.g. from convert_torch), the rates `scalpel plan --hw NAME --json MODEL` plans
    that model with: for "host" measured on this machine on the model's shapes (once, then
    cached by the tool), and measured now for any profile with calibrate=True; batch plans for
    batches of N."""
    import json
    import subprocess
    exe = _cli(cli)
    if model is None:
        if calibrate or batch is not None:
            raise PruneError("hw_profile: calibrate and batch need a model file (model=) to measure on")
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
    cmd = [exe, "plan", "--hw", str(name), "--json"] + (["--calibrate"] if calibrate else []) + \
        (["--batch", str(int(batch))] if batch is not None else []) + [str(model)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise PruneError(f"{' '.join(cmd)} failed: {(r.stderr or r.stdout).strip()}")
    return json.loads(r.stdout)


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
    """What a driver achieved (scalpel_prune_result): accuracies, the pruned fraction of every
    layer, the layers left dense (prune_simd: their rate would not beat the kernel's break-even;
    prune_optimized: more than half their weights remain), the order and stages; node pruning:
    each layer's output channels before and after removal."""
    dense_accuracy: float = 0.0
    accuracy: float = 0.0
    rate: float = 0.0
    layer_rate: Dict[str, float] = field(default_factory=dict)
    skipped: List[str] = field(default_factory=list)
    order: List[str] = field(default_factory=list)
    layer_accuracy: Dict[str, float] = field(default_factory=dict)
    stages: int = 0
    epochs: int = 0
    nodes_before: Dict[str, int] = field(default_factory=dict)   # node pruning: output channels
    nodes_after: Dict[str, int] = field(default_factory=dict)    # (or features) per layer


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


def _load_checkpoint(checkpoint: Optional[str], base: nn.Module, optimizer: torch.optim.Optimizer,
                     dropouts: Optional[dict]) -> Optional[dict]:
    """A driver's checkpoint, when there is one: model, optimizer and dropout rates restored,
    the rest (the driver's state) returned; None without one."""
    if not checkpoint or not os.path.exists(checkpoint):
        return None
    ck = torch.load(checkpoint, map_location="cpu")
    _restore(base, optimizer, ck)
    for n, d in (dropouts or {}).items():
        d.p = ck["dropout"].get(n, d.p)
    return ck


def _save_checkpoint(checkpoint: Optional[str], base: nn.Module, optimizer: torch.optim.Optimizer,
                     dropouts: Optional[dict], **state) -> None:
    """Writes a driver's checkpoint on rank 0 (to a temporary file, then renamed over it): the
    model, the optimizer, the dropout rates and `state`; every rank waits for it."""
    if not checkpoint:
        return
    if _rank() == 0:
        tmp = f"{checkpoint}.tmp"
        torch.save({**_snapshot(base, optimizer), **state,
                    "dropout": {n: d.p for n, d in (dropouts or {}).items()}}, tmp)
        os.replace(tmp, checkpoint)
    if _distributed():
        dist.barrier()


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
    ck = _load_checkpoint(checkpoint, base, optimizer, dropouts)
    if ck is not None:
        st, good, layer_snap = ck["driver"], ck["good"], ck["layer_snap"]
        say(f"resumed from {checkpoint}: layer {st['o']} stage {st['s']} epoch {st['e']}")

    def save() -> None:
        _save_checkpoint(checkpoint, base, optimizer, dropouts, driver=st, good=good, layer_snap=layer_snap)

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


# ---- node pruning with mask layers --------------------------------------------------------------
#
# The paper's section 5, as the C trainer (scalpel_train.h) implements it. A node is an output
# channel of an nn.Conv2d (a feature map) or an output of an nn.Linear. Its mask has a in {0, 1}
# and b in [0, mask_max]; the mask multiplies the channel where the C trainer applies it: at the
# input of every weighted layer that reads the channel (after the ReLU and the pooling,
# scalpel__train_masked_input), the same a over the whole feature map. Backward is
# straight-through (scalpel__train_masked_dx): dx = d * a, and grad_b[c] += the sum over the
# batch and the positions of d * x with x the UNMASKED activation, so a node that is off still
# learns whether it should come back. After each optimizer step (scalpel_trainer_apply):
#   b = b - lr * grad_b;  b -= mask_lambda * lr;  b = 0 if not b >= 0;  b = min(b, mask_max);
#   a = 1 if b >= T + eps, a = 0 if b < T, else a unchanged.
# Channels that must go together share one mask (one b, one a): the channels of a batch norm and
# of the per-channel layers after a convolution, a depthwise convolution's output channels and
# its input channel, the channels joined by an add, sub or mul; a concat only shifts offsets.

MASK_THRESHOLD, MASK_EPS, MASK_INIT, MASK_MAX = 0.8, 1e-4, 0.8002, 0.802
MASK_LAMBDA_MAX = 1e6     # SCALPEL_TRAIN_MASK_LAMBDA_MAX: the node driver's lambda stops there


def node_lambda(stage: int, start: float = 0.001, factor: float = 2.0) -> float:
    """The L1 pull of node-pruning stage `stage`, as scalpel_prune_nodes grows it:
    start * factor^stage (a product in double, stage by stage; defaults lambda_start 0.001,
    lambda_factor 2), at most 1e6, rounded to float32."""
    if stage < 0 or not (np.isfinite(start) and start >= 0 and np.isfinite(factor) and factor >= 0):
        raise PruneError(f"node_lambda({stage}, {start}, {factor}): stage >= 0, start and factor finite and >= 0")
    lam = float(np.float32(start))
    for _ in range(int(stage)):
        lam *= float(np.float32(factor))
    return float(np.float32(lam if lam < MASK_LAMBDA_MAX else MASK_LAMBDA_MAX))


class _NodeMaskFn(torch.autograd.Function):
    """y = x * a[channel]; dx = d * a[channel]; grad_b[set] += sum(d * x) (straight-through, on
    the unmasked x), accumulated into the masker like the C trainer's node_grad_b."""

    @staticmethod
    def forward(ctx, x, factor, idx, plane, masker):
        ctx.save_for_backward(x, factor)
        ctx.idx, ctx.plane, ctx.masker = idx, plane, masker
        return x * _NodeMaskFn._shape(factor, x, plane)

    @staticmethod
    def _shape(f, x, plane):
        if x.dim() == 2:                      # flattened: each channel owns `plane` features
            return (f.repeat_interleave(plane) if plane > 1 else f).view(1, -1)
        return f.view((1, -1) + (1,) * (x.dim() - 2))

    @staticmethod
    def backward(ctx, d):
        x, factor = ctx.saved_tensors
        dx = d * _NodeMaskFn._shape(factor, x, ctx.plane)
        g = (d * x).reshape(x.shape[0], factor.numel(), -1).sum(dim=(0, 2))
        ctx.masker._accumulate(ctx.idx, g)
        return dx, None, None, None, None


@contextlib.contextmanager
def _evaluating(base: nn.Module):
    """base in evaluation mode without gradients for the block (batch-norm statistics and the
    dropout RNG untouched); every module's own training flag restored after it."""
    modes = {m: m.training for m in base.modules()}
    try:
        base.eval()
        with torch.no_grad():
            yield
    finally:
        for m, t in modes.items():
            m.training = t


def _mask_factor(a: torch.Tensor, idx: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """a [masks] (or [k, masks]: a row per repeat of a batch) gathered for a consumer's input
    channels in x's dtype and device; idx == masks (a channel no mask covers) reads 1."""
    a = a.to(device=x.device, dtype=x.dtype)
    return torch.cat([a, a.new_ones(a.shape[:-1] + (1,))], dim=-1)[..., idx]


def _example_args(example) -> tuple:
    return tuple(example) if isinstance(example, (tuple, list)) else (example,)


def _bn_frozen_enter(module, inputs):
    """NodeMasker(freeze_bn=True): the batch norm runs on its running statistics for this call.
    A flag still saved (a call that raised before the forward hook ran) is the one kept."""
    if "_scalpel_training" not in module.__dict__:
        module._scalpel_training = module.training
    module.training = False


def _bn_frozen_leave(module, inputs, output):
    module.training = module.__dict__.pop("_scalpel_training", module.training)


class _UnionFind:
    def __init__(self):
        self.parent: List[int] = []
        self.pinned: Dict[int, str] = {}

    def new(self, n: int, pin: Optional[str] = None) -> List[int]:
        start = len(self.parent)
        self.parent.extend(range(start, start + n))
        if pin:
            for e in range(start, start + n):
                self.pinned[e] = pin
        return list(range(start, start + n))

    def find(self, e: int) -> int:
        while self.parent[e] != e:
            self.parent[e] = self.parent[self.parent[e]]
            e = self.parent[e]
        return e

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        lo, hi = min(ra, rb), max(ra, rb)      # the earlier element stays the root
        self.parent[hi] = lo
        if hi in self.pinned and lo not in self.pinned:
            self.pinned[lo] = self.pinned[hi]

    def pin(self, e: int, why: str) -> None:
        r = self.find(e)
        self.pinned.setdefault(r, why)

    def why(self, e: int) -> Optional[str]:
        return self.pinned.get(self.find(e))


@dataclass
class _Chan:
    """The channels of a tensor in the traced graph: elems[c] is channel c's union-find element;
    plane is the features each channel owns in a flattened 2-D tensor (1 for an nn.Linear's
    output, H*W after a flatten), unused for tensors of 3 or more dimensions."""
    elems: List[int]
    plane: int
    ndim: int


_PER_CHANNEL_MODULES = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh,
                        nn.Hardswish, nn.Hardtanh, nn.Hardsigmoid, nn.Identity, nn.Dropout, nn.Dropout2d,
                        nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
                        nn.BatchNorm1d, nn.BatchNorm2d)


def _per_channel_functions():
    import torch.nn.functional as F
    fns = {F.relu, F.relu6, F.leaky_relu, F.elu, F.gelu, F.silu, F.hardswish, F.hardtanh, F.hardsigmoid,
           F.dropout, F.dropout2d, F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
           torch.relu, torch.sigmoid, torch.tanh, F.sigmoid, F.tanh}
    return fns


_PER_CHANNEL_METHODS = {"relu", "relu_", "sigmoid", "tanh", "contiguous", "clone"}


_MASKERS: "weakref.WeakValueDictionary[int, NodeMasker]" = weakref.WeakValueDictionary()


class NodeMasker:
    """Node pruning with mask layers on a PyTorch model, with the C trainer's semantics.

    model: the model (or its DistributedDataParallel wrapper; build the masker before wrapping,
    so that DDP keeps its buffers in step too). example: an input batch for tracing (torch.fx)
    and shape propagation. layers: names (as in named_modules) of the nn.Conv2d / nn.Linear
    layers whose output channels get masks; default every nn.Conv2d (the CPU class: node
    pruning on convolutions) whose channels can go; "all": every nn.Conv2d and nn.Linear whose
    channels can go (the GPU class; the output layer is left out, ``skipped`` says why). threshold, eps, init, max: T, the
    hysteresis eps, b's initial value and cap (defaults 0.8, 1e-4, 0.8002, 0.802, the C
    trainer's). mask_lambda: the L1 pull (set it stage by stage, see node_lambda).

    The model is traced with torch.fx (symbolic_trace) to find where each channel goes: per-
    channel layers (activations, pooling, batch norm, dropout, flatten, global means) keep it;
    add / sub / mul join the channels of their two inputs into one mask, concat along the
    channels shifts offsets, a depthwise convolution joins each output channel with its input
    channel. A channel that reaches the model's input or output, an operation outside that
    list, a convolution with 1 < groups < channels, a module called twice or a view / reshape
    with a literal size cannot go: a layer named in `layers` whose channels are held by one of
    those is refused (PruneError naming the node); one chosen by the default is left out
    (``skipped`` says why). A model that does not trace is refused.

    The masks are applied by forward pre-hooks on the weighted modules that read masked
    channels (the model object and its class are unchanged); a and b live in two buffers of the
    model, ``scalpel_node_a`` and ``scalpel_node_b`` (float32, one entry per mask), so
    state_dict and checkpoints carry them.

    freeze_bn (default True): while the masker is attached, every batch norm of the model
    normalizes with its running statistics in training too (and does not update them); its
    scale and shift still learn. Without this a batch norm after a layer that reads a masked
    channel normalizes the mask's scale away with the batch's own statistics: b's data gradient
    has mean zero (measured on DS-CNN: about 1e-7 per map against 5e-3 with frozen statistics),
    the L1 pull alone moves b, and every mask of a stage goes off together. With frozen
    statistics a batch norm is a fixed affine map per channel, as in the paper's networks
    (which had none), and training and evaluation compute the same function. Start from a
    trained model (its running statistics estimated). The forward hooks set `training` off
    for the call only; the module's flag is restored after it.

    lr_scale (default 1: the C trainer's semantics) scales the learning rate of b's step, the
    pull included. b's gradient sums over a map's positions, and b switches between on and off
    in a band of 0.0002, so a smaller scale (with a larger mask_lambda) slows the masks.

    order: b's initial values. "equal" (default; the C trainer's): every b starts at `init`.
    "output": within each masked layer, b starts spread evenly over [T + eps, max] in the order
    of how far switching that channel (its coupled set) off alone moves the model's output on
    `example` (mean over the batch of the squared distance, evaluation mode). It costs one
    forward pass of the example per mask, run up to 64 masks at a time on the example repeated
    (at most 64 samples a pass; one at a time for a model whose output does not follow a
    repeated batch): give a batch of a few dozen inputs (torchvision's resnet18 at 32 x 32,
    2880 masks, one core: 2 inputs take about 6 s, 8 about 28 s, 32 about 100 s). The pull then switches the maps that
    matter least off first, one after another, and each can still come back on its gradient.
    On a trained network the loss is flat in each map's scale, so b's data gradient is small
    beside the batch noise; from equal starts the pull takes most maps of a layer off within a
    few steps of each other and the network collapses (DS-CNN, docs/pytorch-pruning.md). The
    scores are kept in ``scores`` (per masked layer, per channel). Ties keep the lower set
    first. A model that already carries mask buffers (a resume) keeps its b.
    """

    def __init__(self, model: nn.Module, example, layers: Union[None, str, Sequence[str]] = None, *,
                 threshold: float = MASK_THRESHOLD, eps: float = MASK_EPS, init: float = MASK_INIT,
                 max: float = MASK_MAX, mask_lambda: float = 0.0, lr_scale: float = 1.0,
                 freeze_bn: bool = True, order: str = "equal"):
        for v, lo, hi, what in ((threshold, 0, 1, "threshold"), (eps, 0, 1, "eps"), (max, 0, 1, "max"),
                                (init, 0, max, "init")):
            if not (np.isfinite(v) and lo <= v <= hi):
                raise PruneError(f"{what} {v}: expected {lo} .. {hi}")
        self.model = model
        self.threshold, self.eps, self.init, self.max = (float(np.float32(v)) for v in (threshold, eps, init, max))
        self.mask_lambda = float(mask_lambda)
        if not (np.isfinite(lr_scale) and 0 < lr_scale <= 1):
            raise PruneError(f"lr_scale {lr_scale}: expected 0 < lr_scale <= 1")
        self.lr_scale = float(lr_scale)
        if order not in ("equal", "output"):
            raise PruneError(f"order {order!r}: 'equal' or 'output'")
        self.order = order
        base = _unwrap(model)
        self._analyse(base, example, layers)
        n = len(self.sets)
        fresh = "scalpel_node_a" not in dict(base.named_buffers(recurse=False))
        if fresh:
            dev = next(iter(base.parameters())).device
            base.register_buffer("scalpel_node_a", torch.ones(n, dtype=torch.float32, device=dev))
            base.register_buffer("scalpel_node_b", torch.full((n,), self.init, dtype=torch.float32, device=dev))
        elif base.scalpel_node_a.numel() != n:
            raise PruneError(f"the model already has {base.scalpel_node_a.numel()} node masks; this graph gives {n}")
        self._base = base
        self._a_rows: Optional[torch.Tensor] = None     # [k, masks]: a per repeat of the example
        self._grad: Optional[torch.Tensor] = None
        self._idx_dev: Dict[tuple, torch.Tensor] = {}
        old = _MASKERS.get(id(base))
        if old is not None and old._base is base:   # a new masker on the same model (a resume) takes over
            old.detach()
        self._handles = []
        for name, (idx, plane) in self.consumers.items():
            self._handles.append(self._modules[name].register_forward_pre_hook(self._hook(name, idx, plane)))
        self.freeze_bn = bool(freeze_bn)
        if self.freeze_bn:
            for m in base.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    self._handles.append(m.register_forward_pre_hook(_bn_frozen_enter))
                    self._handles.append(m.register_forward_hook(_bn_frozen_leave))
        _MASKERS[id(base)] = self
        self._optimizers: List[torch.optim.Optimizer] = []
        self.scores: Optional[Dict[str, List[float]]] = None
        if fresh and order == "output":
            self._order_initial_b(example)

    def _order_initial_b(self, example) -> None:
        """order="output": each set's b spread over [T + eps, max] within its first masked layer,
        by how far switching that set off alone moves the model's output on `example`."""
        base, n = self._base, len(self.sets)
        args = _example_args(example)
        a = self.a.detach().clone()
        score = np.zeros(n)
        with _evaluating(base):
            try:
                ref = base(*args)
                if not isinstance(ref, torch.Tensor):
                    raise PruneError(f"order 'output' needs a model that returns one tensor, not {type(ref).__name__}")
                ref = ref.reshape(ref.shape[0], -1).double()
                tiny = 1e-10 * float((ref ** 2).sum(dim=1).mean())
                k, i = self._order_rows(args, ref), 0
                while i < n:            # k masks per forward: the example repeated k times
                    sets = list(range(i, min(n, i + k)))
                    score[sets] = self._order_pass(args, ref, a, sets)
                    if i == 0 and k > 1 and not all(
                            abs(float(self._order_pass(args, ref, a, [j])[0]) - score[j]) <= 1e-5 * score[j] + tiny
                            for j in (sets[0], sets[-1])):
                        k = 1           # a sample's output depends on its batch: one mask a pass
                        continue
                    i += len(sets)
            finally:
                self._a_rows = None
                self.a.copy_(a)
        lo = float(np.float32(np.float32(self.threshold) + np.float32(self.eps)))
        b = self.b.detach().cpu().numpy().copy()
        done = set()
        for name, ix in self.layers.items():
            sets = [i for i in dict.fromkeys(ix) if i not in done]
            done.update(sets)
            ranked = sorted(sets, key=lambda i: (score[i], i))
            for r, i in enumerate(ranked):
                b[i] = lo + (self.max - lo) * (r / (len(ranked) - 1) if len(ranked) > 1 else 1.0)
        self.scores = {name: [float(score[i]) for i in ix] for name, ix in self.layers.items()}
        with torch.no_grad():
            self.b.copy_(torch.from_numpy(b.astype(np.float32)))
            _broadcast(self.b)              # rank 0's order on every rank, by construction

    def _order_rows(self, args, ref) -> int:
        """Masks per forward pass of the output order: up to 64, at most 64 samples a pass; 1
        when the example is not one batch of tensors or the model refuses a repeated batch (a
        fixed batch size inside). A model whose samples see each other (a batch-wide operation)
        is caught after the first pass (_order_initial_b)."""
        b = ref.shape[0]
        k = max(1, min(64, 64 // max(1, b)))
        if k == 1 or not all(isinstance(t, torch.Tensor) and t.dim() >= 1 and t.shape[0] == b for t in args):
            return 1
        try:
            self._order_pass(args, ref, self.a.detach().clone(), [0, 0])
        except Exception:               # noqa: BLE001 - any failure: one mask per pass
            return 1
        return k

    def _order_pass(self, args, ref, a, sets) -> np.ndarray:
        """The output distance of switching each of `sets` off alone (from a), in one forward
        pass of the example repeated len(sets) times, a row of a per repeat."""
        rows = a.unsqueeze(0).repeat(len(sets), 1)
        for j, s_ in enumerate(sets):
            rows[j, s_] = 0.0
        self._a_rows = rows
        try:
            big = tuple(torch.cat([t] * len(sets)) if isinstance(t, torch.Tensor) else t for t in args)
            out = self._base(*big).reshape((len(sets),) + tuple(ref.shape)).double()
        finally:
            self._a_rows = None
        return ((out - ref.unsqueeze(0)) ** 2).sum(dim=2).mean(dim=1).cpu().numpy()

    # -- graph analysis --

    def _analyse(self, base: nn.Module, example, layers) -> None:
        import operator
        import torch.fx as fx
        from torch.fx.passes.shape_prop import ShapeProp
        try:
            gm = fx.symbolic_trace(base)
        except Exception as e:          # noqa: BLE001 - the tracer raises many kinds
            raise PruneError(f"the model does not trace with torch.fx ({type(e).__name__}: {e}); "
                             "node pruning needs a traceable model") from e
        # in eval mode: the shapes only, without touching batch-norm statistics or the RNG (dropout)
        try:
            with _evaluating(base):
                ShapeProp(gm).propagate(*_example_args(example))
        except Exception as e:          # noqa: BLE001
            raise PruneError(f"the traced model does not run on the example input ({type(e).__name__}: {e})") from e
        modules = dict(base.named_modules())
        self._modules = modules
        calls: Dict[str, int] = {}
        for node in gm.graph.nodes:
            if node.op == "call_module":
                calls[node.target] = calls.get(node.target, 0) + 1
        uf = _UnionFind()
        chan: Dict[object, _Chan] = {}
        producers: Dict[str, List[int]] = {}          # weighted module -> its output elements
        consumer_in: Dict[str, _Chan] = {}            # weighted module -> the channels it reads
        module_io: Dict[str, tuple] = {}              # module -> (input chan, output chan)
        per_fn = _per_channel_functions()

        def shape(node):
            tm = node.meta.get("tensor_meta") if hasattr(node, "meta") else None
            return tuple(tm.shape) if tm is not None and hasattr(tm, "shape") else None

        def fresh(node, pin=None):
            s = shape(node)
            if s is None or len(s) < 2:
                return None
            c = _Chan(uf.new(int(s[1]), pin), 1, len(s))
            return c

        def pin_all(node, why):
            for a in node.all_input_nodes:
                if a in chan and chan[a] is not None:
                    for e in chan[a].elems:
                        uf.pin(e, why)

        def like(src: _Chan, node) -> _Chan:
            s = shape(node)
            nd = len(s) if s else src.ndim
            if nd == 2 and src.ndim != 2:      # [N, C, 1, 1] -> [N, C] and similar
                plane = int(s[1]) // len(src.elems)
            else:
                plane = src.plane if nd == 2 else 1
            return _Chan(src.elems, plane, nd)

        def unite(a: _Chan, b: _Chan) -> bool:
            if len(a.elems) != len(b.elems) or (a.ndim == 2) != (b.ndim == 2) or (a.ndim == 2 and a.plane != b.plane):
                return False
            for x, y in zip(a.elems, b.elems):
                uf.union(x, y)
            return True

        def describe(node) -> str:
            t = node.target if isinstance(node.target, str) else getattr(node.target, "__name__", str(node.target))
            return f"node {node.name!r} ({node.op} {t})"

        for node in gm.graph.nodes:
            out = None
            ins = [chan.get(a) for a in node.args if isinstance(a, fx.Node)]
            x = ins[0] if ins else None
            if node.op == "placeholder":
                out = fresh(node, "the model's input")
            elif node.op == "get_attr":
                out = fresh(node, f"a constant tensor ({describe(node)})")
            elif node.op == "output":
                def pin_out(arg):
                    if isinstance(arg, fx.Node) and chan.get(arg) is not None:
                        for e in chan[arg].elems:
                            uf.pin(e, "the model's output")
                    elif isinstance(arg, (tuple, list)):
                        for v in arg:
                            pin_out(v)
                    elif isinstance(arg, dict):
                        for v in arg.values():
                            pin_out(v)
                pin_out(node.args)
            elif node.op == "call_module":
                m = modules[node.target]
                name = node.target
                if calls[name] > 1 and isinstance(m, (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d)):
                    pin_all(node, f"{describe(node)}: the module is called more than once")
                    out = fresh(node, f"{describe(node)}: the module is called more than once")
                elif isinstance(m, nn.Conv2d) and x is not None:
                    if m.groups == 1:
                        consumer_in[name] = x
                        out = fresh(node)
                        producers[name] = out.elems
                    elif m.groups == m.in_channels and m.groups == len(x.elems):
                        consumer_in[name] = x
                        out = fresh(node)
                        mult = m.out_channels // m.in_channels
                        for o, e in enumerate(out.elems):
                            uf.union(x.elems[o // mult], e)
                        producers[name] = out.elems
                    else:
                        pin_all(node, f"{describe(node)}: a grouped convolution (groups {m.groups})")
                        out = fresh(node, f"{describe(node)}: a grouped convolution (groups {m.groups})")
                    module_io[name] = (x, out)
                elif isinstance(m, nn.Linear) and x is not None:
                    if x.ndim == 2:
                        consumer_in[name] = x
                        out = fresh(node)
                        producers[name] = out.elems
                    else:
                        pin_all(node, f"{describe(node)}: an nn.Linear on a {x.ndim}-D tensor")
                        out = fresh(node, f"{describe(node)}: an nn.Linear on a {x.ndim}-D tensor")
                    module_io[name] = (x, out)
                elif isinstance(m, _PER_CHANNEL_MODULES) and x is not None:
                    out = like(x, node)
                    module_io[name] = (x, out)
                elif isinstance(m, nn.Flatten) and x is not None and m.start_dim == 1 and m.end_dim == -1:
                    s = shape(node)
                    out = _Chan(x.elems, int(s[1]) // len(x.elems), 2) if x.ndim > 2 else x
                else:
                    pin_all(node, f"{describe(node)}: an operation node pruning does not follow")
                    out = fresh(node, f"{describe(node)}: an operation node pruning does not follow")
            elif node.op in ("call_function", "call_method"):
                t = node.target
                tensors = [a for a in node.args if isinstance(a, fx.Node) and chan.get(a) is not None]
                kw_tensors = [a for a in node.kwargs.values() if isinstance(a, fx.Node) and chan.get(a) is not None]
                nested = [a for a in node.all_input_nodes if chan.get(a) is not None]
                s = shape(node)
                first = chan.get(node.args[0]) if node.args and isinstance(node.args[0], fx.Node) else None
                is_tensor_out = s is not None
                if not nested:
                    out = fresh(node) if is_tensor_out and s and len(s) >= 2 else None
                    if out is not None:                    # a tensor made from nothing we follow
                        for e in out.elems:
                            uf.pin(e, f"{describe(node)}")
                elif ((node.op == "call_function" and t in per_fn) or
                      (node.op == "call_method" and t in _PER_CHANNEL_METHODS)) and first is not None \
                        and len(tensors) == 1 and not kw_tensors:
                    out = like(first, node)
                elif t in (operator.add, operator.sub, operator.mul, operator.iadd, torch.add, torch.sub, torch.mul,
                           "add", "sub", "mul", "add_", "mul_") and len(node.args) >= 2:
                    a0, a1 = node.args[0], node.args[1]
                    c0 = chan.get(a0) if isinstance(a0, fx.Node) else None
                    c1 = chan.get(a1) if isinstance(a1, fx.Node) else None
                    if c0 is not None and c1 is not None:
                        if unite(c0, c1):
                            out = like(c0, node)
                        elif len(c1.elems) == 1 and len(c0.elems) > 1:
                            uf.pin(c1.elems[0], describe(node))
                            out = like(c0, node)
                        elif len(c0.elems) == 1 and len(c1.elems) > 1:
                            uf.pin(c0.elems[0], describe(node))
                            out = like(c1, node)
                        else:
                            pin_all(node, f"{describe(node)}: inputs of different channels")
                            out = fresh(node, f"{describe(node)}: inputs of different channels")
                    elif c0 is not None and not isinstance(a1, fx.Node):
                        out = like(c0, node)                   # x + 1.0, x * 0.5
                    elif c1 is not None and not isinstance(a0, fx.Node):
                        out = like(c1, node)
                    else:
                        pin_all(node, describe(node))
                        out = fresh(node, describe(node))
                elif t in (torch.cat, torch.concat if hasattr(torch, "concat") else torch.cat):
                    seq = node.args[0]
                    dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
                    parts = [chan.get(a) if isinstance(a, fx.Node) else None for a in seq]
                    nd = len(s) if s else 0
                    if nd and dim < 0:
                        dim += nd
                    if all(p is not None for p in parts) and dim == 1 and nd > 2:
                        out = _Chan([e for p in parts for e in p.elems], 1, nd)
                    elif all(p is not None for p in parts) and dim not in (1,) and nd > 2 and \
                            all(unite(parts[0], p) for p in parts[1:]):
                        out = like(parts[0], node)
                    else:
                        pin_all(node, f"{describe(node)}: a concat node pruning does not follow")
                        out = fresh(node, f"{describe(node)}: a concat node pruning does not follow")
                elif t in (torch.flatten, "flatten") and first is not None:
                    sd = node.args[1] if len(node.args) > 1 else node.kwargs.get("start_dim", 0)
                    ed = node.args[2] if len(node.args) > 2 else node.kwargs.get("end_dim", -1)
                    if sd == 1 and ed == -1 and s is not None and len(s) == 2:
                        out = _Chan(first.elems, int(s[1]) // len(first.elems), 2) if first.ndim > 2 else first
                    else:
                        pin_all(node, f"{describe(node)}: a flatten other than flatten(x, 1)")
                        out = fresh(node, f"{describe(node)}: a flatten other than flatten(x, 1)")
                elif t in ("view", "reshape", torch.reshape) and first is not None and s is not None:
                    src = shape(node.args[0])
                    literal = any(isinstance(a, int) and a not in (-1,) and a != src[0] for a in node.args[1:]) or \
                        any(isinstance(a, (tuple, list)) and any(isinstance(v, int) and v not in (-1,) and v != src[0]
                                                                 for v in a) for a in node.args[1:])
                    if tuple(s) == tuple(src):
                        out = first
                    elif len(s) == 2 and len(src) > 2 and s[0] == src[0] and not literal:
                        out = _Chan(first.elems, int(s[1]) // len(first.elems), 2)
                    else:
                        why = (f"{describe(node)}: a {t if isinstance(t, str) else 'reshape'} with a literal size "
                               "(write torch.flatten(x, 1) or x.view(x.size(0), -1))") if literal else \
                            f"{describe(node)}: a reshape node pruning does not follow"
                        pin_all(node, why)
                        out = fresh(node, why)
                elif t in ("mean", torch.mean, "amax", "sum", torch.sum) and first is not None and s is not None:
                    dims = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim")
                    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
                    nd = first.ndim
                    if first.ndim > 2 and all(isinstance(d, int) and (d % nd) >= 2 for d in dims):
                        out = like(first, node)
                    else:
                        pin_all(node, describe(node))
                        out = fresh(node, describe(node))
                elif t in ("size", "dim") or (t is getattr and len(node.args) > 1 and node.args[1] in ("shape", "dtype",
                                                                                                        "device")):
                    out = None
                else:
                    pin_all(node, f"{describe(node)}: an operation node pruning does not follow")
                    out = fresh(node, f"{describe(node)}: an operation node pruning does not follow") \
                        if is_tensor_out and s and len(s) >= 2 else None
            chan[node] = out

        # which layers get masks
        explicit = layers is not None and not (isinstance(layers, str) and layers == "all")
        if layers is None:
            names = [n for n in producers if isinstance(modules[n], nn.Conv2d)]
        elif not explicit:                                # "all": every layer whose channels can go
            names = list(producers)
        else:
            names = list(layers)
            for n in names:
                if not isinstance(modules.get(n), (nn.Conv2d, nn.Linear)):
                    raise PruneError(f"layer {n!r}: not an nn.Conv2d or nn.Linear of the model")
                if n not in producers:
                    raise PruneError(f"layer {n!r}: its channels cannot go (it is not reached by the traced graph, "
                                     "or it is a grouped convolution, a module called twice, or a Linear on a 3-D+ tensor)")
        self.skipped: Dict[str, str] = {}
        chosen = []
        for n in names:
            whys = {uf.why(e) for e in producers[n]} - {None}
            if whys:
                why = sorted(whys)[0]
                if explicit:
                    raise PruneError(f"layer {n!r}: its channels cannot go, held by {why}")
                self.skipped[n] = why
            else:
                chosen.append(n)
        # one mask per set, numbered in graph order of the chosen layers' channels
        set_of: Dict[int, int] = {}
        for n in producers:                               # every producer, in graph order
            if n not in chosen:
                continue
            for e in producers[n]:
                r = uf.find(e)
                if r not in set_of:
                    set_of[r] = len(set_of)
        self.sets = list(set_of)
        self._uf, self._set_of = uf, set_of

        def index(c: _Chan) -> List[int]:
            return [set_of.get(uf.find(e), -1) for e in c.elems]

        # every weighted layer with a channel in a mask's set (chosen or coupled to one) shows it
        self.layers: "OrderedDict[str, List[int]]" = OrderedDict()
        for n in producers:
            ix = [set_of.get(uf.find(e), -1) for e in producers[n]]
            if any(i >= 0 for i in ix):
                if any(i < 0 for i in ix):
                    raise PruneError(f"layer {n!r}: only some of its channels are maskable")
                self.layers[n] = ix
        self.chosen = chosen
        self.consumers: Dict[str, tuple] = {}
        for n, c in consumer_in.items():
            ix = index(c)
            if any(i >= 0 for i in ix):
                self.consumers[n] = (ix, c.plane if c.ndim == 2 else 1)
        self._graph, self._chan, self._module_io, self._producers = gm, chan, module_io, producers
        if not self.sets:
            raise PruneError("no node masks: " + ("; ".join(f"{n}: {w}" for n, w in self.skipped.items())
                                                   if self.skipped else "the model has no layer to mask"))

    # -- forward and backward --

    def _index(self, key, ix: List[int], device) -> torch.Tensor:
        k = (key, str(device))
        t = self._idx_dev.get(k)
        if t is None:
            n = len(self.sets)
            t = torch.tensor([i if i >= 0 else n for i in ix], dtype=torch.long, device=device)
            self._idx_dev[k] = t
        return t

    def _hook(self, name: str, ix: List[int], plane: int):
        masker = self

        def pre_hook(module, inputs):
            x = inputs[0]
            idx = masker._index(name, ix, x.device)
            if masker._a_rows is not None:      # the output order's batched forward (no gradient)
                f = _mask_factor(masker._a_rows, idx, x)
                k = f.shape[0]
                if x.dim() == 2:
                    f = f.repeat_interleave(plane, dim=1) if plane > 1 else f
                    y = x.reshape(k, -1, x.shape[1]) * f.unsqueeze(1)
                else:
                    y = x.reshape((k, -1) + tuple(x.shape[1:])) * f.view((k, 1, -1) + (1,) * (x.dim() - 2))
                return (y.reshape(x.shape),) + tuple(inputs[1:])
            factor = _mask_factor(masker._base.scalpel_node_a, idx, x)
            return (_NodeMaskFn.apply(x, factor, idx, plane, masker),) + tuple(inputs[1:])

        return pre_hook

    def _accumulate(self, idx: torch.Tensor, g: torch.Tensor) -> None:
        n = len(self.sets)
        if self._grad is None or self._grad.device != g.device:
            self._grad = torch.zeros(n + 1, dtype=torch.float32, device=g.device)
        self._grad.index_add_(0, idx, g.float())

    # -- state --

    @property
    def a(self) -> torch.Tensor:
        """a of every mask [masks] (the model's buffer scalpel_node_a)."""
        return self._base.scalpel_node_a

    @property
    def b(self) -> torch.Tensor:
        return self._base.scalpel_node_b

    @property
    def grad_b(self) -> torch.Tensor:
        """The straight-through gradient of b accumulated since the last update() [masks]."""
        if self._grad is None:
            return torch.zeros(len(self.sets), dtype=torch.float32, device=self.b.device)
        return self._grad[:len(self.sets)]

    def node_a(self, name: str) -> torch.Tensor:
        """a of layer `name`'s output channels [out] (a coupled channel shows its set's mask)."""
        return self.a[torch.tensor(self.layers[name], device=self.a.device)]

    def node_b(self, name: str) -> torch.Tensor:
        return self.b[torch.tensor(self.layers[name], device=self.b.device)]

    def set_nodes(self, name: str, a=None, b=None) -> None:
        """Writes a and / or b of layer `name`'s channels (coupled channels share one entry: the
        last value written wins)."""
        ix = torch.tensor(self.layers[name], device=self.a.device)
        with torch.no_grad():
            if a is not None:
                self.a[ix] = torch.as_tensor(a, dtype=torch.float32, device=self.a.device)
            if b is not None:
                self.b[ix] = torch.as_tensor(b, dtype=torch.float32, device=self.b.device)

    def kept(self) -> Dict[str, int]:
        """Channels kept (a = 1) per masked layer."""
        return {n: int((self.node_a(n) != 0).sum()) for n in self.layers}

    # -- the update --

    def update(self, lr: float) -> None:
        """The C trainer's mask step, after the optimizer's: b -= lr * grad_b; b -= mask_lambda *
        lr; clamp to [0, max]; a = 1 at b >= T + eps, 0 below T, else unchanged (float32, as
        scalpel_trainer_apply). lr: the step's learning rate (attach() passes the optimizer's),
        times lr_scale (1, the C trainer's, unless the masker was made with a smaller one).
        Distributed: grad_b is averaged over the ranks (as DDP averages the weights'
        gradients), every rank computes the step, and rank 0's a and b are broadcast, so the
        masks are identical on every rank by construction."""
        if not (np.isfinite(np.float32(lr)) and lr >= 0):
            raise PruneError(f"lr {lr}: expected a finite number >= 0")
        lr32 = np.float32(lr) if self.lr_scale == 1.0 else np.float32(lr * self.lr_scale)
        if not (np.isfinite(self.mask_lambda) and 0 <= self.mask_lambda <= MASK_LAMBDA_MAX):
            raise PruneError(f"mask_lambda {self.mask_lambda}: expected 0 .. {MASK_LAMBDA_MAX}")
        g = self.grad_b.detach().to(self.b.device).clone()
        if _distributed():
            dev = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
            buf = g.to(dev)
            dist.all_reduce(buf)
            g = buf.to(self.b.device) / float(dist.get_world_size())
        pull = np.float32(np.float32(self.mask_lambda) * lr32)          # float * float, as in C
        with torch.no_grad():
            b = self.b - g * torch.tensor(lr32, device=g.device)
            b = b - torch.tensor(pull, device=g.device)
            b = torch.where(b >= 0, b, torch.zeros_like(b))                # NaN too
            b = torch.minimum(b, torch.tensor(np.float32(self.max), device=b.device))
            on = np.float32(np.float32(self.threshold) + np.float32(self.eps))
            a = torch.where(b >= torch.tensor(on, device=b.device), torch.ones_like(b),
                            torch.where(b < torch.tensor(np.float32(self.threshold), device=b.device),
                                        torch.zeros_like(b), self.a))
            if _distributed():
                both = torch.cat([b, a])
                _broadcast(both)
                b, a = both[:len(self.sets)], both[len(self.sets):]
            self.b.copy_(b)
            self.a.copy_(a)
        if self._grad is not None:
            self._grad.zero_()

    def zero_grad(self) -> None:
        if self._grad is not None:
            self._grad.zero_()

    def stage(self, s: int, start: float = 0.001, factor: float = 2.0) -> float:
        """Sets mask_lambda to node_lambda(s, start, factor) (the node driver's stage s); returns it."""
        self.mask_lambda = node_lambda(s, start, factor)
        return self.mask_lambda

    def attach(self, optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
        """After every optimizer.step(), update(lr) with the optimizer's current learning rate
        (param_groups[0]['lr']: a scheduler's rate too)."""
        if optimizer in self._optimizers:
            return optimizer
        self._optimizers.append(optimizer)
        step = optimizer.step
        masker = self

        def step_and_update(*args, **kwargs):
            out = step(*args, **kwargs)
            masker.update(float(optimizer.param_groups[0]["lr"]))
            return out

        optimizer.step = step_and_update
        return optimizer

    def detach(self) -> None:
        """Removes the forward hooks (the model computes without masks; the buffers stay)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    # -- removal --

    def _keep_elems(self, back: Sequence[int] = ()) -> Callable[[int], bool]:
        """keep(element): whether a channel element stays (its mask's a != 0, or its mask is
        one of `back`, kept back by rounding)."""
        a = self.a.detach().cpu().numpy()
        uf, set_of, back = self._uf, self._set_of, set(back)

        def keep(e: int) -> bool:
            s = set_of.get(uf.find(e))
            return True if s is None else bool(a[s] != 0 or s in back)
        return keep


def _rounded_back(base: nn.Module, masker: NodeMasker, round_to: int) -> List[int]:
    """The masks that rounding keeps back (remove_nodes' round_to): per masked layer in model
    order, the removed nodes of largest weight-row norm until the kept count is a multiple of
    round_to (or every node is kept)."""
    back: List[int] = []
    if round_to <= 1:
        return back
    mods = dict(base.named_modules())
    uf, set_of = masker._uf, masker._set_of
    for name, (_cin, cout) in masker._module_io.items():
        m = mods[name]
        if cout is None or not isinstance(m, (nn.Conv2d, nn.Linear)):
            continue
        sets = [set_of.get(uf.find(e)) for e in cout.elems]
        if all(s is None for s in sets):
            continue
        keep = masker._keep_elems(back)
        on = [keep(e) for e in cout.elems]
        rows = len(on)
        target = min(-(-sum(on) // round_to) * round_to, rows)
        norm = (m.weight.detach().double().reshape(rows, -1) ** 2).sum(1).tolist()
        off = sorted((i for i in range(rows) if not on[i]), key=lambda i: (-norm[i], i))
        for i in off[:target - sum(on)]:
            back.append(sets[i])
    return back


def remove_nodes(model: nn.Module, masker: NodeMasker, round_to: int = 1) -> nn.Module:
    """Physical node removal: a smaller dense copy of the model (the same class; masker's model
    is unchanged) without the channels whose mask has a = 0: a convolution's output channels
    (its weight rows, bias), a batch norm's channels (weight, bias, running statistics), the next
    weighted layer's input channels (a conv's in_channels, a depthwise conv's groups, an
    nn.Linear's in_features: H*W features per map after a flatten). It computes what the masked
    model computes (the hooks and the mask buffers are not copied). Refused (PruneError) when a
    layer would keep no channel.

    round_to (8, 16 or 32; for GPUs, as scalpel_net_remove_nodes): each masked layer's kept
    count is rounded up to a multiple (at most its rows) by keeping back its removed nodes of
    largest weight-row norm (lower index first on ties), in model order; a node kept back keeps
    the channels coupled to it too, so coupled layers stay consistent. The copy then computes
    what the masked model computes with those masks switched back on."""
    import copy
    base = _unwrap(model)
    if base is not masker._base:
        raise PruneError("remove_nodes: the masker belongs to another model")
    if round_to not in (1, 8, 16, 32):
        raise PruneError(f"remove_nodes: round_to {round_to}: 1, 8, 16 or 32")
    keep = masker._keep_elems(_rounded_back(base, masker, round_to))
    # deepcopy without the hooks and the mask buffers
    saved_hooks = {n: (dict(m._forward_pre_hooks), dict(m._forward_hooks)) for n, m in base.named_modules()}
    saved_bufs = {k: base._buffers.pop(k) for k in ("scalpel_node_a", "scalpel_node_b")}
    try:
        for h in masker._handles:
            for m in base.modules():
                m._forward_pre_hooks.pop(h.id, None)
                m._forward_hooks.pop(h.id, None)
        out = copy.deepcopy(base)
    finally:
        for n, m in base.named_modules():
            for d, saved in zip((m._forward_pre_hooks, m._forward_hooks), saved_hooks[n]):
                d.clear()
                d.update(saved)
        base._buffers.update(saved_bufs)
    mods = dict(out.named_modules())

    def kv(c: Optional[_Chan]) -> Optional[torch.Tensor]:
        if c is None:
            return None
        return torch.tensor([keep(e) for e in c.elems], dtype=torch.bool)

    with torch.no_grad():
        for name, (cin, cout) in masker._module_io.items():
            m = mods[name]
            kin, kout = kv(cin), kv(cout)
            if kout is not None and not bool(kout.any()):
                raise PruneError(f"remove_nodes: layer {name!r} would keep no channel")
            if isinstance(m, nn.Conv2d):
                dw = m.groups > 1
                w = m.weight
                if kout is not None and not bool(kout.all()):
                    w = w[kout]
                    if m.bias is not None:
                        m.bias = nn.Parameter(m.bias[kout].clone(), requires_grad=m.bias.requires_grad)
                if not dw and kin is not None and not bool(kin.all()):
                    w = w[:, kin]
                m.weight = nn.Parameter(w.clone(), requires_grad=m.weight.requires_grad)
                m.out_channels = int(w.shape[0])
                if dw:
                    m.in_channels = m.groups = int(kin.sum()) if kin is not None else m.in_channels
                else:
                    m.in_channels = int(w.shape[1])
            elif isinstance(m, nn.Linear):
                w = m.weight
                if kout is not None and not bool(kout.all()):
                    w = w[kout]
                    if m.bias is not None:
                        m.bias = nn.Parameter(m.bias[kout].clone(), requires_grad=m.bias.requires_grad)
                if kin is not None and not bool(kin.all()):
                    w = w[:, kin.repeat_interleave(cin.plane)]
                m.weight = nn.Parameter(w.clone(), requires_grad=m.weight.requires_grad)
                m.out_features, m.in_features = int(w.shape[0]), int(w.shape[1])
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) and kin is not None and not bool(kin.all()):
                if m.affine:
                    m.weight = nn.Parameter(m.weight[kin].clone(), requires_grad=m.weight.requires_grad)
                    m.bias = nn.Parameter(m.bias[kin].clone(), requires_grad=m.bias.requires_grad)
                if m.track_running_stats and m.running_mean is not None:
                    m.running_mean = m.running_mean[kin].clone()
                    m.running_var = m.running_var[kin].clone()
                m.num_features = int(kin.sum())
    return out


# ---- the node driver, the baselines and the pipeline per hardware class ------------------------

def prune_nodes(model: nn.Module, optimizer: torch.optim.Optimizer, masker: NodeMasker,
                train_epoch: Callable[[int], None], evaluate: Callable[[], float], *,
                tolerance: float = 0.01, patience: int = 0, max_stages: int = 8, epochs_per_stage: int = 1,
                lambda_start: float = 0.001, lambda_factor: float = 2.0,
                dropouts: Optional[Dict[str, nn.Dropout]] = None, checkpoint: Optional[str] = None,
                round_to: int = 1, log: Optional[Callable[[str], None]] = print):
    """Node pruning with mask layers, as scalpel_prune_nodes: returns (smaller model, PruneResult).

    Stage s sets mask_lambda = node_lambda(s, lambda_start, lambda_factor) (masker.stage), scales
    each dropouts[name] (the nn.Dropout on masked layer `name`'s outputs) by D_k = D_0 N_k / N_0
    (nodes of that layer kept / at the start), trains epochs_per_stage epochs (train_epoch, the
    masker attached to the optimizer) and evaluates. A stage more than `tolerance` below the dense
    accuracy is a miss; patience + 1 misses in a row, or a masked layer left with no node, end the
    stages, back at the last stage within tolerance (or the dense start). Then mask_lambda is 0 and
    remove_nodes (with round_to) gives the smaller dense copy (exact: it computes what the masked
    model computes).
    The closing retraining of the smaller model (the C driver's epochs_final) is the caller's: the
    user's train_epoch trains the masked model. Decisions as in prune_simd (rank 0's accuracy,
    broadcast; a and b are identical on every rank by construction); checkpoint: written after
    every epoch and stage, resumed from when it exists (the masks' a and b are in state_dict)."""
    base = _unwrap(model)
    if masker._base is not base:
        raise PruneError("prune_nodes: the masker belongs to another model")
    masker.attach(optimizer)
    say = log if (log is not None and _rank() == 0) else (lambda text: None)
    before = masker.kept()
    p0 = {n: float(d.p) for n, d in (dropouts or {}).items()}
    for n in p0:
        if n not in before:
            raise PruneError(f"dropouts: {n!r} is not a masked layer ({sorted(before)})")
    st = {"phase": "dense", "s": 0, "e": 0, "misses": 0, "epoch": 0, "end": False,
          "result": asdict(PruneResult(nodes_before=dict(before)))}
    good = None
    ck = _load_checkpoint(checkpoint, base, optimizer, dropouts)
    if ck is not None:
        st, good = ck["driver"], ck["good"]
        say(f"resumed from {checkpoint}: stage {st['s']} epoch {st['e']}")

    def save() -> None:
        _save_checkpoint(checkpoint, base, optimizer, dropouts, driver=st, good=good)

    res = st["result"]
    if st["phase"] == "dense":
        res["dense_accuracy"] = res["accuracy"] = _broadcast_float(evaluate())
        say(f"dense accuracy {res['dense_accuracy']:.4f}")
        good = _snapshot(base, optimizer)
        st["phase"] = "stages"
        save()
    while not st["end"] and st["s"] < max_stages:
        lam = masker.stage(st["s"], lambda_start, lambda_factor)
        if st["e"] == 0:
            kept = masker.kept()
            for n in p0:                                  # scalpel_dropout_nodes
                dropouts[n].p = float(np.float32(p0[n] * kept[n] / before[n])) if before[n] > 0 else 0.0
            res["stages"] += 1
            say(f"nodes: stage {st['s']} lambda {lam:.6g}")
        while st["e"] < epochs_per_stage:
            train_epoch(st["epoch"])
            st["epoch"] += 1
            st["e"] += 1
            res["epochs"] = st["epoch"]
            if st["e"] < epochs_per_stage:
                save()
        acc = _broadcast_float(evaluate())
        kept = masker.kept()
        empty = [n for n, k in kept.items() if k == 0]
        past = float(res["dense_accuracy"]) - acc > tolerance + 1e-6
        say(f"nodes: stage {st['s']} accuracy {acc:.4f}, kept {kept}"
            f"{' (a layer has no node left)' if empty else ' (past tolerance)' if past else ''}")
        if empty:
            st["misses"], st["end"] = 1, True
        elif past:
            st["misses"] += 1
            st["end"] = st["misses"] > patience
        else:
            st["misses"] = 0
            res["accuracy"] = acc
            good = _snapshot(base, optimizer)
        st["s"] += 1
        st["e"] = 0
        save()
    if st["misses"] > 0:
        _restore(base, optimizer, good)
    masker.mask_lambda = 0.0
    for n in p0:                                          # the dropout of the nodes that stay
        dropouts[n].p = float(np.float32(p0[n] * masker.kept()[n] / before[n])) if before[n] > 0 else 0.0
    small = remove_nodes(model, masker, round_to)
    after = dict(small.named_modules())
    total = kept_w = 0
    for n, m in base.named_modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            w1 = after[n].weight.numel()
            res["layer_rate"][n] = 1.0 - w1 / m.weight.numel()
            total += m.weight.numel()
            kept_w += w1
    res["nodes_after"] = {n: int(after[n].weight.shape[0]) for n in before}
    res["rate"] = 1.0 - kept_w / total if total else 0.0
    say(f"nodes: kept {res['nodes_after']} of {res['nodes_before']}, accuracy {res['accuracy']:.4f}")
    return small, PruneResult(**res)


def prune_traditional(model: nn.Module, optimizer: torch.optim.Optimizer, train_epoch: Callable[[int], None],
                      evaluate: Callable[[], float], *, pruner: Optional[GroupPruner] = None,
                      rate_start: float = 0.5, rate_step: float = 0.1, rate_max: float = 0.95, rate_keep: float = 0.0,
                      max_stages: int = 8, epochs_per_stage: int = 1, tolerance: float = 0.01, patience: int = 0,
                      dropouts: Optional[Dict[str, nn.Dropout]] = None,
                      log: Optional[Callable[[str], None]] = print) -> PruneResult:
    """The Traditional baseline (Han et al.), as scalpel_prune_traditional: stage s prunes every
    layer (pruner.layers; default GroupPruner(model, group=1): every nn.Linear and nn.Conv2d, single
    weights by |w|) to the ladder's rate s, scales dropouts[name] by Han's rule, trains
    epochs_per_stage epochs and evaluates; it stops past tolerance (patience + 1 stages in a row),
    back at the last stage within it. No break-even: every layer is pruned, and `scalpel pack
    --mode traditional` stores every layer with a zero weight in CSR. (The C driver's closing
    fine-tune and a checkpoint are not here.) Decisions on rank 0, broadcast."""
    pruner = pruner or GroupPruner(model, group=1)
    if pruner.group != 1:
        raise PruneError(f"prune_traditional: a pruner of single weights (group 1), not {pruner.group}")
    pruner.attach(optimizer)
    base = _unwrap(model)
    say = log if (log is not None and _rank() == 0) else (lambda text: None)
    p0 = {n: float(d.p) for n, d in (dropouts or {}).items()}
    res = PruneResult(order=list(pruner.layers))
    res.dense_accuracy = res.accuracy = _broadcast_float(evaluate())
    say(f"dense accuracy {res.dense_accuracy:.4f}")
    good, last, misses = _snapshot(base, optimizer), -1.0, 0
    for s in range(max_stages):
        rate = _ladder(s, rate_start, rate_step, rate_max, rate_keep)
        if rate <= last:
            break
        last = rate
        for n in pruner.layers:
            pruner.prune(n, rate)
            if n in p0:
                dropouts[n].p = han_dropout(p0[n], pruner.kept(n), pruner.mask(n).numel())
        res.stages += 1
        for _ in range(epochs_per_stage):
            train_epoch(res.epochs)
            pruner.apply()
            res.epochs += 1
        acc = _broadcast_float(evaluate())
        past = res.dense_accuracy - acc > tolerance + 1e-6
        say(f"traditional: stage {s} rate {rate:.3f} accuracy {acc:.4f}{' (past tolerance)' if past else ''}")
        if past:
            misses += 1
            if misses > patience:
                break
        else:
            misses, res.accuracy, good = 0, acc, _snapshot(base, optimizer)
    if misses > 0:
        _restore(base, optimizer, good)
    res.layer_rate = pruner.rates()
    total = sum(pruner.mask(n).numel() for n in pruner.layers)
    res.rate = 1.0 - sum(pruner.kept(n) for n in pruner.layers) / total if total else 0.0
    return res


def prune_optimized(model: nn.Module, optimizer: torch.optim.Optimizer, train_epoch: Callable[[int], None],
                    evaluate: Callable[[], float], **kwargs) -> PruneResult:
    """The Optimized baseline of the paper: prune_traditional, then every layer with more than
    half of its weights left is stored dense (``skipped`` names them), as the C planner's
    SCALPEL_PLAN_OPTIMIZED decides (CSR only when 2 x zeros >= weights): export with
    ``mode="optimized"`` (``scalpel pack --mode optimized``). The weights are those of the
    Traditional run; no layer is retrained again. ``skipped`` covers every nn.Linear and
    nn.Conv2d of the model, those the pruner left alone included (they stay dense too)."""
    res = prune_traditional(model, optimizer, train_epoch, evaluate, **kwargs)
    weighted = [(n, m) for n, m in _unwrap(model).named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    res.skipped = [n for n, m in weighted if not (2 * int((m.weight == 0).sum()) >= m.weight.numel()
                                                  and bool((m.weight == 0).any()))]
    return res


def export(model: nn.Module, input_shape, path: str, hw: str = "host", mode: str = "scalpel",
           cli: Optional[str] = None) -> str:
    """The pruned model to a deployable file: scalpel.convert_torch(model, input_shape) into
    PATH.dense.scpn, then `scalpel pack --hw HW --mode MODE` into `path` (grouped CSR where a
    layer beats its break-even on HW; mode traditional / optimized for the baselines; --hw host
    measures this machine's break-even rates). Returns the tool's report."""
    import subprocess
    from . import convert_torch
    if mode not in ("scalpel", "traditional", "optimized", "dense"):
        raise PruneError(f"mode {mode!r}: scalpel, traditional, optimized or dense")
    raw = f"{path}.dense.scpn"
    convert_torch(_unwrap(model), tuple(input_shape), raw)
    r = subprocess.run([_cli(cli), "pack", "--hw", hw, "--mode", mode, raw, "-o", str(path)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise PruneError(f"scalpel pack --hw {hw} --mode {mode} failed: {(r.stderr or r.stdout).strip()}")
    return r.stdout


HW_LOW, HW_MODERATE, HW_HIGH = "low parallelism", "moderate parallelism", "high parallelism"


@dataclass
class PipelineResult:
    """What prune_for did: the profile and its class, the accuracies of the dense model and of
    the result, the node phase's and the grouped phase's PruneResult (None when the class has
    none, or nothing to node-prune), each layer's fraction of weights gone against the dense
    model (removed nodes and zeros: 1 - nonzero weights / dense weights) and in all, and the
    exported file with the tool's report."""
    hw: str = ""
    hw_class: str = ""
    dense_accuracy: float = 0.0
    accuracy: float = 0.0
    nodes: Optional[PruneResult] = None
    groups: Optional[PruneResult] = None
    layer_rate: Dict[str, float] = field(default_factory=dict)
    rate: float = 0.0
    exported: Optional[str] = None
    report: str = ""


def _like(optimizer: torch.optim.Optimizer, params) -> torch.optim.Optimizer:
    """A fresh optimizer of the same kind and hyper-parameters (the first group's) on params."""
    hyper = {k: v for k, v in optimizer.param_groups[0].items() if k != "params"}
    return type(optimizer)(params, **hyper)


def _rewrap(model: nn.Module, base: nn.Module) -> nn.Module:
    """base wrapped as model is: a new DistributedDataParallel with model's settings when model
    is one (its parameters are broadcast from rank 0 and only those that require a gradient
    are synchronized, so freeze before), else base itself."""
    if not isinstance(model, nn.parallel.DistributedDataParallel):
        return base
    kw = dict(device_ids=model.device_ids, output_device=model.output_device, dim=model.dim,
              broadcast_buffers=model.broadcast_buffers, process_group=model.process_group,
              find_unused_parameters=model.find_unused_parameters)
    return nn.parallel.DistributedDataParallel(base, **kw)


def _shared_profile(profile: Union[str, dict], cli: Optional[str], base: nn.Module, shape) -> dict:
    """The profile, looked up on rank 0 and broadcast: "host" is measured on the model's shapes
    (convert_torch into a temporary file, then hw_profile(model=)), and two ranks' measurements
    would differ (every decision must be the same on every rank)."""
    import tempfile
    from . import convert_torch
    box = [None]
    if _rank() == 0:
        try:
            if profile == "host":
                with tempfile.TemporaryDirectory(prefix="scalpel_profile_") as d:
                    path = os.path.join(d, "dense.scpn")
                    convert_torch(base, tuple(shape), path)
                    box[0] = hw_profile("host", cli, model=path)
            else:
                box[0] = hw_profile(profile, cli) if isinstance(profile, str) else dict(profile)
        except PruneError as e:
            box[0] = e
    if _distributed():
        dist.broadcast_object_list(box, 0)
    if isinstance(box[0], Exception):
        raise box[0]
    return box[0]


def prune_for(model: nn.Module, optimizer: torch.optim.Optimizer, profile: Union[str, dict],
              train_epoch: Callable[[nn.Module, torch.optim.Optimizer, int], None],
              evaluate: Callable[[nn.Module], float], example: torch.Tensor, *,
              tolerance: float = 0.01, patience: int = 0, max_stages: int = 8, epochs_per_stage: int = 1,
              fc_epochs_per_stage: int = 0, rate_start: float = 0.5, rate_step: float = 0.1, rate_max: float = 0.95,
              rate_keep: float = 0.0, lambda_start: float = 0.001, lambda_factor: float = 2.0, round_to: int = 1,
              mask_lr_scale: float = 1.0, mask_order: str = "auto",
              checkpoint: Optional[str] = None, export_path: Optional[str] = None, input_shape=None,
              cli: Optional[str] = None, log: Optional[Callable[[str], None]] = print):
    """The Scalpel pipeline for a trained model on a hardware profile, as scalpel_prune_for:
    returns (pruned model, PipelineResult).

    profile: a name for hw_profile ("cortex-m4", "x86-avx2", "cuda", ...) or its dict; "host"
    measures this machine's break-even rates on the model's own shapes (`scalpel plan --hw host
    --json`, cached by the tool) before pruning.
    train_epoch(model, optimizer, epoch) and evaluate(model) -> accuracy in [0, 1] take the model
    to train, because node pruning replaces it with a smaller one (its optimizer is a fresh one
    of the same kind and hyper-parameters). epoch counts every epoch of the pipeline (seed the
    data order with it). example: an input batch (for torch.fx).

    - low parallelism (microcontrollers): prune_simd on every nn.Linear and nn.Conv2d with the
      profile's G; a layer that does not end above its break-even stays dense.
    - moderate (CPUs): prune_nodes on the convolutions (NodeMasker's default), the channels
      removed; then, convolutions frozen, prune_simd on the nn.Linear layers with what the node
      phase left of the tolerance (the whole pipeline stays within `tolerance` of dense) and
      fc_epochs_per_stage epochs per stage when set. No convolution to node-prune: only the
      second phase.
    - high (GPUs): prune_nodes on every layer whose channels can go (NodeMasker "all"), removed
      (round_to 8, 16 or 32 rounds each layer's kept count up, as scalpel_net_remove_nodes
      does): a smaller dense model, no sparsity.
    mask_lr_scale: the node masks' NodeMasker(lr_scale=) (1: the C trainer's).
    mask_order: NodeMasker(order=); "auto" (default) is "output" when the model has a batch
    norm and "equal" (the C trainer's) otherwise. The batch norms' statistics are frozen while
    the masks train (NodeMasker's freeze_bn).

    Distributed: model may be a DistributedDataParallel. The profile is read on rank 0 and
    broadcast; every decision is the drivers' (rank 0's accuracy, broadcast; masks computed from
    synchronized weights). After node removal the smaller model is wrapped again with the same
    DDP settings, and train_epoch / evaluate receive the wrapped model. The returned model is
    the plain module.
    checkpoint: a path prefix; each phase keeps its driver's checkpoint (CHECKPOINT.nodes,
    CHECKPOINT.groups). Restarted with the same arguments, the pipeline resumes where it stopped:
    a finished node phase is replayed from its checkpoint (no training) to rebuild the smaller
    model, then the grouped phase resumes from its own.
    export_path: then export(model, input_shape (default example.shape[1:]), export_path,
    the profile's name) packs it for the profile (rank 0 writes it; the report is rank 0's)."""
    shape = tuple(input_shape) if input_shape is not None else tuple(example.shape[1:])
    prof = _shared_profile(profile, cli, _unwrap(model), shape)
    cls = prof.get("class")
    if cls not in (HW_LOW, HW_MODERATE, HW_HIGH):
        raise PruneError(f"profile {prof.get('name')!r}: class {cls!r} is not one of {HW_LOW}, {HW_MODERATE}, {HW_HIGH}")
    if round_to not in (1, 8, 16, 32):
        raise PruneError(f"round_to {round_to}: 1, 8, 16 or 32")
    say = log if (log is not None and _rank() == 0) else (lambda text: None)
    base = _unwrap(model)
    if mask_order not in ("auto", "equal", "output"):
        raise PruneError(f"mask_order {mask_order!r}: 'auto', 'equal' or 'output'")
    order = mask_order if mask_order != "auto" else \
        ("output" if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in base.modules()) else "equal")
    dense_w = {n: m.weight.numel() for n, m in base.named_modules() if isinstance(m, (nn.Linear, nn.Conv2d))}
    out = PipelineResult(hw=prof.get("name", ""), hw_class=cls)
    ck_nodes = f"{checkpoint}.nodes" if checkpoint else None
    ck_groups = f"{checkpoint}.groups" if checkpoint else None

    def driver_fns(m: nn.Module, opt: torch.optim.Optimizer, offset: int):
        return (lambda e: train_epoch(m, opt, offset + e)), (lambda: evaluate(m))

    ladder = dict(rate_start=rate_start, rate_step=rate_step, rate_max=rate_max, rate_keep=rate_keep,
                  max_stages=max_stages, patience=patience, log=log)
    nodes_kw = dict(tolerance=tolerance, patience=patience, max_stages=max_stages, epochs_per_stage=epochs_per_stage,
                    lambda_start=lambda_start, lambda_factor=lambda_factor, round_to=round_to, checkpoint=ck_nodes,
                    log=log)
    if cls == HW_LOW:
        pruner = GroupPruner(model, group=prof["group"])
        te, ev = driver_fns(model, optimizer, 0)
        out.groups = prune_simd(model, optimizer, pruner, te, ev, breakeven=breakevens(pruner, prof),
                                tolerance=tolerance, epochs_per_stage=epochs_per_stage, checkpoint=ck_groups, **ladder)
        result = base
    elif cls == HW_HIGH:
        masker = NodeMasker(model, example, "all", lr_scale=mask_lr_scale, order=order)
        te, ev = driver_fns(model, optimizer, 0)
        result, out.nodes = prune_nodes(model, optimizer, masker, te, ev, **nodes_kw)
        masker.detach()
    else:
        try:
            masker: Optional[NodeMasker] = NodeMasker(model, example, lr_scale=mask_lr_scale, order=order)
        except PruneError as e:
            say(f"no convolution to node-prune ({e}): grouped fc only")
            masker = None
        left, offset = tolerance, 0
        if masker is not None:
            te, ev = driver_fns(model, optimizer, 0)
            result, out.nodes = prune_nodes(model, optimizer, masker, te, ev, **nodes_kw)
            masker.detach()
            left = min(max(tolerance - (out.nodes.dense_accuracy - out.nodes.accuracy), 0.0), 1.0)
            offset = out.nodes.epochs
        else:
            result = base
        frozen = [p for m in result.modules() if isinstance(m, nn.Conv2d) for p in m.parameters(recurse=False)
                  if p.requires_grad]
        for p in frozen:
            p.requires_grad_(False)
        try:
            fcs = [n for n, m in result.named_modules() if isinstance(m, nn.Linear)]
            if fcs:
                # a new wrapper after freezing (DDP synchronizes what required a gradient when built)
                wrapped = _rewrap(model, result) if (frozen or masker is not None) else model
                opt2 = _like(optimizer, [p for p in result.parameters() if p.requires_grad]) \
                    if masker is not None else optimizer
                pruner = GroupPruner(wrapped, group=prof["group"], layers=fcs)
                te, ev = driver_fns(wrapped, opt2, offset)
                eps = fc_epochs_per_stage if (masker is not None and fc_epochs_per_stage > 0) else epochs_per_stage
                out.groups = prune_simd(wrapped, opt2, pruner, te, ev, breakeven=breakevens(pruner, prof),
                                        tolerance=left, epochs_per_stage=eps, checkpoint=ck_groups, **ladder)
        finally:
            for p in frozen:
                p.requires_grad_(True)
    first = out.nodes or out.groups
    last = out.groups or out.nodes
    out.dense_accuracy = first.dense_accuracy if first else _broadcast_float(evaluate(_rewrap(model, result)))
    out.accuracy = last.accuracy if last else out.dense_accuracy
    mods = dict(result.named_modules())
    kept = 0
    for n, total in dense_w.items():
        nz = int((mods[n].weight != 0).sum())
        out.layer_rate[n] = 1.0 - nz / total
        kept += nz
    out.rate = 1.0 - kept / sum(dense_w.values()) if dense_w else 0.0
    if export_path:
        err = None
        if _rank() == 0:
            try:
                hw_name = "host" if profile == "host" else prof.get("name", "host")
                out.report = export(result, shape, export_path, hw_name, "scalpel", cli)
            except PruneError as e:
                err = e
        box = [str(err) if err else None]
        if _distributed():
            dist.broadcast_object_list(box, 0)
        if box[0]:
            raise err if err else PruneError(box[0])
        out.exported = str(export_path)
    return result, out
