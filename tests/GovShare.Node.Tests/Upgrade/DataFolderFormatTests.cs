using System.Net;
using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Deploy;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Upgrade;

/// <summary>
/// Upgrades across releases: a data folder written by a release (checked in under
/// <c>Upgrade/Fixtures/format-N</c>) is opened by this build — migrated, its chains intact, its
/// catalog, departments and dataset served — and a folder of a newer format is refused, naming both versions.
/// </summary>
public sealed class DataFolderFormatTests : IDisposable
{
    /// <summary>Set to a folder to write a new fixture from this build (see Fixtures/README.md).</summary>
    private const string WriteFixtureVariable = "GOVSHARE_WRITE_DATA_FOLDER_FIXTURE";

    private const int FixtureRows = 20;

    private readonly string _temp = Path.Combine(Path.GetTempPath(), "govshare-tests", $"format-{Guid.NewGuid():N}");

    public DataFolderFormatTests() => Directory.CreateDirectory(_temp);

    public void Dispose()
    {
        try
        {
            Directory.Delete(_temp, recursive: true);
        }
        catch (IOException)
        {
            // Left for the OS to clean.
        }
    }

    public static TheoryData<int> Fixtures() => [.. Enumerable.Range(1, DataFolderFormat.Current).Where(v => Directory.Exists(FixtureFolder(v)))];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public async Task FixtureOfAnEarlierRelease_OpensMigratedAndServesWhatItHeld(int version)
    {
        var data = CopyFixture(version);
        using var pki = new TestPki();
        await using var node = await StartOn(pki, data);

        Assert.Equal(DataFolderFormat.Current.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(data, DataFolderFormat.FileName)).Trim());
        Assert.Equal(version, node.Services.GetRequiredService<NodeDataFolder>().FormatFound);
        await AssertServesFixture(node, data);
    }

    [Fact]
    public async Task FolderWithoutVersionFile_IsTheFirstFormat_AndGetsItsFile()
    {
        // Releases before the version file wrote folders like fixture 1 without it.
        var data = CopyFixture(1);
        File.Delete(Path.Combine(data, DataFolderFormat.FileName));
        using var pki = new TestPki();
        await using var node = await StartOn(pki, data);

        Assert.Equal(DataFolderFormat.Unversioned, node.Services.GetRequiredService<NodeDataFolder>().FormatFound);
        Assert.Equal(DataFolderFormat.Current.ToString(System.Globalization.CultureInfo.InvariantCulture), File.ReadAllText(Path.Combine(data, DataFolderFormat.FileName)).Trim());
        await AssertServesFixture(node, data);
    }

    [Fact]
    public void NewerFolder_IsRefusedNamingBothVersions_AndLeftUntouched()
    {
        var data = CopyFixture(1);
        var newer = DataFolderFormat.Current + 1;
        File.WriteAllText(Path.Combine(data, DataFolderFormat.FileName), $"{newer}\n");
        var before = Snapshot(data);
        using var pki = new TestPki();

        var refused = Assert.Throws<DataFolderFormatException>(() => GovShareNodeOn(pki, data));

        Assert.Contains($"format version {newer}", refused.Message, StringComparison.Ordinal);
        Assert.Contains($"up to {DataFolderFormat.Current}", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot(data));
        // The lock was released: the folder opens again once the right build runs (here: after the file is put back).
        File.WriteAllText(Path.Combine(data, DataFolderFormat.FileName), "1\n");
        NodeDataFolder.Open(data).Dispose();
    }

    [Fact]
    public async Task NewerFolder_NodeRunExitsWithCode6AndTheMessage()
    {
        var data = CopyFixture(1);
        File.WriteAllText(Path.Combine(data, DataFolderFormat.FileName), $"{DataFolderFormat.Current + 1}\n");
        using var pki = new TestPki();
        var settings = TestNode.DefaultSettings(pki, "530100", data);
        var managementPort = Loopback.FreePort();
        settings["Node:ExchangeUrl"] = $"https://127.0.0.1:{Loopback.FreePort()}";
        settings["Node:ManagementUrl"] = $"http://127.0.0.1:{managementPort}";

        await using var node = NodeProcess.Launch(settings, managementPort);
        Assert.True(await node.WaitForExitAsync(NodeProcess.StopPatience), "node run kept running on a newer folder");
        Assert.Equal(6, node.Process.ExitCode);
        Assert.Contains(node.Output, line => line.Contains($"format version {DataFolderFormat.Current + 1}", StringComparison.Ordinal) && line.Contains($"up to {DataFolderFormat.Current}", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("two")]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("")]
    public void UnreadableVersionFile_IsRefused(string content)
    {
        var data = CopyFixture(1);
        File.WriteAllText(Path.Combine(data, DataFolderFormat.FileName), content);

        var refused = Assert.Throws<DataFolderFormatException>(() => NodeDataFolder.Open(data));
        Assert.Contains("does not hold a format version", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Migrations_RunInOrderFromTheFoldersVersion_AndRecordEachStep()
    {
        var folder = Path.Combine(_temp, "steps");
        Directory.CreateDirectory(Path.Combine(folder, "logs"));
        File.WriteAllText(Path.Combine(folder, DataFolderFormat.FileName), "2\n");
        var ran = new List<string>();
        var steps = new[]
        {
            new DataFolderMigration(1, "one to two", _ => ran.Add("1->2")),
            new DataFolderMigration(2, "two to three", f => { ran.Add("2->3"); Assert.Equal("2", File.ReadAllText(Path.Combine(f, DataFolderFormat.FileName)).Trim()); }),
            new DataFolderMigration(3, "three to four", f => { ran.Add("3->4"); Assert.Equal("3", File.ReadAllText(Path.Combine(f, DataFolderFormat.FileName)).Trim()); }),
        };

        Assert.Equal(2, DataFolderFormat.Ensure(folder, current: 4, steps));

        Assert.Equal(["2->3", "3->4"], ran);
        Assert.Equal("4", File.ReadAllText(Path.Combine(folder, DataFolderFormat.FileName)).Trim());
    }

    [Fact]
    public void FailedStep_LeavesTheVersionOfTheLastFinishedStep_SoTheNextStartResumesThere()
    {
        var folder = Path.Combine(_temp, "failing");
        Directory.CreateDirectory(Path.Combine(folder, "logs"));
        var steps = new[]
        {
            new DataFolderMigration(1, "one to two", _ => { }),
            new DataFolderMigration(2, "two to three", _ => throw new IOException("disk full")),
        };

        Assert.Throws<IOException>(() => DataFolderFormat.Ensure(folder, current: 3, steps));

        Assert.Equal("2", File.ReadAllText(Path.Combine(folder, DataFolderFormat.FileName)).Trim());
    }

    [Fact]
    public void MissingStep_IsRefused()
    {
        var folder = Path.Combine(_temp, "gap");
        Directory.CreateDirectory(Path.Combine(folder, "logs"));

        var refused = Assert.Throws<DataFolderFormatException>(() => DataFolderFormat.Ensure(folder, current: 3, [new DataFolderMigration(2, "two to three", _ => { })]));
        Assert.Contains("no migration from it to 2", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NewFolder_GetsTheCurrentVersion_WithoutMigrating()
    {
        var folder = Path.Combine(_temp, "new");
        Directory.CreateDirectory(folder);

        Assert.Null(DataFolderFormat.Ensure(folder, current: 3, [new DataFolderMigration(1, "never", _ => throw new InvalidOperationException("a new folder has nothing to migrate"))]));
        Assert.Equal("3", File.ReadAllText(Path.Combine(folder, DataFolderFormat.FileName)).Trim());
    }

    /// <summary>
    /// Writes the fixture of this build's format into the folder named by the environment variable
    /// (it does nothing otherwise): departments, catalog entries, a pushed and pulled dataset, a clean stop.
    /// </summary>
    [Fact]
    public async Task WriteFixture_WhenAsked()
    {
        var target = Environment.GetEnvironmentVariable(WriteFixtureVariable);
        if (string.IsNullOrEmpty(target))
        {
            return;
        }

        string data;
        string nodeCertificate;
        await using (var fixture = await ExchangeFixture.StartAsync(settings => settings["Node:DataPath"] = Path.Combine(_temp, "fixture")))
        {
            data = fixture.Node.DataPath;
            nodeCertificate = Path.Combine(fixture.Pki.Folder.IssuedFolder, "node-530100.crt");
            Assert.Equal(HttpStatusCode.OK, (await fixture.PushAsync(ExchangeFixture.Unconditional, FixtureRows)).StatusCode);
            using var user = fixture.Node.Client(fixture.User.Certificate);
            using var pulled = await user.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "fixture"));
            Assert.Equal(HttpStatusCode.OK, pulled.StatusCode);
            File.Copy(nodeCertificate, Path.Combine(_temp, "node.crt"));
            await fixture.Node.Node.StopAsync();
            CopyFolder(data, target, skip: ["node.lock", "keys"]);
        }

        // The copy was taken from a running database: opening and closing it as the node does
        // folds LiteDB's write-ahead file into the database, so the fixture is what a clean stop leaves.
        NodeDataFolder.Open(target).Dispose();
        File.Delete(Path.Combine(target, "node.lock"));
        File.Copy(Path.Combine(_temp, "node.crt"), Path.Combine(target, "..", $"format-{DataFolderFormat.Current}.node.crt"), overwrite: true);
    }

    private static async Task AssertServesFixture(TestNode node, string data)
    {
        // Every chain verifies, checkpoints with the fixture node's key.
        using var fixtureNode = X509CertificateLoader.LoadCertificateFromFile(FixtureFolder(1) + ".node.crt");
        using var key = fixtureNode.GetECDsaPublicKey()!;
        foreach (var log in Enum.GetValues<LogKind>())
        {
            var verified = LogVerifier.VerifyStore(LogStore.ForDataFolder(data), log, key);
            Assert.True(verified.Ok, $"{log}: {verified.Message}");
        }

        var departments = node.Services.GetRequiredService<DepartmentRegistry>().All();
        Assert.Equal(3, departments.Count);
        var catalog = node.Services.GetRequiredService<CatalogStore>().ListResources(new CatalogQuery());
        Assert.Equal(3, catalog.Total);

        // A department of the fixture, with a certificate from today's CA, pulls the dataset pushed before the upgrade.
        var entry = catalog.Entries.Single(e => e.ResourceCode == ExchangeFixture.Unconditional);
        var user = departments.First(d => d.CreditCode != entry.Provider.CreditCode);
        var certificate = node.Pki.IssueDepartment(user.DivisionCode, user.CreditCode, user.Name);
        using var client = node.Client(certificate.Certificate);

        // Art. 34, on by default since format 1: an upgrade invents no secrecy review, so the resource is withheld
        // until its provider records one (deploy/README.md, "Upgrade"); then the data held before is served.
        using (var withheld = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "after-upgrade")))
        {
            await ProblemAssert.IsProblemAsync(withheld, HttpStatusCode.Forbidden, GovShare.Contract.ProblemTypes.SecrecyReviewMissing);
        }

        var provider = departments.Single(d => d.CreditCode == entry.Provider.CreditCode);
        using (var providerClient = node.Client(node.Pki.IssueDepartment(provider.DivisionCode, provider.CreditCode, provider.Name).Certificate))
        {
            var reviewed = entry with { SecrecyReview = new SecrecyReview(new DateOnly(2026, 12, 1), "市公安局保密办") };
            using var recorded = await Catalog.CatalogHttp.Send(providerClient, HttpMethod.Put, $"v1/catalog/{ResourceCode.ToUrl(entry.ResourceCode)}", reviewed, $"\"{entry.Version}\"");
            Assert.True(recorded.StatusCode == HttpStatusCode.OK, await recorded.Content.ReadAsStringAsync());
        }

        using var pulled = await client.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "after-upgrade"));
        Assert.True(pulled.StatusCode == HttpStatusCode.OK, await pulled.Content.ReadAsStringAsync());
        var (_, batches) = await ExchangeFixture.ReadAsync(pulled);
        Assert.Equal(FixtureRows, batches.Sum(b => b.Length));
    }

    private static Task<TestNode> StartOn(TestPki pki, string data) => TestNode.StartOnAsync(pki, "530100", data);

    private static void GovShareNodeOn(TestPki pki, string data) =>
        GovShare.Node.Hosting.GovShareNode.Build([], TestNode.DefaultSettings(pki, "530100", data)).DisposeAsync().AsTask().GetAwaiter().GetResult();

    private static string FixtureFolder(int version) => Path.Combine(RepositoryRoot.Path, "tests", "GovShare.Node.Tests", "Upgrade", "Fixtures", $"format-{version}");

    private string CopyFixture(int version)
    {
        var target = Path.Combine(_temp, $"data-{Guid.NewGuid():N}");
        CopyFolder(FixtureFolder(version), target, skip: []);
        return target;
    }

    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories)
            .Where(f => Path.GetFileName(f) != "node.lock")
            .ToDictionary(f => Path.GetRelativePath(folder, f), f => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f))));

    private static void CopyFolder(string from, string to, string[] skip)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from))
        {
            if (!skip.Contains(Path.GetFileName(file)))
            {
                File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
            }
        }

        foreach (var folder in Directory.GetDirectories(from))
        {
            if (!skip.Contains(Path.GetFileName(folder)))
            {
                CopyFolder(folder, Path.Combine(to, Path.GetFileName(folder)), skip);
            }
        }
    }
}
