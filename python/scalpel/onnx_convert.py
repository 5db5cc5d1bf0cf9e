"""ONNX models (opsets 11 to 17, as ``torch.onnx.export`` writes them) as Scalpel models.

    from scalpel.onnx_convert import convert_onnx
    model = convert_onnx("net.onnx")            # a scalpel.Model
    model = convert_onnx(data, input_shape=(3, 224, 224))

The conversion runs in one pass over the graph's nodes, in their (topological) order:

1. **Load** the bytes (a path, bytes or an ``onnx.ModelProto``) with protobuf, then
   **validate** what is read: the opset of the default domain (11 to 17), one graph input
   that is not an initializer and one output, every name defined before it is read (which
   also rules out cycles), attribute types, tensor sizes against their data, finite weights.
2. **Constant folding**: a node whose inputs are all constants (initializers, ``Constant``
   nodes, ``Shape`` of a tensor whose per-sample shape is known) is evaluated with numpy.
   Every constant is evaluated twice, for two batch sizes, so that values derived from the
   batch (``Shape(x)[0]``) are told apart from literal numbers: a ``Reshape`` target must
   keep the batch, and everything else that shapes the network (pads, axes, the condition
   of an ``If``, weights) must not depend on it. An ``If`` with a constant condition is
   replaced by the nodes of the branch it takes.
3. **Pattern fusion**: some operations are meaningful only as part of a known pattern; they
   produce *pending* values that later nodes either continue or refuse:
   ``Mul(x, HardSigmoid(x))`` is hardswish; ``MatMul(x, W)`` then ``Add(b)`` is a fully
   connected layer; ``Mul(x, x)`` starts a local response normalization, across channels
   (PyTorch's ``nn.LocalResponseNorm`` decomposition: Unsqueeze, 5-D Pad, 3-D AveragePool,
   Squeeze) or within a channel (``scalpel.torch_ref.LocalResponseNormWithinChannel``:
   Pad, 2-D AveragePool), followed by ``Mul(alpha)``, ``Add(k)``, ``Pow(beta)`` and
   ``Div(x, .)``. Every constant of a pattern is checked.
4. **Mapping**: every other node on a tensor becomes one call of
   :class:`scalpel.graph.GraphBuilder` (conv, fc, batchnorm, pools, pad, activations, add,
   concat, flatten, identity), whose ``build`` lowers the graph to a :class:`scalpel.Model`.

Anything that cannot be represented exactly raises :class:`scalpel.graph.ConvertError`
naming the node (``node 'NAME' (OpType)``) and the attribute or input at fault. onnx is
imported when :func:`convert_onnx` is called, not when this module is.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .graph import ConvertError, GraphBuilder
from .model import Model

__all__ = ["convert_onnx"]

MIN_OPSET, MAX_OPSET = 11, 17
_MAX_FOLD_ELEMENTS = 1 << 24     # largest constant the folding creates
_MAX_DEPTH = 16                  # nested If branches
_F32_MAX = float(np.finfo(np.float32).max)

# TensorProto.DataType -> numpy dtype (the types a constant may have)
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
           7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
# AttributeProto.AttributeType
_A_FLOAT, _A_INT, _A_STRING, _A_TENSOR, _A_GRAPH, _A_FLOATS, _A_INTS = 1, 2, 3, 4, 5, 6, 7
_A_NAMES = {0: "undefined", 1: "float", 2: "int", 3: "string", 4: "tensor", 5: "graph", 6: "floats",
            7: "ints", 8: "strings", 9: "tensors", 10: "graphs", 11: "sparse tensor",
            12: "sparse tensors", 13: "type proto", 14: "type protos"}


# ---- public entry point ---------------------------------------------------------------------

def convert_onnx(model, input_shape: Optional[Sequence[int]] = None) -> Model:
    """The scalpel.Model computing an ONNX model.

    model: a path (str or os.PathLike), the file's bytes, or an onnx.ModelProto.
    input_shape: the per-sample shape (C, H, W) or (F,) of the graph input, overriding its
    declared shape (needed where H or W are symbolic); the batch dimension is never part of
    it, and the graph's own batch dimension (fixed or symbolic) is ignored.

    Raises ConvertError for an unreadable file and for every node, attribute or pattern
    that the C library cannot compute exactly."""
    try:
        import onnx  # noqa: F401  (lazy: the package works without onnx)
    except ImportError:
        raise ConvertError("convert_onnx needs the onnx package (Debian: python3-onnx; pip: onnx)") from None
    proto = _load(model)
    conv = _Converter(proto, input_shape)
    try:
        return conv.run()
    except ConvertError:
        raise
    except RecursionError:
        raise ConvertError(f"{conv.where}: the model nests too deeply") from None
    except MemoryError:
        raise ConvertError(f"{conv.where}: not enough memory to convert the model") from None
    except Exception as e:  # a malformed model that slipped past the checks: never another type
        raise ConvertError(f"{conv.where}: malformed or unsupported model ({type(e).__name__}: {e})") from None


# ---- loading ------------------------------------------------------------------------------

def _load(model):
    """The ModelProto of a path, bytes or ModelProto (ConvertError when it does not parse)."""
    import onnx
    if isinstance(model, onnx.ModelProto):
        return model
    if isinstance(model, (bytes, bytearray, memoryview)):
        data, what = bytes(model), "the ONNX bytes"
    elif isinstance(model, (str, os.PathLike)):
        what = f"ONNX file {os.fspath(model)!r}"
        try:
            with open(model, "rb") as f:
                data = f.read()
        except OSError as e:
            raise ConvertError(f"{what}: cannot read it ({e.strerror or e})") from None
    else:
        raise ConvertError(f"convert_onnx: expected a path, bytes or an onnx.ModelProto, got {type(model).__name__}")
    proto = onnx.ModelProto()
    try:
        proto.ParseFromString(data)
    except Exception as e:  # protobuf's DecodeError and friends: a truncated or corrupted file
        raise ConvertError(f"{what}: not a valid ONNX model (protobuf: {e})") from None
    if not proto.HasField("graph"):
        raise ConvertError(f"{what}: not a valid ONNX model (no graph)")
    return proto


# ---- reading tensors and attributes ---------------------------------------------------------

def _tensor_array(t, what: str) -> np.ndarray:
    """A TensorProto as a numpy array, its size checked against its data."""
    if t.data_location == 1 or len(t.external_data):
        raise ConvertError(f"{what}: tensor {t.name!r} keeps its data in an external file; "
                           "save the model with its weights inside (onnx.save(..., save_as_external_data=False))")
    if t.HasField("segment"):
        raise ConvertError(f"{what}: tensor {t.name!r} is segmented; not supported")
    if t.data_type not in _DTYPES:
        raise ConvertError(f"{what}: tensor {t.name!r} has data type {t.data_type}; only real, integer "
                           "and boolean tensors are supported")
    dims = [int(d) for d in t.dims]
    if any(d < 0 for d in dims):
        raise ConvertError(f"{what}: tensor {t.name!r} has a negative dimension {dims}")
    count = math.prod(dims)
    dt = np.dtype(_DTYPES[t.data_type]).newbyteorder("<")
    if t.HasField("raw_data"):
        if len(t.raw_data) != count * dt.itemsize:
            raise ConvertError(f"{what}: tensor {t.name!r} of shape {dims} holds {len(t.raw_data)} bytes, "
                               f"expected {count * dt.itemsize}")
        arr = np.frombuffer(t.raw_data, dtype=dt).astype(dt.newbyteorder("="))
    else:
        code = t.data_type
        if code == 1:
            src = t.float_data
        elif code == 11:
            src = t.double_data
        elif code == 7:
            src = t.int64_data
        elif code in (12, 13):
            src = t.uint64_data
        else:                       # int32_data: the narrow integers, bool, float16 (as bits)
            src = t.int32_data
        if len(src) != count:
            raise ConvertError(f"{what}: tensor {t.name!r} of shape {dims} holds {len(src)} values, expected {count}")
        if code == 10:
            arr = np.array(src, dtype=np.int64).astype(np.uint16).view(np.float16)
        else:
            arr = np.array(src, dtype=np.float64 if code in (1, 11) else np.int64)
            with np.errstate(over="ignore", invalid="ignore"):
                arr = arr.astype(_DTYPES[code])
    return arr.reshape(dims)


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind == "f"


class _Node:
    """A NodeProto with checked attribute access and the `where` of its messages."""

    def __init__(self, proto, opset: int):
        self.proto = proto
        self.op = proto.op_type
        self.name = proto.name
        self.opset = opset
        label = proto.name or (proto.output[0] if len(proto.output) else "")
        self.where = f"node {label!r} ({proto.op_type})"
        self.inputs = list(proto.input)
        self.outputs = list(proto.output)
        self.attrs: Dict[str, object] = {}
        for a in proto.attribute:
            if a.name in self.attrs:
                raise ConvertError(f"{self.where}: attribute {a.name!r} is given twice")
            if a.ref_attr_name:
                raise ConvertError(f"{self.where}: attribute {a.name!r} refers to a function attribute; not supported")
            self.attrs[a.name] = a

    def allow(self, *names: str) -> None:
        """Refuse attributes outside `names` (an attribute this converter would ignore)."""
        for name in self.attrs:
            if name not in names:
                raise ConvertError(f"{self.where}: attribute {name!r} is not supported")

    def _get(self, name: str, kind: int):
        a = self.attrs.get(name)
        if a is None:
            return None
        if a.type != kind:
            raise ConvertError(f"{self.where}: attribute {name!r} has type {_A_NAMES.get(a.type, a.type)}, "
                               f"expected {_A_NAMES[kind]}")
        return a

    def i(self, name: str, default=None):
        a = self._get(name, _A_INT)
        return default if a is None else int(a.i)

    def f(self, name: str, default=None):
        a = self._get(name, _A_FLOAT)
        if a is None:
            return default
        v = float(a.f)
        if not math.isfinite(v):
            raise ConvertError(f"{self.where}: attribute {name!r} is {v}; expected a finite number")
        return v

    def ints(self, name: str, default=None):
        a = self._get(name, _A_INTS)
        return default if a is None else [int(v) for v in a.ints]

    def floats(self, name: str, default=None):
        a = self._get(name, _A_FLOATS)
        return default if a is None else [float(v) for v in a.floats]

    def s(self, name: str, default=None):
        a = self._get(name, _A_STRING)
        if a is None:
            return default
        try:
            return a.s.decode("utf-8")
        except UnicodeDecodeError:
            raise ConvertError(f"{self.where}: attribute {name!r} is not a UTF-8 string") from None

    def t(self, name: str):
        a = self._get(name, _A_TENSOR)
        return None if a is None else _tensor_array(a.t, f"{self.where}: attribute {name!r}")

    def g(self, name: str):
        a = self._get(name, _A_GRAPH)
        if a is None:
            raise ConvertError(f"{self.where}: attribute {name!r} (a graph) is missing")
        return a.g


# ---- values -------------------------------------------------------------------------------

@dataclass
class _Const:
    """A constant, evaluated for two batch sizes (b is a when it does not depend on it)."""
    a: np.ndarray
    b: np.ndarray

    @property
    def fixed(self) -> bool:
        return self.a is self.b or (self.a.shape == self.b.shape and self.a.dtype == self.b.dtype
                                    and bool(np.all((self.a == self.b) | (self.a != self.a))))


@dataclass
class _Tensor:
    """A tensor the builder computes, by its builder name."""
    name: str


@dataclass
class _Pending:
    """A value meaningful only inside a pattern (module docstring, step 3). kind and data
    say how far the pattern has come; src is the builder tensor it started from; shape is
    its per-sample shape (for Shape nodes)."""
    kind: str
    src: str
    shape: Tuple[int, ...]
    where: str
    data: Dict = field(default_factory=dict)
    materialized: Optional[str] = None


_PENDING_TEXT = {
    "hsig": "HardSigmoid (supported only as Mul(x, HardSigmoid(x)), a hardswish)",
    "matmul": "MatMul",
    "sq": "the product Mul(x, x) (supported only as the start of a local response normalization)",
    "transposed": "a Transpose of a feature map (supported only around a Softmax over the channels)",
    "tsoftmax": "a Softmax of a transposed map (supported only when transposed back)",
}


def _pending_text(p: _Pending) -> str:
    text = _PENDING_TEXT.get(p.kind)
    if text is None:
        text = "part of a local response normalization pattern"
    return f"{text}, from {p.where}"


# ---- the converter --------------------------------------------------------------------------

class _Converter:
    def __init__(self, proto, input_shape):
        self.proto = proto
        self.graph = proto.graph
        self.where = "ONNX model"
        self.input_shape = input_shape
        self.env: Dict[str, object] = {}
        self.used: set = set()

    # -- setup --

    def _opset(self) -> int:
        found = None
        for imp in self.proto.opset_import:
            if imp.domain in ("", "ai.onnx"):
                if found is not None:
                    raise ConvertError("ONNX model: the default domain's opset is imported twice")
                found = int(imp.version)
        if found is None:
            raise ConvertError("ONNX model: no opset for the default domain (ai.onnx)")
        if not MIN_OPSET <= found <= MAX_OPSET:
            raise ConvertError(f"ONNX model: opset {found} of the default domain is not supported "
                               f"(opsets {MIN_OPSET} to {MAX_OPSET}; re-export with opset_version={MAX_OPSET})")
        return found

    def _collect_used(self, graph, depth: int = 0) -> None:
        """Every name a node reads, in the graph and its subgraphs."""
        if depth > _MAX_DEPTH:
            raise ConvertError(f"ONNX model: subgraphs nest deeper than {_MAX_DEPTH}")
        for node in graph.node:
            self.used.update(node.input)
            for a in node.attribute:
                if a.type == _A_GRAPH:
                    self._collect_used(a.g, depth + 1)
                    self.used.update(o.name for o in a.g.output)
                elif a.type == 10:
                    for g in a.graphs:
                        self._collect_used(g, depth + 1)

    def _unknown_ops(self, graph, depth: int = 0) -> None:
        """Refuse, all named at once, the nodes whose op type the converter neither maps nor
        folds (LSTM, Resize, ...), before anything else can stop at a symptom of them."""
        bad = []

        def walk(gr, d):
            for node in gr.node:
                if node.domain not in ("", "ai.onnx"):
                    continue    # refused with its domain when reached
                if node.op_type not in _MAP and node.op_type not in _FOLD and node.op_type != "If":
                    bad.append(f"node {node.name!r} ({node.op_type})" + _HINTS.get(node.op_type, ""))
                for a in node.attribute:
                    if a.type == _A_GRAPH and d < _MAX_DEPTH:
                        walk(a.g, d + 1)
        walk(graph, depth)
        if bad:
            raise ConvertError("not supported by Scalpel: " + "; ".join(bad))

    def _input(self):
        """(name, per-sample shape, fixed batch or None) of the graph's one tensor input."""
        g = self.graph
        inits = {t.name for t in g.initializer}
        inputs = [v for v in g.input if v.name not in inits]
        if len(inputs) != 1:
            raise ConvertError(f"ONNX model: {len(inputs)} graph inputs that are not initializers "
                               f"({[v.name for v in inputs]}); exactly one is supported")
        v = inputs[0]
        what = f"graph input {v.name!r}"
        if not v.name:
            raise ConvertError("ONNX model: the graph input has no name")
        if v.type.WhichOneof("value") != "tensor_type":
            raise ConvertError(f"{what}: not a tensor")
        tt = v.type.tensor_type
        if tt.elem_type != 1:
            raise ConvertError(f"{what}: element type {tt.elem_type}; only float32 (1) inputs are supported")
        dims = None
        if tt.HasField("shape"):
            dims = []
            for d in tt.shape.dim:
                dims.append(int(d.dim_value) if d.WhichOneof("value") == "dim_value" else None)
        batch = None
        if dims is not None and len(dims) >= 1 and dims[0] is not None:
            if dims[0] < 1:
                raise ConvertError(f"{what}: batch dimension {dims[0]} must be >= 1 (or symbolic)")
            batch = dims[0]
        if self.input_shape is not None:
            try:
                shape = tuple(int(s) for s in self.input_shape)
            except (TypeError, ValueError):
                raise ConvertError(f"convert_onnx: input_shape {self.input_shape!r}: expected (C, H, W) or (F,)") from None
            if len(shape) not in (1, 3) or min(shape) < 1:
                raise ConvertError(f"convert_onnx: input_shape {shape}: expected (C, H, W) or (F,) of positive "
                                   "sizes, per sample (no batch dimension)")
            if dims is not None:
                if len(dims) != len(shape) + 1:
                    raise ConvertError(f"{what}: declared with {len(dims)} dimensions; input_shape {shape} "
                                       f"gives {len(shape) + 1} with the batch")
                for d, s in zip(dims[1:], shape):
                    if d is not None and d != 0 and d != s:
                        raise ConvertError(f"{what}: declared shape {self._dims_text(dims)} conflicts with "
                                           f"input_shape {shape}")
            return v.name, shape, batch
        if dims is None:
            raise ConvertError(f"{what}: no declared shape; pass input_shape=(C, H, W)")
        if len(dims) not in (2, 4):
            raise ConvertError(f"{what}: shape {self._dims_text(dims)}: expected [N, C, H, W] or [N, F]")
        if any(d is None or d < 1 for d in dims[1:]):
            raise ConvertError(f"{what}: shape {self._dims_text(dims)} has symbolic or unknown sizes; "
                               "pass input_shape=(C, H, W)")
        return v.name, tuple(dims[1:]), batch

    @staticmethod
    def _dims_text(dims) -> str:
        return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"

    def run(self) -> Model:
        g = self.graph
        self.opset = self._opset()
        if len(g.sparse_initializer):
            raise ConvertError("ONNX model: sparse initializers are not supported")
        if len(g.output) != 1:
            raise ConvertError(f"ONNX model: the graph has {len(g.output)} outputs; exactly one is supported")
        self._collect_used(g)
        self._unknown_ops(g)
        name, shape, batch = self._input()
        self.static_batch = batch is not None
        self.batch_a = batch if batch is not None else 1
        self.batch_b = self.batch_a + 1
        self.builder = GraphBuilder(name, shape, "ONNX model")
        self.env[name] = _Tensor(name)
        self._graph(g, 0)
        out = g.output[0].name
        self.where = f"graph output {out!r}"
        if out not in self.env:
            raise ConvertError(f"{self.where}: no node computes it")
        v = self.env[out]
        if isinstance(v, _Const):
            raise ConvertError(f"{self.where}: a constant (the output does not depend on the input)")
        bname = self._tensor_of(v, out, self.where)
        self._check_output(g.output[0], bname)
        return self.builder.build(bname)

    def _check_output(self, vi, bname: str) -> None:
        """The declared output shape (where its sizes are known) matches the computed one."""
        if vi.type.WhichOneof("value") != "tensor_type" or not vi.type.tensor_type.HasField("shape"):
            return
        dims = [int(d.dim_value) if d.WhichOneof("value") == "dim_value" else None
                for d in vi.type.tensor_type.shape.dim]
        got = self.builder.logical_shape(bname)
        if len(dims) != len(got) + 1 or any(d is not None and d != s for d, s in zip(dims[1:], got)):
            raise ConvertError(f"{self.where}: declared shape {self._dims_text(dims)}, but the converted "
                               f"graph computes {['N'] + list(got)}")

    # -- the pass over the nodes --

    def _graph(self, graph, depth: int) -> None:
        """Constants of `graph`'s initializers, then each node in order."""
        if depth > _MAX_DEPTH:
            raise ConvertError(f"ONNX model: If branches nest deeper than {_MAX_DEPTH}")
        for t in graph.initializer:
            what = f"initializer {t.name!r}"
            self.where = what
            if not t.name:
                raise ConvertError("ONNX model: an initializer has no name")
            if t.name in self.env:
                raise ConvertError(f"{what}: the name is defined twice")
            arr = _tensor_array(t, what)
            if _is_float(arr) and not np.all(np.isfinite(arr)):
                raise ConvertError(f"{what}: holds NaN or infinite values")
            self.env[t.name] = _Const(arr, arr)
        for proto in graph.node:
            node = _Node(proto, self.opset)
            self.where = node.where
            self._node(node, depth)

    def _node(self, n: _Node, depth: int) -> None:
        if n.proto.domain not in ("", "ai.onnx"):
            raise ConvertError(f"{n.where}: domain {n.proto.domain!r} is not supported (only the default ONNX domain)")
        vals: List[Optional[object]] = []
        for name in n.inputs:
            if name == "":
                vals.append(None)
            elif name not in self.env:
                raise ConvertError(f"{n.where}: input {name!r} is not defined before this node "
                                   "(an undefined name, nodes out of topological order, or a cycle)")
            else:
                vals.append(self.env[name])
        for name in n.outputs:
            if name and name in self.env:
                raise ConvertError(f"{n.where}: output {name!r} is defined twice")
        if not n.outputs or not n.outputs[0]:
            raise ConvertError(f"{n.where}: the node has no output")
        if n.op == "If":
            return self._if(n, vals, depth)
        present = [v for v in vals if v is not None]
        if n.op == "Shape" and len(vals) == 1 and isinstance(vals[0], (_Tensor, _Pending)):
            return self._shape_of(n, vals[0])
        if n.op in _FOLD and all(isinstance(v, _Const) for v in present):
            return self._fold(n, vals)
        handler = _MAP.get(n.op)
        if handler is None:
            if n.op in _FOLD:
                raise ConvertError(f"{n.where}: {n.op} of a tensor computed from the input is not supported "
                                   "by Scalpel (only of constants)" + _HINTS.get(n.op, ""))
            raise ConvertError(f"{n.where}: not supported by Scalpel" + _HINTS.get(n.op, ""))
        handler(self, n, vals)

    def _set(self, n: _Node, value, index: int = 0) -> None:
        self.env[n.outputs[index]] = value

    def _unused_extra_outputs(self, n: _Node, first: int = 1) -> None:
        graph_outs = {o.name for o in self.graph.output}
        for name in n.outputs[first:]:
            if name and (name in self.used or name in graph_outs):
                raise ConvertError(f"{n.where}: its output {name!r} is used; only the first output is supported")

    # -- If --

    def _if(self, n: _Node, vals, depth: int) -> None:
        n.allow("then_branch", "else_branch")
        if len(vals) != 1 or not isinstance(vals[0], _Const):
            raise ConvertError(f"{n.where}: a condition computed from the input's values is not supported "
                               "(only conditions that constant folding decides)")
        cond = self._static(vals[0], n, "condition")
        if cond.size != 1:
            raise ConvertError(f"{n.where}: condition of shape {cond.shape}; expected one value")
        branch = n.g("then_branch" if bool(cond.reshape(-1)[0]) else "else_branch")
        if len(branch.output) != len(n.outputs):
            raise ConvertError(f"{n.where}: the branch has {len(branch.output)} outputs for {len(n.outputs)}")
        if len(branch.input):
            raise ConvertError(f"{n.where}: a branch with inputs is not valid ONNX")
        self._graph(branch, depth + 1)
        self.where = n.where
        for name, out in zip(n.outputs, branch.output):
            if out.name not in self.env:
                raise ConvertError(f"{n.where}: branch output {out.name!r} is not computed")
            if name:
                self.env[name] = self.env[out.name]

    # -- constants --

    def _static(self, c: _Const, n: _Node, what: str) -> np.ndarray:
        """The value of a constant that must not depend on the batch size."""
        if not c.fixed:
            raise ConvertError(f"{n.where}: {what} depends on the batch size; not supported")
        return c.a

    def _const_input(self, n: _Node, vals, i: int, what: str, required: bool = True) -> Optional[np.ndarray]:
        v = vals[i] if i < len(vals) else None
        if v is None:
            if required:
                raise ConvertError(f"{n.where}: {what} (input {i}) is missing")
            return None
        if not isinstance(v, _Const):
            raise ConvertError(f"{n.where}: {what} (input {i}, {n.inputs[i]!r}) must be a constant, "
                               "not a tensor computed from the input")
        return self._static(v, n, what)

    def _float_const(self, n: _Node, vals, i: int, what: str, required: bool = True) -> Optional[np.ndarray]:
        a = self._const_input(n, vals, i, what, required)
        if a is None:
            return None
        if not _is_float(a):
            raise ConvertError(f"{n.where}: {what} has type {a.dtype}; expected floating point")
        a = a.astype(np.float64)
        if not np.all(np.isfinite(a)):
            raise ConvertError(f"{n.where}: {what} holds NaN or infinite values")
        return a

    def _scalar(self, n: _Node, v, i: int, what: str) -> float:
        """A finite float constant of one value (any rank of ones)."""
        a = self._float_const(n, [None] * i + [v], i, what)
        if a.size != 1:
            raise ConvertError(f"{n.where}: {what} has shape {a.shape}; expected a single value")
        return float(a.reshape(-1)[0])

    def _fold(self, n: _Node, vals) -> None:
        """Evaluate a node of constants (for both batch sizes when they differ)."""
        fn = _FOLD[n.op]
        consts = [v for v in vals if v is not None]
        outs_a = fn(n, [None if v is None else v.a for v in vals])
        if all(c.a is c.b for c in consts):
            outs_b = outs_a
        else:
            outs_b = fn(n, [None if v is None else v.b for v in vals])
        if len(outs_a) < len([o for o in n.outputs if o]):
            raise ConvertError(f"{n.where}: {len(n.outputs)} outputs; {n.op} computes {len(outs_a)}")
        for i, name in enumerate(n.outputs):
            if not name:
                continue
            a, b = np.asarray(outs_a[i]), np.asarray(outs_b[i])
            if a.size > _MAX_FOLD_ELEMENTS:
                raise ConvertError(f"{n.where}: constant of {a.size} values is too large to fold")
            self.env[name] = _Const(a, a if outs_b is outs_a else b)

    def _shape_of(self, n: _Node, v) -> None:
        """Shape of a tensor: its per-sample shape after the batch (both batch sizes)."""
        n.allow("start", "end")
        ps = self._ps(v)
        full_a = np.array((self.batch_a,) + tuple(ps), dtype=np.int64)
        full_b = np.array((self.batch_b,) + tuple(ps), dtype=np.int64)
        r = len(ps) + 1
        start, end = n.i("start", 0), n.i("end", r)
        start = min(max(start + r if start < 0 else start, 0), r)
        end = min(max(end + r if end < 0 else end, 0), r)
        self._set(n, _Const(full_a[start:end], full_b[start:end]))

    def _ps(self, v) -> Tuple[int, ...]:
        if isinstance(v, _Tensor):
            return tuple(self.builder.logical_shape(v.name))
        return tuple(v.shape)

    # -- tensors --

    def _tensor_of(self, v, name: str, where: str) -> str:
        """The builder name of a tensor value (a pending MatMul becomes an fc here)."""
        if isinstance(v, _Tensor):
            return v.name
        if isinstance(v, _Pending):
            if v.kind == "matmul":
                if v.materialized is None:
                    v.materialized = self.builder.fc(v.src, v.data["out"], v.where, v.data["w"], None)
                return v.materialized
            raise ConvertError(f"{where}: input {name!r} is {_pending_text(v)}; this node does not "
                               "continue that pattern, so it is not supported")
        if isinstance(v, _Const):
            raise ConvertError(f"{where}: input {name!r} is a constant where a tensor computed from "
                               "the input is expected; not supported")
        raise ConvertError(f"{where}: input {name!r} is missing")

    def _tensor(self, n: _Node, vals, i: int = 0) -> str:
        if i >= len(vals) or vals[i] is None:
            raise ConvertError(f"{n.where}: input {i} is missing")
        return self._tensor_of(vals[i], n.inputs[i], n.where)

    def _arity(self, n: _Node, vals, lo: int, hi: int) -> None:
        if not lo <= len(vals) <= hi:
            raise ConvertError(f"{n.where}: {len(vals)} inputs; expected {lo}" + (f" to {hi}" if hi > lo else ""))
        for i in range(lo):
            if vals[i] is None:
                raise ConvertError(f"{n.where}: input {i} is missing")

    def _reshape_to(self, n: _Node, x: str, new_ps: Tuple[int, ...]) -> None:
        """A builder tensor given a new per-sample shape: the same (identity) or flattened."""
        ps = tuple(self.builder.logical_shape(x))
        new_ps = tuple(int(d) for d in new_ps)
        if new_ps == ps:
            self._set(n, _Tensor(x))
        elif len(ps) == 3 and new_ps == (ps[0] * ps[1] * ps[2],):
            self._set(n, _Tensor(self.builder.flatten(x, n.outputs[0], n.where)))
        else:
            raise ConvertError(f"{n.where}: reshaping {['N'] + list(ps)} to {['N'] + list(new_ps)} is not "
                               "supported (only flattening [N, C, H, W] to [N, C*H*W])")

    def _reshape_target(self, n: _Node, v, ps: Tuple[int, ...], c: _Const) -> Tuple[int, ...]:
        """The per-sample shape a Reshape of a tensor (per-sample shape ps) to the constant c
        gives, checking that the target keeps the batch dimension."""
        allowzero = n.i("allowzero", 0)
        ta, tb = c.a, c.b
        for t in (ta, tb):
            if t.dtype.kind not in "iu" or t.ndim != 1:
                raise ConvertError(f"{n.where}: shape input must be a 1-D integer tensor, got {t.dtype} {t.shape}")
        sa = _reshape_shape((self.batch_a,) + ps, ta, allowzero, n)
        if len(sa) < 1 or sa[0] != self.batch_a:
            raise ConvertError(f"{n.where}: reshaping {['N'] + list(ps)} to {list(ta)} does not keep the batch "
                               "dimension first; not supported")
        new_ps = tuple(sa[1:])
        ok_b = False
        try:
            sb = _reshape_shape((self.batch_b,) + ps, tb, allowzero, n)
            ok_b = tuple(sb) == (self.batch_b,) + new_ps
        except ConvertError:
            ok_b = False
        if not ok_b and not (self.static_batch and c.fixed):
            raise ConvertError(f"{n.where}: the target shape {list(ta)} holds the batch size as a number; "
                               "it would not keep the batch of other inputs (export with x.view(x.size(0), -1) "
                               "or torch.flatten)")
        if min(new_ps, default=1) < 1:
            raise ConvertError(f"{n.where}: reshaping to an empty tensor {list(sa)}")
        return new_ps


