using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Management;
using GovShare.Node.Tests.Cli;
using GovShare.Node.Tests.Exchange;

namespace GovShare.Node.Tests.Functional;

/// <summary>
/// The key index a push keeps beside its segment, through the node as operators run it: after a
/// SIGTERM and a start, the first merge push takes it without reading the segment; a backup carries
/// neither index files nor their secret, and a node restored from it builds its indexes again.
/// </summary>
public sealed class KeyIndexRestartTests : IDisposable
{
    private const int Rows = 3000;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task MergeAfterSigtermAndStart_UsesTheKeptIndex_ReadsNoSegment_BackupLeavesIndexesOut_RestoredNodeRebuildsThem()
    {
        var settings = Settings(TestNode.DefaultSettings(_pki, "530100"));
        var source = settings["Node:DataPath"]!;
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var backup = Path.Combine(_pki.Root, "backups", "530100-folder");

        await using (var node = await NodeProcess.StartAsync(settings, ManagementPort(settings)))
        {
            await node.RegisterAsync(source, provider, user);
            using var client = Client(settings, provider);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            entry = entry with { Items = [.. entry.Items.Select(i => i.Id == "id_number" ? i with { Key = true } : i)] };
            Assert.Equal(HttpStatusCode.Created, (await client.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(Rows));
            using var pushed = await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(body));
            Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
        }

        // Stopped with SIGTERM (exit 0 asserted on dispose); the segment and its index file stay.
        var datasets = Path.Combine(source, "datasets");
        var segment = Assert.Single(Directory.GetFiles(datasets, "*.arrows"));
        Assert.True(File.Exists(segment + ".keys"));

        await using (var node = await NodeProcess.StartAsync(settings, ManagementPort(settings)))
        {
            using var client = Client(settings, provider);

            // The segment out of the node's reach: a merge that read it (to build its index) would fail.
            File.Move(segment, segment + ".away");
            await MergeAsync(client, replaced: 1, deleted: 1, (ExchangeFixture.IdNumber(2999), "改"), (ExchangeFixture.IdNumber(0), null));
            File.Move(segment + ".away", segment);
            Assert.DoesNotContain(node.Output, l => l.Contains("Built the key index", StringComparison.Ordinal));
            Assert.Equal(Rows - 1, await PulledRowsAsync(settings, user));

            string[] Operator(params string[] args) => [.. args, "--management", $"http://127.0.0.1:{ManagementPort(settings)}", "--data", source];
            var taken = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", backup));
            Assert.True(taken.ExitCode == ExitCodes.Ok, taken.ToString());
        }

        // Derived, node-local: neither the index files nor their secret are in the backup.
        var files = Directory.EnumerateFiles(backup, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(backup, f)).ToList();
        Assert.Contains(files, f => f.StartsWith("datasets/", StringComparison.Ordinal) && f.EndsWith(".arrows", StringComparison.Ordinal));
        Assert.DoesNotContain(files, f => f.EndsWith(".keys", StringComparison.Ordinal) || f.EndsWith("keys.secret", StringComparison.Ordinal));
        var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(backup, BackupManifest.FileName))).RootElement;
        Assert.DoesNotContain(manifest.GetProperty("files").EnumerateArray(), f => f.GetProperty("path").GetString()!.Contains(".keys", StringComparison.Ordinal));

        var restored = Path.Combine(_pki.Root, "restored");
        var restore = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", backup, "--data", restored]);
        Assert.True(restore.ExitCode == ExitCodes.Ok, restore.ToString());
        var restoredSettings = Settings(new Dictionary<string, string?>(settings) { ["Node:DataPath"] = restored });
        await using (var node = await NodeProcess.StartAsync(restoredSettings, ManagementPort(restoredSettings)))
        {
            using var client = Client(restoredSettings, provider);
            await MergeAsync(client, replaced: 1, deleted: 1, (ExchangeFixture.IdNumber(1000), "恢复后"), (ExchangeFixture.IdNumber(1), null));
            Assert.Contains(node.Output, l => l.Contains("Built the key index", StringComparison.Ordinal) && l.Contains("no index file", StringComparison.Ordinal));
            Assert.Equal(Rows - 2, await PulledRowsAsync(restoredSettings, user));
            Assert.Single(Directory.GetFiles(Path.Combine(restored, "datasets"), KeyIndexSecretName()));
        }
    }

    private static string KeyIndexSecretName() => NodeBackup.KeyIndexSecretFile;

    private HttpClient Client(Dictionary<string, string?> settings, TestDepartment department) =>
        TestNode.ClientFor(_pki, new Uri(settings["Node:ExchangeUrl"]!.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/"), department.Certificate);

    private async Task<int> PulledRowsAsync(Dictionary<string, string?> settings, TestDepartment user)
    {
        using var client = Client(settings, user);
        using var pulled = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "key-index-test"));
        Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
        var (_, batches) = await ExchangeFixture.ReadAsync(pulled);
        return batches.Sum(b => b.Length);
    }

    /// <summary>A merge push of upserts (a name) and deletes (null), checked against the receipt's counts.</summary>
    private static async Task MergeAsync(HttpClient client, long replaced, long deleted, params (string Id, string? Name)[] rows)
    {
        var batch = MergePushTests.Batch([.. rows.Select(r => new MergePushTests.MergeRow(r.Id, r.Name, Income: 1, Delete: r.Name is null))]);
        using var response = await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=merge"), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync([batch])));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        var merge = JsonDocument.Parse(text).RootElement.GetProperty("merge");
        Assert.Equal((replaced, deleted), (merge.GetProperty("replaced").GetInt64(), merge.GetProperty("deleted").GetInt64()));
    }

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> settings)
    {
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{Loopback.FreePort()}";
        return settings;
    }

    private static int ManagementPort(Dictionary<string, string?> settings) => new Uri(settings["Node:ManagementUrl"]!).Port;
}
