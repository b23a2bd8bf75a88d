using System.Diagnostics;

namespace NormNet.Tests.Distributed;

/// <summary>Starts programs under <c>mpiexec -n N</c> as child processes and collects their output. MPICH comes from
/// tools/setup/install-test-deps.sh (which ./test.sh and CI run); a missing mpiexec fails the distributed tests,
/// unless NORMNET_ALLOW_NO_MPI=1 outside CI, where they then pass vacuously with a note on the test output.</summary>
internal static class MpiRun
{
    public sealed record Result(int ExitCode, string Output, string Error, TimeSpan Elapsed)
    {
        public string All => Output + Error;
    }

    /// <summary>The mpiexec on PATH, or null (after failing the test unless allowed).</summary>
    public static string? Mpiexec()
    {
        var found = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
            .Select(d => Path.Combine(d, "mpiexec")).FirstOrDefault(File.Exists);
        if (found is not null) return found;
        bool ci = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
        if (ci || Environment.GetEnvironmentVariable("NORMNET_ALLOW_NO_MPI") != "1")
            Assert.Fail("mpiexec not found on PATH: run tools/setup/install-test-deps.sh (installs Debian's mpich)" +
                (ci ? "; in CI the distributed tests must run." : ", or set NORMNET_ALLOW_NO_MPI=1 to let them pass without running."));
        return null;
    }

    /// <summary>The distributed test child, built next to the tests.</summary>
    public static string Child => Path.Combine(AppContext.BaseDirectory, "NormNet.DistributedChild.dll");

    /// <summary>The normnet CLI, built next to the tests.</summary>
    public static string Cli => Path.Combine(AppContext.BaseDirectory, "NormNet.Cli.dll");

    /// <summary>Runs <c>mpiexec -n ranks dotnet dll args</c>, killing it after <paramref name="timeout"/> (a failure).</summary>
    public static Result Run(string mpiexec, int ranks, string dll, IEnumerable<string> args, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null, Action<Process, string>? onLine = null) =>
        RunRaw(mpiexec, ["-n", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture), "dotnet", dll, .. args], timeout, environment, onLine);

    /// <summary>Runs mpiexec with <paramref name="mpiexecArgs"/> as given (e.g. Hydra's "A : B" to give ranks different commands).</summary>
    public static Result RunRaw(string mpiexec, IEnumerable<string> mpiexecArgs, TimeSpan? timeout = null,
        IReadOnlyDictionary<string, string>? environment = null, Action<Process, string>? onLine = null)
    {
        var args = mpiexecArgs.ToArray();
        var info = new ProcessStartInfo(mpiexec) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["NORMNET_NUM_THREADS"] = "1"; // 2 cores shared by the ranks
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        var watch = Stopwatch.StartNew();
        using var p = Process.Start(info)!;
        var output = new System.Text.StringBuilder();
        var error = new System.Text.StringBuilder();
        p.OutputDataReceived += (_, e) => { if (e.Data is null) return; lock (output) output.AppendLine(e.Data); onLine?.Invoke(p, e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (error) error.AppendLine(e.Data); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var limit = timeout ?? TimeSpan.FromSeconds(120);
        if (!p.WaitForExit(limit))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.Fail($"mpiexec {string.Join(' ', args)} did not finish within {limit.TotalSeconds} s:\n{output}\n{error}");
        }
        p.WaitForExit();
        return new Result(p.ExitCode, output.ToString(), error.ToString(), watch.Elapsed);
    }
}