def _reshape_shape(in_shape, target, allowzero: int, n: _Node) -> Tuple[int, ...]:
    """ONNX Reshape's output shape (0: copy the input's size unless allowzero; -1: inferred)."""
    out = []
    infer = -1
    for i, d in enumerate(int(x) for x in target):
        if d == 0 and not allowzero:
            if i >= len(in_shape):
                raise ConvertError(f"{n.where}: target {list(target)} copies dimension {i} of a rank-{len(in_shape)} tensor")
            d = in_shape[i]
        elif d == -1:
            if infer >= 0:
                raise ConvertError(f"{n.where}: target {list(target)} has two -1")
            infer = i
        elif d < 0:
            raise ConvertError(f"{n.where}: target {list(target)} has a negative size")
        out.append(d)
    total = math.prod(in_shape)
    if infer >= 0:
        known = math.prod(d for i, d in enumerate(out) if i != infer)
        if known == 0 or total % known:
            raise ConvertError(f"{n.where}: cannot reshape {list(in_shape)} to {list(target)}")
        out[infer] = total // known
    if math.prod(out) != total:
        raise ConvertError(f"{n.where}: cannot reshape {list(in_shape)} ({total} values) to {list(target)}")
    return tuple(out)


# ---- constant folding: one numpy function per op ------------------------------------------

