using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using NormNet.Cli.Experiments;
using Xunit.Abstractions;

namespace NormNet.Tests.Cli;

/// <summary>The HTML reports in a real browser: headless Chromium (Debian's <c>chromium</c>, installed by
/// tools/setup/install-test-deps.sh) loads index.html and each report.html, and every image must load and the page log
/// nothing to its console. Under CI (CI=true) a missing browser fails the test instead of passing it by.</summary>
[Collection("Console")]
public sealed partial class BrowserReportTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("normnet-html-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // runs before the page's own content: collects errors (capture phase also sees failed image loads), then on load
    // writes what it found into the DOM, which --dump-dom prints
    private const string Checker = """
        <script>
        window.__errors = [];
        window.addEventListener('error', function (e) { __errors.push('error: ' + (e.message || ('failed to load ' + ((e.target && (e.target.currentSrc || e.target.src)) || '?').slice(0, 60)))); }, true);
        var __ce = console.error; console.error = function () { __errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); __ce.apply(console, arguments); };
        window.addEventListener('load', function () {
          var imgs = Array.prototype.slice.call(document.images);
          var broken = imgs.filter(function (i) { return !i.complete || i.naturalWidth === 0; }).map(function (i) { return i.alt; });
          var out = document.createElement('pre'); out.id = 'normnet-check';
          out.textContent = JSON.stringify({ images: imgs.length, broken: broken, errors: __errors });
          document.body.appendChild(out);
        });
        </script>
        """;

    [Fact]
    public void IndexAndReports_LoadEveryImage_WithoutConsoleErrors()
    {
        string? chromium = FindChromium();
        if (chromium is null)
        {
            Assert.False(Environment.GetEnvironmentVariable("CI") == "true",
                "chromium is not installed; tools/setup/install-test-deps.sh installs it (./test.sh runs it)");
            output.WriteLine("chromium not found: the browser check did not run (run tools/setup/install-test-deps.sh)");
            return;
        }
        string run = Path.Combine(_dir, "all");
        var r = CliTests.Run("experiment", "all", "--smoke", "--out", run);
        Assert.True(r.Code == 0, r.Error);
        var pages = new List<string> { Path.Combine(run, "index.html") };
        pages.AddRange(ExperimentRunner.All.Select(e => Path.Combine(run, e.Name, "report.html")));
        foreach (string page in pages)
        {
            string html = File.ReadAllText(page);
            Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch(ExternalReference(), html);
            var (images, broken, errors, console) = Render(chromium, page, html);
            Assert.True(images >= 1, $"{page}: no images");
            Assert.True(broken.Count == 0, $"{page}: images that did not load: {string.Join(", ", broken)}");
            Assert.True(errors.Count == 0, $"{page}: errors: {string.Join("; ", errors)}");
            Assert.True(console.Count == 0, $"{page}: console output: {string.Join("; ", console)}");
            output.WriteLine($"{Path.GetFileName(Path.GetDirectoryName(page))}/{Path.GetFileName(page)}: {images} images loaded");
        }
    }

    /// <summary>Renders a copy of the page with the checker injected; returns what the checker and the browser's log report.</summary>
    private (int Images, List<string> Broken, List<string> Errors, List<string> Console) Render(string chromium, string page, string html)
    {
        string copy = Path.Combine(Path.GetDirectoryName(page)!, "browser-check.html");
        File.WriteAllText(copy, html.Replace("<head>\n", "<head>\n" + Checker + "\n", StringComparison.Ordinal));
        string profile = Directory.CreateTempSubdirectory("normnet-chromium-").FullName;
        try
        {
            var psi = new ProcessStartInfo(chromium)
            {
                RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            };
            foreach (var a in new[] { "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync", $"--user-data-dir={profile}",
                         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000", "--dump-dom", new Uri(copy).AbsoluteUri })
                psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string dom = p.StandardOutput.ReadToEnd();
            if (!p.WaitForExit(120_000)) { p.Kill(entireProcessTree: true); Assert.Fail($"{page}: chromium did not finish in 120 s"); }
            var m = CheckResult().Match(dom);
            Assert.True(m.Success, $"{page}: the page did not finish loading in chromium (exit {p.ExitCode}): {stderr.Result[^Math.Min(2000, stderr.Result.Length)..]}");
            using var json = JsonDocument.Parse(System.Net.WebUtility.HtmlDecode(m.Groups[1].Value));
            var root = json.RootElement;
            var console = stderr.Result.Split('\n').Where(l => l.Contains(":CONSOLE", StringComparison.Ordinal)).ToList();
            return (root.GetProperty("images").GetInt32(), root.GetProperty("broken").EnumerateArray().Select(e => e.GetString()!).ToList(),
                root.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList(), console);
        }
        finally
        {
            File.Delete(copy);
            Directory.Delete(profile, recursive: true);
        }
    }

    private static string? FindChromium()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
            foreach (var name in new[] { "chromium", "chromium-browser" })
                if (dir.Length > 0 && File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
        return null;
    }

    [GeneratedRegex("<pre id=\"normnet-check\">([^<]*)</pre>")] private static partial Regex CheckResult();
    [GeneratedRegex("(src|href)=\"(https?:)?//", RegexOptions.IgnoreCase)] private static partial Regex ExternalReference();
}
