"""Trains one of NormNet's architectures briefly in PyTorch and writes what NormNet needs to load and check it.

    /usr/bin/python3 tools/interop/export_pytorch.py ARCH {--bn|--no-bn} OUT [--steps 20] [--inputs 8] [--seed 0]
                                                     [--data DIR | --random]

Writes OUT.safetensors, the model's state_dict (PyTorch names, which are NormNet's; num_batches_tracked as I64), for
NormNet's ModelState.Load, and OUT_io.safetensors with "inputs" (the first --inputs test images, or random images
with --random) and "outputs", PyTorch's eval-mode outputs for them. Training: SGD (lr 0.05, momentum 0.9) on batches
of 32 drawn from the first 1024 training images of Fashion-MNIST in DIR (pixels / 255, as NormNet's loader), or from
random images with --random. The fixture tests/NormNet.Tests/Golden/pytorch_resnet_bn*.safetensors was made with
    /usr/bin/python3 tools/interop/export_pytorch.py resnet --bn tests/NormNet.Tests/Golden/pytorch_resnet_bn
"""
import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pytorch_models  # noqa: E402
import safetensors_io  # noqa: E402

VERSION = 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch", choices=pytorch_models.NAMES)
    bn = parser.add_mutually_exclusive_group(required=True)
    bn.add_argument("--bn", dest="batch_norm", action="store_true")
    bn.add_argument("--no-bn", dest="batch_norm", action="store_false")
    parser.add_argument("out", help="output path without extension")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--inputs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", default=pytorch_models.FASHION_MNIST)
    source.add_argument("--random", action="store_true", help="train and record on random images instead")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    shape = pytorch_models.input_shape(args.arch)
    if args.random:
        train_x, train_y = torch.rand((1024,) + shape), torch.randint(0, 10, (1024,))
        inputs = torch.rand((args.inputs,) + shape)
        data = "random uniform images"
    else:
        train_x, train_y = pytorch_models.fashion_mnist("train", 1024, args.arch, args.data)
        inputs, _ = pytorch_models.fashion_mnist("t10k", args.inputs, args.arch, args.data)
        data = f"Fashion-MNIST in {args.data}"

    model = pytorch_models.create(args.arch, args.batch_norm)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.train()
    for step in range(args.steps):
        batch = torch.randint(0, train_x.shape[0], (32,))
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(train_x[batch]), train_y[batch])
        loss.backward()
        optimizer.step()
    print(f"{args.arch} bn={args.batch_norm}: {args.steps} steps, last loss {loss.item():.4f}")

    model.eval()
    with torch.no_grad():
        outputs = model(inputs)
    meta = {"version": VERSION, "arch": args.arch, "batch_norm": args.batch_norm, "steps": args.steps, "seed": args.seed,
            "data": data, "torch": torch.__version__}
    safetensors_io.save(args.out + ".safetensors", model.state_dict(), meta)
    safetensors_io.save(args.out + "_io.safetensors", {"inputs": inputs, "outputs": outputs}, meta)
    print(f"wrote {args.out}.safetensors ({len(model.state_dict())} tensors) and {args.out}_io.safetensors "
          f"({inputs.shape[0]} inputs, outputs {tuple(outputs.shape)})")


if __name__ == "__main__":
    main()
