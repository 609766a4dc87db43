using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Confluent.Kafka;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Cli;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using GovShare.Node.Tests.Logs;

namespace GovShare.Node.Tests.Management;

/// <summary>
/// A node restored to an earlier point never writes over its own history. Node processes ship their logs
/// to librdkafka's mock cluster (real wire protocol); a backup is taken, more exchanges are shipped, the
/// backup is restored into a new folder and a node started on it. It takes back from Kafka what it shipped
/// after the backup, verified, before it serves; the restore record follows what Kafka holds, so Kafka and
/// the local log agree record by record. A Kafka copy that does not continue the restored chain stops the
/// start with nothing appended; without Kafka the restore record follows the backup's head.
/// </summary>
public sealed class NodeRestoreKafkaTests : IDisposable
{
    private const string Division = "530100";
    private const string Later = "101001/000002";
    private readonly TestPki _pki = new();
    private readonly KafkaMockCluster _kafka = new();

    public NodeRestoreKafkaTests()
    {
        foreach (var log in Enum.GetValues<LogKind>())
        {
            _kafka.CreateTopic(KafkaOptions.Topic(Division, log), partitions: 3, replicationFactor: 3);
        }
    }

    public void Dispose()
    {
        _kafka.Dispose();
        _pki.Dispose();
    }

