using System.Globalization;
using System.Text;
using GovShare.Contract;
using Microsoft.Data.Sqlite;

namespace GovShare.Adapters.Tests;

public sealed class SqliteRoundTripTests : IDisposable
{
    internal static readonly ItemMapping Mapping = new(
    [
        new("id", "licence_id", ItemDataType.Int64),
        new("holder", "holder_name", ItemDataType.Utf8),
        new("capital", "registered_capital", ItemDataType.Decimal(18, 2)),
        new("issued", "issue_date", ItemDataType.Date32),
        new("active", "active", ItemDataType.Boolean),
        new("score", "credit_score", ItemDataType.Float64),
        new("updated", "updated_at", ItemDataType.Timestamp),
    ]);

    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task SqliteTableToArrowToCsv_ThreeBatches_CsvEqualsTheSourceRows()
    {
        using var connection = new SqliteConnection($"Data Source={_temp.File("dept.db")};Pooling=False");
        connection.Open();
        CreateLicences(connection, rows: 2500);

        await using var staged = await StagedDataset.StageAsync(new SqlSource(connection, "SELECT * FROM licences ORDER BY id", Mapping, new ReadOptions { BatchSize = 1000 }).ReadAsync(), _temp.Path);
        var csv = _temp.File("out.csv");
        var written = await new CsvSink(csv, new UTF8Encoding(false)).WriteAsync(staged.ReadAsync());

        Assert.Equal(2500, staged.Rows);
        Assert.Equal(2500, written);
        Assert.Equal(ExpectedCsv(connection), await File.ReadAllTextAsync(csv));
    }

    [Fact]
    public async Task CsvBackIntoSqlite_SameMapping_TableEqualsTheSource()
    {
        using var connection = new SqliteConnection($"Data Source={_temp.File("dept.db")};Pooling=False");
        connection.Open();
        CreateLicences(connection, rows: 300);
        var csv = _temp.File("out.csv");
        await new CsvSink(csv).WriteAsync(new SqlSource(connection, "SELECT * FROM licences ORDER BY id", Mapping).ReadAsync());

        var back = new ItemMapping(Mapping.Columns.Select(c => c with { Column = c.Item }).ToList());
        var rows = await new SqlSink(connection, SqlDialectKind.Sqlite, "copy", replace: true).WriteAsync(new CsvSource(csv, back).ReadAsync());

        Assert.Equal(300, rows);
        Assert.Equal(Dump(connection, "SELECT id, holder, capital, issued, active, score, updated FROM licences ORDER BY id"),
            Dump(connection, "SELECT licence_id, holder_name, registered_capital, issue_date, active, credit_score, updated_at FROM copy ORDER BY licence_id"));
    }

    internal static void CreateLicences(SqliteConnection connection, int rows)
    {
        Execute(connection, "CREATE TABLE licences (id INTEGER PRIMARY KEY, holder TEXT, capital TEXT, issued TEXT, active INTEGER, score REAL, updated TEXT)");
        using var transaction = connection.BeginTransaction();
        using var insert = connection.CreateCommand();
        insert.CommandText = "INSERT INTO licences VALUES ($id, $holder, $capital, $issued, $active, $score, $updated)";
        foreach (var name in new[] { "$id", "$holder", "$capital", "$issued", "$active", "$score", "$updated" })
        {
            insert.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        for (var i = 1; i <= rows; i++)
        {
            insert.Parameters["$id"].Value = i;
            insert.Parameters["$holder"].Value = i % 97 == 0 ? DBNull.Value : (object)(i % 3 == 0 ? $"云南{i}号商贸有限公司, \"分公司\"" : $"昆明市第{i}药店");
            insert.Parameters["$capital"].Value = (i * 1234.5m).ToString("0.00", CultureInfo.InvariantCulture);
            insert.Parameters["$issued"].Value = new DateOnly(2020, 1, 1).AddDays(i).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
            insert.Parameters["$active"].Value = i % 2;
            insert.Parameters["$score"].Value = i / 8.0;
            insert.Parameters["$updated"].Value = new DateTime(2024, 5, 1, 0, 0, 0, DateTimeKind.Utc).AddMinutes(i).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
            insert.Transaction = transaction;
            insert.ExecuteNonQuery();
        }

        transaction.Commit();
    }

    internal static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>The CSV the source should give, formatted here from the raw SQLite values.</summary>
    private static string ExpectedCsv(SqliteConnection connection)
    {
        var expected = new StringBuilder("licence_id,holder_name,registered_capital,issue_date,active,credit_score,updated_at\r\n");
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM licences ORDER BY id";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            var holder = reader.IsDBNull(1) ? "" : reader.GetString(1);
            if (holder.Contains(',', StringComparison.Ordinal))
            {
                holder = "\"" + holder.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
            }

            expected.Append(CultureInfo.InvariantCulture, $"{reader.GetInt64(0)},{holder},{reader.GetString(2)},{reader.GetString(3)},{(reader.GetInt64(4) == 1 ? "true" : "false")},{reader.GetDouble(5).ToString(CultureInfo.InvariantCulture)},{reader.GetString(6)}\r\n");
        }

        return expected.ToString();
    }

    internal static List<string> Dump(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : Convert.ToString(reader.GetValue(i), CultureInfo.InvariantCulture))));
        }

        return rows;
    }
}
