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

    /// <summary>A record's bytes as the log writes them (source-generated serializer).</summary>
    public static byte[] Serialize(LogRecord record) => JsonSerializer.SerializeToUtf8Bytes(record, LogJsonContext.Default.LogRecord);
}

/// <summary>Compile-time JSON metadata and writers for the log's own types, in the shape of <see cref="LogJson.Options"/>.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull, WriteIndented = false)]
[JsonSerializable(typeof(LogRecord))]
[JsonSerializable(typeof(LogCheckpoint))]
[JsonSerializable(typeof(ArchiveIndexEntry))]
internal sealed partial class LogJsonContext : JsonSerializerContext;
