using System.Globalization;
using GovShare.Adapters.Tests;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Cli;

/// <summary>
/// A department's PostgreSQL at fault, through the built <c>govshare</c> against a real node and
/// real PostgreSQL clusters: a connection string that cannot be read, a server that is down, a
/// wrong password, a table or column that does not exist — each one plain line naming the
/// database (not the node) and the exit code README.md documents (2 settings, 3 unreachable),
/// with no .NET or Npgsql internals.
/// </summary>
public sealed class PostgresRefusalTests(PostgresRefusalTests.Setup setup) : IClassFixture<PostgresRefusalTests.Setup>
{
    private const string Resource = "101001/000061";

    [Fact]
    public async Task Push_ConnectionStringThatCannotBeRead_IsAUsageErrorNamingTheOption()
    {
        var run = await setup.PushAsync("Host=127.0.0.1;Prot=5432;Username=postgres", "--table", "people");

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        // Npgsql's own words for the fault (its keyword named), behind the option's.
        Assert.StartsWith("--postgres: the connection string cannot be read (Couldn't set prot", run.Stderr, StringComparison.Ordinal);
        Assert.EndsWith("); " + PostgresConnectionString.Forms, run.Stderr.TrimEnd(), StringComparison.Ordinal);
        Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.True(run.ShowsNoInternals, run.ToString());
    }

