using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GovShare.Adapters.Tests;
using GovShare.Cli.Commands;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Logs;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// A department's journey with the built <c>govshare</c>, as README.md and adapters/README.md show
/// it: 100,000 rows of a GB18030 spreadsheet export with every item type, pushed redirected and on
/// a terminal, pulled by another department into CSV (Beijing time, saying so), JSON lines on
/// standard output, PostgreSQL (binary COPY, no duplicates unasked, upsert by key) and SQLite,
/// pushed back from PostgreSQL, and kept in sync from SQLite — including a manual push between two
/// syncs, which the sync notices and repairs instead of diverging.
/// </summary>
public sealed class DepartmentJourneyTests : IAsyncLifetime
{
    private const string Resource = "101001/000041";
    private const int Rows = 100_000;

    private static readonly (string Id, string Name, string Type)[] Items =
    [
        ("code", "统一社会信用代码", "utf8"), ("name", "企业名称", "utf8"), ("capital", "注册资本", "decimal128(18,2)"),
        ("employees", "从业人数", "int32"), ("revenue", "营业收入", "int64"), ("score", "信用评分", "float64"),
        ("active", "是否存续", "boolean"), ("founded", "成立日期", "date32"), ("updated_at", "更新时间", "timestamp"), ("logo", "标志", "binary"),
    ];

    private ExchangeFixture _f = null!;
    private string _folder = null!;
    private string _provider = null!;
    private string _user = null!;

    public async Task InitializeAsync()
    {
        // Each govshare run is a new process with a new TLS handshake: TestNode allows a minute for it.
        _f = await ExchangeFixture.StartAsync();
        _folder = Directory.CreateTempSubdirectory("govshare-journey-").FullName;
        var entry = Entry(Resource, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = "企业登记",
            Items = [.. Items.Select(i => new InformationItem(i.Id, i.Name, i.Type, i.Id == "code" ? 18 : null, Nullable: i.Id != "code"))],
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);
        _provider = GovShareProcess.DepartmentFolder(_folder, "provider", _f.Node.ExchangeAddress, _f.Provider, _f.Pki.Folder.TrustAnchorsFile);
        _user = GovShareProcess.DepartmentFolder(_folder, "user", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);
        // The README's mapping form: spreadsheet column → item id and type.
        await File.WriteAllTextAsync(Path.Combine(_provider, "mapping.json"),
            "{ \"columns\": [" + string.Join(",", Items.Select(i => $"{{ \"column\": \"{i.Name}\", \"item\": \"{i.Id}\", \"type\": \"{i.Type}\" }}")) + "] }");
        await WriteGb18030CsvAsync(Path.Combine(_provider, "企业登记.csv"));
    }

