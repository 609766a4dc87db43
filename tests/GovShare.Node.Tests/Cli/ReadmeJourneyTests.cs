using System.Globalization;
using System.Text;
using System.Text.Json;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Cli;

/// <summary>One node (and its PKI) for the whole class: each test works on resource codes of its own.</summary>
public sealed class ReadmeJourneyNode : IAsyncLifetime
{
    public ExchangeFixture F { get; private set; } = null!;

    public string Folder { get; } = Directory.CreateTempSubdirectory("govshare-readme-journey-").FullName;

    public async Task InitializeAsync() => F = await ExchangeFixture.StartAsync();

    public async Task DisposeAsync()
    {
        await F.DisposeAsync();
        Directory.Delete(Folder, recursive: true);
    }
}

/// <summary>
/// README.md's department commands that are not pushes or syncs, run with the built <c>govshare</c>
/// against a real node as a person (on a pseudo-terminal: tables) and a script (redirected:
/// <c>--json</c>) runs them, on 100,000 rows: applying for a conditional resource, the provider's
/// inbox, approval and denial, the user's requests and grants, and the pull the grant then allows;
/// the README's comparison as written, and the inconsistency case opened from it; the catalog's
/// export and import. Each checks the exit code, what is shown, and what the node then holds.
/// </summary>
public sealed class ReadmeJourneyTests(ReadmeJourneyNode shared) : IClassFixture<ReadmeJourneyNode>
{
    private const int Rows = 100_000;

    private ExchangeFixture F => shared.F;

    private string Folder(string name, TestDepartment department, string purpose = "P-2024-001") =>
        GovShareProcess.DepartmentFolder(shared.Folder, name, F.Node.ExchangeAddress, department, F.Pki.Folder.TrustAnchorsFile, purpose);

