using System.CommandLine;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare office reports …</c>: the annual reports up the tree (Art. 40) — the province's report over its own
/// and its children's, the reports received with who is missing, and this node's own submission to its parent.
/// </summary>
internal static class ReportCommands
{
    public static Command Office()
    {
        var year = new Argument<int>("year") { Description = "The report's year, e.g. 2026." };
        var show = Operator(new Command("show", "This node's report of the year over its own and its children's, and the children that have not reported (due or late).") { year });
        show.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync($"v1/operator/evaluation/reports/{parse.GetValue(year)}", cancellation)));

        var child = new Option<string?>("--child") { Description = "One child's report as received, signed submission included (division code)." };
        var received = Operator(new Command("received", "The reports the child nodes submitted for the year: when, late or not, the signer's key.") { year, child });
        received.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync(
            $"v1/operator/evaluation/reports/{parse.GetValue(year)}/received" + (parse.GetValue(child) is { } c ? "/" + Uri.EscapeDataString(c) : ""), cancellation)));

        var status = Operator(new Command("status", "Where this node's own report of the year stands at its parent: due by, days left, the parent's record.") { year });
        status.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync($"v1/operator/evaluation/reports/{parse.GetValue(year)}/submission", cancellation)));

        var submit = Operator(new Command("submit", "Sign this node's report of the year with the node key and submit it to the parent now (the schedule does it from 1 January).") { year });
        submit.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsync($"v1/operator/evaluation/reports/{parse.GetValue(year)}/submit", null, cancellation)));

        var advice = new Option<string?>("--advice") { Description = "The improvement advice (改进建议), as text." };
        var adviceFile = new Option<string?>("--advice-file") { Description = "The improvement advice from a UTF-8 text file." };
        var publish = Operator(new Command("publish", "Publish the year's evaluation with the office's improvement advice (Art. 38); final once published.") { year, advice, adviceFile });
        publish.SetAction(async (parse, cancellation) =>
        {
            if (parse.GetValue(adviceFile) is { } file && !File.Exists(file))
            {
                await Console.Error.WriteLineAsync($"--advice-file: {file} does not exist.");
                return ExitCodes.Usage;
            }

            var text = parse.GetValue(adviceFile) is { } path ? await File.ReadAllTextAsync(path, cancellation) : parse.GetValue(advice);
            if (string.IsNullOrWhiteSpace(text))
            {
                await Console.Error.WriteLineAsync("Give the improvement advice with --advice or --advice-file.");
                return ExitCodes.Usage;
            }

            return await OperatorClient.CallAsync(parse, client => client.PostJsonAsync($"v1/operator/evaluation/reports/{parse.GetValue(year)}/publish", new Dictionary<string, string> { ["advice"] = text }, cancellation));
        });

        var published = Operator(new Command("published", "The year's evaluation as the office published it, with its advice.") { year });
        published.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync($"v1/operator/evaluation/reports/{parse.GetValue(year)}/published", cancellation)));

        return new Command("reports", "Annual reports up the tree (Art. 40): children report by 15 January, the province by the end of February; the office publishes the evaluation (Art. 38).")
        {
            show, received, status, submit, publish, published,
        };
    }

    /// <summary><c>govshare report …</c>: what a department reads of the evaluation through its certificate (Art. 38).</summary>
    public static Command Department()
    {
        var from = new Option<string?>("--from") { Description = "First day, yyyy-MM-dd (default: 1 January of this year)." };
        var to = new Option<string?>("--to") { Description = "Last day, yyyy-MM-dd (default: today)." };
        var scorecard = new Command("scorecard", "Your department's own scorecard for a period.") { from, to };
        DepartmentCommand.Call(scorecard, parse => http => http.GetAsync("v1/evaluation/scorecard?" + Query(("from", parse.GetValue(from)), ("to", parse.GetValue(to)))));

        var inYear = new Option<string?>("--year") { Description = "Only the violations that occurred in this year." };
        var notices = new Command("notices", "Your department's violation notices (Art. 42): notified, escalated and rectified.") { inYear };
        DepartmentCommand.Call(notices, parse => http => http.GetAsync("v1/evaluation/notices?" + Query(("year", parse.GetValue(inYear)))));

        var year = new Argument<int>("year") { Description = "The evaluation's year, e.g. 2026." };
        var published = new Command("published", "The evaluation the office published for the year, its advice, and your own scorecard in it.") { year };
        DepartmentCommand.Call(published, parse => http => http.GetAsync($"v1/evaluation/published/{parse.GetValue(year)}"));

        return new Command("report", "The evaluation as your department sees it (Art. 38): your scorecard, your notices, the published report.") { scorecard, notices, published };
    }

    private static string Query(params (string Name, string? Value)[] pairs) =>
        string.Join('&', pairs.Where(p => !string.IsNullOrEmpty(p.Value)).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}"));

    private static Command Operator(Command command)
    {
        foreach (var option in new Option[] { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors })
        {
            command.Add(option);
        }

        return command;
    }
}
