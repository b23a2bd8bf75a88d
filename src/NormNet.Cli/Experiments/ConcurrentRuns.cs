using System.Runtime.ExceptionServices;
using NormNet.Cli.Output;
using NormNet.Kernels;
using NormNet.Threading;

namespace NormNet.Cli.Experiments;

/// <summary>One independent training of an experiment: its share of the progress total, and the work, which records
/// into the table it is given (never into the experiment's own) and reports its progress from 0 to <see cref="Work"/>.
/// The work must build everything it uses (model, loaders, generators from its seed): runs share nothing.</summary>
internal sealed record ConcurrentRun(double Work, Action<ResultsTable, Action<double>> Body);

/// <summary>Runs an experiment's independent trainings side by side: as many at once as the thread budget
/// (<c>--threads</c>) allows, each on one thread. The small networks of the experiments gain little from splitting one
/// product over two cores (the paper's MLP steps ran no faster on 2 threads than on 1) and all from running two
/// trainings at once.</summary>
/// <remarks>Each run records into its own table; when all are done the tables are appended to the experiment's
/// results in the order the runs were listed, so results.csv does not depend on which run finished first. Every kernel
/// gives the same bits for any thread count, so results.csv is the same file for any <c>--threads</c> (a test holds
/// that). The first failure stops the runs not yet started and is rethrown once the running ones end. With the
/// OpenBLAS backend the runs go one at a time (OpenBLAS keeps one thread count for the whole process).</remarks>
internal static class ConcurrentRuns
{
    /// <summary>Runs <paramref name="runs"/>, then appends what they recorded to <paramref name="results"/> in their order.</summary>
    public static void Execute(Progress progress, ResultsTable results, string description, IReadOnlyList<ConcurrentRun> runs)
    {
        var settings = ComputeSettings.Current;
        int workers = settings.GemmBackend == GemmBackend.OpenBlas ? 1 : Math.Clamp(settings.MaxThreads, 1, Math.Max(1, runs.Count));
        var perRun = workers == 1 ? settings : settings.WithMaxThreads(1);
        var tables = new ResultsTable[runs.Count];
        var done = new double[runs.Count];
        var gate = new object();
        int next = -1;
        ExceptionDispatchInfo? failure = null;
        progress.Run(description, runs.Sum(r => r.Work), advance =>
        {
            void Report(int run, double value)
            {
                lock (gate)
                {
                    done[run] = value;
                    advance(done.Sum());
                }
            }
            void Worker()
            {
                using var scope = ComputeSettings.Use(perRun);
                while (Volatile.Read(ref failure) is null)
                {
                    int run = Interlocked.Increment(ref next);
                    if (run >= runs.Count) return;
                    var table = new ResultsTable();
                    try
                    {
                        runs[run].Body(table, v => Report(run, v));
                    }
                    catch (Exception e)
                    {
                        Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
                        return;
                    }
                    tables[run] = table;
                    Report(run, runs[run].Work);
                }
            }
            var others = Enumerable.Range(1, workers - 1).Select(i => new Thread(Worker) { Name = $"{description} run {i}", IsBackground = true }).ToArray();
            foreach (var thread in others) thread.Start();
            Worker();
            foreach (var thread in others) thread.Join();
        });
        failure?.Throw();
        foreach (var table in tables) results.Append(table);
    }
}
