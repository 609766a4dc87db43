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

    /// <summary>A node child's report of its effective runtime settings (GC configuration, tiered PGO); empty for baselines.</summary>
    public string RuntimeReport { get; private set; } = "";

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
            // The node runs as the image runs it (deploy/Dockerfile): its runtimeconfig options
            // (node/GovShare.Cli/NodeRuntime.props, which the image has in govshare.runtimeconfig.json)
            // through a runtimeconfig of its own, and DOTNET_TieredPGO=1, the image's ENV. Whether its
            // code is ReadyToRun depends on how this program was built (NodeCodeIsReadyToRun). The
            // baselines keep this program's runtimeconfig: the runtime's defaults (workstation GC,
            // tiered PGO on).
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add("--runtimeconfig");
            start.ArgumentList.Add(WriteNodeRuntimeConfig(folder));
            foreach (var (variable, value) in NodeEnvironment.Concat(NodeEnvironmentOverrides))
            {
                start.Environment[variable] = value;
            }
        }
        else
        {
            foreach (var (variable, value) in BaselineEnvironmentOverrides)
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

            if (e.Data.StartsWith("RUNTIME ", StringComparison.Ordinal))
            {
                child.RuntimeReport = e.Data["RUNTIME ".Length..].Trim();
            }
            else if (e.Data.StartsWith("READY ", StringComparison.Ordinal))
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

    /// <summary>
    /// CPU time (seconds) of each of the process's threads whose name starts with
    /// <paramref name="prefix"/>, by thread id (<c>/proc/&lt;pid&gt;/task/*/stat</c>): e.g. the
    /// runtime's tiering thread (".NET Tiered Com"), whose share says whether the node is still
    /// re-compiling its hot code.
    /// </summary>
    public Dictionary<int, double> ThreadCpuSeconds(string prefix)
    {
        var threads = new Dictionary<int, double>();
        try
        {
            foreach (var task in Directory.EnumerateDirectories($"/proc/{Pid}/task"))
            {
                try
                {
                    var stat = File.ReadAllText(Path.Combine(task, "stat"));
                    var name = stat[(stat.IndexOf('(') + 1)..stat.LastIndexOf(')')];
                    if (name.StartsWith(prefix, StringComparison.Ordinal))
                    {
                        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                        threads[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] = (long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
                    }
                }
                catch (IOException)
                {
                    // The thread ended meanwhile.
                }
            }
        }
        catch (IOException)
        {
            // The process ended.
        }

        return threads;
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

    /// <summary>The environment the image gives the node (deploy/Dockerfile's ENV that concerns the runtime).</summary>
    internal static readonly (string Variable, string Value)[] NodeEnvironment = [("DOTNET_TieredPGO", "1")];

    /// <summary>
    /// Extra <c>DOTNET_</c> variables for the node child only (<c>--node-env</c>): for trying a runtime
    /// setting on the measured node before it goes into NodeRuntime.props. Empty in a plain run.
    /// </summary>
    internal static IReadOnlyList<(string Variable, string Value)> NodeEnvironmentOverrides { get; set; } = [];

    /// <summary>
    /// Extra variables for the baselines only (<c>--baseline-env</c>): a runtime setting that is not the
    /// node's own work (e.g. DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS) given to the baselines too, so the
    /// ratios compare like with like. Empty in a plain run.
    /// </summary>
    internal static IReadOnlyList<(string Variable, string Value)> BaselineEnvironmentOverrides { get; set; } = [];

    /// <summary>Parses <c>NAME=VALUE,NAME=VALUE</c> (<c>--node-env</c>, <c>--baseline-env</c>).</summary>
    internal static IReadOnlyList<(string Variable, string Value)> ParseEnvironment(string? list) =>
        [.. (list ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(v => v.Split('=', 2)).Select(p => (p[0], p.Length > 1 ? p[1] : ""))];

    /// <summary>The node's runtimeconfig options as shipped (NodeRuntime.props), name and value.</summary>
    internal static IReadOnlyList<(string Name, string Value)> NodeRuntimeOptions()
    {
        var options = typeof(ChildProcess).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .Single(a => a.Key == "GovShareNodeRuntimeOptions").Value ?? "";
        return [.. options.Split(';', StringSplitOptions.RemoveEmptyEntries).Select(o => o.Split('=', 2)).Select(p => (p[0], p[1]))];
    }

    /// <summary>
    /// Whether the node's code in this program's folder is ReadyToRun-precompiled, as the image
    /// ships it (a publish for a runtime), or IL only, compiled by the JIT at run time (a plain build).
    /// </summary>
    internal static bool NodeCodeIsReadyToRun()
    {
        var folder = Path.GetDirectoryName(typeof(ChildProcess).Assembly.Location)!;
        return new[] { "GovShare.Node.dll", Path.GetFileName(typeof(ChildProcess).Assembly.Location) }.All(name =>
        {
            using var file = File.OpenRead(Path.Combine(folder, name));
            using var pe = new System.Reflection.PortableExecutable.PEReader(file);
            // A ReadyToRun image carries its native code's header in the CLI header's ManagedNativeHeader.
            return pe.PEHeaders.CorHeader?.ManagedNativeHeaderDirectory.Size > 0;
        });
    }

    /// <summary>
    /// This program's runtimeconfig (framework references) plus the node's options as shipped: what
    /// govshare.runtimeconfig.json gives the node in the image. Written into the run's folder.
    /// </summary>
    private static string WriteNodeRuntimeConfig(string folder)
    {
        var own = Path.ChangeExtension(typeof(ChildProcess).Assembly.Location, ".runtimeconfig.json");
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(own))!.AsObject();
        var runtimeOptions = config["runtimeOptions"]!.AsObject();
        if (runtimeOptions["configProperties"] is not System.Text.Json.Nodes.JsonObject properties)
        {
            properties = [];
            runtimeOptions["configProperties"] = properties;
        }

        foreach (var (name, value) in NodeRuntimeOptions())
        {
            properties[name] = long.TryParse(value, CultureInfo.InvariantCulture, out var number) ? number
                : bool.TryParse(value, out var flag) ? flag
                : value;
        }

        var path = Path.Combine(folder, "node.runtimeconfig.json");
        File.WriteAllText(path, config.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
        return path;
    }
}
