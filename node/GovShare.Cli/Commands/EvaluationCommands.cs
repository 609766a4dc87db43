using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare evaluation …</c>: the evaluation of Art. 38–42. The operator's scorecards, violation
/// scan, list and status changes and the annual report (through <see cref="OperatorClient"/>),
/// and a department's own scorecard (mTLS, through <see cref="DepartmentCommand"/>).
/// </summary>
internal static class EvaluationCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var command = new Command("evaluation", "Evaluation and compliance (Art. 38–42): scorecards, violations, the annual report.");
        var from = new Option<string?>("--from") { Description = "First day, yyyy-MM-dd (default: 1 January of this year)." };
        var to = new Option<string?>("--to") { Description = "Last day, yyyy-MM-dd (default: today)." };
        var department = new Option<string?>("--department") { Description = "Only this department (credit code)." };

        var scorecards = new Command("scorecards", "Department scorecards for a period (operator).") { from, to, department, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        scorecards.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.GetAsync($"v1/operator/evaluation/scorecards?{Query(("from", parse.GetValue(from)), ("to", parse.GetValue(to)), ("department", parse.GetValue(department)))}", cancellation)));

        var scan = new Command("scan", "Detect violations in the logs and record the new ones (operator; safe to repeat).") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        scan.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsync("v1/operator/evaluation/violations/scan", null, cancellation)));

        var status = new Option<string?>("--status") { Description = "notified, rectified or escalated." };
        var kind = new Option<string?>("--kind") { Description = "catalogNotCompiled, catalogNotUpdated, catalogUpdateMissed, dataLate, dataInconsistent or purposeMisuse." };
        var year = new Option<int?>("--year") { Description = "Violations that occurred in this year." };
        var violations = new Command("violations", "Recorded violations (operator).") { status, kind, department, year, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        violations.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.GetAsync($"v1/operator/evaluation/violations?{Query(("status", parse.GetValue(status)), ("kind", parse.GetValue(kind)), ("department", parse.GetValue(department)), ("year", parse.GetValue(year)?.ToString(System.Globalization.CultureInfo.InvariantCulture)))}", cancellation)));

        var id = new Argument<string>("id") { Description = "The violation id (vio-…)." };
        var show = new Command("violation", "One violation with its evidence (operator).") { id, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        show.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync($"v1/operator/evaluation/violations/{Uri.EscapeDataString(parse.GetValue(id)!)}", cancellation)));

        var next = new Argument<string>("status") { Description = "rectified or escalated." };
        var note = new Option<string?>("--note") { Description = "Why (shown in the violation's history)." };
        var move = new Command("status", "Mark a violation rectified or escalated (operator).") { id, next, note, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        move.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsJsonAsync($"v1/operator/evaluation/violations/{Uri.EscapeDataString(parse.GetValue(id)!)}/status", new { status = parse.GetValue(next), note = parse.GetValue(note) }, cancellation)));

        var reportYear = new Argument<int>("year") { Description = "The year reported on (due by 15 January of the next)." };
        var html = new Option<string?>("--html") { Description = "Write the printable HTML report to this file instead of printing JSON." };
        var report = new Command("report", "The annual report (Art. 40) of the jurisdiction, or of one department (operator).") { reportYear, department, html, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        report.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, async client =>
        {
            var query = Query(("department", parse.GetValue(department)));
            var file = parse.GetValue(html);
            var url = $"v1/operator/evaluation/report/{parse.GetValue(reportYear)}.{(file is null ? "json" : "html")}{(query.Length > 0 ? "?" + query : "")}";
            var response = await client.GetAsync(url, cancellation);
            if (file is null || !response.IsSuccessStatusCode)
            {
                return response;
            }

            using (response)
            {
                await File.WriteAllBytesAsync(file, await response.Content.ReadAsByteArrayAsync(cancellation), cancellation);
            }

            // Shown as the answer: where the page went.
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(JsonSerializer.Serialize(new { written = Path.GetFullPath(file) }), Encoding.UTF8, "application/json") };
        }));

        var scorecard = new Command("scorecard", "Your department's own scorecard (as a department, mTLS).") { from, to };
        DepartmentCommand.AddOptions(scorecard);
        scorecard.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            using var http = config.CreateHttpClient(TimeSpan.FromSeconds(60));
            using var response = await http.GetAsync($"v1/evaluation/scorecard?{Query(("from", parse.GetValue(from)), ("to", parse.GetValue(to)))}", cancellation);
            var body = await response.Content.ReadAsStringAsync(cancellation);
            if (!response.IsSuccessStatusCode)
            {
                throw new NodeRefusedException(response.StatusCode, body);
            }

            Console.WriteLine(JsonSerializer.Serialize(JsonDocument.Parse(body).RootElement, Indented));
            return ExitCodes.Ok;
        }, nothingDone: null));

        foreach (var sub in new[] { scorecards, scan, violations, show, move, report, scorecard })
        {
            command.Add(sub);
        }

        return command;
    }

    private static string Query(params (string Name, string? Value)[] pairs) =>
        string.Join('&', pairs.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}"));
}
