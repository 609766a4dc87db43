using System.Diagnostics;
using System.Globalization;
using GovShare.Adapters.Tests;
using GovShare.Cli.Commands;
using GovShare.Node.Catalog;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Adapters;

/// <summary>
/// A timestamp item, as a department moves it: a CSV pushed with the built <c>govshare push</c>,
/// pulled by another department with <c>govshare pull</c> into SQLite and into PostgreSQL, each
/// a process with its own <c>govshare.department.json</c>. The node and the tools share one
/// definition of the type (microseconds, UTC), so every instant arrives unchanged — before the
/// one wire contract, the tools sent milliseconds and the node refused every such push.
/// </summary>
public sealed class TimestampJourneyTests : IAsyncLifetime
{
    private const string Resource = "101001/000021";

    /// <summary>The CSV's text and the instant each line means (a bare local time is Beijing time, adapters/README.md).</summary>
    private static readonly (string Text, DateTimeOffset Instant)[] Times =
    [
        ("2026-03-01 08:30:00", new DateTimeOffset(2026, 3, 1, 0, 30, 0, TimeSpan.Zero)),
        ("2026-03-02T09:00:00.123456+08:00", new DateTimeOffset(2026, 3, 2, 1, 0, 0, TimeSpan.Zero).AddTicks(1_234_560)),
        ("2026-03-03T10:15:00Z", new DateTimeOffset(2026, 3, 3, 10, 15, 0, TimeSpan.Zero)),
        ("1999-12-31 23:59:59.999999", new DateTimeOffset(1999, 12, 31, 15, 59, 59, TimeSpan.Zero).AddTicks(9_999_990)),
    ];

