using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// Records are hashed as written, and read back by verifiers and consumers that expect one shape:
/// the source-generated writer must produce exactly the bytes reflection produced before it.
/// </summary>
public sealed class LogJsonTests
{
    private static readonly JsonSerializerOptions Reflection = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
        TypeInfoResolver = new DefaultJsonTypeInfoResolver(),
    };

    public static TheoryData<string> Records => new() { "full", "sparse", "large" };

    [Theory]
    [MemberData(nameof(Records))]
    public void Serialize_SourceGenerated_SameBytesAsReflectionAndReadsBack(string which)
    {
        using var diff = JsonDocument.Parse("""{"before":null,"after":{"name":"Kunming \"Civil\" Affairs","n":3}}""");
        var record = which == "full"
            ? LogFolder.EveryField(diff.RootElement.Clone()) with { Kind = ExchangeKind.CatalogQuery, Entity = "department" }
            : which == "large"
                ? new LogRecord { ExchangeId = "x", Caller = "c", Kind = ExchangeKind.Pull, Status = 200, Purpose = new string('昆', 30_000) }
                : new LogRecord { ExchangeId = "x", Caller = "c", Kind = ExchangeKind.Pull, Status = 403 };

        var generated = LogJson.Serialize(record);

        // The log writer's path: the same bytes, in a pooled array (an array of its own above 64 KB), twice on one thread.
        for (var i = 0; i < 2; i++)
        {
            var (pooled, length) = LogJson.SerializePooled(record);
            Assert.Equal(generated, pooled.AsSpan(0, length).ToArray());
            LogJson.Return(pooled);
        }

        Assert.Equal(JsonSerializer.Serialize(record, Reflection), System.Text.Encoding.UTF8.GetString(generated));
        var back = JsonSerializer.Deserialize<LogRecord>(generated, LogJson.Options)!;
        Assert.Equal(JsonSerializer.Serialize(record, Reflection), JsonSerializer.Serialize(back, Reflection));
        Assert.Contains(which == "full" ? "\"kind\":\"catalog-query\"" : "\"kind\":\"pull\"", System.Text.Encoding.UTF8.GetString(generated), StringComparison.Ordinal);
    }
}
