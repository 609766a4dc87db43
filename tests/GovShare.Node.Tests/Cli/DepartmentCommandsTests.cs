using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// The department commands as the built <c>govshare</c> process, against a real node over mTLS:
/// every refusal exits with its documented code and a readable message (README.md "Exit codes"),
/// mistakes in a push are found before the upload, and nothing reaches the node then.
/// </summary>
public sealed class DepartmentCommandsTests : IAsyncLifetime
{
    private const string Resource = "101001/000031";
    private const string Mapping = """
        { "columns": [ { "column": "统一社会信用代码", "item": "code", "type": "utf8" },
                       { "column": "注册资本", "item": "capital", "type": "decimal128(18,2)" },
                       { "column": "更新时间", "item": "updated_at", "type": "timestamp" } ] }
        """;

    private ExchangeFixture _f = null!;
    private string _folder = null!;
    private string _provider = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();
        _folder = Directory.CreateTempSubdirectory("govshare-cli-").FullName;
        var entry = Entry(Resource, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = "企业登记（检查）",
            Items =
            [
                new InformationItem("code", "统一社会信用代码", "utf8", 18, Nullable: false),
                new InformationItem("capital", "注册资本", "decimal128(18,2)"),
                new InformationItem("updated_at", "更新时间", "timestamp"),
            ],
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);
        _provider = GovShareProcess.DepartmentFolder(_folder, "provider", _f.Node.ExchangeAddress, _f.Provider, _f.Pki.Folder.TrustAnchorsFile);
        await File.WriteAllTextAsync(Path.Combine(_provider, "mapping.json"), Mapping);
        await File.WriteAllTextAsync(Path.Combine(_provider, "data.csv"), "统一社会信用代码,注册资本,更新时间\n91530100MA6K000001,1000.50,2026-03-01 08:30:00\n91530100MA6K000002,20.00,2026-03-02 09:00:00\n91530100MA6K000003,3.25,\n");
    }

    public async Task DisposeAsync()
    {
        await _f.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private int Versions => _f.Node.Services.GetRequiredService<DatasetStore>().Versions(Resource).Count;

    private Task<GovShareRun> Provider(params string[] arguments) => GovShareProcess.RunAsync(_provider, arguments);

    [Fact]
    public async Task Push_TypoOrMissingOption_ExitsUsageWithTheOptionNamed()
    {
        var typo = await Provider("push", "--csvv", "data.csv", "--resource", Resource);
        var missing = await Provider("push", "--csv", "data.csv");

        Assert.True(typo.ExitCode == ExitCodes.Usage, typo.ToString());
        Assert.Contains("--csvv", typo.Stderr, StringComparison.Ordinal);
        Assert.True(missing.ExitCode == ExitCodes.Usage, missing.ToString());
        Assert.Contains("--resource", missing.Stderr, StringComparison.Ordinal);
        Assert.Contains("govshare push --help", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MissingFileFolderOrOddOption_ExitsUsage_WithAReadableMessage_PushAndPull()
    {
        var run = await Provider("push", "--csv", "no-such.csv", "--mapping", "mapping.json", "--resource", Resource);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("no-such.csv does not exist", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());

        // A careless user: odd option values, a folder for a file, a pull into a folder that is not
        // there, a binary file for a CSV. Each is named in words — no .NET parameter names, no
        // message about a .partial file — and nothing reaches the node or the disk.
        Directory.CreateDirectory(Path.Combine(_provider, "exports"));
        await File.WriteAllBytesAsync(Path.Combine(_provider, "photo.csv"), [.. Enumerable.Range(0, 4096).Select(i => (byte)(i * 7919 % 251))]);
        (string[] Arguments, string Says)[] mistakes =
        [
            (["push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--time-zone", "Mars/Olympus"], "--time-zone: 'Mars/Olympus' is not an offset"),
            (["push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--delimiter", ";;"], "--delimiter: ';;' is not one character"),
            (["push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--encoding", "klingon"], "'klingon' is not a supported encoding"),
            (["push", "--csv", "exports", "--mapping", "mapping.json", "--resource", Resource], "exports is a folder; give a file."),
            (["push", "--csv", "photo.csv", "--mapping", "mapping.json", "--resource", Resource], "photo.csv: the mapping cannot be used"),
            (["pull", "--resource", Resource, "--purpose", "stats", "--csv", "no-such-folder/out.csv"], "--csv: the folder " + Path.Combine(_provider, "no-such-folder") + " does not exist."),
            (["pull", "--resource", Resource, "--purpose", "stats", "--csv", "out.csv", "--time-zone", "+25:00"], "--time-zone: '+25:00' is not an offset"),
            (["pull", "--resource", Resource, "--purpose", "stats", "--sqlite", "exports", "--table", "t"], "exports is a folder; give a file."),
        ];
        foreach (var (arguments, says) in mistakes)
        {
            var mistake = await Provider(arguments);

            Assert.True(mistake.ExitCode == ExitCodes.Usage, mistake.ToString());
            Assert.Contains(says, mistake.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("(Parameter", mistake.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain(".partial", mistake.Stderr, StringComparison.Ordinal);
            Assert.True(mistake.ShowsNoInternals, mistake.ToString());
        }

        Assert.Equal(0, Versions);
        Assert.False(File.Exists(Path.Combine(_provider, "out.csv")));
        Assert.Empty(Directory.GetFileSystemEntries(Path.Combine(_provider, "exports")));
    }

    [Fact]
    public async Task Push_GarbageCaFile_ExitsUsageNamingTheFile()
    {
        await File.WriteAllTextAsync(Path.Combine(_provider, "garbage.pem"), "not a certificate\n");

        var run = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--ca", Path.Combine(_provider, "garbage.pem"));

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("garbage.pem holds no PEM certificate", run.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_CaOfAnotherPki_ExitsUsage_NotUnreachable_AndShowsNoInternals()
    {
        using var other = new TestPki();

        var run = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--ca", other.Folder.TrustAnchorsFile);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("TLS handshake with the node failed", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());
        Assert.Equal(0, Versions);
    }

    [Fact]
    public async Task Push_DerCertificate_ExitsUsage_WithoutStackTrace()
    {
        var der = Path.Combine(_provider, "dept.cer");
        using (var pem = X509CertificateLoader.LoadCertificateFromFile(_f.Provider.Files.CertificatePath))
        {
            await File.WriteAllBytesAsync(der, pem.Export(X509ContentType.Cert));
        }

        var run = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--cert", der);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains("openssl x509 -inform der", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());
    }

    [Fact]
    public async Task DateTimeFormat_ThatReadsNothing_ExitsUsageNamingTheOption_PushAndPull()
    {
        var push = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--datetime-format", "'text'");
        var pull = await Provider("pull", "--resource", Resource, "--purpose", "stats", "--csv", "out.csv", "--date-format", "'nothing'");

        Assert.True(push.ExitCode == ExitCodes.Usage, push.ToString());
        Assert.Contains("--datetime-format: ''text'' is not a date/time format", push.Stderr, StringComparison.Ordinal);
        Assert.True(pull.ExitCode == ExitCodes.Usage, pull.ToString());
        Assert.Contains("--date-format", pull.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_provider, "out.csv")));
        Assert.Equal(0, Versions);

        // A format that fits: the export's day-first times go in at Beijing time, and come out in another format.
        await File.WriteAllTextAsync(Path.Combine(_provider, "dayfirst.csv"), "统一社会信用代码,注册资本,更新时间\n91530100MA6K000001,1000.50,01.03.2026 08:30\n");
        var dayFirst = await Provider("push", "--csv", "dayfirst.csv", "--mapping", "mapping.json", "--resource", Resource, "--datetime-format", "dd.MM.yyyy HH:mm");
        Assert.True(dayFirst.ExitCode == ExitCodes.Ok, dayFirst.ToString());
        var back = await Provider("pull", "--resource", Resource, "--purpose", "stats", "--csv", "-", "--time-zone", "+08:00", "--datetime-format", "yyyy/MM/dd HH:mm:ss zzz");
        Assert.True(back.ExitCode == ExitCodes.Ok, back.ToString());
        Assert.Contains("91530100MA6K000001,1000.50,2026/03/01 08:30:00 +08:00", back.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Push_NodeDown_ExitsUnreachable()
    {
        var run = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--node", $"https://127.0.0.1:{Loopback.FreePort()}/");

        Assert.True(run.ExitCode == ExitCodes.Unreachable, run.ToString());
        Assert.Contains("cannot be reached", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());
    }

    [Fact]
    public async Task Pull_WithoutAGrant_ExitsRefused_AndLeavesNoFile()
    {
        var user = GovShareProcess.DepartmentFolder(_folder, "user", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);

        var run = await GovShareProcess.RunAsync(user, ["pull", "--resource", Conditional, "--csv", "out.csv"]);

        Assert.True(run.ExitCode == ExitCodes.Failed, run.ToString());
        Assert.Contains("Refused (403)", run.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(user, "out.csv*"));
    }

    [Fact]
    public async Task Push_WrongItemNameOrDecimalScale_ExitsUsageBeforeTheUpload()
    {
        await File.WriteAllTextAsync(Path.Combine(_provider, "wrong.json"), Mapping.Replace("\"capital\"", "\"capitl\"", StringComparison.Ordinal).Replace("(18,2)", "(18,3)", StringComparison.Ordinal));
        await File.WriteAllTextAsync(Path.Combine(_provider, "scale.json"), Mapping.Replace("(18,2)", "(18,3)", StringComparison.Ordinal));

        var name = await Provider("push", "--csv", "data.csv", "--mapping", "wrong.json", "--resource", Resource);
        var scale = await Provider("push", "--csv", "data.csv", "--mapping", "scale.json", "--resource", Resource, "--dry-run");

        Assert.True(name.ExitCode == ExitCodes.Usage, name.ToString());
        Assert.Contains("'capitl' is not an item of 101001/000031", name.Stderr, StringComparison.Ordinal);
        Assert.Contains("Item capital (注册资本, decimal128(18,2)) is not mapped", name.Stderr, StringComparison.Ordinal);
        Assert.True(scale.ExitCode == ExitCodes.Usage, scale.ToString());
        Assert.Contains("is decimal128(18,3) in the mapping; the catalog says decimal128(18,2)", scale.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, Versions);
    }

    [Fact]
    public async Task Push_NullInARequiredItem_ExitsDataRejectedNamingRowAndItem()
    {
        await File.WriteAllTextAsync(Path.Combine(_provider, "nulls.csv"), "统一社会信用代码,注册资本,更新时间\n91530100MA6K000001,1.00,\n,2.00,\n91530100MA6K000003,3.00,\n,4.00,\n");

        var run = await Provider("push", "--csv", "nulls.csv", "--mapping", "mapping.json", "--resource", Resource);

        Assert.True(run.ExitCode == ExitCodes.DataRejected, run.ToString());
        Assert.Contains("row 2, column 'code (统一社会信用代码)': is empty, but the item is required", run.Stderr, StringComparison.Ordinal);
        Assert.Contains("row 4, column 'code (统一社会信用代码)'", run.Stderr, StringComparison.Ordinal);
        Assert.Equal(0, Versions);
    }

    [Fact]
    public async Task Push_DryRun_ChecksEveryValue_AndPushesNothing_ThenThePushArrives()
    {
        var dry = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource, "--dry-run");
        Assert.True(dry.ExitCode == ExitCodes.Ok, dry.ToString());
        Assert.Contains("Dry run: 3 rows match the 3 items", dry.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, Versions);

        var push = await Provider("push", "--csv", "-", "--mapping", "mapping.json", "--resource", Resource, "--delimiter", ";");
        Assert.True(push.ExitCode == ExitCodes.Usage || push.ExitCode == ExitCodes.DataRejected, push.ToString()); // empty stdin: no header

        var piped = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "-", "--mapping", "mapping.json", "--resource", Resource, "--delimiter", ";"],
            stdin: "统一社会信用代码;注册资本;更新时间\n91530100MA6K000001;1000.50;2026-03-01 08:30:00\n");
        Assert.True(piped.ExitCode == ExitCodes.Ok, piped.ToString());
        Assert.Equal(1, Versions);
    }

    [Fact]
    public async Task CertsDept_ZeroOrNegativeDays_RefusedWithAMessage_AndNothingIssued()
    {
        var pki = Path.Combine(_folder, "pki");
        Assert.Equal(0, (await GovShareProcess.RunAsync(_folder, ["certs", "root", "--pki", pki])).ExitCode);
        Assert.Equal(0, (await GovShareProcess.RunAsync(_folder, ["certs", "intermediate", "--pki", pki, "--division", "530100"])).ExitCode);

        foreach (var days in new[] { "0", "-1" })
        {
            var run = await GovShareProcess.RunAsync(_folder, ["certs", "dept", "--pki", pki, "--division", "530100", "--credit-code", TestPki.NewCreditCode(), "--name", "x", "--days", days]);

            Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
            Assert.Contains($"--days {days}: give a validity from 1 to 3650 days", run.Stderr, StringComparison.Ordinal);
            Assert.True(run.ShowsNoInternals, run.ToString());
        }

        Assert.False(Directory.Exists(Path.Combine(pki, "issued")) && Directory.GetFiles(Path.Combine(pki, "issued"), "dept-*").Length > 0);
    }

    [Fact]
    public async Task Catalog_CreateWithoutProvider_IsTheCaller_ThenMineShowsATable_AndJsonForScripts()
    {
        await File.WriteAllTextAsync(Path.Combine(_provider, "entry.json"), """
            {"resourceCode":"101001/000032","name":"企业年报","abstract":"annual reports","format":"database",
             "items":[{"id":"code","name":"统一社会信用代码","dataType":"utf8","length":18,"nullable":false,"shareable":true,"sensitivity":"public"}],
             "share":{"type":"unconditional","method":"api"},"open":{"openToPublic":false},"updateCycle":"yearly","releaseDate":"2026-01-01","relatedResourceCodes":[]}
            """);

        var create = await Provider("catalog", "create", "--file", "entry.json");
        var table = await Provider("catalog", "mine");
        var json = await Provider("catalog", "mine", "--json");

        Assert.True(create.ExitCode == ExitCodes.Ok, create.ToString());
        Assert.Contains(_f.Provider.CreditCode, create.Stdout, StringComparison.Ordinal);
        Assert.True(table.ExitCode == ExitCodes.Ok, table.ToString());
        Assert.Contains("Code ", table.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"101001/000032 \| 企业年报 +\| Kunming Public Security Bureau", table.Stdout);
        Assert.StartsWith("{", json.Stdout.TrimStart(), StringComparison.Ordinal);

        // Another department finds it in the sharing catalog (the README's `catalog search 企业`).
        var user = GovShareProcess.DepartmentFolder(_folder, "searcher", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);
        var search = await GovShareProcess.RunAsync(user, ["catalog", "search", "企业"]);
        Assert.True(search.ExitCode == ExitCodes.Ok, search.ToString());
        Assert.Contains("101001/000032 | 企业年报", search.Stdout, StringComparison.Ordinal);

        // The rest of the README's `catalog create|update|retire|export`: read the ETag, update, export, retire.
        var get = await Provider("catalog", "get", "101001/000032");
        Assert.True(get.ExitCode == ExitCodes.Ok, get.ToString());
        var etag = get.Stderr.Split("ETag: ")[1].Trim();
        await File.WriteAllTextAsync(Path.Combine(_provider, "entry.json"), get.Stdout.Replace("\"企业年报\"", "\"企业年度报告\"", StringComparison.Ordinal));
        var update = await Provider("catalog", "update", "101001/000032", "--file", "entry.json", "--etag", etag);
        Assert.True(update.ExitCode == ExitCodes.Ok, update.ToString());
        var stale = await Provider("catalog", "update", "101001/000032", "--file", "entry.json", "--etag", etag);
        Assert.True(stale.ExitCode == ExitCodes.Failed, stale.ToString());
        Assert.Contains("Refused (412)", stale.Stderr, StringComparison.Ordinal);
        var export = await Provider("catalog", "export", "--output", "catalog.json");
        Assert.True(export.ExitCode == ExitCodes.Ok, export.ToString());
        Assert.Contains("企业年度报告", await File.ReadAllTextAsync(Path.Combine(_provider, "catalog.json")), StringComparison.Ordinal);
        var retire = await Provider("catalog", "retire", "101001/000032", "--etag", update.Stderr.Split("ETag: ")[1].Trim());
        Assert.True(retire.ExitCode == ExitCodes.Ok, retire.ToString());
        Assert.NotEqual(EntryStatus.Active, _f.Node.Services.GetRequiredService<CatalogStore>().Get("101001/000032")?.Status);
    }

    [Fact]
    public async Task ItemsImport_Gb18030File_IsRead()
    {
        var etag = (await Provider("catalog", "get", Resource)).Stderr.Split("ETag: ")[1].Trim();
        var export = await Provider("catalog", "items-export", Resource, "--output", "items.csv");
        Assert.True(export.ExitCode == ExitCodes.Ok, export.ToString());
        var text = (await File.ReadAllTextAsync(Path.Combine(_provider, "items.csv"))).Replace("注册资本", "注册资本金", StringComparison.Ordinal);
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        await File.WriteAllBytesAsync(Path.Combine(_provider, "items-gb.csv"), Encoding.GetEncoding("GB18030").GetBytes(text));

        var run = await Provider("catalog", "items-import", Resource, "--file", "items-gb.csv", "--etag", etag);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        Assert.Contains("注册资本金", _f.Node.Services.GetRequiredService<CatalogStore>().Get(Resource)!.Items.Select(i => i.Name));
    }

    [Fact]
    public async Task RequestApply_TheReadmePurposeCode_IsAccepted_AndInboxIsATable()
    {
        var user = GovShareProcess.DepartmentFolder(_folder, "user", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);

        // The README's command but for its period, which must not have ended (a fixed year would stop this test in time).
        var today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
        var apply = await GovShareProcess.RunAsync(user, ["request", "apply", Conditional, "--item", "姓名", "--item", "出生日期", "--purpose-code", "P-2024-001", "--purpose", "Social assistance review",
            "--legal-basis", "Yunnan rules Art. 25", "--from", $"{today:yyyy-MM-dd}", "--to", $"{today.AddDays(180):yyyy-MM-dd}", "--contact-name", "王五", "--contact-phone", "0871-1234567"]);
        var inbox = await Provider("inbox");

        Assert.True(apply.ExitCode == ExitCodes.Ok, apply.ToString());
        Assert.True(inbox.ExitCode == ExitCodes.Ok, inbox.ToString());
        Assert.Contains("Requests to decide (1)", inbox.Stdout, StringComparison.Ordinal);
        Assert.Contains("P-2024-001", inbox.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CatalogTree_AndDispute_RaiseListAnswer_AsTheReadmeShowsThem()
    {
        var user = GovShareProcess.DepartmentFolder(_folder, "user", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);
        var push = await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource);
        Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());

        // The tree's catalog (one node here): a table naming the owning node, and JSON for scripts.
        var tree = await GovShareProcess.RunAsync(user, ["catalog", "tree", "企业"]);
        var treeJson = await GovShareProcess.RunAsync(user, ["catalog", "tree", "企业", "--json"]);
        Assert.True(tree.ExitCode == ExitCodes.Ok, tree.ToString());
        Assert.Contains("Node", tree.Stdout, StringComparison.Ordinal);
        Assert.Contains(Resource, tree.Stdout, StringComparison.Ordinal);
        Assert.True(treeJson.ExitCode == ExitCodes.Ok, treeJson.ToString());
        Assert.Contains(JsonDocument.Parse(treeJson.Stdout).RootElement.GetProperty("entries").EnumerateArray(), e => e.GetProperty("entry").GetProperty("resourceCode").GetString() == Resource);

        // The user flags a row as doubtful; both sides list it; the provider answers.
        var raise = await GovShareProcess.RunAsync(user, ["dispute", "raise", Resource, "--data-version", "1", "--kind", "doubtful", "--description", "注册资本与工商登记不符", "--row-key", "91530100MA6K000001", "--item", "注册资本"]);
        Assert.True(raise.ExitCode == ExitCodes.Ok, raise.ToString());
        var mine = await GovShareProcess.RunAsync(user, ["dispute", "list"]);
        Assert.True(mine.ExitCode == ExitCodes.Ok, mine.ToString());
        Assert.Contains("注册资本与工商登记不符", mine.Stdout, StringComparison.Ordinal);
        var toAnswer = await Provider("dispute", "list", "--role", "provider", "--json");
        Assert.True(toAnswer.ExitCode == ExitCodes.Ok, toAnswer.ToString());
        var id = Assert.Single(JsonDocument.Parse(toAnswer.Stdout).RootElement.EnumerateArray()).GetProperty("id").GetString()!;
        var answer = await Provider("dispute", "answer", id, "--rejected", "--reason", "与登记机关核对一致");
        Assert.True(answer.ExitCode == ExitCodes.Ok, answer.ToString());
        var after = await GovShareProcess.RunAsync(user, ["dispute", "list"]);
        Assert.Contains("rejected", after.Stdout, StringComparison.OrdinalIgnoreCase);

        // Answering it again is refused by the node: exit 1 with its problem.
        var again = await Provider("dispute", "answer", id, "--rejected", "--reason", "again");
        Assert.True(again.ExitCode == ExitCodes.Failed, again.ToString());
    }

    [Fact]
    public async Task ConsentAndComplaint_ApplyGrantFileAnswer_AsTheReadmeShowsThem()
    {
        var user = GovShareProcess.DepartmentFolder(_folder, "user-consent", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);
        var street = _f.Pki.IssueDepartment(name: "Wuhua Street Office");
        _f.Node.Register(street);
        var recipient = $"govshare:dept/{street.Division}/{street.CreditCode}";

        // Art. 33: the user asks, the provider consents; a second answer is refused by the node (exit 1).
        var apply = await GovShareProcess.RunAsync(user, ["consent", "apply", Resource, "--purpose", "casework", "--recipient", recipient, "--reason", "街道办代为核查低保资格"]);
        Assert.True(apply.ExitCode == ExitCodes.Ok, apply.ToString());
        var consent = JsonDocument.Parse(apply.Stdout).RootElement.GetProperty("id").GetString()!;
        var grant = await Provider("consent", "grant", consent);
        Assert.True(grant.ExitCode == ExitCodes.Ok, grant.ToString());
        var listed = await GovShareProcess.RunAsync(user, ["consent", "list"]);
        Assert.True(listed.ExitCode == ExitCodes.Ok, listed.ToString());
        Assert.Contains("granted", listed.Stdout, StringComparison.Ordinal);
        var again = await Provider("consent", "refuse", consent, "--reason", "改变主意");
        Assert.True(again.ExitCode == ExitCodes.Failed, again.ToString());

        // Art. 33: `pull --onward-to` names the recipient; the node answers only the consented one, and logs it.
        Assert.True((await Provider("push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource)).ExitCode == ExitCodes.Ok);
        var onward = await GovShareProcess.RunAsync(user, ["pull", "--resource", Resource, "--purpose", "casework", "--onward-to", recipient, "--jsonl", "onward.jsonl"]);
        Assert.True(onward.ExitCode == ExitCodes.Ok, onward.ToString());
        Assert.Equal(3, File.ReadAllLines(Path.Combine(user, "onward.jsonl")).Length);
        var stranger = $"govshare:dept/{_f.Provider.Division}/{_f.Provider.CreditCode}";
        var refused = await GovShareProcess.RunAsync(user, ["pull", "--resource", Resource, "--purpose", "casework", "--onward-to", stranger, "--jsonl", "refused.jsonl"]);
        Assert.True(refused.ExitCode == ExitCodes.Failed, refused.ToString());
        Assert.Contains("onward-sharing-not-consented", refused.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(user, "refused.jsonl")));
        var pulls = GovShare.Node.Logs.LogStore.ForDataFolder(_f.Node.DataPath).ReadEntries(GovShare.Node.Logs.LogKind.Exchange).Select(e => e.Record)
            .OfType<GovShare.Node.Logs.LogRecord>().Where(r => r.Kind == GovShare.Node.Logs.ExchangeKind.Pull && r.Recipient is not null).ToList();
        Assert.Equal([(200, recipient), (403, stranger)], pulls.Select(r => (r.Status, r.Recipient!)));

        // Art. 29: the user complains about the provider, who answers; both list it.
        var file = await GovShareProcess.RunAsync(user, ["complaint", "file", "--resource", Resource, "--subject", "数据更新不及时", "--description", "企业登记信息三个月未更新"]);
        Assert.True(file.ExitCode == ExitCodes.Ok, file.ToString());
        var complaint = JsonDocument.Parse(file.Stdout).RootElement;
        Assert.StartsWith("TS", complaint.GetProperty("number").GetString(), StringComparison.Ordinal);
        var answer = await Provider("complaint", "answer", complaint.GetProperty("id").GetString()!, "--upheld", "--reply", "已恢复每日更新");
        Assert.True(answer.ExitCode == ExitCodes.Ok, answer.ToString());
        var mine = await GovShareProcess.RunAsync(user, ["complaint", "list"]);
        Assert.True(mine.ExitCode == ExitCodes.Ok, mine.ToString());
        Assert.Contains("upheld", mine.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_EveryCommandHasAnExample() => Assert.Empty(CommandExamples.Missing(GovShareCommand.Create()));
}
