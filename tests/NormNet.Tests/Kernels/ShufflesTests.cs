using NormNet.Kernels;

namespace NormNet.Tests.Kernels;

/// <summary>The even/odd row split of the stride-2 phase planes, for every row length up to past two vector steps (the
/// vector loop, its tail and rows shorter than one step), writing nothing past the halves; and every other element of a
/// row, reading no further than the row (an array of exactly that length) and writing nothing past the count.</summary>
public unsafe class ShufflesTests
{
    [Fact]
    public void DeinterleaveRow_SplitsEvenAndOddElements_AtEveryLength()
    {
        for (int n = 1; n <= 70; n++) // AVX-512: whole 32-element steps, masked ones; else 8-element steps and their tails
        {
            var src = Enumerable.Range(0, n).Select(i => 10f + i).ToArray();
            int evens = (n + 1) / 2, odds = n / 2;
            var even = Enumerable.Repeat(-1f, evens + 1).ToArray();
            var odd = Enumerable.Repeat(-1f, odds + 1).ToArray();
            fixed (float* ps = src, pe = even, po = odd) Shuffles.DeinterleaveRow(ps, n, pe, po);
            Assert.Equal(Enumerable.Range(0, evens).Select(j => 10f + 2 * j).Append(-1f), even);
            Assert.Equal(Enumerable.Range(0, odds).Select(j => 11f + 2 * j).Append(-1f), odd);
        }
    }

    [Fact]
    public void TakeEven_CopiesEveryOtherElement_ReadingOnlyWhatIsAvailable()
    {
        // up to past two 16-element steps of the AVX-512 path (whole and masked loads and stores) and three 4-element ones
        for (int count = 1; count <= 40; count++)
            foreach (int slack in new[] { 0, 1, 7 }) // source elements past the last one taken
            {
                int available = 2 * count - 1 + slack;
                var src = Enumerable.Range(0, available).Select(i => 10f + i).ToArray();
                var dst = Enumerable.Repeat(-1f, count + 1).ToArray();
                fixed (float* ps = src, pd = dst) Shuffles.TakeEven(ps, available, count, pd);
                Assert.Equal(Enumerable.Range(0, count).Select(j => 10f + 2 * j).Append(-1f), dst);
            }
    }

    [Fact]
    public void AddToEven_AddsIntoEveryOtherElement_LeavingTheOddOnesAndWhatFollows()
    {
        for (int count = 1; count <= 13; count++)
            foreach (int slack in new[] { 0, 1, 7 })
            {
                int available = 2 * count - 1 + slack;
                var dst = Enumerable.Range(0, available + 1).Select(i => 100f + i).ToArray(); // one element past what is available
                var src = Enumerable.Range(0, count).Select(j => 0.5f + j).ToArray();
                fixed (float* pd = dst, ps = src) Shuffles.AddToEven(pd, available, ps, count);
                for (int i = 0; i <= available; i++)
                    Assert.Equal(i % 2 == 0 && i / 2 < count ? 100f + i + 0.5f + i / 2 : 100f + i, dst[i]);
            }
    }
}