def _axis(n: _Node, axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise ConvertError(f"{n.where}: {what} {axis} out of range for rank {rank}")
    return axis + rank if axis < 0 else axis


def _axes_input(n: _Node, ins, index: int, attr: str = "axes") -> Optional[List[int]]:
    """Axes from the attribute (opset < 13) or the input `index` (opset >= 13)."""
    if n.opset < 13:
        n.allow(attr)
        return n.ints(attr)
    n.allow()
    a = ins[index] if index < len(ins) else None
    if a is None:
        return None
    if a.dtype.kind not in "iu" or a.ndim > 1:
        raise ConvertError(f"{n.where}: axes must be a 1-D integer tensor")
    return [int(v) for v in a.reshape(-1)]


def _need(n: _Node, ins, count: int, optional: int = 0):
    if not count <= len(ins) <= count + optional:
        raise ConvertError(f"{n.where}: {len(ins)} inputs; expected {count}" +
                           (f" to {count + optional}" if optional else ""))
    for i in range(count):
        if ins[i] is None:
            raise ConvertError(f"{n.where}: input {i} is missing")


def _check_size(n: _Node, shape) -> None:
    if math.prod(int(d) for d in shape) > _MAX_FOLD_ELEMENTS:
        raise ConvertError(f"{n.where}: constant of shape {list(shape)} is too large to fold")


def _ints(n: _Node, a, what: str) -> List[int]:
    if a.dtype.kind not in "iu" or a.ndim > 1:
        raise ConvertError(f"{n.where}: {what} must be a 1-D integer tensor, got {a.dtype} {a.shape}")
    return [int(v) for v in a.reshape(-1)]


def _f_constant(n, ins):
    _need(n, ins, 0)
    given = [k for k in n.attrs]
    if len(given) != 1:
        raise ConvertError(f"{n.where}: expected exactly one value attribute, got {given}")
    key = given[0]
    if key == "value":
        return [n.t("value")]
    if key == "value_float":
        return [np.array(n.f("value_float"), dtype=np.float32)]
    if key == "value_floats":
        return [np.array(n.floats("value_floats"), dtype=np.float32)]
    if key == "value_int":
        return [np.array(n.i("value_int"), dtype=np.int64)]
    if key == "value_ints":
        return [np.array(n.ints("value_ints"), dtype=np.int64)]
    raise ConvertError(f"{n.where}: attribute {key!r} is not supported")


def _f_shape(n, ins):
    n.allow("start", "end")
    _need(n, ins, 1)
    shape = np.array(ins[0].shape, dtype=np.int64)
    r = len(shape)
    start, end = n.i("start", 0), n.i("end", r)
    start = min(max(start + r if start < 0 else start, 0), r)
    end = min(max(end + r if end < 0 else end, 0), r)
    return [shape[start:end]]


def _f_identity(n, ins):
    n.allow()
    _need(n, ins, 1)
    return [ins[0]]


def _f_cast(n, ins):
    n.allow("to", "saturate")
    _need(n, ins, 1)
    to = n.i("to")
    if to not in _DTYPES:
        raise ConvertError(f"{n.where}: cast to type {to} is not supported")
    with np.errstate(all="ignore"):
        return [ins[0].astype(_DTYPES[to])]


def _f_gather(n, ins):
    n.allow("axis")
    _need(n, ins, 2)
    data, idx = ins
    if data.ndim < 1:
        raise ConvertError(f"{n.where}: gather from a scalar")
    axis = _axis(n, n.i("axis", 0), data.ndim)
    if idx.dtype.kind not in "iu":
        raise ConvertError(f"{n.where}: indices must be integers")
    dim = data.shape[axis]
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -dim or idx.max() >= dim):
        raise ConvertError(f"{n.where}: index out of range for a dimension of {dim}")
    _check_size(n, data.shape[:axis] + idx.shape + data.shape[axis + 1:])
    return [np.take(data, np.where(idx < 0, idx + dim, idx), axis=axis)]


