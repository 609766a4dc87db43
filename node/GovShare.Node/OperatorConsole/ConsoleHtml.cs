using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace GovShare.Node.OperatorConsole;

/// <summary>
/// One console page being written: the layout (navigation, language switch, who is signed in)
/// around a body of sections, tables, tiles and charts. Every text from the data goes through
/// <see cref="E"/>; the page has no script and no style attribute, so the Content-Security-Policy
/// can forbid both (charts are SVG drawn here, styled by the console's own style sheet).
/// </summary>
internal sealed class ConsoleHtml(ConsoleLanguage language, string path, string operatorUri, string node)
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    private static readonly (string Path, string Key)[] Navigation =
    [
        ("/console", "nav.overview"),
        ("/console/reviews", "nav.reviews"),
        ("/console/violations", "nav.violations"),
        ("/console/report", "nav.report"),
        ("/console/cases", "nav.cases"),
        ("/console/departments", "nav.departments"),
        ("/console/catalog", "nav.catalog"),
        ("/console/logs", "nav.logs"),
    ];

    private readonly StringBuilder _body = new(16 * 1024);

    public ConsoleLanguage Language => language;

    public string T(string key) => ConsoleText.Get(key, language);

    public static string E(string? text) => Encoder.Encode(text ?? "");

    public static string N(long value) => value.ToString("N0", Invariant);

    public static string Day(DateOnly day) => day.ToString("yyyy-MM-dd", Invariant);

    /// <summary>An instant as China Standard Time, the calendar every deadline is counted in.</summary>
    public static string Time(DateTimeOffset at) => at.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", Invariant);

    public ConsoleHtml Heading(string key, string? id = null)
    {
        _body.Append("<h2").Append(id is null ? "" : $" id=\"{E(id)}\"").Append('>').Append(E(T(key))).Append("</h2>\n");
        return this;
    }

    public ConsoleHtml Raw(string html)
    {
        _body.Append(html);
        return this;
    }

    public ConsoleHtml Paragraph(string text, string cssClass = "note")
    {
        _body.Append("<p class=\"").Append(cssClass).Append("\">").Append(E(text)).Append("</p>\n");
        return this;
    }

    /// <summary>A message after an action (a decision recorded or refused).</summary>
    public ConsoleHtml Flash(string? message, bool ok)
    {
        if (!string.IsNullOrEmpty(message))
        {
            _body.Append("<p class=\"flash ").Append(ok ? "ok" : "refused").Append("\" id=\"flash\" role=\"status\">").Append(E(message)).Append("</p>\n");
        }

        return this;
    }

    public ConsoleHtml Tiles(params (string Value, string Key, string Id)[] tiles)
    {
        _body.Append("<div class=\"tiles\">\n");
        foreach (var (value, key, id) in tiles)
        {
            _body.Append("<div class=\"tile\" id=\"").Append(E(id)).Append("\"><div class=\"value\">").Append(E(value)).Append("</div><div class=\"label\">").Append(E(T(key))).Append("</div></div>\n");
        }

        _body.Append("</div>\n");
        return this;
    }

    /// <summary>A table: header labels by key, cells already encoded (use <see cref="E"/>), or "none" when empty.</summary>
    public ConsoleHtml Table(string id, string[] headerKeys, IEnumerable<string[]> rows)
    {
        var list = rows.ToList();
        if (list.Count == 0)
        {
            _body.Append("<p class=\"note\" id=\"").Append(E(id)).Append("\">").Append(E(T("none"))).Append("</p>\n");
            return this;
        }

        _body.Append("<table id=\"").Append(E(id)).Append("\">\n<thead><tr>");
        foreach (var key in headerKeys)
        {
            _body.Append("<th>").Append(key.Length == 0 ? "" : E(T(key))).Append("</th>");
        }

        _body.Append("</tr></thead>\n<tbody>\n");
        foreach (var row in list)
        {
            _body.Append("<tr>");
            foreach (var cell in row)
            {
                _body.Append("<td>").Append(cell).Append("</td>");
            }

            _body.Append("</tr>\n");
        }

        _body.Append("</tbody></table>\n");
        return this;
    }

    /// <summary>
    /// A bar chart as inline SVG: one bar per label, the value above it, the label below. Colours
    /// come from the style sheet (class <c>bar</c>), so the policy needs no inline style.
    /// </summary>
    public ConsoleHtml BarChart(string id, string titleKey, IReadOnlyList<(string Label, long Value)> bars)
    {
        _body.Append("<figure class=\"chart\" id=\"").Append(E(id)).Append("\"><figcaption>").Append(E(T(titleKey))).Append("</figcaption>\n");
        if (bars.Count == 0)
        {
            _body.Append("<p class=\"note\">").Append(E(T("none"))).Append("</p></figure>\n");
            return this;
        }

        // Room below and to the left for the labels, which are turned to fit narrow bars.
        const int height = 240, top = 20, bottom = 70, left = 50;
        var slot = Math.Clamp(900 / bars.Count, 18, 80);
        var width = left * 2 + slot * bars.Count;
        var max = Math.Max(1, bars.Max(b => b.Value));
        var plot = height - top - bottom;
        _body.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-label=\"{E(T(titleKey))}\">\n");
        for (var i = 0; i < bars.Count; i++)
        {
            var (label, value) = bars[i];
            var h = (int)Math.Round(plot * (double)value / max);
            var x = left + i * slot + slot / 6;
            var w = slot * 2 / 3;
            var y = top + plot - h;
            _body.Append(CultureInfo.InvariantCulture, $"<rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{Math.Max(h, value > 0 ? 1 : 0)}\"><title>{E(label)}: {N(value)}</title></rect>");
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"value\" x=\"{x + w / 2}\" y=\"{y - 4}\" text-anchor=\"middle\">{N(value)}</text>");
            _body.Append(CultureInfo.InvariantCulture, $"<text class=\"axis\" x=\"{x + w / 2}\" y=\"{height - bottom + 14}\" text-anchor=\"end\" transform=\"rotate(-40 {x + w / 2} {height - bottom + 14})\">{E(label)}</text>\n");
        }

        _body.Append(CultureInfo.InvariantCulture, $"<line class=\"axis\" x1=\"{left}\" y1=\"{top + plot}\" x2=\"{width - left}\" y2=\"{top + plot}\"/>\n</svg></figure>\n");
        return this;
    }

    /// <summary>A form that posts to the console (same origin: the policy's form-action allows nothing else).</summary>
    public static string Form(string action, IEnumerable<(string Name, string Value)> hidden, string inner) =>
        $"<form method=\"post\" action=\"{E(action)}\">" + string.Concat(hidden.Select(h => $"<input type=\"hidden\" name=\"{E(h.Name)}\" value=\"{E(h.Value)}\">")) + inner + "</form>";

    /// <summary>The whole document around the body.</summary>
    public string Render(string titleKey)
    {
        var html = new StringBuilder(_body.Length + 4096);
        html.Append("<!DOCTYPE html>\n<html lang=\"").Append(language == ConsoleLanguage.Zh ? "zh-CN" : "en").Append("\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(E(T(titleKey))).Append(" — ").Append(E(T("title"))).Append("</title>\n<link rel=\"stylesheet\" href=\"/console/console.css\">\n</head>\n<body>\n<header>\n<div class=\"brand\">")
            .Append(E(T("title"))).Append(" · ").Append(E(T("node"))).Append(' ').Append(E(node)).Append("</div>\n<div class=\"who\">").Append(E(T("signed-in"))).Append(" <span id=\"operator\">").Append(E(operatorUri)).Append("</span> · ")
            .Append("<a id=\"language\" href=\"").Append(E(path)).Append("?lang=").Append(language == ConsoleLanguage.Zh ? "en" : "zh").Append("\">").Append(E(T("language"))).Append("</a></div>\n<nav>");
        foreach (var (href, key) in Navigation)
        {
            var current = string.Equals(href, path, StringComparison.Ordinal) || (href != "/console" && path.StartsWith(href, StringComparison.Ordinal));
            html.Append("<a href=\"").Append(href).Append('"').Append(current ? " class=\"current\" aria-current=\"page\"" : "").Append('>').Append(E(T(key))).Append("</a>");
        }

        html.Append("</nav>\n</header>\n<main>\n<h1>").Append(E(T(titleKey))).Append("</h1>\n").Append(_body).Append("</main>\n</body>\n</html>\n");
        return html.ToString();
    }

    /// <summary>The console's one style sheet, served by the node itself.</summary>
    public const string StyleSheet = """
        * { box-sizing: border-box; }
        body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", system-ui, sans-serif; color: #1b2430; margin: 0; line-height: 1.45; font-size: 14px; background: #fff; }
        header { background: #8b1a1a; color: #fff; padding: 10px 24px 0; }
        header a { color: #fff; }
        .brand { font-weight: 600; font-size: 16px; }
        .who { float: right; margin-top: -22px; font-size: 12px; }
        nav { margin-top: 8px; }
        nav a { display: inline-block; padding: 6px 12px; text-decoration: none; border-radius: 4px 4px 0 0; }
        nav a.current { background: #fff; color: #8b1a1a; font-weight: 600; }
        main { max-width: 1180px; margin: 18px auto; padding: 0 24px; }
        h1 { font-size: 22px; margin: 0 0 12px; }
        h2 { font-size: 17px; margin: 26px 0 8px; color: #8b1a1a; border-bottom: 1px solid #d9dde3; padding-bottom: 4px; }
        .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 10px; }
        .tile { border: 1px solid #d9dde3; border-radius: 6px; padding: 10px 12px; background: #f7f8fa; }
        .tile .value { font-size: 22px; font-weight: 600; }
        .tile .label { color: #4a5566; font-size: 12px; }
        table { border-collapse: collapse; width: 100%; font-size: 12.5px; margin: 6px 0 12px; }
        th, td { border: 1px solid #d9dde3; padding: 5px 7px; text-align: left; vertical-align: top; }
        th { background: #eef1f5; font-weight: 600; }
        tr:nth-child(even) td { background: #fafbfc; }
        .note { color: #4a5566; font-size: 12px; }
        .late, .down, .unhealthy, .refused { color: #b42318; font-weight: 600; }
        .ok, .up, .healthy { color: #1a7f37; }
        .degraded { color: #7a4b00; font-weight: 600; }
        .flash { padding: 8px 12px; border-radius: 4px; border: 1px solid #d9dde3; background: #f7f8fa; }
        .chart { margin: 8px 0 18px; }
        .chart figcaption { font-weight: 600; margin-bottom: 4px; }
        .chart svg { display: block; max-width: 100%; height: auto; }
        .chart .bar { fill: #8b1a1a; }
        .chart text { font-size: 11px; fill: #1b2430; }
        .chart line.axis { stroke: #4a5566; }
        form { display: inline; }
        input[type=text], input[type=search] { padding: 3px 6px; border: 1px solid #b8c0cc; border-radius: 3px; }
        button { padding: 3px 10px; border: 1px solid #8b1a1a; background: #fff; color: #8b1a1a; border-radius: 3px; cursor: pointer; }
        button.primary { background: #8b1a1a; color: #fff; }
        code { font-size: 12px; word-break: break-all; }
        """;
}
