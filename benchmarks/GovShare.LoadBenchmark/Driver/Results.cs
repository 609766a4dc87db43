using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GovShare.LoadBenchmark.Driver;

/// <summary>One case of the run: the node's figure beside its baseline, measured in the same run.</summary>
/// <param name="Case">Stable case id (the smoke test checks every one is present).</param>
/// <param name="Title">What the node does in this case.</param>
/// <param name="BaselineTitle">What the baseline is.</param>
/// <param name="Metric">What is compared, e.g. "MB/s".</param>
/// <param name="Node">The node's figure.</param>
/// <param name="Baseline">The baseline's figure.</param>
/// <param name="Ratio">Node ÷ baseline (for the memory case: baseline is the limit).</param>
/// <param name="Target">The target on the ratio, e.g. "≥ 0.8".</param>
/// <param name="Met">Whether the target was met in this run.</param>
/// <param name="Details">Further figures: rows/s, latencies, bytes, rounds.</param>
public sealed record CaseResult(
    string Case,
    string Title,
    string BaselineTitle,
    string Metric,
    double Node,
    double Baseline,
    double Ratio,
    string Target,
    bool Met,
    IReadOnlyDictionary<string, double> Details);

/// <summary>The whole run: machine, sizes and cases; written as JSON, printed as Markdown.</summary>
public sealed record RunResults(
    DateTimeOffset StartedAt,
    double DurationSeconds,
    bool Smoke,
    IReadOnlyDictionary<string, string> Machine,
    IReadOnlyDictionary<string, double> Sizes,
    IReadOnlyList<CaseResult> Cases,
    IReadOnlyList<string> Notes)
{
    /// <summary>Every case id a run produces.</summary>
    public static readonly string[] CaseIds = ["pull-large", "push", "small-exchanges", "small-exchanges-durable", "pull-forwarded", "arrow-vs-json", "peak-working-set-1gb-pull"];

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.Never };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine("| Case | GovShare node | Baseline (same run) | Ratio | Target | Met |");
        text.AppendLine("|---|---|---|---|---|---|");
        foreach (var r in Cases)
        {
            text.AppendLine(c, $"| {r.Title} | {Format(r.Node)} {r.Metric} | {r.BaselineTitle}: {Format(r.Baseline)} {r.Metric} | {r.Ratio.ToString("0.00", c)} | {r.Target} | {(r.Met ? "yes" : "**no**")} |");
        }

        text.AppendLine();
        text.AppendLine("| Case | Details |");
        text.AppendLine("|---|---|");
        foreach (var r in Cases)
        {
            text.AppendLine(c, $"| {r.Case} | {string.Join(", ", r.Details.Select(d => $"{d.Key} {Format(d.Value)}"))} |");
        }

        return text.ToString();
    }

    private static string Format(double value) => value switch
    {
        >= 1000 => value.ToString("#,0", CultureInfo.InvariantCulture),
        >= 10 => value.ToString("0.0", CultureInfo.InvariantCulture),
        _ => value.ToString("0.00", CultureInfo.InvariantCulture),
    };
}
