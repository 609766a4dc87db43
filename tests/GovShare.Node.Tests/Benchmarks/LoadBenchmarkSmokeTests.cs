using System.Diagnostics;
using System.Text.Json;

namespace GovShare.Node.Tests.Benchmarks;

/// <summary>
/// Keeps the load benchmark working: its seconds-long smoke mode runs every case against real
/// child-process nodes and baselines. Nothing is timed; only completeness is checked.
/// </summary>
public sealed class LoadBenchmarkSmokeTests
{
    private static readonly string[] Cases = ["pull-large", "push", "small-exchanges", "small-exchanges-durable", "pull-forwarded", "arrow-vs-json", "peak-working-set-1gb-pull"];

    [Fact]
    public async Task LoadBenchmark_SmokeMode_CompletesWithEveryCaseInResults()
    {
        var program = LoadBenchmarkDll();
        var work = Path.Combine(Path.GetTempPath(), "govshare-tests", "load-smoke-" + Guid.NewGuid().ToString("N"));
        var results = Path.Combine(work, "results.json");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { program, "--smoke", "--out", results, "--work", Path.Combine(work, "run") })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        try
        {
            Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}\n{await output}\n{await errors}");
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(results));
            var cases = json.RootElement.GetProperty("cases").EnumerateArray().ToList();
            Assert.Equal(Cases.Order(), cases.Select(c => c.GetProperty("case").GetString()).Order());
            Assert.All(cases, c => Assert.True(c.GetProperty("node").GetDouble() > 0 && c.GetProperty("baseline").GetDouble() > 0, c.ToString()));
            Assert.True(json.RootElement.GetProperty("smoke").GetBoolean());
            Assert.Contains("| Case |", await output, StringComparison.Ordinal);
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }

    /// <summary>The load benchmark built beside this test run (Debug or Release, same configuration first).</summary>
    private static string LoadBenchmarkDll()
    {
        var folder = AppContext.BaseDirectory;
        while (folder is not null && !File.Exists(Path.Combine(folder, "GovShare.sln")))
        {
            folder = Path.GetDirectoryName(folder);
        }

        Assert.NotNull(folder);
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var path = Path.Combine(folder, "benchmarks", "GovShare.LoadBenchmark", "bin", configuration, "net10.0", "GovShare.LoadBenchmark.dll");
        Assert.True(File.Exists(path), $"{path} is missing: build the solution (the test project builds it through a project reference).");
        return path;
    }
}
