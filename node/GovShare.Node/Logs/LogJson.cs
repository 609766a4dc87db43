using System.Text.Json;
using System.Text.Json.Serialization;

namespace GovShare.Node.Logs;

/// <summary>The one JSON shape of log records: camelCase, nulls left out, kebab-case kinds.</summary>
internal static class LogJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = false,
    };
}
