using System.Net;
using System.Text.Json;

namespace GovShare.Cli.Commands;

/// <summary>Shows a node's problem+json to a person: title, detail and each listed error.</summary>
internal static class ProblemText
{
    public static string Describe(HttpStatusCode status, string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            var lines = new List<string> { $"Refused ({(int)status}): {Text(root, "title") ?? status.ToString()}" };
            if (Text(root, "detail") is { } detail)
            {
                lines.Add("  " + detail);
            }

            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            {
                lines.AddRange(errors.EnumerateArray().Select(e => "  - " + (e.ValueKind == JsonValueKind.String ? e.GetString()
                    : Text(e, "message") is { } message ? (Text(e, "path") is { Length: > 0 } path ? $"{path}: {message}" : message)
                    : e.ToString())));
            }

            if (Text(root, "type") is { } type)
            {
                lines.Add($"  ({type})");
            }

            return string.Join(Environment.NewLine, lines);
        }
        catch (JsonException)
        {
            return $"Refused ({(int)status}): {body}";
        }
    }

    private static string? Text(JsonElement root, string name) =>
        root.ValueKind == JsonValueKind.Object && root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;
}
