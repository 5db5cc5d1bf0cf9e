"""PyTorch to Scalpel without ONNX: ``convert_torch(module, input_shape, path=None)``.

The module is traced symbolically with ``torch.fx`` (the standard modules stay leaves, as
does :class:`scalpel.torch_ref.LocalResponseNormWithinChannel`), every node's output shape
is found by running the traced graph once on a sample batch of two, and each node is mapped
onto :class:`scalpel.graph.GraphBuilder`, which folds batch norms, fuses padding and emits
the layers. Modules and functions taken:

* ``nn.Conv2d`` (groups, depthwise, dilation, rectangular kernels, ``padding`` as numbers,
  ``"same"`` or ``"valid"``, zero padding mode only), ``nn.Linear``;
* ``nn.BatchNorm1d`` / ``nn.BatchNorm2d`` with running statistics (folded into the layer
  before it when that layer's output feeds nothing else);
* ``nn.MaxPool2d``, ``nn.AvgPool2d`` (ceil_mode, count_include_pad), ``nn.AdaptiveAvgPool2d``
  / ``nn.AdaptiveMaxPool2d`` where the output divides the input, ``x.mean((2, 3))`` and the
  functional forms;
* ``nn.ZeroPad2d``, ``nn.ConstantPad2d`` with value 0, ``F.pad`` (constant 0): joined into the
  convolution or pooling that reads them;
* ``nn.LocalResponseNorm`` (odd sizes), ``LocalResponseNormWithinChannel``;
* ``nn.ReLU``, ``nn.ReLU6``, ``nn.Hardtanh``, ``torch.clamp`` with constant bounds,
  ``nn.LeakyReLU``, ``nn.PReLU`` with one slope, ``nn.Sigmoid``, ``nn.Tanh``, ``nn.Hardswish``, ``nn.Softmax`` over the
  channels, and their functional and method forms;
* ``+`` / ``torch.add`` of two tensors (residual joins), ``torch.cat`` over the channels;
* ``flatten`` (module, function or method), ``view`` / ``reshape`` to [N, C*H*W]; dropout,
  ``nn.Identity`` and ``contiguous`` are dropped.

Anything else is refused with a ConvertError naming the node, its module or function and
what is not supported (every unsupported module and function is listed at once). Arguments
computed from shapes (``x.shape[2] // 2``) are taken as constants when they are the same at
batch 2 and batch 3; only view / reshape may depend on the batch. With ``check=True`` (the default) the converted model is run in
PyTorch (:func:`scalpel.to_torch`) against the module itself on a random batch, in float64;
a disagreement raises rather than returning a wrong model.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import operator
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
import torch.fx
import torch.nn as nn
import torch.nn.functional as F
from torch.fx.passes.shape_prop import ShapeProp

from .graph import ConvertError, GraphBuilder
from .model import Model
from .torch_ref import LocalResponseNormWithinChannel, to_torch

__all__ = ["convert_torch"]

CHECK_TOLERANCE = 1e-4   # max |module - converted| / max |module|, both in float64


class _Tracer(torch.fx.Tracer):
    """torch.fx's tracer keeping as leaves LocalResponseNormWithinChannel and every subclass of
    a mapped module that does not override forward (class MyConv(nn.Conv2d) with a new
    __init__); a subclass with its own forward is traced through (F.conv2d, F.linear)."""

    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        if isinstance(m, LocalResponseNormWithinChannel):
            return True
        for base in _MODULES:
            if isinstance(m, base) and type(m).forward is base.forward:
                return True
        return super().is_leaf_module(m, qualname)


def _np(t: Optional[torch.Tensor]) -> Optional[np.ndarray]:
    return None if t is None else t.detach().cpu().to(torch.float64).numpy()


def _pair(v) -> tuple:
    return (int(v), int(v)) if isinstance(v, int) else tuple(int(x) for x in v)


class _Recorder(torch.fx.Interpreter):
    """Runs the traced graph and keeps every value that is not a tensor (sizes, shapes, their
    arithmetic), so that arguments computed from shapes become constants."""

    def __init__(self, gm: torch.fx.GraphModule):
        super().__init__(gm)
        self.values: Dict[str, object] = {}

    def run_node(self, n: torch.fx.Node):
        result = super().run_node(n)
        if not isinstance(result, torch.Tensor):
            self.values[n.name] = result
        return result


_MISSING = object()


def _same(a, b) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:  # noqa: BLE001 - values that do not compare are not the same
        return False


_MODULES = (nn.Conv2d, nn.Linear, nn.BatchNorm1d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
            nn.AdaptiveMaxPool2d, nn.ZeroPad2d, nn.ConstantPad2d, nn.LocalResponseNorm, LocalResponseNormWithinChannel,
            nn.ReLU, nn.Hardtanh, nn.LeakyReLU, nn.PReLU, nn.Sigmoid, nn.Tanh, nn.Hardswish, nn.Softmax, nn.Flatten,
            nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.Identity, nn.Softmax2d)   # (nn.ReLU6 is an nn.Hardtanh)
_FUNCTIONS = (operator.add, torch.add, torch.cat, F.relu, torch.relu, F.relu6, F.hardtanh, torch.clamp, torch.clip,
              F.leaky_relu, torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.hardswish, F.softmax, torch.softmax,
              F.max_pool2d, F.avg_pool2d, F.adaptive_avg_pool2d, F.adaptive_max_pool2d, F.pad, F.local_response_norm,
              F.dropout, F.dropout2d, F.alpha_dropout, torch.flatten, torch.mean, torch.reshape, torch.squeeze,
              torch.unsqueeze, F.conv2d, F.linear)
_METHODS = ("relu", "sigmoid", "tanh", "clamp", "clip", "clamp_min", "clamp_max", "softmax", "flatten", "view",
            "reshape", "squeeze", "unsqueeze", "mean", "contiguous", "add",
            "relu_", "sigmoid_", "tanh_", "clamp_", "clip_", "clamp_min_", "clamp_max_", "add_")   # in place: see refuse_aliasing


class _Converter:
    def __init__(self, gm: torch.fx.GraphModule, input_shape, where_module: str, values: List[Dict]):
        self.gm = gm
        self.values = values     # the Python values of each node at batch 1, 2 and 3
        self.modules = dict(gm.named_modules())
        self.shapes: Dict[str, tuple] = {}     # node name -> sample output shape (tensors only)
        self.input_shape = tuple(int(v) for v in input_shape)
        self.b: Optional[GraphBuilder] = None
        self.where_module = where_module

    # -- helpers --

    def arg(self, node: torch.fx.Node, i: int, name: str, default=None):
        """Argument i (positional) or `name` (keyword) of a call node, with values computed
        from shapes (x.size()[2:], x.shape[-1] // 2, ...) replaced by their constants."""
        v = node.args[i] if len(node.args) > i else node.kwargs.get(name, default)
        return self.value(v)

    def param(self, node: torch.fx.Node, i: int, name: str) -> Optional[torch.Tensor]:
        """A weight argument of F.conv2d / F.linear: a parameter or buffer of the module (or
        None); a tensor computed in forward is refused."""
        v = node.args[i] if len(node.args) > i else node.kwargs.get(name)
        if v is None:
            return None
        if isinstance(v, torch.fx.Node) and v.op == "get_attr":
            obj = self.gm
            for part in v.target.split("."):
                obj = getattr(obj, part)
            if isinstance(obj, torch.Tensor):
                return obj
        raise ConvertError(f"{self.where(node)}: its {name} is computed in forward ({v!r}); only parameters and "
                           "buffers of the module can be weights")

    def value(self, v):
        if isinstance(v, torch.fx.Node):
            if "tensor_meta" in v.meta:
                return v
            seen = [vals.get(v.name, _MISSING) for vals in self.values]
            if seen[0] is _MISSING:
                return v
            if any(not _same(seen[0], other) for other in seen[1:]):
                raise ConvertError(f"{self.where(v)}: its value depends on the batch size ({seen[0]!r}, {seen[1]!r}, "
                                   f"{seen[2]!r} at batch 1, 2, 3): only view / reshape may use the batch size")
            return seen[0]
        if isinstance(v, (list, tuple)):
            return type(v)(self.value(x) for x in v)
        return v

    def where(self, node: torch.fx.Node) -> str:
        if node.op == "call_module":
            return f"node '{node.name}' (module {node.target}: {type(self.modules[node.target]).__name__})"
        if node.op == "call_function":
            return f"node '{node.name}' (function {getattr(node.target, '__name__', node.target)})"
        return f"node '{node.name}' ({node.op} {node.target})"

    def tensor(self, node: torch.fx.Node, x, what: str = "input") -> str:
        if not isinstance(x, torch.fx.Node) or not self.b.has(x.name):
            raise ConvertError(f"{self.where(node)}: its {what} {x!r} is not a tensor computed from the network "
                               "input (constants, parameters used directly and Python values are not supported here)")
        return x.name

    def axis(self, node: torch.fx.Node, x: str, dim) -> int:
        rank = len(self.b.logical_shape(x)) + 1
        if not isinstance(dim, int):
            raise ConvertError(f"{self.where(node)}: dim {dim!r}: an integer is needed")
        d = dim + rank if dim < 0 else dim
        if not 0 <= d < rank:
            raise ConvertError(f"{self.where(node)}: dim {dim} out of range for rank {rank}")
        return d

    # -- the walk --

    def run(self) -> Model:
        graph = self.gm.graph
        nodes = list(graph.nodes)
        placeholders = [n for n in nodes if n.op == "placeholder"]
        outputs = [n for n in nodes if n.op == "output"]
        res = outputs[0].args[0] if outputs else None
        if not isinstance(res, torch.fx.Node):
            raise ConvertError(f"{self.where_module}: forward returns {type(res).__name__}; one tensor is supported")
        live = self.live(res)
        if not placeholders or any(p in live for p in placeholders[1:]):
            raise ConvertError(f"{self.where_module}: forward reads {len(placeholders)} inputs; one tensor is supported")
        unknown = [self.where(n) for n in nodes if n in live and "tensor_meta" in n.meta and not self.known(n)]
        if unknown:
            raise ConvertError(f"not supported by Scalpel: {'; '.join(unknown)} (see scalpel.torch_convert's "
                               "docstring for the modules and functions it maps)")
        self.refuse_aliasing(nodes, live)
        self.b = GraphBuilder(placeholders[0].name, self.input_shape, self.where_module)
        for node in nodes:
            if node not in live or node.op in ("placeholder", "output", "get_attr") or "tensor_meta" not in node.meta:
                continue       # dead code, parameters (read where used), Python values (sizes, shapes)
            shape = tuple(node.meta["tensor_meta"].shape)
            if node.op == "call_module":
                self.module(node, self.modules[node.target])
            elif node.op == "call_function":
                self.function(node)
            elif node.op == "call_method":
                self.method(node)
            else:
                raise ConvertError(f"{self.where(node)}: not supported")
            got = (2,) + self.b.logical_shape(node.name)
            if got != shape:
                raise ConvertError(f"{self.where(node)}: PyTorch gives shape {shape} for a batch of 2, the "
                                   f"conversion {got}: not supported")
        return self.b.build(self.tensor(outputs[0], res, "result"))

    @staticmethod
    def live(out: torch.fx.Node) -> set:
        """The nodes the output depends on."""
        seen, todo = set(), [out]
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(n.all_input_nodes)
        return seen

    def inplace(self, node: torch.fx.Node) -> bool:
        if node.op == "call_module":
            return bool(getattr(self.modules[node.target], "inplace", False)) and \
                not isinstance(self.modules[node.target], (nn.Dropout, nn.Dropout2d, nn.AlphaDropout))
        if node.op == "call_function":
            return bool(node.kwargs.get("inplace", False)) or getattr(node.target, "__name__", "").startswith("__i")
        if node.op == "call_method":
            return node.target.endswith("_") and not node.target.startswith("_")
        return False

    def refuse_aliasing(self, nodes, live) -> None:
        """An in-place operation (inplace=True, .relu_(), .add_()) changes its input for every
        later reader too; fx records a new tensor instead. Refused where the input is read
        again after it. (`y += z` is recorded as `y + z` and cannot be seen here: the
        self-check catches it.)"""
        order = {n: i for i, n in enumerate(nodes)}
        for n in nodes:
            if not self.inplace(n) or not n.args or not isinstance(n.args[0], torch.fx.Node):
                continue       # (dead or not: `out.add_(x)` whose result is unused still changes out)
            x = n.args[0]
            later = [u for u in x.users if u is not n and order[u] > order[n] and u in live]
            if later:
                raise ConvertError(f"{self.where(n)}: an in-place operation on {x.name!r}, which "
                                   f"{self.where(later[0])} reads afterwards (it would see the changed values); "
                                   "use the out-of-place form")

    def known(self, node: torch.fx.Node) -> bool:
        """The node's module, function or method is one the converter maps (its arguments
        are checked when it is mapped)."""
        if node.op == "call_module":
            return isinstance(self.modules[node.target], _MODULES)
        if node.op == "call_function":
            return any(node.target is f for f in _FUNCTIONS)
        if node.op == "call_method":
            return node.target in _METHODS
        return node.op in ("placeholder", "output", "get_attr")

    # -- modules --

    def module(self, node: torch.fx.Node, m: nn.Module) -> None:
        b, w, name = self.b, self.where(node), node.name
        x = self.tensor(node, node.args[0] if node.args else None)
        if isinstance(m, nn.Conv2d):
            self.conv(node, x, m.weight, m.bias, m.stride, m.padding, m.dilation, m.groups, m.padding_mode)
        elif isinstance(m, nn.Linear):
            b.fc(x, name, w, _np(m.weight), _np(m.bias))
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            if m.running_mean is None or m.running_var is None:
                raise ConvertError(f"{w}: batch norm without running statistics (track_running_stats=False) "
                                   "normalizes by the batch; only inference batch norm is supported")
            self.batchnorm(node, x, m.running_mean, m.running_var, m.weight, m.bias, m.eps)
        elif isinstance(m, nn.MaxPool2d):
            if _pair(m.dilation) != (1, 1) or m.return_indices:
                raise ConvertError(f"{w}: max pooling with dilation or return_indices is not supported")
            self.pool(node, x, "max", m.kernel_size, m.stride, m.padding, m.ceil_mode, False)
        elif isinstance(m, nn.AvgPool2d):
            if m.divisor_override is not None:
                raise ConvertError(f"{w}: divisor_override is not supported")
            self.pool(node, x, "avg", m.kernel_size, m.stride, m.padding, m.ceil_mode, m.count_include_pad)
        elif isinstance(m, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            self.adaptive(node, x, "avg" if isinstance(m, nn.AdaptiveAvgPool2d) else "max", m.output_size)
        elif isinstance(m, (nn.ZeroPad2d, nn.ConstantPad2d)):
            if float(m.value) != 0.0:
                raise ConvertError(f"{w}: padding with value {m.value}: only zero padding is supported")
            self.pad(node, x, m.padding)
        elif isinstance(m, nn.LocalResponseNorm):
            self.lrn(node, x, m.size, m.alpha, m.beta, m.k)
        elif isinstance(m, LocalResponseNormWithinChannel):
            b.lrn(x, name, w, m.size, m.alpha, m.beta, m.k, within_channel=True)
        elif isinstance(m, nn.ReLU):
            b.unary(x, name, w, "relu")
        elif isinstance(m, nn.ReLU6):
            b.clip(x, name, w, 0.0, 6.0)
        elif isinstance(m, nn.Hardtanh):
            b.clip(x, name, w, m.min_val, m.max_val)
        elif isinstance(m, nn.LeakyReLU):
            b.leaky_relu(x, name, w, m.negative_slope)
        elif isinstance(m, nn.PReLU):
            if m.weight.numel() != 1:
                raise ConvertError(f"{w}: PReLU with one slope per channel ({m.weight.numel()}) is not supported; "
                                   "one slope (num_parameters=1) is a leaky ReLU")
            b.leaky_relu(x, name, w, float(m.weight.detach().reshape(-1)[0]))
        elif isinstance(m, nn.Sigmoid):
            b.unary(x, name, w, "sigmoid")
        elif isinstance(m, nn.Tanh):
            b.unary(x, name, w, "tanh")
        elif isinstance(m, nn.Hardswish):
            b.unary(x, name, w, "hardswish")
        elif isinstance(m, nn.Softmax):
            if m.dim is None:
                raise ConvertError(f"{w}: nn.Softmax without dim (deprecated implicit axis); give dim=1")
            b.softmax(x, name, w, self.axis(node, x, m.dim))
        elif isinstance(m, nn.Softmax2d):
            b.softmax(x, name, w, 1 if b.rank(x) == 4 else -1)
        elif isinstance(m, nn.Flatten):
            self.flatten(node, x, m.start_dim, m.end_dim)
        elif isinstance(m, (nn.Dropout, nn.Dropout2d, nn.AlphaDropout, nn.Identity)):
            b.identity(x, name, w)
        else:
            raise ConvertError(f"{w}: {type(m).__name__} is not supported by Scalpel "
                               "(see scalpel.torch_convert's docstring for the modules it maps)")

    # -- functions and methods --

    def function(self, node: torch.fx.Node) -> None:
        f, b, w, name = node.target, self.b, self.where(node), node.name
        if f in (operator.add, torch.add):
            if f is torch.add and self.arg(node, 2, "alpha", 1) != 1:
                raise ConvertError(f"{w}: torch.add with alpha is not supported")
            a, c = self.value(node.args[0]), self.value(node.args[1])
            for t, z in ((a, c), (c, a)):      # 0 + y: sum(branches), out = 0; out = out + y
                if isinstance(t, torch.fx.Node) and isinstance(z, (int, float)) and not isinstance(z, bool) and z == 0:
                    b.identity(self.tensor(node, t), name, w)
                    return
            if not (isinstance(a, torch.fx.Node) and isinstance(c, torch.fx.Node)):
                raise ConvertError(f"{w}: adding a constant ({a!r} + {c!r}) is not supported; only tensor + tensor "
                                   "(a residual join)")
            b.add(self.tensor(node, a), self.tensor(node, c, "second input"), name, w)
            return
        if f is torch.cat:
            xs = self.arg(node, 0, "tensors")
            if not isinstance(xs, (list, tuple)):
                raise ConvertError(f"{w}: torch.cat of {xs!r}: a list of tensors is needed")
            names = [self.tensor(node, t) for t in xs]
            b.concat(names, name, w, self.axis(node, names[0], self.arg(node, 1, "dim", 0)))
            return
        x = self.tensor(node, node.args[0] if node.args else node.kwargs.get("input"))
        if f in (F.relu, torch.relu):
            b.unary(x, name, w, "relu")
        elif f is F.relu6:
            b.clip(x, name, w, 0.0, 6.0)
        elif f is F.hardtanh:
            b.clip(x, name, w, self.arg(node, 1, "min_val", -1.0), self.arg(node, 2, "max_val", 1.0))
        elif f in (torch.clamp, torch.clip):
            self.clamp(node, x, self.arg(node, 1, "min"), self.arg(node, 2, "max"))
        elif f is F.leaky_relu:
            b.leaky_relu(x, name, w, self.arg(node, 1, "negative_slope", 0.01))
        elif f in (torch.sigmoid, F.sigmoid):
            b.unary(x, name, w, "sigmoid")
        elif f in (torch.tanh, F.tanh):
            b.unary(x, name, w, "tanh")
        elif f is F.hardswish:
            b.unary(x, name, w, "hardswish")
        elif f in (F.softmax, torch.softmax):
            dim = self.arg(node, 1, "dim")
            if dim is None:
                raise ConvertError(f"{w}: softmax without dim; give dim=1")
            b.softmax(x, name, w, self.axis(node, x, dim))
        elif f is F.max_pool2d:
            if self.arg(node, 5, "ceil_mode", False) not in (True, False) or self.arg(node, 6, "return_indices", False) or \
                    _pair(self.arg(node, 4, "dilation", 1)) != (1, 1):
                raise ConvertError(f"{w}: max pooling with dilation or return_indices is not supported")
            self.pool(node, x, "max", self.arg(node, 1, "kernel_size"), self.arg(node, 2, "stride"), self.arg(node, 3, "padding", 0),
                      self.arg(node, 5, "ceil_mode", False), False)
        elif f is F.avg_pool2d:
            if self.arg(node, 6, "divisor_override") is not None:
                raise ConvertError(f"{w}: divisor_override is not supported")
            self.pool(node, x, "avg", self.arg(node, 1, "kernel_size"), self.arg(node, 2, "stride"), self.arg(node, 3, "padding", 0),
                      self.arg(node, 4, "ceil_mode", False), self.arg(node, 5, "count_include_pad", True))
        elif f in (F.adaptive_avg_pool2d, F.adaptive_max_pool2d):
            if f is F.adaptive_max_pool2d and self.arg(node, 2, "return_indices", False):
                raise ConvertError(f"{w}: return_indices is not supported")
            self.adaptive(node, x, "avg" if f is F.adaptive_avg_pool2d else "max", self.arg(node, 1, "output_size"))
        elif f is F.pad:
            mode, value = self.arg(node, 2, "mode", "constant"), self.arg(node, 3, "value", None)
            if mode != "constant" or (value is not None and float(value) != 0.0):
                raise ConvertError(f"{w}: F.pad mode {mode!r} value {value!r}: only constant zero padding is supported")
            self.pad(node, x, self.arg(node, 1, "pad"))
        elif f is F.local_response_norm:
            self.lrn(node, x, self.arg(node, 1, "size"), self.arg(node, 2, "alpha", 1e-4), self.arg(node, 3, "beta", 0.75),
                     self.arg(node, 4, "k", 1.0))
        elif f in (F.dropout, F.dropout2d, F.alpha_dropout):
            if self.arg(node, 2, "training", True):
                raise ConvertError(f"{w}: dropout with training=True (F.dropout's default) drops values even in "
                                   "eval mode; pass training=self.training")
            b.identity(x, name, w)
        elif f is torch.flatten:
            self.flatten(node, x, self.arg(node, 1, "start_dim", 0), self.arg(node, 2, "end_dim", -1))
        elif f is torch.mean:
            self.mean(node, x, self.arg(node, 1, "dim"), self.arg(node, 2, "keepdim", False))
        elif f in (torch.reshape, torch.squeeze, torch.unsqueeze):
            self.reshape(node, x)
        elif f is F.conv2d:
            self.conv(node, x, self.param(node, 1, "weight"), self.param(node, 2, "bias"), self.arg(node, 3, "stride", 1),
                      self.arg(node, 4, "padding", 0), self.arg(node, 5, "dilation", 1), self.arg(node, 6, "groups", 1),
                      "zeros")
        elif f is F.linear:
            b.fc(x, name, w, _np(self.param(node, 1, "weight")), _np(self.param(node, 2, "bias")))
        else:
            raise ConvertError(f"{w}: {getattr(f, '__module__', '')}.{getattr(f, '__name__', f)} is not supported by "
                               "Scalpel (see scalpel.torch_convert's docstring for the functions it maps)")

    def method(self, node: torch.fx.Node) -> None:
        m, b, w, name = node.target, self.b, self.where(node), node.name
        x = self.tensor(node, node.args[0])
        if m.endswith("_"):
            m = m[:-1]       # the in-place form: the same values (refuse_aliasing checked its readers)
        if m == "relu":
            b.unary(x, name, w, "relu")
        elif m == "sigmoid":
            b.unary(x, name, w, "sigmoid")
        elif m == "tanh":
            b.unary(x, name, w, "tanh")
        elif m in ("clamp", "clip"):
            self.clamp(node, x, self.arg(node, 1, "min"), self.arg(node, 2, "max"))
        elif m == "clamp_min":
            self.clamp(node, x, self.arg(node, 1, "min"), None)
        elif m == "clamp_max":
            self.clamp(node, x, None, self.arg(node, 1, "max"))
        elif m == "softmax":
            b.softmax(x, name, w, self.axis(node, x, self.arg(node, 1, "dim")))
        elif m == "flatten":
            self.flatten(node, x, self.arg(node, 1, "start_dim", 0), self.arg(node, 2, "end_dim", -1))
        elif m in ("view", "reshape", "squeeze", "unsqueeze"):
            self.reshape(node, x)
        elif m == "mean":
            self.mean(node, x, self.arg(node, 1, "dim"), self.arg(node, 2, "keepdim", False))
        elif m == "contiguous":
            b.identity(x, name, w)
        elif m == "add":
            c = node.args[1] if len(node.args) > 1 else node.kwargs.get("other")
            if not isinstance(c, torch.fx.Node) or node.kwargs.get("alpha", 1) != 1:
                raise ConvertError(f"{w}: add of a constant or with alpha is not supported")
            b.add(x, self.tensor(node, c, "second input"), name, w)
        else:
            raise ConvertError(f"{w}: the tensor method .{m}() is not supported by Scalpel")

    # -- shared mappings --

    def conv(self, node, x, weight, bias, stride, padding, dilation, groups, padding_mode) -> None:
        w = self.where(node)
        if padding_mode != "zeros":
            raise ConvertError(f"{w}: padding_mode {padding_mode!r}: only zero padding is supported")
        kh, kw = weight.shape[2], weight.shape[3]
        dh, dw = _pair(dilation)
        if isinstance(padding, str):
            if padding == "valid":
                pads = (0, 0, 0, 0)
            else:   # "same": PyTorch puts the odd cell at the bottom / right
                th, tw = dh * (kh - 1), dw * (kw - 1)
                pads = (th // 2, tw // 2, th - th // 2, tw - tw // 2)
        else:
            ph, pw = _pair(padding)
            pads = (ph, pw, ph, pw)
        self.b.conv(x, node.name, w, _np(weight), _np(bias), _pair(stride), pads, (dh, dw), int(groups))

    def batchnorm(self, node, x, mean, var, gamma, beta, eps) -> None:
        mean, var = _np(mean), _np(var)
        gamma = np.ones_like(mean) if gamma is None else _np(gamma)
        beta = np.zeros_like(mean) if beta is None else _np(beta)
        v = var + float(np.float32(eps))
        if np.any(v <= 0):
            raise ConvertError(f"{self.where(node)}: running_var + eps <= 0")
        scale = gamma / np.sqrt(v)
        self.b.batchnorm(x, node.name, self.where(node), scale, beta - mean * scale)

    def pool(self, node, x, op, kernel, stride, padding, ceil, count_pads) -> None:
        k = _pair(kernel)
        s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else _pair(stride)
        ph, pw = _pair(padding)
        self.b.pool(x, node.name, self.where(node), op, k, s, (ph, pw, ph, pw), bool(ceil), bool(count_pads))

    def adaptive(self, node, x, op, output_size) -> None:
        w = self.where(node)
        _, H, W = self.b.shape(x)
        oh, ow = (output_size, output_size) if isinstance(output_size, int) else tuple(output_size)
        oh, ow = H if oh is None else int(oh), W if ow is None else int(ow)
        if op == "avg" and (oh, ow) == (1, 1):
            self.b.global_avgpool(x, node.name, w)
        elif H % oh == 0 and W % ow == 0:
            self.b.pool(x, node.name, w, op, (H // oh, W // ow), (H // oh, W // ow))
        else:
            raise ConvertError(f"{w}: adaptive pooling of {H}x{W} to {oh}x{ow}: only outputs that divide the input "
                               "(equal windows) are supported")

    def pad(self, node, x, pad) -> None:
        p = [int(v) for v in ((pad,) * 4 if isinstance(pad, int) else pad)]
        if len(p) == 2:
            p += [0, 0]
        if len(p) != 4:
            raise ConvertError(f"{self.where(node)}: padding {pad!r}: only H and W can be padded")
        left, right, top, bottom = p
        self.b.pad(x, node.name, self.where(node), (top, left, bottom, right))

    def lrn(self, node, x, size, alpha, beta, k) -> None:
        if int(size) % 2 == 0:
            raise ConvertError(f"{self.where(node)}: local response norm of even size {size}: only odd sizes "
                               "(a window centred on the channel) are supported")
        self.b.lrn(x, node.name, self.where(node), int(size), alpha, beta, k)

    def clamp(self, node, x, lo, hi) -> None:
        w = self.where(node)
        if isinstance(lo, torch.fx.Node) or isinstance(hi, torch.fx.Node):
            raise ConvertError(f"{w}: clamp with tensor bounds is not supported")
        self.b.clip(x, node.name, w, -math.inf if lo is None else lo, math.inf if hi is None else hi)

    def flatten(self, node, x, start, end) -> None:
        rank = self.b.rank(x)
        s, e = self.axis(node, x, start), self.axis(node, x, end)
        if s == 1 and e == rank - 1:
            self.b.flatten(x, node.name, self.where(node))
        elif s == e:
            self.b.identity(x, node.name, self.where(node))
        else:
            raise ConvertError(f"{self.where(node)}: flatten(start_dim={start}, end_dim={end}) of a rank-{rank} tensor: "
                               "only flattening every dimension after the batch is supported")

    def reshape(self, node, x) -> None:
        """view / reshape / squeeze / unsqueeze, judged by the shape PyTorch computed: the same
        shape is an identity, [N, C*H*W] a flatten, and a flat [N, F] to [N, F, 1, 1] (or the
        map it was flattened from) a map again; anything else reorders or mixes samples."""
        shape = tuple(node.meta["tensor_meta"].shape)
        per, stored = self.b.logical_shape(x), self.b.shape(x)
        n = int(np.prod(per))
        if shape == (2,) + per:
            self.b.identity(x, node.name, self.where(node))
        elif shape == (2, n):
            self.b.flatten(x, node.name, self.where(node))
        elif shape == (2,) + stored:
            self.b.unflatten(x, node.name, self.where(node))
        elif stored[1:] == (1, 1) and len(shape) >= 2 and shape[1] == n and all(d == 1 for d in shape[2:]):
            self.b.vector_view(x, node.name, self.where(node), shape[1:])
        else:
            raise ConvertError(f"{self.where(node)}: reshape of {('N',) + per} to {shape[1:]} per sample (batch 2 gave "
                               f"{shape}): only flattening to [N, {n}], or back to {('N',) + stored}, is supported")

    def mean(self, node, x, dim, keepdim) -> None:
        dims = (dim,) if isinstance(dim, int) else tuple(dim or ())
        if self.b.rank(x) == 4 and sorted(self.axis(node, x, d) for d in dims) == [2, 3]:
            self.b.global_avgpool(x, node.name, self.where(node), keep_dims=bool(keepdim))
        else:
            raise ConvertError(f"{self.where(node)}: mean over {dim!r}: only the mean over H and W (dims 2, 3) "
                               "is supported")


def _input_shape(input_shape) -> tuple:
    bad = ConvertError(f"convert_torch: input_shape {input_shape!r}: expected (C, H, W) or (F,) per sample, integers "
                       ">= 1, without the batch dimension")
    if isinstance(input_shape, (str, bytes)) or not hasattr(input_shape, "__len__"):
        raise bad
    shape = []
    for v in input_shape:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise bad
        shape.append(int(v))
    if len(shape) not in (1, 3) or min(shape) < 1:
        raise bad
    return tuple(shape)


def _trace(mod: nn.Module, name: str) -> torch.fx.Graph:
    """torch.fx's graph of mod.forward; forward's parameters after the first must have
    defaults, which are traced as constants."""
    import inspect
    try:
        params = list(inspect.signature(mod.forward).parameters.values())
    except (TypeError, ValueError):
        params = []
    tensors = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = [p for p in tensors[1:] if p.default is inspect.Parameter.empty]
    if extra or not tensors:
        raise ConvertError(f"{name}: forward takes {len(tensors)} inputs ({', '.join(p.name for p in tensors)}); one "
                           "tensor is supported (further parameters need defaults)")
    concrete = {p.name: p.default for p in tensors[1:]}
    try:
        return _Tracer().trace(mod, concrete_args=concrete or None)
    except Exception as e:  # noqa: BLE001 - torch.fx raises many types; say which and why
        text = f"{name}: torch.fx could not trace forward ({type(e).__name__}: {e})."
        if isinstance(e, torch.fx.proxy.TraceError):
            text += (" Symbolic tracing needs a forward whose Python control flow does not depend on tensor values "
                     "(no `if x.sum() > 0`, no `.item()`, no loops over a tensor's size): make it depend on "
                     "constructor arguments.")
        elif "Proxy" in str(e):
            text += (" A built-in torch function received a value computed from the input while tracing (typically "
                     "a kernel size or shape taken from x.size()): give it a constant fixed in __init__, or use a "
                     "module such as nn.AdaptiveAvgPool2d(1).")
        raise ConvertError(text + " Exporting to ONNX and `python3 -m scalpel convert` is the other way in.") from None


def _refuse_hooks(module: nn.Module, name: str) -> None:
    """Hooks change what a module computes (weight_norm and spectral_norm recompute the weight
    in a forward pre-hook); fx does not see them."""
    hooked = [f"{qual or name} ({type(m).__name__})" for qual, m in module.named_modules()
              if m._forward_hooks or m._forward_pre_hooks or getattr(m, "_backward_hooks", None)]
    if hooked:
        raise ConvertError(f"{name}: modules with hooks ({', '.join(hooked)}): fx cannot see what hooks compute; "
                           "remove them first (torch.nn.utils.remove_weight_norm, remove_spectral_norm, "
                           "handle.remove())")


def _run(runner: torch.fx.Interpreter, batch: int, shape, name: str) -> None:
    """Run the traced graph (ShapeProp: recording shapes; _Recorder: Python values) once."""
    x = torch.randn((batch,) + shape, generator=torch.Generator().manual_seed(batch))
    try:
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):   # (ShapeProp prints tracebacks)
            if isinstance(runner, ShapeProp):
                runner.propagate(x)
            else:
                runner.run(x)
    except Exception as e:  # noqa: BLE001
        raise ConvertError(f"{name}: running the traced module on a [{batch}, {', '.join(map(str, shape))}] batch "
                           f"failed ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}); is input_shape "
                           "right, and does forward work for every batch size?") from None


def convert_torch(module: nn.Module, input_shape: Sequence[int], path=None, check: bool = True) -> Model:
    """Convert a torch.nn.Module to a Scalpel Model (and save it to `path` when given).

    input_shape: one sample's shape, (C, H, W) or (F,), without the batch dimension. The
    module is not changed (a copy is traced and put in eval mode: batch norms use their
    running statistics, dropout is dropped). check: run both on random batches of 1 and 3 in
    float64 and raise ConvertError when the largest difference exceeds CHECK_TOLERANCE of the
    largest output. Raises ConvertError, naming the node, for anything it cannot map."""
    if not isinstance(module, nn.Module):
        raise ConvertError(f"convert_torch: expected a torch.nn.Module, got {type(module).__name__}")
    shape = _input_shape(input_shape)
    name = type(module).__name__
    _refuse_hooks(module, name)
    try:
        mod = copy.deepcopy(module).float().eval()
    except Exception as e:  # noqa: BLE001
        raise ConvertError(f"{name}: the module cannot be copied ({type(e).__name__}: {e})") from None
    gm = torch.fx.GraphModule(mod, _trace(mod, name))
    _run(ShapeProp(gm), 2, shape, name)
    values = []
    for n in (1, 2, 3):
        rec = _Recorder(gm)
        _run(rec, n, shape, name)
        values.append(rec.values)
    model = _Converter(gm, shape, name, values).run()
    if check:
        _check(mod, model, shape, name)
    if path is not None:
        try:
            model.save(path)
        except OSError as e:
            raise ConvertError(f"{path}: cannot write the model file ({e.strerror or e})") from None
    return model


def _check(mod: nn.Module, model: Model, shape, name: str) -> None:
    """The module against the converted model, float64, at batch 1 and 3."""
    module64, converted = mod.double(), to_torch(model).double()
    try:
        for n in (1, 3):
            x = torch.randn((n,) + shape, generator=torch.Generator().manual_seed(10 + n), dtype=torch.float64)
            with torch.no_grad():
                ref = module64(x).reshape(n, -1)
                got = converted(x)
            if tuple(ref.shape) != tuple(got.shape):
                raise ConvertError(f"{name}: the converted model gives {tuple(got.shape)}, the module {tuple(ref.shape)}")
            scale = float(ref.abs().max())
            diff = float((ref - got).abs().max())
            if not diff <= CHECK_TOLERANCE * max(scale, 1e-30):
                raise ConvertError(
                    f"{name}: the converted model disagrees with the module at batch {n} (max difference {diff:.3g}, "
                    f"largest output {scale:.3g}). Usual causes: an in-place update of a tensor that is read again "
                    "(`y += z` while another branch keeps y; fx records it as a new tensor), or a value that depends "
                    "on the batch size. Otherwise a converter bug: please report it.")
    finally:
        mod.float()
