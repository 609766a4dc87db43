using System.Globalization;
using System.Net;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Evaluation;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// A province (530000) and Kunming (530100), real nodes on loopback with their operators on TLS
/// (<c>Node:ManagementUrl https://…</c>), unlinked at the start; a province department's resource
/// the Kunming side can pull once the two are linked. The working folder holds <c>certs/dev</c>
/// (the test PKI), so the README's operator lines run as written from it.
/// </summary>
public sealed class OperatorJourneyFixture : IAsyncLifetime
{
    public TestPki Pki { get; } = new();
    public int ProvincePort { get; } = Loopback.FreePort();
    public TestNode Province { get; private set; } = null!;
    public TestNode Kunming { get; private set; } = null!;
    public TestDepartment ProvinceDepartment { get; private set; } = null!;
    public string Folder { get; private set; } = "";

    public async Task InitializeAsync()
    {
        static void Operators(Dictionary<string, string?> s)
        {
            s["Node:ManagementUrl"] = "https://127.0.0.1:0";
            s["Hierarchy:HealthInterval"] = "00:00:01";
            s["Hierarchy:PublishInterval"] = "00:00:01";
            // Generous: on a loaded machine a short connect timeout marks live links down.
            s["Hierarchy:ConnectTimeout"] = "00:00:15";
            // Violations are recorded by the operator's scan only, so what a scan reports is all the node holds.
            s["Evaluation:ScanInterval"] = "00:00:00";
        }

        // The province keeps its exchange port across the restart with its new certificate (the links name it).
        Province = await TestNode.StartAsync(Pki, "530000", s =>
        {
            Operators(s);
            s["Node:ExchangeUrl"] = $"https://127.0.0.1:{ProvincePort}";
        });
        // Kunming probes its links only at start (the interval is an hour): what it knows of the link to the
        // province comes from the exchanges it forwards, so a re-key must clear a "down" by itself.
        Kunming = await TestNode.StartAsync(Pki, "530100", s =>
        {
            Operators(s);
            s["Hierarchy:HealthInterval"] = "01:00:00";
        });

        ProvinceDepartment = Pki.IssueDepartment("530000", name: "Yunnan Civil Affairs Department");
        Province.Register(ProvinceDepartment);
        Assert.True(Province.Services.GetRequiredService<CatalogStore>().Create(
            ExchangeFixture.Entry(ExchangeFixture.Unconditional, ProvinceDepartment, new ShareAttributes(ShareType.Unconditional)), ExchangeFixture.Caller(ProvinceDepartment)).Succeeded);
        using var client = Province.Client(ProvinceDepartment.Certificate);
        using var push = await client.PostAsync(ExchangeFixture.DataPath(ExchangeFixture.Unconditional), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(20))));
        Assert.Equal(HttpStatusCode.OK, push.StatusCode);

        Folder = Directory.CreateDirectory(Path.Combine(Pki.Root, "operator")).FullName;
        Directory.CreateDirectory(Path.Combine(Folder, "certs"));
        Directory.CreateSymbolicLink(Path.Combine(Folder, "certs", "dev"), Pki.Root);
    }

    public async Task DisposeAsync()
    {
        await Kunming.DisposeAsync();
        await Province.DisposeAsync();
        Pki.Dispose();
    }
}

/// <summary>
/// The README's operator block (certs operator, dept register, node link/links/rekey, evaluation
/// scan/report, office reports show/publish) run as the built <c>govshare</c>, redirected and on a
/// terminal, against real nodes; then what the nodes hold: the registered department connects,
/// the link is on both sides and a pull is forwarded over it (again after the parent's re-key),
/// the report file is written, the published evaluation is what a department reads.
/// </summary>
public sealed class OperatorJourneyTests(OperatorJourneyFixture fixture) : IClassFixture<OperatorJourneyFixture>
{
    private const string ReadmeCreditCode = "11530100MB00000118";

