using System.Reflection;
using NormNet.Data;
using NormNet.Kernels;
using NormNet.Layers;
using NormNet.Optim;
using NormNet.Threading;
using NormNet.Training;

namespace NormNet.Tests.Threading;

/// <summary>Kernel settings are scoped to a thread (or a trainer), never process-wide: what one test or model sets
/// cannot change another's numbers (the cause of the flaky bit-identity tests, issue #17).</summary>
public sealed class ComputeSettingsTests
{
    private static readonly ImageDataset Data = DataSets.FashionMnistSubset();

    [Fact]
    public void Library_HasNoProcessWideMutableSettings()
    {
        // A public static property with a public setter, or a public static field that is not read-only, is a
        // process-wide switch that concurrent users (and test classes) would share.
        var switches = typeof(Tensor).Assembly.GetExportedTypes()
            .SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
                    .Where(p => p.SetMethod is { IsPublic: true }).Select(p => $"{t.FullName}.{p.Name} (settable property)")
                .Concat(t.GetFields(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly)
                    .Where(f => !f.IsInitOnly && !f.IsLiteral).Select(f => $"{t.FullName}.{f.Name} (mutable field)")))
            .ToList();
        Assert.True(switches.Count == 0, "process-wide mutable settings: " + string.Join(", ", switches));
    }

    [Fact]
    public void Scopes_Nest_AndRestoreThePreviousSettings()
    {
        var outside = ComputeSettings.Current;
        using (ComputeSettings.Use(new ComputeSettings(3)))
        {
            Assert.Equal(3, ComputeSettings.Current.MaxThreads);
            using (ComputeSettings.Use(new ComputeSettings(1)))
                Assert.Equal(1, ComputeSettings.Current.MaxThreads);
            Assert.Equal(3, ComputeSettings.Current.MaxThreads);
        }
        Assert.Same(outside, ComputeSettings.Current);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ComputeSettings(0));
    }

    [Fact]
    public void ATrainersSettings_ApplyToItsSteps_AndEndWithThem()
    {
        var model = new Sequential(new Linear(784, 10, rng: new Rng(1)));
        var settings = new ComputeSettings(1);
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), 0.1), new DataLoader(Data.Train, 32, seed: 1)) { Compute = settings };
        var seen = new List<ComputeSettings>();
        trainer.StepCompleted = _ => seen.Add(ComputeSettings.Current);
        var outside = ComputeSettings.Current;
        trainer.Run(3);
        Assert.All(seen, s => Assert.Same(settings, s));
        Assert.Same(outside, ComputeSettings.Current);
    }

    [Fact]
    public void SettingsChangedOnAnotherThread_LeaveThisThreadsTrainingBitIdentical()
    {
        // Before the settings were scoped, another test class switching the GEMM backend to OpenBLAS (or the thread
        // count) while this one trained changed its sums: resuming runs then differed from uninterrupted ones. Here the
        // other thread enters new settings before every step of this thread and holds them while the step runs.
        var reference = Train(null);
        using var go = new SemaphoreSlim(0);
        using var ready = new SemaphoreSlim(0);
        bool stop = false;
        int switches = 0;
        var other = new Thread(() =>
        {
            var a = TestUtil.RandomNormal(64 * 300, 1);
            var c = new float[64 * 64];
            for (int i = 0; ; i++)
            {
                var backend = Gemm.IsOpenBlasAvailable && i % 2 == 0 ? GemmBackend.OpenBlas : GemmBackend.Managed;
                using var scope = ComputeSettings.Use(new ComputeSettings(1 + i % 3, backend));
                Gemm.Sgemm(false, true, 64, 64, 300, 1, a, 300, a, 300, 0, c, 64);
                if (ComputeSettings.Current.GemmBackend == backend) switches++;
                ready.Release();
                go.Wait();
                if (Volatile.Read(ref stop)) return;
            }
        });
        other.Start();
        ready.Wait();
        List<float[]> concurrent;
        try
        {
            concurrent = Train(_ =>
            {
                go.Release(); // the other thread leaves its settings and enters new ones before the next step
                ready.Wait();
            });
        }
        finally
        {
            Volatile.Write(ref stop, true);
            go.Release();
            other.Join();
        }
        Assert.Equal(151, switches);
        Assert.Equal(reference, concurrent);
    }

    private static List<float[]> Train(Action<StepResult>? afterEachStep)
    {
        var model = new Sequential(new Linear(784, 64, rng: new Rng(10)), new BatchNorm1d(64), new ReLU(), new Linear(64, 10, rng: new Rng(11)));
        var trainer = new Trainer(model, new AdamW(model.NamedParameters(), 2e-3), new DataLoader(Data.Train, 50, seed: 7));
        trainer.StepCompleted = afterEachStep;
        trainer.Run(150);
        return model.StateEntries().Select(e => e.Tensor?.ToArray() ?? [e.Scalar!.Value]).ToList();
    }
}
