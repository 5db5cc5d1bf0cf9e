#!/usr/bin/env python3
"""make_safetensors.py - reference safetensors files for tests/test_safetensors.c.

usage: python3 tests/make_safetensors.py DIR

Writes into DIR, for each network NAME below, NAME.safetensors (the weights) and NAME.ref (a
batch of inputs and the outputs the network must give):

  lenet_f32, lenet_f16, lenet_bf16   LeNet-300-100: 784-300-relu-100-relu-10, fc1..fc3
  conv_f32                           3x16x16 -> conv(6, k5, s1, p2) relu pool2 ->
                                     conv(16, k3, s2, p1) relu pool2 -> fc 32 relu -> fc 10,
                                     tensors named so that only natural order is right
  torch_conv                         the same shapes as a torch.nn.Sequential, its state_dict
                                     ("0.weight", "3.weight", "7.weight", "9.weight") and
                                     PyTorch's own outputs (torch is required)

The safetensors files are written by hand, as the format defines them (8-byte little-endian
header length, JSON header padded with spaces to a multiple of 8, then the tensors), so this
script needs numpy only. References come from a numpy forward pass in float64 over the very
values stored (F16 and BF16 weights rounded first), or from PyTorch itself.

NAME.ref layout, little-endian: b"SREF", u32 batch, u32 inputs per sample, u32 outputs per
sample, then float32 inputs [batch x inputs] and float32 outputs [batch x outputs].
"""
import json
import os
import struct
import sys

import numpy as np


def bf16_round(a):
    """float32 -> the float32 value of its bfloat16 rounding (nearest, ties to even)."""
    u = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return (u << 16).astype(np.uint32).view(np.float32)


def encode(a, dtype):
    """Little-endian bytes of array a stored as dtype ("F32", "F16" or "BF16")."""
    if dtype == "F32":
        return np.ascontiguousarray(a, dtype="<f4").tobytes()
    if dtype == "F16":
        return np.ascontiguousarray(a, dtype="<f2").tobytes()
    bits = bf16_round(a).view(np.uint32) >> 16
    return np.ascontiguousarray(bits, dtype="<u2").tobytes()