    [Fact]
    public async Task Readme_RequestApply_Inbox_ApproveDeny_RequestAndGrantLists_TablesOnATerminal_JsonRedirected_ThenThePull()
    {
        // The README's conditional resource, with the 100,000 residents its provider holds.
        var readme = ReadmeCommands.Read("README.md");
        var apply = Assert.Single(ReadmeCommands.Lines(readme), c => c[..2] is ["request", "apply"]);
        var code = apply[2];
        Assert.True(F.Node.Services.GetRequiredService<CatalogStore>().Create(Entry(code, F.Provider, new ShareAttributes(ShareType.Conditional, Condition: "For social assistance casework only")), Caller(F.Provider)).Succeeded);
        using (var pushed = await F.PushAsync(code, Rows))
        {
            Assert.True(pushed.IsSuccessStatusCode, await pushed.Content.ReadAsStringAsync());
        }

        var user = Folder("request-user", F.User);
        var provider = Folder("request-provider", F.Provider);

        // The README's application as written — unless its period has ended, which the node would
        // refuse (then the same line with this year's dates).
        var today = DateOnly.FromDateTime(DateTime.UtcNow.AddHours(8));
        var to = DateOnly.Parse(apply[Array.IndexOf(apply, "--to") + 1], CultureInfo.InvariantCulture);
        if (to < today)
        {
            apply[Array.IndexOf(apply, "--from") + 1] = $"{today:yyyy-MM-dd}";
            apply[Array.IndexOf(apply, "--to") + 1] = $"{today.AddDays(180):yyyy-MM-dd}";
        }

        var applied = await GovShareProcess.RunAsync(user, apply);
        Assert.True(applied.ExitCode == ExitCodes.Ok, applied.ToString());
        var readmeRequest = JsonDocument.Parse(applied.Stdout).RootElement.GetProperty("id").GetString()!;
        string[] Application(string purposeCode, params string[] items) =>
            ["request", "apply", code, .. items.SelectMany(i => new[] { "--item", i }), "--purpose-code", purposeCode, "--purpose", "低保复核", "--legal-basis", "Yunnan rules Art. 25",
             "--from", $"{today:yyyy-MM-dd}", "--to", $"{today.AddDays(90):yyyy-MM-dd}", "--contact-name", "王五", "--contact-phone", "0871-1234567"];
        var income = await GovShareProcess.RunAsync(user, Application("P-2024-002", "Annual Income"));
        Assert.True(income.ExitCode == ExitCodes.Ok, income.ToString());
        var incomeRequest = JsonDocument.Parse(income.Stdout).RootElement.GetProperty("id").GetString()!;
        // A second application for the same purpose waits for the first's decision: the node's 409, readably.
        var twice = await GovShareProcess.RunAsync(user, Application("P-2024-001", "姓名"));
        Assert.True(twice.ExitCode == ExitCodes.Failed, twice.ToString());
        Assert.Contains("still awaiting a decision", twice.Stderr, StringComparison.Ordinal);

        // The provider's inbox on a terminal: a table, its Chinese cells aligned by display width.
        var inbox = await GovShareProcess.RunOnTerminalAsync(provider, ["inbox"]);
        Assert.True(inbox.ExitCode == ExitCodes.Ok, inbox.ToString());
        Assert.Contains("Requests to decide (2)", inbox.Stdout, StringComparison.Ordinal);
        Assert.Matches($@"{readmeRequest} \| {System.Text.RegularExpressions.Regex.Escape(code)} \| Kunming Civil Affairs Bureau \| Kunming Public Security Bureau \| P-2024-001 +\| name,birth_date", inbox.Stdout);
        Assert.True(inbox.ShowsNoInternals, inbox.ToString());

        // The same list for a script: the node's JSON, redirected.
        var toDecide = await GovShareProcess.RunAsync(provider, ["request", "list", "--role", "provider", "--status", "submitted", "--json"]);
        Assert.True(toDecide.ExitCode == ExitCodes.Ok, toDecide.ToString());
        Assert.Equal(new[] { incomeRequest, readmeRequest }.Order(StringComparer.Ordinal), JsonDocument.Parse(toDecide.Stdout).RootElement.EnumerateArray().Select(r => r.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));

        // Approve the README's application for 姓名 and 出生日期 (the year only); then the same
        // items for use from today (the README's period may start later); deny the income.
        var approve = await GovShareProcess.RunAsync(provider, ["request", "approve", readmeRequest, "--item", "姓名", "--item", "出生日期:date,year"]);
        Assert.True(approve.ExitCode == ExitCodes.Ok, approve.ToString());
        var now = await GovShareProcess.RunAsync(user, Application("P-2024-001", "姓名", "出生日期"));
        Assert.True(now.ExitCode == ExitCodes.Ok, now.ToString());
        var nowRequest = JsonDocument.Parse(now.Stdout).RootElement.GetProperty("id").GetString()!;
        var approveNow = await GovShareProcess.RunAsync(provider, ["request", "approve", nowRequest, "--item", "姓名", "--item", "出生日期:date,year"]);
        Assert.True(approveNow.ExitCode == ExitCodes.Ok, approveNow.ToString());

        var badMask = await GovShareProcess.RunAsync(provider, ["request", "approve", incomeRequest, "--item", "Annual Income:blur"]);
        Assert.True(badMask.ExitCode == ExitCodes.Usage, badMask.ToString());
        Assert.Contains("--item Annual Income:blur: the mask is", badMask.Stderr, StringComparison.Ordinal);
        var deny = await GovShareProcess.RunAsync(provider, ["request", "deny", incomeRequest, "--reason-code", "not-necessary", "--reason", "收入信息与低保复核无关"]);
        Assert.True(deny.ExitCode == ExitCodes.Ok, deny.ToString());
        var again = await GovShareProcess.RunAsync(provider, ["request", "deny", incomeRequest, "--reason-code", "not-necessary", "--reason", "again"]);
        Assert.True(again.ExitCode == ExitCodes.Failed, again.ToString());
        Assert.Contains("Refused (409)", again.Stderr, StringComparison.Ordinal);
        Assert.True(again.ShowsNoInternals, again.ToString());

        // What the node holds: two decisions to approve, one to deny, and two grants of the two items.
        var requests = F.Node.Services.GetRequiredService<ShareRequestStore>();
        ShareRequestStatus Status(string id) => requests.Get(id, Caller(F.Provider)).Value!.Status;
        Assert.Equal((ShareRequestStatus.Approved, ShareRequestStatus.Approved, ShareRequestStatus.Denied), (Status(readmeRequest), Status(nowRequest), Status(incomeRequest)));
        var grants = F.Node.Services.GetRequiredService<GrantStore>().ForUser(F.User.CreditCode).Where(g => g.ResourceCode == code).ToList();
        Assert.Equal(2, grants.Count);
        Assert.All(grants, g => Assert.Equal(["name", "birth_date"], g.Items.Select(i => i.ItemId)));

        // The user's requests and grants: tables on a terminal, JSON redirected.
        var mine = await GovShareProcess.RunOnTerminalAsync(user, ["request", "list"]);
        Assert.True(mine.ExitCode == ExitCodes.Ok, mine.ToString());
        Assert.Matches($@"{incomeRequest} \| {System.Text.RegularExpressions.Regex.Escape(code)} \| Kunming Civil Affairs Bureau \| Kunming Public Security Bureau \| P-2024-002 +\| income +\| denied", mine.Stdout);
        Assert.Contains("(3 rows)", mine.Stdout, StringComparison.Ordinal);
        var grantTable = await GovShareProcess.RunOnTerminalAsync(user, ["grant", "list"]);
        Assert.True(grantTable.ExitCode == ExitCodes.Ok, grantTable.ToString());
        foreach (var grant in grants)
        {
            Assert.Matches($@"{grant.Id} \| {System.Text.RegularExpressions.Regex.Escape(code)} \| {F.User.CreditCode} \| P-2024-001 \| name,birth_date \| {grant.ValidTo:yyyy-MM-dd}", grantTable.Stdout);
        }

        var grantJson = await GovShareProcess.RunAsync(user, ["grant", "list", "--json"]);
        Assert.True(grantJson.ExitCode == ExitCodes.Ok, grantJson.ToString());
        Assert.Equal(grants.Select(g => g.Id).Order(StringComparer.Ordinal), JsonDocument.Parse(grantJson.Stdout).RootElement.EnumerateArray()
            .Where(g => g.GetProperty("resourceCode").GetString() == code).Select(g => g.GetProperty("id").GetString()!).Order(StringComparer.Ordinal));

        // The grant in force lets the user pull the two items of all 100,000 rows, the birth date as its year.
        var pull = await GovShareProcess.RunAsync(user, ["pull", "--resource", code, "--csv", "-"]);
        Assert.True(pull.ExitCode == ExitCodes.Ok, pull.ToString());
        var lines = pull.Stdout.TrimStart('\uFEFF').Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.Equal(Rows + 1, lines.Count);
        Assert.Equal(["姓名,出生日期", "张三,1950", "李四光,1951"], lines.Take(3));
        var denied = await GovShareProcess.RunAsync(user, ["pull", "--resource", code, "--purpose", "P-2024-002", "--csv", "-"]);
        Assert.True(denied.ExitCode == ExitCodes.Failed, denied.ToString());
    }

