using System.Text.Json;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

public sealed class JsonLinesSinkTests : IDisposable
{
    private readonly TempFolder _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task WriteAsync_SeveralRowsInSeveralBatches_WritesOneJsonObjectPerLine()
    {
        // Two rows or more crashed the writer (it refused a second top-level value).
        var path = _temp.File("out.jsonl");
        var csv = _temp.File("in.csv");
        await File.WriteAllTextAsync(csv, "code,capital,updated\n91530100MA6K000001,1000.50,2026-03-01 08:30:00\n91530100MA6K000002,20.00,2026-03-02 09:00:00\n91530100MA6K000003,,2026-03-03 10:15:00\n");
        var mapping = new ItemMapping(
        [
            new("code", "code", ItemDataType.Utf8),
            new("capital", "capital", ItemDataType.Decimal(18, 2)),
            new("updated", "updated", ItemDataType.Timestamp),
        ]);
        var batches = new List<RecordBatch>();
        await foreach (var batch in new CsvSource(csv, mapping).ReadAsync())
        {
            batches.Add(batch);
        }

        var rows = await new JsonLinesSink(path).WriteAsync(Twice(batches));

        var lines = await File.ReadAllLinesAsync(path);
        Assert.Equal(6, rows);
        Assert.Equal(6, lines.Length);
        var first = JsonDocument.Parse(lines[0]).RootElement;
        Assert.Equal("91530100MA6K000001", first.GetProperty("code").GetString());
        Assert.Equal("1000.50", first.GetProperty("capital").GetString());
        // A bare local time in a CSV is Beijing time (adapters/README.md); the line carries the instant.
        Assert.Equal(new DateTimeOffset(2026, 3, 1, 8, 30, 0, TimeSpan.FromHours(8)), first.GetProperty("updated").GetDateTimeOffset());
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(lines[2]).RootElement.GetProperty("capital").ValueKind);
        Assert.Equal("91530100MA6K000003", JsonDocument.Parse(lines[5]).RootElement.GetProperty("code").GetString());
    }

    private static async IAsyncEnumerable<RecordBatch> Twice(IReadOnlyList<RecordBatch> batches)
    {
        for (var i = 0; i < 2; i++)
        {
            foreach (var batch in batches)
            {
                await Task.Yield();
                yield return batch;
            }
        }
    }
}
