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

namespace GovShare.Node.Tests.Management;

/// <summary>
/// <c>node backup --since</c>: a chain of a full and two incremental backups of a node process, where dataset
/// files and log archives already backed up are neither copied nor sent again, restored from the chain
/// (<c>node restore --previous</c>) and served. A chain with a missing or tampered earlier backup is refused,
/// and so is a rewritten backup: the manifest is signed with the node's key.
/// </summary>
public sealed class NodeIncrementalBackupTests : IDisposable
{
    private const int RowsPerPush = 20;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task IncrementalBackups_SkipWhatTheChainHolds_RestoreFromTheChain_AndRefuseAMissingOrTamperedOrRewrittenLink()
    {
        var settings = Settings(TestNode.DefaultSettings(_pki, "530100"));
        // Small segments, so closed segments are archived and the archives become part of the chain.
        settings["Logs:SegmentBytes"] = "4096";
        var source = settings["Node:DataPath"]!;
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        var user = _pki.IssueDepartment(name: "Kunming Civil Affairs Bureau");
        var full = Path.Combine(_pki.Root, "backups", "full.tar");
        var first = Path.Combine(_pki.Root, "backups", "first");
        var second = Path.Combine(_pki.Root, "backups", "second.tar");
        string[] Operator(params string[] args) => [.. args, "--management", $"http://127.0.0.1:{ManagementPort(settings)}", "--data", source];
        var pushes = 0;
        await using (var node = await NodeProcess.StartAsync(settings, ManagementPort(settings)))
        {
            await node.RegisterAsync(source, provider, user);
            using var providerClient = TestNode.ClientFor(_pki, Address(settings), provider.Certificate);
            using var userClient = TestNode.ClientFor(_pki, Address(settings), user.Certificate);
            var entry = ExchangeFixture.Entry(ExchangeFixture.Unconditional, provider, new ShareAttributes(ShareType.Unconditional));
            Assert.Equal(HttpStatusCode.Created, (await providerClient.PostAsJsonAsync("v1/catalog", entry, CatalogJson.Options)).StatusCode);
            async Task Exchanges(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    var body = await ExchangeFixture.StreamAsync(ExchangeFixture.People(RowsPerPush));
                    using var push = await providerClient.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional, "mode=append"), ExchangeFixture.ArrowContent(body));
                    Assert.Equal(HttpStatusCode.OK, push.StatusCode);
                    pushes++;
                    using var pull = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "incremental-test"));
                    Assert.Equal(HttpStatusCode.OK, pull.StatusCode);
                    await pull.Content.ReadAsByteArrayAsync();
                }
            }

            await Exchanges(10);
            var taken = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", full));
            Assert.True(taken.ExitCode == ExitCodes.Ok, taken.ToString());

            await Exchanges(3);
            taken = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", first, "--since", full));
            Assert.True(taken.ExitCode == ExitCodes.Ok, taken.ToString());
            Assert.Contains("kept in earlier backups", taken.Stdout, StringComparison.Ordinal);

            await Exchanges(3);
            taken = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", second, "--since", first));
            Assert.True(taken.ExitCode == ExitCodes.Ok, taken.ToString());

            // --since of something that is not a backup: refused before anything is asked of the node.
            var notABackup = await GovShareProcess.RunAsync(_pki.Root, Operator("node", "backup", "--to", Path.Combine(_pki.Root, "backups", "x.tar"), "--since", Path.Combine(_pki.Root, "nowhere")));
            Assert.Equal(ExitCodes.Usage, notABackup.ExitCode);
        }

        var fullManifest = NodeRestore.ReadSignedBackup(full).Manifest;
        var firstManifest = NodeRestore.ReadSignedBackup(first).Manifest;
        var secondManifest = NodeRestore.ReadSignedBackup(second).Manifest;
        Assert.Null(fullManifest.Since);
        Assert.Equal(fullManifest.Id, firstManifest.Since);
        Assert.Equal(firstManifest.Id, secondManifest.Since);

        // What the full backup holds is not in the first incremental one: only listed, naming the full backup.
        var fromFull = firstManifest.Files.Where(f => f.From == fullManifest.Id).ToList();
        Assert.Contains(fromFull, f => f.Path.StartsWith("datasets/", StringComparison.Ordinal));
        Assert.Contains(fromFull, f => f.Path.Contains("/archive/", StringComparison.Ordinal));
        Assert.All(fromFull, f => Assert.False(File.Exists(Path.Combine(first, f.Path)), f.Path));
        Assert.All(fromFull, f => Assert.Contains(fullManifest.Files, g => g.Path == f.Path && g.Sha256 == f.Sha256 && g.From is null));
        // The mutable parts are copied again every time; the new dataset files are in it.
        Assert.DoesNotContain(firstManifest.Files, f => f.From is not null && !BackupManifest.IsImmutable(f.Path));
        Assert.Contains(firstManifest.Files, f => f.From is null && f.Path.StartsWith("datasets/", StringComparison.Ordinal));
        // The second names the backup that actually holds each file: the full one for the oldest, the first for the next.
        Assert.All(fromFull, f => Assert.Equal(fullManifest.Id, secondManifest.Files.Single(g => g.Path == f.Path).From));
        Assert.Contains(secondManifest.Files, f => f.From == firstManifest.Id);

        // Restored from the chain, and served: every push is there.
        var restored = Path.Combine(_pki.Root, "restored");
        var restore = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", second, "--previous", first, "--previous", full, "--data", restored, "--node-certificate", settings["Node:Certificate"]!]);
        Assert.True(restore.ExitCode == ExitCodes.Ok, restore.ToString());
        Assert.Contains("verified with the given node certificate", restore.Stdout, StringComparison.Ordinal);
        var restoredSettings = Settings(new Dictionary<string, string?>(settings) { ["Node:DataPath"] = restored });
        await using (var node = await NodeProcess.StartAsync(restoredSettings, ManagementPort(restoredSettings)))
        {
            using var certificate = X509CertificateLoader.LoadCertificateFromFile(settings["Node:Certificate"]!);
            using var key = certificate.GetECDsaPublicKey();
            foreach (var kind in Enum.GetValues<LogKind>())
            {
                var verification = LogVerifier.VerifyStore(LogStore.ForDataFolder(restored), kind, key);
                Assert.True(verification.Ok, $"{kind}: {verification.Message}");
            }

            using var userClient = TestNode.ClientFor(_pki, Address(restoredSettings), user.Certificate);
            using var pulled = await userClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "after-restore"));
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            var (_, batches) = await ExchangeFixture.ReadAsync(pulled);
            Assert.Equal(RowsPerPush * pushes, batches.Sum(b => b.Length));
        }

        // The full backup missing from the chain: refused, naming it; nothing left in the target.
        var missing = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", second, "--previous", first, "--data", Path.Combine(_pki.Root, "missing")]);
        Assert.Equal(ExitCodes.BackupInvalid, missing.ExitCode);
        Assert.Contains($"kept in the earlier backup {fullManifest.Id}, which was not given", missing.Stderr, StringComparison.Ordinal);
        Assert.True(missing.ShowsNoInternals, missing.ToString());
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_pki.Root, "missing")));

        // A file of the earlier backup changed: refused, naming the file and the backup it came from.
        var held = secondManifest.Files.First(f => f.From == firstManifest.Id);
        var heldPath = Path.Combine(first, held.Path);
        var bytes = await File.ReadAllBytesAsync(heldPath);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(heldPath, bytes);
        var tampered = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", second, "--previous", first, "--previous", full, "--data", Path.Combine(_pki.Root, "tampered")]);
        Assert.Equal(ExitCodes.BackupInvalid, tampered.ExitCode);
        Assert.Contains($"{held.Path} differs from the manifest", tampered.Stderr, StringComparison.Ordinal);
        Assert.Contains($"taken from the earlier backup {firstManifest.Id}", tampered.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_pki.Root, "tampered")));

        // A rewritten backup: a file changed and the manifest changed to match. The signature no longer verifies.
        var rewritten = Path.Combine(_pki.Root, "backups", "rewritten");
        Directory.CreateDirectory(rewritten);
        System.Formats.Tar.TarFile.ExtractToDirectory(full, rewritten, overwriteFiles: false);
        var state = fullManifest.Files.First(f => f.Path.StartsWith("datasets/", StringComparison.Ordinal));
        var content = await File.ReadAllBytesAsync(Path.Combine(rewritten, state.Path));
        content[^1] ^= 0x01;
        await File.WriteAllBytesAsync(Path.Combine(rewritten, state.Path), content);
        var forged = fullManifest with
        {
            Files = [.. fullManifest.Files.Select(f => f.Path == state.Path ? f with { Sha256 = Convert.ToHexStringLower(SHA256.HashData(content)) } : f)],
        };
        var forgedBytes = JsonSerializer.SerializeToUtf8Bytes(forged, LogJson.Options);
        await File.WriteAllBytesAsync(Path.Combine(rewritten, BackupManifest.FileName), forgedBytes);
        var unsigned = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", rewritten, "--data", Path.Combine(_pki.Root, "rewritten-target")]);
        Assert.Equal(ExitCodes.BackupInvalid, unsigned.ExitCode);
        Assert.Contains("does not verify with the signature", unsigned.Stderr, StringComparison.Ordinal);

        // Re-signed with another key: refused by the node's certificate at restore, and by the node's own key at its first start.
        using (var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        using (var attackerCertificate = new CertificateRequest("CN=not-the-node", attacker, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1)))
        {
            await File.WriteAllBytesAsync(Path.Combine(rewritten, BackupSignature.FileName), JsonSerializer.SerializeToUtf8Bytes(BackupSignature.Sign(forgedBytes, attackerCertificate), LogJson.Options));
        }

        var withCertificate = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", rewritten, "--data", Path.Combine(_pki.Root, "rewritten-target"), "--node-certificate", settings["Node:Certificate"]!]);
        Assert.Equal(ExitCodes.BackupInvalid, withCertificate.ExitCode);
        Assert.Contains("is not signed by the certificate given", withCertificate.Stderr, StringComparison.Ordinal);
        var resigned = Path.Combine(_pki.Root, "resigned-target");
        var accepted = await GovShareProcess.RunAsync(_pki.Root, ["node", "restore", "--from", rewritten, "--data", resigned]);
        Assert.True(accepted.ExitCode == ExitCodes.Ok, accepted.ToString());
        var before = Directory.EnumerateFiles(Path.Combine(resigned, "logs"), "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        var resignedSettings = Settings(new Dictionary<string, string?>(settings) { ["Node:DataPath"] = resigned });
        await using (var refused = NodeProcess.Launch(resignedSettings, ManagementPort(resignedSettings)))
        {
            Assert.True(await refused.WaitForExitAsync(TimeSpan.FromMinutes(3)), "the node did not stop");
            var output = string.Join('\n', refused.Output);
            Assert.True(refused.Process.ExitCode == ExitCodes.RestoreRefused, $"exit {refused.Process.ExitCode}:\n{output}");
            Assert.Contains("not with this node's key", output, StringComparison.Ordinal);
        }

        Assert.All(before, file => Assert.Equal(file.Value, File.ReadAllBytes(file.Key)));
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
