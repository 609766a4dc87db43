using System.Text;
using System.Text.RegularExpressions;

namespace GovShare.Node.Tests.Deploy;

/// <summary>
/// A Helm template with its Go-template actions taken out, so that its YAML skeleton can be
/// parsed without Helm. Conservative by construction: a line holding only actions (control
/// flow, <c>include … | nindent</c>, <c>toYaml</c>) is dropped, and an action inside a line
/// becomes a plain placeholder scalar <c>TPL_&lt;expression&gt;</c>, so the skeleton keeps
/// every literal key and value the template writes. Both branches of an if/else stay in,
/// so a template whose branches write the same key reads as a duplicate: write them apart.
/// </summary>
internal static partial class TemplateSkeleton
{
    public const string Placeholder = "TPL_";

    /// <summary>The YAML skeleton of <paramref name="template"/>.</summary>
    /// <exception cref="InvalidDataException">An action spans lines (only comments may).</exception>
    public static string Strip(string template, string source)
    {
        var text = Comment().Replace(template, match => new string('\n', match.Value.Count(c => c == '\n')));
        var output = new StringBuilder();
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            var open = Regex.Count(line, @"\{\{");
            var close = Regex.Count(line, @"\}\}");
            if (open != close)
            {
                throw new InvalidDataException($"{source}:{lineNumber}: a template action spans lines; keep each action on one line so the chart test can read the YAML around it");
            }

            if (open == 0)
            {
                output.Append(line).Append('\n');
                continue;
            }

            if (Action().Replace(line, "").Trim().Length == 0)
            {
                continue;
            }

            output.Append(Action().Replace(line, m => Placeholder + Sanitize(m.Groups["expr"].Value))).Append('\n');
        }

        return output.ToString();
    }

    /// <summary>Every <c>.Values.a.b</c> path (as "a.b") used inside an action of <paramref name="template"/>.</summary>
    public static IEnumerable<string> ValuesReferences(string template)
    {
        foreach (Match action in Action().Matches(Comment().Replace(template, "")))
        {
            foreach (Match reference in ValuesPath().Matches(action.Value))
            {
                yield return reference.Groups["path"].Value.TrimStart('.');
            }
        }
    }

    private static string Sanitize(string expression)
    {
        var cleaned = Unsafe().Replace(expression.Trim(), "_");
        return cleaned.Trim('_');
    }

    [GeneratedRegex(@"\{\{-?\s*/\*.*?\*/\s*-?\}\}", RegexOptions.Singleline)]
    private static partial Regex Comment();

    [GeneratedRegex(@"\{\{-?(?<expr>.*?)-?\}\}")]
    private static partial Regex Action();

    [GeneratedRegex(@"(?<![\w$])\$?\.Values(?<path>(\.[A-Za-z_][A-Za-z0-9_]*)+)")]
    private static partial Regex ValuesPath();

    [GeneratedRegex(@"[^A-Za-z0-9.$]+")]
    private static partial Regex Unsafe();
}
