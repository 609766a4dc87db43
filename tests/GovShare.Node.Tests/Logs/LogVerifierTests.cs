using System.Security.Cryptography;
using System.Text;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

public sealed class LogVerifierTests
{
    private static async Task<LogFolder> FolderWithRecordsAsync(int count)
    {
        var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 25 });
        foreach (var i in Enumerable.Range(1, count))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
        }

        return folder;
    }

    private static string Segment(LogFolder folder) => folder.Store.Segments(LogKind.Exchange).Single().Path;

    [Fact]
    public async Task VerifyStore_OneByteEdited_NamesEditedRecord()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var path = Segment(folder);
        var lines = File.ReadAllLines(path);
        // Record 10: one byte of its purpose changed ("social-assistance" -> "sociaL-assistance").
        var at = lines[9].IndexOf("social-assistance", StringComparison.Ordinal) + 5;
        var bytes = File.ReadAllBytes(path);
        var offset = lines.Take(9).Sum(l => Encoding.UTF8.GetByteCount(l) + 1) + at;
        bytes[offset] = (byte)'L';
        await File.WriteAllBytesAsync(path, bytes);

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);

        Assert.Equal(LogFault.Edited, result.Fault);
        Assert.Equal(10, result.Sequence);
    }

    [Fact]
    public async Task VerifyStore_OneRecordDeleted_NamesMissingRecord()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var path = Segment(folder);
        var lines = File.ReadAllLines(path).ToList();
        lines.RemoveAt(16);
        await File.WriteAllLinesAsync(path, lines);

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);

        Assert.Equal(LogFault.Missing, result.Fault);
        Assert.Equal(17, result.Sequence);
    }

    [Fact]
    public async Task VerifyStore_TwoRecordsSwapped_NamesReorderedRecord()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var path = Segment(folder);
        var lines = File.ReadAllLines(path);
        (lines[20], lines[21]) = (lines[21], lines[20]);
        await File.WriteAllLinesAsync(path, lines);

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);

        Assert.Equal(LogFault.Reordered, result.Fault);
        Assert.Equal(22, result.Sequence);
        Assert.Contains("before record 21", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyStore_RecordReplacedWithRehashedCopy_NamesBrokenLink()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var path = Segment(folder);
        var lines = File.ReadAllLines(path);
        var original = LogEntry.TryParse(Encoding.UTF8.GetBytes(lines[4]))!;
        // A forger who recomputes record 5's own hash still cannot make record 6 point at it.
        var forged = LogEntry.Create(LogKind.Exchange, LogFolder.Node, 5, LogEntryType.Record, original.PreviousHash,
            Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(original.RecordJson.Span).Replace("\"rows\":15", "\"rows\":1", StringComparison.Ordinal)));
        lines[4] = Encoding.UTF8.GetString(forged.Line.Span);
        await File.WriteAllLinesAsync(path, lines);

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);

        Assert.Equal(LogFault.BrokenLink, result.Fault);
        Assert.Equal(6, result.Sequence);
    }

    [Fact]
    public async Task VerifyStore_CheckpointOfAnotherKey_NamesBadCheckpoint()
    {
        using var folder = await FolderWithRecordsAsync(40);
        using var otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, otherKey);

        Assert.Equal(LogFault.BadCheckpoint, result.Fault);
        Assert.Equal(26, result.Sequence);
    }

    [Fact]
    public async Task VerifyStore_Range_ChecksOnlyThatRange()
    {
        using var folder = await FolderWithRecordsAsync(40);

        var inside = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key, 10, 20);
        var pastEnd = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key, 10, 100);

        Assert.True(inside.Ok, inside.Message);
        Assert.Equal(11, inside.RecordsChecked);
        Assert.Equal(LogFault.Missing, pastEnd.Fault);
        Assert.Equal(43, pastEnd.Sequence);
    }

    [Fact]
    public async Task VerifyCopy_DuplicatesAndShuffledOrder_VerifiesAfterDeduplication()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var entries = folder.Store.ReadEntries(LogKind.Exchange).ToList();
        var copy = entries.Concat(entries.Take(10)).Reverse().ToList();

        var result = LogVerifier.VerifyCopy(copy, LogKind.Exchange, LogFolder.Node, folder.Key);

        Assert.True(result.Ok, result.Message);
        Assert.Equal(40, result.RecordsChecked);
    }

    [Fact]
    public async Task VerifyCopy_DuplicateWithOtherContent_NamesConflict()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var entries = folder.Store.ReadEntries(LogKind.Exchange).ToList();
        var fork = LogEntry.Create(LogKind.Exchange, LogFolder.Node, 7, LogEntryType.Record, entries[5].Hash, Encoding.UTF8.GetBytes("""{"exchangeId":"x"}"""));

        var result = LogVerifier.VerifyCopy([.. entries, fork], LogKind.Exchange, LogFolder.Node, folder.Key);

        Assert.Equal(LogFault.ConflictingDuplicate, result.Fault);
        Assert.Equal(7, result.Sequence);
    }

    [Fact]
    public async Task VerifyCopy_RecordMissingFromCopy_NamesIt()
    {
        using var folder = await FolderWithRecordsAsync(40);
        var entries = folder.Store.ReadEntries(LogKind.Exchange).Where(e => e.Sequence != 33).ToList();

        var result = LogVerifier.VerifyCopy(entries, LogKind.Exchange, LogFolder.Node, folder.Key);

        Assert.Equal(LogFault.Missing, result.Fault);
        Assert.Equal(33, result.Sequence);
    }

    [Fact]
    public async Task VerifyStore_ArchiveReplaced_NamesDamagedArchive()
    {
        using var folder = new LogFolder();
        await using (var open = folder.Open(new LogOptions { SegmentBytes = 4096 }))
        {
            foreach (var i in Enumerable.Range(1, 60))
            {
                await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
            }

            await open.Writer.ArchivingCompleted(LogKind.Exchange);
        }

        var second = folder.Store.ArchiveIndex(LogKind.Exchange)[1]!;
        var path = Path.Combine(folder.Store.FolderOf(LogKind.Exchange), "archive", second.File);
        var bytes = await File.ReadAllBytesAsync(path);
        bytes[^10] ^= 0x01;
        await File.WriteAllBytesAsync(path, bytes);

        var result = LogVerifier.VerifyStore(folder.Store, LogKind.Exchange, folder.Key);

        Assert.Equal(LogFault.ArchiveDamaged, result.Fault);
        Assert.Equal(second.FirstSeq, result.Sequence);
    }
}
