"""Scalpel on the host: model files in numpy, and a PyTorch reference of the networks.

    import scalpel
    m = scalpel.Model((1, 28, 28))
    m.add_conv2d(8, kernel=3, pad=1, w=w1, b=b1)
    m.add_relu()
    m.add_fc(10, w=w2)
    m.save("net.scpn")                       # the bytes scalpel_net_save writes
    net = scalpel.to_torch("net.scpn")       # torch.nn.Module: [N, C, H, W] -> [N, outputs]

    m = scalpel.convert_torch(module, (3, 96, 96), "net.scpn")   # torch.fx, no ONNX
    m = scalpel.convert_onnx("net.onnx")     # or: python3 -m scalpel convert net.onnx -o net.scpn

Model, Layer and the constants need numpy only; to_torch and convert_torch import torch
when called, convert_onnx imports onnx. Conversions raise ConvertError (a ValueError) naming
the node they cannot map.
"""

from .graph import ConvertError
from .model import (ADD, AVGPOOL, BATCHNORM, CLIP, CONCAT, CONV2D, FC, FORMAT_VERSION, HARDSWISH,
                    KIND_NAMES, LEAKY_RELU, LRN, LRN_WITHIN_CHANNEL, MAX_LAYERS, MAXPOOL, POOL_CEIL,
                    POOL_COUNT_PADS, RELU, SIGMOID, SOFTMAX, STORAGE_DENSE, STORAGE_GCSR, TANH, InputNorm,
                    Layer, Model)

__all__ = ["Model", "Layer", "InputNorm", "to_torch", "convert_torch", "convert_onnx", "ConvertError", "FC", "CONV2D", "MAXPOOL", "RELU", "AVGPOOL", "BATCHNORM",
           "ADD", "CONCAT", "CLIP", "LEAKY_RELU", "SIGMOID", "TANH", "HARDSWISH", "SOFTMAX", "LRN",
           "KIND_NAMES", "POOL_CEIL", "POOL_COUNT_PADS", "LRN_WITHIN_CHANNEL", "STORAGE_DENSE",
           "STORAGE_GCSR", "MAX_LAYERS", "FORMAT_VERSION"]


def to_torch(model):
    """A torch.nn.Module computing the network of a model file (path) or a Model: input
    [N, C, H, W] float32, output [N, out_c * out_h * out_w] (CHW order per sample, as the C
    library's forward pass writes it). Grouped-CSR layers are densified."""
    from .torch_ref import to_torch as _to_torch
    return _to_torch(model)


def convert_torch(module, input_shape, path=None, check=True):
    """A torch.nn.Module as a Model, through torch.fx (scalpel.torch_convert.convert_torch):
    input_shape (C, H, W) or (F,) per sample; saved to `path` when given; check compares the
    result with the module on a random batch."""
    from .torch_convert import convert_torch as _convert_torch
    return _convert_torch(module, input_shape, path, check)


def convert_onnx(model, input_shape=None):
    """An ONNX model (path, bytes or ModelProto) as a Model (scalpel.onnx_convert)."""
    from .onnx_convert import convert_onnx as _convert_onnx
    return _convert_onnx(model, input_shape)
