using System.Buffers.Binary;
using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using Npgsql;

namespace GovShare.Adapters.Tests;

/// <summary>
/// The adapters' own binary COPY codec (PostgresBinaryCopy) against a real server: every item type
/// with its extreme values and nulls goes PostgreSQL → Arrow → PostgreSQL and must come back as the
/// same text the server prints, and the raw reader must convert exactly as Npgsql's exporter does.
/// </summary>
public sealed class PostgresBinaryCopyTests(PostgresServer server) : IClassFixture<PostgresServer>
{
    private const string Columns = "code, name, capital, fine, ratio, staff, big, score, listed, founded, registered, logo";

    /// <summary>Extremes of every type, GB18030-only characters, a text longer than the copy buffers, and a row of nulls.</summary>
    private const string Rows = """
        CREATE TABLE {0} (id integer, code text, name text, capital numeric(28,6), fine numeric(5,5), ratio numeric(12,4), staff integer, big bigint,
                          score double precision, listed boolean, founded date, registered timestamptz, logo bytea);
        INSERT INTO {0} VALUES
          (1, '91530100MA00000001', '昆明𠮷䶮企业 "有限", 公司', 9999999999999999999999.999999, 0.99999, 99999999.9999, 2147483647, 9223372036854775807,
              1.7976931348623157e308, true, '9999-12-31', '9999-12-31 23:59:59.999999+00', '\xcafe00ff'),
          (2, '', '', -9999999999999999999999.999999, -0.00001, -99999999.9999, -2147483648, -9223372036854775808,
              -4.9e-324, false, '0001-01-01', '0001-01-01 00:00:00+00', '\x'),
          (3, 'x', 'ﬀ ẞ Ω ☃', 0, 0, 0, 0, 0, 0, true, '2000-01-01', '2000-01-01 00:00:00+00', '\x00'),
          (4, 'y', 'z', 0.000001, 0.00001, 0.0001, 1, 1, 'NaN', false, '1999-12-31', '1999-12-31 23:59:59.999999+00', NULL),
          (5, 'z', repeat('云', 400000), 10000, 0.1, 10000, -1, -1, '-Infinity', true, '1970-01-01', '1969-12-31 23:59:59.999999+00', NULL),
          (6, 'w', 'v', 1234.5, 0.5, 10000000, 10000, 100000000, 0.1, false, '2026-03-01', '2026-03-01 00:30:00.123456+08', NULL),
          (7, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
        """;