    public async Task DisposeAsync()
    {
        await _f.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    private IReadOnlyList<DatasetVersion> Versions => _f.Node.Services.GetRequiredService<DatasetStore>().Versions(Resource);

    [Fact]
    public async Task Journey_Gb18030EveryType_PushPullSync_RedirectedAndOnATerminal()
    {
        // Push, redirected (as cron or a script runs it): a plain progress line, then the receipt.
        var push = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "企业登记.csv", "--mapping", "mapping.json", "--resource", Resource]);
        Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());
        Assert.Contains($"Pushed {Rows:N0} rows to {Resource}", push.Stdout, StringComparison.Ordinal);
        Assert.Contains("push: 100,000 rows, 100% of ", push.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", push.Stderr, StringComparison.Ordinal);
        Assert.Equal(Rows, Versions[^1].Rows);

        // The same push on a terminal: the line is redrawn in place, with a percentage.
        var terminal = await GovShareProcess.RunOnTerminalAsync(_provider, ["push", "--csv", "企业登记.csv", "--mapping", "mapping.json", "--resource", Resource]);
        Assert.True(terminal.ExitCode == ExitCodes.Ok, terminal.ToString());
        Assert.Contains("\r", terminal.Stdout, StringComparison.Ordinal);
        Assert.Matches(@"push: 100,000 rows, 100% of [0-9.]+ MB", terminal.Stdout);
        Assert.Equal(2, Versions.Count);

        // Another department pulls it: CSV at Beijing time, saying so; JSON lines to a pipe.
        var csv = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--csv", "out.csv", "--time-zone", "+08:00"]);
        Assert.True(csv.ExitCode == ExitCodes.Ok, csv.ToString());
        var lines = await File.ReadAllLinesAsync(Path.Combine(_user, "out.csv"));
        Assert.Equal(Rows + 1, lines.Length);
        Assert.Equal("91530100MA00000001,云南测试企业1号,1.01,1,1000003,0.125,false,2000-01-02,2026-03-01T08:30:01.000000+08:00,AQEC", lines[1]);
        var arrow = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--arrow", "out.arrow"]);
        Assert.True(arrow.ExitCode == ExitCodes.Ok, arrow.ToString());
        Assert.Equal(Rows, await ArrowFileRowsAsync(Path.Combine(_user, "out.arrow")));
        var jsonl = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--jsonl", "-"]);
        Assert.True(jsonl.ExitCode == ExitCodes.Ok, jsonl.ToString());
        Assert.Equal(Rows, jsonl.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        Assert.Contains("\"更新时间\":\"2026-03-01T00:30:01.000000Z\"", jsonl.Stdout, StringComparison.Ordinal);

        // Into PostgreSQL by COPY; a second pull is refused rather than doubling the rows; upsert by key is not.
        using var postgres = new PostgresServer();
        var pg = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--postgres", postgres.ConnectionString, "--table", "enterprises"]);
        Assert.True(pg.ExitCode == ExitCodes.Ok, pg.ToString());
        var again = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--postgres", postgres.ConnectionString, "--table", "enterprises"]);
        Assert.True(again.ExitCode == ExitCodes.Usage, again.ToString());
        Assert.Contains("already holds 100,000 rows", again.Stderr, StringComparison.Ordinal);
        await ExecuteAsync(postgres, "ALTER TABLE enterprises ADD PRIMARY KEY (\"统一社会信用代码\")");
        var upsert = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--postgres", postgres.ConnectionString, "--table", "enterprises", "--upsert-key", "统一社会信用代码"]);
        Assert.True(upsert.ExitCode == ExitCodes.Ok, upsert.ToString());
        Assert.Equal(Rows, await ScalarAsync(postgres, "SELECT COUNT(*) FROM enterprises"));
        var upsertOnTerminal = await GovShareProcess.RunOnTerminalAsync(_user, ["pull", "--resource", Resource, "--postgres", postgres.ConnectionString, "--table", "enterprises", "--upsert-key", "统一社会信用代码"]);
        Assert.True(upsertOnTerminal.ExitCode == ExitCodes.Ok, upsertOnTerminal.ToString());
        Assert.Matches(@"\rpull: 100,000 rows", upsertOnTerminal.Stdout);
        Assert.Equal(Rows, await ScalarAsync(postgres, "SELECT COUNT(*) FROM enterprises"));
        Assert.Equal(new DateTime(2026, 3, 1, 0, 30, 1, DateTimeKind.Utc), await ScalarAsync(postgres, "SELECT \"更新时间\" FROM enterprises WHERE \"统一社会信用代码\" = '91530100MA00000001'"));

        // The provider pushes from PostgreSQL (its columns named by the items: the mapping names them).
        await File.WriteAllTextAsync(Path.Combine(_provider, "pg.json"), "{ \"columns\": [" + string.Join(",", Items.Select(i => $"{{ \"column\": \"{i.Name}\", \"item\": \"{i.Id}\", \"type\": \"{i.Type}\" }}")) + "] }");
        var fromPg = await GovShareProcess.RunAsync(_provider, ["push", "--postgres", postgres.ConnectionString, "--table", "enterprises", "--mapping", "pg.json", "--resource", Resource]);
        Assert.True(fromPg.ExitCode == ExitCodes.Ok, fromPg.ToString());
        Assert.Equal(Rows, Versions[^1].Rows);

        // Sync from SQLite (the README's command): first in full, then one changed row.
        var db = Path.Combine(_provider, "dept.db");
        var toSqlite = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Resource, "--sqlite", db, "--table", "enterprises"]);
        Assert.True(toSqlite.ExitCode == ExitCodes.Ok, toSqlite.ToString());
        string[] sync = ["sync", "--sqlite", "dept.db", "--table", "enterprises", "--mapping", "mapping.json", "--resource", Resource, "--key", "code"];
        var first = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(first.ExitCode == ExitCodes.Ok, first.ToString());
        Assert.Contains($"pushed {Rows:N0} of {Rows:N0} rows (Replace", first.Stdout, StringComparison.Ordinal);
        await using (var connection = new SqliteConnection($"Data Source={db};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO enterprises (\"统一社会信用代码\", \"企业名称\") VALUES ('91530100MB99999999', '新设企业')";
            await insert.ExecuteNonQueryAsync();
        }

        var oneNew = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(oneNew.ExitCode == ExitCodes.Ok, oneNew.ToString());
        Assert.Contains("pushed 1 of 100,001 rows (Append", oneNew.Stdout, StringComparison.Ordinal);
        Assert.Equal(Rows + 1, Versions[^1].Rows);

        // Someone pushes by hand between two syncs: the next sync says so and re-sends in full.
        await File.WriteAllTextAsync(Path.Combine(_provider, "four.csv"), "统一社会信用代码\n91530100MC00000001\n91530100MC00000002\n91530100MC00000003\n91530100MC00000004\n");
        await File.WriteAllTextAsync(Path.Combine(_provider, "code-only.json"), "{ \"columns\": [ { \"column\": \"统一社会信用代码\", \"item\": \"code\" } ] }");
        var manual = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "four.csv", "--mapping", "code-only.json", "--resource", Resource]);
        Assert.True(manual.ExitCode == ExitCodes.Usage, manual.ToString()); // every item is pushed: a partial mapping is refused before the upload
        var small = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "企业登记.csv", "--mapping", "mapping.json", "--resource", Resource]);
        Assert.True(small.ExitCode == ExitCodes.Ok, small.ToString());
        var repaired = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(repaired.ExitCode == ExitCodes.Ok, repaired.ToString());
        Assert.Contains("another push happened", repaired.Stdout, StringComparison.Ordinal);
        Assert.Equal(Rows + 1, Versions[^1].Rows);
    }

    [Fact]
    public async Task Readme_DepartmentCommands_AsWritten_RedirectedAndOnATerminal()
    {
        // README.md "For departments", read from the README itself so it cannot drift from what runs:
        // its connection file (paths relative to it), its mapping (with the timestamp item), its
        // push, dry-run and sync commands, on 100,000 rows of the spreadsheet it names, in GB18030.
        const string Code = "102001/000001";
        var readme = ReadmeCommands.Read("README.md");
        var mapping = JsonDocument.Parse(System.Text.RegularExpressions.Regex.Match(readme, @"```json\s*(\{\s*""columns"".*?\})\s*```", System.Text.RegularExpressions.RegexOptions.Singleline).Groups[1].Value);
        var items = mapping.RootElement.GetProperty("columns").EnumerateArray()
            .Select(c => (Column: c.GetProperty("column").GetString()!, Item: c.GetProperty("item").GetString()!, Type: c.GetProperty("type").GetString()!)).ToList();
        Assert.Equal<string>(["utf8", "decimal128(18,2)", "timestamp"], items.Select(i => i.Type));
        var entry = Entry(Code, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = "企业登记",
            Items = [.. items.Select((i, n) => new InformationItem(i.Item, i.Column, i.Type, n == 0 ? 18 : null, Nullable: n != 0, Key: n == 0))],
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);

        var folder = Directory.CreateDirectory(Path.Combine(_folder, "readme")).FullName;
        var connection = System.Text.RegularExpressions.Regex.Match(readme, @"```json\s*(\{\s*""node"".*?\})\s*```", System.Text.RegularExpressions.RegexOptions.Singleline).Groups[1].Value;
        var settings = JsonDocument.Parse(connection).RootElement;
        File.Copy(_f.Provider.Files.CertificatePath, Path.Combine(folder, settings.GetProperty("certificate").GetString()!));
        File.Copy(_f.Provider.Files.KeyPath, Path.Combine(folder, settings.GetProperty("key").GetString()!));
        File.Copy(_f.Pki.Folder.TrustAnchorsFile, Path.Combine(folder, settings.GetProperty("ca").GetString()!));
        await File.WriteAllTextAsync(Path.Combine(folder, "govshare.department.json"), connection.Replace(settings.GetProperty("node").GetString()!, _f.Node.ExchangeAddress.ToString(), StringComparison.Ordinal));
        await File.WriteAllTextAsync(Path.Combine(folder, "mapping.json"), mapping.RootElement.GetRawText());
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        await using (var writer = new StreamWriter(Path.Combine(folder, "企业登记.csv"), false, Encoding.GetEncoding("GB18030"), 1 << 16) { NewLine = "\r\n" })
        {
            await writer.WriteLineAsync(string.Join(",", items.Select(i => i.Column)));
            for (var i = 1; i <= Rows; i++)
            {
                // Bare local times, as a spreadsheet writes them: Beijing time by default.
                await writer.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"91530100MA{i:D8},{i}.{i % 100:D2},{new DateTime(2026, 3, 1, 8, 30, 0).AddSeconds(i):yyyy-MM-dd HH:mm:ss}"));
            }
        }

        var commands = ReadmeCommands.Lines(readme);
        var dryRun = Assert.Single(commands, c => c[0] == "push" && c.Contains("--dry-run"));
        var push = Assert.Single(commands, c => c[0] == "push" && !c.Contains("--dry-run"));
        var sync = Assert.Single(commands, c => c[0] == "sync");
        Assert.Equal<string>(["--every", "1h"], sync[^2..]);

        // The dry run, redirected and on a terminal: every value checked, nothing published.
        var dry = await GovShareProcess.RunAsync(folder, dryRun);
        Assert.True(dry.ExitCode == ExitCodes.Ok, dry.ToString());
        Assert.Contains($"Dry run: {Rows:N0} rows match the 3 items of {Code}", dry.Stdout, StringComparison.Ordinal);
        var dryOnTerminal = await GovShareProcess.RunOnTerminalAsync(folder, dryRun);
        Assert.True(dryOnTerminal.ExitCode == ExitCodes.Ok, dryOnTerminal.ToString());
        Assert.Contains("\rcheck: 100,000 rows, 100% of ", dryOnTerminal.Stdout, StringComparison.Ordinal);
        Assert.Empty(VersionsOf(Code));

        // The push, redirected and on a terminal.
        var pushed = await GovShareProcess.RunAsync(folder, push);
        Assert.True(pushed.ExitCode == ExitCodes.Ok, pushed.ToString());
        Assert.Contains($"Pushed {Rows:N0} rows to {Code}", pushed.Stdout, StringComparison.Ordinal);
        var pushedOnTerminal = await GovShareProcess.RunOnTerminalAsync(folder, push);
        Assert.True(pushedOnTerminal.ExitCode == ExitCodes.Ok, pushedOnTerminal.ToString());
        Assert.Contains("\rpush: 100,000 rows, 100% of ", pushedOnTerminal.Stdout, StringComparison.Ordinal);
        Assert.Equal<long>([Rows, Rows], VersionsOf(Code).Select(v => v.Rows));

        // Another department reads it back: the bare local time went in as Beijing time, and every
        // output says its zone (UTC with Z by default; the zone asked for, on a terminal).
        var utc = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Code, "--csv", "-"]);
        Assert.True(utc.ExitCode == ExitCodes.Ok, utc.ToString());
        Assert.Contains("91530100MA00000001,1.01,2026-03-01T00:30:01.000000Z", utc.Stdout, StringComparison.Ordinal);
        var beijing = await GovShareProcess.RunOnTerminalAsync(_user, ["pull", "--resource", Code, "--csv", "beijing.csv", "--time-zone", "Asia/Shanghai"]);
        Assert.True(beijing.ExitCode == ExitCodes.Ok, beijing.ToString());
        Assert.Contains("\rpull: 100,000 rows", beijing.Stdout, StringComparison.Ordinal);
        var lines = await File.ReadAllLinesAsync(Path.Combine(_user, "beijing.csv"));
        Assert.Equal((Rows + 1, "91530100MA00000001,1.01,2026-03-01T08:30:01.000000+08:00"), (lines.Length, lines[1]));

        // The sync, exactly as written (every hour): its database is the data as the node holds it.
        var toSqlite = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Code, "--sqlite", Path.Combine(folder, sync[Array.IndexOf(sync, "--sqlite") + 1]), "--table", sync[Array.IndexOf(sync, "--table") + 1]]);
        Assert.True(toSqlite.ExitCode == ExitCodes.Ok, toSqlite.ToString());
        // Run once per step (the README's line without its schedule): a test cannot wait an hour.
        // Each run leaves nothing in TMPDIR; the node's versions show what each one sent.
        string[] once = sync[..^2];
        var temp = new Dictionary<string, string> { ["TMPDIR"] = Directory.CreateDirectory(Path.Combine(_folder, "readme-tmp")).FullName };
        var first = await GovShareProcess.RunAsync(folder, once, temp);
        Assert.True(first.ExitCode == ExitCodes.Ok, first.ToString());
        Assert.Contains($"pushed {Rows:N0} of {Rows:N0} rows (Replace", first.Stdout, StringComparison.Ordinal);
        await SqliteAsync(Path.Combine(folder, "dept.db"), "UPDATE enterprises SET \"注册资本\" = '88888888.88' WHERE \"统一社会信用代码\" = '91530100MA00000007'");
        var oneRow = await GovShareProcess.RunAsync(folder, once, temp);
        Assert.True(oneRow.ExitCode == ExitCodes.Ok, oneRow.ToString());
        Assert.Contains($"pushed 1 of {Rows:N0} rows (Merge)", oneRow.Stdout, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(temp["TMPDIR"]));
        var latest = VersionsOf(Code)[^1];
        Assert.Equal((4, PushMode.Merge, (long)Rows), (latest.Version, latest.Mode, latest.Rows));
        var idle = await GovShareProcess.RunOnTerminalAsync(folder, once);
        Assert.True(idle.ExitCode == ExitCodes.Ok, idle.ToString());
        Assert.Contains("100,000 rows scanned, none changed; nothing pushed.", idle.Stdout, StringComparison.Ordinal);
        var after = await GovShareProcess.RunAsync(_user, ["pull", "--resource", Code, "--csv", "-"]);
        Assert.Contains("91530100MA00000007,88888888.88,2026-03-01T00:30:07.000000Z", after.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sync_ByTheCatalogsKey_OneChangedRowSendsOneRow_ADeletedRowOneDelete_NodeHoldsTheSourceRows()
    {
        // The same register, its catalog entry naming 统一社会信用代码 as the key.
        const string Keyed = "101001/000042";
        var db = await KeyedRegisterInSqliteAsync(Keyed, "企业登记（按键同步）", "dept.db");
        string[] sync = ["sync", "--sqlite", "dept.db", "--table", "enterprises", "--mapping", "mapping.json", "--resource", Keyed, "--key", "code"];
        var first = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(first.ExitCode == ExitCodes.Ok, first.ToString());
        Assert.Contains($"pushed {Rows:N0} of {Rows:N0} rows (Replace", first.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("note:", first.Stderr, StringComparison.Ordinal);

        // One row changes at the source: one row goes, as a merge.
        await SqliteAsync(db, "UPDATE enterprises SET \"企业名称\" = '改名企业', \"从业人数\" = 7 WHERE \"统一社会信用代码\" = '91530100MA00000002'");
        var changed = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(changed.ExitCode == ExitCodes.Ok, changed.ToString());
        Assert.Contains($"pushed 1 of {Rows:N0} rows (Merge)", changed.Stdout, StringComparison.Ordinal);
        Assert.Equal((PushMode.Merge, (long)Rows), (VersionsOf(Keyed)[^1].Mode, VersionsOf(Keyed)[^1].Rows));

        // One row is deleted at the source and one added: two rows go, one of them a delete by key.
        await SqliteAsync(db, "DELETE FROM enterprises WHERE \"统一社会信用代码\" = '91530100MA00000003'");
        await SqliteAsync(db, "INSERT INTO enterprises (\"统一社会信用代码\", \"企业名称\") VALUES ('91530100MB99999999', '新设企业')");
        var deleted = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(deleted.ExitCode == ExitCodes.Ok, deleted.ToString());
        Assert.Contains($"pushed 2 of {Rows:N0} rows (Merge, 1 deleted at the source)", deleted.Stdout, StringComparison.Ordinal);

        // Nothing changed: nothing goes.
        var idle = await GovShareProcess.RunAsync(_provider, sync);
        Assert.True(idle.ExitCode == ExitCodes.Ok, idle.ToString());
        Assert.Contains("none changed; nothing pushed", idle.Stdout, StringComparison.Ordinal);

        await AssertNodeHoldsTheSourceAsync(Keyed, db, Rows);
        Assert.Equal(1, await SqliteScalarAsync(db, "SELECT COUNT(*) FROM on_node WHERE \"企业名称\" = '改名企业' AND \"从业人数\" = 7"));
    }

    /// <summary>
    /// The 100,000-row register under <paramref name="code"/>, its catalog entry naming 统一社会信用代码
    /// as the key, pushed with the tool, and pulled into the provider's SQLite file
    /// <paramref name="file"/> (table enterprises) as the source a sync then reads.
    /// </summary>
    private async Task<string> KeyedRegisterInSqliteAsync(string code, string name, string file)
    {
        var entry = Entry(code, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = name,
            Items = [.. Items.Select(i => new InformationItem(i.Id, i.Name, i.Type, i.Id == "code" ? 18 : null, Nullable: i.Id != "code", Key: i.Id == "code"))],
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);
        var push = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "企业登记.csv", "--mapping", "mapping.json", "--resource", code]);
        Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());
        var db = Path.Combine(_provider, file);
        var toSqlite = await GovShareProcess.RunAsync(_user, ["pull", "--resource", code, "--sqlite", db, "--table", "enterprises"]);
        Assert.True(toSqlite.ExitCode == ExitCodes.Ok, toSqlite.ToString());
        return db;
    }

    /// <summary>The node holds exactly the source's rows: pulled back into a second table (on_node), neither has a row the other lacks.</summary>
    private async Task AssertNodeHoldsTheSourceAsync(string code, string db, long rows)
    {
        var back = await GovShareProcess.RunAsync(_user, ["pull", "--resource", code, "--sqlite", db, "--table", "on_node"]);
        Assert.True(back.ExitCode == ExitCodes.Ok, back.ToString());
        Assert.Equal(rows, await SqliteScalarAsync(db, "SELECT COUNT(*) FROM on_node"));
        Assert.Equal(0, await SqliteScalarAsync(db, "SELECT COUNT(*) FROM (SELECT * FROM enterprises EXCEPT SELECT * FROM on_node)"));
        Assert.Equal(0, await SqliteScalarAsync(db, "SELECT COUNT(*) FROM (SELECT * FROM on_node EXCEPT SELECT * FROM enterprises)"));
    }

    [Fact]
    public async Task Push_ValueFailsAfterTheUploadBegan_ExitsDataRejectedNamingTheRow_NodePublishesNothing()
    {
        // The first batch (65,536 rows) is clean and goes out while row 68,000 is still to be read.
        var rows = Enumerable.Range(1, 70_000).Select(i => i == 68_000 ? Row(i).Replace($",{i % 5000},", ",abc,", StringComparison.Ordinal) : Row(i));
        await File.WriteAllTextAsync(Path.Combine(_provider, "late-fault.csv"), string.Join(",", Items.Select(t => t.Name)) + "\n" + string.Join("\n", rows) + "\n", new UTF8Encoding(false));

        var push = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "late-fault.csv", "--mapping", "mapping.json", "--resource", Resource]);

        Assert.True(push.ExitCode == ExitCodes.DataRejected, push.ToString());
        Assert.Contains("row 68,000, column '从业人数'", push.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Pushed", push.Stdout, StringComparison.Ordinal);
        Assert.Empty(Versions);

        // The upload had begun: the node logged a push that never completed, and kept no file of it.
        await EventuallyAsync(() => ExchangeRecords().Any(r => r.GetProperty("kind").GetString() == "push" && r.GetProperty("status").GetInt32() >= 400));
        await EventuallyAsync(() => !Directory.EnumerateFiles(Path.Combine(_f.Node.DataPath, "datasets"), "*.tmp").Any());
        Assert.Empty(Versions);
    }

    [Fact]
    public async Task Push_AboveTheResourcesPushCap_ExitsFailedWithTheNodesReason_NodePublishesNothing()
    {
        // A resource whose catalog entry caps a push at 256 KiB; the 100,000-row export is many MB.
        // The upload is chunked (converted as it goes), so the node refuses it when the body passes
        // the cap, while the tool is still sending: the department must read the node's reason,
        // not a broken connection.
        const string capped = "101001/000042";
        var entry = Entry(capped, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = "企业登记（限额）",
            Items = [.. Items.Select(i => new InformationItem(i.Id, i.Name, i.Type, i.Id == "code" ? 18 : null, Nullable: i.Id != "code"))],
            MaxPushBytes = 256 * 1024,
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);

        var push = await GovShareProcess.RunAsync(_provider, ["push", "--csv", "企业登记.csv", "--mapping", "mapping.json", "--resource", capped]);

        Assert.True(push.ExitCode == ExitCodes.Failed, push.ToString());
        Assert.Contains("413", push.Stderr, StringComparison.Ordinal);
        Assert.Contains("At most 262144 bytes per push of 101001/000042", push.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("Pushed", push.Stdout, StringComparison.Ordinal);
        Assert.Empty(_f.Node.Services.GetRequiredService<DatasetStore>().Versions(capped));
        await EventuallyAsync(() => !Directory.EnumerateFiles(Path.Combine(_f.Node.DataPath, "datasets"), "*.tmp").Any());
    }

    [Fact]
    public async Task SyncEvery_ChangesBetweenRounds_GoAsMergePushes_StoppedByCtrlCOrSigterm_ExitsCleanly_NoTemporaryFiles()
    {
        // The README's scheduled sync (`--every 1h`), at a period a test can wait for, of the
        // register keyed by 统一社会信用代码 in the catalog, from the department's SQLite copy.
        const string Keyed = "101001/000043";
        var db = await KeyedRegisterInSqliteAsync(Keyed, "企业登记（定时同步）", "every.db");
        var temp = Directory.CreateDirectory(Path.Combine(_folder, "every-tmp")).FullName;
        var environment = new Dictionary<string, string> { ["TMPDIR"] = temp };
        // The signals meant for the wait go just after a run's line, with the whole period (20 s) ahead
        // of them even on a loaded machine. Each session waits for one period only.
        string[] sync = ["sync", "--sqlite", "every.db", "--table", "enterprises", "--mapping", "mapping.json", "--resource", Keyed, "--key", "code", "--every", "20s"];

        // Stopped during a run (its rows are being staged): exit 130, nothing pushed, nothing left in TMPDIR.
        await using (var cut = GovShareProcess.Start(_provider, sync, environment))
        {
            await EventuallyAsync(() => Directory.EnumerateFiles(temp, "*", SearchOption.AllDirectories).Any());
            await cut.SignalAsync("INT");
            var stopped = await cut.ExitAsync();
            Assert.True(stopped.ExitCode == ExitCodes.Cancelled, stopped.ToString());
            Assert.True(stopped.ShowsNoInternals, stopped.ToString());
        }

        Assert.Single(VersionsOf(Keyed));
        Assert.Empty(Directory.GetFileSystemEntries(temp));

        // Redirected, as a service runs it: the first run sends everything, then a row changed at
        // the source between two runs goes alone, as a merge; SIGINT while it waits ends it with 0.
        await using (var service = GovShareProcess.Start(_provider, sync, environment))
        {
            await service.WaitForAsync($"pushed {Rows:N0} of {Rows:N0} rows (Replace");
            await SqliteAsync(db, "UPDATE enterprises SET \"企业名称\" = '定时改名企业' WHERE \"统一社会信用代码\" = '91530100MA00000005'");
            await service.WaitForAsync($"pushed 1 of {Rows:N0} rows (Merge)");
            await service.SignalAsync("INT");
            var stopped = await service.ExitAsync();
            Assert.True(stopped.ExitCode == ExitCodes.Ok, stopped.ToString());
            Assert.True(stopped.ShowsNoInternals, stopped.ToString());
        }

        Assert.Equal<(PushMode, long)>([(PushMode.Replace, Rows), (PushMode.Replace, Rows), (PushMode.Merge, Rows)], VersionsOf(Keyed).Select(v => (v.Mode, v.Rows)));
        Assert.Empty(Directory.GetFileSystemEntries(temp));

        // On a terminal, as a person leaves it running: the state carries over (nothing to send),
        // a row deleted at the source goes as one delete, and Ctrl+C typed while it waits ends it with 0.
        await using (var person = GovShareProcess.StartOnTerminal(_provider, sync, environment))
        {
            await person.WaitForAsync("none changed; nothing pushed.");
            await SqliteAsync(db, "DELETE FROM enterprises WHERE \"统一社会信用代码\" = '91530100MA00000006'");
            await person.WaitForAsync($"pushed 1 of {Rows - 1:N0} rows (Merge, 1 deleted at the source)");
            await person.CtrlCAsync();
            var stopped = await person.ExitAsync();
            Assert.True(stopped.ExitCode == ExitCodes.Ok, stopped.ToString());
            Assert.True(stopped.ShowsNoInternals, stopped.ToString());
        }

        Assert.Equal((4, PushMode.Merge, (long)Rows - 1), (VersionsOf(Keyed).Count, VersionsOf(Keyed)[^1].Mode, VersionsOf(Keyed)[^1].Rows));
        Assert.Empty(Directory.GetFileSystemEntries(temp));

        // SIGTERM (a service manager's stop) while it waits: the same clean end.
        await using (var service = GovShareProcess.Start(_provider, sync, environment))
        {
            await service.WaitForAsync("none changed; nothing pushed.");
            await service.SignalAsync("TERM");
            var stopped = await service.ExitAsync();
            Assert.True(stopped.ExitCode == ExitCodes.Ok, stopped.ToString());
        }

        Assert.Equal(4, VersionsOf(Keyed).Count);
        Assert.Empty(Directory.GetFileSystemEntries(temp));

        await AssertNodeHoldsTheSourceAsync(Keyed, db, Rows - 1);
        Assert.Equal(1, await SqliteScalarAsync(db, "SELECT COUNT(*) FROM on_node WHERE \"企业名称\" = '定时改名企业'"));
    }

    [Fact]
    public async Task Push_InterruptedByCtrlC_MidUpload_NodePublishesNothing_NoTemporaryFile()
    {
        var temp = Directory.CreateDirectory(Path.Combine(_folder, "tmp")).FullName;
        var fifo = Path.Combine(_provider, "feed.csv");
        using (var mkfifo = Process.Start("mkfifo", [fifo]))
        {
            await mkfifo.WaitForExitAsync();
        }

        var (program, prefix) = GovShareProcess.Program();
        var start = new ProcessStartInfo(program) { WorkingDirectory = _provider, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in prefix.Concat(["push", "--csv", fifo, "--encoding", "utf-8", "--mapping", "mapping.json", "--resource", Resource]))
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["TMPDIR"] = temp;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        // A source that is still being written (an export in progress): 70,000 rows, then nothing yet.
        await using var feed = new StreamWriter(new FileStream(fifo, FileMode.Open, FileAccess.Write), new UTF8Encoding(false));
        await feed.WriteAsync(string.Join("\n", Enumerable.Range(0, 70_001).Select(i => i == 0 ? string.Join(",", Items.Select(t => t.Name)) : Row(i))) + "\n");
        await feed.FlushAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        // The first batch is on its way: the node is writing the push's file.
        await EventuallyAsync(() => Directory.EnumerateFiles(Path.Combine(_f.Node.DataPath, "datasets"), "*.arrows.tmp").Any());

        Loopback.AssertSigIntDelivered();
        using (var interrupt = Process.Start("kill", ["-INT", process.Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await interrupt.WaitForExitAsync();
        }

        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await process.WaitForExitAsync(limit.Token);
        var rest = await stderr;

        Assert.True(process.ExitCode == ExitCodes.Cancelled, $"exit {process.ExitCode}: {await stdout}{rest}");
        Assert.Empty(Directory.GetFiles(temp, "*", SearchOption.AllDirectories));
        await EventuallyAsync(() => !Directory.EnumerateFiles(Path.Combine(_f.Node.DataPath, "datasets"), "*.tmp").Any());
        Assert.Empty(Versions);
    }

    /// <summary>Waits 600 × 100 ms (at least a minute on a loaded machine), or <paramref name="limit"/>, for what another process does.</summary>
    private static async Task EventuallyAsync(Func<bool> condition, TimeSpan? limit = null)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; (limit is null ? i < 600 : clock.Elapsed < limit) && !condition(); i++)
        {
            await Task.Delay(100);
        }

        Assert.True(condition());
    }

    private IEnumerable<JsonElement> ExchangeRecords() =>
        LogStore.ForDataFolder(_f.Node.DataPath).ReadEntries(LogKind.Exchange)
            .Where(e => e.Type == LogEntryType.Record)
            .Select(e => JsonDocument.Parse(e.RecordJson).RootElement.Clone());

    /// <summary>One row of the export; row 1 is the one the journey checks field by field.</summary>
    private static string Row(int i)
    {
        var name = i % 1000 == 0 ? $"\"昆明,\"\"{i}\"\"号\"" : $"云南测试企业{i}号";
        var time = new DateTime(2026, 3, 1, 8, 30, 0).AddSeconds(i).ToString(i % 7 == 0 ? "yyyy-MM-dd HH:mm:ss.ffffff" : "yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
        var logo = i % 3 == 0 ? "" : Convert.ToBase64String([(byte)(i % 256), 1, 2]);
        return string.Create(CultureInfo.InvariantCulture,
            $"91530100MA{i:D8},{name},{i}.{i % 100:D2},{i % 5000},{(long)i * 1_000_003},{i % 1000 / 8.0},{(i % 2 == 0 ? "true" : "false")},{new DateOnly(2000, 1, 1).AddDays(i % 9000):yyyy-MM-dd},{time},{logo}");
    }

    /// <summary>What Chinese Excel saves: GB18030, CRLF, with a header of the items' names.</summary>
    private static async Task WriteGb18030CsvAsync(string path)
    {
        Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);
        await using var writer = new StreamWriter(path, false, Encoding.GetEncoding("GB18030"), 1 << 16) { NewLine = "\r\n" };
        await writer.WriteLineAsync(string.Join(",", Items.Select(i => i.Name)));
        for (var i = 1; i <= Rows; i++)
        {
            await writer.WriteLineAsync(Row(i));
        }
    }

    private static async Task<long> ArrowFileRowsAsync(string path)
    {
        await using var file = File.OpenRead(path);
        using var reader = new Apache.Arrow.Ipc.ArrowFileReader(file);
        long rows = 0;
        while (await reader.ReadNextRecordBatchAsync() is { } batch)
        {
            using (batch)
            {
                rows += batch.Length;
            }
        }

        return rows;
    }

    private IReadOnlyList<DatasetVersion> VersionsOf(string resource) => _f.Node.Services.GetRequiredService<DatasetStore>().Versions(resource);

    private static async Task SqliteAsync(string db, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<long> SqliteScalarAsync(string db, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={db};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
    }

    private static async Task ExecuteAsync(PostgresServer server, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<object?> ScalarAsync(PostgresServer server, string sql)
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync();
        return value is long count ? (int)count : value;
    }
}