    [Fact]
    public async Task PushAndPull_LibpqKeyValueFormAndUri_AsPsqlTakesThem()
    {
        var port = setup.Database.Port;

        // psql's key=value form (Npgsql alone read it as one Host value and said "cannot be reached").
        var push = await setup.PushAsync($"host=127.0.0.1 port={port} dbname=postgres user=postgres", "--table", "people");
        // A URI, the other form psql takes, as a pull's target.
        await setup.ExecuteAsync("DROP TABLE IF EXISTS pulled_by_uri");
        var pull = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Resource, "--postgres", $"postgresql://postgres@127.0.0.1:{port}/postgres?application_name=govshare", "--table", "pulled_by_uri"]);

        Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());
        Assert.True(pull.ExitCode == ExitCodes.Ok, pull.ToString());
        Assert.Equal(1L, await setup.CountAsync("pulled_by_uri"));
    }

    [Fact]
    public async Task Push_LibpqAndUriWithAPassword_ReadAsPsqlDoes_AndThePasswordIsNeverRepeated()
    {
        using var guarded = PostgresServer.WithPassword("right one's");

        // The quoted password with a space and an escaped quote logs in: the statement is what the server refuses (no such table there).
        var right = await setup.PushAsync($@"host=127.0.0.1 port={guarded.Port} user=postgres password='right one\'s' dbname=postgres", "--table", "people");
        // A URI's percent-encoded wrong password: the login is refused, the password not shown.
        var wrong = await setup.PushAsync($"postgresql://postgres:hunter2%20secret@127.0.0.1:{guarded.Port}/postgres", "--table", "people");
        // libpq's form with a space in an unquoted password: refused before connecting, naming the keyword, not the value.
        var unquoted = await setup.PushAsync($"host=127.0.0.1 port={guarded.Port} user=postgres password=hunter2 secret", "--table", "people");
        // A keyword psql does not know either.
        var typo = await setup.PushAsync($"host=127.0.0.1 prot={guarded.Port} user=postgres", "--table", "people");

        Assert.True(right.ExitCode == ExitCodes.Usage, right.ToString());
        Assert.Contains($"The PostgreSQL database 'postgres' at 127.0.0.1:{guarded.Port} refused the statement: relation \"people\" does not exist.", right.Stderr, StringComparison.Ordinal);
        Assert.True(wrong.ExitCode == ExitCodes.Usage, wrong.ToString());
        Assert.Contains($"at 127.0.0.1:{guarded.Port} refused the login: password authentication failed for user \"postgres\"", wrong.Stderr, StringComparison.Ordinal);
        Assert.True(unquoted.ExitCode == ExitCodes.Usage, unquoted.ToString());
        Assert.StartsWith("--postgres: the connection string cannot be read: after password= comes a word without '=' (a value with spaces goes in single quotes: password='…')", unquoted.Stderr, StringComparison.Ordinal);
        Assert.True(typo.ExitCode == ExitCodes.Usage, typo.ToString());
        Assert.StartsWith("--postgres: 'prot' is not a keyword this tool takes in libpq's form", typo.Stderr, StringComparison.Ordinal);
        foreach (var run in new[] { right, wrong, unquoted, typo })
        {
            Assert.DoesNotContain("hunter2", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("secret", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("right one", run.Stderr, StringComparison.Ordinal);
            Assert.Single(run.Stderr.TrimEnd().Split('\n'));
            Assert.True(run.ShowsNoInternals, run.ToString());
        }
    }

    [Fact]
    public async Task Push_TableWithAMappingOfAColumnItLacks_NamesTheTable_PostgresAndSqlite()
    {
        // Every item mapped, the ID number from a column the table does not have (another system's name for it).
        await File.WriteAllTextAsync(Path.Combine(setup.Provider, "absent-column.json"), """
            { "columns": [ { "column": "身份证号", "item": "公民身份号码" }, { "column": "姓名" }, { "column": "出生日期", "type": "date32" },
                           { "column": "Annual Income", "type": "float64" }, { "column": "住址" } ] }
            """);
        var sqlite = Path.Combine(setup.Provider, "people.db");
        await using (var connection = new SqliteConnection($"Data Source={sqlite};Pooling=false"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "CREATE TABLE IF NOT EXISTS people (\"公民身份号码\" TEXT NOT NULL, \"姓名\" TEXT, \"出生日期\" TEXT, \"Annual Income\" REAL, \"住址\" TEXT)";
            await command.ExecuteNonQueryAsync();
        }

        var postgres = await setup.PushAsync(setup.Database.ConnectionString, "--table", "people", "--mapping", "absent-column.json");
        var fromSqlite = await GovShareProcess.RunAsync(setup.Provider, ["push", "--resource", Resource, "--sqlite", "people.db", "--table", "people", "--mapping", "absent-column.json"]);

        foreach (var run in new[] { postgres, fromSqlite })
        {
            Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
            Assert.StartsWith("Table 'people': the mapping cannot be used:", run.Stderr, StringComparison.Ordinal);
            Assert.Contains("Column '身份证号' is not in the source", run.Stderr, StringComparison.Ordinal);
            Assert.True(run.ShowsNoInternals, run.ToString());
        }
    }

    [Fact]
    public async Task PushAndPull_DatabaseDown_AreUnreachableNamingTheDatabaseNotTheNode()
    {
        // A real cluster, stopped: nothing listens on its port any more.
        string connectionString;
        int port;
        using (var stopped = new PostgresServer())
        {
            (connectionString, port) = (stopped.ConnectionString, stopped.Port);
        }

        var push = await setup.PushAsync(connectionString, "--table", "people");
        var pull = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Resource, "--postgres", connectionString, "--table", "people"]);

        foreach (var run in new[] { push, pull })
        {
            Assert.True(run.ExitCode == ExitCodes.Unreachable, run.ToString());
            Assert.Contains($"The PostgreSQL database 'postgres' at 127.0.0.1:{port} cannot be reached: Connection refused.", run.Stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("node", run.Stderr, StringComparison.OrdinalIgnoreCase);
            Assert.True(run.ShowsNoInternals, run.ToString());
        }
    }

    [Fact]
    public async Task Push_WrongPassword_IsASettingsError()
    {
        using var guarded = PostgresServer.WithPassword("right-one");
        var wrong = guarded.ConnectionString.Replace("Password=right-one", "Password=wrong-one", StringComparison.Ordinal);

        var run = await setup.PushAsync(wrong, "--table", "people");

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Contains($"The PostgreSQL database 'postgres' at 127.0.0.1:{guarded.Port} refused the login: password authentication failed for user \"postgres\". Check Username and Password in --postgres.",
            run.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-one", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());
    }

    [Fact]
    public async Task Push_MissingTableOrColumn_IsASettingsError()
    {
        var table = await setup.PushAsync(setup.Database.ConnectionString, "--table", "no_such_table");
        var column = await setup.PushAsync(setup.Database.ConnectionString, "--query", "SELECT no_such_column FROM people");

        Assert.True(table.ExitCode == ExitCodes.Usage, table.ToString());
        Assert.Contains("refused the statement: relation \"no_such_table\" does not exist. Check --table, --query and the mapping's columns.", table.Stderr, StringComparison.Ordinal);
        Assert.True(column.ExitCode == ExitCodes.Usage, column.ToString());
        Assert.Contains("refused the statement: column \"no_such_column\" does not exist.", column.Stderr, StringComparison.Ordinal);
        Assert.True(table.ShowsNoInternals && column.ShowsNoInternals, table + "\n" + column);
    }

    [Fact]
    public async Task PullAppend_IntoATableWithoutTheItemsColumns_IsASettingsErrorAndWritesNothing()
    {
        await setup.ExecuteAsync("DROP TABLE IF EXISTS narrow; CREATE TABLE narrow (\"公民身份号码\" text)");

        var run = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Resource, "--postgres", setup.Database.ConnectionString, "--table", "narrow", "--append"]);

        Assert.True(run.ExitCode == ExitCodes.Usage, run.ToString());
        Assert.Matches("refused the statement: column \"[^\"]+\" of relation \"narrow\" does not exist", run.Stderr);
        Assert.True(run.ShowsNoInternals, run.ToString());
        Assert.Equal(0L, await setup.CountAsync("narrow"));
    }

    [Fact]
    public async Task Push_ValueThatFailsAfterBatchesWentOut_IsDataRejectedAndPublishesNothing()
    {
        // 40,000 rows, the 30,000th with a date before year 1: the push's first batches (8,192 and
        // 16,384 rows) are converted, checked and on their way to the node before that row is read.
        await setup.ExecuteAsync("DROP TABLE IF EXISTS many; CREATE TABLE many (LIKE people);"
            + "INSERT INTO many SELECT lpad(i::text, 18, '0'), '张三', CASE WHEN i = 30000 THEN '0044-03-15 BC'::date ELSE '1950-01-01'::date END, 1000.5, '昆明' FROM generate_series(1, 40000) i");

        var run = await setup.PushAsync(setup.Database.ConnectionString, "--table", "many");

        Assert.True(run.ExitCode == ExitCodes.DataRejected, run.ToString());
        Assert.Contains("row 30,000, column '出生日期': out of range (years 1 to 9999)", run.Stderr, StringComparison.Ordinal);
        Assert.True(run.ShowsNoInternals, run.ToString());
        // The node still has only the one row the set-up published: the cut upload published nothing.
        var pull = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Resource, "--postgres", setup.Database.ConnectionString, "--table", "after_cut"]);
        Assert.True(pull.ExitCode == ExitCodes.Ok, pull.ToString());
        Assert.Equal(1L, await setup.CountAsync("after_cut"));
    }

    [Fact]
    public async Task Pull_FailingMidway_SaysWhatItDidNotWrite_NeverThatNothingWasPushed()
    {
        // 40,000 rows on the node, under a resource of their own (the other tests pull the set-up's one row).
        const string Many = "101001/000062";
        setup.CreateResource(Many);
        await setup.ExecuteAsync("DROP TABLE IF EXISTS source_many; CREATE TABLE source_many (LIKE people);"
            + "INSERT INTO source_many SELECT lpad(i::text, 18, '0'), '张三', '1950-01-01'::date, 1000.5, '昆明' FROM generate_series(1, 40000) i");
        var push = await GovShareProcess.RunAsync(setup.Provider, ["push", "--resource", Many, "--postgres", setup.Database.ConnectionString, "--table", "source_many"]);
        Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());

        // The department's table holds one row of its own; its rule (a trigger) refuses the pull's
        // 30,000th row, after the COPY has taken 29,999: the database's fault, midway.
        const string Kept = "INSERT INTO {0} VALUES ('kept', '李四', '1960-01-01', 1.5, '大理')";
        await setup.ExecuteAsync("DROP TABLE IF EXISTS refusing; CREATE TABLE refusing (LIKE people);" + string.Format(CultureInfo.InvariantCulture, Kept, "refusing") + ";"
            + "DROP SEQUENCE IF EXISTS refusing_rows; CREATE SEQUENCE refusing_rows;"
            + "CREATE OR REPLACE FUNCTION refuse_30000() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF nextval('refusing_rows') = 30000 THEN RAISE EXCEPTION 'the 30,000th row is refused by the department''s rule'; END IF; RETURN NEW; END $$;"
            + "CREATE TRIGGER refuse BEFORE INSERT ON refusing FOR EACH ROW EXECUTE FUNCTION refuse_30000()");
        // The same table whose server ends the connection at the 30,000th row (as a restart or an administrator does).
        await setup.ExecuteAsync("DROP TABLE IF EXISTS cut; CREATE TABLE cut (LIKE people);" + string.Format(CultureInfo.InvariantCulture, Kept, "cut") + ";"
            + "DROP SEQUENCE IF EXISTS cut_rows; CREATE SEQUENCE cut_rows;"
            + "CREATE OR REPLACE FUNCTION cut_30000() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF nextval('cut_rows') = 30000 THEN PERFORM pg_terminate_backend(pg_backend_pid()); PERFORM pg_sleep(5); END IF; RETURN NEW; END $$;"
            + "CREATE TRIGGER cut BEFORE INSERT ON cut FOR EACH ROW EXECUTE FUNCTION cut_30000()");

        var refused = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Many, "--postgres", setup.Database.ConnectionString, "--table", "refusing", "--append"]);
        var lost = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Many, "--postgres", setup.Database.ConnectionString, "--table", "cut", "--append"]);
        // A file target, the node down: the file is neither created nor left half-written.
        var down = await GovShareProcess.RunAsync(setup.User, ["pull", "--resource", Many, "--csv", "many.csv", "--node", $"https://127.0.0.1:{Loopback.FreePort()}/"]);

        Assert.True(refused.ExitCode == ExitCodes.Failed, refused.ToString());
        Assert.Contains("refused it: the 30,000th row is refused by the department's rule", refused.Stderr, StringComparison.Ordinal);
        Assert.True(lost.ExitCode == ExitCodes.Unreachable, lost.ToString());
        Assert.Contains($"PostgreSQL database 'postgres' at 127.0.0.1:{setup.Database.Port}", lost.Stderr, StringComparison.Ordinal);
        foreach (var (run, table) in new[] { (refused, "refusing"), (lost, "cut") })
        {
            Assert.EndsWith($"Nothing was written: the pull's one transaction was rolled back, so table {table} holds what it held before.", run.Stderr.TrimEnd(), StringComparison.Ordinal);
            // One line of fault after the plain progress lines (standard error is redirected here).
            Assert.Single(run.Stderr.TrimEnd().Split('\n'), line => !line.StartsWith("pull: ", StringComparison.Ordinal));
            Assert.True(run.ShowsNoInternals, run.ToString());
            // It held its own row, and holds it still: the 29,999 rows before the fault went with the transaction.
            Assert.Equal(1L, await setup.CountAsync(table));
        }

        Assert.True(down.ExitCode == ExitCodes.Unreachable, down.ToString());
        Assert.StartsWith("The node cannot be reached: Connection refused. Nothing was written: many.csv was not created or changed (the rows go to many.csv.partial until the last one is in; it was removed).", down.Stderr, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(setup.User, "many.csv*"));
        foreach (var run in new[] { refused, lost, down })
        {
            Assert.DoesNotContain("pushed", run.Stderr, StringComparison.OrdinalIgnoreCase);
        }
    }

    /// <summary>One node with the resource published (pushed from PostgreSQL by the built binary), and one PostgreSQL cluster.</summary>
    public sealed class Setup : IAsyncLifetime
    {
        private ExchangeFixture _f = null!;
        private string _folder = null!;

        public PostgresServer Database { get; } = new();
        public string Provider { get; private set; } = null!;
        public string User { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            _f = await ExchangeFixture.StartAsync();
            _folder = Directory.CreateTempSubdirectory("govshare-pgrefusal-").FullName;
            Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(Entry(Resource, _f.Provider, new ShareAttributes(ShareType.Unconditional)), Caller(_f.Provider)).Succeeded);
            Provider = GovShareProcess.DepartmentFolder(_folder, "provider", _f.Node.ExchangeAddress, _f.Provider, _f.Pki.Folder.TrustAnchorsFile);
            User = GovShareProcess.DepartmentFolder(_folder, "user", _f.Node.ExchangeAddress, _f.User, _f.Pki.Folder.TrustAnchorsFile);
            await ExecuteAsync("CREATE TABLE people (\"公民身份号码\" text NOT NULL, \"姓名\" text, \"出生日期\" date, \"Annual Income\" double precision, \"住址\" text);"
                + "INSERT INTO people VALUES ('530102195001010001', '张三', '1950-01-01', 1000.5, '昆明')");

            // The same push succeeds with the right settings: the refusals below are the database's, nothing else's.
            var push = await PushAsync(Database.ConnectionString, "--table", "people");
            Assert.True(push.ExitCode == ExitCodes.Ok, push.ToString());
        }

        public async Task DisposeAsync()
        {
            await _f.DisposeAsync();
            Database.Dispose();
            Directory.Delete(_folder, recursive: true);
        }

        /// <summary>Another resource of the provider's, shared unconditionally like the set-up's.</summary>
        public void CreateResource(string code) =>
            Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(Entry(code, _f.Provider, new ShareAttributes(ShareType.Unconditional)), Caller(_f.Provider)).Succeeded);

        public Task<GovShareRun> PushAsync(string connectionString, params string[] source) =>
            GovShareProcess.RunAsync(Provider, ["push", "--resource", Resource, "--postgres", connectionString, .. source]);

        public async Task ExecuteAsync(string sql)
        {
            await using var connection = new NpgsqlConnection(Database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }

        public async Task<long> CountAsync(string table)
        {
            await using var connection = new NpgsqlConnection(Database.ConnectionString);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"SELECT COUNT(*) FROM {table}", connection);
            return (long)(await command.ExecuteScalarAsync())!;
        }
    }
}
