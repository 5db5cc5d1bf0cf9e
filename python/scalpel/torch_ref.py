"""PyTorch reference of Scalpel networks: a model file as a torch.nn.Module.

Every layer kind is computed with torch's own operators, so that the C library's forward
pass can be checked against an implementation it shares no code with:

* fc: ``F.linear`` on the input flattened in CHW order (``torch.flatten(x, 1)``);
* conv2d: ``F.pad`` (the four pads may differ) then ``F.conv2d`` with stride, dilation and
  groups;
* maxpool / avgpool: ``F.max_pool2d`` / ``F.avg_pool2d`` with ``ceil_mode`` and
  ``count_include_pad`` where those express the C library's rule exactly (equal pads on both
  sides of an axis, each at most half the kernel: PyTorch's own limits); otherwise the input
  is padded explicitly (with -inf for max pooling, zeros for average pooling) to exactly the
  extent the windows cover, and an average divides the window sums by the window counts of
  an explicit mask (the input, or with count_include_pad the padded input);
* batchnorm: ``x * scale + shift`` per channel; add: ``+``; concat: ``torch.cat`` on the
  channels; relu, clip, leaky_relu, sigmoid, tanh, hardswish: their torch functions;
  softmax: ``torch.softmax(dim=1)``; lrn: ``F.local_response_norm`` across channels, and
  ``F.avg_pool2d`` of the squares (count_include_pad) within a channel.

Grouped-CSR layers are densified. The module keeps every tensor of the pass, so layers that
read earlier tensors (``from_``, ``from2``) work as in the C library.
"""

from __future__ import annotations

import math
import os
from typing import List, Optional, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .model import (ADD, AVGPOOL, BATCHNORM, CLIP, CONCAT, CONV2D, FC, HARDSWISH, JOINS, LEAKY_RELU,
                    LRN, LRN_WITHIN_CHANNEL, MAXPOOL, POOL_CEIL, POOL_COUNT_PADS, RELU, SIGMOID,
                    SOFTMAX, TANH, Layer, Model)

__all__ = ["ScalpelModule", "to_torch", "apply_layer", "conv2d", "maxpool", "avgpool", "lrn",
           "pad_to_windows", "LocalResponseNormWithinChannel"]


def _symmetric_native(L: Layer) -> bool:
    """PyTorch's pooling functions express the layer's window exactly: equal pads on both
    sides of each axis, each at most half the kernel."""
    return (L.pad_top == L.pad_bottom and L.pad_left == L.pad_right and
            2 * L.pad_top <= L.kernel_h and 2 * L.pad_left <= L.kernel_w)


def _window_extent(L: Layer):
    """Rows and columns, from the top-left padding cell, that the layer's windows cover."""
    _, oh, ow = L.out_shape
    need_h = (oh - 1) * L.stride_h + (L.kernel_h - 1) * max(L.dilation_h, 1) + 1
    need_w = (ow - 1) * L.stride_w + (L.kernel_w - 1) * max(L.dilation_w, 1) + 1
    return need_h, need_w


def pad_to_windows(L: Layer, x: torch.Tensor, value: float) -> torch.Tensor:
    """x [N, C, H, W] padded (with `value`) or cropped to exactly the rows and columns the
    layer's windows cover: pad_top rows above and pad_left columns to the left, then as many
    rows and columns as the last window reaches (past the bottom / right pads in ceil mode,
    fewer when the windows stop short). Pooling it without padding and in floor mode gives
    the layer's output shape."""
    _, H, W = L.in_shape
    need_h, need_w = _window_extent(L)
    return F.pad(x, (L.pad_left, need_w - W - L.pad_left, L.pad_top, need_h - H - L.pad_top),
                 mode="constant", value=value)