def _f_unsqueeze(n, ins):
    _need(n, ins, 1, 1)
    axes = _axes_input(n, ins, 1)
    if not axes:
        raise ConvertError(f"{n.where}: axes are missing")
    x = ins[0]
    r = x.ndim + len(axes)
    axes = sorted(_axis(n, a, r) for a in axes)
    if len(set(axes)) != len(axes):
        raise ConvertError(f"{n.where}: repeated axes")
    for a in axes:
        x = np.expand_dims(x, a)
    return [x]


def _f_squeeze(n, ins):
    _need(n, ins, 1, 1)
    axes = _axes_input(n, ins, 1)
    x = ins[0]
    if axes is None:
        return [np.squeeze(x)]
    axes = sorted({_axis(n, a, x.ndim) for a in axes})
    for a in axes:
        if x.shape[a] != 1:
            raise ConvertError(f"{n.where}: cannot squeeze axis {a} of size {x.shape[a]}")
    return [np.squeeze(x, axis=tuple(axes))]


def _f_concat(n, ins):
    n.allow("axis")
    if not ins or any(v is None for v in ins):
        raise ConvertError(f"{n.where}: missing inputs")
    if len({v.ndim for v in ins}) != 1 or ins[0].ndim < 1:
        raise ConvertError(f"{n.where}: inputs of different ranks {[v.shape for v in ins]}")
    if len({v.dtype for v in ins}) != 1:
        raise ConvertError(f"{n.where}: inputs of different types")
    axis = _axis(n, n.i("axis"), ins[0].ndim) if "axis" in n.attrs else None
    if axis is None:
        raise ConvertError(f"{n.where}: attribute 'axis' is missing")
    for v in ins:
        if v.shape[:axis] + v.shape[axis + 1:] != ins[0].shape[:axis] + ins[0].shape[axis + 1:]:
            raise ConvertError(f"{n.where}: shapes {[v.shape for v in ins]} do not concatenate on axis {axis}")
    return [np.concatenate(ins, axis=axis)]


def _f_reshape(n, ins):
    n.allow("allowzero")
    _need(n, ins, 2)
    x, t = ins
    shape = _reshape_shape(x.shape, _ints(n, t, "shape"), n.i("allowzero", 0), n)
    return [x.reshape(shape)]


