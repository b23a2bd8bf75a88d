using System.Globalization;
using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Threading;

namespace NormNet.Bench;

/// <summary>Per-layer times of the cnn and resnet (eval forward at batch 1 and 64, training backward at 128), and each
/// convolution's GFLOP/s beside the SGEMM's on the same product (M = Cout, N = images * pixels, K = Cin * k * k).</summary>
/// <remarks>dotnet bench/NormNet.Bench/bin/Release/net10.0/NormNet.Bench.dll profile [--threads 2] [--arch cnn] [--batch 64]</remarks>
internal static class ConvProfile
{
    public static int Run(string[] args)
    {
        var options = new Options(args);
        using var compute = ComputeSettings.Use(new ComputeSettings(options.Int("--threads", Environment.ProcessorCount)));
        string arch = options.Get("--arch") ?? "cnn";
        int batch = options.Int("--batch", 64);
        bool train = options.Get("--train") is not null;
        s_cpu = options.Get("--cpu") is not null;
        var model = Architectures.Create(arch, true, new Rng(0));
        if (train) model.Train(); else model.Eval();
        model.RequiresInputGradient = false;
        var x = BatchNormCase.Filled([batch, .. Architectures.InputShapeOf(arch)], 3);
        var layers = Enumerable.Range(0, model.Count).Select(i => model[i]).ToArray();
        var inputs = new Tensor[layers.Length + 1];
        inputs[0] = x;
        for (int i = 0; i < layers.Length; i++) inputs[i + 1] = layers[i].Forward(inputs[i]);
        Console.WriteLine($"{arch} batch {batch} {(train ? "train" : "eval")} threads {ComputeSettings.Current.MaxThreads}");
        double total = 0;
        for (int i = 0; i < layers.Length; i++)
        {
            var layer = layers[i];
            var input = inputs[i];
            double fwd = RowRunner.MedianMs(() => layer.Forward(input), 20);
            double bwd = 0;
            if (train)
            {
                var g = BatchNormCase.Filled(inputs[i + 1].Shape, 5);
                layer.Forward(input);
                bwd = RowRunner.MedianMs(() => { layer.Forward(input); layer.Backward(g); }, 20) - fwd;
            }
            total += fwd + bwd;
            string extra = layer is Conv2d c ? ConvFlops(c, input, fwd, bwd, train) : "";
            Console.WriteLine($"{i,2} {layer.GetType().Name,-16} {input.ShapeString,-18} fwd {RowRunner.Format(fwd),8} ms  bwd {RowRunner.Format(bwd),8} ms {extra}");
            if (layer is Residual block)
                foreach (var (name, conv, convInput) in InnerConvolutions(block, input))
                    Console.WriteLine($"   {name,-19} {convInput.ShapeString,-18} {ConvFlops(conv, convInput, 0, 0, train)}");
        }
        double whole = RowRunner.MedianMs(() => { var y = model.Forward(x); if (train) model.Backward(BatchNormCase.Filled(y.Shape, 1)); }, 20);
        Console.WriteLine($"sum of layers {RowRunner.Format(total)} ms, whole {RowRunner.Format(whole)} ms");
        return 0;
    }

    /// <summary>The convolutions inside a residual block, each with the input it gets from <paramref name="input"/> (the
    /// body's and the shortcut's layers run in turn).</summary>
    private static IEnumerable<(string Name, Conv2d Conv, Tensor Input)> InnerConvolutions(Residual block, Tensor input)
    {
        foreach (var (part, module) in block.Children())
        {
            var layers = module is Sequential sequential ? Enumerable.Range(0, sequential.Count).Select(i => sequential[i]).ToArray() : [module];
            var h = input;
            for (int i = 0; i < layers.Length; i++)
            {
                var conv = layers[i] switch { Conv2d c => c, ConvReLU2d f => f.Conv, _ => null };
                if (conv is not null) yield return ($"{part}.{i} Conv2d", conv, h);
                h = layers[i].Forward(h);
            }
        }
    }

