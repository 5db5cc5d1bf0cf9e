#!/usr/bin/python3
"""from_pytorch_models.py - the PyTorch models of tests/test_from_pytorch.sh, each made the way
a PyTorch user makes it, saved as safetensors with the framework's outputs beside it.

usage: /usr/bin/python3 tests/from_pytorch_models.py DIR MNIST_DIR

Writes into DIR (x*.npy are inputs as the model file takes them, *_y.npy PyTorch's outputs):
  channels.safetensors   LeNet-5 pruned with prune.ln_structured (half the channels of conv1 and
                         conv2, 60% of fc1's outputs): zero rows whose biases stay
  bn0.safetensors        a conv net with BatchNorm2d / BatchNorm1d right after conv and fc
  bn1.safetensors        the same with bn1 after the relu (it cannot be folded)
  twoheads.safetensors   an fc net with a second head (aux) that --arch does not describe
  lenet.safetensors      LeNet-5, for inputs normalized by Normalize((0.1307,), (0.3081,)):
                         lenet_norm_y.npy for x.npy in [0, 1], lenet_norm255_y.npy for x255.npy
  rgb.safetensors        a padded 3-channel conv, Normalize with CIFAR-10's per-channel values
  mnist_norm.safetensors 784-64-10 trained a little on MNIST with Normalize((0.1307,), (0.3081,))
The safetensors files are written by hand (the format: 8-byte header length, JSON, data).
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune


def save_st(sd, path):
    header, blobs, off = {}, [], 0
    for name, t in sd.items():
        a = t.detach().cpu().numpy()
        dt = {np.float32: "F32", np.int64: "I64"}[a.dtype.type]
        blob = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": dt, "shape": list(a.shape), "data_offsets": [off, off + len(blob)]}
        blobs.append(blob)
        off += len(blob)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


class LeNet5(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1, s.conv2 = nn.Conv2d(1, 20, 5), nn.Conv2d(20, 50, 5)
        s.fc1, s.fc2 = nn.Linear(800, 500), nn.Linear(500, 10)

    def forward(s, x):
        x = torch.max_pool2d(torch.relu(s.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(s.conv2(x)), 2)
        return s.fc2(torch.relu(s.fc1(x.flatten(1))))


class BNNet(nn.Module):
    def __init__(s, after_relu):
        super().__init__()
        s.after_relu = after_relu
        s.conv1, s.bn1 = nn.Conv2d(1, 6, 5), nn.BatchNorm2d(6)
        s.conv2, s.bn2 = nn.Conv2d(6, 8, 5), nn.BatchNorm2d(8)
        s.fc1, s.bn3, s.fc2 = nn.Linear(128, 32), nn.BatchNorm1d(32), nn.Linear(32, 10)

    def forward(s, x):
        if s.after_relu:
            x = torch.max_pool2d(s.bn1(torch.relu(s.conv1(x))), 2)
        else:
            x = torch.max_pool2d(torch.relu(s.bn1(s.conv1(x))), 2)
        x = torch.max_pool2d(torch.relu(s.bn2(s.conv2(x))), 2)
        return s.fc2(torch.relu(s.bn3(s.fc1(x.flatten(1)))))


class TwoHeads(nn.Module):
    def __init__(s):
        super().__init__()
        s.fc1, s.fc2, s.aux = nn.Linear(784, 32), nn.Linear(32, 10), nn.Linear(32, 2)


class RGBPad(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1, s.fc = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(4 * 8 * 8, 5)

    def forward(s, x):
        return s.fc(torch.relu(s.conv1(x)).flatten(1))


def normalized(x, mean, std, scale=1.0):
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return (x / scale - m) / s


def mnist(directory, split, n):
    def read(name):
        path = os.path.join(directory, name)
        opener = gzip.open if not os.path.exists(path) else open
        with opener(path if os.path.exists(path) else path + ".gz", "rb") as f:
            return f.read()
    prefix = "train" if split == "train" else "t10k"
    img = np.frombuffer(read(prefix + "-images-idx3-ubyte"), np.uint8, offset=16)
    lab = np.frombuffer(read(prefix + "-labels-idx1-ubyte"), np.uint8, offset=8)
    return torch.tensor(img[: n * 784].reshape(n, 1, 28, 28) / 255.0, dtype=torch.float32), torch.tensor(lab[:n].astype(np.int64))


def main():
    d, mnist_dir = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    x = torch.rand(8, 1, 28, 28)
    np.save(d + "/x.npy", x.numpy())
    with torch.no_grad():
        # channel pruning as torch.nn.utils.prune does it: weights zeroed, biases kept
        m = LeNet5().eval()
        for mod, amount in ((m.conv1, 0.5), (m.conv2, 0.5), (m.fc1, 0.6)):
            prune.ln_structured(mod, "weight", amount=amount, n=2, dim=0)
            prune.remove(mod, "weight")
        save_st(m.state_dict(), d + "/channels.safetensors")
        np.save(d + "/channels_y.npy", m(x).numpy())

        for after in (0, 1):
            m = BNNet(after)
            for bn in (m.bn1, m.bn2, m.bn3):
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)
            m.eval()
            save_st(m.state_dict(), d + "/bn%d.safetensors" % after)
            np.save(d + "/bn%d_y.npy" % after, m(x).numpy())

        save_st(TwoHeads().state_dict(), d + "/twoheads.safetensors")

        m = LeNet5().eval()
        save_st(m.state_dict(), d + "/lenet.safetensors")
        np.save(d + "/lenet_norm_y.npy", m(normalized(x, [0.1307], [0.3081])).numpy())
        x255 = (x * 255).round()
        np.save(d + "/x255.npy", x255.numpy())
        np.save(d + "/lenet_norm255_y.npy", m(normalized(x255, [0.1307], [0.3081], 255.0)).numpy())

        m = RGBPad().eval()
        save_st(m.state_dict(), d + "/rgb.safetensors")
        xr = torch.rand(4, 3, 8, 8)
        np.save(d + "/xrgb.npy", xr.numpy())
        np.save(d + "/rgb_y.npy", m(normalized(xr, [0.4914, 0.4822, 0.4465], [0.247, 0.243, 0.261])).numpy())

    # a small MNIST model trained as the tutorials do, on Normalize((0.1307,), (0.3081,))
    xs, ys = mnist(mnist_dir, "train", 12000)
    xs = normalized(xs, [0.1307], [0.3081]).flatten(1)
    m = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10))
    opt = torch.optim.Adam(m.parameters(), lr=2e-3)
    for epoch in range(3):
        for i in range(0, len(xs), 100):
            opt.zero_grad()
            nn.functional.cross_entropy(m(xs[i:i + 100]), ys[i:i + 100]).backward()
            opt.step()
    xt, yt = mnist(mnist_dir, "test", 2000)
    with torch.no_grad():
        err = (m(normalized(xt, [0.1307], [0.3081]).flatten(1)).argmax(1) != yt).float().mean().item()
    save_st(m.state_dict(), d + "/mnist_norm.safetensors")
    with open(d + "/mnist_norm_error.txt", "w") as f:
        f.write("%.4f\n" % err)


if __name__ == "__main__":
    main()
