using System.Security.Cryptography.X509Certificates;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Evaluation;
using GovShare.Node.Hierarchy;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using GovShare.Node.Requests;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using static GovShare.Node.OperatorConsole.ConsoleHtml;

namespace GovShare.Node.OperatorConsole;

/// <summary>
/// The console's pages. Each reads the node through the services its feature already offers
/// (the same ones the operator API answers from) and writes no state of its own; the actions
/// call the features' own decisions with the operator's identity.
/// </summary>
internal sealed class ConsolePages(
    IServiceProvider services,
    IOptions<NodeOptions> options,
    NodeDataFolder data,
    TimeProvider time,
    DepartmentRegistry departments,
    TrustExpiryWatch trust,
    DepartmentCertificates departmentCertificates,
    CatalogStore catalog,
    CatalogFilings filings,
    CatalogAggregate subtree,
    ShareRequestStore requests,
    DisputeStore disputes,
    ComplaintStore complaints,
    ViolationStore violations,
    EvaluationService evaluation,
    NodeLinkRegistry links,
    LinkHealth linkHealth,
    LogWriter logs,
    ExchangeStatistics statistics,
    RefusalTally refusals,
    HealthCheckService health)
{
    private DateOnly Today => WorkingDayCalendar.ToChinaDate(time.GetUtcNow());

    public async Task<string> OverviewAsync(ConsoleHtml page, CancellationToken cancellation)
    {
        var today = Today;
        var open = violations.List(new ViolationQuery()).Count(v => v.Status != ViolationStatus.Rectified);
        var waiting = WaitingRequests();
        var volume = statistics.Query(StatisticsDimension.Resource, StatisticsPeriod.Day, today.AddDays(-29), today);
        var perDay = Enumerable.Range(0, 30).Select(i => today.AddDays(i - 29))
            .Select(day => (Label: day.ToString("MM-dd", System.Globalization.CultureInfo.InvariantCulture), Value: volume.Where(s => s.PeriodStart == day).Sum(s => s.Exchanges)))
            .ToList();
        page.Tiles(
            (N(departments.All().Count), "overview.departments", "tile-departments"),
            (N(catalog.Active().Count), "overview.resources", "tile-resources"),
            (N(catalog.Deadlines().Reviews.Count + filings.All().Count(f => f.Status == FilingStatus.Received)), "overview.reviews", "tile-reviews"),
            (N(open), "overview.violations", "tile-violations"),
            (N(waiting.Count), "overview.requests", "tile-requests"),
            (N(waiting.Count(r => r.Overdue)), "overview.requests-overdue", "tile-requests-overdue"),
            (N(volume.Sum(s => s.Rows)), "overview.rows", "tile-rows"));
        page.BarChart("chart-volume", "overview.volume", perDay);
        page.BarChart("chart-refusals", "overview.refusals", refusals.ByReason());

        page.Heading("overview.health");
        var report = await health.CheckHealthAsync(cancellation);
        page.Table("health", ["check", "status", "reason"], report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => new[]
        {
            E(e.Key),
            $"<span class=\"{e.Value.Status.ToString().ToLowerInvariant()}\">{E(e.Value.Status.ToString())}</span>",
            E(e.Value.Description) + (e.Value.Data.Count > 0 ? " <span class=\"note\">" + E(string.Join(", ", e.Value.Data.Select(d => $"{d.Key}={d.Value}"))) + "</span>" : ""),
        }));

        page.Heading("overview.links");
        page.Table("links", ["node", "link.role", "status", "since"], links.All().Select(link =>
        {
            var state = linkHealth.Of(link.DivisionCode);
            var status = state is null ? $"<span class=\"note\">{E(page.T("link.unknown"))}</span>"
                : state.Up ? $"<span class=\"up\">{E(page.T("link.up"))}</span>"
                : $"<span class=\"down\">{E(page.T("link.down"))}</span> {E(state.Reason)}";
            return new[] { E(link.DivisionCode), E(link.Role.ToString()), status, state is null ? "" : E(Time(state.Since)) };
        }));

        page.Heading("overview.kafka");
        if (services.GetService(typeof(KafkaLogRelay)) is KafkaLogRelay relay)
        {
            page.Table("kafka", ["logs.log", "logs.sequence", "logs.shipped", "overview.lag"], Enum.GetValues<LogKind>().Select(log => new[]
            {
                E(LogEntry.LogName(log)), N(logs.DurableSequence(log)), N(relay.Shipped(log)), N(Math.Max(0, logs.DurableSequence(log) - relay.Shipped(log))),
            }));
        }
        else
        {
            page.Paragraph(page.T("overview.kafka-off"));
        }

        return page.Render("nav.overview");
    }

    public string Reviews(ConsoleHtml page)
    {
        page.Heading("reviews.share");
        var reviews = catalog.Deadlines().Reviews;
        page.Table("share-reviews", ["resource", "name", "department", "reviews.in-force", "reviews.proposed", "due", ""], reviews.Select(review =>
        {
            var entry = catalog.Get(review.ResourceCode);
            var proposed = entry?.ShareReview?.Proposed;
            var code = review.ResourceCode;
            var form = Form("/console/reviews/decision", [("code", code)],
                $"<input type=\"text\" name=\"reason\" id=\"reason-{E(code)}\" maxlength=\"1000\" placeholder=\"{E(page.T("reviews.reason-placeholder"))}\"> " +
                $"<button class=\"primary\" name=\"outcome\" value=\"approve\" id=\"approve-{E(code)}\">{E(page.T("approve"))}</button> " +
                $"<button name=\"outcome\" value=\"reject\" id=\"reject-{E(code)}\">{E(page.T("reject"))}</button>");
            return new[]
            {
                $"<code>{E(code)}</code>", E(review.Name), E(entry?.Provider.Name ?? review.Department),
                E(entry is null ? "" : Share(entry.Share)), E((proposed is null ? "" : Share(proposed)) + (entry?.ShareReview?.Scope is { } scope ? $" · scope {scope}" : "")),
                E(Day(review.Due)) + (review.Overdue ? $" <span class=\"late\">{E(page.T("overdue"))}</span>" : ""),
                form,
            };
        }));

        page.Heading("reviews.filings");
        page.Table("filings", ["reviews.child", "reviews.received", "reviews.entries", "reviews.changes", "status", ""], filings.All().OrderByDescending(f => f.ReceivedAt).Take(200).Select(filing => new[]
        {
            E(filing.Child), E(Time(filing.ReceivedAt)), N(filing.Entries), $"{N(filing.Added.Count)} / {N(filing.Removed.Count)} / {N(filing.Changed.Count)}",
            E(filing.Status.ToString()) + (filing.ReviewedBy is { } by ? $" <span class=\"note\">{E(by)}</span>" : ""),
            filing.Status != FilingStatus.Received ? E(filing.Reason) : Form("/console/filings/decision", [("id", filing.Id)],
                $"<input type=\"text\" name=\"reason\" maxlength=\"1000\" placeholder=\"{E(page.T("reviews.reason-placeholder"))}\"> " +
                $"<button class=\"primary\" name=\"outcome\" value=\"approve\" id=\"approve-filing-{E(filing.Id)}\">{E(page.T("approve"))}</button> " +
                $"<button name=\"outcome\" value=\"reject\">{E(page.T("send-back"))}</button>"),
        }));
        return page.Render("nav.reviews");
    }

    public (bool Ok, string Message) DecideReview(IFormCollection form, string by, ConsoleLanguage language)
    {
        var code = form["code"].ToString();
        var outcome = form["outcome"].ToString();
        if (outcome is not ("approve" or "reject") || code.Length == 0)
        {
            return (false, ConsoleText.Get("reviews.refused", language) + ": outcome must be approve or reject");
        }

        var result = catalog.DecideShareReview(code, outcome == "approve", form["reason"].ToString(), by);
        return result.Outcome == CatalogOutcome.Ok
            ? (true, $"{ConsoleText.Get("reviews.done", language)}: {code} {(outcome == "approve" ? ConsoleText.Get("approve", language) : ConsoleText.Get("reject", language))}")
            : (false, $"{ConsoleText.Get("reviews.refused", language)}: {code}: {result.Detail ?? string.Join("; ", result.Errors?.Select(e => $"{e.Path} {e.Message}") ?? [])}");
    }

    public (bool Ok, string Message) DecideFiling(IFormCollection form, string by, ConsoleLanguage language)
    {
        var id = form["id"].ToString();
        var outcome = form["outcome"].ToString();
        if (outcome is not ("approve" or "reject") || id.Length == 0)
        {
            return (false, ConsoleText.Get("reviews.refused", language) + ": outcome must be approve or reject");
        }

        var result = filings.Review(id, outcome == "approve", form["reason"].ToString(), by, out _);
        return result == FilingReviewOutcome.Ok
            ? (true, $"{ConsoleText.Get("reviews.done", language)}: {id}")
            : (false, $"{ConsoleText.Get("reviews.refused", language)}: {id}: {result}");
    }

    public string Violations(ConsoleHtml page)
    {
        page.Raw(Form("/console/violations/scan", [], $"<button class=\"primary\" id=\"scan\">{E(page.T("violations.scan"))}</button>"));
        var all = violations.List(new ViolationQuery());
        page.BarChart("chart-violations", "violations.by-kind", [.. all.GroupBy(v => v.Kind).OrderBy(g => g.Key).Select(g => (g.Key.ToString(), (long)g.Count()))]);
        page.Table("violations", ["kind", "violations.rule", "department", "resource", "violations.occurred", "violations.rectify-by", "status", "violations.escalated-to", "reason"],
            all.OrderByDescending(v => v.DetectedAt).Take(500).Select(v => new[]
            {
                E(v.Kind.ToString()), $"<code>{E(v.Rule)}</code>", E(v.Department.Name ?? v.Department.CreditCode) + $" <span class=\"note\">{E(v.Department.CreditCode)}</span>",
                v.ResourceCode is null ? "" : $"<code>{E(v.ResourceCode)}</code>", E(Day(v.OccurredOn)),
                E(Day(v.RectifyBy)) + (v.RectificationOverdue ? $" <span class=\"late\">{E(page.T("overdue"))}</span>" : ""),
                $"<span class=\"{(v.Status == ViolationStatus.Rectified ? "ok" : "late")}\">{E(v.Status.ToString())}</span>", E(v.EscalatedTo), E(v.Summary),
            }));
        return page.Render("violations.title");
    }

    public (bool Ok, string Message) Scan(string by, ConsoleLanguage language)
    {
        var scan = evaluation.Scan(by);
        return (true, $"{ConsoleText.Get("violations.scanned", language)}: {scan.Detected} detected, {scan.New.Count} new, {scan.Rectified.Count} rectified, {scan.Escalated.Count} escalated");
    }

    public string Report(ConsoleHtml page, int? year)
    {
        var current = Today.Year;
        var shown = year is { } y && y >= 2017 && y <= current ? y : current;
        var report = evaluation.Report(shown);
        var years = string.Join(" ", Enumerable.Range(Math.Max(2017, current - 4), Math.Min(5, current - 2016)).Reverse()
            .Select(y => y == shown ? $"<strong>{y}</strong>" : $"<a href=\"/console/report?year={y}\">{y}</a>"));
        page.Raw($"<p>{years}</p>\n");
        page.Paragraph($"{report.Year} · {page.T("report.due-by")} {Day(report.DueBy)}" + (report.YearComplete ? "" : $" · {page.T("report.provisional")}"));
        var s = report.Summary;
        page.Tiles(
            (N(s.Pulls.Exchanges), "report.pulls", "tile-pulls"),
            (N(s.Pushes.Exchanges), "report.pushes", "tile-pushes"),
            ($"{N(s.Requests.AnsweredInTime)} / {N(s.Requests.Answered)}", "report.in-time", "tile-in-time"),
            (N(report.Violations.Total), "report.violations", "tile-report-violations"));
        page.BarChart("chart-months", "report.per-month", [.. report.Months.Select(m => (m.Month.ToString("00", System.Globalization.CultureInfo.InvariantCulture), m.Pulls + m.Pushes))]);
        page.Raw($"<p><a id=\"full-report\" href=\"/console/report/{report.Year}.html\">{E(page.T("report.open"))}</a></p>\n");
        return page.Render("report.title");
    }

    /// <summary>The full annual report (the evaluation's own HTML), or null for a year that has none.</summary>
    public string? FullReport(int year) => year < 2017 || year > Today.Year ? null : AnnualReportHtml.Render(evaluation.Report(year));

    public string Cases(ConsoleHtml page)
    {
        var today = Today;
        var waiting = WaitingRequests();
        var open = disputes.Open(overdueOnly: false);
        var complaintsOpen = complaints.All(overdueOnly: false);
        var dues = waiting.Select(r => r.Due).Concat(open.Select(d => d.Due)).Concat(complaintsOpen.Select(c => c.Due)).ToList();
        page.BarChart("chart-week", "cases.week", [.. Enumerable.Range(0, 7).Select(i => today.AddDays(i)).Select(day => (Day(day), (long)dues.Count(d => d == day)))]);

        page.Heading("cases.requests");
        page.Table("requests", ["resource", "cases.user", "cases.provider", "since", "due"], waiting.Select(r => new[]
        {
            $"<code>{E(r.ResourceCode)}</code>", E(r.User.Name ?? r.User.CreditCode), E(r.Provider.Name ?? r.Provider.CreditCode), E(Time(r.SubmittedAt)), Due(page, r.Due, r.Overdue),
        }));

        page.Heading("cases.disputes");
        page.Table("disputes", ["resource", "kind", "cases.user", "cases.provider", "since", "due"], open.Select(d => new[]
        {
            $"<code>{E(d.ResourceCode)}</code>", E(d.Kind.ToString()), E(d.User.Name ?? d.User.CreditCode), E(d.Provider.Name ?? d.Provider.CreditCode), E(Time(d.RaisedAt)), Due(page, d.Due, d.Overdue),
        }));

        page.Heading("cases.complaints");
        page.Table("complaints", ["name", "department", "cases.subject", "since", "due"], complaintsOpen.Select(c => new[]
        {
            E(c.Number), E(c.Respondent.Name ?? c.Respondent.CreditCode), E(c.Subject), E(Time(c.FiledAt)), Due(page, c.Due, c.Overdue),
        }));

        page.Heading("cases.grants");
        page.Table("grants", ["resource", "cases.user", "status", "cases.valid-to"], requests.AllGrants(null, null).OrderBy(g => g.ValidTo).Take(500).Select(g => new[]
        {
            $"<code>{E(g.ResourceCode)}</code>", E(departments.Find(g.UserCreditCode)?.Name ?? g.UserCreditCode), E(g.Status.ToString()), E(Time(g.ValidTo)),
        }));
        return page.Render("nav.cases");
    }

    public string Departments(ConsoleHtml page)
    {
        page.Heading("departments.title");
        page.Raw(Form("/console/departments/register", [],
            $"<input type=\"text\" name=\"division\" id=\"register-division\" maxlength=\"6\" placeholder=\"{E(page.T("departments.division"))}\"> " +
            $"<input type=\"text\" name=\"credit\" id=\"register-credit\" maxlength=\"18\" placeholder=\"{E(page.T("departments.credit"))}\"> " +
            $"<input type=\"text\" name=\"name\" id=\"register-name\" maxlength=\"200\" placeholder=\"{E(page.T("name"))}\"> " +
            $"<button class=\"primary\" id=\"register\">{E(page.T("departments.register"))}</button>"));
        page.Table("departments", ["name", "departments.credit", "departments.division", "departments.registered", ""], departments.All().Select(d => new[]
        {
            E(d.Name), $"<code>{E(d.CreditCode)}</code>", E(d.DivisionCode), E(Time(d.RegisteredAt)),
            Form("/console/departments/remove", [("credit", d.CreditCode)], $"<button id=\"remove-{E(d.CreditCode)}\">{E(page.T("departments.remove"))}</button>"),
        }));
        // The node keeps no department certificate; this is what each presented on its last request
        // since the start, so a department that has not called since shows "not seen" (not "fine").
        page.Heading("departments.certificates");
        page.Paragraph(page.T("departments.certificates-note"));
        var seen = departments.All()
            .Select(d => (Department: d, Certificate: departmentCertificates.Find(d.CreditCode)))
            .OrderBy(d => d.Certificate is null ? 1 : 0).ThenBy(d => d.Certificate?.NotAfter).ThenBy(d => d.Department.CreditCode, StringComparer.Ordinal);
        page.Table("department-certificates", ["name", "departments.credit", "departments.serial", "departments.expires", "departments.days-left", "departments.last-seen"], seen.Select(d => d.Certificate is not { } c
            ? [E(d.Department.Name), $"<code>{E(d.Department.CreditCode)}</code>", $"<span class=\"note\" id=\"cert-{E(d.Department.CreditCode)}\">{E(page.T("departments.not-seen"))}</span>", "", "", ""]
            : new[]
            {
                E(d.Department.Name), $"<code>{E(d.Department.CreditCode)}</code>",
                $"<code id=\"cert-{E(d.Department.CreditCode)}\">{E(c.Serial)}</code> <span class=\"note\">SHA-1 {E(c.Thumbprint)}</span>",
                E(Time(c.NotAfter)),
                N((long)Math.Floor((c.NotAfter - time.GetUtcNow()).TotalDays)) + (departmentCertificates.Expiring(c.NotAfter) ? $" <span class=\"late\" id=\"expiring-{E(d.Department.CreditCode)}\">{E(page.T("departments.warn"))}</span>" : ""),
                E(Time(c.LastSeen)),
            }));
        page.Heading("departments.trust");
        page.Table("trust", ["kind", "name", "departments.expires", "departments.days-left"], trust.Check().OrderBy(i => i.At).Select(i => new[]
        {
            E(i.Kind.ToString()), E(i.Subject), E(Time(i.At)), N((long)Math.Floor(i.Left.TotalDays)) + (i.Warn ? $" <span class=\"late\">{E(page.T("departments.warn"))}</span>" : ""),
        }));
        return page.Render("nav.departments");
    }

    /// <summary>Registers a department (the registry validates and collects every fault), attributed to the operator.</summary>
    public (bool Ok, string Message) Register(IFormCollection form, string by, ConsoleLanguage language)
    {
        var errors = departments.Register(form["division"].ToString().Trim(), form["credit"].ToString().Trim(), form["name"].ToString().Trim(), out var registered, by);
        return errors.Count == 0
            ? (true, $"{ConsoleText.Get("departments.registered-now", language)}: {registered!.Name} ({registered.CreditCode})")
            : (false, $"{ConsoleText.Get("reviews.refused", language)}: {string.Join(" ", errors)}");
    }

    /// <summary>Removes a department's registration, attributed to the operator.</summary>
    public (bool Ok, string Message) Remove(IFormCollection form, string by, ConsoleLanguage language)
    {
        var credit = form["credit"].ToString();
        return departments.Remove(credit, by)
            ? (true, $"{ConsoleText.Get("departments.removed", language)}: {credit}")
            : (false, $"{ConsoleText.Get("reviews.refused", language)}: {credit}");
    }

    public string Catalog(ConsoleHtml page, string? q, int pageNumber)
    {
        var text = string.IsNullOrWhiteSpace(q) ? null : q.Trim();
        page.Raw($"<form method=\"get\" action=\"/console/catalog\"><input type=\"search\" name=\"q\" id=\"q\" maxlength=\"200\" value=\"{E(text)}\"> <button id=\"search\">{E(page.T("search"))}</button></form>\n");
        var found = catalog.ListResources(new CatalogQuery(Text: text, Page: Math.Max(1, pageNumber), PageSize: 100));
        page.Paragraph($"{N(found.Total)} {page.T("catalog.total")}");
        page.Table("catalog", ["resource", "name", "department", "catalog.share", "catalog.items", "catalog.updated"], found.Entries.Select(e => new[]
        {
            $"<code>{E(e.ResourceCode)}</code>", E(e.Name), E(e.Provider.Name ?? e.Provider.CreditCode), E(Share(e.Share)), N(e.Items.Count), E(Time(e.UpdatedAt)),
        }));

        // The tree below this node: what its children published (their sharing view, never more).
        // The whole tree above is the root's to show; a department searches it with `catalog tree`.
        var below = subtree.All()
            .Where(a => text is null || a.Entry.ResourceCode.Contains(text, StringComparison.OrdinalIgnoreCase) || a.Entry.Name.Contains(text, StringComparison.OrdinalIgnoreCase))
            .OrderBy(a => a.OwnerNode, StringComparer.Ordinal).ThenBy(a => a.Entry.ResourceCode, StringComparer.Ordinal)
            .ToList();
        page.Heading("catalog.subtree");
        page.Paragraph($"{N(below.Count)} {page.T("catalog.total")}");
        page.Table("catalog-subtree", ["node", "resource", "name", "department", "catalog.share", "catalog.items"], below.Take(100).Select(a => new[]
        {
            E(a.OwnerNode), $"<code>{E(a.Entry.ResourceCode)}</code>", E(a.Entry.Name), E(a.Entry.Provider.Name ?? a.Entry.Provider.CreditCode), E(Share(a.Entry.Share)), N(a.Entry.Items.Count),
        }));
        return page.Render("catalog.title");
    }

    public string Logs(ConsoleHtml page)
    {
        var node = options.Value;
        var store = LogStore.ForDataFolder(data.Path);
        using var certificate = X509CertificateLoader.LoadCertificateFromFile(node.Certificate);
        using var key = certificate.GetECDsaPublicKey();
        var states = logs.States().ToDictionary(s => s.Log);
        page.Paragraph(page.T("logs.verified"));
        page.Table("logs", ["logs.log", "status", "logs.sequence", "logs.shipped", "logs.checkpoint"], Enum.GetValues<LogKind>().Select(log =>
        {
            var (present, entry) = LogStore.ReadCheckpointCopy(store, log);
            string checkpoint;
            if (!present || entry?.Checkpoint is not { } signed)
            {
                checkpoint = $"<span class=\"note\">{E(page.T("logs.no-checkpoint"))}</span>";
            }
            else
            {
                var valid = key is not null && signed.VerifySignature(key, entry.Node, log);
                checkpoint = $"#{N(entry.Sequence)} · {E(Time(signed.Time))} · <span class=\"{(valid ? "ok" : "late")}\">{E(page.T(valid ? "logs.signed" : "logs.unsigned"))}</span><br><code>{E(signed.SignedHash)}</code>";
            }

            var state = states.GetValueOrDefault(log);
            var shipped = LogStore.ReadWatermark(store, log);
            return new[]
            {
                E(LogEntry.LogName(log)),
                state is null ? "" : $"<span class=\"{(state.Condition == LogCondition.Writable ? "ok" : "late")}\">{E(state.Condition.ToString())}</span> {E(state.Reason)}",
                N(logs.DurableSequence(log)), shipped is { } s ? N(s.Sequence) : "—", checkpoint,
            };
        }));
        return page.Render("logs.title");
    }

    /// <summary>Every undecided share request, each provider's inbox read through the store (which also expires lapsed ones).</summary>
    private List<ShareRequest> WaitingRequests() =>
        [.. departments.All().SelectMany(d => requests.List(CallerIdentity.Department(d.DivisionCode, d.CreditCode), PartyRole.Provider, ShareRequestStatus.Submitted)).OrderBy(r => r.Due)];

    private static string Due(ConsoleHtml page, DateOnly due, bool overdue) =>
        E(Day(due)) + (overdue ? $" <span class=\"late\">{E(page.T("overdue"))}</span>" : "");

    private static string Share(ShareAttributes share) => share.Type + (share.Condition is { } c ? $" ({c})" : share.Reason is { } r ? $" ({r})" : "");
}
