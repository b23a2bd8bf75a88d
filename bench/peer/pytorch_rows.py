"""The PyTorch CPU peer of NormNet's benchmark rows (bench/NormNet.Bench/Rows.cs): same ids, same shapes,
median of 20 timed calls after 3 warm-up calls, one JSON object per row.
Run: apt-get install -y python3-torch libopenblas0-pthread && /usr/bin/python3 pytorch_rows.py --threads 2"""
import argparse, json, time
import torch

BN_SHAPES = ["60x100", "256x1024", "32x64x56x56", "32x64x56x56-cl", "128x256x14x14", "128x256x14x14-cl",
             "64x128x56x56", "64x128x56x56-cl"]


def median_ms(f, runs=20):
    for _ in range(5):
        f()
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return sorted(ts)[runs // 2] * 1e3


def bn_case(spec):
    last = spec.endswith("-cl")
    dims = [int(d) for d in spec.replace("-cl", "").split("x")]
    bn = torch.nn.BatchNorm1d(dims[1]) if len(dims) == 2 else torch.nn.BatchNorm2d(dims[1])
    x = torch.rand(*dims) * 2 - 1
    g = torch.rand(*dims) * 2 - 1
    if last:
        x = x.contiguous(memory_format=torch.channels_last)
        g = g.contiguous(memory_format=torch.channels_last)
    return bn, x, g


def bn_rows():
    for spec in BN_SHAPES:
        def train_fwd(spec=spec):
            bn, x, _ = bn_case(spec)
            bn.train()
            def f():
                with torch.no_grad():
                    bn(x)
            return f
        def backward(spec=spec):
            bn, x, g = bn_case(spec)
            bn.train()
            x.requires_grad_(True)
            y = bn(x)
            def f():
                x.grad = None
                bn.zero_grad(set_to_none=True)
                y.backward(g, retain_graph=True)
            return f
        def eval_fwd(spec=spec):
            bn, x, _ = bn_case(spec)
            bn.eval()
            def f():
                with torch.no_grad():
                    bn(x)
            return f
        yield f"bn train-fwd {spec}", train_fwd, 20
        yield f"bn backward {spec}", backward, 20
        yield f"bn eval-fwd {spec}", eval_fwd, 20


GN_SHAPES = ["32x64x56x56", "128x256x14x14"]
LN_SHAPES = ["4096x1024", "16384x256"]
GROUPS = 32


def norm_rows():
    """GroupNorm(32, C) and LayerNorm(D) forward (training mode, no grad) and backward, as NormRows.cs."""
    cases = [("gn", s, lambda d: torch.nn.GroupNorm(GROUPS, d[1])) for s in GN_SHAPES] + \
            [("ln", s, lambda d: torch.nn.LayerNorm(d[-1])) for s in LN_SHAPES]
    for name, spec, make in cases:
        dims = [int(d) for d in spec.split("x")]
        def train_fwd(dims=dims, make=make):
            layer, x = make(dims), torch.rand(*dims) * 2 - 1
            def f():
                with torch.no_grad():
                    layer(x)
            return f
        def backward(dims=dims, make=make):
            layer, x, g = make(dims), (torch.rand(*dims) * 2 - 1).requires_grad_(True), torch.rand(*dims) * 2 - 1
            y = layer(x)
            def f():
                x.grad = None
                layer.zero_grad(set_to_none=True)
                y.backward(g, retain_graph=True)
            return f
        yield f"{name} train-fwd {spec}", train_fwd, 20
        yield f"{name} backward {spec}", backward, 20


def mlp(bn):
    layers, d = [], 784
    for _ in range(3):
        layers.append(torch.nn.Linear(d, 100))
        if bn: layers.append(torch.nn.BatchNorm1d(100))
        layers.append(torch.nn.Sigmoid()); d = 100
    return torch.nn.Sequential(*layers, torch.nn.Linear(100, 10))


def cnn(bn):
    def block(cin, cout):
        return [torch.nn.Conv2d(cin, cout, 3, padding=1)] + ([torch.nn.BatchNorm2d(cout)] if bn else []) + \
               [torch.nn.ReLU(), torch.nn.MaxPool2d(2)]
    head = [torch.nn.Flatten(), torch.nn.Linear(64 * 7 * 7, 128)] + ([torch.nn.BatchNorm1d(128)] if bn else []) + \
           [torch.nn.ReLU(), torch.nn.Linear(128, 10)]
    return torch.nn.Sequential(*block(1, 32), *block(32, 64), *head)


class Residual(torch.nn.Module):
    """body(x) + shortcut(x) (the identity when there is none), as NormNet's Residual."""
    def __init__(self, body, shortcut=None):
        super().__init__()
        self.body, self.shortcut = body, shortcut

    def forward(self, x):
        return self.body(x) + (x if self.shortcut is None else self.shortcut(x))


def resnet(bn, width=16):
    """NormNet's resnet family with its defaults: a 3x3 stem, then one post-activation block per stage (16, 32, 64
    channels, stride 2 from the second stage on, a 1x1 projection shortcut where the shape changes), global average
    pooling and a Linear; convolutions followed by BN have no bias."""
    def conv_norm(cin, cout, k, stride):
        conv = torch.nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=not bn)
        return [conv, torch.nn.BatchNorm2d(cout)] if bn else [conv]

    def block(cin, cout, stride):
        body = torch.nn.Sequential(*conv_norm(cin, cout, 3, stride), torch.nn.ReLU(), *conv_norm(cout, cout, 3, 1))
        shortcut = None if stride == 1 and cin == cout else torch.nn.Sequential(*conv_norm(cin, cout, 1, stride))
        return Residual(body, shortcut)

    layers, channels = [*conv_norm(1, width, 3, 1), torch.nn.ReLU()], width
    for stage in range(3):
        layers += [block(channels, width << stage, 2 if stage > 0 else 1), torch.nn.ReLU()]
        channels = width << stage
    return torch.nn.Sequential(*layers, torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(channels, 10))


def step_rows():
    """One training step (zero_grad, forward, cross-entropy, backward, SGD lr 0.1) on fixed random data, as the
    shared peers/pytorch_train.py measures it."""
    for name, make, batch, shape, runs in [("mlp", mlp, 60, (784,), 300), ("cnn", cnn, 128, (1, 28, 28), 20),
                                             ("resnet", resnet, 128, (1, 28, 28), 20)]:
        for bn in (False, True):
            def setup(make=make, bn=bn, batch=batch, shape=shape):
                model = make(bn)
                opt = torch.optim.SGD(model.parameters(), lr=0.1)
                loss = torch.nn.CrossEntropyLoss()
                x = torch.randn(batch, *shape)
                y = torch.randint(0, 10, (batch,))
                def step():
                    opt.zero_grad()
                    loss(model(x), y).backward()
                    opt.step()
                return step
            yield f"{name} step bn={'on' if bn else 'off'} batch={batch}", setup, runs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--filter", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    for rid, setup, runs in list(bn_rows()) + list(norm_rows()) + list(step_rows()):
        if a.filter not in rid:
            continue
        f = setup()
        print(json.dumps({"id": rid, "median_ms": median_ms(f, runs)}), flush=True)


if __name__ == "__main__":
    main()
