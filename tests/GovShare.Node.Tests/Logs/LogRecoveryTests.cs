using System.Text;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

public sealed class LogRecoveryTests
{
    [Fact]
    public async Task Open_TornLastRecord_TruncatesAndReportsIt()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open(new LogOptions { CheckpointEvery = 1000 }))
        {
            foreach (var i in Enumerable.Range(1, 5))
            {
                await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
            }
        }

        // A write cut short: half of a sixth line, no newline.
        var path = folder.Store.Segments(LogKind.Exchange).Single().Path;
        var half = File.ReadAllLines(path)[0][..120];
        await File.AppendAllTextAsync(path, half);

        await using (var open = folder.Open())
        {
            var report = open.Writer.Recoveries.Single(r => r.Log == LogKind.Exchange);
            Assert.Equal(120, report.TruncatedBytes);
            Assert.Equal(6, report.LastSequence);
            Assert.Equal(7, await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(7)));
        }

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.True(result.Ok, result.Message);
    }

    [Fact]
    public async Task Open_DamagedRecordMidFile_RefusesToStart()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            foreach (var i in Enumerable.Range(1, 5))
            {
                await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
            }
        }

        var path = folder.Store.Segments(LogKind.Exchange).Single().Path;
        var lines = File.ReadAllLines(path);
        lines[2] = lines[2].Replace("ex-000003", "ex-000333", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(path, lines);

        var ex = Assert.Throws<LogCorruptedException>(() => folder.Open());

        Assert.Contains("line 3", ex.Message, StringComparison.Ordinal);
        Assert.Equal(lines, await File.ReadAllLinesAsync(path));
    }

    [Fact]
    public async Task Open_GarbageAfterLastRecord_TruncatesIt()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            await open.Writer.AppendAsync(LogKind.Query, LogFolder.Exchange(1) with { Kind = ExchangeKind.CatalogQuery });
        }

        var path = folder.Store.Segments(LogKind.Query).Single().Path;
        var before = new FileInfo(path).Length;
        await File.AppendAllTextAsync(path, new string('\0', 300) + "\n", Encoding.ASCII);

        await using (var open = folder.Open())
        {
            Assert.Equal(301, open.Writer.Recoveries.Single(r => r.Log == LogKind.Query).TruncatedBytes);
        }

        Assert.Equal(before, new FileInfo(path).Length);
        Assert.True(LogVerifier.VerifyStore(folder.Store, LogKind.Query, folder.Key).Ok);
    }
}
