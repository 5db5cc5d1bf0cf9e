"""Scalpel model files (``.scpn``) in numpy: read, build, check and write them on the host.

This module mirrors the C library's ``>>model files`` and ``>>networks`` sections
(``scalpel.h``): the same layer kinds, the same shape rules, the same checks, and a writer
whose bytes are identical to what ``scalpel_net_save`` writes for the same network.

File layout (every field little-endian; offsets from the first byte of the file):

* a 64-byte header: magic ``SCPN``, format version (u16), header size 64 (u16), layer
  record size (u32: 224 in versions 3 and 4, 144 in version 2, 128 in version 1), the layer
  count, the input channels, height and width (u32 each), at 28 flags (u32), at 32 the total
  file size (u64), then version 4's metadata (bytes 28 and 40..63 are zero in versions 1-3):

  - 28 flags: 0, or 1 = an input preprocessing is recorded and folded into layer 0's
    weights, or 3 = recorded and done by layer 0 (a batchnorm reading the input);
  - 40 packed_batch (u32, 0 .. 65536): the batch the model was packed for (0: not recorded);
  - 44 range (f32): raw inputs lie in [0, range]; finite and > 0 when flags != 0, else 0;
  - 48, 56 offset and size (u64 each) of the preprocessing array: mean[C'] then std[C'] (f32,
    C' = 1 or the input channels, at most 4, so size = 8 C'); both 0 when flags is 0;

* one record per layer (kind, outputs, the first version's square kernel / stride / pad,
  storage, the weight matrix shape, the grouped-CSR fields, the offset and size of each of
  the layer's arrays, then ``from`` from version 2 on, and from version 3 ``from2``, the
  params array, the full window and the real parameters alpha, beta, k; version 4's records
  are version 3's);
* the arrays in record order (per layer: w, b, row_ptr, col_idx, values, params), each on
  the first free multiple of 64 bytes, zero bytes in every gap; then, in version 4 with a
  preprocessing, its array on the next multiple of 64 bytes;
* zero padding to a multiple of 4 and the CRC-32 (``zlib.crc32``) of every byte before it.

The writer uses version 4 exactly when the model records a preprocessing
(:attr:`Model.input_norm`) or a packed batch (:attr:`Model.packed_batch`), else version 2
when every layer is one version 2 holds, else 3. Version 4 also lets a weighted layer be
stored as storage 2 (the exact grouped + CSR hybrid) or 3 (a TASD series of N:M terms), the C
library's no-retrain planner's storages (``scalpel plan --no-retrain -o``); this module does
not hold them, and the reader refuses such a layer with a ValueError naming the layer and the
storage (use the model the plan started from, or a ``scalpel pack`` of it).

Layer shapes are not stored: a reader rebuilds them from the input shape and each record,
with the rules of :func:`_infer_geometry` (the C library's ``scalpel__geom_build``).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = [
    "Model", "Layer",
    "FC", "CONV2D", "MAXPOOL", "RELU", "AVGPOOL", "BATCHNORM", "ADD", "CONCAT", "CLIP",
    "LEAKY_RELU", "SIGMOID", "TANH", "HARDSWISH", "SOFTMAX", "LRN",
    "KIND_NAMES", "POOL_CEIL", "POOL_COUNT_PADS", "LRN_WITHIN_CHANNEL",
    "STORAGE_DENSE", "STORAGE_GCSR", "MAX_LAYERS", "FORMAT_VERSION",
    "InputNorm", "INPUT_NORM_FOLDED", "INPUT_NORM_LAYER", "INPUT_NORM_MAX_CHANNELS", "MAX_PACKED_BATCH",
]

# ---- constants of the format and of scalpel_layer_kind (numbers are fixed) ----------------

MAGIC = b"SCPN"
FORMAT_VERSION = 4
HEADER_SIZE = 64
RECORD_SIZES = {1: 128, 2: 144, 3: 224, 4: 224}
ALIGN = 64
MAX_LAYERS = 256
INT32_MAX = 2**31 - 1

FC, CONV2D, MAXPOOL, RELU, AVGPOOL, BATCHNORM, ADD, CONCAT = 1, 2, 3, 4, 5, 6, 7, 8
CLIP, LEAKY_RELU, SIGMOID, TANH, HARDSWISH, SOFTMAX, LRN = 9, 10, 11, 12, 13, 14, 15

KIND_NAMES = {
    FC: "fc", CONV2D: "conv2d", MAXPOOL: "maxpool", RELU: "relu", AVGPOOL: "avgpool",
    BATCHNORM: "batchnorm", ADD: "add", CONCAT: "concat", CLIP: "clip",
    LEAKY_RELU: "leaky_relu", SIGMOID: "sigmoid", TANH: "tanh", HARDSWISH: "hardswish",
    SOFTMAX: "softmax", LRN: "lrn",
}
KIND_NUMBERS = {name: number for number, name in KIND_NAMES.items()}

WEIGHTED = frozenset({FC, CONV2D})          # have W [rows x cols] and b [rows]
JOINS = frozenset({ADD, CONCAT})            # read a second tensor (from2)
WINDOWED = frozenset({CONV2D, MAXPOOL, AVGPOOL})
PER_CHANNEL = {BATCHNORM: 2}                # floats per output channel in params
# Elementwise kinds (same shape, no window) and how many of alpha, beta, k each uses.
SAME_SHAPE_REALS = {RELU: 0, BATCHNORM: 0, SOFTMAX: 0, CLIP: 2, LEAKY_RELU: 1,
                    SIGMOID: 0, TANH: 0, HARDSWISH: 0}

POOL_CEIL = 1             # maxpool, avgpool: round the output size up
POOL_COUNT_PADS = 2       # avgpool: divide by the window's cells inside the padded input
LRN_WITHIN_CHANNEL = 1    # lrn: a size x size square of one channel

STORAGE_DENSE = 0
STORAGE_GCSR = 1
# Version 4's storages of the C library's no-retrain planner (scalpel_storage): read by the C
# library only; this module refuses them with their name.
STORAGE_HYBRID = 2
STORAGE_TASD = 3
STORAGE_NAMES = {STORAGE_DENSE: "dense", STORAGE_GCSR: "gcsr", STORAGE_HYBRID: "hybrid", STORAGE_TASD: "tasd"}
GROUP_SIZES = (1, 2, 4, 8, 16)

_WINDOW_FIELDS = ("kernel_h", "kernel_w", "stride_h", "stride_w", "pad_top", "pad_left",
                  "pad_bottom", "pad_right", "dilation_h", "dilation_w", "groups", "mode")
_REAL_LIMIT = float(np.float32(3.0e38))     # scalpel__real_ok: -3e38f < v < 3e38f

# Version 4's header metadata (scalpel_input_norm, scalpel_net.packed_batch).
INPUT_NORM_NONE, INPUT_NORM_FOLDED, INPUT_NORM_LAYER = 0, 1, 2
INPUT_NORM_NAMES = {INPUT_NORM_FOLDED: "folded", INPUT_NORM_LAYER: "layer"}
INPUT_NORM_MAX_CHANNELS = 4
MAX_PACKED_BATCH = 65536                    # SCALPEL_NET_MAX_PACKED_BATCH
FLAG_NORM = 1                               # header flags: a preprocessing is recorded,
FLAG_NORM_LAYER = 2                         # ... and layer 0 does it (else folded)


def _kind_number(kind: Union[int, str]) -> int:
    """The scalpel_layer_kind number of `kind` (a number or a name such as "conv2d")."""
    if isinstance(kind, str):
        if kind not in KIND_NUMBERS:
            raise ValueError(f"unknown layer kind {kind!r}")
        return KIND_NUMBERS[kind]
    number = int(kind)
    if number not in KIND_NAMES:
        raise ValueError(f"unknown layer kind {number}")
    return number


def _f32(value: float) -> float:
    """value rounded to float32, as a Python float (the C library keeps alpha, beta, k so);
    values past float32's range become infinities, which every check refuses."""
    with np.errstate(over="ignore"):
        return float(np.float32(value))


def _real_ok(value: float) -> bool:
    return -_REAL_LIMIT < value < _REAL_LIMIT


def _round_up(n: int, a: int) -> int:
    return (n + a - 1) // a * a


def _pair(v, name: str) -> Tuple[int, int]:
    """An int or a 2-sequence as (h, w)."""
    if isinstance(v, (int, np.integer)):
        return int(v), int(v)
    v = tuple(int(x) for x in v)
    if len(v) != 2:
        raise ValueError(f"{name} must be an int or (h, w), got {v!r}")
    return v


def _pads(v) -> Tuple[int, int, int, int]:
    """Padding as (top, left, bottom, right) from an int, (h, w) or (top, left, bottom, right)."""
    if isinstance(v, (int, np.integer)):
        return (int(v),) * 4
    v = tuple(int(x) for x in v)
    if len(v) == 2:
        return v[0], v[1], v[0], v[1]
    if len(v) == 4:
        return v
    raise ValueError(f"pad must be an int, (h, w) or (top, left, bottom, right), got {v!r}")


