using System.Globalization;
using System.Text;
using GovShare.Contract;
using Npgsql;

namespace GovShare.Adapters.Tests;

public sealed class PostgresRoundTripTests(PostgresServer server) : IClassFixture<PostgresServer>, IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task PostgresTableToArrowToPostgresAndCsv_RealServer_RowsEqual()
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, """
            DROP TABLE IF EXISTS enterprises, enterprises_copy;
            CREATE TABLE enterprises (credit_code text, name text, capital numeric(18,2), founded date, registered timestamptz, staff integer, listed boolean, logo bytea);
            INSERT INTO enterprises
              SELECT '91530100MA' || lpad(i::text, 8, '0'), '昆明' || i || '号企业, "有限"', i * 1000.25, date '2000-01-01' + i, timestamptz '2024-05-01 08:00:00+08' + i * interval '1 minute',
                     i % 500, i % 2 = 0, CASE WHEN i % 10 = 0 THEN NULL ELSE decode('cafe' || lpad(to_hex(i), 4, '0'), 'hex') END
              FROM generate_series(1, 1500) AS i;
            """);

        var source = SqlSource.ForTable(connection, "public.enterprises", options: new ReadOptions { BatchSize = 400 });
        await using var staged = await StagedDataset.StageAsync(source.ReadAsync(), _temp.Path);
        var copied = await new SqlSink(connection, SqlDialectKind.PostgreSql, "enterprises_copy").WriteAsync(staged.ReadAsync());
        var csv = _temp.File("enterprises.csv");
        await new CsvSink(csv, new UTF8Encoding(false)).WriteAsync(staged.ReadAsync());

        Assert.Equal(1500, copied);
        Assert.Equal("decimal128(18,2)", ItemDataType.FromArrow(staged.Schema.GetFieldByName("capital").DataType)!.ToString());
        Assert.Equal(await DumpAsync(connection, "enterprises"), await DumpAsync(connection, "enterprises_copy"));
        var lines = await File.ReadAllLinesAsync(csv);
        Assert.Equal(1501, lines.Length);
        Assert.Equal("credit_code,name,capital,founded,registered,staff,listed,logo", lines[0]);
        Assert.Equal("91530100MA00000010,\"昆明10号企业, \"\"有限\"\"\",10002.50,2000-01-11,2024-05-01T00:10:00.000000Z,10,true,", lines[10]);
    }

    [Fact]
    public async Task PostgresQuery_ReadByBinaryCopy_LocalTimesAtTheGivenZone_NullsAndUnmappedColumns()
    {
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, """
            DROP TABLE IF EXISTS events;
            CREATE TABLE events (id bigint, code varchar(20), score double precision, at timestamp, note text);
            INSERT INTO events VALUES (1, 'a', 0.5, '2026-03-01 08:30:00', 'x'), (2, NULL, NULL, NULL, 'y'), (3, '云南', -1e10, '2026-03-01 23:59:59.123456', NULL);
            """);
        var mapping = new ItemMapping([new ColumnMapping("id", "id", ItemDataType.Int64), new ColumnMapping("code", "code", ItemDataType.Utf8), new ColumnMapping("score", "score", ItemDataType.Float64), new ColumnMapping("at", "at", ItemDataType.Timestamp)]);

        // A query with a trailing semicolon, as people write them; "note" is not mapped.
        var source = new SqlSource(connection, "SELECT * FROM events WHERE id <= 3 ORDER BY id;", mapping, new ReadOptions { AssumedOffset = TimeSpan.FromHours(8) });
        var rows = new List<string>();
        await foreach (var batch in source.ReadAsync())
        {
            for (var r = 0; r < batch.Length; r++)
            {
                rows.Add(string.Join("|", Enumerable.Range(0, batch.ColumnCount).Select(c => ArrowValues.GetText(batch.Column(c), r) ?? "NULL")));
            }
        }

        Assert.Equal(
            ["1|a|0.5|2026-03-01T00:30:00.000000Z", "2|NULL|NULL|NULL", "3|云南|-10000000000|2026-03-01T15:59:59.123456Z"],
            rows);
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<List<string>> DumpAsync(NpgsqlConnection connection, string table)
    {
        await using var command = new NpgsqlCommand($"SELECT credit_code, name, capital::text, founded::text, extract(epoch from registered)::text, staff, listed, encode(logo, 'hex') FROM {table} ORDER BY credit_code", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
        }

        return rows;
    }
}
