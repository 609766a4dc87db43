using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace GovShare.Node.Tests.Deploy;

/// <summary>
/// Reads YAML the way Helm hands it to its schema validator: a JSON tree, plain scalars
/// typed by the YAML core schema. Refuses what Helm would read differently from a reader
/// of the file: duplicate keys, and plain scalars that YAML 1.1 (Helm's parser) types as
/// booleans or sexagesimal numbers while YAML 1.2 types them as strings.
/// </summary>
internal static partial class YamlJson
{
    /// <summary>Every document of <paramref name="yaml"/>; throws <see cref="YamlException"/> or <see cref="InvalidDataException"/> when malformed.</summary>
    public static IReadOnlyList<JsonNode?> LoadAll(string yaml, string source)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(yaml))
        {
            stream.Load(reader);
        }

        // Re-parsed so that numbers convert to any numeric type, as they would from JSON text.
        return stream.Documents
            .Select(d => ToJson(d.RootNode, source, ""))
            .Select(n => n is null ? null : JsonNode.Parse(n.ToJsonString()))
            .ToList();
    }

    /// <summary>The single document of <paramref name="yaml"/>.</summary>
    public static JsonNode? Load(string yaml, string source)
    {
        var documents = LoadAll(yaml, source);
        if (documents.Count != 1)
        {
            throw new InvalidDataException($"{source}: expected one YAML document, found {documents.Count}");
        }

        return documents[0];
    }

    /// <summary>Deep-merges <paramref name="overrides"/> into a copy of <paramref name="defaults"/> as Helm merges -f files: maps merge, everything else is replaced.</summary>
    public static JsonNode? Merge(JsonNode? defaults, JsonNode? overrides)
    {
        if (defaults is JsonObject left && overrides is JsonObject right)
        {
            var merged = (JsonObject)left.DeepClone();
            foreach (var (key, value) in right)
            {
                merged[key] = Merge(merged[key], value);
            }

            return merged;
        }

        return overrides?.DeepClone();
    }

    private static JsonNode? ToJson(YamlNode node, string source, string path)
    {
        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (keyNode, valueNode) in mapping.Children)
                {
                    var key = ((YamlScalarNode)keyNode).Value ?? "";
                    if (obj.ContainsKey(key))
                    {
                        throw new InvalidDataException($"{source}: duplicate key {path}/{key} at {keyNode.Start}");
                    }

                    obj[key] = ToJson(valueNode, source, $"{path}/{key}");
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                var i = 0;
                foreach (var item in sequence.Children)
                {
                    array.Add(ToJson(item, source, $"{path}/{i++}"));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar, source, path);
            default:
                throw new InvalidDataException($"{source}: unsupported YAML node at {path} ({node.Start})");
        }
    }

    private static JsonValue? Scalar(YamlScalarNode scalar, string source, string path)
    {
        var text = scalar.Value ?? "";
        if (scalar.Style is not (ScalarStyle.Plain or ScalarStyle.Any))
        {
            return JsonValue.Create(text);
        }

        if (Yaml11Only().IsMatch(text))
        {
            throw new InvalidDataException($"{source}: plain scalar '{text}' at {path} ({scalar.Start}) means something else to Helm's YAML 1.1 parser: quote it");
        }

        if (text is "" or "~" or "null" or "Null" or "NULL")
        {
            return null;
        }

        if (text is "true" or "True" or "TRUE")
        {
            return JsonValue.Create(true);
        }

        if (text is "false" or "False" or "FALSE")
        {
            return JsonValue.Create(false);
        }

        if (Integer().IsMatch(text))
        {
            return JsonValue.Create(long.Parse(text, CultureInfo.InvariantCulture));
        }

        if (Float().IsMatch(text))
        {
            return JsonValue.Create(double.Parse(text, CultureInfo.InvariantCulture));
        }

        return JsonValue.Create(text);
    }

    [GeneratedRegex(@"^[-+]?(0|[1-9][0-9]*)$")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();

    // YAML 1.1 booleans beyond true/false, and base-60 numbers such as 01:00:00.
    [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)$")]
    private static partial Regex Yaml11Only();
}