def _finite_f32(a, name: str, shape: Optional[Tuple[int, ...]] = None) -> np.ndarray:
    """a as a C-ordered float32 array (reshaped to `shape`), refusing NaN and infinities."""
    arr = np.asarray(a)
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
    if shape is not None:
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{name}: expected {int(np.prod(shape))} values for shape {shape}, "
                             f"got {arr.size} (shape {arr.shape})")
        arr = arr.reshape(shape)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: values must be finite (a model file holds no NaN or infinity)")
    return arr


# ---- layers ---------------------------------------------------------------------------------

@dataclass(eq=False)
class Layer:
    """One layer of a Scalpel network, as a model file's record describes it.

    What is stored: the kind (a scalpel_layer_kind number; `kind_name` gives its name), the
    tensors it reads (`from_`: tensors back from the one just before it, 0 = the previous
    layer's output; `from2`: the second input of add and concat, counted the same way), the
    rows of a weighted layer (`outputs`), the window (kernel, stride, four pads, dilation,
    groups, mode flags; conv2d, maxpool, avgpool, and lrn's size in kernel_h / kernel_w; all
    zero for the other kinds), the real parameters alpha, beta and k (clip's lo and hi,
    leaky_relu's slope, lrn's alpha, beta and k; float32 values), and the arrays: dense
    weights `w` [rows x cols] float32 or grouped CSR (`row_ptr` [rows + 1] int32, `col_idx`
    [nnz_groups] uint16 or uint32, `values` [nnz_groups * group] float32, `group`,
    `index_bits`), the bias `b` [rows], and `params` [per_channel * out_c] (batchnorm: scale
    then shift).

    What is derived (filled by the shape rules whenever the layer joins a Model, never read
    from a file): `in_shape` and `out_shape` (C, H, W per sample), `rows` and `cols` of the
    weight matrix, and `kernel`, `stride`, `pad` (the square window, or 0: the C library's
    first-version fields).
    """

    kind: int
    outputs: int = 0
    from_: int = 0
    from2: int = 0
    kernel_h: int = 0
    kernel_w: int = 0
    stride_h: int = 0
    stride_w: int = 0
    pad_top: int = 0
    pad_left: int = 0
    pad_bottom: int = 0
    pad_right: int = 0
    dilation_h: int = 0
    dilation_w: int = 0
    groups: int = 0
    mode: int = 0
    alpha: float = 0.0
    beta: float = 0.0
    k: float = 0.0
    storage: int = STORAGE_DENSE
    w: Optional[np.ndarray] = None
    b: Optional[np.ndarray] = None
    row_ptr: Optional[np.ndarray] = None
    col_idx: Optional[np.ndarray] = None
    values: Optional[np.ndarray] = None
    group: int = 0
    index_bits: int = 0
    params: Optional[np.ndarray] = None
    # derived by the shape rules
    in_shape: Tuple[int, int, int] = (0, 0, 0)
    out_shape: Tuple[int, int, int] = (0, 0, 0)
    rows: int = 0
    cols: int = 0
    kernel: int = 0
    stride: int = 0
    pad: int = 0

    def __post_init__(self):
        self.kind = _kind_number(self.kind)
        self.alpha, self.beta, self.k = _f32(self.alpha), _f32(self.beta), _f32(self.k)

    # -- descriptive helpers --

    @property
    def kind_name(self) -> str:
        """The kind's name: "fc", "conv2d", ... (scalpel_layer_kind_name)."""
        return KIND_NAMES[self.kind]

    @property
    def weighted(self) -> bool:
        return self.kind in WEIGHTED

    @property
    def nnz_groups(self) -> int:
        """Stored groups of a grouped-CSR layer (0 when dense)."""
        return 0 if self.storage != STORAGE_GCSR or self.col_idx is None else int(self.col_idx.size)

    @property
    def window(self) -> dict:
        """The twelve window fields by name."""
        return {name: getattr(self, name) for name in _WINDOW_FIELDS}

    def __repr__(self) -> str:
        parts = [self.kind_name]
        if self.weighted:
            parts.append(f"outputs={self.outputs}")
            parts.append("dense" if self.storage == STORAGE_DENSE else f"gcsr G={self.group}")
        if self.kind in WINDOWED:
            parts.append(f"kernel={self.kernel_h}x{self.kernel_w} stride={self.stride_h}x{self.stride_w} "
                         f"pad=({self.pad_top},{self.pad_left},{self.pad_bottom},{self.pad_right})")
            if self.kind == CONV2D:
                parts.append(f"dilation={self.dilation_h}x{self.dilation_w} groups={self.groups}")
        if self.mode:
            parts.append(f"mode={self.mode}")
        if self.from_:
            parts.append(f"from={self.from_}")
        if self.kind in JOINS:
            parts.append(f"from2={self.from2}")
        if self.alpha or self.beta or self.k:
            parts.append(f"alpha={self.alpha:g} beta={self.beta:g} k={self.k:g}")
        parts.append(f"{self.in_shape} -> {self.out_shape}")
        return "Layer(" + ", ".join(parts) + ")"

    # -- weights --

    def dense_weights(self) -> np.ndarray:
        """W as a dense float32 [rows x cols] array, whatever the storage (a copy for sparse
        layers; the stored array for dense ones). A conv2d's W reshapes to
        [out_c, in_c / groups, kernel_h, kernel_w]."""
        if not self.weighted:
            raise ValueError(f"{self.kind_name} layers have no weights")
        if self.storage == STORAGE_DENSE:
            if self.w is None:
                raise ValueError("dense layer without weights")
            return self.w
        rows, cols, g = self.rows, self.cols, self.group
        w = np.zeros(rows * cols, dtype=np.float32)
        rp = np.asarray(self.row_ptr, dtype=np.int64)
        c0 = np.asarray(self.col_idx, dtype=np.int64)
        row_of = np.repeat(np.arange(rows, dtype=np.int64), np.diff(rp))
        lane = np.arange(g, dtype=np.int64)
        col = c0[:, None] + lane[None, :]                          # [nnz, G]
        inside = col < cols                                        # tail lanes past cols: dropped
        pos = row_of[:, None] * cols + col
        w[pos[inside]] = np.asarray(self.values, dtype=np.float32).reshape(-1, g)[inside]
        w = w.reshape(rows, cols)
        return w

    def sparsify(self, group: int, index_bits: Optional[int] = None) -> "Layer":
        """Keep W as grouped CSR with group size G (1, 2, 4, 8 or 16), as the C library's
        scalpel_gcsr_from_dense builds it: every aligned group [c, c + G) of a row with a
        nonzero weight is stored (a tail group past cols padded with zeros). Column indices
        are 16-bit when cols <= 65536, else 32-bit; index_bits = 32 forces 32-bit ones (valid
        for any cols, larger). Returns self."""
        if not self.weighted:
            raise ValueError(f"{self.kind_name} layers have no weights")
        if group not in GROUP_SIZES:
            raise ValueError(f"group {group}: expected one of {GROUP_SIZES}")
        w = self.dense_weights()
        rows, cols = w.shape
        if index_bits not in (None, 16, 32) or (index_bits == 16 and cols > 65536):
            raise ValueError(f"index_bits {index_bits}: expected 32, or 16 when cols <= 65536")
        groups_per_row = (cols + group - 1) // group
        padded = np.zeros((rows, groups_per_row * group), dtype=np.float32)
        padded[:, :cols] = w
        blocks = padded.reshape(rows, groups_per_row, group)
        keep = np.any(blocks != 0.0, axis=2)                 # -0.0 counts as zero, as in C
        counts = keep.sum(axis=1)
        row_ptr = np.zeros(rows + 1, dtype=np.int32)
        np.cumsum(counts, out=row_ptr[1:])
        r_idx, g_idx = np.nonzero(keep)                      # row-major order
        if int(row_ptr[-1]) * group > INT32_MAX:
            raise ValueError("too many stored values for int32 counts")
        self.index_bits = index_bits or (16 if cols <= 65536 else 32)
        self.col_idx = (g_idx * group).astype(np.uint16 if self.index_bits == 16 else np.uint32)
        self.values = np.ascontiguousarray(blocks[r_idx, g_idx].reshape(-1), dtype=np.float32)
        self.row_ptr = row_ptr
        self.group = group
        self.storage = STORAGE_GCSR
        self.w = None
        return self

    def densify(self) -> "Layer":
        """Keep W dense again. Returns self."""
        if self.weighted and self.storage != STORAGE_DENSE:
            self.w = self.dense_weights()
            self.storage = STORAGE_DENSE
            self.row_ptr = self.col_idx = self.values = None
            self.group = self.index_bits = 0
        return self

    def _check_arrays(self, where: str) -> None:
        """The arrays match the derived shapes and hold finite values (scalpel_net_validate)."""
        per_channel = PER_CHANNEL.get(self.kind, 0)
        if per_channel:
            if self.params is None:
                raise ValueError(f"{where}: {self.kind_name} needs its params")
            self.params = _finite_f32(self.params, f"{where}: params", (per_channel * self.out_shape[0],))
        elif self.params is not None:
            raise ValueError(f"{where}: {self.kind_name} takes no params")
        if not self.weighted:
            if self.w is not None or self.b is not None or self.row_ptr is not None or self.storage != STORAGE_DENSE:
                raise ValueError(f"{where}: {self.kind_name} layers have no weights")
            return
        if self.b is None:
            raise ValueError(f"{where}: missing bias")
        self.b = _finite_f32(self.b, f"{where}: b", (self.rows,))
        if self.storage == STORAGE_DENSE:
            if self.w is None:
                raise ValueError(f"{where}: missing weights")
            self.w = _finite_f32(self.w, f"{where}: w", (self.rows, self.cols))
        elif self.storage == STORAGE_GCSR:
            _check_gcsr(self, where)
        else:
            raise ValueError(f"{where}: storage {self.storage}: this module holds dense (0) or grouped CSR (1)")


