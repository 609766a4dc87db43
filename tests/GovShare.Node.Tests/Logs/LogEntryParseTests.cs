using System.Text;
using System.Text.Json;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// <see cref="LogEntry.TryParse"/> reads a line in one pass of a <see cref="Utf8JsonReader"/>, the
/// record's bytes a slice of the line. Every stored line, every Kafka message and every rebuild of
/// the aggregates goes through it, so it is checked against what the node did before (the line
/// read into a <see cref="JsonDocument"/>, the record copied out through a string), on real lines
/// and on thousands of damaged and hostile ones: the same entry, byte for byte, or the same
/// refusal. Where the document threw (a field of the wrong JSON kind, bytes that are not UTF-8)
/// the line is now refused as not an entry, which is what its callers report a damaged log by.
/// </summary>
public sealed class LogEntryParseTests
{
    private static readonly byte[] Noise = [.. "{}[],:\"\\ 0129-.eEtrufalsn"u8, 0x00, 0x0A, 0x7F, 0x80, 0xBF, 0xC3, 0xE2, 0xF0, 0xFF];

    private static List<byte[]> WrittenLines()
    {
        var diff = JsonDocument.Parse("""{"before":{"name":"旧 \"名\""},"after":[1,2.5,null,true,{"x":"\u00e9\ud83d\ude00"}]}""").RootElement.Clone();
        var records = new List<(LogRecord Record, LogEntryType Type, string? Replica)>
        {
            (LogFolder.Exchange(1), LogEntryType.Record, null),
            (LogFolder.Exchange(2) with { Purpose = "社会救助 \"quoted\" \\ \t", OnBehalfOf = "govshare:dept/530100/11530100MB0000003X" }, LogEntryType.Record, "replica-1"),
            (LogFolder.Change(3) with { Diff = diff }, LogEntryType.Record, null),
        };
        var lines = records.Select((r, i) => LogEntry.Create(i == 2 ? LogKind.Change : LogKind.Exchange, LogFolder.Node, 41 + i, r.Type,
            i == 0 ? LogEntry.GenesisHash : new string('a', 64), LogJson.Serialize(r.Record), r.Replica).Line.ToArray()).ToList();
        var checkpoint = JsonSerializer.SerializeToUtf8Bytes(new LogCheckpoint(DateTimeOffset.UnixEpoch, 43, new string('b', 64), new string('c', 64), "c2lnbmF0dXJl"), LogJson.Options);
        lines.Add(LogEntry.Create(LogKind.Query, LogFolder.Node, 44, LogEntryType.Checkpoint, new string('d', 64), checkpoint).Line.ToArray());
        return lines;
    }

