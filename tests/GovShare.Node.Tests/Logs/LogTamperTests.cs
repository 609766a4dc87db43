using System.Text;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// Tampering told apart from a torn write. Ten records and a closing checkpoint (sequence 11) are
/// written; one kind of tampering is done by hand, in the middle or at the end; the writer must
/// refuse to open, naming the log, the record and the file, and the verifier must name the same record.
/// </summary>
public sealed class LogTamperTests
{
    public static TheoryData<string, long> Tamperings => new()
    {
        { "edit-middle", 5 },
        { "delete-middle", 5 },
        { "swap-middle", 6 },
        { "edit-end", 11 },
        { "edit-last-record", 10 },
        { "delete-end", 9 },
        { "swap-end", 11 },
        { "rewrite-tail-with-valid-hashes", 9 },
    };

    [Theory]
    [MemberData(nameof(Tamperings))]
    public async Task Open_TamperedLog_RefusesNamingTheRecordAndFile_AndVerifyNamesTheSame(string tampering, long sequence)
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            foreach (var i in Enumerable.Range(1, 10))
            {
                await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
            }
        }

        var path = folder.Store.Segments(LogKind.Exchange).Single().Path;
        var lines = File.ReadAllLines(path).ToList();
        Assert.Equal(11, lines.Count);
        Assert.Contains("\"type\":\"checkpoint\"", lines[10], StringComparison.Ordinal);
        switch (tampering)
        {
            case "edit-middle":
                lines[4] = lines[4].Replace("ex-000005", "ex-000555", StringComparison.Ordinal);
                break;
            case "delete-middle":
                lines.RemoveAt(4);
                break;
            case "swap-middle":
                (lines[4], lines[5]) = (lines[5], lines[4]);
                break;
            case "edit-end":
                lines[10] = lines[10].Replace("\"signedSequence\":10", "\"signedSequence\":9", StringComparison.Ordinal);
                break;
            case "edit-last-record":
                lines.RemoveAt(10); // as if the node crashed before its closing checkpoint …
                lines[9] = lines[9].Replace("\"rows\":20", "\"rows\":2000", StringComparison.Ordinal); // … then an edit
                File.Delete(Path.Combine(folder.Store.FolderOf(LogKind.Exchange), LogStore.CheckpointFile));
                break;
            case "delete-end":
                lines.RemoveRange(8, 3);
                break;
            case "swap-end":
                (lines[9], lines[10]) = (lines[10], lines[9]);
                break;
            case "rewrite-tail-with-valid-hashes":
                // Records 9 to 11 replaced by a forged, self-consistent chain of two: only the copy of
                // the last signed checkpoint tells.
                lines.RemoveRange(8, 3);
                var previous = LogEntry.TryParse(Encoding.UTF8.GetBytes(lines[7]))!;
                foreach (var seq in new long[] { 9, 10 })
                {
                    var forged = LogEntry.Create(LogKind.Exchange, LogFolder.Node, seq, LogEntryType.Record, previous.Hash,
                        System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(LogFolder.Exchange((int)seq + 100), LogJson.Options));
                    lines.Add(Encoding.UTF8.GetString(forged.Line.Span));
                    previous = forged;
                }

                sequence = 11;
                break;
        }

        await File.WriteAllLinesAsync(path, lines);
        var before = await File.ReadAllBytesAsync(path);

        var refused = Assert.Throws<LogCorruptedException>(() => folder.Open());

        Assert.Equal(LogKind.Exchange, refused.Log);
        Assert.Equal(sequence, refused.Sequence);
        Assert.Equal(Path.GetFileName(path), refused.File);
        Assert.Contains($"record {sequence}", refused.Message, StringComparison.Ordinal);
        Assert.Contains(Path.GetFileName(path), refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, await File.ReadAllBytesAsync(path)); // nothing "repaired"

        var verification = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.False(verification.Ok);
        Assert.Equal(sequence, verification.Sequence);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Open_TornFinalLine_TruncatedAndTheChainContinues(bool notJson)
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open())
        {
            foreach (var i in Enumerable.Range(1, 4))
            {
                await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
            }
        }

        var path = folder.Store.Segments(LogKind.Exchange).Single().Path;
        var whole = (await File.ReadAllLinesAsync(path))[0];
        // A write cut short: part of a line without its newline, or (a block of zeros) with one.
        await File.AppendAllTextAsync(path, notJson ? new string('\0', 64) + "\n" : whole[..(whole.Length / 2)]);

        await using (var open = folder.Open())
        {
            Assert.True(open.Writer.Recoveries.Single(r => r.Log == LogKind.Exchange).TruncatedBytes > 0);
            Assert.Equal(6, await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(6)));
        }

        var verification = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);
        Assert.True(verification.Ok, verification.Message);
    }

    [Fact]
    public async Task Open_ChainShorterThanTheRelaysWatermark_Refused()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open(new LogOptions { CheckpointEvery = 1000 }))
        {
            foreach (var i in Enumerable.Range(1, 6))
            {
                await open.Writer.AppendAsync(LogKind.Change, LogFolder.Change(i));
            }
        }

        var logFolder = folder.Store.FolderOf(LogKind.Change);
        var path = folder.Store.Segments(LogKind.Change).Single().Path;
        var lines = (await File.ReadAllLinesAsync(path)).ToList();
        var shipped = LogEntry.TryParse(Encoding.UTF8.GetBytes(lines[5]))!;
        await File.WriteAllTextAsync(Path.Combine(logFolder, LogStore.WatermarkFile), $"6 {shipped.Hash}\n");
        // Without the checkpoint copy, only Kafka's watermark knows how far the log went.
        File.Delete(Path.Combine(logFolder, LogStore.CheckpointFile));
        await File.WriteAllLinesAsync(path, lines.Take(4));

        var refused = Assert.Throws<LogCorruptedException>(() => folder.Open());

        Assert.Equal(5, refused.Sequence);
        Assert.Contains(LogStore.WatermarkFile, refused.Message, StringComparison.Ordinal);
        Assert.Equal(5, LogVerifier.VerifyStore(folder.Store, LogKind.Change, folder.Key).Sequence);
    }
}
