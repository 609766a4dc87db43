using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The annual report as one printable HTML page: inline CSS, charts as inline SVG drawn here on
/// the server. No script, no external font, image or style sheet, so it reads offline and prints
/// the same. Every text from the data is HTML-encoded.
/// </summary>
public static class AnnualReportHtml
{
    private static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private static readonly string[] MonthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

    private const string Style = """
        @page { size: A4; margin: 14mm; }
        * { box-sizing: border-box; }
        body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "Microsoft YaHei", system-ui, sans-serif; color: #1b2430; margin: 24px auto; max-width: 1180px; line-height: 1.45; font-size: 14px; }
        header { border-bottom: 3px solid #8b1a1a; padding-bottom: 10px; margin-bottom: 18px; }
        h1 { font-size: 26px; margin: 0 0 4px; }
        h2 { font-size: 19px; margin: 28px 0 10px; color: #8b1a1a; border-bottom: 1px solid #d9dde3; padding-bottom: 4px; }
        .meta { color: #4a5566; }
        .badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; background: #fdf0d5; color: #7a4b00; border: 1px solid #e8c77d; margin-left: 6px; }
        .tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 10px; }
        .tile { border: 1px solid #d9dde3; border-radius: 6px; padding: 10px 12px; background: #f7f8fa; }
        .tile .value { font-size: 22px; font-weight: 600; }
        .tile .label { color: #4a5566; font-size: 12px; }
        table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
        th, td { border: 1px solid #d9dde3; padding: 5px 7px; text-align: right; vertical-align: top; }
        th { background: #eef1f5; font-weight: 600; }
        td.text, th.text { text-align: left; }
        tr:nth-child(even) td { background: #fafbfc; }
        .chart { break-inside: avoid; margin: 8px 0 18px; }
        .chart svg { display: block; max-width: 100%; height: auto; }
        .note { color: #4a5566; font-size: 12px; }
        .late { color: #b42318; font-weight: 600; }
        .ok { color: #1a7f37; }
        footer { margin-top: 28px; color: #4a5566; font-size: 12px; border-top: 1px solid #d9dde3; padding-top: 8px; }
        @media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
        """;

