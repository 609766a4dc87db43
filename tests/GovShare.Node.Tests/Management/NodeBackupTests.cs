using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Logs;
using GovShare.Node.Management;
using GovShare.Node.Tests.Cli;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Management;

/// <summary>
/// <c>govshare node backup</c> and <c>node restore</c> as an operator runs them: a backup taken from a
/// node process while departments push and pull, restored into a new folder, a node started on it.
/// The restored logs are the source's records byte for byte up to the backup's heads, then a signed
/// restore record; the data is there; a tampered backup is refused.
/// </summary>
public sealed class NodeBackupTests : IDisposable
{
    private const int RowsPerPush = 50;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task BackupUnderLoad_RestoredIntoANewFolder_ServesTheDataAndEveryChainContinuesWithARestoreRecord()
    {
        var settings = Settings(TestNode.DefaultSettings(_pki, "530100"));
        var source = settings["Node:DataPath"]!;
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var tar = Path.Combine(_pki.Root, "backups", "530100.tar");
        var folder = Path.Combine(_pki.Root, "backups", "530100-folder");
        var sealedTar = Path.Combine(_pki.Root, "backups", "530100.tar.gsbk");
        var keyFile = Path.Combine(_pki.Root, "backup.key");
        int pushedBefore, pushedAfter;

        await using (var node = await NodeProcess.StartAsync(settings, ManagementPort(settings)))
        {
            await node.RegisterAsync(source, provider, user);
            var address = new Uri(settings["Node:ExchangeUrl"]!.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/");
            using var providerClient = TestNode.ClientFor(_pki, address, provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(RowsPerPush));
            Assert.Equal(HttpStatusCode.OK, (await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(body))).StatusCode);

            var pushes = 0;
            using var stop = new CancellationTokenSource();
            async Task Load(HttpClient client, bool push)
            {
                // Bounded: stops when asked, or after 400 exchanges per worker.
                for (var i = 0; i < 400 && !stop.IsCancellationRequested; i++)
                {
                    try
                    {
                        using var response = push
                            ? await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), ExchangeFixture.ArrowContent(body), stop.Token)
                            : await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "backup-test"), stop.Token);
                        await response.Content.ReadAsByteArrayAsync(stop.Token);
                        if (push && response.StatusCode == HttpStatusCode.OK)
                        {
                            Interlocked.Increment(ref pushes);
                        }
                    }
                    catch (OperationCanceledException)
                    {
                        // Stopped.
                    }
                }
            }

            var workers = Enumerable.Range(0, 4).Select(i => Load(i % 2 == 0 ? providerClient : userClient, push: i % 2 == 0)).ToList();
            while (Volatile.Read(ref pushes) < 5)
            {
                await Task.Delay(50);
            }

            pushedBefore = Volatile.Read(ref pushes);
            string[] Operator(params string[] args) => [.. args, "--management", $"http://127.0.0.1:{ManagementPort(settings)}", "--data", source];
            var backup = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", tar));
            Assert.True(backup.ExitCode == ExitCodes.Ok, backup.ToString());
            var toFolder = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", folder));
            Assert.True(toFolder.ExitCode == ExitCodes.Ok, toFolder.ToString());
            Assert.Contains("state at change", toFolder.Stdout, StringComparison.Ordinal);
            await File.WriteAllBytesAsync(keyFile, RandomNumberGenerator.GetBytes(32));
            // The README's form (encrypted), as an operator types it: on a terminal.
            var encrypted = await GovShareProcess.RunOnTerminalAsync(_pki.Root, Operator("node", "backup", "--to", sealedTar, "--key-file", keyFile));
            Assert.True(encrypted.ExitCode == ExitCodes.Ok, encrypted.ToString());
            Assert.Contains("Backup written to", encrypted.Stdout, StringComparison.Ordinal);
            Assert.True(encrypted.ShowsNoInternals, encrypted.ToString());
            var again = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", tar));
            Assert.Equal(ExitCodes.Usage, again.ExitCode);

            await stop.CancelAsync();
            await Task.WhenAll(workers);
            pushedAfter = Volatile.Read(ref pushes);
            Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(source, "backup-work")));
        }

        // Restore into a new folder and start a node on it, as the operator would.
        var restored = Path.Combine(_pki.Root, "restored");
        var restore = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", tar, "--data", restored]);
        Assert.True(restore.ExitCode == ExitCodes.Ok, restore.ToString());
        var marker = JsonSerializer.Deserialize<RestoredFrom>(await File.ReadAllBytesAsync(Path.Combine(restored, LogRestore.MarkerFile)), LogJson.Options)!;

        var restoredSettings = Settings(new Dictionary<string, string?>(settings) { ["Node:DataPath"] = restored });
        await using (var node = await NodeProcess.StartAsync(restoredSettings, ManagementPort(restoredSettings)))
        {
            Assert.False(File.Exists(Path.Combine(restored, LogRestore.MarkerFile)));
            using var certificate = X509CertificateLoader.LoadCertificateFromFile(settings["Node:Certificate"]!);
            using var key = certificate.GetECDsaPublicKey();
            var sourceStore = LogStore.ForDataFolder(source);
            var restoredStore = LogStore.ForDataFolder(restored);
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                var head = marker.Heads[kind];
                var verification = LogVerifier.VerifyStore(restoredStore, kind, key);
                Assert.True(verification.Ok, $"{kind}: {verification.Message}");
                Assert.True(verification.SignaturesChecked || verification.CheckpointsChecked > 0, $"{kind}: no signature was checked");

                // Up to the backup's head, the source's records, byte for byte.
                var expected = sourceStore.ReadEntries(kind, 1, head.Sequence).Select(e => Convert.ToHexString(e.Line.Span)).ToList();
                var actual = restoredStore.ReadEntries(kind, 1, head.Sequence).Select(e => Convert.ToHexString(e.Line.Span)).ToList();
                Assert.Equal(head.Sequence, expected.Count);
                Assert.Equal(expected, actual);

                // Then the restored node says it was restored, naming that head.
                var next = restoredStore.ReadEntries(kind, head.Sequence + 1, head.Sequence + 1).Single();
                Assert.Equal(ExchangeKind.Restore, next.Record!.Kind);
                Assert.Contains($"through record {head.Sequence} ({(head.Sequence == 0 ? "empty" : head.Hash)})", next.Record.Purpose, StringComparison.Ordinal);
            }

            // The data as of the backup: the first push and every push acknowledged before it began, at most all of them.
            var address = new Uri(restoredSettings["Node:ExchangeUrl"]!.Replace("127.0.0.1", "localhost", StringComparison.Ordinal) + "/");
            using var userClient = TestNode.ClientFor(_pki, address, user.Certificate);
            using var pulled = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "after-restore"));
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            var (_, batches) = await ExchangeFixture.ReadAsync(pulled);
            var rows = batches.Sum(b => b.Length);
            Assert.Equal(0, rows % RowsPerPush);
            Assert.InRange(rows, RowsPerPush * (1 + pushedBefore), RowsPerPush * (1 + pushedAfter));
        }

        // A tampered backup is refused, and nothing is left in the target.
        var segment = Directory.GetFiles(Path.Combine(folder, "logs", "exchange"), "segment-*.jsonl").First();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(segment, bytes);
        var target = Path.Combine(_pki.Root, "tampered-target");
        var refused = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", folder, "--data", target]);
        Assert.Equal(ExitCodes.BackupInvalid, refused.ExitCode);
        Assert.Contains("does not match its manifest", refused.Stderr, StringComparison.Ordinal);
        Assert.Contains("logs/exchange/" + Path.GetFileName(segment), refused.Stderr, StringComparison.Ordinal);
        Assert.True(refused.ShowsNoInternals, refused.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(target));

        // A truncated tar is refused too; a non-empty target is never written into.
        var truncated = Path.Combine(_pki.Root, "backups", "truncated.tar");
        var whole = await File.ReadAllBytesAsync(tar);
        await File.WriteAllBytesAsync(truncated, whole.AsSpan(0, whole.Length * 2 / 3).ToArray());
        var cut = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", truncated, "--data", Path.Combine(_pki.Root, "cut-target")]);
        Assert.Equal(ExitCodes.BackupInvalid, cut.ExitCode);
        Assert.True(cut.ShowsNoInternals, cut.ToString());

        // The encrypted backup: restored with its key; refused without it (2), with another key or cut short (7).
        var fromSealed = await GovShareProcess.RunOnTerminalAsync(_pki.Root, ["node", "restore", "--from", sealedTar, "--data", Path.Combine(_pki.Root, "from-sealed"), "--key-file", keyFile]);
        Assert.True(fromSealed.ExitCode == ExitCodes.Ok, fromSealed.ToString());
        Assert.Contains("Restored node", fromSealed.Stdout, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(_pki.Root, "from-sealed", LogRestore.MarkerFile)));
        Assert.Empty(Directory.GetFiles(_pki.Root, "*.partial"));
        var noKey = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", sealedTar, "--data", Path.Combine(_pki.Root, "sealed-no-key")]);
        Assert.Equal(ExitCodes.Usage, noKey.ExitCode);
        Assert.Contains("--key-file", noKey.Stderr, StringComparison.Ordinal);
        var otherKey = Path.Combine(_pki.Root, "other.key");
        await File.WriteAllBytesAsync(otherKey, RandomNumberGenerator.GetBytes(32));
        var wrongKey = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", sealedTar, "--data", Path.Combine(_pki.Root, "sealed-wrong-key"), "--key-file", otherKey]);
        Assert.Equal(ExitCodes.BackupInvalid, wrongKey.ExitCode);
        Assert.True(wrongKey.ShowsNoInternals, wrongKey.ToString());
        var sealedBytes = await File.ReadAllBytesAsync(sealedTar);
        var sealedCut = Path.Combine(_pki.Root, "backups", "cut.tar.gsbk");
        await File.WriteAllBytesAsync(sealedCut, sealedBytes.AsSpan(0, sealedBytes.Length - 1).ToArray());
        var cutSealed = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", sealedCut, "--data", Path.Combine(_pki.Root, "sealed-cut"), "--key-file", keyFile]);
        Assert.Equal(ExitCodes.BackupInvalid, cutSealed.ExitCode);

        var over = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", tar, "--data", source]);
        Assert.Equal(ExitCodes.Usage, over.ExitCode);
        Assert.Contains("not empty", over.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Staging_LinksTheDatasetFilesInsteadOfCopying_AndKeepsThemWhenRetentionRemovesTheOriginal()
    {
        await using var f = await ExchangeFixture.StartAsync();
        Assert.Equal(HttpStatusCode.OK, (await f.PushAsync(ExchangeFixture.Unconditional, 200)).StatusCode);
        var backup = f.Node.Services.GetRequiredService<NodeBackup>();
        var staged = await backup.StageAsync(since: null, CancellationToken.None);
        try
        {
            var live = Directory.GetFiles(Path.Combine(f.Node.DataPath, "datasets"), "*.arrows").Single();
            var copy = Path.Combine(staged, "datasets", Path.GetFileName(live));
            // A hard link: one inode, two names — no second copy of the bulk of the folder on the data volume.
            Assert.Equal("2", await StatAsync("%h", copy));
            Assert.Equal(await StatAsync("%i", live), await StatAsync("%i", copy));
            var bytes = await File.ReadAllBytesAsync(live);

            // Retention removing the version before the backup is streamed does not take it from the backup.
            File.Delete(live);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(copy));
            using var tar = new MemoryStream();
            await NodeBackup.WriteTarAsync(staged, tar, CancellationToken.None);
            Assert.True(tar.Length > bytes.Length);
        }
        finally
        {
            NodeBackup.Discard(staged);
        }

        static async Task<string> StatAsync(string format, string path)
        {
            using var stat = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true })!;
            var output = await stat.StandardOutput.ReadToEndAsync();
            await stat.WaitForExitAsync();
            return output.Trim();
        }
    }

    [Fact]
    public async Task Backup_WithoutTheOperatorToken_IsRefused()
    {
        await using var node = await TestNode.StartAsync(_pki);
        using var anonymous = new HttpClient { BaseAddress = node.ManagementAddress, Timeout = TimeSpan.FromSeconds(60) };
        using var response = await anonymous.GetAsync("v1/operator/backup");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    private static Dictionary<string, string?> Settings(Dictionary<string, string?> settings)
    {
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{Loopback.FreePort()}";
        return settings;
    }

    private static int ManagementPort(Dictionary<string, string?> settings) => new Uri(settings["Node:ManagementUrl"]!).Port;
}
