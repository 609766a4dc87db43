using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// README's <c>govshare log verify --data data --log Exchange --certificate node.crt</c>, as written,
/// through the built <c>govshare</c> — redirected and on a pseudo-terminal — in an operator's folder
/// holding a node's data folder (<c>data</c>) and its certificate (<c>node.crt</c>), with the exchange
/// log a <c>govshare node run</c> process wrote while departments pushed and pulled: intact, it prints
/// what it verified and exits 0 (the node running or stopped); with a record edited in its segment
/// file, it names that record and the file and exits 5, as <c>node run</c> would on the same damage.
/// Verifying never changes the data folder.
/// </summary>
public sealed class LogVerifyJourneyTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task Readme_LogVerify_AsWritten_IntactThenTampered_RedirectedAndOnATerminal_LeavesTheDataAsItWas()
    {
        var folder = Directory.CreateDirectory(Path.Combine(_pki.Root, "operator")).FullName;
        var data = Path.Combine(folder, "data");
        var settings = TestNode.DefaultSettings(_pki, "530100", data);
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
        var managementPort = Loopback.FreePort();
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";
        File.Copy(settings["Node:Certificate"]!, Path.Combine(folder, "node.crt"));
        var line = ReadmeCommands.Lines(ReadmeCommands.Read("README.md")).Single(l => l is ["log", "verify", ..]);
        Assert.Equal(["log", "verify", "--data", "data", "--log", "Exchange", "--certificate", "node.crt"], line);

        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        await using (var node = await NodeProcess.StartAsync(settings, managementPort))
        {
            await node.RegisterAsync(data, provider, user);
            var address = new Uri(settings["Node:ExchangeUrl"]!.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/");
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            foreach (var rows in new[] { 200, 300 })
            {
                using var push = await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(rows))));
                Assert.Equal(HttpStatusCode.OK, push.StatusCode);
                using var pull = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"));
                Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
                await pull.Content.ReadAsByteArrayAsync();
            }

            // The option's promise: read only, so it may run beside the node.
            var beside = await GovShareProcess.RunAsync(folder, line);
            Assert.True(beside.ExitCode == ExitCodes.Ok, beside.ToString());
            Assert.Contains("The Exchange log: ", beside.Stdout, StringComparison.Ordinal);
        }

        // Stopped (SIGTERM): its closing checkpoint is signed with the node key node.crt holds.
        var entries = LogStore.ForDataFolder(data).ReadEntries(LogKind.Exchange).Select(e => (e.Sequence, e.Type, Line: Encoding.UTF8.GetString(e.Line.Span))).ToList();
        var last = entries[^1].Sequence;
        Assert.True(entries.Count(e => e.Type == LogEntryType.Record) >= 4, "two pushes and two pulls are exchange-log records");
        var intact = Snapshot(data);

        var redirected = await GovShareProcess.RunAsync(folder, line);
        var onTerminal = await GovShareProcess.RunOnTerminalAsync(folder, line);
        foreach (var run in new[] { redirected, onTerminal })
        {
            Assert.True(run.ExitCode == ExitCodes.Ok && run.ShowsNoInternals, run.ToString());
            Assert.Matches($@"The Exchange log: \d+ records and [1-9]\d* checkpoints from 1 to {last} verify; signatures verified\.", run.Stdout);
        }

        Assert.Equal("", redirected.Stderr);
        Assert.Equal(intact, Snapshot(data));

        // An insider edits who pulled: the user's first pull is put on the provider in the segment file.
        var pulled = entries.First(e => e.Type == LogEntryType.Record && e.Line.Contains(user.CreditCode, StringComparison.Ordinal));
        var segment = LogStore.ForDataFolder(data).Segments(LogKind.Exchange).Select(s => s.Path).Single(p => File.ReadLines(p).Contains(pulled.Line));
        var lines = await File.ReadAllLinesAsync(segment);
        var at = Array.IndexOf(lines, pulled.Line);
        lines[at] = lines[at].Replace(user.CreditCode, provider.CreditCode, StringComparison.Ordinal);
        await File.WriteAllLinesAsync(segment, lines);
        var tampered = Snapshot(data);

        redirected = await GovShareProcess.RunAsync(folder, line);
        onTerminal = await GovShareProcess.RunOnTerminalAsync(folder, line);
        foreach (var (run, said) in new[] { (redirected, redirected.Stderr), (onTerminal, onTerminal.Stdout) })
        {
            Assert.True(run.ExitCode == ExitCodes.LogDamaged && run.ShowsNoInternals, run.ToString());
            Assert.Contains($"The Exchange log: record {pulled.Sequence} does not match its hash: edited.", said, StringComparison.Ordinal);
            Assert.Contains($"{Path.GetFileName(segment)} line {at + 1}", said, StringComparison.Ordinal);
        }

        Assert.Equal("", redirected.Stdout);
        Assert.Equal(tampered, Snapshot(data));
    }

    /// <summary>Every file of the folder by relative path, with its SHA-256: a verify that wrote, repaired or truncated anything changes it.</summary>
    private static SortedDictionary<string, string> Snapshot(string folder) =>
        new(Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f)))), StringComparer.Ordinal);
}
