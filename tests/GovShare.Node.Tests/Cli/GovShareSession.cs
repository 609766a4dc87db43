using System.Diagnostics;
using System.Globalization;
using System.Text;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// A <c>govshare</c> process that keeps running (<c>sync --every</c>): what it has printed so far,
/// waiting for a line, and stopping it as a person or a service manager does — Ctrl+C typed on its
/// terminal, SIGINT or SIGTERM sent to it.
/// </summary>
public sealed class GovShareSession : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _command;
    private readonly bool _terminal;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _reading;

    internal GovShareSession(Process process, string command, bool terminal)
    {
        _process = process;
        _command = command;
        _terminal = terminal;
        _reading = Task.WhenAll(CopyAsync(process.StandardOutput, _stdout), CopyAsync(process.StandardError, _stderr));
    }

    /// <summary>Standard output so far (on a terminal: everything drawn on it).</summary>
    public string Stdout
    {
        get
        {
            lock (_stdout)
            {
                return _stdout.ToString();
            }
        }
    }

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    /// <summary>
    /// Waits until standard output holds <paramref name="text"/> <paramref name="times"/> times; fails
    /// with all it printed if the process ends first or nothing comes within five minutes (a hang guard
    /// for a loaded machine, not a timed assertion).
    /// </summary>
    public async Task WaitForAsync(string text, int times = 1)
    {
        var clock = Stopwatch.StartNew();
        while (Count(Stdout, text) < times)
        {
            Assert.False(_process.HasExited && Count(Stdout, text) < times, $"{_command} ended before printing '{text}' {times} time(s): exit {(_process.HasExited ? _process.ExitCode : 0)}\n{Stdout}\n{Stderr}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(5), $"{_command} did not print '{text}' {times} time(s):\n{Stdout}\n{Stderr}");
            await Task.Delay(100);
        }
    }

    /// <summary>Types Ctrl+C on the session's terminal: the terminal sends SIGINT to the program.</summary>
    public async Task CtrlCAsync()
    {
        Assert.True(_terminal, "Ctrl+C is typed on a terminal; send SIGINT to a redirected process.");
        Loopback.AssertSigIntDelivered();
        await _process.StandardInput.WriteAsync('\u0003');
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Sends a signal (<c>INT</c>, <c>TERM</c>) to the govshare process itself (on a terminal: the program <c>script</c> runs).</summary>
    public async Task SignalAsync(string signal)
    {
        if (signal == "INT")
        {
            Loopback.AssertSigIntDelivered();
        }

        var pid = _terminal ? Child(_process.Id) : _process.Id;
        using var kill = Process.Start("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Waits for the process to end (at most five minutes) and returns what it printed and its exit code.</summary>
    public async Task<GovShareRun> ExitAsync()
    {
        await GovShareProcess.WaitAsync(_process, TimeSpan.FromMinutes(5));
        await _reading;
        return new GovShareRun(_command, _process.ExitCode, Stdout, Stderr);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static int Count(string text, string part)
    {
        var count = 0;
        for (var at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + part.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>The program <c>script</c> runs, from /proc: its one child (the line it runs execs govshare).</summary>
    private static int Child(int parent)
    {
        var child = int.Parse(Assert.Single(File.ReadAllText($"/proc/{parent}/task/{parent}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries)), CultureInfo.InvariantCulture);
        Assert.False(File.ReadAllText($"/proc/{child}/comm").Trim() is "sh" or "bash" or "dash", "script's child is a shell: the line it runs must exec govshare");
        return child;
    }

    private static async Task CopyAsync(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (into)
            {
                into.Append(buffer, 0, read);
            }
        }
    }
}