def _f_slice(n, ins):
    n.allow()
    _need(n, ins, 3, 2)
    x = ins[0]
    starts, ends = _ints(n, ins[1], "starts"), _ints(n, ins[2], "ends")
    axes = _ints(n, ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
    steps = _ints(n, ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise ConvertError(f"{n.where}: starts, ends, axes and steps differ in length")
    sl = [slice(None)] * x.ndim
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _axis(n, a, x.ndim)
        if a in seen or st == 0:
            raise ConvertError(f"{n.where}: repeated axis or zero step")
        seen.add(a)
        d = x.shape[a]
        s = s + d if s < 0 else s
        e = e + d if e < 0 else e
        if st > 0:
            s, e = min(max(s, 0), d), min(max(e, 0), d)
            sl[a] = slice(s, e, st)
        else:
            s, e = min(max(s, 0), d - 1), min(max(e, -1), d - 1)
            sl[a] = slice(s, e if e >= 0 else None, st)
    return [x[tuple(sl)]]


def _f_constant_of_shape(n, ins):
    n.allow("value")
    _need(n, ins, 1)
    shape = _ints(n, ins[0], "shape")
    if any(d < 0 for d in shape):
        raise ConvertError(f"{n.where}: negative size in {shape}")
    _check_size(n, shape)
    value = n.t("value")
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    if value.size != 1:
        raise ConvertError(f"{n.where}: value must hold one element")
    return [np.full(shape, value.reshape(-1)[0], dtype=value.dtype)]


def _f_transpose(n, ins):
    n.allow("perm")
    _need(n, ins, 1)
    x = ins[0]
    perm = n.ints("perm", list(range(x.ndim))[::-1])
    if sorted(perm) != list(range(x.ndim)):
        raise ConvertError(f"{n.where}: perm {perm} is not a permutation of {x.ndim} axes")
    return [np.transpose(x, perm)]


def _f_range(n, ins):
    n.allow()
    _need(n, ins, 3)
    if any(v.size != 1 for v in ins) or len({v.dtype for v in ins}) != 1:
        raise ConvertError(f"{n.where}: start, limit and delta must be scalars of one type")
    start, limit, delta = (v.reshape(-1)[0] for v in ins)
    if delta == 0 or not all(np.isfinite(float(v)) for v in (start, limit, delta)):
        raise ConvertError(f"{n.where}: zero or non-finite delta")
    count = max(int(math.ceil((float(limit) - float(start)) / float(delta))), 0)
    _check_size(n, (count,))
    return [(start + np.arange(count) * delta).astype(ins[0].dtype)]


def _broadcast(n, ins):
    try:
        shape = np.broadcast_shapes(*(v.shape for v in ins))
    except ValueError:
        raise ConvertError(f"{n.where}: shapes {[v.shape for v in ins]} do not broadcast") from None
    _check_size(n, shape)
    return shape


def _binary(fn, same_type: bool = True, logical: bool = False):
    def f(n, ins):
        n.allow()
        _need(n, ins, 2)
        a, b = ins
        if same_type and a.dtype != b.dtype:
            raise ConvertError(f"{n.where}: operands of types {a.dtype} and {b.dtype}")
        if logical and (a.dtype != np.bool_ or b.dtype != np.bool_):
            raise ConvertError(f"{n.where}: operands must be booleans")
        _broadcast(n, ins)
        with np.errstate(all="ignore"):
            return [np.asarray(fn(n, a, b))]
    return f


def _div(n, a, b):
    if a.dtype.kind in "iu":
        if np.any(b == 0):
            raise ConvertError(f"{n.where}: integer division by zero")
        q = np.abs(a) // np.abs(b)                 # ONNX truncates towards zero
        return (np.where((a < 0) != (b < 0), -q, q)).astype(a.dtype)
    return (a / b).astype(a.dtype)


def _f_unary(fn, kinds: str = "fiu"):
    def f(n, ins):
        n.allow()
        _need(n, ins, 1)
        if ins[0].dtype.kind not in kinds:
            raise ConvertError(f"{n.where}: input of type {ins[0].dtype}")
        with np.errstate(all="ignore"):
            return [np.asarray(fn(ins[0])).astype(ins[0].dtype)]
    return f


def _f_where(n, ins):
    n.allow()
    _need(n, ins, 3)
    c, x, y = ins
    if c.dtype != np.bool_ or x.dtype != y.dtype:
        raise ConvertError(f"{n.where}: condition must be boolean and both values of one type")
    _broadcast(n, ins)
    return [np.where(c, x, y)]


def _f_expand(n, ins):
    n.allow()
    _need(n, ins, 2)
    shape = _ints(n, ins[1], "shape")
    if any(d < 0 for d in shape):
        raise ConvertError(f"{n.where}: negative size in {shape}")
    # (a zero-strided view stands for the target shape: nothing of its size is allocated)
    out = _broadcast(n, [ins[0], np.broadcast_to(np.zeros((), np.bool_), shape)])
    return [np.array(np.broadcast_to(ins[0], out))]


def _f_pow(n, a, b):
    return np.power(a.astype(np.float64), b.astype(np.float64)).astype(a.dtype)


_FOLD = {
    "Constant": _f_constant,
    "Shape": _f_shape,
    "Identity": _f_identity,
    "Cast": _f_cast,
    "Gather": _f_gather,
    "Unsqueeze": _f_unsqueeze,
    "Squeeze": _f_squeeze,
    "Concat": _f_concat,
    "Reshape": _f_reshape,
    "Slice": _f_slice,
    "ConstantOfShape": _f_constant_of_shape,
    "Transpose": _f_transpose,
    "Range": _f_range,
    "Add": _binary(lambda n, a, b: (a + b).astype(a.dtype)),
    "Sub": _binary(lambda n, a, b: (a - b).astype(a.dtype)),
    "Mul": _binary(lambda n, a, b: (a * b).astype(a.dtype)),
    "Div": _binary(_div),
    "Pow": _binary(_f_pow, same_type=False),
    "Equal": _binary(lambda n, a, b: a == b),
    "Less": _binary(lambda n, a, b: a < b),
    "Greater": _binary(lambda n, a, b: a > b),
    "And": _binary(lambda n, a, b: a & b, logical=True),
    "Or": _binary(lambda n, a, b: a | b, logical=True),
    "Not": _f_unary(np.logical_not, "b"),
    "Neg": _f_unary(np.negative, "fi"),
    "Abs": _f_unary(np.abs),
    "Sqrt": _f_unary(np.sqrt, "f"),
    "Floor": _f_unary(np.floor, "f"),
    "Ceil": _f_unary(np.ceil, "f"),
    "Where": _f_where,
    "Expand": _f_expand,
}


# ---- mapping: windows (Conv, pools) -------------------------------------------------------

def _window_attrs(n: _Node, k: Sequence[int], in_hw: Sequence[int], dilation: Sequence[int]):
    """(strides, pads (top, left, bottom, right), auto_pad) of a 2-D window from the node's
    attributes; SAME_UPPER / SAME_LOWER computed from the input size."""
    strides = n.ints("strides", [1, 1])
    if len(strides) != 2 or min(strides) < 1:
        raise ConvertError(f"{n.where}: strides {strides}: expected two values >= 1")
    auto = n.s("auto_pad", "NOTSET")
    pads = n.ints("pads")
    if auto not in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        raise ConvertError(f"{n.where}: auto_pad {auto!r} is not supported")
    if auto != "NOTSET":
        if pads is not None and any(pads):
            raise ConvertError(f"{n.where}: auto_pad {auto} together with explicit pads {pads}")
        if auto == "VALID":
            return strides, (0, 0, 0, 0), auto
        begin, end = [], []
        for size, kk, s, d in zip(in_hw, k, strides, dilation):
            total = max((-(-size // s) - 1) * s + (kk - 1) * d + 1 - size, 0)
            small = total // 2
            big = total - small
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        return strides, (begin[0], begin[1], end[0], end[1]), auto
    if pads is None:
        pads = [0, 0, 0, 0]
    if len(pads) != 4:
        raise ConvertError(f"{n.where}: pads {pads}: expected four values (2-D)")
    if min(pads) < 0:
        raise ConvertError(f"{n.where}: negative pads {pads} are not supported")
    # ONNX: [x1_begin, x2_begin, x1_end, x2_end] = (top, left, bottom, right)
    return strides, tuple(pads), auto


def _onnx_out(n: _Node, size: int, k: int, s: int, d: int, pb: int, pe: int, auto: str, ceil: bool) -> int:
    """ONNX's output size of a window along one axis."""
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        return -(-size // s)
    span = size + pb + pe - ((k - 1) * d + 1)
    if span < 0:
        raise ConvertError(f"{n.where}: the window does not fit the padded input")
    return (-(-span // s) if ceil else span // s) + 1


def _m_conv(c: _Converter, n: _Node, vals) -> None:
    n.allow("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides")
    c._arity(n, vals, 2, 3)
    x = c._tensor(n, vals, 0)
    w = c._float_const(n, vals, 1, "weight")
    b = c._float_const(n, vals, 2, "bias", required=False)
    if w.ndim != 4:
        raise ConvertError(f"{n.where}: weight of shape {list(w.shape)}: only 2-D convolutions are supported")
    if c.builder.rank(x) != 4:
        raise ConvertError(f"{n.where}: input {n.inputs[0]!r} is not a 4-D map")
    ks = n.ints("kernel_shape")
    if ks is not None and list(ks) != list(w.shape[2:]):
        raise ConvertError(f"{n.where}: kernel_shape {ks} differs from the weight's {list(w.shape[2:])}")
    dil = n.ints("dilations", [1, 1])
    if len(dil) != 2 or min(dil) < 1:
        raise ConvertError(f"{n.where}: dilations {dil}: expected two values >= 1")
    _, H, W = c.builder.shape(x)
    strides, pads, auto = _window_attrs(n, w.shape[2:], (H, W), dil)
    out = c.builder.conv(x, n.outputs[0], n.where, w, b, stride=strides, pads=pads, dilation=dil,
                         groups=n.i("group", 1))
    want = (_onnx_out(n, H, w.shape[2], strides[0], dil[0], pads[0], pads[2], auto, False),
            _onnx_out(n, W, w.shape[3], strides[1], dil[1], pads[1], pads[3], auto, False))
    if tuple(c.builder.shape(out)[1:]) != want:
        raise ConvertError(f"{n.where}: output size {want} differs from the C library's {c.builder.shape(out)[1:]}")
    c._set(n, _Tensor(out))


def _m_pool(c: _Converter, n: _Node, vals) -> None:
    is_max = n.op == "MaxPool"
    if is_max:
        n.allow("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides")
        c._unused_extra_outputs(n)
        if n.i("storage_order", 0) != 0:
            raise ConvertError(f"{n.where}: storage_order {n.i('storage_order')} is not supported")
        dil = n.ints("dilations", [1] * len(n.ints("kernel_shape", [])))
        if any(d != 1 for d in dil):
            raise ConvertError(f"{n.where}: dilations {dil} are not supported (only 1)")
    else:
        n.allow("auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides")
    c._arity(n, vals, 1, 1)
    v = vals[0]
    if isinstance(v, _Pending) and not is_max:
        return _lrn_pool(c, n, v)
    x = c._tensor(n, vals, 0)
    k = n.ints("kernel_shape")
    if k is None or len(k) != 2 or min(k) < 1:
        raise ConvertError(f"{n.where}: kernel_shape {k}: only 2-D pooling is supported")
    if c.builder.rank(x) != 4:
        raise ConvertError(f"{n.where}: input {n.inputs[0]!r} is not a 4-D map")
    _, H, W = c.builder.shape(x)
    strides, pads, auto = _window_attrs(n, k, (H, W), (1, 1))
    ceil = n.i("ceil_mode", 0)
    if ceil not in (0, 1):
        raise ConvertError(f"{n.where}: ceil_mode {ceil}: expected 0 or 1")
    count = n.i("count_include_pad", 0)
    if count not in (0, 1):
        raise ConvertError(f"{n.where}: count_include_pad {count}: expected 0 or 1")
    out = c.builder.pool(x, n.outputs[0], n.where, "max" if is_max else "avg", k, strides, pads,
                         ceil=bool(ceil) and auto == "NOTSET", count_pads=bool(count))
    want = (_onnx_out(n, H, k[0], strides[0], 1, pads[0], pads[2], auto, bool(ceil)),
            _onnx_out(n, W, k[1], strides[1], 1, pads[1], pads[3], auto, bool(ceil)))
    got = tuple(c.builder.shape(out)[1:])
    if got != want:
        raise ConvertError(f"{n.where}: ceil_mode: ONNX gives an output of {want[0]}x{want[1]}, the C library "
                           f"(PyTorch's rule: the last window starts inside the input or its leading padding) "
                           f"{got[0]}x{got[1]}; not supported")
    c._set(n, _Tensor(out))


def _m_global_avgpool(c: _Converter, n: _Node, vals) -> None:
    n.allow()
    c._arity(n, vals, 1, 1)
    x = c._tensor(n, vals, 0)
    c._set(n, _Tensor(c.builder.global_avgpool(x, n.outputs[0], n.where, keep_dims=True)))


def _m_reduce_mean(c: _Converter, n: _Node, vals) -> None:
    n.allow("axes", "keepdims")
    c._arity(n, vals, 1, 1)
    x = c._tensor(n, vals, 0)
    axes = n.ints("axes")
    rank = len(c.builder.logical_shape(x)) + 1
    if axes is None or rank != 4 or sorted({_axis(n, a, rank, "axes") for a in axes}) != [2, 3] or len(axes) != 2:
        raise ConvertError(f"{n.where}: axes {axes}: only the mean over H and W (axes 2 and 3) of a 4-D map "
                           "is supported")
    keep = n.i("keepdims", 1)
    if keep not in (0, 1):
        raise ConvertError(f"{n.where}: keepdims {keep}: expected 0 or 1")
    c._set(n, _Tensor(c.builder.global_avgpool(x, n.outputs[0], n.where, keep_dims=bool(keep))))


# ---- mapping: weighted layers and batch norm ------------------------------------------------

def _m_gemm(c: _Converter, n: _Node, vals) -> None:
    n.allow("alpha", "beta", "transA", "transB")
    c._arity(n, vals, 2, 3)
    x = c._tensor(n, vals, 0)
    if n.i("transA", 0) != 0:
        raise ConvertError(f"{n.where}: transA {n.i('transA')} is not supported (only 0)")
    tb = n.i("transB", 0)
    if tb not in (0, 1):
        raise ConvertError(f"{n.where}: transB {tb}: expected 0 or 1")
    if c.builder.rank(x) != 2:
        raise ConvertError(f"{n.where}: input {n.inputs[0]!r} is a 4-D map; Gemm needs [N, F] (flatten it first)")
    w = c._float_const(n, vals, 1, "B (the weight)")
    if w.ndim != 2:
        raise ConvertError(f"{n.where}: weight of shape {list(w.shape)}; expected 2-D")
    w = w if tb else w.T
    alpha, beta = n.f("alpha", 1.0), n.f("beta", 1.0)
    bias = c._float_const(n, vals, 2, "C (the bias)", required=False)
    b = None if bias is None else beta * _bias_vector(n, bias, w.shape[0])
    c._set(n, _Tensor(c.builder.fc(x, n.outputs[0], n.where, alpha * w, b)))


def _bias_vector(n: _Node, bias: np.ndarray, outputs: int) -> np.ndarray:
    """A constant broadcast over [N, outputs] as one value per output (batch-independent)."""
    if bias.ndim > 2 or (bias.ndim == 2 and bias.shape[0] != 1) or \
            (bias.ndim >= 1 and bias.shape[-1] not in (1, outputs)):
        raise ConvertError(f"{n.where}: bias of shape {list(bias.shape)} does not broadcast to one value "
                           f"per output ({outputs})")
    return np.broadcast_to(bias.reshape(-1) if bias.ndim else bias, (outputs,)).astype(np.float64)


def _m_matmul(c: _Converter, n: _Node, vals) -> None:
    n.allow()
    c._arity(n, vals, 2, 2)
    if not isinstance(vals[1], _Const):
        raise ConvertError(f"{n.where}: MatMul of two tensors computed from the input is not supported by "
                           "Scalpel (only a tensor times a constant matrix)")
    x = c._tensor(n, vals, 0)
    w = c._float_const(n, vals, 1, "right operand")
    if w.ndim != 2:
        raise ConvertError(f"{n.where}: right operand of shape {list(w.shape)}; expected a 2-D matrix")
    if c.builder.rank(x) != 2:
        raise ConvertError(f"{n.where}: input {n.inputs[0]!r} is a 4-D map (MatMul over its last axis); "
                           "only [N, F] inputs are supported")
    F = c.builder.logical_shape(x)[0]
    if w.shape[0] != F:
        raise ConvertError(f"{n.where}: matrix of shape {list(w.shape)} for {F} input features")
    c._set(n, _Pending("matmul", x, (w.shape[1],), n.where, {"w": w.T, "out": n.outputs[0]}))


def _m_batchnorm(c: _Converter, n: _Node, vals) -> None:
    n.allow("epsilon", "momentum", "training_mode")
    c._unused_extra_outputs(n)
    if n.i("training_mode", 0) != 0:
        raise ConvertError(f"{n.where}: training_mode {n.i('training_mode')} is not supported (inference only)")
    c._arity(n, vals, 5, 5)
    x = c._tensor(n, vals, 0)
    gamma, beta, mean, var = (c._float_const(n, vals, i, what) for i, what in
                              ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
    if not (gamma.ndim == 1 and gamma.shape == beta.shape == mean.shape == var.shape):
        raise ConvertError(f"{n.where}: scale, B, mean and var must be vectors of one size, got "
                           f"{[list(v.shape) for v in (gamma, beta, mean, var)]}")
    eps = n.f("epsilon", 1e-5)
    with np.errstate(all="ignore"):
        scale = gamma / np.sqrt(var + eps)
        shift = beta - mean * scale
    c._set(n, _Tensor(c.builder.batchnorm(x, n.outputs[0], n.where, scale, shift)))


# ---- mapping: activations -------------------------------------------------------------------

def _m_unary(kind: str):
    def m(c: _Converter, n: _Node, vals) -> None:
        n.allow()
        c._arity(n, vals, 1, 1)
        x = c._tensor(n, vals, 0)
        c._set(n, _Tensor(c.builder.unary(x, n.outputs[0], n.where, kind)))
    return m


def _m_leaky(c: _Converter, n: _Node, vals) -> None:
    n.allow("alpha")
    c._arity(n, vals, 1, 1)
    x = c._tensor(n, vals, 0)
    c._set(n, _Tensor(c.builder.leaky_relu(x, n.outputs[0], n.where, n.f("alpha", 0.01))))


def _m_prelu(c: _Converter, n: _Node, vals) -> None:
    """PRelu with one slope for every element is a leaky ReLU; a slope per channel is not."""
    n.allow()
    c._arity(n, vals, 2, 2)
    x = c._tensor(n, vals, 0)
    slope = c._float_const(n, vals, 1, "slope")
    if slope.size != 1:
        raise ConvertError(f"{n.where}: {slope.size} slopes (one per channel): only one slope (a leaky ReLU) is "
                           "supported")
    c._set(n, _Tensor(c.builder.leaky_relu(x, n.outputs[0], n.where, float(slope.reshape(-1)[0]))))


def _m_clip(c: _Converter, n: _Node, vals) -> None:
    n.allow("min", "max")
    c._arity(n, vals, 1, 3)
    x = c._tensor(n, vals, 0)
    if n.attrs and len(vals) > 1:
        raise ConvertError(f"{n.where}: bounds given both as attributes and as inputs")
    lo = n.f("min") if "min" in n.attrs else None
    hi = n.f("max") if "max" in n.attrs else None
    if len(vals) > 1 and vals[1] is not None:
        lo = _clip_bound(c, n, vals, 1, "min")
    if len(vals) > 2 and vals[2] is not None:
        hi = _clip_bound(c, n, vals, 2, "max")
    if lo is not None and lo == -math.inf:
        lo = None
    if hi is not None and hi == math.inf:
        hi = None
    if lo is None:
        raise ConvertError(f"{n.where}: a clip without a lower bound (min) is not supported")
    if hi is None:
        if lo != 0.0:
            raise ConvertError(f"{n.where}: a clip without an upper bound (max) is supported only with min 0 (ReLU)")
        hi = _F32_MAX
    c._set(n, _Tensor(c.builder.clip(x, n.outputs[0], n.where, lo, hi)))


def _clip_bound(c: _Converter, n: _Node, vals, i: int, what: str) -> float:
    a = c._const_input(n, vals, i, what)
    if not _is_float(a) or a.size != 1:
        raise ConvertError(f"{n.where}: {what} must be one floating-point value, got {a.dtype} {list(a.shape)}")
    v = float(a.reshape(-1)[0])
    if math.isnan(v):
        raise ConvertError(f"{n.where}: {what} is NaN")
    return v


def _m_softmax(c: _Converter, n: _Node, vals) -> None:
    n.allow("axis")
    c._arity(n, vals, 1, 1)
    v = vals[0]
    if isinstance(v, _Pending) and v.kind == "transposed":
        return _softmax_transposed(c, n, v)
    x = c._tensor(n, vals, 0)
    ps = c.builder.logical_shape(x)
    rank = len(ps) + 1
    axis = _axis(n, n.i("axis", 1 if n.opset < 13 else -1), rank)
    if n.opset < 13 and axis == 1 and math.prod(ps[1:]) != 1:
        raise ConvertError(f"{n.where}: opset {n.opset} Softmax with axis 1 normalises over C*H*W of "
                           f"{['N'] + list(ps)} jointly (not per channel); not supported (export with opset >= 13)")
    if n.opset < 13 and axis != 1:
        raise ConvertError(f"{n.where}: opset {n.opset} Softmax over axis {axis} of {['N'] + list(ps)}: "
                           "only the channel axis (1) is supported")
    c._set(n, _Tensor(c.builder.softmax(x, n.outputs[0], n.where, axis)))


def _m_transpose(c: _Converter, n: _Node, vals) -> None:
    """Transpose of a feature map: only around a Softmax, as opset < 13 exports of
    Softmax(dim=1) on [N, C, H, W] write it (Transpose, Softmax on the last axis, Transpose)."""
    n.allow("perm")
    c._arity(n, vals, 1, 1)
    v = vals[0]
    ps = c._ps(v) if isinstance(v, (_Tensor, _Pending)) else None
    if ps is None:
        c._tensor(n, vals, 0)
    rank = len(ps) + 1
    perm = n.ints("perm", list(range(rank))[::-1])
    if sorted(perm) != list(range(rank)):
        raise ConvertError(f"{n.where}: perm {perm} is not a permutation of {rank} axes")
    full = (None,) + tuple(ps)
    if isinstance(v, _Pending) and v.kind == "tsoftmax":
        first = v.data["perm"]
        if [first[q] for q in perm] != list(range(rank)):
            raise ConvertError(f"{n.where}: perm {perm} does not undo the transposition {first} of "
                               f"{_pending_text(v)}")
        return c._set(n, _Tensor(c.builder.softmax(v.src, n.outputs[0], n.where, 1)))
    x = c._tensor(n, vals, 0)
    if perm[0] != 0:
        raise ConvertError(f"{n.where}: perm {perm} moves the batch axis; not supported by Scalpel")
    c._set(n, _Pending("transposed", x, tuple(full[q] for q in perm[1:]), n.where, {"perm": perm}))


def _softmax_transposed(c: _Converter, n: _Node, p: _Pending) -> None:
    rank = len(p.shape) + 1
    axis = _axis(n, n.i("axis", 1 if n.opset < 13 else -1), rank)
    if p.data["perm"][axis] != 1 or (n.opset < 13 and axis != rank - 1):
        raise ConvertError(f"{n.where}: softmax over axis {axis} of {_pending_text(p)}: only a softmax over "
                           "the original channel axis is supported")
    c._set(n, _Pending("tsoftmax", p.src, p.shape, n.where, dict(p.data)))


def _m_hard_sigmoid(c: _Converter, n: _Node, vals) -> None:
    n.allow("alpha", "beta")
    c._arity(n, vals, 1, 1)
    x = c._tensor(n, vals, 0)
    c._set(n, _Pending("hsig", x, c._ps(_Tensor(x)), n.where,
                       {"alpha": n.f("alpha", 0.2), "beta": n.f("beta", 0.5)}))


def _m_lrn(c: _Converter, n: _Node, vals) -> None:
    n.allow("alpha", "beta", "bias", "size")
    c._arity(n, vals, 1, 1)
    x = c._tensor(n, vals, 0)
    size = n.i("size")
    if size is None:
        raise ConvertError(f"{n.where}: attribute 'size' is missing")
    c._set(n, _Tensor(c.builder.lrn(x, n.outputs[0], n.where, size, n.f("alpha", 1e-4), n.f("beta", 0.75),
                                    n.f("bias", 1.0), within_channel=False)))


# ---- mapping: structure (pad, add, concat, reshapes, identities) ----------------------------

def _pad_amounts(c: _Converter, n: _Node, vals, rank: int) -> List[int]:
    """The pads of a constant-mode zero Pad (checked), 2 * rank values."""
    n.allow("mode")
    mode = n.s("mode", "constant")
    if mode != "constant":
        raise ConvertError(f"{n.where}: mode {mode!r} is not supported (only constant zero padding)")
    c._arity(n, vals, 2, 3)
    pads = c._const_input(n, vals, 1, "pads")
    pads = _ints(n, pads, "pads")
    if len(pads) != 2 * rank:
        raise ConvertError(f"{n.where}: {len(pads)} pads for a rank-{rank} tensor")
    if len(vals) > 2 and vals[2] is not None:
        value = c._const_input(n, vals, 2, "constant_value")
        if value.size != 1 or float(value.reshape(-1)[0]) != 0.0:
            raise ConvertError(f"{n.where}: constant_value {value.reshape(-1)[:4].tolist()} is not supported "
                               "(only zero padding)")
    if min(pads) < 0:
        raise ConvertError(f"{n.where}: negative pads {pads} (cropping) are not supported")
    return pads


def _m_pad(c: _Converter, n: _Node, vals) -> None:
    if len(vals) >= 1 and isinstance(vals[0], _Pending) and vals[0].kind != "matmul":
        return _lrn_pad(c, n, vals)
    x = c._tensor(n, vals, 0)
    ps = c.builder.logical_shape(x)
    pads = _pad_amounts(c, n, vals, len(ps) + 1)
    r = len(ps) + 1
    if r != 4 or pads[0] or pads[1] or pads[4] or pads[5]:
        raise ConvertError(f"{n.where}: pads {pads}: only padding of H and W of a 4-D map is supported")
    if not any(pads):
        return c._set(n, _Tensor(x))
    c._set(n, _Tensor(c.builder.pad(x, n.outputs[0], n.where, (pads[2], pads[3], pads[6], pads[7]))))


def _m_add(c: _Converter, n: _Node, vals) -> None:
    n.allow()
    c._arity(n, vals, 2, 2)
    a, b = vals
    if isinstance(a, _Const) or isinstance(b, _Const):
        t, k, ki = (b, a, 0) if isinstance(a, _Const) else (a, b, 1)
        if isinstance(t, _Pending) and t.kind == "matmul" and t.materialized is None:
            bias = _bias_vector(n, c._float_const(n, vals, ki, "bias"), t.shape[0])
            return c._set(n, _Tensor(c.builder.fc(t.src, n.outputs[0], n.where, t.data["w"], bias)))
        if isinstance(t, _Pending) and t.kind == "scaled":
            return c._set(n, _lrn_step(c, n, t, "shifted", "k", c._scalar(n, k, ki, "k (the added constant)")))
        raise ConvertError(f"{n.where}: adding a constant to a tensor is not supported by Scalpel outside "
                           "the recognised patterns (MatMul + bias, local response normalization)")
    xa = c._tensor(n, vals, 0)
    xb = c._tensor(n, vals, 1)
    c._set(n, _Tensor(c.builder.add(xa, xb, n.outputs[0], n.where)))


def _m_mul(c: _Converter, n: _Node, vals) -> None:
    n.allow()
    c._arity(n, vals, 2, 2)
    a, b = vals
    for t, o in ((a, b), (b, a)):       # Mul(x, HardSigmoid(x)), either order
        if isinstance(t, _Pending) and t.kind == "hsig" and isinstance(o, _Tensor) and o.name == t.src:
            alpha, beta = t.data["alpha"], t.data["beta"]
            if np.float32(alpha) != np.float32(1.0 / 6.0) or beta != 0.5:
                raise ConvertError(f"{t.where}: HardSigmoid(alpha={alpha}, beta={beta}) times its input is "
                                   "hardswish only with alpha = 1/6 and beta = 0.5")
            return c._set(n, _Tensor(c.builder.unary(o.name, n.outputs[0], n.where, "hardswish")))
    if isinstance(a, _Tensor) and isinstance(b, _Tensor) and a.name == b.name:
        x = a.name
        return c._set(n, _Pending("sq", x, c._ps(a), n.where))
    for ti, (t, k) in enumerate(((a, b), (b, a))):
        if isinstance(t, _Pending) and t.kind == "avg" and isinstance(k, _Const):
            return c._set(n, _lrn_step(c, n, t, "scaled", "alpha", c._scalar(n, k, 1 - ti, "alpha (the factor)")))
    if isinstance(a, _Const) or isinstance(b, _Const):
        raise ConvertError(f"{n.where}: multiplying a tensor by a constant is not supported by Scalpel outside "
                           "the recognised patterns (local response normalization)")
    for i in (0, 1):
        c._tensor(n, vals, i)        # names a pending input that this Mul does not continue
    raise ConvertError(f"{n.where}: the product of two tensors is not supported by Scalpel "
                       "(only Mul(x, HardSigmoid(x)) and Mul(x, x) in a local response normalization)")


def _m_pow(c: _Converter, n: _Node, vals) -> None:
    n.allow()
    c._arity(n, vals, 2, 2)
    t, k = vals
    if isinstance(t, _Pending) and t.kind == "shifted" and isinstance(k, _Const):
        return c._set(n, _lrn_step(c, n, t, "powed", "beta", c._scalar(n, k, 1, "beta (the exponent)")))
    raise ConvertError(f"{n.where}: Pow is not supported by Scalpel outside a local response normalization")


def _m_div(c: _Converter, n: _Node, vals) -> None:
    n.allow()
    c._arity(n, vals, 2, 2)
    a, b = vals
    if isinstance(a, _Tensor) and isinstance(b, _Pending) and b.kind == "powed":
        return _lrn_finish(c, n, a, b)
    raise ConvertError(f"{n.where}: Div is not supported by Scalpel outside a local response normalization "
                       "(x / (k + alpha * mean of x^2)^beta)")


def _m_sub(c: _Converter, n: _Node, vals) -> None:
    raise ConvertError(f"{n.where}: Sub of a tensor computed from the input is not supported by Scalpel")


def _m_concat(c: _Converter, n: _Node, vals) -> None:
    n.allow("axis")
    if not vals or any(v is None for v in vals):
        raise ConvertError(f"{n.where}: missing inputs")
    xs = [c._tensor(n, vals, i) for i in range(len(vals))]
    if "axis" not in n.attrs:
        raise ConvertError(f"{n.where}: attribute 'axis' is missing")
    ranks = {len(c.builder.logical_shape(x)) + 1 for x in xs}
    if len(ranks) != 1:
        raise ConvertError(f"{n.where}: inputs of different ranks")
    axis = _axis(n, n.i("axis"), ranks.pop())
    c._set(n, _Tensor(c.builder.concat(xs, n.outputs[0], n.where, axis)))


def _m_flatten(c: _Converter, n: _Node, vals) -> None:
    n.allow("axis")
    c._arity(n, vals, 1, 1)
    x = c._tensor(n, vals, 0)
    ps = c.builder.logical_shape(x)
    axis = n.i("axis", 1)
    rank = len(ps) + 1
    if not -rank <= axis <= rank or (axis + rank if axis < 0 else axis) != 1:
        raise ConvertError(f"{n.where}: axis {axis}: only Flatten(axis=1) (keeping the batch) is supported")
    c._reshape_to(n, x, (math.prod(ps),))


def _m_reshape(c: _Converter, n: _Node, vals) -> None:
    n.allow("allowzero")
    c._arity(n, vals, 2, 2)
    v = vals[0]
    if not isinstance(vals[1], _Const):
        raise ConvertError(f"{n.where}: the target shape must be a constant (or computed from shapes)")
    if isinstance(v, _Pending) and v.kind != "matmul":
        new_ps = c._reshape_target(n, v, v.shape, vals[1])
        return _lrn_reshape(c, n, v, new_ps)
    x = c._tensor(n, vals, 0)
    ps = tuple(c.builder.logical_shape(x))
    c._reshape_to(n, x, c._reshape_target(n, vals[0], ps, vals[1]))


def _m_squeeze_unsqueeze(c: _Converter, n: _Node, vals) -> None:
    c._arity(n, vals, 1, 2)
    axes_v = None
    if n.opset < 13:
        n.allow("axes")
        axes_v = n.ints("axes")
        if len(vals) > 1:
            raise ConvertError(f"{n.where}: opset {n.opset} takes axes as an attribute")
    else:
        n.allow()
        a = c._const_input(n, vals, 1, "axes", required=False)
        axes_v = None if a is None else _ints(n, a, "axes")
    v = vals[0]
    ps = c._ps(v) if isinstance(v, (_Tensor, _Pending)) else None
    if ps is None:
        c._tensor(n, vals, 0)
    rank = len(ps) + 1
    if n.op == "Squeeze":
        if axes_v is None:
            raise ConvertError(f"{n.where}: Squeeze without axes (it could drop the batch) is not supported")
        axes = sorted({_axis(n, a, rank, "axes") for a in axes_v})
        full = [None] + list(ps)
        if 0 in axes or any(full[a] != 1 for a in axes):
            raise ConvertError(f"{n.where}: cannot squeeze axes {axes_v} of {['N'] + list(ps)}")
        new_ps = tuple(d for i, d in enumerate(full) if i not in axes and i != 0)
    else:
        if not axes_v:
            raise ConvertError(f"{n.where}: Unsqueeze without axes")
        out_rank = rank + len(axes_v)
        axes = sorted({_axis(n, a, out_rank, "axes") for a in axes_v})
        if len(axes) != len(axes_v) or 0 in axes:
            raise ConvertError(f"{n.where}: axes {axes_v}: repeated, or before the batch dimension")
        it = iter(ps)
        new_ps = tuple(1 if i in axes else next(it) for i in range(1, out_rank))
    if isinstance(v, _Pending):
        return _lrn_reshape(c, n, v, new_ps)
    c._reshape_to(n, v.name, new_ps)


def _m_identity(c: _Converter, n: _Node, vals) -> None:
    """Identity, Dropout (inference) and Cast to float32 of a float32 tensor: the same tensor."""
    if n.op == "Cast":
        n.allow("to", "saturate")
        c._arity(n, vals, 1, 1)
        if n.i("to") != 1:
            raise ConvertError(f"{n.where}: cast of a tensor to type {n.i('to')} is not supported (only float32)")
    elif n.op == "Dropout":
        n.allow("seed", "ratio")
        c._unused_extra_outputs(n)
        c._arity(n, vals, 1, 3)
        if len(vals) > 2 and vals[2] is not None:
            mode = c._const_input(n, vals, 2, "training_mode")
            if mode.size != 1 or bool(mode.reshape(-1)[0]):
                raise ConvertError(f"{n.where}: training_mode is true; only inference (identity) is supported")
    else:
        n.allow()
        c._arity(n, vals, 1, 1)
    v = vals[0]
    if isinstance(v, (_Tensor, _Pending)):
        return c._set(n, v)
    c._tensor(n, vals, 0)


# ---- pattern fusion: local response normalization -------------------------------------------
#
# Pending kinds, in pattern order (src: the normalised tensor x):
#   sq      Mul(x, x)                                        shape (C, H, W)
#   sqpad   Pad of sq on H and W                             data["pads"] (t, l, b, r)
#   sq5     Unsqueeze(sq, 1) / Reshape to [N, 1, C, H, W]    shape (1, C, H, W)
#   sq5pad  Pad of sq5 on the channel axis (axis 2)          data["before"], data["after"]
#   avg5    AveragePool 3-D [size, 1, 1] of sq5pad           data["size"]
#   avg     the mean of x^2 over the window, shape (C, H, W)  data["size"], data["within"]
#   scaled  Mul(avg, alpha); shifted: Add(scaled, k); powed: Pow(shifted, beta)
# Div(x, powed) is builder.lrn.

def _lrn_pad(c: _Converter, n: _Node, vals) -> None:
    p: _Pending = vals[0]
    rank = len(p.shape) + 1
    pads = _pad_amounts(c, n, vals, rank)
    if p.kind in ("sq", "sqpad"):
        if pads[0] or pads[1] or pads[4] or pads[5]:
            raise ConvertError(f"{n.where}: pads {pads} of {_pending_text(p)}: only H and W may be padded")
        t, l, b, r = p.data.get("pads", (0, 0, 0, 0))
        new = (t + pads[2], l + pads[3], b + pads[6], r + pads[7])
        C, H, W = p.shape
        c._set(n, _Pending("sqpad", p.src, (C, H + pads[2] + pads[6], W + pads[3] + pads[7]), p.where,
                           {"pads": new}))
    elif p.kind in ("sq5", "sq5pad"):
        if any(v for i, v in enumerate(pads) if i not in (2, 7)):
            raise ConvertError(f"{n.where}: pads {pads} of {_pending_text(p)}: only the channel axis (2) "
                               "may be padded")
        before, after = p.data.get("before", 0) + pads[2], p.data.get("after", 0) + pads[7]
        one, C, H, W = p.shape
        c._set(n, _Pending("sq5pad", p.src, (one, C + pads[2] + pads[7], H, W), p.where,
                           {"before": before, "after": after}))
    else:
        c._tensor(n, vals, 0)


def _lrn_pool(c: _Converter, n: _Node, p: _Pending) -> None:
    """AveragePool of a squared tensor: the window mean of a local response normalization."""
    k = n.ints("kernel_shape")
    strides = n.ints("strides", [1] * len(k or []))
    pads = n.ints("pads", [0] * 2 * len(k or []))
    auto = n.s("auto_pad", "NOTSET")
    count = n.i("count_include_pad", 0)
    if k is None or auto != "NOTSET" or any(s != 1 for s in strides) or len(strides) != len(k) or \
            len(pads) != 2 * len(k):
        raise ConvertError(f"{n.where}: average pooling of {_pending_text(p)} is a local response "
                           "normalization only with stride 1 and explicit padding")
    if p.kind in ("sq", "sqpad") and len(k) == 2:
        if any(pads) and count != 1:
            raise ConvertError(f"{n.where}: local response normalization within a channel needs the padding "
                               "counted (count_include_pad=1)")
        t, l, b, r = p.data.get("pads", (0, 0, 0, 0))
        total = (t + pads[0], l + pads[1], b + pads[2], r + pads[3])
        size = k[0]
        if k[0] != k[1] or size % 2 == 0 or any(v != size // 2 for v in total):
            raise ConvertError(f"{n.where}: kernel {k} with padding {total}: a local response normalization "
                               "within a channel needs an odd square window centred on each cell "
                               "(padding size // 2 on every side)")
        return c._set(n, _Pending("avg", p.src, tuple(c.builder.logical_shape(p.src)), p.where,
                                  {"size": size, "within": True}))
    if p.kind in ("sq5", "sq5pad") and len(k) == 3:
        size = k[0]
        before, after = p.data.get("before", 0), p.data.get("after", 0)
        if any(pads) or k[1] != 1 or k[2] != 1 or before != size // 2 or after != (size - 1) // 2:
            raise ConvertError(f"{n.where}: kernel {k}, pads {pads} over channels padded by ({before}, {after}): "
                               "a local response normalization across channels needs kernel [size, 1, 1] "
                               "with the channels padded by size // 2 before and (size - 1) // 2 after")
        one, C, H, W = p.shape
        return c._set(n, _Pending("avg5", p.src, (1, C - before - after, H, W), p.where, {"size": size}))
    raise ConvertError(f"{n.where}: average pooling of {_pending_text(p)} is not supported")


def _lrn_reshape(c: _Converter, n: _Node, p: _Pending, new_ps) -> None:
    """Reshape / Squeeze / Unsqueeze of a pending value: a no-op, or the steps sq -> sq5 and
    avg5 -> avg."""
    new_ps = tuple(int(d) for d in new_ps)
    if new_ps == tuple(p.shape):
        return c._set(n, p)
    if p.kind == "sq" and new_ps == (1,) + tuple(p.shape):
        return c._set(n, _Pending("sq5", p.src, new_ps, p.where))
    if p.kind == "avg5" and new_ps == tuple(p.shape[1:]):
        return c._set(n, _Pending("avg", p.src, new_ps, p.where, {"size": p.data["size"], "within": False}))
    raise ConvertError(f"{n.where}: reshaping {_pending_text(p)} from {['N'] + list(p.shape)} to "
                       f"{['N'] + list(new_ps)} is not supported")


def _lrn_step(c: _Converter, n: _Node, p: _Pending, kind: str, key: str, value: float) -> _Pending:
    data = dict(p.data)
    data[key] = value
    return _Pending(kind, p.src, p.shape, p.where, data)


def _lrn_finish(c: _Converter, n: _Node, x: _Tensor, p: _Pending) -> None:
    if x.name != p.src:
        raise ConvertError(f"{n.where}: divides {n.inputs[0]!r} by a normalization computed from another "
                           "tensor; not a local response normalization")
    d = p.data
    if d["k"] <= 0.0:
        raise ConvertError(f"{n.where}: k {d['k']} must be > 0")
    out = c.builder.lrn(x.name, n.outputs[0], n.where, d["size"], d["alpha"], d["beta"], d["k"],
                        within_channel=d["within"])
    c._set(n, _Tensor(out))


# ---- the op tables ----------------------------------------------------------------------

_MAP = {
    "Conv": _m_conv,
    "Gemm": _m_gemm,
    "MatMul": _m_matmul,
    "BatchNormalization": _m_batchnorm,
    "Relu": _m_unary("relu"),
    "Sigmoid": _m_unary("sigmoid"),
    "Tanh": _m_unary("tanh"),
    "HardSwish": _m_unary("hardswish"),
    "HardSigmoid": _m_hard_sigmoid,
    "LeakyRelu": _m_leaky,
    "PRelu": _m_prelu,
    "Clip": _m_clip,
    "Softmax": _m_softmax,
    "MaxPool": _m_pool,
    "AveragePool": _m_pool,
    "GlobalAveragePool": _m_global_avgpool,
    "ReduceMean": _m_reduce_mean,
    "Pad": _m_pad,
    "Add": _m_add,
    "Mul": _m_mul,
    "Div": _m_div,
    "Pow": _m_pow,
    "Sub": _m_sub,
    "Concat": _m_concat,
    "Flatten": _m_flatten,
    "Reshape": _m_reshape,
    "Squeeze": _m_squeeze_unsqueeze,
    "Unsqueeze": _m_squeeze_unsqueeze,
    "Dropout": _m_identity,
    "Identity": _m_identity,
    "Cast": _m_identity,
    "LRN": _m_lrn,
    "Transpose": _m_transpose,
}

_HINTS = {
    "LSTM": " (recurrent layers)",
    "GRU": " (recurrent layers)",
    "RNN": " (recurrent layers)",
    "Resize": " (upsampling and resizing)",
    "Upsample": " (upsampling and resizing)",
    "Einsum": " (use nn.Linear or a convolution)",
    "Gather": " (no indexing of feature maps)",
    "ConvTranspose": " (transposed convolutions)",
    "GlobalMaxPool": " (use global average pooling)",
}