    [Fact]
    public async Task EveryItemType_ExtremesNullsAndGb18030Text_RoundTripThroughArrowExactly()
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "DROP TABLE IF EXISTS every_type, every_type_copy;" + Rows.Replace("{0}", "every_type", StringComparison.Ordinal));

        // Small batches: rows cross batch boundaries; the 400,000-character text (1.2 MB) is longer than the 1 MiB buffers.
        var source = new SqlSource(connection, $"SELECT {Columns} FROM every_type ORDER BY id", options: new ReadOptions { BatchSize = 3 });
        var batches = new List<RecordBatch>();
        await foreach (var batch in source.ReadAsync())
        {
            batches.Add(batch);
        }

        var written = await new SqlSink(connection, SqlDialectKind.PostgreSql, "every_type_copy").WriteAsync(Async([.. batches]));

        Assert.Equal(7, written);
        Assert.Equal(["decimal128(28,6)", "decimal128(5,5)", "decimal128(12,4)"], batches[0].Schema.FieldsList.Skip(2).Take(3).Select(f => ItemDataType.FromArrow(f.DataType)!.ToString()));
        var expected = await DumpAsync(connection, "every_type");
        Assert.Equal(expected, await DumpAsync(connection, "every_type_copy"));
        Assert.Contains(expected, r => r.Contains("|9999-12-31|9999-12-31 23:59:59.999999+00|", StringComparison.Ordinal));
        Assert.Contains(expected, r => r.Contains("|0001-01-01|0001-01-01 00:00:00+00|", StringComparison.Ordinal)); // not ±infinity
        Assert.Equal(string.Join('|', Enumerable.Repeat("NULL", 12)), expected[6]);
    }

    [Fact]
    public async Task RawReader_ConvertsEveryValueAsNpgsqlsExporterDoes()
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "DROP TABLE IF EXISTS both_paths;" + Rows.Replace("{0}", "both_paths", StringComparison.Ordinal)
            + "ALTER TABLE both_paths ADD COLUMN small smallint DEFAULT 7, ADD COLUMN local timestamp DEFAULT '2026-03-01 08:30:00.5';");

        // The same items read twice: as the timestamp item "local" (raw reader), and with a smallint
        // item added, which the raw reader does not decode, so the whole query goes through Npgsql's exporter.
        var items = new List<ColumnMapping>
        {
            new("code", "code", ItemDataType.Utf8), new("name", "name", ItemDataType.Utf8), new("capital", "capital", ItemDataType.Decimal(28, 6)),
            new("fine", "fine", ItemDataType.Decimal(5, 5)), new("ratio", "ratio", ItemDataType.Decimal(12, 4)), new("staff", "staff", ItemDataType.Int32),
            new("big", "big", ItemDataType.Int64), new("score", "score", ItemDataType.Float64), new("listed", "listed", ItemDataType.Boolean),
            new("founded", "founded", ItemDataType.Date32), new("registered", "registered", ItemDataType.Timestamp), new("logo", "logo", ItemDataType.Binary),
            new("local", "local", ItemDataType.Timestamp), new("staff_as_text", "staff_as_text", ItemDataType.Utf8), new("big_as_decimal", "big_as_decimal", ItemDataType.Decimal(38, 2)),
        };
        var query = "SELECT *, staff AS staff_as_text, big AS big_as_decimal FROM both_paths ORDER BY id";
        var options = new ReadOptions { AssumedOffset = TimeSpan.FromHours(8), BatchSize = 2 };
        var raw = await TextAsync(new SqlSource(connection, query.Replace("SELECT *", "SELECT code, name, capital, fine, ratio, staff, big, score, listed, founded, registered, logo, local", StringComparison.Ordinal),
            new ItemMapping(items), options));
        var exporter = await TextAsync(new SqlSource(connection, query, new ItemMapping([.. items, new ColumnMapping("small", "small", ItemDataType.Int32)]), options));

        Assert.Equal(7, raw.Count);
        Assert.Equal(raw, exporter.Select(r => r[..r.LastIndexOf('|')]).ToList());
        Assert.StartsWith("91530100MA00000001|昆明𠮷䶮企业 \"有限\", 公司|9999999999999999999999.999999|0.99999|99999999.9999|2147483647|9223372036854775807|", raw[0], StringComparison.Ordinal);
        Assert.Contains("|2026-03-01T00:30:00.500000Z|2147483647|", raw[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClosedConnection_OpenedWithoutTheTypeCatalog_ReopenedWithItForADomainColumn_SameValues()
    {
        await using (var setup = await OpenAsync())
        {
            await ExecuteAsync(setup, "DROP TABLE IF EXISTS with_domain; DROP TABLE IF EXISTS plain_copy; DROP DOMAIN IF EXISTS staff_count;"
                + "CREATE DOMAIN staff_count AS integer CHECK (VALUE >= 0);"
                + "CREATE TABLE with_domain (id integer, staff staff_count, name text);"
                + "INSERT INTO with_domain VALUES (1, 12, '甲'), (2, NULL, '乙'), (3, 2147483647, NULL);");
        }

        var mapping = new ItemMapping([new ColumnMapping("id", "id", ItemDataType.Int32), new ColumnMapping("staff", "staff", ItemDataType.Int32), new ColumnMapping("name", "name", ItemDataType.Utf8)]);
        var query = "SELECT id, staff, name FROM with_domain ORDER BY id";

        // The domain column is not one the raw reader decodes: the source reopens with the type catalog.
        await using var closed = new NpgsqlConnection(server.ConnectionString);
        var withDomain = await TextAsync(new SqlSource(closed, query, mapping));
        // Built-in types only: read (and written back) on connections that never loaded the catalog.
        await using var closedPlain = new NpgsqlConnection(server.ConnectionString);
        var plain = await TextAsync(new SqlSource(closedPlain, "SELECT id, staff::integer AS staff, name FROM with_domain ORDER BY id", mapping));
        await using var closedSink = new NpgsqlConnection(server.ConnectionString);
        await using var again = new NpgsqlConnection(server.ConnectionString);
        await new SqlSink(closedSink, SqlDialectKind.PostgreSql, "plain_copy").WriteAsync(new SqlSource(again, "SELECT id, staff::integer AS staff, name FROM with_domain", mapping).ReadAsync());

        Assert.Equal(["1|12|甲", "2|NULL|乙", "3|2147483647|NULL"], withDomain);
        Assert.Equal(withDomain, plain);
        await using var check = await OpenAsync();
        Assert.Equal(["1|12|甲", "2||乙", "3|2147483647|"], await ListAsync(check, "SELECT concat_ws('|', id, coalesce(staff::text, ''), coalesce(name, '')) FROM plain_copy ORDER BY id"));
    }

    [Fact]
    public async Task RawReader_NumericBeyondADecimalOrNaN_ReportedByRowAndColumn_NothingHandedOut()
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, """
            DROP TABLE IF EXISTS wide;
            CREATE TABLE wide (id integer, amount numeric);
            INSERT INTO wide VALUES (1, 1.5), (2, 123456789012345678901234567890), (3, 'NaN'), (4, 2.25), (5, 0.123);
            """);
        var mapping = new ItemMapping([new ColumnMapping("id", "id", ItemDataType.Int32), new ColumnMapping("amount", "amount", ItemDataType.Decimal(38, 2))]);

        var failure = await Assert.ThrowsAsync<ConversionFailedException>(async () =>
        {
            await foreach (var batch in new SqlSource(connection, "SELECT id, amount FROM wide ORDER BY id", mapping).ReadAsync())
            {
                Assert.Fail("No batch may be handed out when a row failed.");
            }
        });

        Assert.Equal(
            ["row 2, column 'amount': has more digits than a decimal holds (28) (value '123456789012345678901234567890')", "row 3, column 'amount': not a number (value 'NaN')",
             "row 5, column 'amount': has more than 2 decimal place(s) (value '0.123')"],
            failure.Errors.Select(e => e.ToString()));
    }

    [Fact]
    public async Task Writer_Decimal128BeyondADotNetDecimal_WrittenExactly()
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "DROP TABLE IF EXISTS wide_copy;");
        var type = new Decimal128Type(38, 10);
        Int128[] values = [Int128.Parse("99999999999999999999999999999999999999", CultureInfo.InvariantCulture), -Int128.Parse("99999999999999999999999999999999999999", CultureInfo.InvariantCulture), 1, -1, 0, 12345678900];
        var bytes = new byte[16 * values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteInt128LittleEndian(bytes.AsSpan(16 * i), values[i]);
        }

        var array = new Decimal128Array(new ArrayData(type, values.Length, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(bytes)]));
        var batch = new RecordBatch(new Schema([new Field("amount", type, true)], null), [array], values.Length);

        await new SqlSink(connection, SqlDialectKind.PostgreSql, "wide_copy").WriteAsync(Async(batch));

        Assert.Equal(
            ["9999999999999999999999999999.9999999999", "-9999999999999999999999999999.9999999999", "0.0000000001", "-0.0000000001", "0.0000000000", "1.2345678900"],
            await ListAsync(connection, "SELECT amount::text FROM wide_copy"));
    }

    [Fact]
    public async Task Writer_SourceFailsMidCopy_CopyAborted_TableNotCreated_ConnectionStillUsable()
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "DROP TABLE IF EXISTS aborted;");
        var builder = new StringArray.Builder();
        for (var i = 0; i < 10_000; i++)
        {
            builder.Append("行" + i);
        }

        var batch = new RecordBatch(new Schema([new Field("name", StringType.Default, true)], null), [builder.Build()], 10_000);

        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => new SqlSink(connection, SqlDialectKind.PostgreSql, "aborted").WriteAsync(Failing(batch)));

        Assert.Equal("the source broke", failure.Message);
        Assert.Equal(["0"], await ListAsync(connection, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'aborted'"));
    }

    [Fact]
    public async Task Writer_ExistingColumnOfAnotherType_ServerRefuses_TableKeepsItsRows()
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "DROP TABLE IF EXISTS typed; CREATE TABLE typed (staff bigint); INSERT INTO typed VALUES (42);");
        var builder = new Int32Array.Builder().Append(1).Append(2);
        var batch = new RecordBatch(new Schema([new Field("staff", Int32Type.Default, true)], null), [builder.Build()], 2);

        await Assert.ThrowsAsync<PostgresException>(() => new SqlSink(connection, SqlDialectKind.PostgreSql, "typed", SqlWriteMode.Append).WriteAsync(Async(batch)));

        await using var after = await OpenAsync(); // Npgsql closes a connection whose COPY the server refused
        Assert.Equal(["42"], await ListAsync(after, "SELECT staff::text FROM typed"));
    }

    private static async IAsyncEnumerable<RecordBatch> Async(params RecordBatch[] batches)
    {
        foreach (var batch in batches)
        {
            await Task.Yield();
            yield return batch;
        }
    }

    private static async IAsyncEnumerable<RecordBatch> Failing(RecordBatch first)
    {
        yield return first;
        await Task.Yield();
        throw new InvalidDataException("the source broke");
    }

    private async Task<NpgsqlConnection> OpenAsync()
    {
        var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync();
        await ExecuteAsync(connection, "SET TIME ZONE 'UTC';");
        return connection;
    }

    private static async Task<List<string>> TextAsync(SqlSource source)
    {
        var rows = new List<string>();
        await foreach (var batch in source.ReadAsync())
        {
            for (var r = 0; r < batch.Length; r++)
            {
                rows.Add(string.Join("|", Enumerable.Range(0, batch.ColumnCount).Select(c => ArrowValues.GetText(batch.Column(c), r) ?? "NULL")));
            }
        }

        return rows;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private static Task<List<string>> DumpAsync(NpgsqlConnection connection, string table) =>
        ListAsync(connection, $"SELECT concat_ws('|', {string.Join(", ", Columns.Split(", ").Select(c => $"coalesce({c}::text, 'NULL')"))}) FROM {table} ORDER BY code NULLS LAST, name");

    private static async Task<List<string>> ListAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
