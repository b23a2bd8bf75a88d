using NormNet.Cli.Experiments;
using NormNet.Cli.Output;
using NormNet.Threading;

namespace NormNet.Tests.Cli;

/// <summary>Independent trainings side by side: results in the listed order whatever finishes first, each run on one
/// thread when several run at once, and a failure surfaced.</summary>
public sealed class ConcurrentRunsTests
{
    private static ConcurrentRun Recording(int index, int sleepMs, List<int>? started = null) => new(10, (results, advance) =>
    {
        if (started is not null) lock (started) started.Add(index);
        advance(5);
        Thread.Sleep(sleepMs);
        results.Add("run", $"r{index}", 0, "threads", ComputeSettings.Current.MaxThreads);
        results.Add("run", $"r{index}", 1, "thread", Environment.CurrentManagedThreadId);
    });

    [Theory]
    [InlineData(1), InlineData(2), InlineData(3)]
    public void Results_AreAppendedInTheListedOrder_WhateverFinishesFirst(int threads)
    {
        // the first run sleeps longest, so with two or more threads the later ones finish before it
        var runs = Enumerable.Range(0, 5).Select(i => Recording(i, i == 0 ? 300 : 10)).ToList();
        var results = new ResultsTable();
        results.Add("settings", "run", null, "before", 1);
        using (ComputeSettings.Use(new ComputeSettings(threads)))
            ConcurrentRuns.Execute(new Progress(quiet: true), results, "test", runs);
        var series = results.Rows.Where(r => r.Metric == "threads").Select(r => r.Series).ToArray();
        Assert.Equal(["r0", "r1", "r2", "r3", "r4"], series);
        Assert.Equal("before", results.Rows[0].Metric);
        // several at once: one thread each (with a budget of 1, that budget)
        Assert.All(results.Rows.Where(r => r.Metric == "threads"), r => Assert.Equal(1, r.Value));
        var usedThreads = results.Rows.Where(r => r.Metric == "thread").Select(r => r.Value).Distinct().Count();
        Assert.Equal(Math.Min(threads, 5) > 1, usedThreads > 1);
    }

    [Fact]
    public void OneRun_KeepsTheWholeThreadBudget()
    {
        var results = new ResultsTable();
        using (ComputeSettings.Use(new ComputeSettings(2)))
            ConcurrentRuns.Execute(new Progress(quiet: true), results, "test", [Recording(0, 1)]);
        Assert.Equal(2, results.Get("run", "r0", "threads", 0));
    }

    [Fact]
    public void AFailure_IsRethrown_AndStopsTheRunsNotYetStarted()
    {
        var started = new List<int>();
        var runs = new List<ConcurrentRun> { new(1, (_, _) => throw new InvalidOperationException("run 0 broke")) };
        runs.AddRange(Enumerable.Range(1, 20).Select(i => Recording(i, 20, started)));
        var results = new ResultsTable();
        InvalidOperationException e;
        using (ComputeSettings.Use(new ComputeSettings(2)))
            e = Assert.Throws<InvalidOperationException>(() => ConcurrentRuns.Execute(new Progress(quiet: true), results, "test", runs));
        Assert.Equal("run 0 broke", e.Message);
        Assert.True(started.Count < 20, $"{started.Count} runs started after the failure");
        Assert.Empty(results.Rows); // nothing half-recorded
    }
}
