"""Writes tests/NormNet.Tests/Golden/bn_golden.safetensors: PyTorch's BatchNorm outputs, gradients and
running statistics for many shapes and options, which the C# tests compare against (no Python at test time).

Run from the repository root with Debian's PyTorch:  apt-get install python3-torch && /usr/bin/python3 tools/golden/make_bn_golden.py
Each case runs STEPS training steps (fresh input x and random upstream gradient g each step, gradients zeroed
before each step), then one eval step. Tensor names: "<case>.step<t>.<x|g|y|dx|dweight|dbias>",
"<case>.eval.<...>", "<case>.weight0"/"bias0" (initial affine parameters) and "<case>.running_mean",
"running_var", "num_batches_tracked" after the training steps. The case list is in the metadata."""
import json, os, sys
import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io

VERSION = 1
STEPS = 3
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "NormNet.Tests", "Golden", "bn_golden.safetensors")

CASES = [
    dict(name="bn1d_nc", layer="1d", shape=[8, 5]),
    dict(name="bn1d_ncl", layer="1d", shape=[4, 3, 7], momentum=0.3),
    dict(name="bn1d_noaffine", layer="1d", shape=[16, 17], affine=False),
    dict(name="bn1d_cumulative", layer="1d", shape=[6, 4], momentum=None),
    dict(name="bn1d_paper", layer="1d", shape=[60, 100]),
    dict(name="bn1d_offset", layer="1d", shape=[32, 33], offset=3.0, scale=2.0),
    dict(name="bn2d", layer="2d", shape=[4, 3, 5, 6]),
    dict(name="bn2d_eps", layer="2d", shape=[2, 8, 9, 9], eps=1e-3, momentum=0.05),
    dict(name="bn2d_wide", layer="2d", shape=[3, 40, 7, 7], offset=-1.5),
    dict(name="bn2d_nostats", layer="2d", shape=[3, 4, 5, 5], track=False),
    dict(name="bn2d_noaffine_cumulative", layer="2d", shape=[2, 5, 4, 4], affine=False, momentum=None),
    dict(name="bn3d", layer="3d", shape=[2, 3, 4, 5, 6]),
]


def make(case):
    cls = {"1d": torch.nn.BatchNorm1d, "2d": torch.nn.BatchNorm2d, "3d": torch.nn.BatchNorm3d}[case["layer"]]
    return cls(case["shape"][1], eps=case.get("eps", 1e-5), momentum=case.get("momentum", 0.1),
               affine=case.get("affine", True), track_running_stats=case.get("track", True))


def main():
    torch.manual_seed(1234)
    tensors = {}
    for case in CASES:
        bn = make(case)
        name = case["name"]
        if bn.affine:
            with torch.no_grad():
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)
            tensors[f"{name}.weight0"] = bn.weight.detach().clone()
            tensors[f"{name}.bias0"] = bn.bias.detach().clone()

        def step(tag):
            x = (torch.randn(*case["shape"]) * case.get("scale", 1.0) + case.get("offset", 0.0)).requires_grad_(True)
            g = torch.randn(*case["shape"])
            bn.zero_grad()
            y = bn(x)
            y.backward(g)
            tensors[f"{name}.{tag}.x"] = x.detach()
            tensors[f"{name}.{tag}.g"] = g
            tensors[f"{name}.{tag}.y"] = y.detach()
            tensors[f"{name}.{tag}.dx"] = x.grad.detach()
            if bn.affine:
                tensors[f"{name}.{tag}.dweight"] = bn.weight.grad.detach().clone()
                tensors[f"{name}.{tag}.dbias"] = bn.bias.grad.detach().clone()

        bn.train()
        for t in range(STEPS):
            step(f"step{t}")
        if bn.track_running_stats:
            tensors[f"{name}.running_mean"] = bn.running_mean.clone()
            tensors[f"{name}.running_var"] = bn.running_var.clone()
            tensors[f"{name}.num_batches_tracked"] = bn.num_batches_tracked.clone()
        bn.eval()
        step("eval")

    meta = {"format": "normnet-bn-golden", "version": VERSION, "torch": torch.__version__, "steps": STEPS,
            "cases": json.dumps(CASES)}
    safetensors_io.save(OUT, tensors, meta)
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
