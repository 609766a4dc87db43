using System.Globalization;
using GovShare.Adapters;
using GovShare.Contract;
using GovShare.Node.Tests.Exchange;
using Microsoft.Data.Sqlite;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Adapters;

/// <summary>
/// A department's database through a real node and back out, as the adapters and the CLI do it:
/// SQLite table → staged Arrow → push → pull as another department → CSV equals the source for
/// the items that department may see, masked as the catalog says.
/// </summary>
public sealed class DepartmentRoundTripTests : IAsyncLifetime
{
    private ExchangeFixture _f = null!;
    private string _folder = null!;

    public async Task InitializeAsync()
    {
        _f = await ExchangeFixture.StartAsync();
        _folder = Directory.CreateTempSubdirectory("govshare-roundtrip-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _f.DisposeAsync();
        SqliteConnection.ClearAllPools();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task SqliteTable_PushedThenPulled_CsvEqualsSourceForAllowedItems()
    {
        await using var connection = new SqliteConnection($"Data Source={Path.Combine(_folder, "police.db")}");
        await connection.OpenAsync();
        await using (var create = connection.CreateCommand())
        {
            create.CommandText = "CREATE TABLE residents (sfzh TEXT NOT NULL, xm TEXT, csrq TEXT, income REAL, zz TEXT)";
            await create.ExecuteNonQueryAsync();
        }

        for (var i = 0; i < 1234; i++)
        {
            await using var insert = connection.CreateCommand();
            insert.CommandText = "INSERT INTO residents VALUES ($id, $name, $birth, $income, $address)";
            insert.Parameters.AddWithValue("$id", IdNumber(i));
            insert.Parameters.AddWithValue("$name", Name(i));
            insert.Parameters.AddWithValue("$birth", new DateOnly(1960 + (i % 40), 1 + (i % 12), 1 + (i % 28)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            insert.Parameters.AddWithValue("$income", 1000.5 + i);
            insert.Parameters.AddWithValue("$address", $"昆明市盘龙区{i}号");
            await insert.ExecuteNonQueryAsync();
        }

        var mapping = new ItemMapping(
        [
            new ColumnMapping("sfzh", "公民身份号码", ItemDataType.Utf8),
            new ColumnMapping("xm", "姓名", ItemDataType.Utf8),
            new ColumnMapping("csrq", "出生日期", ItemDataType.Date32),
            new ColumnMapping("income", "Annual Income", ItemDataType.Float64),
            new ColumnMapping("zz", "住址", ItemDataType.Utf8),
        ]);
        await using var staged = await StagedDataset.StageAsync(SqlSource.ForTable(connection, "residents", mapping).ReadAsync(), _folder);
        using var providerHttp = _f.Node.Client(_f.Provider.Certificate);

        var receipt = await new NodeClient(providerHttp).PushAsync(Unconditional, PushMode.Replace, staged);
        Assert.Equal(1234, receipt.Rows);

        using var userHttp = _f.Node.Client(_f.User.Certificate);
        var csv = Path.Combine(_folder, "pulled.csv");
        await new CsvSink(csv).WriteAsync(new NodeClient(userHttp).PullAsync(Unconditional, [], "social-assistance"));

        var lines = (await File.ReadAllLinesAsync(csv)).Select(l => l.TrimStart('\uFEFF')).Where(l => l.Length > 0).ToList();
        Assert.Equal("公民身份号码,姓名,出生日期,Annual Income", lines[0]);
        Assert.Equal(1235, lines.Count);
        for (var i = 0; i < 1234; i += 97)
        {
            var cells = lines[i + 1].Split(',');
            var id = IdNumber(i);
            Assert.Equal(id[..6] + "********" + id[^4..], cells[0]);
            Assert.Equal(Name(i), cells[1]);
            Assert.Equal(new DateOnly(1960 + (i % 40), 1 + (i % 12), 1 + (i % 28)).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), cells[2]);
            Assert.Equal(1000.5 + i, double.Parse(cells[3], CultureInfo.InvariantCulture));
        }
    }
}