    public static string Render(AnnualReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var html = new StringBuilder(32 * 1024);
        var subject = report.Department is { } d ? $"{d.Name ?? d.CreditCode} ({d.CreditCode})" : $"Jurisdiction {report.Node}";
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        html.Append("<title>").Append(E($"Annual evaluation report {report.Year} — {subject}")).Append("</title>\n<style>").Append(Style).Append("</style>\n</head>\n<body>\n");

        html.Append("<header><h1>").Append(E($"Government information resource sharing — annual evaluation report {report.Year}")).Append("</h1>\n<div class=\"meta\">")
            .Append(E(subject)).Append(" · node ").Append(E(report.Node))
            .Append(" · generated ").Append(E(report.GeneratedAt.ToOffset(TimeSpan.FromHours(8)).ToString("yyyy-MM-dd HH:mm", Invariant))).Append(" (China Standard Time)")
            .Append(" · due by ").Append(E(report.DueBy.ToString("yyyy-MM-dd", Invariant))).Append(" (Art. 40)");
        if (!report.YearComplete)
        {
            html.Append("<span class=\"badge\">provisional: the year is not over</span>");
        }

        html.Append("</div></header>\n");

        var s = report.Summary;
        html.Append("<h2>Summary</h2>\n<div class=\"tiles\">\n");
        Tile(html, N(s.Catalog.Resources), "resources in the sharing catalog");
        Tile(html, N(s.Catalog.Items), "shared information items");
        Tile(html, N(s.Pulls.Exchanges), $"data pulls served ({N(s.Pulls.Rows)} rows, {Bytes(s.Pulls.Bytes)})");
        Tile(html, N(s.Pushes.Exchanges), $"data pushes ({N(s.Pushes.Rows)} rows)");
        Tile(html, $"{N(s.Requests.AnsweredInTime)} / {N(s.Requests.Answered)}", "share requests answered in time");
        Tile(html, Days(s.Requests.MedianWorkingDays) + " / " + Days(s.Requests.P90WorkingDays), "response, median / 90th percentile (working days)");
        Tile(html, $"{N(s.FreshResources)} / {N(s.FreshResources + s.LateResources)}", "shared resources updated on time");
        Tile(html, N(report.Violations.Total), "violations (Art. 42)");
        html.Append("</div>\n<p class=\"note\">Share types: ").Append(N(s.Catalog.Unconditional)).Append(" unconditional, ")
            .Append(N(s.Catalog.Conditional)).Append(" conditional, ").Append(N(s.Catalog.NotShared)).Append(" not shared. Disputes: ")
            .Append(N(s.Disputes.Received)).Append(" raised, ").Append(N(s.Disputes.AnsweredOnTime)).Append(" of ").Append(N(s.Disputes.Answered))
            .Append(" answered on time, ").Append(N(s.Disputes.Corrected)).Append(" corrected. Catalog entries not maintained within the year: ")
            .Append(N(s.StaleEntries)).Append(".</p>\n");

        html.Append("<h2>Exchanges per month</h2>\n<div class=\"chart\">").Append(MonthlyChart(report.Months)).Append("</div>\n");
        html.Append("<h2>Data freshness per department</h2>\n<div class=\"chart\">").Append(FreshnessChart(report.Departments)).Append("</div>\n");
        html.Append("<h2>Response times to share requests</h2>\n<div class=\"chart\">").Append(ResponseChart(report.Departments)).Append("</div>\n");

        html.Append("<h2>Department scorecards</h2>\n<table>\n<thead><tr><th class=\"text\">Department</th><th>Resources</th><th>Items</th><th>Uncond. / cond. / not shared</th>")
            .Append("<th>Pulls served</th><th>Pulls used</th><th>Pushes</th><th>Requests answered (in time)</th><th>Median / P90 days</th><th>Overdue</th>")
            .Append("<th>Fresh / late</th><th>Catalog maintained</th><th>Disputes on time</th></tr></thead>\n<tbody>\n");
        foreach (var card in report.Departments)
        {
            html.Append("<tr><td class=\"text\">").Append(E(card.Department.Name ?? card.Department.CreditCode)).Append("<br><span class=\"note\">").Append(E(card.Department.CreditCode)).Append("</span></td>")
                .Append(Td(N(card.Catalog.Resources))).Append(Td(N(card.Catalog.Items)))
                .Append(Td($"{card.Catalog.Unconditional} / {card.Catalog.Conditional} / {card.Catalog.NotShared}"))
                .Append(Td(N(card.Served.Exchanges))).Append(Td(N(card.Used.Exchanges))).Append(Td(N(card.Pushed.Exchanges)))
                .Append(Td($"{card.Requests.Answered} ({card.Requests.AnsweredInTime})"))
                .Append(Td($"{Days(card.Requests.MedianWorkingDays)} / {Days(card.Requests.P90WorkingDays)}"))
                .Append(Td(N(card.Requests.Overdue), card.Requests.Overdue > 0))
                .Append(Td($"{card.Freshness.OnTime} / {card.Freshness.Late}", card.Freshness.Late > 0))
                .Append(Td($"{card.Maintenance.MaintainedWithinYear} of {card.Maintenance.Resources}", card.Maintenance.Stale > 0))
                .Append(Td($"{card.Disputes.AnsweredOnTime} of {card.Disputes.Answered}", card.Disputes.Overdue > 0))
                .Append("</tr>\n");
        }

        html.Append("</tbody></table>\n");

        html.Append("<h2>Violations (Art. 42)</h2>\n");
        if (report.Violations.Items.Count == 0)
        {
            html.Append("<p>No violation was recorded for this year.</p>\n");
        }
        else
        {
            html.Append("<p class=\"note\">").Append(string.Join(" · ", report.Violations.ByKind.Where(k => k.Value > 0).Select(k => $"{E(KindName(k.Key))}: {k.Value}")))
                .Append(" — ").Append(string.Join(" · ", report.Violations.ByStatus.Select(k => $"{E(k.Key.ToString().ToLowerInvariant())}: {k.Value}"))).Append("</p>\n");
            html.Append("<table>\n<thead><tr><th class=\"text\">Occurred</th><th class=\"text\">Kind</th><th class=\"text\">Department</th><th class=\"text\">What</th><th class=\"text\">Evidence</th><th class=\"text\">Status</th><th class=\"text\">Rectify by</th></tr></thead>\n<tbody>\n");
            foreach (var v in report.Violations.Items)
            {
                html.Append("<tr><td class=\"text\">").Append(E(v.OccurredOn.ToString("yyyy-MM-dd", Invariant))).Append("</td><td class=\"text\">").Append(E(KindName(v.Kind)))
                    .Append("<br><span class=\"note\">").Append(E(v.Rule)).Append("</span></td><td class=\"text\">").Append(E(v.Department.Name ?? v.Department.CreditCode))
                    .Append("</td><td class=\"text\">").Append(E(v.Summary)).Append("</td><td class=\"text note\">")
                    .Append(string.Join("<br>", v.Evidence.Select(r => E($"{r.Node}/{r.Log}#{r.Sequence}{(r.ExchangeId is null ? "" : " " + r.ExchangeId)}"))))
                    .Append("</td><td class=\"text").Append(v.RectificationOverdue ? " late" : "").Append("\">").Append(E(v.Status.ToString().ToLowerInvariant()))
                    .Append("</td><td class=\"text\">").Append(E(v.RectifyBy.ToString("yyyy-MM-dd", Invariant))).Append("</td></tr>\n");
            }

            html.Append("</tbody></table>\n");
        }

        html.Append("<footer>Figures are computed from the node's exchange and change logs and its catalog and requests stores; definitions in GovShare's Evaluation/README.md. ")
            .Append("Days are China Standard Time; working days follow the State Council's holiday notice.</footer>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static string MonthlyChart(IReadOnlyList<MonthlyExchanges> months)
    {
        const int width = 760, height = 280, left = 56, right = 16, top = 20, bottom = 44;
        var plotW = width - left - right;
        var plotH = height - top - bottom;
        var max = NiceMax(months.Select(m => m.Pulls + m.Pushes).DefaultIfEmpty(0).Max());
        var svg = new StringBuilder();
        svg.Append(Invariant, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Exchanges per month\">");
        Axis(svg, left, top, plotW, plotH, max);
        var slot = plotW / 12.0;
        foreach (var m in months)
        {
            var x = left + ((m.Month - 1) * slot) + (slot * 0.18);
            var w = slot * 0.64;
            var pullH = plotH * m.Pulls / (double)max;
            var pushH = plotH * m.Pushes / (double)max;
            var y = top + plotH - pullH;
            svg.Append(Invariant, $"<rect x=\"{x:0.#}\" y=\"{y:0.#}\" width=\"{w:0.#}\" height=\"{pullH:0.#}\" fill=\"#2f6fb3\"><title>{MonthNames[m.Month - 1]}: {m.Pulls} pulls</title></rect>");
            svg.Append(Invariant, $"<rect x=\"{x:0.#}\" y=\"{y - pushH:0.#}\" width=\"{w:0.#}\" height=\"{pushH:0.#}\" fill=\"#7fb8a4\"><title>{MonthNames[m.Month - 1]}: {m.Pushes} pushes</title></rect>");
            if (m.Pulls + m.Pushes > 0)
            {
                svg.Append(Invariant, $"<text x=\"{x + (w / 2):0.#}\" y=\"{y - pushH - 4:0.#}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#1b2430\">{m.Pulls + m.Pushes}</text>");
            }

            svg.Append(Invariant, $"<text x=\"{x + (w / 2):0.#}\" y=\"{top + plotH + 16}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#4a5566\">{MonthNames[m.Month - 1]}</text>");
        }

        Legend(svg, left, height - 12, ("#2f6fb3", "pulls (incl. forwarded)"), ("#7fb8a4", "pushes"));
        return svg.Append("</svg>").ToString();
    }

    private static string FreshnessChart(IReadOnlyList<DepartmentScorecard> cards)
    {
        const int left = 300, barW = 380, row = 30, top = 10;
        var rows = cards.Where(c => c.Freshness.Resources > 0).ToList();
        if (rows.Count == 0)
        {
            return "<p class=\"note\">No shared resource had an update cycle to keep in this year.</p>";
        }

        var height = top + (rows.Count * row) + 36;
        var width = left + barW + 160;
        var svg = new StringBuilder();
        svg.Append(Invariant, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Data freshness per department\">");
        for (var i = 0; i < rows.Count; i++)
        {
            var f = rows[i].Freshness;
            var y = top + (i * row);
            var onW = barW * f.OnTime / (double)f.Resources;
            svg.Append(Invariant, $"<text x=\"{left - 8}\" y=\"{y + 18}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1b2430\">{E(Short(rows[i].Department.Name ?? rows[i].Department.CreditCode, 40))}</text>");
            svg.Append(Invariant, $"<rect x=\"{left}\" y=\"{y + 5}\" width=\"{onW:0.#}\" height=\"18\" fill=\"#3a9d5d\"><title>{f.OnTime} on time</title></rect>");
            svg.Append(Invariant, $"<rect x=\"{left + onW:0.#}\" y=\"{y + 5}\" width=\"{barW - onW:0.#}\" height=\"18\" fill=\"#d9534f\"><title>{f.Late} late</title></rect>");
            svg.Append(Invariant, $"<text x=\"{left + barW + 8}\" y=\"{y + 18}\" font-size=\"12\" fill=\"#1b2430\">{f.OnTimePercent:0.#}% on time ({f.OnTime}/{f.Resources})</text>");
        }

        Legend(svg, left, height - 10, ("#3a9d5d", "updated within cycle + 10 working days"), ("#d9534f", "late at least once"));
        return svg.Append("</svg>").ToString();
    }

    private static string ResponseChart(IReadOnlyList<DepartmentScorecard> cards)
    {
        const int left = 300, barW = 380, row = 34, top = 24, limit = 10;
        var rows = cards.Where(c => c.Requests.Answered > 0).ToList();
        if (rows.Count == 0)
        {
            return "<p class=\"note\">No share request was answered in this year.</p>";
        }

        var max = NiceMax((long)Math.Max(limit + 2, rows.Max(c => c.Requests.P90WorkingDays ?? 0)));
        var height = top + (rows.Count * row) + 36;
        var width = left + barW + 300;
        double X(double days) => left + (barW * days / max);
        var svg = new StringBuilder();
        svg.Append(Invariant, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-label=\"Response times\">");
        for (var t = 0L; t <= max; t += max / 4)
        {
            svg.Append(Invariant, $"<line x1=\"{X(t):0.#}\" y1=\"{top - 4}\" x2=\"{X(t):0.#}\" y2=\"{top + (rows.Count * row)}\" stroke=\"#e3e6ea\"/>");
            svg.Append(Invariant, $"<text x=\"{X(t):0.#}\" y=\"{top - 8}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#4a5566\">{t}</text>");
        }

        for (var i = 0; i < rows.Count; i++)
        {
            var r = rows[i].Requests;
            var y = top + (i * row);
            svg.Append(Invariant, $"<text x=\"{left - 8}\" y=\"{y + 20}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1b2430\">{E(Short(rows[i].Department.Name ?? rows[i].Department.CreditCode, 40))}</text>");
            svg.Append(Invariant, $"<rect x=\"{left}\" y=\"{y + 4}\" width=\"{X(r.P90WorkingDays ?? 0) - left:0.#}\" height=\"12\" fill=\"#a9c4e4\"><title>90th percentile {Days(r.P90WorkingDays)} working days</title></rect>");
            svg.Append(Invariant, $"<rect x=\"{left}\" y=\"{y + 17}\" width=\"{X(r.MedianWorkingDays ?? 0) - left:0.#}\" height=\"12\" fill=\"#2f6fb3\"><title>median {Days(r.MedianWorkingDays)} working days</title></rect>");
            svg.Append(Invariant, $"<text x=\"{left + barW + 8}\" y=\"{y + 20}\" font-size=\"12\" fill=\"#1b2430\">median {Days(r.MedianWorkingDays)}, P90 {Days(r.P90WorkingDays)} ({r.Answered} answered)</text>");
        }

        svg.Append(Invariant, $"<line x1=\"{X(limit):0.#}\" y1=\"{top - 4}\" x2=\"{X(limit):0.#}\" y2=\"{top + (rows.Count * row)}\" stroke=\"#b42318\" stroke-width=\"1.5\" stroke-dasharray=\"5 3\"/>");
        Legend(svg, left, height - 10, ("#2f6fb3", "median"), ("#a9c4e4", "90th percentile"), ("#b42318", "limit: 10 working days (Art. 25)"));
        return svg.Append("</svg>").ToString();
    }

    private static void Axis(StringBuilder svg, int left, int top, int plotW, int plotH, long max)
    {
        for (var i = 0; i <= 4; i++)
        {
            var value = max * i / 4;
            var y = top + plotH - (plotH * i / 4.0);
            svg.Append(Invariant, $"<line x1=\"{left}\" y1=\"{y:0.#}\" x2=\"{left + plotW}\" y2=\"{y:0.#}\" stroke=\"{(i == 0 ? "#8a94a3" : "#e3e6ea")}\"/>");
            svg.Append(Invariant, $"<text x=\"{left - 6}\" y=\"{y + 4:0.#}\" font-size=\"11\" text-anchor=\"end\" fill=\"#4a5566\">{value}</text>");
        }
    }

    private static void Legend(StringBuilder svg, int x, int y, params (string Colour, string Label)[] items)
    {
        foreach (var (colour, label) in items)
        {
            svg.Append(Invariant, $"<rect x=\"{x}\" y=\"{y - 10}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{x + 16}\" y=\"{y}\" font-size=\"12\" fill=\"#4a5566\">{E(label)}</text>");
            x += 28 + (label.Length * 7);
        }
    }

    private static void Tile(StringBuilder html, string value, string label) =>
        html.Append("<div class=\"tile\"><div class=\"value\">").Append(E(value)).Append("</div><div class=\"label\">").Append(E(label)).Append("</div></div>\n");

    private static string Td(string text, bool late = false) => $"<td{(late ? " class=\"late\"" : "")}>{E(text)}</td>";

    /// <summary>Four ticks of 1, 2 or 5 times a power of ten: the smallest such axis reaching the value.</summary>
    private static long NiceMax(long value)
    {
        for (var magnitude = 1L; ; magnitude *= 10)
        {
            foreach (var step in new[] { 1, 2, 5 })
            {
                if (4 * step * magnitude >= Math.Max(1, value))
                {
                    return 4 * step * magnitude;
                }
            }
        }
    }

    private static string KindName(ViolationKind kind) => kind switch
    {
        ViolationKind.CatalogNotCompiled => "catalog not compiled",
        ViolationKind.CatalogNotUpdated => "catalog not updated",
        ViolationKind.DataLate => "data late",
        ViolationKind.DataInconsistent => "data inconsistent",
        ViolationKind.CatalogUpdateMissed => "catalog update missed",
        ViolationKind.PurposeMisuse => "use outside purpose",
        ViolationKind.RequestOverdue => "request unanswered",
        ViolationKind.ComplaintUnanswered => "complaint unanswered",
        ViolationKind.ReportLate => "annual report late",
        // A kind added later shows under its own name rather than under another kind's label.
        _ => kind.ToString(),
    };

    private static string Short(string text, int max) => text.Length <= max ? text : text[..(max - 1)] + "…";

    private static string N(long value) => value.ToString("#,0", Invariant);

    private static string Days(double? value) => value is { } v ? v.ToString("0.#", Invariant) : "–";

    private static string Bytes(long bytes) => bytes switch
    {
        >= 1 << 30 => (bytes / (double)(1 << 30)).ToString("0.#", Invariant) + " GiB",
        >= 1 << 20 => (bytes / (double)(1 << 20)).ToString("0.#", Invariant) + " MiB",
        >= 1 << 10 => (bytes / 1024.0).ToString("0.#", Invariant) + " KiB",
        _ => bytes.ToString(Invariant) + " B",
    };

    private static string E(string text) => Encoder.Encode(text);
}
