using System.Globalization;
using System.Text.RegularExpressions;

namespace NormNet.Bench;

/// <summary>
/// The peer's usual figures: the PyTorch column of the committed BENCHMARKS.md tables (which this command wrote),
/// by thread count and row. A peer row more than <see cref="Factor"/> times off its usual figure, either way, is
/// suspect (a PyTorch BN row at (60, 100) once took 47.6 ms instead of 0.046 ms and was reported as a "5670x"
/// speedup), so the comparison warns instead of quoting it silently. Real speedups reach ~70x, so NormNet's own
/// time cannot serve as the yardstick.
/// </summary>
internal sealed partial class PeerSanity(Dictionary<(int Threads, string Id), double> usual, string source)
{
    public const double Factor = 100;

    /// <summary>Reads the usual figures from <paramref name="path"/>; none when the file is missing.</summary>
    public static PeerSanity Read(string? path)
    {
        var usual = new Dictionary<(int, string), double>();
        if (path is null || !File.Exists(path)) return new PeerSanity(usual, "no BENCHMARKS.md");
        int threads = 0;
        foreach (string line in File.ReadLines(path))
        {
            if (ThreadsLine().Match(line) is { Success: true } t) threads = int.Parse(t.Groups[1].Value, CultureInfo.InvariantCulture);
            else if (threads > 0 && RowLine().Match(line) is { Success: true } r
                     && double.TryParse(r.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double ms) && ms > 0)
                usual.TryAdd((threads, r.Groups[1].Value.Trim()), ms);
        }
        return new PeerSanity(usual, Path.GetFileName(path));
    }

    /// <summary>A one-line warning when the peer's <paramref name="peerMs"/> for a row is more than 100x off its
    /// usual figure at this thread count; null when it is within, or when there is no usual figure.</summary>
    public string? Check(int threads, string id, double peerMs)
    {
        if (!usual.TryGetValue((threads, id), out double expected)) return null;
        double off = peerMs / expected;
        if (off <= Factor && off >= 1 / Factor) return null;
        string how = off > 1 ? $"{off:F0}x its usual" : $"1/{1 / off:F0} of its usual";
        return string.Create(CultureInfo.InvariantCulture,
            $"warning: PyTorch's '{id}' ({threads} threads) took {RowRunner.Format(peerMs)} ms, {how} {RowRunner.Format(expected)} ms ({source}): the peer's figure is suspect (another load on the machine, or the peer misbehaving); rerun before quoting this speedup.");
    }

    [GeneratedRegex(@"^Threads: (\d+)\.")]
    private static partial Regex ThreadsLine();

    /// <summary>| row | NormNet ms | PyTorch ms | ...</summary>
    [GeneratedRegex(@"^\| ([^|]+) \| [^|]+ \| ([0-9.]+) \|")]
    private static partial Regex RowLine();
}
