using NormNet.Threading;

namespace NormNet.Tests.Threading;

/// <summary>The worker pool under jobs of alternating sizes, back to back: every chunk of every job runs exactly once,
/// and a call returns only after all of its chunks have finished.</summary>
public sealed unsafe class ParallelismTests
{
    private struct Job
    {
        public int* Runs;
        public int Finished;
    }

    private static void Body(void* state, int chunk)
    {
        var job = (Job*)state;
        Interlocked.Increment(ref job->Runs[chunk]);
        Thread.SpinWait(chunk % 3 == 0 ? 50 : 1); // uneven chunks, so workers end at different times
        Interlocked.Increment(ref job->Finished);
    }

    [Fact]
    public void BackToBackJobsOfDifferentSizes_RunEachChunkOnce_AndReturnAfterTheLast()
    {
        using var compute = ComputeSettings.Use(ComputeSettings.Default.WithMaxThreads(2));
        int* runs = stackalloc int[64];
        int[] sizes = [2, 64, 3, 17, 2, 48, 5, 64];
        for (int round = 0; round < 40_000; round++)
        {
            int count = sizes[round % sizes.Length];
            new Span<int>(runs, count).Clear();
            var job = new Job { Runs = runs };
            Parallelism.For(count, &job, &Body);
            Assert.True(job.Finished == count, $"round {round}: For returned after {job.Finished} of {count} chunks finished");
            for (int i = 0; i < count; i++)
                Assert.True(runs[i] == 1, $"round {round}: chunk {i} of {count} ran {runs[i]} times");
        }
    }
}
