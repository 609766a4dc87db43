using System.Diagnostics;
using System.Net;
using System.Text.Json;
using GovShare.Contract;

namespace GovShare.Node.Tests.Functional;

/// <summary>The README's first command, <c>govshare demo</c>, as a person runs it: a process that serves, twice on one folder.</summary>
public sealed class DemoTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("govshare-demo-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Demo_ServesTheSampleResourceMaskedToAnotherDepartment_AndStartsAgainOnTheSameFolder()
    {
        for (var run = 0; run < 2; run++)
        {
            var port = Loopback.FreePort();
            using var demo = Start(port, Loopback.FreePort());
            try
            {
                await WaitForReadyAsync(demo);
                using var client = Client(port, "11530100MB0000022C");
                using var request = new HttpRequestMessage(HttpMethod.Get, "v1/resources/101001-000001/data");
                request.Headers.Add(GovShareHeaders.Purpose, "demo");
                request.Headers.Accept.ParseAdd("application/json");

                using var response = await client.SendAsync(request);

                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                var rows = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
                Assert.Equal(3, rows.GetArrayLength()); // seeded once, not again on the second run
                Assert.Equal("530102********1234", rows[0].GetProperty("公民身份号码").GetString());
                Assert.False(rows[0].TryGetProperty("住址", out _));
            }
            finally
            {
                // Stopped as Kubernetes and a terminal stop it: SIGTERM, and the demo must exit by itself.
                var stopped = await TerminateAsync(demo, TimeSpan.FromMinutes(1));
                Assert.True(stopped, "the demo was still running a minute after SIGTERM");
                Assert.Equal(0, demo.ExitCode);
            }
        }
    }

    [Fact]
    public async Task Demo_ManyPulls_HowToStaysOnScreen_OneSummaryInsteadOfALinePerRequest()
    {
        const int pulls = 40;
        var port = Loopback.FreePort();
        using var demo = Start(port, Loopback.FreePort());
        var lines = new System.Collections.Concurrent.ConcurrentQueue<string>();
        demo.OutputDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
        demo.ErrorDataReceived += (_, e) => lines.Enqueue(e.Data ?? "");
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        var ids = new List<string>();
        try
        {
            var until = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while (!lines.Any(l => l.Contains("serving departments", StringComparison.Ordinal)))
            {
                Assert.False(demo.HasExited, $"the demo exited ({(demo.HasExited ? demo.ExitCode : -1)}) before it was ready");
                Assert.True(DateTime.UtcNow < until, "the demo never said it was serving");
                await Task.Delay(100);
            }

            using var client = Client(port, "11530100MB0000022C");
            for (var i = 0; i < pulls; i++)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "v1/resources/101001-000001/data");
                request.Headers.Add(GovShareHeaders.Purpose, "demo");
                using var response = await client.SendAsync(request);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                ids.Add(response.Headers.GetValues(GovShareHeaders.ExchangeId).Single());
                await response.Content.ReadAsByteArrayAsync();
            }
        }
        finally
        {
            Assert.True(await TerminateAsync(demo, TimeSpan.FromMinutes(1)), "the demo was still running a minute after SIGTERM");
            Assert.Equal(0, demo.ExitCode);
        }

        var output = lines.ToList();
        var text = string.Join('\n', output);
        // The how-to is there, whole, and what follows it does not grow with the requests made.
        var howTo = output.FindIndex(l => l.Contains("Demo node ready", StringComparison.Ordinal));
        var howToEnd = output.FindIndex(l => l.Contains("Health: curl", StringComparison.Ordinal));
        Assert.True(howTo >= 0 && howToEnd > howTo, text);
        Assert.Contains(output, l => l.Contains("Pull the sample resource 101001/000001", StringComparison.Ordinal));
        var after = output.Skip(howToEnd + 1).Where(l => l.Length > 0).ToList();
        Assert.True(after.Count < pulls, $"{after.Count} lines after the how-to for {pulls} pulls:\n{string.Join('\n', after)}");
        Assert.All(ids, id => Assert.DoesNotContain(id, text, StringComparison.Ordinal));
        Assert.DoesNotContain("Request finished", text, StringComparison.Ordinal);
        // The summaries (one a minute, the rest at stop) count them all: the seeding push and the pulls.
        var summaries = after.Select(l => System.Text.RegularExpressions.Regex.Match(l, @"Activity in the last \d+ s: (\d+) exchanges")).Where(m => m.Success).ToList();
        Assert.NotEmpty(summaries);
        Assert.Equal(pulls + 1, summaries.Sum(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Sends SIGTERM and waits for the exit; kills the process (and returns false) if it does not exit in time.</summary>
    private static async Task<bool> TerminateAsync(Process process, TimeSpan within)
    {
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(within);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return false;
        }
    }

    private Process Start(int port, int managementPort)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Loopback.GovShareDll());
        foreach (var argument in new[] { "demo", "--folder", _folder, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--management-port", managementPort.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("the demo did not start");
    }

    private static async Task WaitForReadyAsync(Process demo)
    {
        demo.ErrorDataReceived += (_, _) => { };
        demo.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (await demo.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            if (line.Contains("serving departments", StringComparison.Ordinal))
            {
                // Keep draining so the demo never blocks on a full pipe.
                _ = demo.StandardOutput.ReadToEndAsync(CancellationToken.None);
                return;
            }
        }

        Assert.Fail($"the demo exited ({(demo.HasExited ? demo.ExitCode : -1)}) before it was ready");
    }

    private HttpClient Client(int port, string creditCode)
    {
        // The department's own client, as `govshare push|pull` builds it from its config file.
        var issued = Path.Combine(_folder, "pki", "issued", $"dept-530100-{creditCode}");
        return new GovShare.Contract.DepartmentConnection(new Uri($"https://localhost:{port}/"), issued + ".crt", issued + ".key", Path.Combine(_folder, "pki", "trust-anchors.pem")).CreateHttpClient(TimeSpan.FromSeconds(30));
    }
}
