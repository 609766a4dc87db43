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

        return new Command("reports", "Annual reports up the tree (Art. 40): children report by 15 January, the province by the end of February.") { show, received, status, submit };
    }

    private static Command Operator(Command command)
    {
        foreach (var option in new Option[] { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors })
        {
            command.Add(option);
        }

        return command;
    }
}