    [Fact]
    public void WrittenLines_ReadBackAsTheDocumentReadThem_TheRecordASliceOfTheLine()
    {
        foreach (var line in WrittenLines())
        {
            var parsed = LogEntry.TryParse(line);

            Assert.NotNull(parsed);
            AssertSame(Former(line), parsed);
            Assert.True(parsed.HashMatches);
            Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(parsed.RecordJson, out var segment) && segment.Array == line,
                "the record's bytes are a slice of the line, not a copy");
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("\"text\"")]
    [InlineData("{}")]
    [InlineData("{")]
    [InlineData("{\"log\":\"exchange\"")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}x")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}{}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\",}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{}}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":[],\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":\"{}\",\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"audit\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":null,\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1.5,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1e2,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":99999999999999999999,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"signature\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":null,\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"replica\":\"a b\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"replica\":null,\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"replica\":\"\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"replica\":\"r\\n1\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{\"a\":},\"hash\":\"h\"}")]
    [InlineData("{'log':'exchange'}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{/* c */},\"hash\":\"h\"}")]
    public void NotAnEntry_IsRefused_AsTheDocumentRefusedIt(string text)
    {
        var line = Encoding.UTF8.GetBytes(text);

        Assert.Null(Former(line));
        Assert.Null(LogEntry.TryParse(line));
    }

    [Theory]
    // A field of the wrong JSON kind: the document threw InvalidOperationException out of TryParse (through the log's readers, Kafka's included).
    [InlineData("{\"log\":1,\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":\"1\",\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    [InlineData("{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":[\"record\"],\"prev\":\"p\",\"record\":{},\"hash\":\"h\"}")]
    public void AFieldOfTheWrongKind_ThatTheDocumentThrewOn_IsNowRefusedAsNotAnEntry(string text)
    {
        var line = Encoding.UTF8.GetBytes(text);

        Assert.ThrowsAny<InvalidOperationException>(() => Former(line));
        Assert.Null(LogEntry.TryParse(line));
    }

    [Fact]
    public void Escapes_DuplicateFields_AndUnknownFields_ReadAsTheDocumentReadThem()
    {
        string[] texts =
        [
            // An escaped name is the field it spells.
            "{\"l\\u006fg\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"rec\\u006frd\",\"prev\":\"p\",\"record\":{\"a\":\"\\\"}\"},\"hash\":\"h\"}",
            // The last of a field given twice counts.
            "{\"log\":\"change\",\"node\":\"a\",\"seq\":1,\"type\":\"checkpoint\",\"prev\":\"p\",\"record\":{\"a\":1},\"hash\":\"h\",\"node\":\"b\",\"seq\":2,\"record\":{\"b\":[{}]},\"log\":\"query\",\"type\":\"record\"}",
            "{\"log\":\"exchange\",\"node\":\"530100\",\"replica\":\"bad one\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{},\"hash\":\"h\",\"replica\":\"r-2\"}",
            // Unknown fields, of every kind, are passed over; whitespace around values is allowed.
            " { \"extra\" : {\"deep\":[[[{\"x\":null}]]]}, \"log\" : \"exchange\" , \"node\":\"530100\",\"seq\":7,\"type\":\"record\",\"prev\":\"p\",\"more\":[1,\"2\"],\"record\" : { } ,\"hash\":\"h\" } ",
        ];
        foreach (var text in texts)
        {
            var line = Encoding.UTF8.GetBytes(text);
            var parsed = LogEntry.TryParse(line);

            Assert.NotNull(parsed);
            AssertSame(Former(line), parsed);
        }
    }

    [Fact]
    public void BytesThatAreNotUtf8_AnywhereTheEntryReads_AreRefused()
    {
        var line = WrittenLines()[1];
        var text = Encoding.UTF8.GetString(line);
        foreach (var inside in new[] { "\"node\":\"5", "\"prev\":\"a", "\"hash\":\"", "\"purpose\":\"", "\"replica\":\"r" })
        {
            var at = Encoding.UTF8.GetByteCount(text[..(text.IndexOf(inside, StringComparison.Ordinal) + inside.Length)]);
            foreach (byte bad in new byte[] { 0xFF, 0xC3, 0x80 })
            {
                var damaged = line.ToArray();
                damaged[at] = bad;

                Assert.Null(LogEntry.TryParse(damaged));
            }
        }
    }

    [Fact]
    public void NestedTooDeep_IsRefused()
    {
        var deep = string.Concat(Enumerable.Repeat("[", 200)) + string.Concat(Enumerable.Repeat("]", 200));
        var line = Encoding.UTF8.GetBytes($"{{\"log\":\"exchange\",\"node\":\"530100\",\"seq\":1,\"type\":\"record\",\"prev\":\"p\",\"record\":{{\"a\":{deep}}},\"hash\":\"h\"}}");

        Assert.Null(Former(line));
        Assert.Null(LogEntry.TryParse(line));
    }

    /// <summary>
    /// Written lines damaged at random (a byte changed to one of JSON's own or to a byte that is not
    /// UTF-8, a byte dropped, a piece repeated, the line cut short): each is read as the document read
    /// it, or refused where the document threw.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void DamagedLines_ReadAsTheDocumentReadThem_OrAreRefusedWhereItThrew(int seed)
    {
        var random = new Random(seed);
        var lines = WrittenLines();
        var (entries, refused, threw) = (0, 0, 0);
        for (var n = 0; n < 4000; n++)
        {
            var line = Damage(lines[random.Next(lines.Count)], random);
            LogEntry? former;
            try
            {
                former = Former(line);
            }
            catch (InvalidOperationException)
            {
                threw++;
                Assert.Null(LogEntry.TryParse(line));
                continue;
            }

            var parsed = LogEntry.TryParse(line);
            if (former is null)
            {
                refused++;
                Assert.True(parsed is null, $"read as an entry, which the document refused: {Encoding.UTF8.GetString(line)}");
            }
            else
            {
                entries++;
                AssertSame(former, parsed);
            }
        }

        // The damage reaches every outcome: entries that still read, lines refused, lines the document threw on.
        Assert.True(entries > 100 && refused > 1000 && threw > 0, $"entries {entries}, refused {refused}, threw {threw}");
    }

    private static byte[] Damage(byte[] line, Random random)
    {
        var bytes = line.ToList();
        for (var times = random.Next(1, 3); times > 0 && bytes.Count > 1; times--)
        {
            var at = random.Next(bytes.Count);
            switch (random.Next(4))
            {
                case 0:
                    bytes[at] = Noise[random.Next(Noise.Length)];
                    break;
                case 1:
                    bytes.RemoveAt(at);
                    break;
                case 2:
                    var length = random.Next(1, Math.Min(40, bytes.Count - at) + 1);
                    bytes.InsertRange(random.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                default:
                    bytes.RemoveRange(at, bytes.Count - at);
                    break;
            }
        }

        return [.. bytes];
    }

    private static void AssertSame(LogEntry? expected, LogEntry? actual)
    {
        Assert.NotNull(expected);
        Assert.NotNull(actual);
        Assert.Equal(
            (expected.Log, expected.Node, expected.Sequence, expected.Type, expected.PreviousHash, expected.Hash, expected.Replica),
            (actual.Log, actual.Node, actual.Sequence, actual.Type, actual.PreviousHash, actual.Hash, actual.Replica));
        Assert.Equal(expected.RecordJson.ToArray(), actual.RecordJson.ToArray());
        Assert.Equal(expected.Line.ToArray(), actual.Line.ToArray());
    }

    /// <summary>The parse the node used before (kept here as the reference): the line as a document, the record copied out through a string.</summary>
    private static LogEntry? Former(ReadOnlyMemory<byte> line)
    {
        try
        {
            using var doc = JsonDocument.Parse(line);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("log", out var log) || !LogEntry.TryParseLog(log.GetString(), out var kind)
                || !root.TryGetProperty("node", out var node) || node.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("seq", out var seq) || !seq.TryGetInt64(out var sequence)
                || !root.TryGetProperty("type", out var type)
                || !root.TryGetProperty("prev", out var prev) || prev.ValueKind != JsonValueKind.String
                || !root.TryGetProperty("record", out var record) || record.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("hash", out var hash) || hash.ValueKind != JsonValueKind.String)
            {
                return null;
            }

            string? replica = null;
            if (root.TryGetProperty("replica", out var replicaProperty))
            {
                replica = replicaProperty.ValueKind == JsonValueKind.String ? replicaProperty.GetString() : null;
                if (!LogEntry.IsValidReplica(replica))
                {
                    return null;
                }
            }

            LogEntryType entryType;
            switch (type.GetString())
            {
                case "record": entryType = LogEntryType.Record; break;
                case "checkpoint": entryType = LogEntryType.Checkpoint; break;
                default: return null;
            }

            var raw = Encoding.UTF8.GetBytes(record.GetRawText());
            return new LogEntry(kind, node.GetString()!, sequence, entryType, prev.GetString()!, hash.GetString()!, raw, line) { Replica = replica };
        }
        catch (JsonException)
        {
            return null;
        }
        catch (ArgumentException)
        {
            return null;
        }
    }
}