    [Fact]
    public async Task Readme_Compare_AsWritten_On100000Rows_RedirectedAndOnATerminal_ThenTheCaseFromIt()
    {
        // The README's comparison: the user's copy of the residents (GB18030, as Excel saves it)
        // against the provider's 100,000, keyed by 公民身份号码, comparing 姓名 and 出生日期.
        var readme = ReadmeCommands.Read("README.md");
        var lines = ReadmeCommands.Lines(readme);
        var compare = Assert.Single(lines, c => c[0] == "compare");
        var openCase = Assert.Single(lines, c => c[..2] is ["dispute", "case"]);
        var code = compare[Array.IndexOf(compare, "--resource") + 1];
        var rowKey = openCase[Array.IndexOf(openCase, "--row-key") + 1];
        Assert.Equal("101001/000001", code); // ExchangeFixture's unconditional residents, here keyed by the ID number
        var catalog = F.Node.Services.GetRequiredService<CatalogStore>();
        var entry = catalog.Get(code)!;
        Assert.True(catalog.Update(code, entry with { Items = [entry.Items[0] with { Key = true }, .. entry.Items.Skip(1)] }, entry.Version, Caller(F.Provider)).Succeeded);

        // The provider pushes its register of 100,000 residents with the tool (UTF-8 CSV, every item mapped).
        var provider = Folder("compare-provider", F.Provider);
        await File.WriteAllTextAsync(Path.Combine(provider, "mapping.json"), """
            { "columns": [ { "column": "公民身份号码", "item": "id_number", "type": "utf8" }, { "column": "姓名", "item": "name", "type": "utf8" },
                           { "column": "出生日期", "item": "birth_date", "type": "date32" }, { "column": "年收入", "item": "income", "type": "float64" },
                           { "column": "住址", "item": "address", "type": "utf8" } ] }
            """);
        await File.WriteAllLinesAsync(Path.Combine(provider, "residents.csv"),
            ["公民身份号码,姓名,出生日期,年收入,住址", .. Enumerable.Range(0, Rows).Select(i => string.Create(CultureInfo.InvariantCulture, $"{Resident(i).Id},{Name(i)},{Resident(i).Birth:yyyy-MM-dd},{30000 + i},昆明市五华区某路{i}号"))]);
        var pushed = await GovShareProcess.RunAsync(provider, ["push", "--csv", "residents.csv", "--mapping", "mapping.json", "--resource", code]);
        Assert.True(pushed.ExitCode == ExitCodes.Ok, pushed.ToString());

        var user = Folder("compare-user", F.User);
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        var csv = compare[Array.IndexOf(compare, "--csv") + 1];
        await using (var writer = new StreamWriter(Path.Combine(user, csv), false, Encoding.GetEncoding("GB18030")) { NewLine = "\r\n" })
        {
            // The user's copy: the provider's residents but for every 1,000th name, and the README's row key, which the provider does not hold.
            await writer.WriteLineAsync("公民身份号码,姓名,出生日期,备注");
            for (var i = 0; i < Rows; i++)
            {
                await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{Resident(i).Id},{(i % 1000 == 0 ? "王五" : Name(i))},{Resident(i).Birth:yyyy-MM-dd},第{i}户"));
            }

            await writer.WriteLineAsync($"{rowKey},赵六,1990-01-01,新增");
        }

        var run = await GovShareProcess.RunAsync(user, compare);

        Assert.True(run.ExitCode == ExitCodes.Ok, run.ToString());
        Assert.Contains($"Compared 100,001 rows with {code} version 1 (100,000 rows held)", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Rows in both: 100,000   only yours: 1   only the provider's: 0", run.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"姓名 \(name\)\s+99,900\s+100\s+0\s+0", run.Stdout);
        Assert.Matches(@"出生日期 \(birth_date\)\s+100,000\s+0\s+0\s+0", run.Stdout);
        var keysFile = compare[Array.IndexOf(compare, "--keys-file") + 1];
        Assert.Contains($"Differing rows: 100. Wrote 101 keys to {keysFile}.", run.Stdout, StringComparison.Ordinal);
        Assert.Contains("Left out 1 column(s) that are not the key or compared items: 备注.", run.Stderr, StringComparison.Ordinal);
        var keys = await File.ReadAllLinesAsync(Path.Combine(user, keysFile));
        Assert.Equal(102, keys.Length);
        // The keys as this user sees the ID number: masked, keeping 6 and 4 (the item's default masking; no grant here).
        Assert.Contains($"530102********{Resident(1000).Id[^4..]},differs: name", keys);
        Assert.Contains(Assert.Single(keys, k => k.EndsWith(",not held by the provider", StringComparison.Ordinal)), new[] { $"{rowKey},not held by the provider", $"530102********{rowKey[^4..]},not held by the provider" });

        // On a terminal: the same answer.
        var terminal = await GovShareProcess.RunOnTerminalAsync(user, compare);
        Assert.True(terminal.ExitCode == ExitCodes.Ok, terminal.ToString());
        Assert.Contains("Rows in both: 100,000   only yours: 1   only the provider's: 0", terminal.Stdout, StringComparison.Ordinal);

        // The README's case, naming the comparison the summary printed.
        var comparison = System.Text.RegularExpressions.Regex.Match(run.Stdout, @"exchange (\S+)\.").Groups[1].Value;
        var at = Array.IndexOf(openCase, "<exchange");
        Assert.Equal("id>", openCase[at + 1]); // the placeholder, split as a shell splits it
        string[] caseLine = [.. openCase[..at], comparison, .. openCase[(at + 2)..]];
        var opened = await GovShareProcess.RunAsync(user, caseLine);
        Assert.True(opened.ExitCode == ExitCodes.Ok, opened.ToString());
        var dispute = JsonDocument.Parse(opened.Stdout).RootElement;
        Assert.Equal(("inconsistent", comparison), (dispute.GetProperty("kind").GetString(), dispute.GetProperty("comparisonId").GetString()));
        var toAnswer = await GovShareProcess.RunOnTerminalAsync(provider, ["dispute", "list", "--role", "provider"]);
        Assert.True(toAnswer.ExitCode == ExitCodes.Ok, toAnswer.ToString());
        Assert.Contains($"{dispute.GetProperty("id").GetString()} | {code} | 1       | inconsistent", toAnswer.Stdout, StringComparison.Ordinal);
    }

    /// <summary>Resident <paramref name="i"/>: an 18-character ID number (division, birth date, sequence, check) unique for i below 18,000,000.</summary>
    private static (string Id, DateOnly Birth) Resident(int i)
    {
        var birth = new DateOnly(1950, 1, 1).AddDays(i % 18_000);
        return (string.Create(CultureInfo.InvariantCulture, $"530102{birth:yyyyMMdd}{i / 18_000:D3}X"), birth);
    }

    [Fact]
    public async Task Catalog_ExportChangedAndImported_AllOrNothing_TablesOnATerminal_JsonRedirected()
    {
        var provider = Folder("catalog-provider", F.Provider);
        var user = Folder("catalog-user", F.User);

        // The provider exports its catalog, adds two resources and renames one in the file, and imports it.
        var export = await GovShareProcess.RunAsync(provider, ["catalog", "export", "--output", "catalog.json"]);
        Assert.True(export.ExitCode == ExitCodes.Ok, export.ToString());
        var exported = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(provider, "catalog.json")))!;
        var entries = exported["entries"]!.AsArray();
        var before = entries.Count;
        var conditional = entries.Single(e => e!["resourceCode"]!.GetValue<string>() == Conditional)!;
        conditional["name"] = "昆明市户籍人口（有条件共享）";
        foreach (var (newCode, name) in new[] { ("101001/000051", "企业登记信息"), ("101001/000052", "企业年报信息") })
        {
            var added = entries.Single(e => e!["resourceCode"]!.GetValue<string>() == Unconditional)!.DeepClone().AsObject();
            added["resourceCode"] = newCode;
            added["name"] = name;
            added.Remove("provider"); // left out: it is the caller
            foreach (var field in new[] { "version", "status", "createdAt", "updatedAt", "shareReview", "lastShareDecision" })
            {
                added.Remove(field);
            }

            entries.Add(added);
        }

