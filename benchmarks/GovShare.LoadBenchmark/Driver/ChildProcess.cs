using System.Diagnostics;
using System.Globalization;
using GovShare.LoadBenchmark.Servers;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>
/// A server of the benchmark in its own process (this program with a role argument): its
/// memory is its own, readable from <c>/proc/&lt;pid&gt;/status</c>, and it competes for the
/// same two cores as it would in production. Stopped by closing its standard input.
/// </summary>
internal sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Queue<string> _tail = new();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    public int Pid => _process.Id;

    public static async Task<ChildProcess> StartAsync(string name, string role, ServerConfig config, string folder)
    {
        var configPath = Path.Combine(folder, name + ".json");
        config.Write(configPath);
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            // Each child in an empty folder of its own: ASP.NET watches its content root (the working
            // directory) recursively for appsettings changes, and a node started in the folder that
            // holds its data folder would take an inotify event for every log write (profiled: 3 % of
            // its CPU on small exchanges). The node's settings come from the config file below.
            WorkingDirectory = Directory.CreateDirectory(Path.Combine(folder, "cwd-" + name)).FullName,
        };
        if (role == NodeHost.Role)
        {
            // The node runs with the runtime settings it ships with (node/GovShare.Cli/NodeRuntime.props,
            // written into govshare.runtimeconfig.json); the baselines keep the runtime's defaults.
            foreach (var (variable, value) in NodeRuntimeSettings())
            {
                start.Environment[variable] = value;
            }
        }

        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        start.ArgumentList.Add(role);
        start.ArgumentList.Add(configPath);
        var process = Process.Start(start) ?? throw new InvalidOperationException($"Could not start {name}.");
        var child = new ChildProcess(name, process);
        var ready = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                ready.TrySetException(new InvalidOperationException($"{name} exited before it was ready:\n{child.Tail()}"));
                return;
            }

            if (e.Data.StartsWith("READY ", StringComparison.Ordinal))
            {
                ready.TrySetResult(new Uri(e.Data["READY ".Length..].Trim()));
            }
            else
            {
                child.Keep(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                child.Keep(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var finished = await Task.WhenAny(ready.Task, Task.Delay(TimeSpan.FromSeconds(120)));
        if (finished != ready.Task)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} was not ready within 120 s:\n{child.Tail()}");
        }

        child.Address = await ready.Task;
        return child;
    }

    /// <summary>Peak resident set size since the process started (VmHWM), in bytes.</summary>
    public long PeakWorkingSet => Status("VmHWM:");

    /// <summary>Resident set size now (VmRSS), in bytes.</summary>
    public long WorkingSet => Status("VmRSS:");

    /// <summary>
    /// CPU time the process has used so far, user + system (<c>/proc/&lt;pid&gt;/stat</c> fields 14
    /// and 15, in clock ticks of 1/100 s — Linux's USER_HZ). Differences over a measured run give
    /// CPU per exchange or per byte, which a shared machine disturbs far less than throughput.
    /// </summary>
    public double CpuSeconds
    {
        get
        {
            try
            {
                var stat = File.ReadAllText($"/proc/{Pid}/stat");
                // The command name (field 2) may hold spaces; the fields after it are plain numbers.
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                return (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
            }
            catch (IOException)
            {
                return 0;
            }
        }
    }

    public string Tail()
    {
        lock (_tail)
        {
            return string.Join('\n', _tail);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone.
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
        }

        _process.Dispose();
    }

    private void Keep(string line)
    {
        lock (_tail)
        {
            _tail.Enqueue(line);
            if (_tail.Count > 40)
            {
                _tail.Dequeue();
            }
        }
    }

    private long Status(string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{Pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            var kilobytes = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
            return kilobytes is null ? 0 : long.Parse(kilobytes, CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    /// <summary>The shipped node's runtime settings, as <c>DOTNET_</c> variables (GC values are read as hexadecimal).</summary>
    internal static IEnumerable<(string Variable, string Value)> NodeRuntimeSettings()
    {
        var threshold = typeof(ChildProcess).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .Single(a => a.Key == "GovShareNodeGCLOHThreshold").Value;
        yield return ("DOTNET_GCLOHThreshold", long.Parse(threshold!, CultureInfo.InvariantCulture).ToString("x", CultureInfo.InvariantCulture));
    }
}
