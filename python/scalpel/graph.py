"""The graph both converters build (ONNX and torch.fx), and its lowering to a Model.

A converter reads its source graph node by node, in topological order, and calls one
``GraphBuilder`` method per operation it recognises (``conv``, ``fc``, ``batchnorm``, the
pools, ``pad``, the activations, ``add``, ``concat``, ``flatten``, ``identity``). Each call
names the node it came from (``where``: op type and node name), so that every error can say
which node of the user's graph is at fault. The builder checks shapes as it goes, and
:meth:`GraphBuilder.build` then

1. drops every operation the output does not depend on, and aliases identities;
2. fuses zero padding into the convolution or pooling that reads it (a pad read by anything
   else is refused);
3. folds a batch norm into the convolution or fully connected layer before it, when that
   layer's output is read by the batch norm alone (otherwise the batch norm stays a layer);
4. emits the layers into a :class:`scalpel.Model`, with ``set_next_input`` wherever a layer
   reads an older tensor than the one just before it (residual branches, concat inputs).

Values carry a logical rank besides their (C, H, W) shape: 4 for [N, C, H, W] and 2 for
[N, F] (a flattened map keeps its (C, H, W) in the model: the C library's fc reads any
tensor flattened in CHW order, which is torch.flatten's order). Operations whose meaning
depends on the layout (softmax, batch norm, concat, the windowed layers) are refused on a
flattened map whose H x W is not 1 x 1, rather than computed on the wrong axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .model import LRN, MAX_LAYERS, Layer, Model, _infer_geometry

__all__ = ["ConvertError", "GraphBuilder"]


class ConvertError(ValueError):
    """A model that cannot be converted exactly. The message names the node (its op type
    and name) and the attribute, input or pattern that is not supported."""


_UNARY = ("relu", "sigmoid", "tanh", "hardswish")
_F32_MAX = float(np.finfo(np.float32).max)
_REAL_BOUND = 2.9999999e38       # below the model file's limit on real parameters (3e38)


@dataclass
class _Value:
    shape: Tuple[int, int, int]
    rank: int                       # 4: [N, C, H, W]; 2: [N, F] (F = C * H * W)
    producer: Optional[int] = None  # index into ops; None: the graph input
    lshape: Optional[Tuple[int, ...]] = None   # a rank-2 value seen as [N, F, 1, ...] (squeeze steps)


@dataclass
class _Op:
    kind: str
    inputs: List[str]
    output: str
    where: str
    attrs: Dict = field(default_factory=dict)


def _quad(pads, where) -> Tuple[int, int, int, int]:
    t, l, b, r = (int(p) for p in pads)
    if min(t, l, b, r) < 0:
        raise ConvertError(f"{where}: negative padding {tuple(pads)} (cropping) is not supported")
    return t, l, b, r


class GraphBuilder:
    """Collects the operations of one graph; :meth:`build` returns the Model.

    input_shape: (C, H, W) of one sample, or (F,) for a vector input (rank 2, stored as
    (F, 1, 1)). Values are named by strings the converter chooses; the input is
    ``input_name``."""

    def __init__(self, input_name: str, input_shape: Sequence[int], source: str):
        shape = tuple(int(v) for v in input_shape)
        if len(shape) == 1:
            shape3, rank = (shape[0], 1, 1), 2
        elif len(shape) == 3:
            shape3, rank = shape, 4
        else:
            raise ConvertError(f"{source}: input shape {tuple(input_shape)}: expected (C, H, W) or (F,) "
                               "per sample (the batch dimension is not part of it)")
        if min(shape3) < 1:
            raise ConvertError(f"{source}: input shape {tuple(input_shape)}: every dimension must be >= 1")
        self.source = source
        self.input_name = input_name
        self.values: Dict[str, _Value] = {input_name: _Value(shape3, rank)}
        self.ops: List[_Op] = []

    # -- queries --

    def has(self, name: str) -> bool:
        return name in self.values

    def shape(self, name: str) -> Tuple[int, int, int]:
        return self.values[name].shape

    def rank(self, name: str) -> int:
        return self.values[name].rank

    def logical_shape(self, name: str) -> Tuple[int, ...]:
        """The per-sample shape as the source framework sees it: (C, H, W) or (F,)."""
        v = self.values[name]
        if v.lshape is not None:
            return v.lshape
        return v.shape if v.rank == 4 else (int(np.prod(v.shape)),)

    def producer_kind(self, name: str) -> Optional[str]:
        v = self.values[name]
        return None if v.producer is None else self.ops[v.producer].kind

    # -- recording --

    def _value(self, name: str, where: str) -> _Value:
        if name not in self.values:
            raise ConvertError(f"{where}: input {name!r} is not a tensor the converter knows "
                               "(a constant where a tensor is expected, or an unsupported producer)")
        return self.values[name]

    def _add(self, kind: str, inputs: Sequence[str], output: str, where: str, shape, rank: int,
             **attrs) -> str:
        if output in self.values:
            raise ConvertError(f"{where}: output {output!r} is defined twice")
        self.ops.append(_Op(kind, list(inputs), output, where, attrs))
        self.values[output] = _Value(tuple(int(s) for s in shape), rank, len(self.ops) - 1)
        return output

    def _map_input(self, name: str, where: str, what: str) -> _Value:
        v = self._value(name, where)
        if v.rank != 4:
            raise ConvertError(f"{where}: {what} needs a 4-D input [N, C, H, W]; {name!r} is "
                               f"{(v.shape[0] * v.shape[1] * v.shape[2],)} per sample")
        return v

    def _channel_input(self, name: str, where: str, what: str) -> _Value:
        """A tensor whose channels are its axis 1: 4-D, or 2-D with H x W = 1 x 1."""
        v = self._value(name, where)
        if v.rank == 2 and v.shape[1] * v.shape[2] != 1:
            raise ConvertError(f"{where}: {what} over the features of a flattened map "
                               f"{v.shape} is not supported (only over channels)")
        return v

    def conv(self, x: str, out: str, where: str, w, b, stride=(1, 1), pads=(0, 0, 0, 0),
             dilation=(1, 1), groups: int = 1) -> str:
        """w [O, C / groups, kh, kw]; b [O] or None; pads (top, left, bottom, right)."""
        v = self._map_input(x, where, "a convolution")
        w = np.asarray(w, dtype=np.float64)
        if w.ndim != 4:
            raise ConvertError(f"{where}: weight of shape {w.shape}: expected [O, C/groups, kh, kw] (2-D convolution)")
        O, Cg, kh, kw = w.shape
        groups = int(groups)
        if groups < 1 or v.shape[0] % groups or O % groups or Cg * groups != v.shape[0]:
            raise ConvertError(f"{where}: weight {w.shape} with groups {groups} does not match the "
                               f"{v.shape[0]} input channels")
        b = np.zeros(O) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
        if b.shape != (O,):
            raise ConvertError(f"{where}: bias of {b.size} values for {O} outputs")
        t, l, bo, r = _quad(pads, where)
        # (the window is checked again at emission, where padding read from a pad node has joined)
        shape = self._out_shape(v.shape, where, O, kh, kw, stride, (t, l, bo, r), dilation, False)
        return self._add("conv", [x], out, where, shape, 4, w=w, b=b, stride=tuple(int(s) for s in stride),
                         pads=(t, l, bo, r), dilation=tuple(int(d) for d in dilation), groups=groups)

    @staticmethod
    def _out_shape(in_shape, where, channels, kh, kw, stride, pads, dilation, ceil) -> Tuple[int, int, int]:
        _, H, W = in_shape
        sh, sw = int(stride[0]), int(stride[1])
        dh, dw = int(dilation[0]), int(dilation[1])
        if min(kh, kw, sh, sw, dh, dw) < 1:
            raise ConvertError(f"{where}: kernel {kh}x{kw}, stride {sh}x{sw}, dilation {dh}x{dw}: each must be >= 1")
        t, l, b, r = pads
        span_h = H + t + b - ((kh - 1) * dh + 1)
        span_w = W + l + r - ((kw - 1) * dw + 1)
        if span_h < 0 or span_w < 0:
            raise ConvertError(f"{where}: the window {kh}x{kw} does not fit the padded input {H}x{W}")
        if ceil:
            oh, ow = -(-span_h // sh) + 1, -(-span_w // sw) + 1
            if (oh - 1) * sh >= H + t:
                oh -= 1
            if (ow - 1) * sw >= W + l:
                ow -= 1
        else:
            oh, ow = span_h // sh + 1, span_w // sw + 1
        return channels, oh, ow

    def fc(self, x: str, out: str, where: str, w, b) -> str:
        """y = W x + b on x flattened in CHW order; w [O, F]."""
        v = self._value(x, where)
        w = np.asarray(w, dtype=np.float64)
        F = v.shape[0] * v.shape[1] * v.shape[2]
        if v.rank == 4 and v.shape[1] * v.shape[2] != 1:
            raise ConvertError(f"{where}: a matrix product over the last axis of a 4-D map {v.shape} is not "
                               "supported; flatten the map first")
        if w.ndim != 2 or w.shape[1] != F:
            raise ConvertError(f"{where}: weight of shape {w.shape} for {F} input features "
                               f"(input {self.logical_shape(x)} per sample)")
        O = w.shape[0]
        b = np.zeros(O) if b is None else np.asarray(b, dtype=np.float64).reshape(-1)
        if b.shape != (O,):
            raise ConvertError(f"{where}: bias of {b.size} values for {O} outputs")
        return self._add("fc", [x], out, where, (O, 1, 1), 2, w=w, b=b)

    def batchnorm(self, x: str, out: str, where: str, scale, shift) -> str:
        """y[c] = x[c] * scale[c] + shift[c] (inference batch norm, already reduced)."""
        v = self._channel_input(x, where, "a batch norm")
        scale = np.asarray(scale, dtype=np.float64).reshape(-1)
        shift = np.asarray(shift, dtype=np.float64).reshape(-1)
        if scale.shape != (v.shape[0],) or shift.shape != (v.shape[0],):
            raise ConvertError(f"{where}: {scale.size} scales for {v.shape[0]} channels")
        if not (np.all(np.isfinite(scale)) and np.all(np.isfinite(shift))):
            raise ConvertError(f"{where}: the batch norm's scale or shift is not finite (variance + eps <= 0?)")
        return self._add("bn", [x], out, where, v.shape, v.rank, scale=scale, shift=shift)

    def pool(self, x: str, out: str, where: str, op: str, kernel, stride, pads=(0, 0, 0, 0),
             ceil: bool = False, count_pads: bool = False) -> str:
        """op "max" or "avg"; pads (top, left, bottom, right); count_pads: average over the
        window's cells in the padded input (PyTorch's count_include_pad)."""
        v = self._map_input(x, where, f"{op} pooling")
        kh, kw = int(kernel[0]), int(kernel[1])
        pads = _quad(pads, where)
        shape = self._out_shape(v.shape, where, v.shape[0], kh, kw, stride, pads, (1, 1), ceil)
        return self._add("pool", [x], out, where, shape, 4, op=op, kernel=(kh, kw),
                         stride=(int(stride[0]), int(stride[1])), pads=pads, ceil=bool(ceil),
                         count_pads=bool(count_pads))

    def global_avgpool(self, x: str, out: str, where: str, keep_dims: bool = True) -> str:
        v = self._map_input(x, where, "global average pooling")
        return self._add("gap", [x], out, where, (v.shape[0], 1, 1), 4 if keep_dims else 2)

    def pad(self, x: str, out: str, where: str, pads) -> str:
        """Zero padding (top, left, bottom, right) of H and W; it must be read by convolutions
        or pools only, which take it as their own padding."""
        v = self._map_input(x, where, "padding")
        t, l, b, r = _quad(pads, where)
        return self._add("pad", [x], out, where, (v.shape[0], v.shape[1] + t + b, v.shape[2] + l + r), 4,
                         pads=(t, l, b, r))

    def unary(self, x: str, out: str, where: str, kind: str) -> str:
        """relu, sigmoid, tanh, hardswish: elementwise, any layout."""
        assert kind in _UNARY
        v = self._value(x, where)
        return self._add(kind, [x], out, where, v.shape, v.rank)

    def clip(self, x: str, out: str, where: str, lo: float, hi: float) -> str:
        v = self._value(x, where)
        lo, hi = float(lo), float(hi)
        if math.isnan(lo) or math.isnan(hi) or lo > hi:
            raise ConvertError(f"{where}: clip bounds [{lo}, {hi}]: expected lo <= hi")
        if lo == 0.0 and hi >= _F32_MAX:
            return self._add("relu", [x], out, where, v.shape, v.rank)
        # an unbounded side becomes +-3e38 (the largest real a model file holds): the same for
        # every input of smaller magnitude
        lo, hi = max(lo, -_REAL_BOUND), min(hi, _REAL_BOUND)
        if lo > _REAL_BOUND or hi < -_REAL_BOUND:
            raise ConvertError(f"{where}: clip bounds [{lo}, {hi}] beyond +-3e38")
        return self._add("clip", [x], out, where, v.shape, v.rank, lo=lo, hi=hi)

    def leaky_relu(self, x: str, out: str, where: str, slope: float) -> str:
        v = self._value(x, where)
        return self._add("leaky", [x], out, where, v.shape, v.rank, slope=float(slope))

    def softmax(self, x: str, out: str, where: str, axis: int) -> str:
        """Softmax over the logical axis `axis` (already non-negative): it must be the
        channel axis (1)."""
        v = self._channel_input(x, where, "softmax") if axis == 1 else None
        if v is None:
            raise ConvertError(f"{where}: softmax over axis {axis} of a tensor of shape "
                               f"{('N',) + self.logical_shape(x)}: only the channel axis (1) is supported")
        return self._add("softmax", [x], out, where, v.shape, v.rank)

    def lrn(self, x: str, out: str, where: str, size: int, alpha: float, beta: float, k: float,
            within_channel: bool = False) -> str:
        v = self._map_input(x, where, "local response normalization")
        if int(size) < 1 or int(size) % 2 == 0:
            raise ConvertError(f"{where}: local response normalization of size {size}: only odd sizes (a window "
                               "centred on the element) are supported")
        L = Layer(LRN, kernel_h=int(size), kernel_w=int(size), alpha=alpha, beta=beta, k=k,
                  mode=1 if within_channel else 0)
        try:
            _infer_geometry(L, v.shape, None)
        except ValueError as e:
            raise ConvertError(f"{where}: {e}") from None
        return self._add("lrn", [x], out, where, v.shape, 4, size=int(size), alpha=float(alpha),
                         beta=float(beta), k=float(k), within=bool(within_channel))

    def add(self, a: str, b: str, out: str, where: str) -> str:
        va, vb = self._value(a, where), self._value(b, where)
        if va.shape != vb.shape or va.rank != vb.rank:
            raise ConvertError(f"{where}: add of {self.logical_shape(a)} and {self.logical_shape(b)} (held as "
                               f"{va.shape} and {vb.shape}, ranks {va.rank} and {vb.rank}): only tensors of one "
                               "shape and layout are added (no broadcasting)")
        return self._add("add", [a, b], out, where, va.shape, va.rank)

    def concat(self, inputs: Sequence[str], out: str, where: str, axis: int) -> str:
        """Concatenation over the logical axis `axis` (already non-negative): channels only."""
        if axis != 1:
            raise ConvertError(f"{where}: concatenation over axis {axis}: only the channel axis (1) is supported")
        vs = [self._channel_input(x, where, "concatenation") for x in inputs]
        if len(vs) < 1:
            raise ConvertError(f"{where}: concatenation of nothing")
        hw = {(v.shape[1], v.shape[2], v.rank) for v in vs}
        if len(hw) != 1:
            raise ConvertError(f"{where}: concatenated tensors differ in H x W: "
                               f"{[self.logical_shape(x) for x in inputs]}")
        if len(inputs) == 1:
            return self.identity(inputs[0], out, where)
        cur = inputs[0]
        for j, nxt in enumerate(inputs[1:]):
            name = out if j == len(inputs) - 2 else f"{out}#concat{j}"
            c = self.values[cur].shape[0] + self.values[nxt].shape[0]
            cur = self._add("concat", [cur, nxt], name, where, (c,) + vs[0].shape[1:], vs[0].rank)
        return cur

    def flatten(self, x: str, out: str, where: str) -> str:
        """[N, C, H, W] -> [N, C*H*W] (CHW order)."""
        v = self._value(x, where)
        return self._add("identity", [x], out, where, v.shape, 2)

    def vector_view(self, x: str, out: str, where: str, lshape: Sequence[int]) -> str:
        """A tensor of features [N, F] (or a map of 1 x 1) seen as [N, F, 1, ...] with any
        number of trailing ones (x.squeeze(-1) one step at a time): features stay channels."""
        v = self._value(x, where)
        lshape = tuple(int(d) for d in lshape)
        F = v.shape[0] * v.shape[1] * v.shape[2]
        if not (lshape and lshape[0] == F and all(d == 1 for d in lshape[1:]) and v.shape[1] * v.shape[2] == 1):
            raise ConvertError(f"{where}: a view of {self.logical_shape(x)} as {lshape}: not supported")
        if len(lshape) == 3:
            return self._add("identity", [x], out, where, v.shape, 4)
        name = self._add("identity", [x], out, where, v.shape, 2)
        if len(lshape) > 1:
            self.values[name].lshape = lshape
        return name

    def unflatten(self, x: str, out: str, where: str) -> str:
        """A flattened map as the 4-D map it is stored as ([N, F] to [N, F, 1, 1], or back to
        the [N, C, H, W] it was flattened from)."""
        v = self._value(x, where)
        return self._add("identity", [x], out, where, v.shape, 4)

    def identity(self, x: str, out: str, where: str) -> str:
        v = self._value(x, where)
        return self._add("identity", [x], out, where, v.shape, v.rank)

    # -- lowering --

    def build(self, output: str) -> Model:
        """The Model computing `output` from the input (fusions and folds as the module
        docstring says). ConvertError names the node when something cannot be emitted."""
        if output not in self.values:
            raise ConvertError(f"{self.source}: the graph output {output!r} is not a tensor the converter produced")
        ops = self.ops
        # 1. aliases and liveness
        alias: Dict[str, str] = {}

        def res(name: str) -> str:
            while name in alias:
                name = alias[name]
            return name

        for op in ops:
            if op.kind == "identity":
                alias[op.output] = op.inputs[0]
        out = res(output)
        if out == self.input_name:
            raise ConvertError(f"{self.source}: the graph computes nothing (its output is its input)")
        live = [False] * len(ops)
        need = {out}
        for i in range(len(ops) - 1, -1, -1):
            op = ops[i]
            if op.kind != "identity" and op.output in need:
                live[i] = True
                need.update(res(x) for x in op.inputs)
        kept = [op for i, op in enumerate(ops) if live[i]]
        for op in kept:
            op.inputs = [res(x) for x in op.inputs]
        readers: Dict[str, List[_Op]] = {}
        for op in kept:
            for x in op.inputs:
                readers.setdefault(x, []).append(op)
        # 2. padding into its readers (a pad read only by another pad joins it first)
        producer = {op.output: op for op in kept}
        merged = set()
        for op in kept:
            q = producer.get(op.inputs[0]) if op.kind == "pad" else None
            if q is not None and q.kind == "pad" and q.output != out and len(readers[q.output]) == 1:
                op.attrs["pads"] = tuple(a + b for a, b in zip(op.attrs["pads"], q.attrs["pads"]))
                op.inputs = list(q.inputs)
                op.where = f"{q.where} and {op.where}"
                merged.add(id(q))
        kept = [op for op in kept if id(op) not in merged]
        for op in kept:
            if op.kind != "pad":
                continue
            users = readers.get(op.output, [])
            if op.output == out or not users:
                raise ConvertError(f"{op.where}: zero padding as the graph's output is not supported")
            for u in users:
                if u.kind == "conv":
                    continue
                if u.kind == "pool" and u.attrs["op"] == "avg":
                    if any(u.attrs["pads"]) and not u.attrs["count_pads"]:
                        raise ConvertError(f"{op.where}: zero padding read by {u.where}, an average pool with its "
                                           "own padding not counted: the two paddings cannot be one")
                    continue
                if u.kind == "pool" and u.attrs["op"] == "max":
                    if self._nonnegative(op.inputs[0], kept):
                        continue
                    raise ConvertError(f"{op.where}: zero padding read by {u.where}, a max pool whose input "
                                       "may be negative (the C max pool pads with -infinity)")
                raise ConvertError(f"{op.where}: zero padding is read by {u.where}; only convolutions and "
                                   "pools can take padding")
            for u in users:
                t, l, b, r = u.attrs["pads"]
                pt, pl, pb, pr = op.attrs["pads"]
                u.attrs["pads"] = (t + pt, l + pl, b + pb, r + pr)
                u.attrs["joined"] = op.where
                if u.kind == "pool" and u.attrs["op"] == "avg":
                    u.attrs["count_pads"] = True
                u.inputs = [op.inputs[0] if x == op.output else x for x in u.inputs]
        kept = [op for op in kept if op.kind != "pad"]
        readers = {}
        for op in kept:
            for x in op.inputs:
                readers.setdefault(x, []).append(op)
        # 3. batch norm into the layer before it
        folded = set()
        producer = {op.output: op for op in kept}
        for op in kept:
            if op.kind != "bn":
                continue
            p = producer.get(op.inputs[0])
            if p is None or p.kind not in ("conv", "fc") or p.output == out or len(readers[p.output]) != 1:
                continue
            s, t = op.attrs["scale"], op.attrs["shift"]
            w = p.attrs["w"]
            p.attrs["w"] = w * s.reshape((-1,) + (1,) * (w.ndim - 1))
            p.attrs["b"] = p.attrs["b"] * s + t
            folded.add(id(op))
            alias[op.output] = p.output
        kept = [op for op in kept if id(op) not in folded]
        for op in kept:
            op.inputs = [res(x) for x in op.inputs]
        out = res(out)
        # 4. emission
        C, H, W = self.values[self.input_name].shape
        model = Model((C, H, W))
        layer_of: Dict[str, int] = {self.input_name: -1}
        for op in kept:
            first = layer_of[op.inputs[0]]
            if first != len(model.layers) - 1:
                model.set_next_input(first)
            if len(model.layers) == MAX_LAYERS:
                raise ConvertError(f"{self.source}: more than {MAX_LAYERS} layers after folding (a model file holds "
                                   f"at most {MAX_LAYERS}); {op.where} would be layer {MAX_LAYERS + 1}")
            try:
                self._emit(model, op, layer_of)
            except ValueError as e:
                if isinstance(e, ConvertError):
                    raise
                joined = f" (its padding includes that of {op.attrs['joined']})" if "joined" in op.attrs else ""
                raise ConvertError(f"{op.where}: {e}{joined}") from None
            layer_of[op.output] = len(model.layers) - 1
            if model.layers[-1].out_shape != self.values[op.output].shape:
                raise ConvertError(f"{op.where}: the padding read from a pad node changes this layer's output "
                                   f"from {self.values[op.output].shape} to {model.layers[-1].out_shape} "
                                   "(ceil mode over explicit padding); not supported")
        if layer_of.get(out) != len(model.layers) - 1:
            raise ConvertError(f"{self.source}: the output {output!r} is not the last layer computed")
        return model

    def _nonnegative(self, name: str, kept: List[_Op]) -> bool:
        """No element of tensor `name` can be negative: it comes from a ReLU, a clip at 0 or
        above, a sigmoid, or pools, adds, concats and pads of such tensors."""
        for op in kept:
            if op.output == name:
                if op.kind in ("relu", "sigmoid"):
                    return True
                if op.kind == "clip":
                    return op.attrs["lo"] >= 0.0
                if op.kind in ("pool", "gap", "add", "concat", "pad"):
                    return all(self._nonnegative(x, kept) for x in op.inputs)
                return False
        return False

    @staticmethod
    def _emit(model: Model, op: _Op, layer_of: Dict[str, int]) -> None:
        a = op.attrs
        k = op.kind
        f32 = np.float32
        if k == "conv":
            w = a["w"]
            model.add_conv2d(w.shape[0], kernel=(w.shape[2], w.shape[3]), stride=a["stride"], pad=a["pads"],
                             dilation=a["dilation"], groups=a["groups"], w=w.astype(f32), b=a["b"].astype(f32))
        elif k == "fc":
            model.add_fc(a["w"].shape[0], w=a["w"].astype(f32), b=a["b"].astype(f32))
        elif k == "bn":
            model.add_batchnorm_affine(a["scale"].astype(f32), a["shift"].astype(f32))
        elif k == "pool":
            if a["op"] == "max":
                model.add_maxpool(a["kernel"], a["stride"], a["pads"], ceil_mode=a["ceil"])
            else:
                model.add_avgpool(a["kernel"], a["stride"], a["pads"], ceil_mode=a["ceil"],
                                  count_include_pad=a["count_pads"])
        elif k == "gap":
            model.add_global_avgpool()
        elif k == "relu":
            model.add_relu()
        elif k == "clip":
            model.add_clip(a["lo"], a["hi"])
        elif k == "leaky":
            model.add_leaky_relu(a["slope"])
        elif k == "sigmoid":
            model.add_sigmoid()
        elif k == "tanh":
            model.add_tanh()
        elif k == "hardswish":
            model.add_hardswish()
        elif k == "softmax":
            model.add_softmax()
        elif k == "lrn":
            model.add_lrn(a["size"], a["alpha"], a["beta"], a["k"], within_channel=a["within"])
        elif k == "add":
            model.add_add(layer_of[op.inputs[1]])
        elif k == "concat":
            model.add_concat(layer_of[op.inputs[1]])
        else:  # pragma: no cover - every kind recorded above is emitted
            raise ConvertError(f"{op.where}: internal: no emission for {k}")
