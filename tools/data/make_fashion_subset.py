"""Writes data/fashion-mnist-subset/: a class-balanced subset of Fashion-MNIST (10,000 training and 2,000 test
images, 1,000 and 200 per class) in the original IDX gz format, with its LICENSE and README.md. NormNet embeds
these files in its assembly as the default data set (src/NormNet/NormNet.csproj).

Run from the repository root with the plain Python 3 standard library (no numpy):
    apt-get install dataset-fashion-mnist     # the full set, at /usr/share/datasets/fashion-mnist
    python3 tools/data/make_fashion_subset.py [source-dir]

Selection rule (reproducible in any language): within each split, image i (0-based, in the original file order)
gets the key splitmix64((SEED << 32) + i); for each class the PER_CLASS images with the smallest keys are kept
(splitmix64 is a bijection, so keys never tie), and the kept images are written in their original order.
The gzip files are written with mtime = 0 and no file name, so the same Python and zlib give the same bytes; the
SHA-256 of the decompressed IDX contents, listed in the README, is the same with any gzip implementation.
"""
import gzip
import hashlib
import os
import struct
import sys

SEED = 2017
PER_CLASS = {"train": 1000, "t10k": 200}
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
SOURCE = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "fashion-mnist-subset")
MASK = (1 << 64) - 1

LICENSE = """The MIT License (MIT)

Copyright (c) 2017 Zalando SE, https://tech.zalando.com

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
"""


def splitmix64(x):
    """The SplitMix64 output function (Steele, Lea and Flood, 2014), as in NormNet's Rng seeding."""
    z = (x + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def read_idx(path, rank):
    """Returns (dims, data) of an unsigned-byte IDX file (gz or raw), checking its header and length."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if raw[0:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != rank:
        sys.exit(f"{path}: expected an unsigned-byte IDX file of rank {rank}, header is {raw[:4].hex()}")
    dims = struct.unpack(">" + "i" * rank, raw[4:4 + 4 * rank])
    size = 1
    for d in dims:
        size *= d
    data = raw[4 + 4 * rank:]
    if len(data) != size:
        sys.exit(f"{path}: expected {size} data bytes for dimensions {dims}, found {len(data)}")
    return dims, data


def find(name):
    for candidate in (name, name + ".gz"):
        path = os.path.join(SOURCE, candidate)
        if os.path.exists(path):
            return path
    sys.exit(f"{SOURCE}: missing {name} (or {name}.gz)")


def idx_bytes(dims, data):
    return bytes([0, 0, 0x08, len(dims)]) + struct.pack(">" + "i" * len(dims), *dims) + data


def subset(split):
    """Selects PER_CLASS[split] images per class; returns (image IDX bytes, label IDX bytes, source indices)."""
    (n, h, w), images = read_idx(find(f"{split}-images-idx3-ubyte"), 3)
    (n_labels,), labels = read_idx(find(f"{split}-labels-idx1-ubyte"), 1)
    if n != n_labels:
        sys.exit(f"{split}: {n} images but {n_labels} labels")
    per_class = PER_CLASS[split]
    kept = []
    for c in range(len(CLASSES)):
        members = [i for i in range(n) if labels[i] == c]
        if len(members) < per_class:
            sys.exit(f"{split}: class {c} has {len(members)} images, fewer than {per_class}")
        members.sort(key=lambda i: splitmix64((SEED << 32) + i))
        kept.extend(members[:per_class])
    kept.sort()
    pixels = h * w
    image_data = b"".join(images[i * pixels:(i + 1) * pixels] for i in kept)
    label_data = bytes(labels[i] for i in kept)
    return idx_bytes((len(kept), h, w), image_data), idx_bytes((len(kept),), label_data), kept


def write(name, data):
    path = os.path.join(OUT, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = []
    firsts = {}
    for split in ("train", "t10k"):
        image_idx, label_idx, kept = subset(split)
        firsts[split] = kept[:5]
        for kind, content in (("images-idx3-ubyte", image_idx), ("labels-idx1-ubyte", label_idx)):
            name = f"{split}-{kind}.gz"
            packed = gzip.compress(content, compresslevel=9, mtime=0)
            write(name, packed)
            rows.append((name, len(packed), len(content), hashlib.sha256(content).hexdigest()))
            print(f"{name}: {len(content)} bytes, {len(packed)} gzipped")
    write("LICENSE", LICENSE.encode("ascii"))
    table = "\n".join(f"| `{n}` | {c:,} | {u:,} | `{h}` |" for n, c, u, h in rows)
    classes = ", ".join(f"{i} {name}" for i, name in enumerate(CLASSES))
    readme = f"""# Fashion-MNIST subset (embedded default data set)

A class-balanced subset of [Fashion-MNIST](https://github.com/zalandoresearch/fashion-mnist) (Xiao, Rasul and
Vollgraf, 2017): 10,000 training images (1,000 per class) from the 60,000 of `train-*`, and 2,000 test images
(200 per class) from the 10,000 of `t10k-*`; 28x28 grayscale.
Labels: {classes}.

The files keep the original IDX format and names, gzipped. NormNet embeds them in its assembly and uses them when
no data directory is given and the full set is not installed (`NormNet.Data.DataSets.Resolve`).

## How it was made

`python3 tools/data/make_fashion_subset.py`, from the full set of the Debian package `dataset-fashion-mnist`
(`/usr/share/datasets/fashion-mnist`). Rule: within each split, image i (0-based, original order) gets the key
`splitmix64(({SEED} << 32) + i)`; for each class the images with the smallest keys are kept ({PER_CLASS['train']:,}
per class for training, {PER_CLASS['t10k']:,} for test), and the kept images are written in their original order
(the first training indices are {firsts['train']}, the first test indices {firsts['t10k']}). gzip is written with
mtime 0 and no file name. The SHA-256 below is of the decompressed IDX contents, which any gzip reproduces.

| File | Bytes (gz) | Bytes (IDX) | SHA-256 of the IDX contents |
| --- | ---: | ---: | --- |
{table}

## Licence

Fashion-MNIST is Copyright (c) 2017 Zalando SE and is distributed under the MIT licence; the full text is in
[LICENSE](LICENSE), which must accompany these files (NormNet embeds it next to them).
"""
    write("README.md", readme.encode("utf-8"))


if __name__ == "__main__":
    main()
