// The C# examples of README.md, verbatim (ReadmeTests checks that every line of each README block appears here in order),
// compiled with the tests and run by them.
using NormNet;
using NormNet.Data;
using NormNet.Deployment;
using NormNet.Images;
using NormNet.Layers;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Serialization;
using NormNet.Threading;
using NormNet.Training;

namespace NormNet.Tests;

[Collection("Console")]
public sealed class ReadmeExamples : IDisposable
{
    private readonly string _saved = Directory.GetCurrentDirectory();
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-readme-").FullName;

    public ReadmeExamples() => Directory.SetCurrentDirectory(_dir);

    public void Dispose()
    {
        Directory.SetCurrentDirectory(_saved);
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void TrainYourFirstBnNetwork()
    {
        var data = DataSets.Resolve(null);                      // full Fashion-MNIST if installed, else the embedded subset
        Console.WriteLine(data.Description);
        var rng = new Rng(42);
        var model = new Sequential(
            new Linear(784, 100, rng: rng), new BatchNorm1d(100), new Sigmoid(),
            new Linear(100, 100, rng: rng), new BatchNorm1d(100), new Sigmoid(),
            new Linear(100, 10, rng: rng));
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), learningRate: 0.5),
                                  new DataLoader(data.Train, batchSize: 60, seed: 42));
        var test = new DataLoader(data.Test, batchSize: 1000, shuffle: false);
        trainer.Evaluated = r => Console.WriteLine($"step {r.Step}: test accuracy {r.Accuracy:P1}");
        trainer.Run(totalSteps: 2000, test, evalEvery: 500);
        trainer.SaveCheckpoint("mlp-bn.checkpoint.safetensors");  // weights, optimizer, data position: resumes bit-identically
        ModelState.Save(model, "mlp-bn.safetensors");           // the state_dict alone, with PyTorch's names (0.weight, 1.running_mean, ...)
        Assert.True(File.Exists("mlp-bn.checkpoint.safetensors") && File.Exists("mlp-bn.safetensors"));
        Assert.True(trainer.Evaluate(test).Accuracy > 0.6);
    }

    [Fact]
    public void TrainOnYourOwnData()
    {
        var rng = new Random(3);
        File.WriteAllLines("iris.csv", ["sepal,petal,width,species", .. Enumerable.Range(0, 150).Select(i =>
            string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{5 + i % 3 + rng.NextDouble():F2},{1 + 2 * (i % 3) + rng.NextDouble():F2},{rng.NextDouble():F2},{(i % 3) switch { 0 => "setosa", 1 => "versicolor", _ => "virginica" }}"))]);
        var table = CsvDataset.Read("iris.csv");                         // TensorSet: samples of the feature columns, classes from the last column
        var (train, test) = DataSplit.ByFraction(table, testFraction: 0.2, seed: 1);
        var standardize = Standardizer.Fit(train);                       // fitted on the training split only
        var model = NetworkFamilies.Mlp([64, 32]).Build([train.FeatureCount], train.ClassCount, new Rng(1));
        var trainer = new Trainer(model, new Adam(model.NamedParameters(), 1e-2),
                                  new DataLoader(train, batchSize: 16, seed: 1, standardizer: standardize));
        trainer.Run(totalSteps: 300);
        var result = trainer.Evaluate(new DataLoader(test, batchSize: 64, shuffle: false, standardizer: standardize));
        Console.WriteLine($"test accuracy {result.Accuracy:P1}");
        Assert.Equal(30, result.Count);
        Assert.True(result.Accuracy > 0.9, $"accuracy {result.Accuracy}");
    }

    [Fact]
    public void KernelSettings()
    {
        var model = new Sequential(new Linear(784, 10, rng: new Rng(1)));
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), 0.1), new DataLoader(DataSets.FashionMnistSubset().Train, 32, seed: 1));
        using (ComputeSettings.Use(new ComputeSettings(maxThreads: 1)))   // this thread, until disposed; scopes nest
        {
            // kernels called here use one thread
            Assert.Equal(1, ComputeSettings.Current.MaxThreads);
        }
        trainer.Compute = ComputeSettings.Default.WithMaxThreads(2);      // a trainer's steps and evaluations
        trainer.Run(2);
        Assert.Equal(2, trainer.Compute.MaxThreads);
    }

    [Fact]
    public void TheNormalizationFamily()
    {
        var model = new Sequential(new Conv2d(3, 64, 3, padding: 1, rng: new Rng(1)), new BatchNorm2d(64), new ReLU());
        var gn = new GroupNorm(numGroups: 32, numChannels: 64);            // per sample, over 32 groups of 2 channels
        var ln = new LayerNorm([768]);                                     // per token, over the last dimension
        var inorm = new InstanceNorm2d(64);                                // per sample and channel; PyTorch's affine: false
        var ghost = new BatchNorm2d(64, virtualBatchSize: 16);             // ghost BN: each 16-sample slice normalized alone
        var renorm = new BatchRenorm2d(64, schedule: BatchRenormSchedule.Paper);  // rMax 1 -> 3, dMax 0 -> 5, as in the paper
        var frozen = new FrozenBatchNorm2d(64);                            // torchvision's: fixed statistics and affine
        BatchNormFreezing.Freeze(model);                                   // freeze every BN of a model; Train() keeps it frozen
        var x = Tensor.FromArray(new float[32 * 64 * 2 * 2], 32, 64, 2, 2);
        foreach (var layer in new Module[] { gn, inorm, ghost, renorm, frozen }) Assert.Equal(x.Shape, layer.Forward(x).Shape);
        Assert.Equal([4, 768], ln.Forward(Tensor.Zeros(4, 768)).Shape);
        Assert.True(((BatchNormBase)model[1]).Frozen && model.Train().Training && ((BatchNormBase)model[1]).Frozen);
    }

    [Fact]
    public void BatchNormalization()
    {
        var bn = new BatchNorm2d(64);                                    // eps 1e-5, momentum 0.1, affine, running statistics
        var x = Tensor.FromArray(new float[8 * 64 * 14 * 14], 8, 64, 14, 14);  // (N, C, H, W)
        var y = bn.Forward(x);                                           // training mode: batch statistics, running stats updated
        var dx = bn.Backward(Tensor.Full(1f, 8, 64, 14, 14));            // dL/dx; bn.Weight.Grad and bn.Bias.Grad accumulate
        bn.Eval();                                                       // eval mode: normalizes with RunningMean and RunningVar
        Assert.Equal(x.Shape, y.Shape);
        Assert.Equal(x.Shape, dx.Shape);
        Assert.False(bn.Training);
    }

    [Fact]
    public void Data()
    {
        var data = DataSets.Resolve(dataDir: null);       // a folder of IDX files (e.g. the original MNIST); null: the full Fashion-MNIST if installed, else the embedded subset
        Console.WriteLine(data.Description);             // says which one, e.g. "Fashion-MNIST subset (embedded in NormNet.Samples.dll): 10,000 train / 2,000 test images of 28x28, 10 classes"
        var standardizer = Standardizer.Fit(data.Train); // per-pixel mean/std of the training images (after /255); constant pixels -> 0
        var loader = new DataLoader(data.Train, batchSize: 128, seed: 1, dropLast: true,
                                    layout: InputLayout.Image, standardizer: standardizer); // (B, 1, 28, 28); Flattened gives (B, 784)
        foreach (var batch in loader.EnumerateEpoch()) { /* batch.Inputs, batch.Labels */ }
        var position = loader.Position;                  // (epoch, index): save in a checkpoint, set to resume exactly
        Assert.Equal(128, loader.BatchSize);
        Assert.Equal(1, position.Epoch);
    }

    [Fact]
    public void DeployYourModel()
    {
        ModelState.Save(Architectures.Create("cnn", true, new Rng(1)), "cnn.safetensors"); // the file the example loads
        var data = DataSets.FashionMnistSubset();
        var model = Architectures.Create("cnn", batchNorm: true, new Rng(1));
        ModelState.Load(model, "cnn.safetensors");       // weights saved by ModelState.Save (or PyTorch, see below)
        // 1. Population statistics (the paper's Algorithm 2, "precise BN"): running_mean/running_var become exact
        //    averages over 100 training batches taken with the final weights, instead of a momentum-weighted average.
        var train = new DataLoader(data.Train, batchSize: 64, seed: 1, layout: Architectures.LayoutOf("cnn"));
        BatchNormStatistics.Recompute(model, train, batches: 100);
        // 2. Folding: a new eval-only model with every BN folded into the Linear/Conv2d before it (W' = W * gamma / sqrt(var + eps),
        //    b' = (b - mean) * gamma / sqrt(var + eps) + beta); a BN with nothing to fold into becomes a ChannelAffine.
        model.Eval();                                     // folding refuses a model in training mode
        Module folded = BatchNormFolding.Fold(model);
        // 2b. The model to run for inference: BN folded, each Conv2d and the ReLU after it fused into a ConvReLU2d (with the
        //     2x2 max pooling after them, into a ConvReLUMaxPool2d), each residual block and the ReLU after it into a ResidualReLU,
        //     each Linear frozen with its weight transposed once (FrozenLinear).
        Module inference = InferenceModel.Create(model);
        // 2c. Batches of it, a group of 16 images per worker through the whole network (the same outputs, bit for bit).
        var batched = new GroupedInference(model);
        // 3. ONNX export (opset 15): input "input" (N, 1, 28, 28), output "output" (N, 10), N symbolic.
        OnnxExporter.Export(model, inputShape: [1, 28, 28], "cnn.onnx");              // with BatchNormalization nodes
        OnnxExporter.Export(model, Architectures.InputShapeOf("cnn"), "cnn-folded.onnx", fold: true);
        Console.WriteLine(OnnxModelInfo.Read("cnn.onnx"));  // ONNX IR 8, opset 15, NormNet ...: input (N, 1, 28, 28) -> output (N, 10); ...
        Assert.True(File.Exists("cnn.onnx") && File.Exists("cnn-folded.onnx"));
        Assert.DoesNotContain(folded.NamedModules(), m => m.Module is BatchNormBase);
        Assert.Contains(inference.NamedModules(), m => m.Module is ConvReLUMaxPool2d);
        Assert.Contains(inference.NamedModules(), m => m.Module is FrozenLinear);
        var images = Tensor.FromArray(new float[20 * 784], 20, 1, 28, 28);
        Assert.Equal(inference.Forward(images).ToArray(), batched.Forward(images).ToArray());
    }

    [Fact]
    public void ImagesPackage()
    {
        foreach (var (cls, colour) in new[] { ("cat", SkiaSharp.SKColors.Red), ("dog", SkiaSharp.SKColors.Blue) })
        {
            Directory.CreateDirectory(Path.Combine("photos", cls));
            using var bitmap = new SkiaSharp.SKBitmap(20, 10);
            bitmap.Erase(colour);
            using var png = bitmap.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
            File.WriteAllBytes(Path.Combine("photos", cls, "1.png"), png.ToArray());
        }
        var photos = ImageFolder.Read("photos", new ImageFolderOptions { Size = new ImageSize(64, 64) }).Images;  // an ImageSet
        Assert.Equal(2, photos.Count);
        Assert.Equal(["cat", "dog"], photos.ClassNames);
    }
}