def stored(a, dtype):
    """The float32 values a reader gets back from encode(a, dtype)."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        return bf16_round(a)
    return a


def write_safetensors(path, tensors, dtype, order=None, metadata=None):
    """tensors: dict name -> float array. `order` is the order of the data (the header's key
    order is the dict's), to show that readers must not assume the two agree."""
    info = {}
    blobs = []
    offset = 0
    for name in order or list(tensors):
        blob = encode(tensors[name], dtype)
        blobs.append(blob)
        info[name] = {"dtype": dtype, "shape": list(tensors[name].shape),
                      "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for name in tensors:
        header[name] = info[name]
    text = json.dumps(header).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_ref(path, x, y):
    x = np.ascontiguousarray(x, dtype="<f4").reshape(x.shape[0], -1)
    y = np.ascontiguousarray(y, dtype="<f4").reshape(y.shape[0], -1)
    with open(path, "wb") as f:
        f.write(b"SREF")
        f.write(struct.pack("<III", x.shape[0], x.shape[1], y.shape[1]))
        f.write(x.tobytes())
        f.write(y.tobytes())


def conv2d(x, w, b, stride, pad):
    """x [N, C, H, W], w [O, C, k, k] -> [N, O, OH, OW], float64, zero padding."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    xp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    oh = (h + 2 * pad - k) // stride + 1
    ow = (wd + 2 * pad - k) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride:i * stride + k, j * stride:j * stride + k]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return y + b[None, :, None, None]


def maxpool(x, k, s):
    n, c, h, w = x.shape
    oh, ow = (h - k) // s + 1, (w - k) // s + 1
    y = np.full((n, c, oh, ow), -np.inf)
    for i in range(k):
        for j in range(k):
            y = np.maximum(y, x[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s])
    return y


def relu(x):
    return np.maximum(x, 0)


def uniform(rng, shape, fan_in):
    return (rng.uniform(-1, 1, size=shape) / np.sqrt(fan_in)).astype(np.float32)


def lenet(rng, out_dir):
    t = {}
    sizes = [784, 300, 100, 10]
    for i in range(3):
        t["fc%d.weight" % (i + 1)] = uniform(rng, (sizes[i + 1], sizes[i]), sizes[i])
        t["fc%d.bias" % (i + 1)] = uniform(rng, (sizes[i + 1],), sizes[i])
    x = rng.uniform(0, 1, size=(4, 1, 28, 28)).astype(np.float32)
    # data in a different order from the header's keys
    order = sorted(t, reverse=True)
    for dtype in ("F32", "F16", "BF16"):
        s = {k: stored(v, dtype).astype(np.float64) for k, v in t.items()}
        h = x.reshape(4, -1).astype(np.float64)
        h = relu(h @ s["fc1.weight"].T + s["fc1.bias"])
        h = relu(h @ s["fc2.weight"].T + s["fc2.bias"])
        y = h @ s["fc3.weight"].T + s["fc3.bias"]
        name = "lenet_" + dtype.lower()
        write_safetensors(os.path.join(out_dir, name + ".safetensors"), t, dtype, order=order,
                          metadata={"format": "pt", "note": "LeNet-300-100 \u00e9"})
        write_ref(os.path.join(out_dir, name + ".ref"), x, y)


def convnet_params(rng):
    return [uniform(rng, (6, 3, 5, 5), 75), uniform(rng, (6,), 75),
            uniform(rng, (16, 6, 3, 3), 54), uniform(rng, (16,), 54),
            uniform(rng, (32, 64), 64), uniform(rng, (32,), 64),
            uniform(rng, (10, 32), 32), uniform(rng, (10,), 32)]


def convnet_numpy(p, x):
    h = maxpool(relu(conv2d(x.astype(np.float64), p[0], p[1], 1, 2)), 2, 2)
    h = maxpool(relu(conv2d(h, p[2], p[3], 2, 1)), 2, 2)
    h = relu(h.reshape(h.shape[0], -1) @ p[4].T.astype(np.float64) + p[5])
    return h @ p[6].T.astype(np.float64) + p[7]


def convnet(rng, out_dir):
    p = convnet_params(rng)
    names = ["conv.2", "conv.10", "fc.9", "fc.11"]   # natural order differs from byte order
    t = {}
    for i, n in enumerate(names):
        t[n + ".weight"] = p[2 * i]
        if n != "fc.9":                                # one layer without a bias tensor
            t[n + ".bias"] = p[2 * i + 1]
        else:
            p[2 * i + 1] = np.zeros_like(p[2 * i + 1])
    x = rng.uniform(-1, 1, size=(3, 3, 16, 16)).astype(np.float32)
    write_safetensors(os.path.join(out_dir, "conv_f32.safetensors"), t, "F32")
    write_ref(os.path.join(out_dir, "conv_f32.ref"), x, convnet_numpy(p, x))


def torch_convnet(out_dir):
    try:
        import torch
    except ImportError:
        # the PyTorch parity test needs PyTorch's own outputs: no torch is a failure, not a skip
        sys.exit("make_safetensors: torch not importable under %s: install Debian's python3-torch "
                 "(tools/deps.sh test) and run with /usr/bin/python3" % sys.executable)
    torch.manual_seed(3)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 6, 5, stride=1, padding=2), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
        torch.nn.Conv2d(6, 16, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2, 2),
        torch.nn.Flatten(), torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    x = torch.rand(5, 3, 16, 16) * 2 - 1
    with torch.no_grad():
        y = net(x)
    t = {k: v.detach().cpu().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    write_safetensors(os.path.join(out_dir, "torch_conv.safetensors"), t, "F32")
    write_ref(os.path.join(out_dir, "torch_conv.ref"), x.numpy(), y.numpy())
    print("make_safetensors: torch %s: wrote torch_conv" % torch.__version__)


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    rng = np.random.default_rng(2026)
    lenet(rng, out_dir)
    convnet(rng, out_dir)
    torch_convnet(out_dir)
    print("make_safetensors: wrote", " ".join(sorted(os.listdir(out_dir))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