    [Fact]
    public async Task Readme_CertsOperator_DeptRegister_NodeLinkLinksRekey_AsWritten_RedirectedAndOnATerminal_ThenAForwardedPull()
    {
        var (province, kunming, folder) = (fixture.Province, fixture.Kunming, fixture.Folder);

        // certs operator, as written, from the folder holding certs/dev: the Kunming CA issues zhang.wei.
        var certs = await GovShareProcess.RunAsync(folder, Readme("certs operator"));
        Assert.True(certs.ExitCode == ExitCodes.Ok && certs.Stdout.Contains("operator-530100-zhang.wei.crt", StringComparison.Ordinal), certs.ToString());
        var zhangWei = Path.Combine(fixture.Pki.Folder.IssuedFolder, "operator-530100-zhang.wei.crt");
        using (var issued = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(zhangWei))
        {
            Assert.Equal("govshare:operator/530100/zhang.wei", TrustMaterial.UriOf(issued));
        }

        // The province's operator, on a terminal (the division and id are the province's).
        var provinceOperatorLine = Substitute(Readme("certs operator"), ("530100", "530000"), ("zhang.wei", "chen.jie"), ("Zhang Wei", "Chen Jie"));
        var certsOnTerminal = await GovShareProcess.RunOnTerminalAsync(folder, provinceOperatorLine);
        Assert.True(certsOnTerminal.ExitCode == ExitCodes.Ok && certsOnTerminal.ShowsNoInternals, certsOnTerminal.ToString());
        Assert.True(File.Exists(Path.Combine(fixture.Pki.Folder.IssuedFolder, "operator-530000-chen.jie.crt")));
        // The same again never overwrites a key: refused, readably.
        var again = await GovShareProcess.RunAsync(folder, Readme("certs operator"));
        Assert.True(again.ExitCode != ExitCodes.Ok && again.ShowsNoInternals && again.Stderr.Length > 0, again.ToString());

        var kunmingOp = Op(kunming);
        string[] provinceOp = Op(province, ("operator-530100-zhang.wei", "operator-530000-chen.jie"));

        // dept register, as written, on Kunming: before it the department's certificate is refused, after it answered.
        var department = fixture.Pki.IssueDepartment("530100", ReadmeCreditCode, "Kunming Public Security Bureau");
        using var departmentClient = kunming.Client(department.Certificate);
        Assert.NotEqual(HttpStatusCode.OK, (await departmentClient.GetAsync("v1/identity")).StatusCode);
        var register = await GovShareProcess.RunAsync(folder, Expand(Readme("dept register"), kunmingOp));
        Assert.True(register.ExitCode == ExitCodes.Ok, register.ToString());
        Assert.True(kunming.Services.GetRequiredService<DepartmentRegistry>().IsRegistered(CallerIdentity.Department("530100", ReadmeCreditCode)));
        using (var identity = await departmentClient.GetAsync("v1/identity"))
        {
            Assert.Equal(HttpStatusCode.OK, identity.StatusCode);
            Assert.Contains(ReadmeCreditCode, await identity.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // A Qujing department on Kunming, on a terminal: refused (Art. 21) with the node to use, exit 1, nothing registered.
        var qujingCode = TestPki.NewCreditCode();
        var foreign = await GovShareProcess.RunOnTerminalAsync(folder, Expand(Substitute(Readme("dept register"), ("530100", "530300"), (ReadmeCreditCode, qujingCode)), kunmingOp));
        Assert.True(foreign.ExitCode == ExitCodes.Failed && foreign.ShowsNoInternals && foreign.Stdout.Contains("530300", StringComparison.Ordinal), foreign.ToString());
        Assert.False(kunming.Services.GetRequiredService<DepartmentRegistry>().IsRegistered(CallerIdentity.Department("530300", qujingCode)));

        // Not linked yet: Kunming knows no node holding the province's resource.
        Assert.NotEqual(HttpStatusCode.OK, (await departmentClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"))).StatusCode);

        // node link child (on the province, redirected) and node link parent (on Kunming, on a terminal), the URLs
        // the nodes' own; no key given, as in the README: each node pins the key the other presents.
        var child = await GovShareProcess.RunAsync(folder, Expand(Substitute(Readme("node link child"), ("https://km.govshare.example:8443", kunming.ExchangeAddress.ToString())), provinceOp));
        Assert.True(child.ExitCode == ExitCodes.Ok, child.ToString());
        var parent = await GovShareProcess.RunOnTerminalAsync(folder, Expand(Substitute(Readme("node link parent"), ("https://yn.govshare.example:8443", province.ExchangeAddress.ToString())), kunmingOp));
        Assert.True(parent.ExitCode == ExitCodes.Ok && parent.ShowsNoInternals, parent.ToString());
        var atProvince = Assert.Single(province.Services.GetRequiredService<NodeLinkRegistry>().All());
        Assert.Equal(("530100", LinkRole.Child, fixture.Pki.NodeKey("530100")), (atProvince.DivisionCode, atProvince.Role, atProvince.KeySha256));
        var atKunming = Assert.Single(kunming.Services.GetRequiredService<NodeLinkRegistry>().All());
        Assert.Equal(("530000", LinkRole.Parent, fixture.Pki.NodeKey("530000")), (atKunming.DivisionCode, atKunming.Role, atKunming.KeySha256));

        // node links: JSON redirected (Kunming), the same on a terminal (the province).
        var links = await GovShareProcess.RunAsync(folder, Expand(Readme("node links"), kunmingOp));
        Assert.True(links.ExitCode == ExitCodes.Ok, links.ToString());
        var listed = Assert.Single(LinksOf(links.Stdout));
        Assert.Equal(("530000", fixture.Pki.NodeKey("530000")), (listed.GetProperty("divisionCode").GetString(), listed.GetProperty("keySha256").GetString()));
        var linksOnTerminal = await GovShareProcess.RunOnTerminalAsync(folder, Expand(Readme("node links"), provinceOp));
        Assert.True(linksOnTerminal.ExitCode == ExitCodes.Ok && linksOnTerminal.ShowsNoInternals, linksOnTerminal.ToString());
        Assert.Contains(fixture.Pki.NodeKey("530100"), linksOnTerminal.Stdout, StringComparison.Ordinal);

        // Over the link: the Kunming department pulls the province's resource, forwarded up.
        await PullsThroughKunmingAsync(departmentClient);

        // The province is issued a new certificate and restarts with it: Kunming's link still pins the old key.
        var renewed = fixture.Pki.IssueAnotherNodeCertificate("530000", "node-530000-renewed");
        var newKey = TrustMaterial.SpkiSha256(renewed);
        foreach (var extension in new[] { ".crt", ".key" })
        {
            File.Copy(Path.Combine(fixture.Pki.Folder.IssuedFolder, "node-530000-renewed" + extension), Path.Combine(fixture.Pki.Folder.IssuedFolder, "node-530000" + extension), overwrite: true);
        }

        // Stopped first, as a process that exits is: its open connections close.
        await province.Node.StopAsync();
        await province.RestartAsync();
        Assert.Equal(newKey, await PresentedKeyAsync(fixture.ProvincePort));

        // Between processes Kunming's next handshake sees the new key, refuses it and marks the link down (its probe or
        // the failed forward). In this one test process, .NET resumes the TLS session with the province's earlier
        // instance, so the handshake does not show the new key (the presented key is checked above on a fresh
        // handshake); the down state the probe records is set here as it would record it.
        kunming.Services.GetRequiredService<LinkHealth>().MarkDown("530000", $"its key sha256:{newKey} is not the one the link pins");
        using (var refused = await departmentClient.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance")))
        {
            var body = await refused.Content.ReadAsStringAsync();
            Assert.True(refused.StatusCode == HttpStatusCode.ServiceUnavailable && body.Contains("530000", StringComparison.Ordinal), $"{(int)refused.StatusCode}: {body}");
        }

        // node rekey, as written, on Kunming: the node reads the parent's new key from its handshake and pins it.
        var rekey = await GovShareProcess.RunAsync(folder, Expand(Readme("node rekey"), kunmingOp));
        Assert.True(rekey.ExitCode == ExitCodes.Ok, rekey.ToString());
        Assert.Equal(newKey, kunming.Services.GetRequiredService<NodeLinkRegistry>().Parent()?.KeySha256);
        Assert.False(kunming.Services.GetRequiredService<LinkHealth>().IsDown("530000", out _, out _));
        var rekeyed = await GovShareProcess.RunOnTerminalAsync(folder, Expand(Readme("node links"), kunmingOp));
        Assert.True(rekeyed.ExitCode == ExitCodes.Ok && rekeyed.Stdout.Contains(newKey, StringComparison.Ordinal), rekeyed.ToString());
        // At once, not after the next probe (an hour here): the "down" was the old key's.
        await PullsThroughKunmingAsync(departmentClient);

        // A re-key of a division without a link: refused, readably, exit 1.
        var unlinked = await GovShareProcess.RunAsync(folder, Expand(Substitute(Readme("node rekey"), ("530000", "530300")), kunmingOp));
        Assert.True(unlinked.ExitCode == ExitCodes.Failed && unlinked.ShowsNoInternals && unlinked.Stderr.Contains("530300", StringComparison.Ordinal), unlinked.ToString());
    }

    [Fact]
    public async Task Readme_EvaluationScanAndReport_OfficeReportsShowAndPublish_AsWritten_RedirectedAndOnATerminal()
    {
        var (province, kunming, folder) = (fixture.Province, fixture.Kunming, fixture.Folder);
        _ = fixture.Pki.IssueOperator("530100", "wang.fang", "Wang Fang");
        _ = fixture.Pki.IssueOperator("530000", "zhao.lei", "Zhao Lei");
        string[] kunmingOp = Op(kunming, ("operator-530100-zhang.wei", "operator-530100-wang.fang"));
        string[] provinceOp = Op(province, ("operator-530100-zhang.wei", "operator-530000-zhao.lei"));
        var year = DateTime.UtcNow.Year.ToString(CultureInfo.InvariantCulture);
        var lastYear = (DateTime.UtcNow.Year - 1).ToString(CultureInfo.InvariantCulture);

        // evaluation scan: the new violations it recorded are the node's; safe to repeat (nothing new the second time).
        var scan = await GovShareProcess.RunAsync(folder, Expand(Readme("evaluation scan"), kunmingOp));
        Assert.True(scan.ExitCode == ExitCodes.Ok, scan.ToString());
        var found = Json(scan.Stdout).GetProperty("new").EnumerateArray().Select(v => v.GetProperty("id").GetString()).ToList();
        var held = kunming.Services.GetRequiredService<ViolationStore>().List(new ViolationQuery()).Select(v => v.Id).ToList();
        Assert.Equal(held.Order(StringComparer.Ordinal), found.Order(StringComparer.Ordinal));
        var scanOnTerminal = await GovShareProcess.RunOnTerminalAsync(folder, Expand(Readme("evaluation scan"), kunmingOp));
        Assert.True(scanOnTerminal.ExitCode == ExitCodes.Ok && scanOnTerminal.ShowsNoInternals, scanOnTerminal.ToString());
        Assert.Empty(Json(scanOnTerminal.Stdout).GetProperty("new").EnumerateArray());

        // Another division's operator is refused by Kunming: 403 in a readable line, exit 1.
        var foreign = await GovShareProcess.RunOnTerminalAsync(folder, Expand(Readme("evaluation scan"), provinceOp.Select(w => w == province.ManagementAddress.ToString() ? kunming.ManagementAddress.ToString() : w).ToArray()));
        Assert.True(foreign.ExitCode == ExitCodes.Failed && foreign.ShowsNoInternals && foreign.Stdout.Contains("403", StringComparison.Ordinal), foreign.ToString());

        // evaluation report, as written (this year's so far): the HTML file is written where --html says, and reads.
        var report = await GovShareProcess.RunAsync(folder, InYear(Expand(Readme("evaluation report"), kunmingOp), year));
        Assert.True(report.ExitCode == ExitCodes.Ok, report.ToString());
        var html = Path.Combine(folder, "report-2026.html");
        Assert.Equal(html, Json(report.Stdout).GetProperty("written").GetString());
        var page = await File.ReadAllTextAsync(html);
        Assert.StartsWith("<!DOCTYPE html>", page.TrimStart(), StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Jurisdiction 530100", page, StringComparison.Ordinal);
        Assert.Contains("provisional: the year is not over", page, StringComparison.Ordinal);

        // office reports show, redirected and on a terminal: the province's report of the year.
        var show = await GovShareProcess.RunAsync(folder, InYear(Expand(Readme("office reports show"), provinceOp), year));
        Assert.True(show.ExitCode == ExitCodes.Ok, show.ToString());
        var shown = Json(show.Stdout);
        // The province's own report is due by the end of February of the next year.
        Assert.Equal(new DateOnly(DateTime.UtcNow.Year + 1, 3, 1).AddDays(-1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), shown.GetProperty("dueBy").GetString());
        var showOnTerminal = await GovShareProcess.RunOnTerminalAsync(folder, InYear(Expand(Readme("office reports show"), provinceOp), year));
        Assert.True(showOnTerminal.ExitCode == ExitCodes.Ok && showOnTerminal.ShowsNoInternals && showOnTerminal.Stdout.Contains("dueBy", StringComparison.Ordinal), showOnTerminal.ToString());

        // office reports publish: this year is not over (refused, exit 1, nothing published); last year's is published, final.
        await File.WriteAllTextAsync(Path.Combine(folder, "advice-2026.txt"), "各部门共享目录更新须及时。");
        var early = await GovShareProcess.RunOnTerminalAsync(folder, InYear(Expand(Readme("office reports publish"), provinceOp), year));
        Assert.True(early.ExitCode == ExitCodes.Failed && early.ShowsNoInternals && early.Stdout.Contains("not over", StringComparison.Ordinal), early.ToString());
        Assert.Null(province.Services.GetRequiredService<Publications>().Of(DateTime.UtcNow.Year));
        var publish = await GovShareProcess.RunAsync(folder, InYear(Expand(Readme("office reports publish"), provinceOp), lastYear));
        Assert.True(publish.ExitCode == ExitCodes.Ok, publish.ToString());
        var twice = await GovShareProcess.RunAsync(folder, InYear(Expand(Readme("office reports publish"), provinceOp), lastYear));
        Assert.True(twice.ExitCode == ExitCodes.Failed && twice.ShowsNoInternals && twice.Stderr.Contains("final", StringComparison.Ordinal), twice.ToString());
        var missingAdvice = await GovShareProcess.RunAsync(folder, Substitute(InYear(Expand(Readme("office reports publish"), provinceOp), lastYear), ("advice-2026.txt", "no-such-advice.txt")));
        Assert.True(missingAdvice.ExitCode == ExitCodes.Usage && missingAdvice.Stderr.Contains("no-such-advice.txt", StringComparison.Ordinal), missingAdvice.ToString());

        // The published evaluation is what the province's department reads, with the office's advice.
        var departmentFolder = GovShareProcess.DepartmentFolder(fixture.Pki.Root, "yn-civil", province.ExchangeAddress, fixture.ProvinceDepartment, fixture.Pki.Folder.TrustAnchorsFile);
        var read = await GovShareProcess.RunAsync(departmentFolder, ["report", "published", lastYear]);
        Assert.True(read.ExitCode == ExitCodes.Ok && read.Stdout.Contains("各部门共享目录更新须及时", StringComparison.Ordinal), read.ToString());
        Assert.Equal("govshare:operator/530000/zhao.lei", province.Services.GetRequiredService<Publications>().Of(DateTime.UtcNow.Year - 1)?.PublishedBy);
    }

    private static async Task PullsThroughKunmingAsync(HttpClient department)
    {
        using var pull = await department.SendAsync(ExchangeFixture.Pull(ExchangeFixture.Unconditional, "social-assistance"));
        Assert.True(pull.StatusCode == HttpStatusCode.OK, await pull.Content.ReadAsStringAsync());
        var (_, batches) = await ExchangeFixture.ReadAsync(pull);
        Assert.Equal(20, batches.Sum(b => b.Length));
    }

    /// <summary>The SHA-256 of the key the node on <paramref name="port"/> presents in a TLS handshake.</summary>
    private static async Task<string> PresentedKeyAsync(int port)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port);
        string? key = null;
        await using var tls = new System.Net.Security.SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            // Only the key is wanted here (whom it belongs to is the link's business, checked by the nodes).
            key = certificate is null ? null : TrustMaterial.SpkiSha256(new System.Security.Cryptography.X509Certificates.X509Certificate2(certificate));
            return key is not null;
        });
        await tls.AuthenticateAsClientAsync("localhost");
        return key ?? "";
    }

    private static List<JsonElement> LinksOf(string json)
    {
        var root = Json(json);
        return [.. (root.ValueKind == JsonValueKind.Array ? root : root.GetProperty("links")).EnumerateArray()];
    }

    /// <summary>The JSON a command printed; on a terminal <c>script</c> adds control sequences around it.</summary>
    private static JsonElement Json(string output)
    {
        output = System.Text.RegularExpressions.Regex.Replace(output, @"\x1B\[[0-9;?]*[A-Za-z]", "");
        var start = output.IndexOfAny(['{', '[']);
        var end = output.LastIndexOfAny(['}', ']']);
        Assert.True(start >= 0 && end > start, "no JSON in: " + output);
        return JsonDocument.Parse(output[start..(end + 1)]).RootElement.Clone();
    }

    /// <summary>The README's line that starts with <paramref name="command"/>, as arguments (<c>$OP</c> left in).</summary>
    private static string[] Readme(string command) =>
        ReadmeCommands.Lines(ReadmeCommands.Read("README.md")).First(l => string.Join(' ', l).StartsWith(command + " ", StringComparison.Ordinal));

    /// <summary>The README's <c>OP="…"</c> with the node's own management address (and another operator's certificate if given).</summary>
    private static string[] Op(TestNode node, params (string From, string To)[] certificate)
    {
        var line = ReadmeCommands.Read("README.md").Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith("OP=\"", StringComparison.Ordinal));
        var words = ReadmeCommands.Words(line["OP=".Length..])[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return Substitute(Substitute(words, ("https://127.0.0.1:8444", node.ManagementAddress.ToString())), certificate);
    }

    private static string[] Expand(string[] line, string[] op) => [.. line.SelectMany(w => w == "$OP" ? op : [w])];

    /// <summary>The README's year (2026) as the year argument replaced by <paramref name="year"/>; file names keep theirs.</summary>
    private static string[] InYear(string[] words, string year) => [.. words.Select(w => w == "2026" ? year : w)];

    private static string[] Substitute(string[] words, params (string From, string To)[] changes) =>
        [.. words.Select(w => changes.Aggregate(w, (word, change) => word.Replace(change.From, change.To, StringComparison.Ordinal)))];
}
