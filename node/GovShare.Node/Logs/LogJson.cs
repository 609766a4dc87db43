using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace GovShare.Node.Logs;

/// <summary>The one JSON shape of log records: camelCase, nulls left out, kebab-case kinds.</summary>
internal static class LogJson
{
    /// <summary>
    /// The log's types resolve through the source-generated <see cref="LogJsonContext"/> (no
    /// reflection when a record is written on an exchange's path); any other type falls back to
    /// reflection with the same settings.
    /// </summary>
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
        TypeInfoResolver = JsonTypeInfoResolver.Combine(LogJsonContext.Default, new DefaultJsonTypeInfoResolver()),
    };

    /// <summary>A thread's scratch buffer for <see cref="SerializePooled"/> is dropped after a record larger than this.</summary>
    private const int MaxScratchBytes = 1 << 20;

    /// <summary>Records larger than this get an array of their own rather than one from the shared pool (which would keep it).</summary>
    private const int MaxPooledBytes = 64 * 1024;

    // The writer's options as SerializeToUtf8Bytes derives them from Options (default encoder, not
    // indented, the serializer's depth limit, no validation of the serializer's own writes), so the
    // bytes are the same (LogJsonTests).
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        Encoder = LogJsonContext.Default.Options.Encoder,
        Indented = false,
        MaxDepth = LogJsonContext.Default.Options.MaxDepth is > 0 and var depth ? depth : 64,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>A record's bytes as the log writes them (source-generated serializer).</summary>
    public static byte[] Serialize(LogRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, LogJsonContext.Default.LogRecord);

    /// <summary>
    /// The same bytes as <see cref="Serialize"/>, in the first <c>Length</c> bytes of an array rented
    /// from <see cref="ArrayPool{T}.Shared"/> (an array of its own above 64 KB): the log writer copies
    /// them into the entry's line and gives the array back, so an append does not leave a second
    /// copy of its record's bytes for the collector. The caller returns <c>Buffer</c> with
    /// <see cref="Return"/>; one it drops is only collected.
    /// </summary>
    public static (byte[] Buffer, int Length) SerializePooled(LogRecord record)
    {
        var scratch = t_scratch ??= new ArrayBufferWriter<byte>(1024);
        scratch.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(scratch, WriterOptions);
        writer.Reset(scratch);
        JsonSerializer.Serialize(writer, record, LogJsonContext.Default.LogRecord);
        writer.Flush();
        var length = scratch.WrittenCount;
        var buffer = length <= MaxPooledBytes ? ArrayPool<byte>.Shared.Rent(length) : new byte[length];
        scratch.WrittenSpan.CopyTo(buffer);
        if (scratch.Capacity > MaxScratchBytes)
        {
            // One huge record (a big diff) does not keep its buffer for the thread's life.
            t_scratch = null;
            t_writer = null;
        }

        return (buffer, length);
    }

    /// <summary>Gives back an array from <see cref="SerializePooled"/> (one of its own is left to the collector).</summary>
    public static void Return(byte[] buffer)
    {
        if (buffer.Length <= MaxPooledBytes)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

/// <summary>Compile-time JSON metadata and writers for the log's own types, in the shape of <see cref="LogJson.Options"/>.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(LogRecord))]
[JsonSerializable(typeof(LogCheckpoint))]
[JsonSerializable(typeof(ArchiveIndexEntry))]
internal sealed partial class LogJsonContext : JsonSerializerContext;
