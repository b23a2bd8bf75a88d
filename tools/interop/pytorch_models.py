"""NormNet's built-in architectures (src/NormNet/Models/Architectures.cs) in PyTorch, with IDENTICAL state_dict names,
so weights move both ways as safetensors (NormNet's ModelState / Checkpoint files, tools/golden/safetensors_io.py).

The names line up because both sides build nn.Sequential-like containers with the same children in the same order:
  mlp-sigmoid  0 Linear(784,100) 1 BatchNorm1d 2 Sigmoid 3 Linear ... 9 Linear(100,10)        (no BN: 0 Linear 1 Sigmoid ...)
  cnn          0 Conv2d(1,32,3,p1) 1 BatchNorm2d 2 ReLU 3 MaxPool2d(2) 4 Conv2d(32,64) ... 12 Linear(128,10)
  resnet       0 Conv2d(1,16) 1 BatchNorm2d 2 ReLU, then (Residual, ReLU) x 3, GlobalAvgPool2d, Linear(64,10);
               a Residual has children "body" and, only when it projects, "shortcut" (both Sequential)
Two small modules match NormNet layers that PyTorch lacks: Residual (y = body(x) + shortcut(x)) and GlobalAvgPool2d
((N, C, H, W) -> (N, C), no parameters). Convolutions followed by BN have no bias, as in NormNet.

Run with Debian's PyTorch (/usr/bin/python3, torch 1.13).
"""
import gzip
import os
import struct

import torch
from torch import nn

NAMES = ["mlp-sigmoid", "cnn", "resnet"]
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


class Residual(nn.Module):
    """y = body(x) + shortcut(x); the shortcut is the identity when None (and then has no state)."""

    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body = body
        self.shortcut = shortcut

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


class GlobalAvgPool2d(nn.Module):
    """Mean over each channel's plane: (N, C, H, W) -> (N, C), as AdaptiveAvgPool2d(1) then Flatten."""

    def forward(self, x):
        return x.mean(dim=(2, 3))


def mlp_sigmoid(batch_norm):
    """The paper's MNIST net: 784-100-100-100-10, sigmoid hidden units, BN between each hidden Linear and its sigmoid."""
    layers, inputs = [], 28 * 28
    for _ in range(3):
        layers.append(nn.Linear(inputs, 100))
        if batch_norm:
            layers.append(nn.BatchNorm1d(100))
        layers.append(nn.Sigmoid())
        inputs = 100
    layers.append(nn.Linear(100, 10))
    return nn.Sequential(*layers)


def cnn(batch_norm):
    """conv32-[BN]-ReLU-pool-conv64-[BN]-ReLU-pool-fc128-[BN]-ReLU-fc10, 3x3 convolutions with padding 1."""
    layers = [nn.Conv2d(1, 32, 3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(32))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(64))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 7 * 7, 128)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(128))
    layers += [nn.ReLU(), nn.Linear(128, 10)]
    return nn.Sequential(*layers)


def _block(in_channels, out_channels, stride, batch_norm):
    body = [nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=not batch_norm)]
    if batch_norm:
        body.append(nn.BatchNorm2d(out_channels))
    body += [nn.ReLU(), nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=not batch_norm)]
    if batch_norm:
        body.append(nn.BatchNorm2d(out_channels))
    if stride == 1 and in_channels == out_channels:
        return Residual(nn.Sequential(*body))
    shortcut = [nn.Conv2d(in_channels, out_channels, 1, stride, 0, bias=not batch_norm)]
    if batch_norm:
        shortcut.append(nn.BatchNorm2d(out_channels))
    return Residual(nn.Sequential(*body), nn.Sequential(*shortcut))


def resnet(batch_norm):
    """A 3x3 stem of 16 channels, residual stages of 16, 32 (stride 2) and 64 (stride 2) channels, global average
    pooling and a linear classifier."""
    layers = [nn.Conv2d(1, 16, 3, padding=1, bias=not batch_norm)]
    if batch_norm:
        layers.append(nn.BatchNorm2d(16))
    layers.append(nn.ReLU())
    channels = 16
    for width, stride in [(16, 1), (32, 2), (64, 2)]:
        layers += [_block(channels, width, stride, batch_norm), nn.ReLU()]
        channels = width
    layers += [GlobalAvgPool2d(), nn.Linear(channels, 10)]
    return nn.Sequential(*layers)


def create(name, batch_norm):
    """Builds an architecture by NormNet's name."""
    builders = {"mlp-sigmoid": mlp_sigmoid, "cnn": cnn, "resnet": resnet}
    if name not in builders:
        raise ValueError(f"unknown architecture {name!r}; expected one of: {', '.join(NAMES)}")
    return builders[name](batch_norm)


def input_shape(name):
    """One input without the batch dimension, as NormNet's loader lays it out for the architecture."""
    return (28 * 28,) if name == "mlp-sigmoid" else (1, 28, 28)


def read_idx(path):
    """Reads an IDX file (raw or .gz) as a uint8 tensor of its dimensions."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, rank = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes")
    dims = struct.unpack(">" + "I" * rank, data[4:4 + 4 * rank])
    return torch.frombuffer(bytearray(data[4 + 4 * rank:]), dtype=torch.uint8).reshape(dims)


def fashion_mnist(split, count, name, directory=FASHION_MNIST):
    """The first `count` images of a split ("train" or "t10k") scaled to [0, 1] as NormNet does (byte / 255), in the
    architecture's layout, and their labels."""
    def find(stem):
        for candidate in (stem, stem + ".gz"):
            path = os.path.join(directory, candidate)
            if os.path.exists(path):
                return path
        raise FileNotFoundError(f"{directory}: missing {stem} (or {stem}.gz)")
    images = read_idx(find(f"{split}-images-idx3-ubyte"))[:count].float() / 255
    labels = read_idx(find(f"{split}-labels-idx1-ubyte"))[:count].long()
    return images.reshape((images.shape[0],) + input_shape(name)), labels
