#!/usr/bin/env bash
# The measurements of issue #14 in one run, printed as markdown (BENCHMARKS.md, "Convolutions (issue #14)" rounds):
#   1. eval-mode inference of cnn, resnet and mlp-sigmoid at batch 1 and 64, 2 and 1 threads: NormNet, NormNet with BN
#      folded, its inference model (BN folded, Conv2d + ReLU (+ MaxPool2d(2)) and Residual + ReLU fused), that model run by GroupedInference (groups of 16 samples, each through the whole network on one worker), ONNX Runtime on NormNet's exported graph, unfolded
#      and folded (the `inference` command);
#   2. the machine's FMA peak on 1 and 2 threads (the `peak` command), then per-layer times and each convolution's
#      GFLOP/s beside the SGEMM's on the same product (the `profile` command;
#      eval at batch 64 and 1, training at batch 128, the resnet's convolutions inside its residual blocks too);
#   3. the training steps against PyTorch (`compare --filter step`; needs Debian python3-torch, a benchmark-only peer);
#   4. the wall time of the paper's Figure 1 run: its headline cell (2 x 50,000 MLP steps, evaluation every 500 steps on
#      the full test set) and the whole grid of 4 cells (8 trainings), on 2 threads (two trainings at once) and on 1 (in
#      turn); needs Debian dataset-fashion-mnist or the MNIST files it names.
# Usage: bench/conv-report.sh [OUT.md]   Run it on a quiet machine: every figure is wall time.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-/dev/stdout}
dotnet build -c Release bench/NormNet.Bench -v q -nologo >/dev/null
bench=(dotnet bench/NormNet.Bench/bin/Release/net10.0/NormNet.Bench.dll)
{
  echo "### Inference against ONNX Runtime"
  echo
  "${bench[@]}" inference --threads 2,1 --rounds 3
  echo "### Per layer, eval (ms) and convolution GFLOP/s"
  echo
  echo '```'
  "${bench[@]}" peak --threads 2
  for arch in cnn resnet; do
    for batch in 64 1; do "${bench[@]}" profile --arch "$arch" --batch "$batch" --threads 2; done
  done
  "${bench[@]}" profile --arch cnn --batch 128 --threads 2 --train 1
  "${bench[@]}" profile --arch resnet --batch 128 --threads 2 --train 1
  echo '```'
  echo
  echo "### Training steps against PyTorch"
  echo
  "${bench[@]}" compare --threads 2,1 --rounds 3 --filter step
  echo "### Figure 1 run"
  echo
  echo '| run | threads | wall s | peak RSS MB |'
  echo '|---|---:|---:|---:|'
  for run in "headline cell:--init-std 0.05 --lr 0.1" "grid of 4 cells:"; do
    for threads in 2 1; do
      dir=$(mktemp -d)
      # shellcheck disable=SC2086 # the cell's flags are meant to split
      "${bench[@]}" normnet experiment fig1 --full --seeds 1 ${run#*:} --out "$dir" --threads "$threads" >/dev/null
      echo "| ${run%%:*} | $threads | $(grep wall_seconds "$dir/timing.csv" | cut -d, -f2) | $(grep peak_rss_mb "$dir/timing.csv" | cut -d, -f2) |"
      rm -rf "$dir"
    done
  done
} > "$out"
