using System.Diagnostics;
using System.Globalization;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

public sealed class LogCrashTests
{
    /// <summary>The test-only child program, built beside this assembly's project (same configuration).</summary>
    private static string ChildProgram()
    {
        var here = AppContext.BaseDirectory;
        var child = here.Replace(
            Path.Combine("tests", "GovShare.Node.Tests", "bin"),
            Path.Combine("tests", "GovShare.Node.Tests.LogCrash", "bin"),
            StringComparison.Ordinal);
        var path = Path.Combine(child, "GovShare.Node.Tests.LogCrash.dll");
        Assert.True(File.Exists(path), "Build the solution first: " + path);
        return path;
    }

    [Fact]
    public async Task Writer_KilledWithSigkillUnderLoad_EveryAcknowledgedRecordSurvivesAndVerifies()
    {
        using var folder = new LogFolder();
        var keyFile = Path.Combine(Path.GetTempPath(), "govshare-crash-key-" + Guid.NewGuid().ToString("N") + ".pem");
        await File.WriteAllTextAsync(keyFile, folder.Key.ExportPkcs8PrivateKeyPem());
        var acknowledged = new Dictionary<string, long>();
        try
        {
            var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var arg in new[] { ChildProgram(), "stress", folder.Path, keyFile })
            {
                start.ArgumentList.Add(arg);
            }

            using var child = Process.Start(start)!;
            using var killOnFailure = new KillOnDispose(child);
            // Read until enough acknowledgements, then kill mid-stream: appends are in flight.
            while (acknowledged.Count < 3000)
            {
                var line = await child.StandardOutput.ReadLineAsync();
                if (line is null)
                {
                    Assert.Fail("child ended early: " + await child.StandardError.ReadToEndAsync());
                }

                if (line.StartsWith("ack ", StringComparison.Ordinal))
                {
                    var parts = line.Split(' ');
                    acknowledged[parts[2]] = long.Parse(parts[1], CultureInfo.InvariantCulture);
                }
            }

            child.Kill(); // SIGKILL on Unix: no finally blocks, no flush, no closing checkpoint.
            // Acknowledgements already written to the pipe before the kill count too.
            string? rest;
            while ((rest = await child.StandardOutput.ReadLineAsync()) is not null)
            {
                if (rest.StartsWith("ack ", StringComparison.Ordinal) && rest.Split(' ') is [_, var seq, var id])
                {
                    acknowledged[id] = long.Parse(seq, CultureInfo.InvariantCulture);
                }
            }

            await child.WaitForExitAsync();
            Assert.NotEqual(0, child.ExitCode);
        }
        finally
        {
            File.Delete(keyFile);
        }

        // Restart on the same folder: recovery, then one more append continues the chain.
        long next;
        await using (var open = folder.Open())
        {
            next = await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(1));
        }

        var records = folder.Store.ReadEntries(LogKind.Exchange)
            .Where(e => e.Type == LogEntryType.Record)
            .Select(e => (e.Sequence, e.Record!.ExchangeId))
            .ToList();
        var byId = records.GroupBy(r => r.ExchangeId).ToDictionary(g => g.Key, g => g.Select(r => r.Sequence).ToList());
        Assert.All(byId, pair => Assert.Single(pair.Value));
        foreach (var (id, seq) in acknowledged)
        {
            Assert.True(byId.TryGetValue(id, out var stored), $"acknowledged record {id} (seq {seq}) is missing");
            Assert.Equal(seq, stored.Single());
        }

        Assert.Equal(records.Max(r => r.Sequence), next);
        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.True(result.Ok, result.Message);
        Assert.NotEmpty(folder.Store.ArchiveIndex(LogKind.Exchange));
    }

    /// <summary>A failing assertion must not leave the child appending forever.</summary>
    private sealed class KillOnDispose(Process process) : IDisposable
    {
        public void Dispose()
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }
    }
}
