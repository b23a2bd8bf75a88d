using System.Diagnostics;
using System.Globalization;
using NormNet.Data;
using NormNet.Distributed;
using NormNet.Models;
using NormNet.Optim;
using NormNet.Threading;
using NormNet.Training;

namespace NormNet.DistributedChild;

/// <summary>Steps per second of the built-in CNN (28x28, channels 32/64, hidden 128) at a global batch, data-parallel
/// over the ranks, and the time per step inside collectives. Arguments: GLOBAL_BATCH STEPS THREADS [sync|local].
/// Rank 0 prints one row.</summary>
internal static class Benchmark
{
    public static int Run(ICommunicator comm, string[] args)
    {
        int batch = int.Parse(args[0], CultureInfo.InvariantCulture), steps = int.Parse(args[1], CultureInfo.InvariantCulture);
        int threads = int.Parse(args[2], CultureInfo.InvariantCulture);
        bool sync = args.Length > 3 && args[3] == "sync";
        var rng = new Rng(1);
        var images = new byte[2048 * 28 * 28];
        var labels = new byte[2048];
        for (int i = 0; i < images.Length; i++) images[i] = (byte)rng.NextInt(256);
        for (int i = 0; i < labels.Length; i++) labels[i] = (byte)rng.NextInt(10);
        var data = new ImageSet(images, labels, 28, 28);
        var model = NetworkFamilies.Cnn().Build([1, 28, 28], 10, new Rng(1));
        var trainer = new Trainer(model, new Sgd(model.NamedParameters(), 0.01, momentum: 0.9), new DataLoader(data, batch, 1, layout: InputLayout.Image))
        {
            Compute = ComputeSettings.Default.WithMaxThreads(threads),
        };
        var timed = new TimedCommunicator(comm);
        if (comm.Size > 1)
        {
            if (sync) SyncBatchNorm.ConvertSyncBatchNorm(model, timed);
            trainer.Parallel = new DataParallel(timed, model);
        }
        for (int s = 0; s < 3; s++) trainer.RunStep(); // warm-up
        comm.Barrier();
        var before = timed.Elapsed;
        var watch = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++) trainer.RunStep();
        comm.Barrier();
        double seconds = watch.Elapsed.TotalSeconds, communication = (timed.Elapsed - before).TotalMilliseconds / steps;
        long parameters = model.Parameters().Sum(p => (long)p.Value.Length);
        if (comm.Rank == 0)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"cnn batch {batch}: {comm.Size} process(es) x {threads} thread(s){(comm.Size > 1 ? (sync ? ", SyncBN" : ", per-rank BN") : "")}: " +
                $"{steps / seconds:0.00} steps/s, {1000 * seconds / steps:0.0} ms/step, {communication:0.00} ms/step in collectives (rank 0), {parameters} parameters"));
        return 0;
    }
}
