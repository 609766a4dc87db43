using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;

namespace GovShare.Node.Logs;

/// <summary>Whether a stored entry is a record or a signed checkpoint.</summary>
public enum LogEntryType
{
    Record,
    Checkpoint,
}

/// <summary>
/// One line of a log as stored on disk and as the value of a Kafka message:
/// <c>{"log":"exchange","node":"530100","seq":42,"type":"record","prev":"…","record":{…},"hash":"…"}</c>,
/// with <c>"replica":"…"</c> after <c>node</c> when a replica of a node of several wrote it.
/// <see cref="Hash"/> is SHA-256 over a fixed header and the exact bytes of <c>record</c>
/// (see <see cref="ComputeHash"/>), so an edit of any byte, a gap or a swap breaks the chain.
/// </summary>
public sealed record LogEntry(
    LogKind Log,
    string Node,
    long Sequence,
    LogEntryType Type,
    string PreviousHash,
    string Hash,
    ReadOnlyMemory<byte> RecordJson,
    ReadOnlyMemory<byte> Line)
{
    /// <summary>The <c>prev</c> of the first record of every log.</summary>
    public static readonly string GenesisHash = new('0', 64);

    /// <summary>A thread's scratch buffer for <see cref="Create"/> is dropped after a line larger than this.</summary>
    private const int MaxScratchBytes = 1 << 20;

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    // The writer over t_scratch, reset per entry rather than made per entry (an object and its
    // state per record on the log writer's thread). Dropped with the scratch buffer.
    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    // The line's property names, encoded once rather than transcoded for every entry written.
    private static readonly JsonEncodedText LogField = JsonEncodedText.Encode("log");
    private static readonly JsonEncodedText NodeField = JsonEncodedText.Encode("node");
    private static readonly JsonEncodedText ReplicaField = JsonEncodedText.Encode("replica");
    private static readonly JsonEncodedText SeqField = JsonEncodedText.Encode("seq");
    private static readonly JsonEncodedText TypeField = JsonEncodedText.Encode("type");
    private static readonly JsonEncodedText PrevField = JsonEncodedText.Encode("prev");
    private static readonly JsonEncodedText RecordField = JsonEncodedText.Encode("record");
    private static readonly JsonEncodedText HashField = JsonEncodedText.Encode("hash");

    /// <summary>
    /// The replica whose chain this is (<c>State:ReplicaId</c>), when the node runs as several
    /// replicas, each writing its own chain; null for a node of one process (and every record
    /// written before replicas existed). Part of the hash, so a record cannot be moved into
    /// another replica's chain, nor its replica rewritten.
    /// </summary>
    public string? Replica { get; init; }

    // Not part of the entry's value: left out of equality, and not carried by `with` (which may change RecordJson).
    private LogRecord? _record;

    private LogEntry(LogEntry original)
    {
        Log = original.Log;
        Node = original.Node;
        Sequence = original.Sequence;
        Type = original.Type;
        PreviousHash = original.PreviousHash;
        Hash = original.Hash;
        RecordJson = original.RecordJson;
        Line = original.Line;
        Replica = original.Replica;
    }

    /// <summary>
    /// The record, when <see cref="Type"/> is <see cref="LogEntryType.Record"/>: read from
    /// <see cref="RecordJson"/> once, then the same (immutable) instance for every reader of this
    /// entry — the statistics, the evaluation and the Kafka relay are handed one entry object for
    /// each record the writer made durable (<see cref="LogFollower"/>).
    /// </summary>
    public LogRecord? Record => Type == LogEntryType.Record
        ? _record ??= JsonSerializer.Deserialize<LogRecord>(RecordJson.Span, LogJson.Options)
        : null;

    /// <summary>
    /// Gives a record entry the record its bytes were serialised from, before the entry is handed to
    /// any reader, so <see cref="Record"/> need not read them back (<see cref="SameAsRead"/> says
    /// which records read back as the same value).
    /// </summary>
    internal void Remember(LogRecord record)
    {
        if (Type == LogEntryType.Record)
        {
            _record = record;
        }
    }

    /// <summary>
    /// Whether <paramref name="record"/> is what reading its own serialised bytes back would give:
    /// not when it holds a change's <see cref="LogRecord.Diff"/> (a JSON element its writer's
    /// document may free after the append) or no item list (it reads back as an empty one).
    /// </summary>
    internal static bool SameAsRead(LogRecord record) => record.Diff is null && record.Items is not null;

    public bool Equals(LogEntry? other) =>
        other is not null && Log == other.Log && Node == other.Node && Sequence == other.Sequence && Type == other.Type
        && PreviousHash == other.PreviousHash && Hash == other.Hash && RecordJson.Equals(other.RecordJson) && Line.Equals(other.Line)
        && Replica == other.Replica;

    public override int GetHashCode() => HashCode.Combine(Log, Node, Sequence, Type, PreviousHash, Hash, RecordJson, HashCode.Combine(Line, Replica));

    /// <summary>The checkpoint, when <see cref="Type"/> is <see cref="LogEntryType.Checkpoint"/>.</summary>
    public LogCheckpoint? Checkpoint => Type == LogEntryType.Checkpoint
        ? JsonSerializer.Deserialize<LogCheckpoint>(RecordJson.Span, LogJson.Options)
        : null;

    /// <summary>Whether <see cref="Hash"/> matches the content.</summary>
    public bool HashMatches => string.Equals(Hash, ComputeHash(Log, Node, Sequence, Type, PreviousHash, RecordJson.Span, Replica), StringComparison.Ordinal);

    /// <summary>
    /// Lower-case hex SHA-256 of <c>govshare-log/1\n{log}\n{node}\n{seq}\n{type}\n{prev}\n</c> + the
    /// record's bytes; for a replica's chain <c>govshare-log/2\n{log}\n{node}\n{replica}\n{seq}\n…</c>.
    /// A second header version rather than an empty replica line: every record written before
    /// replicas keeps its hash, and no record of one form hashes like a record of the other.
    /// </summary>
    public static string ComputeHash(LogKind log, string node, long sequence, LogEntryType type, string previousHash, ReadOnlySpan<byte> recordJson, string? replica = null)
    {
        // One contiguous input hashed at once: no header string, no IncrementalHash (a native
        // context and a SafeHandle per entry) on the log writer's path. The bytes are the same.
        var bound = 64 + node.Length * 3 + (replica?.Length ?? 0) * 3 + previousHash.Length * 3 + recordJson.Length;
        var rented = bound <= 2048 ? null : ArrayPool<byte>.Shared.Rent(bound);
        try
        {
            Span<byte> input = rented is null ? stackalloc byte[bound] : rented;
            int header;
            var written = replica is null
                ? Utf8.TryWrite(input, CultureInfo.InvariantCulture, $"govshare-log/1\n{LogName(log)}\n{node}\n{sequence}\n{TypeName(type)}\n{previousHash}\n", out header)
                : Utf8.TryWrite(input, CultureInfo.InvariantCulture, $"govshare-log/2\n{LogName(log)}\n{node}\n{replica}\n{sequence}\n{TypeName(type)}\n{previousHash}\n", out header);
            if (!written)
            {
                throw new InvalidOperationException("The log entry's hashed header did not fit its buffer.");
            }

            recordJson.CopyTo(input[header..]);
            Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
            SHA256.HashData(input[..(header + recordJson.Length)], hash);
            return Convert.ToHexStringLower(hash);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    public static string LogName(LogKind log) => log switch
    {
        LogKind.Change => "change",
        LogKind.Exchange => "exchange",
        LogKind.Query => "query",
        _ => throw new ArgumentOutOfRangeException(nameof(log)),
    };

    public static string TypeName(LogEntryType type) => type == LogEntryType.Record ? "record" : "checkpoint";

    /// <summary>A replica id as <c>State:ReplicaId</c> allows it: 1-63 ASCII letters, digits, '-', '_' or '.' (never a line break in the hashed header).</summary>
    public static bool IsValidReplica(string? replica) =>
        replica is { Length: > 0 and <= 63 } && replica.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Builds the entry that follows <paramref name="previousHash"/>; the line has no newline.</summary>
    public static LogEntry Create(LogKind log, string node, long sequence, LogEntryType type, string previousHash, ReadOnlyMemory<byte> recordJson, string? replica = null)
    {
        if (replica is not null && !IsValidReplica(replica))
        {
            throw new ArgumentException($"'{replica}' is not a replica id.", nameof(replica));
        }

        var hash = ComputeHash(log, node, sequence, type, previousHash, recordJson.Span, replica);

        // Written into this thread's scratch buffer, then copied into an array of exactly the
        // line's length: a writer asks its buffer for 4 KB at a time, and an entry is held in
        // memory until its readers took it (LogFollower), so an entry that kept that buffer
        // carried ~5 KB for an 800-byte line through the collections it survived. The record's
        // bytes are a slice of the line (the line contains them verbatim), not a second array.
        var scratch = t_scratch ??= new ArrayBufferWriter<byte>(4096);
        scratch.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(scratch);
        writer.Reset(scratch);
        writer.WriteStartObject();
        writer.WriteString(LogField, LogName(log));
        writer.WriteString(NodeField, node);
        if (replica is not null)
        {
            writer.WriteString(ReplicaField, replica);
        }

        writer.WriteNumber(SeqField, sequence);
        writer.WriteString(TypeField, TypeName(type));
        writer.WriteString(PrevField, previousHash);
        writer.WritePropertyName(RecordField);
        writer.Flush();
        var recordAt = scratch.WrittenCount;
        // Raw, so the hashed bytes are exactly the bytes a reader finds between the braces.
        writer.WriteRawValue(recordJson.Span, skipInputValidation: true);
        writer.WriteString(HashField, hash);
        writer.WriteEndObject();
        writer.Flush();

        var line = scratch.WrittenSpan.ToArray();
        if (scratch.Capacity > MaxScratchBytes)
        {
            // One huge record (a big diff) does not keep its buffer for the thread's life.
            t_scratch = null;
            t_writer = null;
        }

        return new LogEntry(log, node, sequence, type, previousHash, hash, line.AsMemory(recordAt, recordJson.Length), line) { Replica = replica };
    }

    /// <summary>
    /// Parses one stored line (no newline); null when it is not a well-formed entry: not one JSON
    /// object, a field missing or of another kind, an unknown log or type, an invalid replica, or
    /// text that is not UTF-8. When a field appears twice the last one counts (as it did when this
    /// read the line into a <see cref="JsonDocument"/>).
    /// </summary>
    /// <remarks>
    /// One forward pass of a <see cref="Utf8JsonReader"/> over the line: no document, and the
    /// record's bytes are a slice of the line (the exact bytes between its braces, which the hash
    /// covers), not a copy through a string. A rebuild of the aggregates parses every entry of the
    /// log this way (ten million at a province after an upgrade), and so does every reader of a log
    /// line, Kafka's included — a trust boundary: nothing here throws on hostile bytes.
    /// </remarks>
    public static LogEntry? TryParse(ReadOnlyMemory<byte> line)
    {
        try
        {
            var reader = new Utf8JsonReader(line.Span);
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                return null;
            }

            LogKind? kind = null;
            LogEntryType? entryType = null;
            string? node = null, previous = null, hash = null, replica = null;
            var replicaSeen = false;
            long? sequence = null;
            (int Start, int Length)? record = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = Field(ref reader);
                if (!reader.Read())
                {
                    return null;
                }

                switch (field)
                {
                    case Fields.Log:
                        kind = reader.TokenType == JsonTokenType.String && TryParseLog(reader.GetString(), out var parsedKind) ? parsedKind : null;
                        break;
                    case Fields.Node:
                        node = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    case Fields.Replica:
                        replicaSeen = true;
                        replica = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    case Fields.Seq:
                        sequence = reader.TokenType == JsonTokenType.Number && reader.TryGetInt64(out var parsedSequence) ? parsedSequence : null;
                        break;
                    case Fields.Type:
                        entryType = reader.TokenType != JsonTokenType.String ? null
                            : reader.ValueTextEquals("record"u8) ? LogEntryType.Record
                            : reader.ValueTextEquals("checkpoint"u8) ? LogEntryType.Checkpoint
                            : null;
                        break;
                    case Fields.Prev:
                        previous = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    case Fields.Hash:
                        hash = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        break;
                    case Fields.Record:
                        record = null;
                        if (reader.TokenType == JsonTokenType.StartObject)
                        {
                            var at = checked((int)reader.TokenStartIndex);
                            reader.Skip();
                            record = (at, checked((int)reader.BytesConsumed) - at);
                        }

                        break;
                }

                // A value not read above (another field's, or a field of the wrong kind) is skipped whole, validated as it goes.
                reader.Skip();
            }

            // The object ended; nothing but whitespace may follow it (Read throws on anything else).
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
            {
                return null;
            }

            if (kind is not { } log || node is null || sequence is not { } seq || entryType is not { } type || previous is null
                || record is not { } recordAt || hash is null || (replicaSeen && !IsValidReplica(replica)))
            {
                return null;
            }

            var recordJson = line.Slice(recordAt.Start, recordAt.Length);
            // The reader checks a string's UTF-8 only when it is read as one; the record's bytes are kept as they are.
            if (!Utf8.IsValid(recordJson.Span))
            {
                return null;
            }

            return new LogEntry(log, node, seq, type, previous, hash, recordJson, line) { Replica = replica };
        }
        catch (JsonException)
        {
            return null;
        }
        catch (InvalidOperationException)
        {
            // A string that is not valid UTF-8 (GetString), or a number that is not one.
            return null;
        }
    }

    private enum Fields
    {
        Other,
        Log,
        Node,
        Replica,
        Seq,
        Type,
        Prev,
        Record,
        Hash,
    }

    // ValueTextEquals compares the unescaped name, so "l\u006fg" is "log", as a document's property lookup found it.
    private static Fields Field(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("log"u8) ? Fields.Log
        : reader.ValueTextEquals("node"u8) ? Fields.Node
        : reader.ValueTextEquals("replica"u8) ? Fields.Replica
        : reader.ValueTextEquals("seq"u8) ? Fields.Seq
        : reader.ValueTextEquals("type"u8) ? Fields.Type
        : reader.ValueTextEquals("prev"u8) ? Fields.Prev
        : reader.ValueTextEquals("record"u8) ? Fields.Record
        : reader.ValueTextEquals("hash"u8) ? Fields.Hash
        : Fields.Other;

    public static bool TryParseLog(string? name, out LogKind kind)
    {
        switch (name)
        {
            case "change": kind = LogKind.Change; return true;
            case "exchange": kind = LogKind.Exchange; return true;
            case "query": kind = LogKind.Query; return true;
            default: kind = default; return false;
        }
    }
}

/// <summary>
/// A checkpoint: the node's ECDSA signature (P1363, SHA-256) over the hash of the entry just
/// before it, so whoever holds the node's certificate can prove the chain up to there is the
/// node's own. The signed text is <see cref="SignedText"/>.
/// </summary>
public sealed record LogCheckpoint(DateTimeOffset Time, long SignedSequence, string SignedHash, string Certificate, string Signature)
{
    public static string SignedText(string node, LogKind log, long signedSequence, string signedHash, DateTimeOffset time) =>
        string.Create(CultureInfo.InvariantCulture, $"govshare-log-checkpoint/1\n{node}\n{LogEntry.LogName(log)}\n{signedSequence}\n{signedHash}\n{time.UtcDateTime:O}");

    public static LogCheckpoint Sign(ECDsa key, string keyId, string node, LogKind log, long signedSequence, string signedHash, DateTimeOffset time)
    {
        var signature = key.SignData(Encoding.UTF8.GetBytes(SignedText(node, log, signedSequence, signedHash, time)), HashAlgorithmName.SHA256);
        return new LogCheckpoint(time, signedSequence, signedHash, keyId, Convert.ToBase64String(signature));
    }

    public bool VerifySignature(ECDsa publicKey, string node, LogKind log)
    {
        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(Signature);
        }
        catch (FormatException)
        {
            return false;
        }

        return publicKey.VerifyData(Encoding.UTF8.GetBytes(SignedText(node, log, SignedSequence, SignedHash, Time)), signature, HashAlgorithmName.SHA256);
    }

    /// <summary>The key id written in checkpoints: hex SHA-256 of the SubjectPublicKeyInfo.</summary>
    public static string KeyId(ECDsa key) => Convert.ToHexStringLower(SHA256.HashData(key.ExportSubjectPublicKeyInfo()));
}
