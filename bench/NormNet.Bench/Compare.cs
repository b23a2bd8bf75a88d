using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace NormNet.Bench;

/// <summary>
/// Runs NormNet's rows and the PyTorch peer's rows (bench/peer/pytorch_rows.py) in turn, round after round,
/// each in a fresh process with the same thread count, and prints a markdown table of medians and ratios,
/// with kernel bandwidth as a fraction of the STREAM-like probe measured in the same invocation.
/// </summary>
internal static class Compare
{
    public static int Run(string[] args)
    {
        var options = new Options(args);
        int[] threadCounts = options.Ints("--threads", [2, 1]);
        int rounds = options.Int("--rounds", 3);
        string filter = options.Get("--filter") ?? "";
        string python = options.Get("--python") ?? "/usr/bin/python3";
        string peer = FindPeerScript();
        var sanity = PeerSanity.Read(Path.Combine(Path.GetDirectoryName(Path.GetDirectoryName(Path.GetDirectoryName(peer)))!, "BENCHMARKS.md"));
        var warnings = new List<string>();
        var report = new StringBuilder();
        report.AppendLine($"Machine: {Environment.ProcessorCount} logical CPUs, {RuntimeInformationLine()}; date {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; {rounds} alternating rounds; medians of per-round medians.");
        report.AppendLine();
        foreach (int threads in threadCounts)
        {
            var probe = JsonDocument.Parse(RunSelf($"stream --threads {threads}").Trim()).RootElement;
            double triad = probe.GetProperty("triad_gbs").GetDouble();
            report.AppendLine($"Threads: {threads}. Bandwidth probe: read {probe.GetProperty("read_gbs").GetDouble():F1} GB/s, copy {probe.GetProperty("copy_gbs").GetDouble():F1} GB/s, triad {triad:F1} GB/s (the limit quoted below is triad).");
            report.AppendLine();
            var ours = new Dictionary<string, List<double>>();
            var theirs = new Dictionary<string, List<double>>();
            var bytes = new Dictionary<string, long>();
            var allocated = new Dictionary<string, double>();
            var order = new List<string>();
            for (int r = 0; r < rounds; r++)
            {
                Console.Error.WriteLine($"[threads {threads}] round {r + 1}/{rounds}: NormNet");
                Collect(RunSelf($"rows --threads {threads} --filter \"{filter}\""), ours, bytes, order, allocated);
                Console.Error.WriteLine($"[threads {threads}] round {r + 1}/{rounds}: PyTorch");
                Collect(RunProcess(python, $"\"{peer}\" --threads {threads} --filter \"{filter}\""), theirs, bytes, null, null);
            }
            report.AppendLine("| row | NormNet ms | PyTorch ms | speedup (PyTorch / NormNet) | NormNet GB/s (min traffic) | % of triad | NormNet bytes allocated per call |");
            report.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var id in order)
            {
                double a = Median(ours[id]);
                string b = theirs.TryGetValue(id, out var t) ? RowRunner.Format(Median(t)) : "n/a";
                string ratio = theirs.ContainsKey(id) ? (Median(theirs[id]) / a).ToString("F2", CultureInfo.InvariantCulture) + "x" : "n/a";
                if (theirs.ContainsKey(id) && sanity.Check(threads, id, Median(theirs[id])) is { } warning)
                {
                    warnings.Add(warning);
                    Console.Error.WriteLine(warning);
                    ratio += " (suspect)";
                }
                string gbs = bytes[id] > 0 ? (bytes[id] / (a * 1e-3) / 1e9).ToString("F1", CultureInfo.InvariantCulture) : "";
                string frac = bytes[id] > 0 ? (100 * bytes[id] / (a * 1e-3) / 1e9 / triad).ToString("F0", CultureInfo.InvariantCulture) + "%" : "";
                report.AppendLine($"| {id} | {RowRunner.Format(a)} | {b} | {ratio} | {gbs} | {frac} | {allocated.GetValueOrDefault(id):0} |");
            }
            report.AppendLine();
            foreach (string w in warnings) report.AppendLine(w).AppendLine();
            warnings.Clear();
        }
        if (args.Contains("--mnist")) Mnist(report, threadCounts[0], python);
        Console.Write(report.ToString());
        if (options.Get("--out") is { } outPath) File.WriteAllText(outPath, report.ToString());
        return 0;
    }

    private static void Collect(string output, Dictionary<string, List<double>> into, Dictionary<string, long> bytes, List<string>? order,
        Dictionary<string, double>? allocated)
    {
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.TrimStart().StartsWith('{')) continue;
            var e = JsonDocument.Parse(line).RootElement;
            string id = e.GetProperty("id").GetString()!;
            if (!into.TryGetValue(id, out var list)) into[id] = list = [];
            list.Add(e.GetProperty("median_ms").GetDouble());
            if (order is not null)
            {
                if (!order.Contains(id)) order.Add(id);
                bytes[id] = e.GetProperty("min_bytes").GetInt64();
            }
            if (allocated is not null && e.TryGetProperty("allocated_bytes_per_call", out var alloc))
                allocated[id] = Math.Max(allocated.GetValueOrDefault(id), alloc.GetDouble());
        }
    }

    /// <summary>One cell of `normnet experiment fig1 --full` (one seed, N(0, 0.1), lr 0.5: the peer script's setting) against the same loop in PyTorch, each once, in turn.</summary>
    private static void Mnist(StringBuilder report, int threads, string python)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"normnet-bench-mnist-{Environment.ProcessId}");
        Console.Error.WriteLine("mnist experiment: NormNet");
        RunSelf($"normnet experiment fig1 --full --seeds 1 --init-std 0.1 --lr 0.5 --out \"{dir}\" --threads {threads}");
        var timing = File.ReadAllLines(Path.Combine(dir, "timing.csv")).Skip(1).Select(l => l.Split(','))
            .ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
        Console.Error.WriteLine("mnist experiment: PyTorch");
        string peer = RunProcess(python, $"\"{Path.Combine(Path.GetDirectoryName(FindPeerScript())!, "pytorch_mnist.py")}\" --threads {threads}");
        double Value(string key) => double.Parse(peer.Split('\n').First(l => l.StartsWith(key, StringComparison.Ordinal)).Split(' ')[1], CultureInfo.InvariantCulture);
        double ours = timing["wall_seconds"], theirs = Value("wall");
        report.AppendLine($"`normnet experiment fig1 --full --seeds 1 --init-std 0.1 --lr 0.5` (2 x 50,000 steps, evaluation every 500 steps on the full test set), {threads} threads:");
        report.AppendLine();
        report.AppendLine("| run | NormNet | PyTorch | speedup |");
        report.AppendLine("|---|---:|---:|---:|");
        report.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| wall time | {ours:F1} s | {theirs:F1} s | {theirs / ours:F1}x |"));
        report.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| peak resident memory | {timing["peak_rss_mb"]:F0} MB | {Value("peak_rss_mb"):F0} MB | |"));
        report.AppendLine();
        Directory.Delete(dir, recursive: true);
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted[sorted.Count / 2];
    }

    /// <summary>Runs this benchmark again in a fresh process with <paramref name="arguments"/> and returns its standard output.</summary>
    internal static string RunSelfPublic(string arguments) => RunSelf(arguments);

    private static string RunSelf(string arguments)
    {
        var (file, args) = SelfInvocation(Environment.ProcessPath!, typeof(Compare).Assembly.Location, arguments);
        return RunProcess(file, args);
    }

    /// <summary>How to start this benchmark again with <paramref name="arguments"/>. Under <c>dotnet run</c> (or
    /// ./NormNet.Bench) this process is the apphost, which takes the arguments alone: given the dll path as well,
    /// the child saw it as its first argument, fell through to BenchmarkDotNet and printed no JSON. Under
    /// <c>dotnet NormNet.Bench.dll</c> (or a test host) the dotnet host runs the dll.</summary>
    internal static (string File, string Arguments) SelfInvocation(string processPath, string dll, string arguments)
    {
        string apphost = Path.ChangeExtension(dll, OperatingSystem.IsWindows() ? ".exe" : null);
        if (string.Equals(Path.GetFullPath(processPath), Path.GetFullPath(apphost), StringComparison.Ordinal)) return (processPath, arguments);
        string host = Path.GetFileNameWithoutExtension(processPath).Equals("dotnet", StringComparison.OrdinalIgnoreCase)
            ? processPath
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        return (host, $"\"{dll}\" {arguments}");
    }

    private static string RunProcess(string file, string arguments)
    {
        var psi = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {file}");
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {arguments} exited with {p.ExitCode}");
        return output;
    }

    private static string FindPeerScript()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "bench", "peer", "pytorch_rows.py");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException("bench/peer/pytorch_rows.py not found: run from inside the repository.");
    }

    private static string RuntimeInformationLine() =>
        $"{System.Runtime.InteropServices.RuntimeInformation.OSDescription.Trim()}, .NET {Environment.Version}, AVX-512 {(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "on" : "off")}";
}
