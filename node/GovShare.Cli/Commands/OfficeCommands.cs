using System.CommandLine;
using System.Net.Http.Json;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare office …</c>: the office's controls (Art. 11–13, 17), as operator actions through
/// <see cref="OperatorClient"/>: share-attribute reviews, duty changes and their catalog-update
/// deadlines, filings from child nodes, the collecting department of a datum. Each is one call
/// of the node's operator API; refusals come back as its problems.
/// </summary>
internal static class OfficeCommands
{
    public static Command Create()
    {
        var command = new Command("office", "The office's controls: share reviews (Art. 17), duty changes (Art. 11), filings (Art. 12), designations (Art. 13), escalations from child nodes (Art. 42).");

        var deadlines = Operator(new Command("deadlines", "Open share reviews, stale entries and Art. 11 catalog-update deadlines as of today."));
        deadlines.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/catalog/deadlines", cancellation)));

        var code = new Argument<string>("resource") { Description = "The resource code, e.g. 102001/000001." };
        var reason = new Option<string?>("--reason") { Description = "Why (required to reject or send back)." };
        var approve = Operator(new Command("approve", "Approve a reported share-attribute change: the proposed terms apply now (Art. 17).") { code });
        approve.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsync($"v1/operator/catalog/{CodeUrl(parse.GetValue(code)!)}/review/approve", null, cancellation)));
        var reject = Operator(new Command("reject", "Reject a reported share-attribute change with its reason: the terms in force stay (Art. 17).") { code, reason });
        reject.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsJsonAsync($"v1/operator/catalog/{CodeUrl(parse.GetValue(code)!)}/review/reject", new { reason = parse.GetValue(reason) }, cancellation)));
        var review = new Command("review", "Decide a reported change of share type or conditions (Art. 17).") { approve, reject };

        var description = new Option<string>("--description") { Description = "What changed in law or duties.", Required = true };
        var basis = new Option<string?>("--legal-basis") { Description = "The law, regulation or decision." };
        var departments = new Option<string[]>("--department") { Description = "An affected department's credit code (repeat).", Required = true, AllowMultipleArgumentsPerToken = false };
        var record = Operator(new Command("record", "Record a change in law or duties: the departments named have 15 working days to update their catalogs (Art. 11).") { description, basis, departments });
        record.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsJsonAsync("v1/operator/catalog/duty-changes", new { description = parse.GetValue(description), legalBasis = parse.GetValue(basis), departments = parse.GetValue(departments) }, cancellation)));
        var list = Operator(new Command("list", "The recorded duty changes with each department's catalog update."));
        list.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/catalog/duty-changes", cancellation)));
        var duty = new Command("duty-change", "Changes in law or duties and their catalog-update deadlines (Art. 11).") { record, list };

        var child = new Option<string?>("--child") { Description = "Only the filings of this child node (division code)." };
        var filings = Operator(new Command("list", "Catalog filings received from child nodes, with what each added, removed or changed.") { child });
        filings.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.GetAsync("v1/operator/hierarchy/filings" + (parse.GetValue(child) is { } c ? "?child=" + Uri.EscapeDataString(c) : ""), cancellation)));
        var id = new Argument<string>("id") { Description = "The filing id (fil-…)." };
        var accept = Operator(new Command("approve", "Approve a filing (审核通过).") { id });
        accept.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsync($"v1/operator/hierarchy/filings/{Uri.EscapeDataString(parse.GetValue(id)!)}/approve", null, cancellation)));
        var sendBack = Operator(new Command("send-back", "Send a filing back to the child node with the reason.") { id, reason });
        sendBack.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsJsonAsync($"v1/operator/hierarchy/filings/{Uri.EscapeDataString(parse.GetValue(id)!)}/send-back", new { reason = parse.GetValue(reason) }, cancellation)));
        var atParent = Operator(new Command("at-parent", "This node's own filings at its parent and how the parent's office reviewed them; actionNeeded: sent back, and not yet answered by a later filing."));
        atParent.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/hierarchy/parent-filings", cancellation)));
        var filing = new Command("filing", "Catalog filings (备案) from child nodes and their review, and this node's own at its parent (Art. 12).") { filings, accept, sendBack, atParent };

        var item = new Option<string>("--item") { Description = "The datum's item name, e.g. 公民身份号码.", Required = true };
        var type = new Option<string>("--type") { Description = "Its data type (utf8, int64, date32, …).", Required = true };
        var division = new Option<string>("--division") { Description = "The collecting department's division code.", Required = true };
        var credit = new Option<string>("--credit-code") { Description = "The collecting department's credit code.", Required = true };
        var why = new Option<string>("--reason") { Description = "Its duty or legal basis for collecting the datum.", Required = true };
        var designate = Operator(new Command("designate", "Designate the one department that collects a datum (Art. 13); the others obtain it by sharing.") { item, type, division, credit, why });
        designate.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PutAsJsonAsync("v1/operator/catalog/designations", new { itemName = parse.GetValue(item), dataType = parse.GetValue(type), divisionCode = parse.GetValue(division), creditCode = parse.GetValue(credit), reason = parse.GetValue(why) }, cancellation)));
        var duplicates = Operator(new Command("duplicates", "Data collected by more than one department anywhere below this node, with their designated collector (Art. 13)."));
        duplicates.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/hierarchy/duplicates", cancellation)));

        var from = new Option<string?>("--child") { Description = "Only the escalations of this child node (division code)." };
        var escalations = Operator(new Command("escalations", "Violations the child nodes escalated to this office, not rectified in time there (Art. 42).") { from });
        escalations.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.GetAsync("v1/operator/hierarchy/escalations" + (parse.GetValue(from) is { } c ? "?child=" + Uri.EscapeDataString(c) : ""), cancellation)));

        var escalation = new Argument<string>("id") { Description = "The escalation id as listed (<child>/vio-…)." };
        var cannot = new Option<string>("--reason") { Description = "Why this office cannot resolve it.", Required = true };
        var passUp = Operator(new Command("pass-up", "Pass a child's escalation this office cannot resolve on to the parent node's office (Art. 42).") { escalation, cannot });
        passUp.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client =>
            client.PostAsJsonAsync("v1/operator/hierarchy/escalations/pass-up", new { id = parse.GetValue(escalation), reason = parse.GetValue(cannot) }, cancellation)));

        foreach (var sub in new[] { deadlines, review, duty, filing, designate, duplicates, escalations, passUp, ReportCommands.Office() })
        {
            command.Add(sub);
        }

        return command;
    }

    private static Command Operator(Command command)
    {
        foreach (var option in new Option[] { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors })
        {
            command.Add(option);
        }

        return command;
    }

    // 102001/000001 → 102001-000001, the URL form; anything else is passed escaped and the node refuses it with 400.
    private static string CodeUrl(string code) => Uri.EscapeDataString(code.Replace('/', '-'));
}
