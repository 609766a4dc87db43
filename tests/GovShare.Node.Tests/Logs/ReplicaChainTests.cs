using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// Issue 19: each replica of a node writes its own chain, and the replica id is in the envelope
/// and in the hash, so a record cannot be moved from one replica's chain into another's.
/// </summary>
public sealed class ReplicaChainTests
{
    private static async Task<LogFolder> ChainAsync(string? replica, int count)
    {
        var folder = new LogFolder();
        await using var open = folder.Open(new LogOptions { CheckpointEvery = 5 }, replica: replica);
        foreach (var i in Enumerable.Range(1, count))
        {
            await open.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(i));
        }

        return folder;
    }

    [Fact]
    public void Entry_OfAReplica_CarriesTheReplicaAndHashesItWithHeaderVersionTwo()
    {
        var record = LogJson.Serialize(LogFolder.Exchange(1));

        var entry = LogEntry.Create(LogKind.Exchange, "530100", 1, LogEntryType.Record, LogEntry.GenesisHash, record, "r1");

        var line = Encoding.UTF8.GetString(entry.Line.Span);
        Assert.StartsWith("""{"log":"exchange","node":"530100","replica":"r1","seq":1,""", line, StringComparison.Ordinal);
        var expected = Convert.ToHexStringLower(SHA256.HashData([.. Encoding.UTF8.GetBytes($"govshare-log/2\nexchange\n530100\nr1\n1\nrecord\n{LogEntry.GenesisHash}\n"), .. record]));
        Assert.Equal(expected, entry.Hash);
        var parsed = LogEntry.TryParse(entry.Line)!;
        Assert.Equal("r1", parsed.Replica);
        Assert.True(parsed.HashMatches);
    }

    [Fact]
    public void Entry_WithoutAReplica_KeepsTheVersionOneHashOfEveryEarlierRecord()
    {
        var record = LogJson.Serialize(LogFolder.Exchange(1));

        var entry = LogEntry.Create(LogKind.Exchange, "530100", 1, LogEntryType.Record, LogEntry.GenesisHash, record);

        Assert.DoesNotContain("replica", Encoding.UTF8.GetString(entry.Line.Span), StringComparison.Ordinal);
        var expected = Convert.ToHexStringLower(SHA256.HashData([.. Encoding.UTF8.GetBytes($"govshare-log/1\nexchange\n530100\n1\nrecord\n{LogEntry.GenesisHash}\n"), .. record]));
        Assert.Equal(expected, entry.Hash);
        Assert.Null(LogEntry.TryParse(entry.Line)!.Replica);
    }

    [Theory]
    [InlineData(0)] // a one-row pull's record: hashed from the stack
    [InlineData(5000)] // a long purpose (a diff is larger still): hashed from a pooled buffer
    public void Entry_OwnsAnArrayOfExactlyItsLine_WithTheRecordsBytesInsideIt_AndReadsBackAsWritten(int purposeLength)
    {
        var record = LogJson.Serialize(LogFolder.Exchange(1) with { Purpose = "p" + new string('x', purposeLength) });
        var previous = Convert.ToHexStringLower(SHA256.HashData("previous"u8));

        var entry = LogEntry.Create(LogKind.Exchange, "530100", 7, LogEntryType.Record, previous, record);

        // Held in memory for the log's readers (LogFollower): no slack of the writer's buffer, no second copy of the record.
        Assert.True(MemoryMarshal.TryGetArray(entry.Line, out var line));
        Assert.Equal(0, line.Offset);
        Assert.Equal(line.Array!.Length, line.Count);
        Assert.True(MemoryMarshal.TryGetArray(entry.RecordJson, out var inside));
        Assert.Same(line.Array, inside.Array);
        Assert.Equal(record, entry.RecordJson.ToArray());
        var expected = Convert.ToHexStringLower(SHA256.HashData([.. Encoding.UTF8.GetBytes($"govshare-log/1\nexchange\n530100\n7\nrecord\n{previous}\n"), .. record]));
        Assert.Equal(expected, entry.Hash);
        var parsed = LogEntry.TryParse(entry.Line)!;
        Assert.Equal(record, parsed.RecordJson.ToArray());
        Assert.Equal((7L, previous, expected), (parsed.Sequence, parsed.PreviousHash, parsed.Hash));
        Assert.True(parsed.HashMatches);
        Assert.Equal(entry.Record!.Purpose, parsed.Record!.Purpose);

        // The next entry built on the same thread does not share or change this one's bytes.
        var before = entry.Line.ToArray();
        var next = LogEntry.Create(LogKind.Exchange, "530100", 8, LogEntryType.Record, entry.Hash, LogJson.Serialize(LogFolder.Exchange(2)));
        Assert.Equal(before, entry.Line.ToArray());
        Assert.False(MemoryMarshal.TryGetArray(next.Line, out var nextLine) && ReferenceEquals(nextLine.Array, line.Array));
    }

    [Theory]
    [InlineData("\"replica\":\"r1\"", "\"replica\":\"r2\"")] // renamed into another replica's chain
    [InlineData("\"replica\":\"r1\",", "")] // passed off as the record of a node of one process
    public void Entry_WhoseReplicaIsRewritten_NoLongerMatchesItsHash(string from, string to)
    {
        var entry = LogEntry.Create(LogKind.Exchange, "530100", 3, LogEntryType.Record, LogEntry.GenesisHash, LogJson.Serialize(LogFolder.Exchange(3)), "r1");
        var rewritten = Encoding.UTF8.GetString(entry.Line.Span).Replace(from, to, StringComparison.Ordinal);

        var parsed = LogEntry.TryParse(Encoding.UTF8.GetBytes(rewritten))!;

        Assert.False(parsed.HashMatches);
    }

    [Theory]
    [InlineData("\"replica\":\"\"")]
    [InlineData("\"replica\":\"r1\\nr2\"")]
    [InlineData("\"replica\":7")]
    public void Entry_WithAMalformedReplica_IsNotALogEntry(string replica)
    {
        var entry = LogEntry.Create(LogKind.Exchange, "530100", 1, LogEntryType.Record, LogEntry.GenesisHash, LogJson.Serialize(LogFolder.Exchange(1)), "r1");
        var line = Encoding.UTF8.GetString(entry.Line.Span).Replace("\"replica\":\"r1\"", replica, StringComparison.Ordinal);

        Assert.Null(LogEntry.TryParse(Encoding.UTF8.GetBytes(line)));
    }

    [Fact]
    public async Task VerifyStore_RecordMovedFromAnotherReplicasChain_IsForeign()
    {
        using var r1 = await ChainAsync("r1", 12);
        using var r2 = await ChainAsync("r2", 12);
        Assert.True(LogVerifier.VerifyStore(r2.Store, LogKind.Exchange, r2.Key).Ok);
        var from = File.ReadAllLines(r1.Store.Segments(LogKind.Exchange).Single().Path);
        var intoPath = r2.Store.Segments(LogKind.Exchange).Single().Path;
        var into = File.ReadAllLines(intoPath);
        // r1's record 1 has the same sequence and the same genesis link as r2's: only the replica tells them apart.
        Assert.Equal(LogEntry.TryParse(Encoding.UTF8.GetBytes(from[0]))!.PreviousHash, LogEntry.TryParse(Encoding.UTF8.GetBytes(into[0]))!.PreviousHash);
        into[0] = from[0];
        await File.WriteAllLinesAsync(intoPath, into);

        var result = LogVerifier.VerifyStore(r2.Store, LogKind.Exchange, r2.Key);

        Assert.Equal(LogFault.Foreign, result.Fault);
        Assert.Equal(2, result.Sequence);
        Assert.Contains("chain of replica r2, not of replica r1", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyStore_RecordMovedWithItsReplicaRenamed_IsEdited()
    {
        using var r1 = await ChainAsync("r1", 12);
        using var r2 = await ChainAsync("r2", 12);
        var from = File.ReadAllLines(r1.Store.Segments(LogKind.Exchange).Single().Path);
        var intoPath = r2.Store.Segments(LogKind.Exchange).Single().Path;
        var into = File.ReadAllLines(intoPath);
        into[3] = from[3].Replace("\"replica\":\"r1\"", "\"replica\":\"r2\"", StringComparison.Ordinal);
        await File.WriteAllLinesAsync(intoPath, into);

        var result = LogVerifier.VerifyStore(r2.Store, LogKind.Exchange, r2.Key);

        Assert.Equal(LogFault.Edited, result.Fault);
        Assert.Equal(4, result.Sequence);
    }

    [Fact]
    public async Task VerifyChains_RecordMovedBetweenReplicasInKafka_FailsWhereItLands()
    {
        using var r1 = await ChainAsync("r1", 12);
        using var r2 = await ChainAsync("r2", 12);
        var one = r1.Store.ReadEntries(LogKind.Exchange).ToList();
        var two = r2.Store.ReadEntries(LogKind.Exchange).ToList();
        // r1's record 4 passed off as r2's: its envelope renamed, so it is grouped with r2's chain.
        var moved = LogEntry.TryParse(Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(one[3].Line.Span).Replace("\"replica\":\"r1\"", "\"replica\":\"r2\"", StringComparison.Ordinal)))!;

        var results = LogVerifier.VerifyChains([.. one, .. two.Where(e => e.Sequence != 4), moved], LogKind.Exchange, LogFolder.Node, null);

        Assert.Equal(2, results.Count);
        Assert.True(results[0].Ok, results[0].Message);
        Assert.Equal("r1", results[0].Replica);
        Assert.Equal(LogFault.Edited, results[1].Fault);
        Assert.Equal(4, results[1].Sequence);
        Assert.Equal("r2", results[1].Replica);
    }

    [Fact]
    public async Task Writer_OnAChainBegunByAnotherReplica_RefusesToStart()
    {
        using var r1 = await ChainAsync("r1", 3);
        using var single = await ChainAsync(null, 3);

        var other = Assert.Throws<NodeConfigurationException>(() => r1.Open(replica: "r2"));
        var upgraded = Assert.Throws<NodeConfigurationException>(() => single.Open(replica: "r1"));

        Assert.Contains("chain of replica 'r1'", other.Message, StringComparison.Ordinal);
        Assert.Contains("runs as replica 'r2'", other.Message, StringComparison.Ordinal);
        Assert.Contains("chain of a node of one process", upgraded.Message, StringComparison.Ordinal);
        await using (var again = r1.Open(replica: "r1"))
        {
            await again.Writer.AppendAsync(LogKind.Exchange, LogFolder.Exchange(4));
        }

        Assert.True(LogVerifier.VerifyStore(r1.Store, LogKind.Exchange, r1.Key).Ok);
    }
}
