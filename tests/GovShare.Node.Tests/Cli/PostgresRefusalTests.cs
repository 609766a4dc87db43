using GovShare.Adapters.Tests;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Tests.Exchange;
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
        Assert.EndsWith("); write it as Host=…;Port=…;Username=…;Password=…;Database=…", run.Stderr.TrimEnd(), StringComparison.Ordinal);
        Assert.Single(run.Stderr.TrimEnd().Split('\n'));
        Assert.True(run.ShowsNoInternals, run.ToString());
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