def conv2d(L: Layer, x: torch.Tensor, w: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:
    """The convolution of layer L on x with weights w [rows x cols] and bias b [rows]."""
    out_c, cg = L.out_shape[0], L.in_shape[0] // L.groups
    xp = F.pad(x, (L.pad_left, L.pad_right, L.pad_top, L.pad_bottom))
    return F.conv2d(xp, w.reshape(out_c, cg, L.kernel_h, L.kernel_w), b, stride=(L.stride_h, L.stride_w),
                    dilation=(L.dilation_h, L.dilation_w), groups=L.groups)


def maxpool(L: Layer, x: torch.Tensor, native: Optional[bool] = None) -> torch.Tensor:
    """Max pooling of layer L; padding never wins. native None: F.max_pool2d's own padding
    and ceil mode where they express the window, else explicit -inf padding; True / False
    force one way (False works for every window; True only where PyTorch takes it)."""
    k, s = (L.kernel_h, L.kernel_w), (L.stride_h, L.stride_w)
    if _symmetric_native(L) if native is None else native:
        return F.max_pool2d(x, k, s, (L.pad_top, L.pad_left), ceil_mode=bool(L.mode & POOL_CEIL))
    return F.max_pool2d(pad_to_windows(L, x, -math.inf), k, s)


def avgpool(L: Layer, x: torch.Tensor, native: Optional[bool] = None) -> torch.Tensor:
    """Average pooling of layer L: window sums over the cells inside the input, divided by
    those cells or (POOL_COUNT_PADS) by the window's cells inside the padded input. native as
    for maxpool (the explicit way divides sums by the counts of a mask)."""
    k, s = (L.kernel_h, L.kernel_w), (L.stride_h, L.stride_w)
    count_pads = bool(L.mode & POOL_COUNT_PADS)
    if _symmetric_native(L) if native is None else native:
        return F.avg_pool2d(x, k, s, (L.pad_top, L.pad_left), ceil_mode=bool(L.mode & POOL_CEIL),
                            count_include_pad=count_pads)
    sums = F.avg_pool2d(pad_to_windows(L, x, 0.0), k, s, divisor_override=1)
    _, H, W = L.in_shape
    if count_pads:   # ones over the padded input, zeros past it (where ceil mode reaches)
        ph, pw = H + L.pad_top + L.pad_bottom, W + L.pad_left + L.pad_right
        need_h, need_w = _window_extent(L)
        mask = F.pad(torch.ones(1, 1, ph, pw, dtype=x.dtype, device=x.device), (0, need_w - pw, 0, need_h - ph))
    else:            # ones over the input
        mask = pad_to_windows(L, torch.ones(1, 1, H, W, dtype=x.dtype, device=x.device), 0.0)
    counts = F.avg_pool2d(mask, k, s, divisor_override=1)
    return sums / counts


def lrn(L: Layer, x: torch.Tensor) -> torch.Tensor:
    """Local response normalization of layer L (size = kernel_h, alpha, beta, k)."""
    size = L.kernel_h
    if L.mode & LRN_WITHIN_CHANNEL:
        mean_sq = F.avg_pool2d(x * x, size, 1, size // 2, count_include_pad=True)
        return x / (L.k + L.alpha * mean_sq) ** L.beta
    return F.local_response_norm(x, size, alpha=L.alpha, beta=L.beta, k=L.k)


class LocalResponseNormWithinChannel(nn.Module):
    """Caffe's LRN with norm_region WITHIN_CHANNEL (cuda-convnet's ConvNet), which PyTorch
    lacks: y = x / (k + alpha / size^2 * sum of x^2 over the size x size square centred on
    each cell, zero outside)^beta, size odd. scalpel.convert_torch maps it to the lrn layer
    (within a channel); its ONNX export (AveragePool of x * x counting pads, Mul, Add, Pow,
    Div) is recognised by the ONNX converter."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0):
        super().__init__()
        if size < 1 or size % 2 == 0:
            raise ValueError(f"size {size}: must be odd and >= 1")
        self.size, self.alpha, self.beta, self.k = int(size), float(alpha), float(beta), float(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean_sq = F.avg_pool2d(x * x, self.size, 1, self.size // 2, count_include_pad=True)
        return x / (self.k + self.alpha * mean_sq) ** self.beta

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def apply_layer(L: Layer, x: torch.Tensor, x2: Optional[torch.Tensor] = None,
                w: Optional[torch.Tensor] = None, b: Optional[torch.Tensor] = None,
                params: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Layer L on a batch x [N, C, H, W] (x2: the second input of add and concat; w [rows x
    cols] and b [rows]: a weighted layer's dense weights; params: batchnorm's scale then
    shift). Returns [N, out_c, out_h, out_w]."""
    kind = L.kind
    if kind == FC:
        return F.linear(torch.flatten(x, 1), w, b).reshape(x.shape[0], L.out_shape[0], 1, 1)
    if kind == CONV2D:
        return conv2d(L, x, w, b)
    if kind == MAXPOOL:
        return maxpool(L, x)
    if kind == AVGPOOL:
        return avgpool(L, x)
    if kind == RELU:
        return F.relu(x)
    if kind == BATCHNORM:
        C = L.out_shape[0]
        return x * params[:C].reshape(1, C, 1, 1) + params[C:].reshape(1, C, 1, 1)
    if kind == ADD:
        return x + x2
    if kind == CONCAT:
        return torch.cat([x, x2], dim=1)
    if kind == CLIP:
        return torch.clamp(x, L.alpha, L.beta)
    if kind == LEAKY_RELU:
        return F.leaky_relu(x, L.alpha)
    if kind == SIGMOID:
        return torch.sigmoid(x)
    if kind == TANH:
        return torch.tanh(x)
    if kind == HARDSWISH:
        return F.hardswish(x)
    if kind == SOFTMAX:
        return torch.softmax(x, dim=1)
    if kind == LRN:
        return lrn(L, x)
    raise ValueError(f"unknown layer kind {kind}")


class ScalpelModule(nn.Module):
    """A Scalpel network as a torch.nn.Module.

    forward(x) takes a batch [N, C, H, W] (or [N, C*H*W]) and returns the last layer's
    output flattened per sample, [N, out_c * out_h * out_w], in CHW order: what the C
    library's scalpel_net_forward writes. Weights and biases are parameters named
    ``w<i>`` / ``b<i>`` and batchnorm's scale and shift ``params<i>`` (i: the layer index),
    so ``.double()`` or ``.to(device)`` move them all. :meth:`tensors` returns every tensor of
    the pass (tensor 0 the input, tensor i + 1 layer i's output).
    """

    def __init__(self, model: Model):
        super().__init__()
        model.validate()
        self.input_shape = tuple(model.input_shape)
        self.layers: List[Layer] = list(model.layers)
        for i, L in enumerate(self.layers):
            if L.weighted:
                self.register_parameter(f"w{i}", nn.Parameter(torch.from_numpy(np.array(L.dense_weights()))))
                self.register_parameter(f"b{i}", nn.Parameter(torch.from_numpy(np.array(L.b))))
            if L.params is not None:
                self.register_parameter(f"params{i}", nn.Parameter(torch.from_numpy(np.array(L.params))))

    def tensors(self, x: torch.Tensor) -> List[torch.Tensor]:
        """Every tensor of the forward pass of x: [input, output of layer 0, ...]."""
        x = x.reshape(x.shape[0], *self.input_shape)
        ts = [x]
        for i, L in enumerate(self.layers):
            src = ts[i - L.from_]
            src2 = ts[i - L.from2] if L.kind in JOINS else None
            y = apply_layer(L, src, src2, getattr(self, f"w{i}", None), getattr(self, f"b{i}", None),
                            getattr(self, f"params{i}", None))
            expect = (x.shape[0],) + tuple(L.out_shape)
            if tuple(y.shape) != expect:    # the C library's shape rules and torch's disagree
                raise RuntimeError(f"layer {i} ({L.kind_name}): torch gives {tuple(y.shape)}, "
                                   f"the model's shape rules {expect}")
            ts.append(y)
        return ts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.tensors(x)[-1].reshape(x.shape[0], -1)


def to_torch(model: Union[str, os.PathLike, Model]) -> ScalpelModule:
    """A torch.nn.Module computing the network of a model file (a path) or of a Model."""
    if not isinstance(model, Model):
        model = Model.load(model)
    return ScalpelModule(model)
