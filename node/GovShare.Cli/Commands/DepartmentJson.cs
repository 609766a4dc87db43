using System.Buffers;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using System.Text.Unicode;
using GovShare.Node.Desensitisation;
using GovShare.Node.Requests;

namespace GovShare.Cli.Commands;

/// <summary>
/// The JSON the commands send (request, grant, dispute, consent and complaint bodies) and print,
/// without reflection: the department tool is published Native AOT (node/GovShare.DepartmentTool),
/// where reflection-based serialization is off. The bodies come out exactly as the node's
/// <c>CatalogJson.Options</c> writes them (web names, nulls left out, enums as camelCase strings,
/// Chinese unescaped; <c>DepartmentJsonTests</c> compares the two byte for byte).
/// </summary>
internal static class DepartmentJson
{
    private static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
            Encoder = JavaScriptEncoder.Create(UnicodeRanges.All),
            TypeInfoResolver = DepartmentJsonContext.Default,
        };

        // One converter per enum a body carries: the generic converter needs no runtime code generation.
        options.Converters.Add(new JsonStringEnumConverter<ConsentDecision>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<ComplaintStatus>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<DecisionOutcome>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<DisputeKind>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<DisputeStatus>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<MaskingKind>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.Converters.Add(new JsonStringEnumConverter<DatePrecision>(JsonNamingPolicy.CamelCase, allowIntegerValues: false));
        options.MakeReadOnly();
        return options;
    }

    /// <summary>A body as JSON content (application/json; charset=utf-8).</summary>
    public static HttpContent Content<T>(T value) => System.Net.Http.Json.JsonContent.Create(value, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T)));

    /// <summary>POSTs a body as JSON.</summary>
    public static Task<HttpResponseMessage> PostJsonAsync<T>(this HttpClient http, string uri, T value, CancellationToken cancellation = default) =>
        http.PostAsync(uri, Content(value), cancellation);

    /// <summary>The bytes <see cref="Content{T}"/> sends, for tests.</summary>
    internal static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, (JsonTypeInfo<T>)Options.GetTypeInfo(typeof(T)));

    /// <summary>A node's JSON answer, indented for a person.</summary>
    public static string Indented(JsonElement element, JavaScriptEncoder? encoder = null)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = encoder }))
        {
            element.WriteTo(writer);
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

[JsonSerializable(typeof(ConsentApplication))]
[JsonSerializable(typeof(ConsentDecisionInput))]
[JsonSerializable(typeof(ConsentWithdrawal))]
[JsonSerializable(typeof(ComplaintInput))]
[JsonSerializable(typeof(ComplaintAnswerInput))]
[JsonSerializable(typeof(ShareApplication))]
[JsonSerializable(typeof(DecisionInput))]
[JsonSerializable(typeof(RevocationInput))]
[JsonSerializable(typeof(OperatorGrantInput))]
[JsonSerializable(typeof(DisputeInput))]
[JsonSerializable(typeof(DisputeAnswerInput))]
[JsonSerializable(typeof(Dictionary<string, string>))]
internal sealed partial class DepartmentJsonContext : JsonSerializerContext;
