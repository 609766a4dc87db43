using GovShare.Cli.Commands;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

public sealed class CliTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Push_CertificateFilesThatAreNotPem_ExitUsageBeforeContactingTheNode()
    {
        var csv = _temp.File("a.csv");
        await File.WriteAllTextAsync(csv, "姓名,年龄\n张三,abc\n");
        await File.WriteAllTextAsync(_temp.File("m.json"), """{"columns":[{"column":"姓名","item":"name"},{"column":"年龄","item":"age","type":"int32"}]}""");
        foreach (var name in new[] { "c.crt", "k.key", "ca.pem" })
        {
            await File.WriteAllTextAsync(_temp.File(name), "");
        }

        await File.WriteAllTextAsync(_temp.File("govshare.department.json"), """{"node":"https://127.0.0.1:1/","certificate":"c.crt","key":"k.key","ca":"ca.pem"}""");

        var code = await GovShareCommand.Create().Parse(["push", "--csv", csv, "--mapping", _temp.File("m.json"), "--resource", "R1", "--config", _temp.File("govshare.department.json")]).InvokeAsync();

        // Empty files are no certificate, key or CA: a setting to fix (2), found before any
        // connection — not "unreachable" (3). Rejected values are tested against a real node
        // (tests/GovShare.Node.Tests/Cli/DepartmentCommandsTests.cs): the catalog check needs it.
        Assert.Equal(ExitCodes.Usage, code);
    }

    [Fact]
    public void Credentials_ReadOnceAndShared_TheClientReadsNoFileAgain_BadFilesAllNamedAtOnce()
    {
        using (var key = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256))
        {
            var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=dept", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
            using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
            File.WriteAllText(_temp.File("c.crt"), certificate.ExportCertificatePem());
            File.WriteAllText(_temp.File("k.key"), key.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(_temp.File("ca.pem"), certificate.ExportCertificatePem());
        }

        File.WriteAllText(_temp.File("govshare.department.json"), """{"node":"https://127.0.0.1:1/","certificate":"c.crt","key":"k.key","ca":"ca.pem"}""");
        var connection = DepartmentConnection.Load(_temp.File("govshare.department.json"));
        var anchors = DepartmentCredentials.ReadAnchors(connection.Ca);
        var shared = connection with { Credentials = DepartmentCredentials.Load(connection, anchors) };
        Assert.Same(anchors, shared.Credentials!.Anchors);
        Assert.True(shared.Credentials.Client.HasPrivateKey);

        // Gone from disk: a client made from the shared credentials needs none of them; one without reads them.
        foreach (var name in new[] { "c.crt", "k.key", "ca.pem" })
        {
            File.Delete(_temp.File(name));
        }

        using (shared.CreateHttpClient())
        using (shared.CreateHttpClient())
        {
            Assert.ThrowsAny<Exception>(() => connection.CreateHttpClient());
        }

        // Not PEM: the certificate pair and the CA bundle are both named, in one message.
        foreach (var name in new[] { "c.crt", "k.key", "ca.pem" })
        {
            File.WriteAllText(_temp.File(name), "not pem");
        }

        var failure = Assert.Throws<DepartmentConnectionException>(() => DepartmentCredentials.Load(connection));
        Assert.Equal(2, failure.Errors.Count);
        Assert.Contains("'certificate' and 'key'", failure.Errors[0], StringComparison.Ordinal);
        Assert.Contains("'ca'", failure.Errors[1], StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MissingSettings_ReportsEveryOne()
    {
        File.WriteAllText(_temp.File("govshare.department.json"), """{"node":"http://plain/"}""");

        var failure = Assert.Throws<DepartmentConnectionException>(() => DepartmentConnection.Load(_temp.File("govshare.department.json")));

        Assert.Equal(4, failure.Errors.Count);
        Assert.Contains("https", failure.Errors[0], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("30s", 0.5)]
    [InlineData("30m", 30)]
    [InlineData("1h", 60)]
    [InlineData("1d", 1440)]
    public void ParsePeriod_Valid_Minutes(string text, double minutes) => Assert.Equal(TimeSpan.FromMinutes(minutes), SyncCommand.ParsePeriod(text));

    [Fact]
    public void ParsePeriod_NotAPeriod_Refused() => Assert.Throws<ArgumentException>(() => SyncCommand.ParsePeriod("hourly"));

    [Fact]
    public void Parse_MappingWithBadTypes_ReportsEveryFault()
    {
        using var json = new MemoryStream("""{"columns":[{"column":"a","type":"int"},{"item":"b"},{"column":"c","type":"decimal128(40,2)"},{"column":"a"}]}"""u8.ToArray());

        var failure = Assert.Throws<MappingException>(() => ItemMapping.Parse(json, "m.json"));

        Assert.Equal(3, failure.Errors.Count);
    }

    [Theory]
    [InlineData("+08:00", 8 * 60)]
    [InlineData("-05:30", -(5 * 60 + 30))]
    [InlineData("UTC", 0)]
    [InlineData("Asia/Shanghai", 8 * 60)]
    public void ParseZone_OffsetUtcOrName_Minutes(string text, int minutes) => Assert.Equal(TimeSpan.FromMinutes(minutes), DataSourceOptions.ParseZone(text));

    [Theory]
    [InlineData("Beijing")]
    [InlineData("+8")]
    public void ParseZone_NotAZone_Refused(string text) => Assert.Throws<ArgumentException>(() => DataSourceOptions.ParseZone(text));

    [Theory]
    [InlineData(",", ',')]
    [InlineData("tab", '\t')]
    [InlineData(";", ';')]
    public void ParseDelimiter_OneCharacterOrTab(string text, char expected) => Assert.Equal(expected, DataSourceOptions.ParseDelimiter(text));

    [Fact]
    public void TableOutput_ChineseText_AlignedByDisplayWidth()
    {
        using var document = System.Text.Json.JsonDocument.Parse("""{"entries":[{"code":"101001/000001","name":"企业登记"},{"code":"101001/000002","name":"abc"}]}""");
        using var output = new StringWriter();

        TableOutput.Print(output, document.RootElement, TableSpec.Of("entries", new("Code", "code"), new("Name", "name")));

        var lines = output.ToString().Split(Environment.NewLine);
        Assert.Equal("Code          | Name", lines[0]);
        Assert.Equal("101001/000001 | 企业登记", lines[2]);
        Assert.Equal(8, TableOutput.Width("企业登记"));
        Assert.Equal("(2 rows)", lines[4]);
    }
}
