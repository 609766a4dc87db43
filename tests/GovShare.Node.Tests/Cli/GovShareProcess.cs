using System.Diagnostics;
using System.Globalization;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Cli;

/// <summary>What a run of the built <c>govshare</c> printed and returned.</summary>
public sealed record GovShareRun(string Command, int ExitCode, string Stdout, string Stderr)
{
    /// <summary>For assertion messages: the command, its exit code and all it printed.</summary>
    public override string ToString() => $"{Command} exited {ExitCode}:\n{Stdout}\n{Stderr}";

    /// <summary>No .NET stack trace or "see inner exception" reached the person.</summary>
    public bool ShowsNoInternals => !(Stdout + Stderr).Contains("   at ", StringComparison.Ordinal)
        && !(Stdout + Stderr).Contains("inner exception", StringComparison.OrdinalIgnoreCase)
        && !(Stdout + Stderr).Contains("Exception", StringComparison.Ordinal);
}

/// <summary>
/// Runs the built <c>govshare</c> as a person does: a process in a working folder, with its output
/// redirected (as a script runs it) or on a pseudo-terminal (as a person at a terminal runs it,
/// through util-linux <c>script</c>), so the terminal-only paths run too.
/// </summary>
public static class GovShareProcess
{
    public static async Task<GovShareRun> RunAsync(string folder, string[] arguments, IDictionary<string, string>? environment = null, string? stdin = null, TimeSpan? timeout = null, (string Program, string[] Prefix)? build = null)
    {
        using var process = Process.Start(StartInfo(folder, arguments, environment, build))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }

        process.StandardInput.Close();
        await WaitAsync(process, timeout ?? TimeSpan.FromMinutes(5));
        return new GovShareRun("govshare " + string.Join(' ', arguments), process.ExitCode, await output, await error);
    }

    /// <summary>
    /// Runs under a pseudo-terminal: <c>script -qfec CMD /dev/null</c> gives the program a terminal
    /// for stdin, stdout and stderr and returns its exit code; everything it drew comes back as one stream.
    /// </summary>
    public static async Task<GovShareRun> RunOnTerminalAsync(string folder, string[] arguments, TimeSpan? timeout = null)
    {
        using var process = Process.Start(TerminalStartInfo(folder, arguments))!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await WaitAsync(process, timeout ?? TimeSpan.FromMinutes(5));
        return new GovShareRun("(terminal) govshare " + string.Join(' ', arguments), process.ExitCode, await output, await error);
    }

    /// <summary>
    /// Starts a long-running command (<c>sync --every</c>) redirected, for a test to follow what it
    /// prints, change its source between rounds and stop it with a signal.
    /// </summary>
    public static GovShareSession Start(string folder, string[] arguments, IDictionary<string, string>? environment = null) =>
        new(Process.Start(StartInfo(folder, arguments, environment, null))!, "govshare " + string.Join(' ', arguments), terminal: false);

    /// <summary>
    /// Starts a long-running command on a pseudo-terminal: its standard input stays open, so
    /// <see cref="GovShareSession.CtrlCAsync"/> types Ctrl+C as a person does (the terminal sends SIGINT).
    /// </summary>
    public static GovShareSession StartOnTerminal(string folder, string[] arguments, IDictionary<string, string>? environment = null)
    {
        var start = TerminalStartInfo(folder, arguments);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return new(Process.Start(start)!, "(terminal) govshare " + string.Join(' ', arguments), terminal: true);
    }

    private static ProcessStartInfo StartInfo(string folder, string[] arguments, IDictionary<string, string>? environment, (string Program, string[] Prefix)? build)
    {
        var (program, prefix) = build ?? Program();
        var start = new ProcessStartInfo(program) { WorkingDirectory = folder, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in prefix.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[name] = value;
        }

        return start;
    }

    private static ProcessStartInfo TerminalStartInfo(string folder, string[] arguments)
    {
        var (program, prefix) = Program();
        // `script` runs the line through `$SHELL -c`. Unset (as on CI) that is dash, which stays the
        // terminal's foreground process beside govshare and dies of the Ctrl+C itself, so `script -e`
        // reported 130 whatever govshare did; bash execs a lone command, which hid this locally. `exec`
        // makes govshare the terminal's process under any shell, and SHELL is pinned so every machine
        // runs the same way.
        var line = "exec " + string.Join(' ', new[] { program }.Concat(prefix).Concat(arguments).Select(Quote));
        var start = new ProcessStartInfo("script") { WorkingDirectory = folder, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "-qfec", line, "/dev/null" })
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TERM"] = "xterm";
        start.Environment["SHELL"] = "/bin/sh";
        return start;
    }

    /// <summary>
    /// The <c>govshare</c> run: the build output through <c>dotnet</c>, or, with GOVSHARE_DEPARTMENT_TOOL
    /// set to a native executable, the department tool as departments get it (Native AOT publish of
    /// node/GovShare.DepartmentTool; tests/department-tool.sh runs the department journeys through it).
    /// </summary>
    public static (string Program, string[] Prefix) Program() =>
        Environment.GetEnvironmentVariable("GOVSHARE_DEPARTMENT_TOOL") is { Length: > 0 } tool ? (tool, []) : ("dotnet", [Loopback.GovShareDll()]);

    /// <summary>A department's working folder with its govshare.department.json, as the README sets one up.</summary>
    public static string DepartmentFolder(string parent, string name, Uri node, TestDepartment department, string trustAnchors, string purpose = "P-2024-001")
    {
        var folder = Directory.CreateDirectory(Path.Combine(parent, name)).FullName;
        File.WriteAllText(Path.Combine(folder, "govshare.department.json"), $$"""
            { "node": "{{node}}", "certificate": "{{department.Files.CertificatePath}}",
              "key": "{{department.Files.KeyPath}}", "ca": "{{trustAnchors}}", "purpose": "{{purpose}}" }
            """);
        return folder;
    }

    internal static async Task WaitAsync(Process process, TimeSpan timeout)
    {
        using var limit = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"govshare did not finish within {timeout.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s");
        }
    }

    internal static string Quote(string argument) => "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
