"""The PyTorch peer of `normnet experiment mnist --full`: the paper's 784-100-100-100-10 sigmoid MLP with and without
BN, weights N(0, 0.1) and zero biases, plain SGD lr 0.5, batches of 60 reshuffled every epoch, 50,000 steps per
network, test accuracy in eval mode every 500 steps. Prints the wall time of both runs together.
Run: /usr/bin/python3 bench/peer/pytorch_mnist.py [--threads 2] [--steps 50000] [--data /usr/share/datasets/fashion-mnist]"""
import argparse, gzip, os, resource, struct, time
import numpy as np
import torch


def idx(path):
    with (gzip.open(path) if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    dims = data[3]
    shape = struct.unpack(">" + "I" * dims, data[4:4 + 4 * dims])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def load(folder, split):
    def find(name):
        for candidate in (name, name + ".gz"):
            if os.path.exists(os.path.join(folder, candidate)):
                return os.path.join(folder, candidate)
        raise FileNotFoundError(name)
    images = idx(find(f"{split}-images-idx3-ubyte")).reshape(-1, 784).astype(np.float32) / 255
    labels = idx(find(f"{split}-labels-idx1-ubyte")).astype(np.int64)
    return torch.from_numpy(images), torch.from_numpy(labels)


def mlp(bn):
    layers, d = [], 784
    for _ in range(3):
        layers.append(torch.nn.Linear(d, 100))
        if bn:
            layers.append(torch.nn.BatchNorm1d(100))
        layers.append(torch.nn.Sigmoid())
        d = 100
    model = torch.nn.Sequential(*layers, torch.nn.Linear(100, 10))
    for m in model:
        if isinstance(m, torch.nn.Linear):
            torch.nn.init.normal_(m.weight, 0, 0.1)
            torch.nn.init.zeros_(m.bias)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=50_000)
    ap.add_argument("--every", type=int, default=500)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    xtr, ytr = load(a.data, "train")
    xte, yte = load(a.data, "t10k")
    start = time.perf_counter()
    for bn in (False, True):
        model = mlp(bn)
        opt = torch.optim.SGD(model.parameters(), lr=0.5)
        loss = torch.nn.CrossEntropyLoss()
        order, pos, last = torch.randperm(len(xtr)), 0, None
        for step in range(1, a.steps + 1):
            if pos + 60 > len(order):
                order, pos = torch.randperm(len(xtr)), 0
            idx_ = order[pos:pos + 60]
            pos += 60
            model.train()
            opt.zero_grad()
            loss(model(xtr[idx_]), ytr[idx_]).backward()
            opt.step()
            if step % a.every == 0:
                model.eval()
                with torch.no_grad():
                    last = (model(xte).argmax(1) == yte).float().mean().item()
        print(f"bn={bn}: final test accuracy {last:.4f}")
    print(f"wall {time.perf_counter() - start:.1f} s for both networks ({a.steps} steps each, {a.threads} threads)")
    print(f"peak_rss_mb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


if __name__ == "__main__":
    main()