    [Fact]
    public async Task RestoredNode_TakesBackFromKafkaWhatItShippedAfterTheBackup_AndKafkaAndTheLogAgreeRecordByRecord()
    {
        var (settings, provider, user) = await SourceWithBackupAsync(async (providerClient, userClient, providerDepartment) =>
        {
            // After the backup: more exchanges, and a catalog entry (a change-log record the restored state must replay).
            for (var i = 0; i < 3; i++)
            {
                await PushAsync(providerClient);
                await PullAsync(userClient, "after-backup");
            }

            var entry = ExchangeFixture.Entry(Later, providerDepartment, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            using var query = await userClient.GetAsync("v1/catalog");
            Assert.Equal(HttpStatusCode.OK, query.StatusCode);
        });
        var source = settings["Node:DataPath"]!;
        var sourceStore = LogStore.ForDataFolder(source);
        var restored = Path.Combine(_pki.Root, "restored");
        var restore = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", BackupTar, "--data", restored]);
        Assert.True(restore.ExitCode == ExitCodes.Ok, restore.ToString());
        var marker = JsonSerializer.Deserialize<RestoredFrom>(await File.ReadAllBytesAsync(Path.Combine(restored, LogRestore.MarkerFile)), LogJson.Options)!;

        // What the source shipped: all of it, its closing checkpoints included (the source stopped cleanly).
        var shipped = new Dictionary<LogKind, long>();
        foreach (var kind in Enum.GetValues<LogKind>())
        {
            var last = sourceStore.ReadEntries(kind).Last().Sequence;
            shipped[kind] = await WaitForKafkaAsync(kind, last);
            Assert.Equal(last, shipped[kind]);
            Assert.True(last > marker.Heads[kind].Sequence, $"{kind}: the source wrote nothing after the backup");
        }

        var restoredSettings = Settings(new Dictionary<string, string?>(settings) { ["Node:DataPath"] = restored });
        await using (var node = await NodeProcess.StartAsync(restoredSettings, ManagementPort(restoredSettings)))
        {
            Assert.False(File.Exists(Path.Combine(restored, LogRestore.MarkerFile)));
            using var key = NodeKey(settings);
            var restoredStore = LogStore.ForDataFolder(restored);
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                var verification = LogVerifier.VerifyStore(restoredStore, kind, key);
                Assert.True(verification.Ok, $"{kind}: {verification.Message}");

                // The source's chain byte for byte — the backup's part and what was taken back from Kafka — then the restore record.
                var expected = sourceStore.ReadEntries(kind).Select(e => Convert.ToHexString(e.Line.Span)).ToList();
                var actual = restoredStore.ReadEntries(kind, 1, shipped[kind]).Select(e => Convert.ToHexString(e.Line.Span)).ToList();
                Assert.Equal(expected, actual);
                var next = restoredStore.ReadEntries(kind, shipped[kind] + 1, shipped[kind] + 1).Single();
                Assert.Equal(ExchangeKind.Restore, next.Record!.Kind);
                Assert.Contains($"through record {marker.Heads[kind].Sequence} ", next.Record.Purpose, StringComparison.Ordinal);
                Assert.Contains($"records {marker.Heads[kind].Sequence + 1} to {shipped[kind]} were taken back from Kafka", next.Record.Purpose, StringComparison.Ordinal);
            }

            // The change log taken back was replayed: the entry created after the backup is in the restored catalog.
            var address = Address(restoredSettings);
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using (var later = await providerClient.GetAsync($"v1/catalog/{ResourceCode.ToUrl(Later)}"))
            {
                Assert.Equal(HttpStatusCode.OK, later.StatusCode);
            }

            // It serves, and logs on from there.
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            await PullAsync(userClient, "after-restore");

            // The restored node's own records reach Kafka after the ones it took back: one chain, no sequence twice.
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                var local = restoredStore.ReadEntries(kind).ToList();
                await WaitForKafkaAsync(kind, local[^1].Sequence);
                var copy = KafkaLogReader.ReadTopic(_kafka.BootstrapServers, KafkaOptions.Topic(Division, kind), TimeSpan.FromSeconds(60));
                var verification = LogVerifier.VerifyCopy(copy.Entries, kind, Division, key);
                Assert.True(verification.Ok, $"{kind} in Kafka: {verification.Message}");
                var inKafka = copy.Entries.GroupBy(e => e.Sequence).ToDictionary(g => g.Key, g => g.Select(e => Convert.ToHexString(e.Line.Span)).Distinct().ToList());
                foreach (var entry in local)
                {
                    Assert.True(inKafka.TryGetValue(entry.Sequence, out var copies), $"{kind} record {entry.Sequence} is not in Kafka");
                    Assert.Equal([Convert.ToHexString(entry.Line.Span)], copies);
                }
            }
        }
    }

    [Fact]
    public async Task KafkaCopyThatDoesNotContinueTheRestoredChain_IsRefused_NothingAppended_AndWithoutKafkaTheRestoreRecordFollowsTheHead()
    {
        var (settings, _, _) = await SourceWithBackupAsync(async (_, userClient, _) => await PullAsync(userClient, "after-backup"));
        var restored = Path.Combine(_pki.Root, "restored");
        var restore = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", BackupTar, "--data", restored]);
        Assert.True(restore.ExitCode == ExitCodes.Ok, restore.ToString());
        var marker = JsonSerializer.Deserialize<RestoredFrom>(await File.ReadAllBytesAsync(Path.Combine(restored, LogRestore.MarkerFile)), LogJson.Options)!;
        var head = marker.Heads[LogKind.Exchange];
        await WaitForKafkaAsync(LogKind.Exchange, head.Sequence + 1);

        // A fork: another record at the sequence after the head, with a valid hash and link (as a second node
        // restored from the same backup would ship). Kafka now holds two different records there.
        var forged = LogEntry.Create(LogKind.Exchange, Division, head.Sequence + 1, LogEntryType.Record, head.Hash,
            LogJson.Serialize(new LogRecord { ExchangeId = "forged", Caller = "govshare:node/" + Division, Kind = ExchangeKind.Pull, Status = 200, ResourceCode = ExchangeFixture.Unconditional, Purpose = "forged" }));
        using (var producer = new ProducerBuilder<string?, byte[]>(new ProducerConfig { BootstrapServers = _kafka.BootstrapServers }).Build())
        {
            await producer.ProduceAsync(KafkaOptions.Topic(Division, LogKind.Exchange), new Message<string?, byte[]> { Key = ExchangeFixture.Unconditional, Value = entry(forged) });
        }

        var before = LogFiles(restored);
        var restoredSettings = Settings(new Dictionary<string, string?>(settings) { ["Node:DataPath"] = restored });
        await using (var refused = NodeProcess.Launch(restoredSettings, ManagementPort(restoredSettings)))
        {
            Assert.True(await refused.WaitForExitAsync(TimeSpan.FromMinutes(3)), "the restored node did not stop");
            var output = string.Join('\n', refused.Output);
            Assert.True(refused.Process.ExitCode == ExitCodes.RestoreRefused, $"exit {refused.Process.ExitCode}:\n{output}");
            Assert.Contains($"The restored exchange log does not continue into its Kafka copy ({KafkaOptions.Topic(Division, LogKind.Exchange)}) after record {head.Sequence}", output, StringComparison.Ordinal);
            Assert.Contains($"Sequence {head.Sequence + 1} of the Exchange log of node {Division} appears twice with different content", output, StringComparison.Ordinal);
            Assert.Contains("Nothing was appended", output, StringComparison.Ordinal);
        }

        // Nothing appended to any log, the marker kept for the next start.
        Assert.Equal(before, LogFiles(restored));
        Assert.True(File.Exists(Path.Combine(restored, LogRestore.MarkerFile)));

        // The operator's way out, as the message says: a start without Kafka. The restore record then follows the head and says so.
        var withoutKafka = new Dictionary<string, string?>(restoredSettings);
        withoutKafka.Remove("Kafka:BootstrapServers");
        withoutKafka.Remove("Kafka:MessageTimeoutMs");
        await using (var node = await NodeProcess.StartAsync(withoutKafka, ManagementPort(withoutKafka)))
        {
            using var key = NodeKey(settings);
            var store = LogStore.ForDataFolder(restored);
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                var verification = LogVerifier.VerifyStore(store, kind, key);
                Assert.True(verification.Ok, $"{kind}: {verification.Message}");
                var next = store.ReadEntries(kind, marker.Heads[kind].Sequence + 1, marker.Heads[kind].Sequence + 1).Single();
                Assert.Equal(ExchangeKind.Restore, next.Record!.Kind);
                Assert.Contains("Kafka is not configured, so nothing after that was taken back", next.Record.Purpose, StringComparison.Ordinal);
            }
        }

        static byte[] entry(LogEntry e) => e.Line.ToArray();
    }

    private string BackupTar => Path.Combine(_pki.Root, "backups", "530100.tar");

    /// <summary>A source node shipping to Kafka: a push and pulls, a backup, then <paramref name="after"/>; stopped once Kafka holds everything.</summary>
    private async Task<(Dictionary<string, string?> Settings, TestDepartment Provider, TestDepartment User)> SourceWithBackupAsync(Func<HttpClient, HttpClient, TestDepartment, Task> after)
    {
        var settings = Settings(TestNode.DefaultSettings(_pki, Division));
        settings["Kafka:BootstrapServers"] = _kafka.BootstrapServers;
        settings["Kafka:MessageTimeoutMs"] = "3000";
        var source = settings["Node:DataPath"]!;
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        await using (var node = await NodeProcess.StartAsync(settings, ManagementPort(settings)))
        {
            await node.RegisterAsync(source, provider, user);
            var address = Address(settings);
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            await PushAsync(providerClient);
            for (var i = 0; i < 5; i++)
            {
                await PullAsync(userClient, "before-backup");
            }

            var backup = await GovShareProcess.RunAsync(_pki.Root, ["node", "backup", "--to", BackupTar, "--management", $"http://127.0.0.1:{ManagementPort(settings)}", "--data", source]);
            Assert.True(backup.ExitCode == ExitCodes.Ok, backup.ToString());
            await after(providerClient, userClient, provider);

            // Everything durable so far is in Kafka before the stop; the stop ships the closing checkpoints.
            var store = LogStore.ForDataFolder(source);
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                await WaitForKafkaAsync(kind, store.ReadEntries(kind).Select(e => e.Sequence).DefaultIfEmpty(0).Max());
            }
        }

        return (settings, provider, user);
    }

    /// <summary>Waits until the topic holds the log through <paramref name="sequence"/>; returns the last sequence it holds.</summary>
    private async Task<long> WaitForKafkaAsync(LogKind log, long sequence)
    {
        long last = 0;
        for (var attempt = 0; attempt < 240; attempt++)
        {
            var copy = KafkaLogReader.ReadTopic(_kafka.BootstrapServers, KafkaOptions.Topic(Division, log), TimeSpan.FromSeconds(60));
            last = copy.Entries.Select(e => e.Sequence).DefaultIfEmpty(0).Max();
            if (last >= sequence)
            {
                return last;
            }

            await Task.Delay(250);
        }

        Assert.Fail($"The {log} topic holds records through {last}, not through {sequence}.");
        return last;
    }

    private static async Task PushAsync(HttpClient provider)
    {
        var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(20));
        using var response = await provider.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), ExchangeFixture.ArrowContent(body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static async Task PullAsync(HttpClient user, string purpose)
    {
        using var response = await user.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, purpose));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await response.Content.ReadAsByteArrayAsync();
    }

    private static Dictionary<string, string> LogFiles(string data) =>
        Directory.EnumerateFiles(Path.Combine(data, "logs"), "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(data, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private static ECDsa NodeKey(Dictionary<string, string?> settings)
    {
        using var certificate = X509CertificateLoader.LoadCertificateFromFile(settings["Node:Certificate"]!);
        return certificate.GetECDsaPublicKey()!;
    }

    private static Uri Address(Dictionary<string, string?> settings) =>
        new(settings["Node:ExchangeUrl"]!.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/");

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> settings)
    {
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{Loopback.FreePort()}";
        return settings;
    }

    private static int ManagementPort(Dictionary<string, string?> settings) => new Uri(settings["Node:ManagementUrl"]!).Port;
}
