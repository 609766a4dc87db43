using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using GovShare.Node.Management;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// A <c>govshare node run</c> process, as operators run it, settings in <c>Node__*</c> environment
/// variables. Disposing it stops it the way Kubernetes does — SIGTERM — and fails the test unless
/// it exits by itself with code 0 (it is killed then, so no test leaves a node behind).
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    /// <summary>How long a stopped node may take: the default drain (20 s) plus a generous margin.</summary>
    public static readonly TimeSpan StopPatience = TimeSpan.FromSeconds(60);

    private NodeProcess(Process process, int managementPort)
    {
        Process = process;
        ManagementPort = managementPort;
    }

    public Process Process { get; }

    public int ManagementPort { get; }

    /// <summary>Standard output and error, line by line.</summary>
    public ConcurrentQueue<string> Output { get; } = new();

    /// <summary>Starts the node and waits until <c>/health/ready</c> answers 200.</summary>
    public static async Task<NodeProcess> StartAsync(Dictionary<string, string?> settings, int managementPort, Action<string>? lines = null)
    {
        var node = Launch(settings, managementPort, lines);
        // With operators on TLS (Node:ManagementUrl https://…) the probe speaks TLS too, without a
        // client certificate, as Kubernetes' probes do; readiness is all it asks, so it does not judge
        // the node's certificate (the tests that talk to the node do).
        var scheme = settings.TryGetValue("Node:ManagementUrl", out var url) && url?.StartsWith("https://", StringComparison.OrdinalIgnoreCase) == true ? "https" : "http";
        using var handler = new HttpClientHandler();
        if (scheme == "https")
        {
            handler.ServerCertificateCustomValidationCallback = (_, _, _, _) => true;
        }

        using var probe = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 600; i++)
        {
            if (node.Process.HasExited)
            {
                throw new InvalidOperationException($"govshare node run exited with {node.Process.ExitCode}:\n{string.Join('\n', node.Output)}");
            }

            try
            {
                if ((await probe.GetAsync(new Uri($"{scheme}://127.0.0.1:{managementPort}/health/ready"))).IsSuccessStatusCode)
                {
                    return node;
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
            {
                // Not listening yet.
            }

            await Task.Delay(100);
        }

        await node.DisposeAsync();
        throw new InvalidOperationException("govshare node run never became ready");
    }

    /// <summary>Starts the process without waiting for it to serve (for nodes expected to refuse to start).</summary>
    public static NodeProcess Launch(Dictionary<string, string?> settings, int managementPort, Action<string>? lines = null)
    {
        var start = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Loopback.GovShareDll());
        start.ArgumentList.Add("node");
        start.ArgumentList.Add("run");
        foreach (var (key, value) in settings)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("the node did not start");
        var node = new NodeProcess(process, managementPort);
        void Receive(string? line)
        {
            node.Output.Enqueue(line ?? "");
            if (line is not null)
            {
                lines?.Invoke(line);
            }
        }

        process.OutputDataReceived += (_, e) => Receive(e.Data);
        process.ErrorDataReceived += (_, e) => Receive(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return node;
    }

    /// <summary>Registers departments as the node's operator does, through its management listener (bootstrap token).</summary>
    public async Task RegisterAsync(string dataPath, params TestDepartment[] departments)
    {
        using var management = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{ManagementPort}/"), Timeout = TimeSpan.FromSeconds(30) };
        management.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(dataPath));
        foreach (var department in departments)
        {
            using var response = await management.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration(department.Division, department.CreditCode, department.Name));
            Assert.True(response.IsSuccessStatusCode, $"registering {department.CreditCode}: {(int)response.StatusCode}");
        }
    }

    /// <summary>Sends SIGTERM (as Kubernetes and <c>kill</c> do).</summary>
    public async Task SignalAsync(string signal = "TERM")
    {
        using var kill = Process.Start("kill", [$"-{signal}", Process.Id.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
    }

    /// <summary>Waits for the exit; kills the process and returns false if it does not exit in time.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan within)
    {
        using var timeout = new CancellationTokenSource(within);
        try
        {
            await Process.WaitForExitAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            Process.Kill(entireProcessTree: true);
            await Process.WaitForExitAsync();
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!Process.HasExited)
            {
                await SignalAsync();
                var stopped = await WaitForExitAsync(StopPatience);
                Assert.True(stopped, $"the node was still running {StopPatience.TotalSeconds} s after SIGTERM (killed):\n{string.Join('\n', Output)}");
                Assert.True(Process.ExitCode == 0, $"the node exited with {Process.ExitCode} after SIGTERM:\n{string.Join('\n', Output)}");
            }
        }
        finally
        {
            Process.Dispose();
        }
    }
}