        // A stale entry in the file (another version than the node's): the whole import is refused, nothing changes.
        var stale = exported.DeepClone();
        stale["entries"]!.AsArray().Single(e => e!["resourceCode"]!.GetValue<string>() == Unconditional)!["version"] = 99;
        await File.WriteAllTextAsync(Path.Combine(provider, "stale.json"), stale.ToJsonString(), new UTF8Encoding(false));
        var refused = await GovShareProcess.RunAsync(provider, ["catalog", "import", "--file", "stale.json"]);
        Assert.True(refused.ExitCode == ExitCodes.Failed, refused.ToString());
        Assert.Contains("version", refused.Stderr, StringComparison.Ordinal);
        Assert.True(refused.ShowsNoInternals, refused.ToString());
        var catalog = F.Node.Services.GetRequiredService<CatalogStore>();
        Assert.Null(catalog.Get("101001/000051"));

        // Saved by a Chinese spreadsheet tool's JSON export: GB18030 is read as such.
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        await File.WriteAllBytesAsync(Path.Combine(provider, "catalog-gb.json"), Encoding.GetEncoding("GB18030").GetBytes(exported.ToJsonString()));
        var import = await GovShareProcess.RunAsync(provider, ["catalog", "import", "--file", "catalog-gb.json"]);
        Assert.True(import.ExitCode == ExitCodes.Ok, import.ToString());
        Assert.Equal("企业登记信息", catalog.Get("101001/000051")!.Name);
        Assert.Equal(F.Provider.CreditCode, catalog.Get("101001/000052")!.Provider.CreditCode);
        Assert.Equal("昆明市户籍人口（有条件共享）", catalog.Get(Conditional)!.Name);