    private ExchangeFixture _f = null!;
    private string _folder = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();
        _folder = Directory.CreateTempSubdirectory("govshare-timestamps-").FullName;
        var entry = Entry(Resource, _f.Provider, new ShareAttributes(ShareType.Unconditional)) with
        {
            Name = "企业登记（时间）",
            Items =
            [
                new InformationItem("code", "统一社会信用代码", "utf8", 18, Nullable: false),
                new InformationItem("capital", "注册资本", "decimal128(18,2)"),
                new InformationItem("updated_at", "更新时间", "timestamp"),
            ],
        };
        Assert.True(_f.Node.Services.GetRequiredService<CatalogStore>().Create(entry, Caller(_f.Provider)).Succeeded);
    }

    public async Task DisposeAsync()
    {
        await _f.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task TimestampColumn_PushedFromCsvByTheCli_ArrivesInSqliteAndPostgresWithTheSameInstants()
    {
        var provider = await ProviderAsync(Times.Select(t => t.Text));
        var user = Department("user", _f.User);

        var push = await GovShareAsync(provider, "push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource);
        Assert.True(push.ExitCode == 0, push.Output);
        Assert.Equal(Times.Length, Assert.Single(_f.Node.Services.GetRequiredService<DatasetStore>().Versions(Resource)).Rows);

        var sqlite = Path.Combine(user, "copy.db");
        var toSqlite = await GovShareAsync(user, "pull", "--resource", Resource, "--sqlite", sqlite, "--table", "registrations");
        Assert.True(toSqlite.ExitCode == 0, toSqlite.Output);
        await using (var connection = new SqliteConnection($"Data Source={sqlite};Pooling=False"))
        {
            await connection.OpenAsync();
            Assert.Equal(Times.Select(t => t.Instant), await InstantsAsync(connection, "SELECT \"更新时间\" FROM registrations ORDER BY \"统一社会信用代码\""));
        }

        using var postgres = new PostgresServer();
        var toPostgres = await GovShareAsync(user, "pull", "--resource", Resource, "--postgres", postgres.ConnectionString, "--table", "registrations");
        Assert.True(toPostgres.ExitCode == 0, toPostgres.Output);
        await using (var connection = new NpgsqlConnection(postgres.ConnectionString))
        {
            await connection.OpenAsync();
            Assert.Equal(Times.Select(t => t.Instant), await InstantsAsync(connection, "SELECT \"更新时间\" FROM registrations ORDER BY \"统一社会信用代码\""));
        }
    }

    [Fact]
    public async Task TimestampFinerThanAMicrosecond_PushedFromCsvByTheCli_ExitsDataRejectedAndNothingIsPushed()
    {
        // The wire holds whole microseconds; a seventh digit would be lost, so the CLI refuses it.
        var provider = await ProviderAsync(["2026-03-01 08:30:00.123456", "2026-03-02 09:00:00.1234567"]);

        var push = await GovShareAsync(provider, "push", "--csv", "data.csv", "--mapping", "mapping.json", "--resource", Resource);

        Assert.True(push.ExitCode == ExitCodes.DataRejected, push.Output);
        Assert.Contains("row 2, column '更新时间': has sub-microsecond digits", push.Output, StringComparison.Ordinal);
        Assert.Empty(_f.Node.Services.GetRequiredService<DatasetStore>().Versions(Resource));
    }

    /// <summary>The provider's folder: its connection, data.csv with one row per time and the README's mapping.</summary>
    private async Task<string> ProviderAsync(IEnumerable<string> times)
    {
        var provider = Department("provider", _f.Provider);
        var lines = times.Select((t, i) => $"91530100MA6K00000{i},{1000 + i}.50,{t}");
        await File.WriteAllTextAsync(Path.Combine(provider, "data.csv"), "统一社会信用代码,注册资本,更新时间\n" + string.Join("\n", lines) + "\n");
        await File.WriteAllTextAsync(Path.Combine(provider, "mapping.json"), """
            { "columns": [ { "column": "统一社会信用代码", "item": "code", "type": "utf8" },
                           { "column": "注册资本", "item": "capital", "type": "decimal128(18,2)" },
                           { "column": "更新时间", "item": "updated_at", "type": "timestamp" } ] }
            """);
        return provider;
    }

    private static async Task<List<DateTimeOffset>> InstantsAsync(System.Data.Common.DbConnection connection, string sql)
    {
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        await using var reader = await command.ExecuteReaderAsync();
        var instants = new List<DateTimeOffset>();
        while (await reader.ReadAsync())
        {
            // SQLite keeps the text the sink wrote, PostgreSQL a timestamptz: compare the instants.
            instants.Add(reader.GetValue(0) switch
            {
                DateTime utc => new DateTimeOffset(DateTime.SpecifyKind(utc, DateTimeKind.Utc)),
                DateTimeOffset offset => offset.ToUniversalTime(),
                string text => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture).ToUniversalTime(),
                var other => throw new InvalidOperationException($"unexpected {other.GetType()}"),
            });
        }

        return instants;
    }

    /// <summary>A department's working folder with its govshare.department.json, as the README sets one up.</summary>
    private string Department(string name, TestDepartment department)
    {
        var folder = Directory.CreateDirectory(Path.Combine(_folder, name)).FullName;
        File.WriteAllText(Path.Combine(folder, "govshare.department.json"), $$"""
            { "node": "{{_f.Node.ExchangeAddress}}", "certificate": "{{department.Files.CertificatePath}}",
              "key": "{{department.Files.KeyPath}}", "ca": "{{_f.Pki.Folder.TrustAnchorsFile}}", "purpose": "registration-check" }
            """);
        return folder;
    }

    private static async Task<(int ExitCode, string Output)> GovShareAsync(string folder, params string[] arguments)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = folder, UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Loopback.GovShareDll());
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            // A hung CLI must not outlive the test.
            process.Kill(entireProcessTree: true);
            throw;
        }

        return (process.ExitCode, $"govshare {string.Join(' ', arguments)} exited {process.ExitCode}:\n{await output}{await error}");
    }
}
