"""Writes tests/NormNet.Tests/Golden/optim_golden.safetensors: parameters after several steps of PyTorch's
SGD (plain, momentum+dampening, Nesterov, weight decay), Adam and AdamW from the same start and the same
sequence of gradients, which the C# optimizer tests replay.
Run from the repository root: /usr/bin/python3 tools/golden/make_optim_golden.py"""
import json, os, sys
import torch

sys.path.insert(0, os.path.dirname(__file__))
import safetensors_io

STEPS = 5
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "NormNet.Tests", "Golden", "optim_golden.safetensors")
CASES = [
    dict(name="sgd", kind="sgd", lr=0.1),
    dict(name="sgd_momentum", kind="sgd", lr=0.05, momentum=0.9, dampening=0.1, weight_decay=0.01),
    dict(name="sgd_nesterov", kind="sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    dict(name="adam", kind="adam", lr=1e-2, weight_decay=0.1),
    dict(name="adam_betas", kind="adam", lr=3e-3, betas=[0.8, 0.99], eps=1e-6),
    dict(name="adamw", kind="adamw", lr=1e-2, weight_decay=0.05),
]


def main():
    torch.manual_seed(7)
    tensors = {}
    p0 = torch.randn(37)
    grads = [torch.randn(37) for _ in range(STEPS)]
    tensors["p0"] = p0
    for t, g in enumerate(grads):
        tensors[f"grad{t}"] = g
    for case in CASES:
        p = torch.nn.Parameter(p0.clone())
        if case["kind"] == "sgd":
            opt = torch.optim.SGD([p], lr=case["lr"], momentum=case.get("momentum", 0), dampening=case.get("dampening", 0),
                                  weight_decay=case.get("weight_decay", 0), nesterov=case.get("nesterov", False))
        else:
            cls = torch.optim.Adam if case["kind"] == "adam" else torch.optim.AdamW
            opt = cls([p], lr=case["lr"], betas=tuple(case.get("betas", [0.9, 0.999])), eps=case.get("eps", 1e-8),
                      weight_decay=case.get("weight_decay", 0 if case["kind"] == "adam" else 1e-2))
        for t, g in enumerate(grads):
            p.grad = g.clone()
            opt.step()
            tensors[f"{case['name']}.step{t}"] = p.detach().clone()
    safetensors_io.save(OUT, tensors, {"format": "normnet-optim-golden", "version": 1, "torch": torch.__version__,
                                       "steps": STEPS, "cases": json.dumps(CASES)})
    print(f"wrote {len(tensors)} tensors to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