def _check_gcsr(L: Layer, where: str) -> None:
    """scalpel_gcsr_validate for a layer's grouped-CSR arrays (normalising their dtypes)."""
    G, rows, cols = L.group, L.rows, L.cols
    if G not in GROUP_SIZES:
        raise ValueError(f"{where}: group {G}: expected one of {GROUP_SIZES}")
    if L.index_bits not in (16, 32):
        raise ValueError(f"{where}: index bits {L.index_bits}: expected 16 or 32")
    if L.index_bits == 16 and cols > 65536:
        raise ValueError(f"{where}: 16-bit column indices cannot address {cols} columns")
    if L.row_ptr is None or L.col_idx is None or L.values is None:
        raise ValueError(f"{where}: grouped CSR needs row_ptr, col_idx and values")
    rp = np.asarray(L.row_ptr)
    ci = np.asarray(L.col_idx)
    if rp.dtype.kind not in "iu" or ci.dtype.kind not in "iu":
        raise ValueError(f"{where}: row_ptr and col_idx must be integers")
    rp = rp.astype(np.int64).reshape(-1)
    ci = ci.astype(np.int64).reshape(-1)
    nnz = ci.size
    gpr = (cols + G - 1) // G
    if rp.size != rows + 1:
        raise ValueError(f"{where}: row_ptr has {rp.size} entries, expected {rows + 1}")
    if nnz > rows * gpr:
        raise ValueError(f"{where}: {nnz} stored groups, more than rows * groups per row ({rows * gpr})")
    if nnz * G > INT32_MAX:
        raise ValueError(f"{where}: too many stored values")
    values = _finite_f32(L.values, f"{where}: values", (nnz * G,))
    if rp[0] != 0 or rp[-1] != nnz:
        raise ValueError(f"{where}: row_ptr must start at 0 and end at nnz_groups ({nnz})")
    d = np.diff(rp)
    if np.any(d < 0) or np.any(d > gpr) or np.any(rp > nnz):
        raise ValueError(f"{where}: row_ptr is not increasing or a row holds more than {gpr} groups")
    if nnz:
        if np.any(ci < 0) or np.any(ci >= cols) or np.any(ci % G != 0):
            raise ValueError(f"{where}: a column index is out of range or not a multiple of G={G}")
        first = np.zeros(nnz, dtype=bool)
        first[rp[:-1][d > 0]] = True
        inner = ~first[1:]
        if np.any(ci[1:][inner] <= ci[:-1][inner]):
            raise ValueError(f"{where}: column indices must increase strictly within a row")
        tail = np.nonzero(ci + G > cols)[0]
        blocks = values.reshape(nnz, G)
        for q in tail:
            if np.any(blocks[q, cols - int(ci[q]):] != 0.0):
                raise ValueError(f"{where}: lanes of a tail group past cols must be zero")
    L.row_ptr = rp.astype(np.int32)
    L.col_idx = ci.astype(np.uint16 if L.index_bits == 16 else np.uint32)
    L.values = values


# ---- the shape rules (scalpel__geom_build and each kind's shape function) ------------------

def _no_window(L: Layer) -> bool:
    return all(getattr(L, name) == 0 for name in _WINDOW_FIELDS[:-1])


