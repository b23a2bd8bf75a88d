"""Loads NormNet weights into the matching PyTorch model and runs it in eval mode.

    /usr/bin/python3 tools/interop/load_normnet.py ARCH {--bn|--no-bn} WEIGHTS.safetensors [--check IO.safetensors]
                                                   [--data DIR] [--count N]

WEIGHTS is a file written by NormNet's ModelState.Save or a training Checkpoint (its "optimizer." tensors are
ignored); the state_dict names are PyTorch's, so load_state_dict(strict=True) takes it as it is and names any
tensor that does not fit. With --check, IO is a safetensors file holding "inputs" and NormNet's eval "outputs" for them:
the script runs PyTorch on the inputs and exits with status 1 unless its outputs agree within 1e-4 of the output
scale. Without --check it reports the accuracy on the first N Fashion-MNIST test images in DIR.
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_models  # noqa: E402
import safetensors_io  # noqa: E402

TOLERANCE = 1e-4


def load(name, batch_norm, path):
    """The PyTorch model of that architecture with the file's weights, in eval mode."""
    tensors, meta = safetensors_io.load(path)
    state = {k: v for k, v in tensors.items() if not k.startswith("optimizer.")}
    model = pytorch_models.create(name, batch_norm)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        sys.exit(f"{path}: does not fit PyTorch {name} (bn={batch_norm}): {e}")
    return model.eval(), meta


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch", choices=pytorch_models.NAMES)
    bn = parser.add_mutually_exclusive_group(required=True)
    bn.add_argument("--bn", dest="batch_norm", action="store_true")
    bn.add_argument("--no-bn", dest="batch_norm", action="store_false")
    parser.add_argument("weights")
    parser.add_argument("--check", metavar="IO", help="safetensors with 'inputs' and NormNet's 'outputs'")
    parser.add_argument("--data", default=pytorch_models.FASHION_MNIST)
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()

    model, meta = load(args.arch, args.batch_norm, args.weights)
    print(f"loaded {args.weights} into PyTorch {args.arch} (bn={args.batch_norm}); metadata: {meta or 'none'}")
    with torch.no_grad():
        if args.check:
            io, _ = safetensors_io.load(args.check)
            outputs = model(io["inputs"])
            expected = io["outputs"]
            worst = (outputs - expected).abs().max().item()
            scale = expected.abs().max().item()
            print(f"{io['inputs'].shape[0]} inputs: max |PyTorch - NormNet| = {worst:.3g}, output scale {scale:.3g}, "
                  f"relative {worst / scale:.3g} (tolerance {TOLERANCE})")
            sys.exit(0 if worst <= TOLERANCE * scale else 1)
        images, labels = pytorch_models.fashion_mnist("t10k", args.count, args.arch, args.data)
        accuracy = (model(images).argmax(dim=1) == labels).float().mean().item()
        print(f"accuracy on the first {images.shape[0]} test images of {args.data}: {accuracy:.4f}")


if __name__ == "__main__":
    main()
