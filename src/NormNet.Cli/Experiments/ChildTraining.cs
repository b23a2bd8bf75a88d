using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace NormNet.Cli.Experiments;

/// <summary>One <c>normnet train</c> run started as a child process of this very executable, alone or as
/// <c>mpiexec -n N</c> ranks, and what it wrote: the per-step training loss and the test evaluations of its log.csv.</summary>
internal static partial class ChildTraining
{
    /// <summary>What a run's log.csv holds: the loss of each step (index 0 is step 1) and (step, test accuracy) of each evaluation.</summary>
    public sealed record Log(double[] Loss, (long Step, double Accuracy)[] Evaluations);

    /// <summary>The mpiexec on <paramref name="path"/> (a PATH-style list), or a failure that says what is missing and how to get it.</summary>
    public static string FindMpiexec(string? path, string experiment)
    {
        var found = (path ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "mpiexec")).FirstOrDefault(File.Exists);
        return found ?? throw new CommandFailedException(
            $"the {experiment} experiment starts its ranks with mpiexec, which is not on PATH: install MPICH " +
            "(Debian: apt-get install mpich, or tools/setup/install-test-deps.sh); the other experiments need nothing but .NET.");
    }

    /// <summary>How to start this executable again: the dotnet host and NormNet.Cli.dll (the host that runs this process
    /// when it is dotnet, as under <c>dotnet normnet.dll</c> or a test host, else the dotnet on PATH).</summary>
    public static string[] Self()
    {
        string? process = Environment.ProcessPath;
        string host = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } h ? h : "dotnet";
        return [host, typeof(ChildTraining).Assembly.Location];
    }

    /// <summary>Runs <paramref name="command"/> (program first) with <paramref name="threads"/> kernel threads per process;
    /// <paramref name="progress"/> gets the fraction done from the child's own progress lines. A non-zero exit fails with the
    /// command and the end of its output.</summary>
    public static void Run(IReadOnlyList<string> command, int threads, Action<double> progress, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) info.ArgumentList.Add(a);
        info.Environment["NORMNET_NUM_THREADS"] = threads.ToString(CultureInfo.InvariantCulture);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        var output = new StringBuilder();
        using var p = Process.Start(info) ?? throw new CommandFailedException($"could not start {command[0]}.");
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (output) output.AppendLine(e.Data);
            var m = Percent().Match(e.Data);
            if (m.Success) progress(double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) / 100);
        };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            throw new CommandFailedException($"{string.Join(' ', command)} did not finish within {timeout.TotalSeconds:0} s.");
        }
        p.WaitForExit(); // drains the output
        if (p.ExitCode != 0)
        {
            string text;
            lock (output) text = output.ToString();
            throw new CommandFailedException($"{string.Join(' ', command)} exited with {p.ExitCode}:\n{text[Math.Max(0, text.Length - 2000)..]}");
        }
        progress(1);
    }

    /// <summary>Reads a train run's log.csv (columns step, loss, test_accuracy by name), failing with the file and what is missing.</summary>
    public static Log ReadLog(string path, long steps)
    {
        if (!File.Exists(path)) throw new CommandFailedException($"the training run wrote no {path}.");
        var lines = File.ReadAllLines(path);
        var header = lines.Length > 0 ? lines[0].Split(',') : [];
        int Column(string name) => Array.IndexOf(header, name) is var i and >= 0 ? i
            : throw new CommandFailedException($"{path}: no column '{name}' in its header '{string.Join(',', header)}'.");
        int stepCol = Column("step"), lossCol = Column("loss"), accCol = Column("test_accuracy");
        var loss = new double[steps];
        var evaluations = new List<(long, double)>();
        long seen = 0;
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            long step = long.Parse(f[stepCol], CultureInfo.InvariantCulture);
            if (step < 1 || step > steps) throw new CommandFailedException($"{path}: step {step} outside 1..{steps}.");
            loss[step - 1] = double.Parse(f[lossCol], CultureInfo.InvariantCulture);
            seen++;
            if (f[accCol].Length > 0) evaluations.Add((step, double.Parse(f[accCol], CultureInfo.InvariantCulture)));
        }
        if (seen != steps) throw new CommandFailedException($"{path}: {seen} steps logged, {steps} expected.");
        if (evaluations.Count == 0 || evaluations[^1].Item1 != steps)
            throw new CommandFailedException($"{path}: no test evaluation at the last step ({steps}).");
        return new Log(loss, evaluations.ToArray());
    }

    [GeneratedRegex(@"^\s*training: (\d+)%")]
    private static partial Regex Percent();
}