def _window_infer(L: Layer, in_shape, conv: bool, pool: int) -> None:
    """scalpel__window_infer: check the window, compute out_h / out_w and the square fields."""
    _, H, W = in_shape
    flags = 0 if conv else (POOL_CEIL | (POOL_COUNT_PADS if pool == 2 else 0))
    for name in ("kernel_h", "kernel_w", "stride_h", "stride_w", "dilation_h", "dilation_w"):
        v = getattr(L, name)
        if not 1 <= v <= 4096:
            raise ValueError(f"{name} {v}: must be in 1..4096")
    if L.groups < 1:
        raise ValueError(f"groups {L.groups}: must be >= 1")
    if L.mode & ~flags:
        raise ValueError(f"mode {L.mode}: flags {L.mode & ~flags:#x} do not apply to {L.kind_name}")
    if not conv and (L.dilation_h != 1 or L.dilation_w != 1 or L.groups != 1):
        raise ValueError(f"{L.kind_name}: dilation and groups must be 1")
    if L.from2 != 0 or L.alpha != 0.0 or L.beta != 0.0 or L.k != 0.0:
        raise ValueError(f"{L.kind_name}: from2, alpha, beta and k must be 0")
    ekh = (L.kernel_h - 1) * L.dilation_h + 1
    ekw = (L.kernel_w - 1) * L.dilation_w + 1
    for name, limit in (("pad_top", ekh), ("pad_bottom", ekh), ("pad_left", ekw), ("pad_right", ekw)):
        v = getattr(L, name)
        if not 0 <= v < limit:
            raise ValueError(f"{name} {v}: must be in 0..{limit - 1} (smaller than the dilated kernel)")
    span_h = H + L.pad_top + L.pad_bottom - ekh
    span_w = W + L.pad_left + L.pad_right - ekw
    if span_h < 0 or span_w < 0:
        raise ValueError(f"{L.kind_name}: the window ({ekh}x{ekw} dilated) does not fit the padded "
                         f"input {H}x{W}")
    if L.mode & POOL_CEIL:
        oh = -(-span_h // L.stride_h) + 1
        ow = -(-span_w // L.stride_w) + 1
        if (oh - 1) * L.stride_h >= H + L.pad_top:
            oh -= 1
        if (ow - 1) * L.stride_w >= W + L.pad_left:
            ow -= 1
    else:
        oh = span_h // L.stride_h + 1
        ow = span_w // L.stride_w + 1
    if oh * ow > INT32_MAX:
        raise ValueError(f"{L.kind_name}: output {oh}x{ow} too large")
    L.out_shape = (0, oh, ow)
    square = (L.kernel_h == L.kernel_w and L.stride_h == L.stride_w and
              L.pad_top == L.pad_left == L.pad_bottom == L.pad_right and
              L.dilation_h == 1 and L.dilation_w == 1 and L.groups == 1 and L.mode == 0)
    L.kernel, L.stride, L.pad = (L.kernel_h, L.stride_h, L.pad_top) if square else (0, 0, 0)


def _dims_ok(c: int, h: int, w: int) -> bool:
    return c * h <= INT32_MAX and c * h * w <= INT32_MAX


def _infer_geometry(L: Layer, in_shape, in2_shape) -> None:
    """Fill L's derived fields (in_shape, out_shape, rows, cols, kernel, stride, pad) from the
    shape of the tensor it reads (and the second one of a join), checking every parameter as
    the C library does; ValueError when a parameter or shape is not valid."""
    C, H, W = in_shape
    if C < 1 or H < 1 or W < 1:
        raise ValueError(f"input shape {in_shape}: every dimension must be >= 1")
    if not _dims_ok(C, H, W):
        raise ValueError(f"input shape {in_shape}: too many elements")
    kind = L.kind
    L.alpha, L.beta, L.k = _f32(L.alpha), _f32(L.beta), _f32(L.k)
    L.in_shape = (C, H, W)
    L.rows = L.cols = 0
    L.kernel = L.stride = L.pad = 0
    if kind not in JOINS and L.from2 != 0:
        raise ValueError(f"{L.kind_name}: from2 must be 0 (only add and concat read a second tensor)")
    if kind not in WEIGHTED and L.outputs != 0:
        raise ValueError(f"{L.kind_name}: outputs must be 0")
    reals = (L.alpha, L.beta, L.k)
    if kind == FC:
        if not _no_window(L) or L.mode != 0 or any(reals):
            raise ValueError("fc: window fields, mode, alpha, beta and k must be 0")
        if L.outputs < 1:
            raise ValueError(f"fc: outputs {L.outputs} must be >= 1")
        if L.outputs * C * H * W > INT32_MAX:
            raise ValueError("fc: weight matrix too large")
        L.rows, L.cols = L.outputs, C * H * W
        L.out_shape = (L.outputs, 1, 1)
    elif kind == CONV2D:
        if L.outputs < 1:
            raise ValueError(f"conv2d: outputs {L.outputs} must be >= 1")
        _window_infer(L, in_shape, True, 0)
        if C % L.groups or L.outputs % L.groups:
            raise ValueError(f"conv2d: groups {L.groups} must divide the input channels ({C}) "
                             f"and the outputs ({L.outputs})")
        cols = C // L.groups * L.kernel_h * L.kernel_w
        positions = L.out_shape[1] * L.out_shape[2]
        if cols > INT32_MAX or L.outputs * cols > INT32_MAX or cols * positions > INT32_MAX or \
                L.outputs * positions > INT32_MAX:
            raise ValueError("conv2d: sizes overflow int32")
        L.rows, L.cols = L.outputs, cols
        L.out_shape = (L.outputs, L.out_shape[1], L.out_shape[2])
    elif kind in (MAXPOOL, AVGPOOL):
        _window_infer(L, in_shape, False, 1 if kind == MAXPOOL else 2)
        L.out_shape = (C, L.out_shape[1], L.out_shape[2])
    elif kind in SAME_SHAPE_REALS:
        n = SAME_SHAPE_REALS[kind]
        if not _no_window(L) or L.mode != 0:
            raise ValueError(f"{L.kind_name}: window fields and mode must be 0")
        if (n < 1 and L.alpha != 0.0) or (n < 2 and L.beta != 0.0) or (n < 3 and L.k != 0.0):
            raise ValueError(f"{L.kind_name}: unused real parameters must be 0")
        if kind == CLIP and not (_real_ok(L.alpha) and _real_ok(L.beta) and L.alpha <= L.beta):
            raise ValueError(f"clip: lo {L.alpha} and hi {L.beta} must be finite with lo <= hi")
        if kind == LEAKY_RELU and not _real_ok(L.alpha):
            raise ValueError(f"leaky_relu: slope {L.alpha} must be finite")
        L.out_shape = (C, H, W)
    elif kind in JOINS:
        if not _no_window(L) or L.mode != 0 or any(reals):
            raise ValueError(f"{L.kind_name}: window fields, mode, alpha, beta and k must be 0")
        C2, H2, W2 = in2_shape
        if kind == ADD:
            if (C2, H2, W2) != (C, H, W):
                raise ValueError(f"add: the second input {in2_shape} differs from the first {in_shape}")
            L.out_shape = (C, H, W)
        else:
            if (H2, W2) != (H, W):
                raise ValueError(f"concat: the second input {in2_shape} has another H x W than the "
                                 f"first {in_shape}")
            if C + C2 > INT32_MAX or not _dims_ok(C + C2, H, W):
                raise ValueError("concat: output too large")
            L.out_shape = (C + C2, H, W)
    elif kind == LRN:
        size = L.kernel_h
        if any(getattr(L, name) for name in _WINDOW_FIELDS[2:11]):
            raise ValueError("lrn: only kernel_h = kernel_w = size and mode may be set")
        if not (1 <= size <= 4095 and size % 2 == 1 and L.kernel_w == size):
            raise ValueError(f"lrn: size {size}x{L.kernel_w}: must be odd, 1..4095, square")
        if L.mode & ~LRN_WITHIN_CHANNEL:
            raise ValueError(f"lrn: mode {L.mode}: only LRN_WITHIN_CHANNEL (1) exists")
        if not (_real_ok(L.alpha) and _real_ok(L.beta) and _real_ok(L.k) and L.k > 0.0 and
                L.alpha >= 0.0 and L.beta >= 0.0):
            raise ValueError(f"lrn: alpha {L.alpha}, beta {L.beta} must be finite >= 0 and k {L.k} > 0")
        L.out_shape = (C, H, W)
    else:  # pragma: no cover - _kind_number refuses the rest
        raise ValueError(f"unknown layer kind {kind}")


def _first_version_layer(L: Layer) -> bool:
    """The layer is one versions 1 and 2 of the format hold (scalpel__nf_first_version_layer):
    fc, conv2d, maxpool, relu, windows square, even and plain, max pooling unpadded."""
    if L.kind not in (FC, CONV2D, MAXPOOL, RELU):
        return False
    if L.kind in (CONV2D, MAXPOOL):
        return L.kernel != 0 and (L.kind != MAXPOOL or L.pad == 0)
    return True


# ---- the input preprocessing (scalpel_input_norm) -----------------------------------------

def _float32_list(values, name: str) -> List[float]:
    """values (a number or a sequence of numbers) as a list of float32-rounded Python floats."""
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected real numbers, got {values!r}") from None
    return [_f32(v) for v in arr]


@dataclass
class InputNorm:
    """The preprocessing a model's inputs got in training (torchvision's ToTensor, then
    Normalize(mean, std)), as version 4 of the format records it (the C library's
    scalpel_input_norm, in scalpel_net.input_norm). The model takes raw inputs x in
    [0, range] (range 1: ToTensor's scale; 255: bytes) and its layers compute
    (x / range - mean[c]) / std[c] for each input channel c themselves:

    * where ``"folded"`` (1, INPUT_NORM_FOLDED): folded into layer 0's weights and bias;
    * where ``"layer"`` (2, INPUT_NORM_LAYER): layer 0 is a batchnorm doing it (scale
      1 / (range std), shift -mean / std).

    The record says what was done, for the tools that feed the model data and for ``info``;
    it changes no layer (fold or add the batchnorm yourself, or import with the C tool's
    ``import-safetensors --mean --std``). ``channels``: 1 (one mean and std for every channel)
    or the input channels, at most 4; 0 (the default) takes ``len(mean)``. ``mean`` and
    ``std``: ``channels`` values each, finite, std > 0. ``where`` may be given by name; it is
    kept as its number (``where_name`` gives the name). Values are kept rounded to float32,
    as the file holds them. A model without a preprocessing has ``input_norm = None``.
    """

    where: Union[int, str]
    channels: int = 0
    range: float = 1.0
    mean: Sequence[float] = ()
    std: Sequence[float] = ()

    def __post_init__(self):
        if isinstance(self.where, str):
            names = {name: number for number, name in INPUT_NORM_NAMES.items()}
            if self.where not in names:
                raise ValueError(f"input_norm.where {self.where!r}: expected 'folded' or 'layer'")
            self.where = names[self.where]
        self.mean = _float32_list(self.mean, "input_norm.mean")
        self.std = _float32_list(self.std, "input_norm.std")
        self.range = _f32(self.range)
        if not self.channels:
            self.channels = len(self.mean)

    @property
    def where_name(self) -> str:
        """"folded" or "layer"."""
        return INPUT_NORM_NAMES.get(self.where, str(self.where))


def _input_norm_from_dict(d: dict) -> "InputNorm":
    try:
        return InputNorm(**d)
    except TypeError as e:
        raise ValueError(f"input_norm {d!r}: expected the fields where, channels, range, mean, std ({e})") from None


def _check_input_norm(q, in_c: int, layers: Sequence[Layer]) -> "InputNorm":
    """scalpel__input_norm_ok for a model's input_norm (an InputNorm or a dict of its
    fields), returned as a canonical InputNorm (where as its number, float32 values);
    ValueError names the first field that is wrong."""
    if isinstance(q, dict):
        q = _input_norm_from_dict(q)
    elif not isinstance(q, InputNorm):
        raise ValueError(f"input_norm: expected None, an InputNorm or a dict of its fields, got {type(q).__name__}")
    else:
        q = InputNorm(q.where, q.channels, q.range, q.mean, q.std)     # re-checked after edits in place
    if not isinstance(q.where, (int, np.integer)) or isinstance(q.where, bool) or q.where not in INPUT_NORM_NAMES:
        raise ValueError(f"input_norm.where {q.where!r}: expected 1 (folded) or 2 (layer); "
                         "input_norm = None records no preprocessing")
    c = q.channels
    if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 1 <= c <= INPUT_NORM_MAX_CHANNELS or \
            c not in (1, in_c):
        raise ValueError(f"input_norm.channels {c!r}: expected 1 or the input channels ({in_c}), "
                         f"at most {INPUT_NORM_MAX_CHANNELS}")
    q.channels = int(c)
    if len(q.mean) != c or len(q.std) != c:
        raise ValueError(f"input_norm: {len(q.mean)} means and {len(q.std)} stds for {c} channel(s)")
    if not 0.0 < q.range <= _REAL_LIMIT:
        raise ValueError(f"input_norm.range {q.range}: must be > 0 and at most 3e38 (raw inputs lie in [0, range])")
    for k in range(c):
        if not -_REAL_LIMIT <= q.mean[k] <= _REAL_LIMIT:
            raise ValueError(f"input_norm.mean[{k}] {q.mean[k]}: must lie in [-3e38, 3e38]")
        if not 0.0 < q.std[k] <= _REAL_LIMIT:
            raise ValueError(f"input_norm.std[{k}] {q.std[k]}: must be > 0 and at most 3e38")
    if q.where == INPUT_NORM_LAYER and (not layers or layers[0].kind != BATCHNORM):
        raise ValueError("input_norm.where 'layer': layer 0 must be the batchnorm that does the preprocessing")
    return q


def _check_packed_batch(b) -> int:
    if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 0 <= b <= MAX_PACKED_BATCH:
        raise ValueError(f"packed_batch {b!r}: expected an integer 0 .. {MAX_PACKED_BATCH} (0: not recorded)")
    return int(b)


# ---- the model ------------------------------------------------------------------------------

class Model:
    """A Scalpel network on the host: an input shape and a list of layers.

    Tensors are numbered as in the C library: tensor 0 is the network input, tensor i + 1 the
    output of layer i; layer i reads tensor i - from_ (and a join also tensor i - from2).
    Build one with the ``add_*`` methods, which mirror ``scalpel_net_add_*`` (the same
    parameters, defaults, checks and shape rules; a failed add raises ValueError and leaves
    the model unchanged), or read one with :meth:`load`. :meth:`save` writes the file the C
    library would write for the same network, byte for byte (version 4 when it records an
    input preprocessing or a packed batch, else version 2 when every layer fits it, else
    version 3). Layers may be edited in place; :meth:`validate` (run by every save) rebuilds
    and checks every shape again.

    Version 4's metadata, kept with the model and written to its file (the C library's
    scalpel_net.input_norm and packed_batch): ``input_norm``, the preprocessing the inputs got
    in training (an :class:`InputNorm`; a dict of its fields is taken too; None: not
    recorded), and ``packed_batch``, the batch ``scalpel pack --batch`` planned the storage
    for (0 .. 65536; 0: not recorded). Neither changes what the layers compute.
    """

    def __init__(self, input_shape: Sequence[int], input_norm=None, packed_batch: int = 0):
        shape = tuple(int(v) for v in input_shape)
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
        if min(shape) < 1:
            raise ValueError(f"input shape {shape}: every dimension must be >= 1")
        if not _dims_ok(*shape):
            raise ValueError(f"input shape {shape}: too many elements")
        self.input_shape: Tuple[int, int, int] = shape
        self.layers: List[Layer] = []
        self._next_from = 0
        self.input_norm = input_norm
        self.packed_batch = packed_batch

    @property
    def input_norm(self) -> Optional[InputNorm]:
        """The inputs' preprocessing (an InputNorm), or None when none is recorded."""
        return self._input_norm

    @input_norm.setter
    def input_norm(self, value) -> None:
        self._input_norm = _input_norm_from_dict(value) if isinstance(value, dict) else value

    def __repr__(self) -> str:
        lines = [f"Model(input_shape={self.input_shape}, {len(self.layers)} layers)"]
        q = self.input_norm
        if isinstance(q, InputNorm):
            show = lambda v: "[" + ", ".join(f"{x:.7g}" for x in v) + "]"     # noqa: E731
            lines.append(f"  input preprocessing ({q.where_name}): x in [0, {q.range:.7g}], mean {show(q.mean)}, "
                         f"std {show(q.std)}")
        if self.packed_batch:
            lines.append(f"  packed for batch {self.packed_batch}")
        lines += [f"  {i}: {L!r}" for i, L in enumerate(self.layers)]
        return "\n".join(lines)

    def __len__(self) -> int:
        return len(self.layers)

    # -- shapes --

    def tensor_shape(self, t: int) -> Tuple[int, int, int]:
        """The (C, H, W) of tensor t: 0 the input, t >= 1 the output of layer t - 1."""
        if not 0 <= t <= len(self.layers):
            raise ValueError(f"tensor {t}: the model has tensors 0..{len(self.layers)}")
        return self.input_shape if t == 0 else self.layers[t - 1].out_shape

    @property
    def output_shape(self) -> Tuple[int, int, int]:
        """(C, H, W) of the last layer's output (the input's when there are no layers)."""
        return self.tensor_shape(len(self.layers))

    @property
    def input_size(self) -> int:
        return int(np.prod(self.input_shape))

    @property
    def output_size(self) -> int:
        return int(np.prod(self.output_shape))

    def sources(self, i: int) -> Tuple[int, Optional[int]]:
        """The tensors layer i reads: (first, second or None)."""
        L = self.layers[i]
        return i - L.from_, (i - L.from2 if L.kind in JOINS else None)

    def _build(self, L: Layer, i: int) -> None:
        """Derive L's shapes as layer i of this model (the tensors before it already built)."""
        if not 0 <= L.from_ <= i:
            raise ValueError(f"from {L.from_}: layer {i} can read tensors 0..{i} (from 0..{i})")
        in2 = None
        if L.kind in JOINS:
            if not 0 <= L.from2 <= i:
                raise ValueError(f"from2 {L.from2}: layer {i} can read tensors 0..{i} (from2 0..{i})")
            in2 = self.tensor_shape(i - L.from2)
        _infer_geometry(L, self.tensor_shape(i - L.from_), in2)

    def validate(self) -> None:
        """Rebuild and check every layer's shapes and arrays (scalpel_net_validate), so that
        layers edited in place are caught before a save. ValueError names the first problem."""
        if len(self.layers) > MAX_LAYERS:
            raise ValueError(f"{len(self.layers)} layers: a model file holds at most {MAX_LAYERS}")
        self.packed_batch = _check_packed_batch(self.packed_batch)
        if self.input_norm is not None:
            self.input_norm = _check_input_norm(self.input_norm, self.input_shape[0], self.layers)
        for i, L in enumerate(self.layers):
            where = f"layer {i} ({KIND_NAMES.get(L.kind, '?')})"
            try:
                self._build(L, i)
            except ValueError as e:
                raise ValueError(f"{where}: {e}") from None
            L._check_arrays(where)

    # -- appending layers (scalpel_net_add_*) --

    def set_next_input(self, layer: int) -> "Model":
        """The next layer appended reads the output of layer `layer` (-1: the network input)
        instead of the output just before it (scalpel_net_set_next_input). One append only."""
        layer = int(layer)
        if not -1 <= layer < len(self.layers):
            raise ValueError(f"layer {layer}: expected -1 (the input) .. {len(self.layers) - 1}")
        self._next_from = len(self.layers) - 1 - layer
        return self

    def _other(self, other: int) -> int:
        """from2 for a join reading the output of layer `other` (-1: the network input)."""
        other = int(other)
        if not -1 <= other < len(self.layers):
            raise ValueError(f"other {other}: expected -1 (the input) .. {len(self.layers) - 1}")
        return len(self.layers) - 1 - other

    def next_input_shape(self) -> Tuple[int, int, int]:
        """(C, H, W) of the tensor the next appended layer reads (set_next_input's choice,
        else the last output)."""
        return self.tensor_shape(len(self.layers) - self._next_from)

    def append(self, layer: Layer) -> Layer:
        """Append a Layer built by hand: it reads the tensor set_next_input chose (its from_
        is replaced), its shapes are derived and its arrays checked; ValueError leaves the
        model unchanged. Returns the layer."""
        i = len(self.layers)
        layer.from_ = self._next_from
        try:
            self._build(layer, i)
            layer._check_arrays(f"layer {i} ({layer.kind_name})")
        except ValueError as e:
            raise ValueError(f"{layer.kind_name}: {e}") from None
        self.layers.append(layer)
        self._next_from = 0
        return layer

    def _append_weighted(self, layer: Layer, w, b) -> Layer:
        i = len(self.layers)
        layer.from_ = self._next_from
        self._build(layer, i)                       # rows and cols, for the arrays below
        layer.w = np.zeros((layer.rows, layer.cols), np.float32) if w is None else \
            _finite_f32(w, f"{layer.kind_name} w", (layer.rows, layer.cols))
        layer.b = np.zeros(layer.rows, np.float32) if b is None else \
            _finite_f32(b, f"{layer.kind_name} b", (layer.rows,))
        return self.append(layer)

    def add_fc(self, outputs: int, w=None, b=None) -> Layer:
        """y[outputs] = W [outputs x C*H*W] . flatten(x) + b (CHW order, as torch.flatten).
        w: any array of outputs * inputs values (row-major), None: zeros; b: [outputs] or
        None (zeros). Output shape (outputs, 1, 1)."""
        return self._append_weighted(Layer(FC, outputs=int(outputs)), w, b)

    def add_conv2d(self, out_c: int, kernel=3, stride=1, pad=0, dilation=1, groups: int = 1,
                   w=None, b=None) -> Layer:
        """A 2-D convolution (scalpel_net_add_conv2d_ex). kernel, stride, dilation: int or
        (h, w); pad: int, (h, w) or (top, left, bottom, right), zero padding, each pad smaller
        than the dilated kernel; groups divides in_c and out_c (groups == in_c: depthwise).
        w: [out_c, in_c / groups, kh, kw] (or the same values as [out_c x cols]), None: zeros;
        b: [out_c] or None."""
        kh, kw = _pair(kernel, "kernel")
        sh, sw = _pair(stride, "stride")
        dh, dw = _pair(dilation, "dilation")
        t, l, bo, r = _pads(pad)
        L = Layer(CONV2D, outputs=int(out_c), kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw,
                  pad_top=t, pad_left=l, pad_bottom=bo, pad_right=r, dilation_h=dh, dilation_w=dw,
                  groups=int(groups))
        if kh < 1 or kw < 1:
            raise ValueError(f"conv2d: kernel {kh}x{kw}: must be >= 1")
        return self._append_weighted(L, w, b)

    def _pool(self, kind: int, kernel, stride, pad, mode: int) -> Layer:
        kh, kw = _pair(kernel, "kernel")
        sh, sw = _pair(kernel if stride is None else stride, "stride")
        t, l, bo, r = _pads(pad)
        if kh < 1 or kw < 1:
            raise ValueError(f"{KIND_NAMES[kind]}: kernel {kh}x{kw}: must be >= 1")
        return self.append(Layer(kind, kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw, pad_top=t,
                                 pad_left=l, pad_bottom=bo, pad_right=r, dilation_h=1, dilation_w=1,
                                 groups=1, mode=mode))

    def add_maxpool(self, kernel, stride=None, pad=0, ceil_mode: bool = False) -> Layer:
        """Max over windows (scalpel_net_add_maxpool_ex); padding counts as -infinity (never
        the maximum). stride None: the kernel (PyTorch's default). ceil_mode: round the
        output size up, less one when the last window would start in the bottom / right
        padding (PyTorch's rule)."""
        return self._pool(MAXPOOL, kernel, stride, pad, POOL_CEIL if ceil_mode else 0)

    def add_avgpool(self, kernel, stride=None, pad=0, ceil_mode: bool = False,
                    count_include_pad: bool = False) -> Layer:
        """Mean over windows (scalpel_net_add_avgpool): the sum of the window's cells inside
        the input divided by those cells, or with count_include_pad by the window's cells
        inside the padded input (PyTorch's count_include_pad). The default False is the C
        library's mode 0 (TensorFlow "same", ONNX's default), not PyTorch's default."""
        mode = (POOL_CEIL if ceil_mode else 0) | (POOL_COUNT_PADS if count_include_pad else 0)
        return self._pool(AVGPOOL, kernel, stride, pad, mode)

    def add_global_avgpool(self) -> Layer:
        """The mean of each channel (avgpool whose window is the whole map): [C x 1 x 1]."""
        _, h, w = self.next_input_shape()
        return self._pool(AVGPOOL, (h, w), 1, 0, 0)

    def add_batchnorm(self, mean, var, gamma=None, beta=None, eps: float = 1e-5) -> Layer:
        """Inference batch norm from trained statistics (scalpel_net_add_batchnorm): per
        channel scale = gamma / sqrt(var + eps), shift = beta - mean * scale, computed in
        float64 from the float32 inputs and stored as float32. gamma None: ones; beta None:
        zeros."""
        C = self.next_input_shape()[0]
        eps32 = np.float32(eps)
        if not (np.isfinite(eps32) and _real_ok(float(eps32)) and eps32 >= 0):
            raise ValueError(f"batchnorm: eps {eps} must be finite and >= 0")
        mean = _finite_f32(mean, "batchnorm mean", (C,)).astype(np.float64)
        var = _finite_f32(var, "batchnorm var", (C,)).astype(np.float64)
        g = np.ones(C) if gamma is None else _finite_f32(gamma, "batchnorm gamma", (C,)).astype(np.float64)
        bt = np.zeros(C) if beta is None else _finite_f32(beta, "batchnorm beta", (C,)).astype(np.float64)
        for name, a in (("mean", mean), ("var", var), ("gamma", g), ("beta", bt)):
            if not np.all(np.abs(a) < _REAL_LIMIT):
                raise ValueError(f"batchnorm: {name} must lie in (-3e38, 3e38)")
        v = var + float(eps32)
        if np.any(v <= 0.0):
            raise ValueError("batchnorm: var + eps must be > 0 (a variance of 0 with eps 0 divides by zero)")
        scale = g / np.sqrt(v)
        shift = bt - mean * scale
        return self.add_batchnorm_affine(scale.astype(np.float32), shift.astype(np.float32))

    def add_batchnorm_affine(self, scale, shift) -> Layer:
        """y[c] = x[c] * scale[c] + shift[c] from folded parameters
        (scalpel_net_add_batchnorm_affine)."""
        C = self.next_input_shape()[0]
        params = np.concatenate([_finite_f32(scale, "batchnorm scale", (C,)),
                                 _finite_f32(shift, "batchnorm shift", (C,))])
        return self.append(Layer(BATCHNORM, params=params))

    def add_add(self, other: int) -> Layer:
        """y = x + (the output of layer `other`; -1: the network input), same shape. A ReLU
        appended right after runs fused in the C forward pass (it stays its own layer)."""
        return self.append(Layer(ADD, from2=self._other(other)))

    def add_concat(self, other: int) -> Layer:
        """y = x's channels, then those of the output of layer `other` (-1: the input)."""
        return self.append(Layer(CONCAT, from2=self._other(other)))

    def add_relu(self) -> Layer:
        """y = max(x, 0)."""
        return self.append(Layer(RELU))

    def add_clip(self, lo: float, hi: float) -> Layer:
        """y = min(max(x, lo), hi), lo <= hi finite (float32)."""
        return self.append(Layer(CLIP, alpha=lo, beta=hi))

    def add_relu6(self) -> Layer:
        """clip(0, 6)."""
        return self.add_clip(0.0, 6.0)

    def add_leaky_relu(self, slope: float) -> Layer:
        """y = x > 0 ? x : slope * x."""
        return self.append(Layer(LEAKY_RELU, alpha=slope))

    def add_sigmoid(self) -> Layer:
        """y = 1 / (1 + exp(-x))."""
        return self.append(Layer(SIGMOID))

    def add_tanh(self) -> Layer:
        """y = tanh(x)."""
        return self.append(Layer(TANH))

    def add_hardswish(self) -> Layer:
        """y = x * clip(x + 3, 0, 6) / 6."""
        return self.append(Layer(HARDSWISH))

    def add_softmax(self) -> Layer:
        """Softmax over the channels at each position (torch.softmax(dim=1) on NCHW)."""
        return self.append(Layer(SOFTMAX))

    def add_lrn(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0,
                within_channel: bool = False) -> Layer:
        """Local response normalization (scalpel_net_add_lrn), size odd:
        across channels y = x / (k + alpha/size * sum of x^2 over `size` channels)^beta
        (torch.nn.LocalResponseNorm); within_channel: the sum over the size x size square
        centred on the cell (zero outside) and alpha / size^2."""
        size = int(size)
        return self.append(Layer(LRN, kernel_h=size, kernel_w=size, alpha=alpha, beta=beta, k=k,
                                 mode=LRN_WITHIN_CHANNEL if within_channel else 0))

    # -- files --

    @classmethod
    def load(cls, path) -> "Model":
        """Read a model file (versions 1 to 4). Every byte is treated as hostile:
        ValueError says what is wrong (magic, version, sizes, offsets, values, checksum)."""
        with open(path, "rb") as f:
            data = f.read()
        return cls.from_bytes(data)

    def save(self, path, version: Optional[int] = None) -> None:
        """Write the model file (the bytes of :meth:`to_bytes`; version as there)."""
        data = self.to_bytes(version)
        with open(path, "wb") as f:
            f.write(data)

    @classmethod
    def from_bytes(cls, data: bytes) -> "Model":
        """The model a file's bytes hold; ValueError when they are not a valid model file."""
        return _Reader(bytes(data)).read()

    def to_bytes(self, version: Optional[int] = None) -> bytes:
        """The model file's bytes. version None: the C writer's choice (4 when the model
        records an input preprocessing or a packed batch, else 2 when every layer is one
        version 2 holds, else 3), identical to scalpel_net_serialize's bytes for the same
        network. version 1 to 4 forces that version (for tests of readers; 1 to 3 only without
        version 4's metadata, 1 and 2 only when every layer fits them, 1 only when every layer
        reads the one before it)."""
        self.validate()
        first = all(_first_version_layer(L) for L in self.layers)
        meta = self.packed_batch != 0 or self.input_norm is not None
        if version is None:
            version = 4 if meta else 2 if first else 3
        if version not in RECORD_SIZES:
            raise ValueError(f"version {version}: expected 1, 2, 3 or 4")
        if version < 4 and meta:
            raise ValueError(f"version {version} cannot hold the input preprocessing or the packed batch (needs 4)")
        if version < 3 and not first:
            raise ValueError(f"version {version} cannot hold every layer of this model (needs 3)")
        if version == 1 and any(L.from_ for L in self.layers):
            raise ValueError("version 1 cannot hold layers that read other than the previous tensor")
        return _write(self, version)


# ---- writing --------------------------------------------------------------------------------

def _layer_arrays(L: Layer, version: int) -> List[Optional[bytes]]:
    """The six arrays of a record in data order (w, b, row_ptr, col_idx, values, params) as
    little-endian bytes, None where absent."""
    out: List[Optional[bytes]] = [None] * 6
    if L.weighted:
        out[1] = L.b.astype("<f4").tobytes()
        if L.storage == STORAGE_DENSE:
            out[0] = L.w.astype("<f4").tobytes() or None
        else:
            out[2] = L.row_ptr.astype("<i4").tobytes()
            if L.nnz_groups:
                out[3] = L.col_idx.astype("<u2" if L.index_bits == 16 else "<u4").tobytes()
                out[4] = L.values.astype("<f4").tobytes()
    if version >= 3 and PER_CHANNEL.get(L.kind, 0):
        out[5] = L.params.astype("<f4").tobytes()
    return out


_ARRAY_FIELD = (48, 64, 80, 96, 112, 136)   # record offset of each array's (offset, size)


def _write(model: Model, version: int) -> bytes:
    """The canonical file of a validated model in the given format version."""
    record = RECORD_SIZES[version]
    n = len(model.layers)
    cursor = HEADER_SIZE + n * record
    placed = []
    for L in model.layers:
        arrays = _layer_arrays(L, version)
        offsets = [0] * 6
        for q, a in enumerate(arrays):
            if a:
                offsets[q] = _round_up(cursor, ALIGN)
                cursor = offsets[q] + len(a)
        placed.append((arrays, offsets))
    norm = model.input_norm if version >= 4 else None
    norm_off = 0
    if norm is not None:            # after the last layer's arrays (scalpel__nf_norm_layout)
        norm_off = _round_up(cursor, ALIGN)
        cursor = norm_off + 8 * norm.channels
    total = _round_up(cursor, 4) + 4
    buf = bytearray(total)
    buf[0:4] = MAGIC
    struct.pack_into("<HHIIiii", buf, 4, version, HEADER_SIZE, record, n, *model.input_shape)
    struct.pack_into("<Q", buf, 32, total)
    for i, (L, (arrays, offsets)) in enumerate(zip(model.layers, placed)):
        r = HEADER_SIZE + i * record
        gcsr = L.weighted and L.storage == STORAGE_GCSR
        fields = [L.kind, L.out_shape[0] if L.weighted else 0, 0, 0, 0, L.storage if L.weighted else 0,
                  L.rows, L.cols, L.group if gcsr else 0, L.index_bits if gcsr else 0,
                  L.nnz_groups if gcsr else 0, 0]
        if version < 3:
            fields[2:5] = [L.kernel, L.stride, L.pad]
        struct.pack_into("<12I", buf, r, *fields)
        for q in range(6 if version >= 3 else 5):
            size = len(arrays[q]) if arrays[q] else 0
            struct.pack_into("<QQ", buf, r + _ARRAY_FIELD[q], offsets[q], size)
            if size:
                buf[offsets[q]:offsets[q] + size] = arrays[q]
        if version >= 2:
            struct.pack_into("<I", buf, r + 128, L.from_)
        if version >= 3:
            struct.pack_into("<I", buf, r + 132, L.from2)
            struct.pack_into("<12I", buf, r + 152, *(getattr(L, name) for name in _WINDOW_FIELDS))
            struct.pack_into("<3f", buf, r + 200, L.alpha, L.beta, L.k)
    if version >= 4:                # the header's metadata
        struct.pack_into("<I", buf, 40, model.packed_batch)
        if norm is not None:
            flags = FLAG_NORM | (FLAG_NORM_LAYER if norm.where == INPUT_NORM_LAYER else 0)
            struct.pack_into("<I", buf, 28, flags)
            struct.pack_into("<fQQ", buf, 44, norm.range, norm_off, 8 * norm.channels)
            struct.pack_into(f"<{2 * norm.channels}f", buf, norm_off, *norm.mean, *norm.std)
    struct.pack_into("<I", buf, total - 4, zlib.crc32(bytes(buf[:total - 4])) & 0xFFFFFFFF)
    return bytes(buf)


# ---- reading --------------------------------------------------------------------------------

class _Reader:
    """Reads a model file's bytes in the order and with the checks of the C reader
    (scalpel__net_view): header, then each record rebuilt in turn, then the trailing
    padding, then the arrays' contents."""

    def __init__(self, data: bytes):
        self.p = data
        self.size = len(data)

    def u16(self, at: int) -> int:
        return struct.unpack_from("<H", self.p, at)[0]

    def u32(self, at: int) -> int:
        return struct.unpack_from("<I", self.p, at)[0]

    def u64(self, at: int) -> int:
        return struct.unpack_from("<Q", self.p, at)[0]

    def zero(self, start: int, end: int) -> bool:
        return self.p[start:end].count(0) == end - start

    def read(self) -> Model:
        p, size = self.p, self.size
        if size < 4:
            raise ValueError(f"truncated: {size} bytes, not even a magic number")
        if p[:4] != MAGIC:
            raise ValueError(f"bad magic {p[:4]!r}: not a Scalpel model file (expected {MAGIC!r})")
        if size < 8:
            raise ValueError("truncated header")
        version = self.u16(4)
        if not 1 <= version <= FORMAT_VERSION:
            raise ValueError(f"unsupported format version {version} (this reader takes 1..{FORMAT_VERSION})")
        record = RECORD_SIZES[version]
        if self.u16(6) != HEADER_SIZE:
            raise ValueError(f"corrupt: header size {self.u16(6)}, expected {HEADER_SIZE}")
        if size < HEADER_SIZE + 4:
            raise ValueError(f"truncated: {size} bytes, shorter than the header")
        total = self.u64(32)
        if total > size:
            raise ValueError(f"truncated: the header says {total} bytes, the file has {size}")
        if total < size:
            raise ValueError(f"corrupt: {size - total} bytes after the end the header states ({total})")
        crc = zlib.crc32(p[:size - 4]) & 0xFFFFFFFF
        if crc != self.u32(size - 4):
            raise ValueError(f"checksum mismatch: stored {self.u32(size - 4):#010x}, computed {crc:#010x}")
        if self.u32(8) != record:
            raise ValueError(f"corrupt: record size {self.u32(8)}, version {version} has {record}")
        if version < 4 and (self.u32(28) != 0 or not self.zero(40, HEADER_SIZE)):
            raise ValueError(f"corrupt: header flags or reserved bytes are not zero (version {version} has no "
                             "metadata there)")
        n = self.u32(12)
        if n > MAX_LAYERS:
            raise ValueError(f"{n} layers: a model file holds at most {MAX_LAYERS}")
        if HEADER_SIZE + n * record + 4 > size:
            raise ValueError(f"corrupt: {n} layer records do not fit in {size} bytes")
        if size % 4:
            raise ValueError(f"corrupt: file size {size} is not a multiple of 4")
        c, h, w = self.u32(16), self.u32(20), self.u32(24)
        if max(c, h, w) > INT32_MAX or min(c, h, w) < 1:
            raise ValueError(f"corrupt: input shape {c}x{h}x{w}")
        if not _dims_ok(c, h, w):
            raise ValueError(f"input shape {c}x{h}x{w}: too many elements")
        model = Model((c, h, w))
        cursor = HEADER_SIZE + n * record
        for i in range(n):
            try:
                cursor = self.layer(model, HEADER_SIZE + i * record, version, record, cursor)
            except ValueError as e:
                raise ValueError(f"layer {i}: {e}") from None
        if version >= 4:
            cursor = self.meta(model, cursor)
        if _round_up(cursor, 4) + 4 != size:
            raise ValueError("corrupt: bytes after the last array that no record accounts for")
        if not self.zero(cursor, size - 4):
            raise ValueError("corrupt: nonzero padding before the checksum")
        return model

    def layer(self, model: Model, r: int, version: int, record: int, cursor: int) -> int:
        """Reads the record at r into the next layer of model; returns the cursor past its arrays."""
        i = len(model.layers)
        f = list(struct.unpack_from("<12I", self.p, r))
        if any(v > INT32_MAX for v in f):
            raise ValueError("corrupt: a field of the record is negative")
        kind, outputs, kernel, stride, pad, storage, rows, cols, group, bits, nnz, dtype = f
        if kind not in KIND_NAMES:
            raise ValueError(f"corrupt: unknown layer kind {kind}")
        L = Layer(kind, outputs=outputs)
        if version >= 2:
            L.from_ = self.u32(r + 128)
            if L.from_ > i:
                raise ValueError(f"corrupt: from {L.from_} points before the network input")
        if version >= 3:
            L.from2 = self.u32(r + 132)
            if kernel or stride or pad or L.from2 > i or not self.zero(r + 212, r + record):
                raise ValueError("corrupt: version-1 window fields, from2 or reserved bytes")
            window = struct.unpack_from("<12I", self.p, r + 152)
            if any(v > INT32_MAX for v in window):
                raise ValueError("corrupt: a window field is negative")
            for name, v in zip(_WINDOW_FIELDS, window):
                setattr(L, name, v)
            reals = struct.unpack_from("<3I", self.p, r + 200)
            if any((bits32 & 0x7F800000) == 0x7F800000 for bits32 in reals):
                raise ValueError("corrupt: alpha, beta or k is not finite")
            L.alpha, L.beta, L.k = struct.unpack_from("<3f", self.p, r + 200)
            if kind in WINDOWED and (L.kernel_h == 0 or L.kernel_w == 0):
                raise ValueError(f"corrupt: {L.kind_name} without its window")
        else:
            if version == 2 and not self.zero(r + 132, r + record):
                raise ValueError("corrupt: reserved bytes of the record are not zero")
            if kind > RELU:
                raise ValueError(f"corrupt: kind {KIND_NAMES[kind]} needs format version 3")
            if kind in WINDOWED:    # the first version's square window
                L.kernel_h = L.kernel_w = kernel
                L.stride_h = L.stride_w = stride
                L.pad_top = L.pad_left = L.pad_bottom = L.pad_right = pad
                L.dilation_h = L.dilation_w = L.groups = 1
            elif kernel or stride or pad:
                raise ValueError(f"corrupt: {L.kind_name} with a window")
        try:
            model._build(L, i)
        except ValueError as e:
            raise ValueError(f"corrupt: {e}") from None
        if version < 3 and not _first_version_layer(L):
            raise ValueError("corrupt: a layer version 1 / 2 files cannot hold")
        if rows != L.rows or cols != L.cols:
            raise ValueError(f"corrupt: stored weight shape {rows}x{cols}, the shapes give {L.rows}x{L.cols}")
        if dtype != 0:
            raise ValueError(f"dtype {dtype}: model files hold float32 (0) only")
        if version >= 4 and L.weighted and storage in (STORAGE_HYBRID, STORAGE_TASD):
            raise ValueError(f"storage {STORAGE_NAMES[storage]} ({L.kind_name}) is not supported by the Python "
                             "reader, which holds dense and gcsr layers; use the model the C tool's `plan "
                             "--no-retrain` started from, or pack that to dense or gcsr (`scalpel pack`)")
        if storage == STORAGE_GCSR and L.weighted:
            if group not in GROUP_SIZES:
                raise ValueError(f"group {group}: expected one of {GROUP_SIZES}")
            if bits not in (16, 32):
                raise ValueError(f"index bits {bits}: expected 16 or 32")
            if nnz * group > INT32_MAX:
                raise ValueError("too many stored values")
            if nnz > rows * ((cols + group - 1) // group):
                raise ValueError(f"corrupt: {nnz} stored groups for a {rows}x{cols} matrix")
        elif storage != STORAGE_DENSE or group or bits or nnz:
            raise ValueError(f"corrupt: storage {storage} with group {group}, index bits {bits}, "
                             f"nnz {nnz} for a {L.kind_name} layer")
        sizes = [0] * 6
        if L.weighted:
            sizes[1] = rows * 4
            if storage == STORAGE_DENSE:
                sizes[0] = rows * cols * 4
            else:
                sizes[2] = (rows + 1) * 4
                sizes[3] = nnz * (bits // 8)
                sizes[4] = nnz * group * 4
        sizes[5] = PER_CHANNEL.get(kind, 0) * L.out_shape[0] * 4
        end = self.size - 4
        offsets = [0] * 6
        for q in range(6 if version >= 3 else 5):
            o, s = struct.unpack_from("<QQ", self.p, r + _ARRAY_FIELD[q])
            if s != sizes[q]:
                raise ValueError(f"corrupt: array {q} has size {s}, expected {sizes[q]}")
            if s == 0:
                if o != 0:
                    raise ValueError(f"corrupt: empty array {q} at offset {o}")
                continue
            if o % ALIGN or o < cursor or o > end or s > end - o:
                raise ValueError(f"corrupt: array {q} at offset {o} (size {s}) is misaligned, "
                                 f"overlaps or lies outside the data")
            if not self.zero(cursor, o):
                raise ValueError("corrupt: nonzero bytes in a gap between arrays")
            offsets[q] = o
            cursor = o + s

        def floats(q: int, name: str) -> np.ndarray:
            raw = np.frombuffer(self.p, dtype="<u4", count=sizes[q] // 4, offset=offsets[q])
            if np.any((raw & 0x7F800000) == 0x7F800000):
                raise ValueError(f"corrupt: {name} holds NaN or infinity")
            return raw.view("<f4").astype(np.float32)

        if sizes[5]:
            L.params = floats(5, "params")
        if L.weighted:
            L.storage = storage
            L.b = floats(1, "bias")
            if storage == STORAGE_DENSE:
                L.w = floats(0, "weights").reshape(rows, cols)
            else:
                L.group, L.index_bits = group, bits
                L.row_ptr = np.frombuffer(self.p, "<i4", rows + 1, offsets[2]).astype(np.int32)
                L.col_idx = np.frombuffer(self.p, "<u2" if bits == 16 else "<u4", nnz, offsets[3]).astype(
                    np.uint16 if bits == 16 else np.uint32)
                L.values = floats(4, "values") if nnz else np.zeros(0, np.float32)
        try:
            L._check_arrays("arrays")
        except ValueError as e:
            raise ValueError(f"corrupt: {e}") from None
        model.layers.append(L)
        return cursor

    def meta(self, model: Model, cursor: int) -> int:
        """Version 4's header metadata into model (scalpel__nf_view_meta): the packed batch,
        the flags, and the preprocessing's range and array on the first 64-byte boundary after
        the layers' arrays (cursor), the gap zero. Returns the cursor past the array."""
        flags, batch = self.u32(28), self.u32(40)
        if batch > MAX_PACKED_BATCH:
            raise ValueError(f"corrupt: packed batch {batch} (at most {MAX_PACKED_BATCH})")
        model.packed_batch = batch
        off, sz = self.u64(48), self.u64(56)
        if flags == 0:
            if self.u32(44) != 0 or off != 0 or sz != 0:
                raise ValueError("corrupt: header flags 0 (no input preprocessing) with a nonzero range, offset "
                                 "or size (bytes 44..63)")
            return cursor
        if flags not in (FLAG_NORM, FLAG_NORM | FLAG_NORM_LAYER):
            raise ValueError(f"corrupt: header flags {flags}: expected 0, 1 (input preprocessing folded into "
                             "layer 0) or 3 (done by layer 0)")
        c = sz // 8
        in_c = model.input_shape[0]
        if sz % 8 or not 1 <= c <= INPUT_NORM_MAX_CHANNELS or c not in (1, in_c):
            per_channel = f" or {8 * in_c} (one per input channel)" if 1 < in_c <= INPUT_NORM_MAX_CHANNELS else ""
            raise ValueError(f"corrupt: input preprocessing array of {sz} bytes: expected 8 (one mean and std)"
                             f"{per_channel}")
        end = self.size - 4
        if off != _round_up(cursor, ALIGN) or off > end or sz > end - off:
            raise ValueError(f"corrupt: input preprocessing at offset {off}: expected {_round_up(cursor, ALIGN)}, "
                             "the first 64-byte boundary after the layers' arrays, inside the data")
        if not self.zero(cursor, off):
            raise ValueError("corrupt: nonzero bytes before the input preprocessing")
        words = (self.u32(44),) + struct.unpack_from(f"<{2 * c}I", self.p, off)
        if any((w & 0x7F800000) == 0x7F800000 for w in words):
            raise ValueError("corrupt: the input preprocessing's range, means or stds hold NaN or infinity")
        rng = struct.unpack_from("<f", self.p, 44)[0]
        values = struct.unpack_from(f"<{2 * c}f", self.p, off)
        q = InputNorm(INPUT_NORM_LAYER if flags & FLAG_NORM_LAYER else INPUT_NORM_FOLDED, int(c), rng,
                      values[:c], values[c:])
        try:
            model.input_norm = _check_input_norm(q, in_c, model.layers)
        except ValueError as e:
            raise ValueError(f"corrupt: {e}") from None
        return off + sz
