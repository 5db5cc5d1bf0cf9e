"""Scalpel on the host: model files in numpy, and a PyTorch reference of the networks.

    import scalpel
    m = scalpel.Model((1, 28, 28))
    m.add_conv2d(8, kernel=3, pad=1, w=w1, b=b1)
    m.add_relu()
    m.add_fc(10, w=w2)
    m.save("net.scpn")                       # the bytes scalpel_net_save writes
    net = scalpel.to_torch("net.scpn")       # torch.nn.Module: [N, C, H, W] -> [N, outputs]

Model, Layer and the constants need numpy only; to_torch imports torch when called.
"""

from .model import (ADD, AVGPOOL, BATCHNORM, CLIP, CONCAT, CONV2D, FC, FORMAT_VERSION, HARDSWISH,
                    KIND_NAMES, LEAKY_RELU, LRN, LRN_WITHIN_CHANNEL, MAX_LAYERS, MAXPOOL, POOL_CEIL,
                    POOL_COUNT_PADS, RELU, SIGMOID, SOFTMAX, STORAGE_DENSE, STORAGE_GCSR, TANH, Layer,
                    Model)

__all__ = ["Model", "Layer", "to_torch", "FC", "CONV2D", "MAXPOOL", "RELU", "AVGPOOL", "BATCHNORM",
           "ADD", "CONCAT", "CLIP", "LEAKY_RELU", "SIGMOID", "TANH", "HARDSWISH", "SOFTMAX", "LRN",
           "KIND_NAMES", "POOL_CEIL", "POOL_COUNT_PADS", "LRN_WITHIN_CHANNEL", "STORAGE_DENSE",
           "STORAGE_GCSR", "MAX_LAYERS", "FORMAT_VERSION"]


def to_torch(model):
    """A torch.nn.Module computing the network of a model file (path) or a Model: input
    [N, C, H, W] float32, output [N, out_c * out_h * out_w] (CHW order per sample, as the C
    library's forward pass writes it). Grouped-CSR layers are densified."""
    from .torch_ref import to_torch as _to_torch
    return _to_torch(model)
