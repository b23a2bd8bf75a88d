using Xunit.Sdk;

namespace NormNet.Tests;

/// <summary>The allocation helper of the steady-state tests can fail: work that allocates in every window fails it,
/// and only a one-off allocation passes.</summary>
public class SteadyStateAllocationTests
{
    private static object? _sink;

    [Fact]
    public void WorkThatAllocatesEveryStep_FailsEveryWindow()
    {
        void Steps()
        {
            for (int i = 0; i < 10; i++) _sink = new byte[100];
        }
        Steps(); // JIT
        var bytes = SteadyStateAllocation.Measure(Steps);
        Assert.Equal(SteadyStateAllocation.Windows, bytes.Length);
        Assert.All(bytes, b => Assert.True(b >= 10 * 100, $"{b} bytes"));
        var e = Assert.Throws<TrueException>(() => SteadyStateAllocation.AssertNone(Steps, "the steps"));
        Assert.Contains("the steps: allocated in each of 3 windows", e.Message);
    }

    [Fact]
    public void AOneOffAllocation_InTheFirstWindow_Passes_AndTheWindowsStopAtTheFirstClean()
    {
        bool first = true;
        var data = new float[1000];
        void Window()
        {
            if (first) _sink = new byte[64];
            first = false;
            for (int i = 0; i < data.Length; i++) data[i] += 1f;
        }
        var bytes = SteadyStateAllocation.Measure(Window);
        Assert.Equal(2, bytes.Length);
        Assert.True(bytes[0] >= 64, $"{bytes[0]} bytes");
        Assert.Equal(0, bytes[1]);
    }

    [Fact]
    public void AWindowThatMeasuresItself_IsTakenAtItsWord()
    {
        var given = new Queue<long>([5, 7, 0, 9]);
        Assert.Equal([5, 7, 0], SteadyStateAllocation.Measure(() => given.Dequeue()));
        var failing = new Queue<long>([1, 2, 3, 0]);
        Assert.Throws<TrueException>(() => SteadyStateAllocation.AssertNone(() => failing.Dequeue(), "self-measured"));
        Assert.Single(failing); // three windows at most
    }
}
