"""Writes tests/NormNet.Tests/Golden/norm_golden.safetensors: PyTorch's GroupNorm, LayerNorm and InstanceNorm1d/2d
outputs, gradients and running statistics for several shapes, group counts and options, which the C# tests compare
against (no Python at test time).

Run from the repository root with Debian's PyTorch:  apt-get install python3-torch && /usr/bin/python3 tools/golden/make_norm_golden.py
Each case runs STEPS training steps (fresh input x and random upstream gradient g each step, gradients zeroed
before each step), then one eval step. Tensor names: "<case>.step<t>.<x|g|y|dx|dweight|dbias>",
"<case>.eval.<...>", "<case>.weight0"/"bias0" (initial affine parameters) and, for instance norm with
track_running_stats, "<case>.running_mean", "running_var", "num_batches_tracked" after the training steps.
A LayerNorm case with bias=False (PyTorch 2.1's option, absent from 1.13) is recorded as a layer whose bias is held
at zero, with no dbias. The case list is in the metadata."""
import json, os, sys
import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io

VERSION = 1
STEPS = 3
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "NormNet.Tests", "Golden", "norm_golden.safetensors")

CASES = [
    dict(name="gn_basic", layer="group", groups=2, shape=[3, 4, 5, 6]),
    dict(name="gn_one_group", layer="group", groups=1, shape=[2, 6, 7]),
    dict(name="gn_group_per_channel", layer="group", groups=5, shape=[3, 5, 4, 4]),
    dict(name="gn_noaffine", layer="group", groups=3, shape=[2, 6, 3, 3], affine=False),
    dict(name="gn_nc", layer="group", groups=2, shape=[5, 8]),
    dict(name="gn_eps_offset", layer="group", groups=4, shape=[2, 16, 9, 9], eps=1e-3, offset=3.0, scale=2.0),
    dict(name="gn_5d", layer="group", groups=2, shape=[2, 4, 3, 4, 5]),
    dict(name="ln_last", layer="layer", normalized=[10], shape=[4, 7, 10]),
    dict(name="ln_two_dims", layer="layer", normalized=[5, 6], shape=[3, 5, 6]),
    dict(name="ln_image", layer="layer", normalized=[3, 4, 5], shape=[2, 3, 4, 5]),
    dict(name="ln_noaffine", layer="layer", normalized=[33], shape=[6, 33], affine=False),
    dict(name="ln_wide_offset", layer="layer", normalized=[100], shape=[3, 100], offset=-2.0, scale=0.5),
    dict(name="ln_eps", layer="layer", normalized=[17], shape=[8, 17], eps=1e-3),
    dict(name="ln_nobias", layer="layer", normalized=[12], shape=[5, 12], bias=False),
    dict(name="in1d", layer="instance1d", shape=[4, 3, 7]),
    dict(name="in1d_affine_track", layer="instance1d", shape=[4, 3, 7], affine=True, track=True, momentum=0.3),
    dict(name="in1d_unbatched", layer="instance1d", shape=[3, 8], affine=True),
    dict(name="in2d", layer="instance2d", shape=[2, 3, 5, 6]),
    dict(name="in2d_affine", layer="instance2d", shape=[3, 4, 4, 5], affine=True, eps=1e-3),
    dict(name="in2d_track", layer="instance2d", shape=[2, 5, 6, 6], track=True, offset=1.0),
]


def channels(case):
    unbatched = case["layer"] == "instance1d" and len(case["shape"]) == 2
    return case["shape"][0 if unbatched else 1]


def make(case):
    eps = case.get("eps", 1e-5)
    if case["layer"] == "group":
        return torch.nn.GroupNorm(case["groups"], channels(case), eps=eps, affine=case.get("affine", True))
    if case["layer"] == "layer":
        return torch.nn.LayerNorm(case["normalized"], eps=eps, elementwise_affine=case.get("affine", True))
    cls = torch.nn.InstanceNorm1d if case["layer"] == "instance1d" else torch.nn.InstanceNorm2d
    return cls(channels(case), eps=eps, momentum=case.get("momentum", 0.1), affine=case.get("affine", False),
               track_running_stats=case.get("track", False))


def main():
    torch.manual_seed(4321)
    tensors = {}
    for case in CASES:
        layer = make(case)
        name = case["name"]
        with_bias = case.get("bias", True)
        weight = getattr(layer, "weight", None)
        bias = getattr(layer, "bias", None)
        if weight is not None:
            with torch.no_grad():
                weight.uniform_(0.5, 1.5)
                bias.uniform_(-0.5, 0.5) if with_bias else bias.zero_()
            if not with_bias:
                bias.requires_grad_(False)
            tensors[f"{name}.weight0"] = weight.detach().clone()
            if with_bias:
                tensors[f"{name}.bias0"] = bias.detach().clone()

        def step(tag):
            x = (torch.randn(*case["shape"]) * case.get("scale", 1.0) + case.get("offset", 0.0)).requires_grad_(True)
            g = torch.randn(*case["shape"])
            layer.zero_grad()
            y = layer(x)
            y.backward(g)
            tensors[f"{name}.{tag}.x"] = x.detach()
            tensors[f"{name}.{tag}.g"] = g
            tensors[f"{name}.{tag}.y"] = y.detach()
            tensors[f"{name}.{tag}.dx"] = x.grad.detach()
            if weight is not None:
                tensors[f"{name}.{tag}.dweight"] = weight.grad.detach().clone()
                if with_bias:
                    tensors[f"{name}.{tag}.dbias"] = bias.grad.detach().clone()

        layer.train()
        for t in range(STEPS):
            step(f"step{t}")
        if getattr(layer, "track_running_stats", False):
            tensors[f"{name}.running_mean"] = layer.running_mean.clone()
            tensors[f"{name}.running_var"] = layer.running_var.clone()
            tensors[f"{name}.num_batches_tracked"] = layer.num_batches_tracked.clone()
        layer.eval()
        step("eval")

    meta = {"format": "normnet-norm-golden", "version": VERSION, "torch": torch.__version__, "steps": STEPS,
            "cases": json.dumps(CASES)}
    safetensors_io.save(OUT, tensors, meta)
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