    /// <summary>The convolution's kernels alone, new (chunked) and old (per image) side by side, the direct kernels (forward,
    /// input gradient and, where the layer runs it, weight gradient) or the pointwise forward, and the SGEMM on the forward's product (M = Cout,
    /// N = images * pixels, K = Cin * k * k), in GFLOP/s. With training, the chunked backward's dW and dx are differences of two
    /// timings (each call runs its forward first); the "unfolding dW" (the weight gradient of a layer that kept no columns, the
    /// 1x1 shortcuts') is timed alone.</summary>
    private static string ConvFlops(Conv2d c, Tensor input, double fwd, double bwd, bool train)
    {
        var g = new ConvGeometry(input.Dim(0), c.InChannels, input.Dim(2), input.Dim(3), c.KernelSize, c.KernelSize, c.Stride, c.Padding);
        int m = c.OutChannels, cols = g.N * g.OutPlane, depth = g.PatchSize;
        double flops = 2.0 * m * cols * depth;
        var x = input.ReadOnlySpan.ToArray();
        var w = c.Weight.Value.ReadOnlySpan.ToArray();
        var col = new float[(long)depth * cols];
        var y = new float[(long)m * cols];
        var dx = new float[x.Length];
        var dw = new float[w.Length];
        var db = new float[m];
        var a = new float[m * depth];
        var b = new float[depth * cols];
        double gemm = Best(() => Gemm.Sgemm(false, false, m, cols, depth, 1f, a, depth, b, cols, 0f, y, cols));
        // new and old alternate, each figure the best of several rounds' medians (the machine is shared and noisy)
        var (nf, of) = BestPair(() => ConvolutionKernels.Forward(x, w, db, g, m, col, y), () => ConvolutionPerImage.Forward(x, w, db, g, m, col, y));
        string s = string.Create(CultureInfo.InvariantCulture,
            $" | sgemm {m}x{cols}x{depth} {flops / gemm / 1e6:F1}; fwd {flops / nf / 1e6:F1} (per image {flops / of / 1e6:F1}) GFLOP/s");
        if (DirectConvolution.Supports(g))
        {
            var bias = new float[m];
            double direct = Best(() => DirectConvolution.Forward(x, w, bias, g, m, y));
            s += string.Create(CultureInfo.InvariantCulture, $"; direct fwd {flops / direct / 1e6:F1}");
            if (DirectConvolution.SupportsInputGradient(g))
            {
                double dxDirect = Best(() => DirectConvolution.InputGradient(y, w, g, m, dx));
                s += string.Create(CultureInfo.InvariantCulture, $", dx {flops / dxDirect / 1e6:F1}");
            }
        }
        if (PointwiseConvolution.Supports(g))
        {
            var bias = new float[m];
            double pointwise = Best(() => PointwiseConvolution.Forward(x, w, bias, default, g, m, y));
            s += string.Create(CultureInfo.InvariantCulture, $"; pointwise fwd {flops / pointwise / 1e6:F1}");
        }
        if (!train) return s;
        // backward reads cols as the forward laid it out: each timed call runs its own forward first, then subtracts it
        var (nb, ob) = BestPair(() => { ConvolutionKernels.Forward(x, w, db, g, m, col, y); ConvolutionKernels.Backward(y, col, w, g, m, dx, dw, db); },
            () => { ConvolutionPerImage.Forward(x, w, db, g, m, col, y); ConvolutionPerImage.Backward(y, col, w, g, m, dx, dw, db); });
        var (nw, ow) = BestPair(() => { ConvolutionKernels.Forward(x, w, db, g, m, col, y); ConvolutionKernels.Backward(y, col, w, g, m, default, dw, db); },
            () => { ConvolutionPerImage.Forward(x, w, db, g, m, col, y); ConvolutionPerImage.Backward(y, col, w, g, m, default, dw, db); });
        nb -= nf; ob -= of; nw -= nf; ow -= of;
        s += string.Create(CultureInfo.InvariantCulture,
            $"; dW {flops / nw / 1e6:F1} (per image {flops / ow / 1e6:F1}); dx {flops / (nb - nw) / 1e6:F1} (per image {flops / (ob - ow) / 1e6:F1})");
        // the weight gradient as a layer that kept no columns runs it (the 1x1 shortcuts): unfolding its own, timed alone
        double unfolding = Best(() => ConvolutionKernels.WeightGradient(y, x, g, m, dw, db));
        s += string.Create(CultureInfo.InvariantCulture, $"; unfolding dW {flops / unfolding / 1e6:F1}");
        if (!DirectConvolution.Preferred(g) || !DirectConvolution.SupportsWeightGradient(g)) return s;
        // the weight gradient the layer runs here (Conv2d.Backward): direct, without columns
        double directW = Best(() => DirectConvolution.WeightGradient(y, x, g, m, dw, db));
        return s + string.Create(CultureInfo.InvariantCulture, $"; direct dW {flops / directW / 1e6:F1}");
    }

    private static double Best(Action f) => Enumerable.Range(0, 5).Min(_ => Time(f));

    /// <summary>With --cpu: process CPU ms per call (mean of 10 calls after the warm-up; with 1 thread, less moved by other
    /// processes than wall time); else the wall-time median of 10 calls.</summary>
    private static double Time(Action f)
    {
        if (!s_cpu) return RowRunner.MedianMs(f, 10);
        RowRunner.MedianMs(f, 1);
        var process = System.Diagnostics.Process.GetCurrentProcess();
        var t0 = process.TotalProcessorTime;
        for (int i = 0; i < 10; i++) f();
        process.Refresh();
        return (process.TotalProcessorTime - t0).TotalMilliseconds / 10;
    }

    private static bool s_cpu;

    private static (double A, double B) BestPair(Action a, Action b)
    {
        double bestA = double.MaxValue, bestB = double.MaxValue;
        for (int r = 0; r < 5; r++)
        {
            bestA = Math.Min(bestA, Time(a));
            bestB = Math.Min(bestB, Time(b));
        }
        return (bestA, bestB);
    }
}