        // The provider's catalog on a terminal: a table; for a script, the JSON.
        var mine = await GovShareProcess.RunOnTerminalAsync(provider, ["catalog", "mine"]);
        Assert.True(mine.ExitCode == ExitCodes.Ok, mine.ToString());
        Assert.Matches(@"101001/000051 \| 企业登记信息 +\| Kunming Public Security Bureau \| unconditional", mine.Stdout);
        Assert.Matches(@"101001/000002 \| 昆明市户籍人口（有条件共享） \| Kunming Public Security Bureau \| conditional", mine.Stdout);
        Assert.Contains($"({before + 2} rows)", mine.Stdout, StringComparison.Ordinal);
        var mineJson = await GovShareProcess.RunAsync(provider, ["catalog", "mine", "--json"]);
        Assert.True(mineJson.ExitCode == ExitCodes.Ok, mineJson.ToString());
        Assert.Contains(JsonDocument.Parse(mineJson.Stdout).RootElement.GetProperty("entries").EnumerateArray(), e => e.GetProperty("resourceCode").GetString() == "101001/000052");

        // Another department finds them (README: `govshare catalog search 企业`), on a terminal and as JSON.
        var search = await GovShareProcess.RunOnTerminalAsync(user, ["catalog", "search", "企业"]);
        Assert.True(search.ExitCode == ExitCodes.Ok, search.ToString());
        Assert.Matches(@"101001/000051 \| 企业登记信息 \| Kunming Public Security Bureau", search.Stdout);
        var searchJson = await GovShareProcess.RunAsync(user, ["catalog", "search", "企业", "--json"]);
        Assert.True(searchJson.ExitCode == ExitCodes.Ok, searchJson.ToString());
        Assert.Equal(["101001/000051", "101001/000052"], JsonDocument.Parse(searchJson.Stdout).RootElement.GetProperty("entries").EnumerateArray()
            .Select(e => e.GetProperty("resourceCode").GetString()!).Where(c => c.StartsWith("101001/00005", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        var tree = await GovShareProcess.RunOnTerminalAsync(user, ["catalog", "tree", "企业"]);
        Assert.True(tree.ExitCode == ExitCodes.Ok, tree.ToString());
        Assert.Matches(@"530100 \| 101001/000052 \| 企业年报信息", tree.Stdout);
    }
}
