using System.CommandLine;
using System.Globalization;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Requests;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare request|grant|dispute|consent|complaint|inbox …</c>: share requests, grants, disputes,
/// onward-sharing consents and complaints as a department (mTLS, through <see cref="DepartmentCommand"/>),
/// and the operator's <c>grant create</c>, <c>dispute open</c>, <c>consent all</c>, <c>complaint public|open</c>
/// (through <see cref="OperatorClient"/>).
/// </summary>
internal static class RequestCommands
{

    private static readonly TableColumn[] Requests =
        [new("Id", "id"), new("Resource", "resourceCode"), new("User", "user.name"), new("Provider", "provider.name"), new("Purpose", "purpose.code"), new("Items", "items"), new("Status", "status"), new("Due", "due")];

    private static readonly TableColumn[] Grants =
        [new("Id", "id"), new("Resource", "resourceCode"), new("User", "userCreditCode"), new("Purpose", "purpose"), new("Items", "items"), new("Valid to", "validTo"), new("Status", "status")];

    private static readonly TableColumn[] Disputes =
        [new("Id", "id"), new("Resource", "resourceCode"), new("Version", "dataVersion"), new("Kind", "kind"), new("Status", "status"), new("Due", "due"), new("Description", "description")];

    private static readonly TableColumn[] Consents =
        [new("Id", "id"), new("Resource", "resourceCode"), new("User", "user.name"), new("Recipient", "recipient"), new("Purpose", "purpose"), new("Status", "status")];

    private static readonly TableColumn[] Complaints =
        [new("Id", "id"), new("Number", "number"), new("Respondent", "respondent.name"), new("Subject", "subject"), new("Status", "status"), new("Due", "due")];

    private static readonly TableColumn[] Notices =
        [new("Id", "id"), new("Rule", "rule"), new("Resource", "resourceCode"), new("Rectify by", "rectifyBy"), new("Status", "status"), new("Summary", "summary")];

    public static IEnumerable<Command> Create() => [Request(), Grant(), Dispute(), Consent(), Complaint(), Inbox()];

    private static Command Consent()
    {
        var command = new Command("consent", "Onward-sharing consents (Art. 33): apply, list, grant, refuse, withdraw; the operator lists all.");
        var resource = new Argument<string>("resource") { Description = "The resource code, e.g. 301100/000001." };
        var purpose = new Option<string>("--purpose") { Description = "The purpose code your pulls name.", Required = true };
        var recipient = new Option<string>("--recipient") { Description = "The department to provide the data on to: govshare:dept/<division>/<credit code>.", Required = true };
        var reason = new Option<string?>("--reason") { Description = "Why (required to apply, to refuse, and for a provider's withdrawal)." };
        var apply = new Command("apply", "Ask the provider's consent to provide its data on to a recipient.") { resource, purpose, recipient, reason };
        DepartmentCommand.Call(apply, parse => http => http.PostJsonAsync("v1/consents", new ConsentApplication(parse.GetValue(resource), parse.GetValue(purpose), parse.GetValue(recipient), parse.GetValue(reason))));

        var role = new Option<string?>("--role") { Description = "user (default) or provider." };
        var list = new Command("list", "The department's consents.") { role };
        DepartmentCommand.Call(list, parse => http => http.GetAsync($"v1/consents?{Query(("role", parse.GetValue(role)))}"), table: TableSpec.Of("", Consents));

        var id = new Argument<string>("id");
        var grant = new Command("grant", "Consent to an application (provider).") { id, reason };
        DepartmentCommand.Call(grant, parse => http => http.PostJsonAsync($"v1/consents/{Uri.EscapeDataString(parse.GetValue(id)!)}/decision", new ConsentDecisionInput(ConsentDecision.Grant, parse.GetValue(reason))));
        var refuse = new Command("refuse", "Refuse an application, with --reason (provider).") { id, reason };
        DepartmentCommand.Call(refuse, parse => http => http.PostJsonAsync($"v1/consents/{Uri.EscapeDataString(parse.GetValue(id)!)}/decision", new ConsentDecisionInput(ConsentDecision.Refuse, parse.GetValue(reason))));
        var withdraw = new Command("withdraw", "Withdraw an application (user) or a consent given (provider, with --reason).") { id, reason };
        DepartmentCommand.Call(withdraw, parse => http => http.PostJsonAsync($"v1/consents/{Uri.EscapeDataString(parse.GetValue(id)!)}/withdraw", new ConsentWithdrawal(parse.GetValue(reason))));

        var all = new Command("all", "Every consent of the node (operator).") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        all.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/consents", cancellation)));

        foreach (var sub in new[] { apply, list, grant, refuse, withdraw, all })
        {
            command.Add(sub);
        }

        return command;
    }

    private static Command Complaint()
    {
        var command = new Command("complaint", "Complaints (Art. 29): file, list, answer; the operator files for the public and lists them.");
        var respondent = new Option<string?>("--respondent") { Description = "The credit code of the department complained of." };
        var resource = new Option<string?>("--resource") { Description = "Or the resource whose provider it is." };
        var subject = new Option<string>("--subject") { Description = "What it is about, in a line.", Required = true };
        var description = new Option<string>("--description") { Required = true };
        var file = new Command("file", "File a complaint about another department.") { respondent, resource, subject, description };
        DepartmentCommand.Call(file, parse => http => http.PostJsonAsync("v1/complaints", new ComplaintInput(parse.GetValue(respondent), parse.GetValue(resource), parse.GetValue(subject), parse.GetValue(description))));

        var role = new Option<string?>("--role") { Description = "user: those you filed (default); provider: those you must answer." };
        var list = new Command("list", "The department's complaints.") { role };
        DepartmentCommand.Call(list, parse => http => http.GetAsync($"v1/complaints?{Query(("role", parse.GetValue(role)))}"), table: TableSpec.Of("", Complaints));

        var id = new Argument<string>("id");
        var upheld = new Option<bool>("--upheld") { Description = "The complaint is justified (default: dismissed)." };
        var reply = new Option<string>("--reply") { Description = "The answer: what was done, or why it is dismissed.", Required = true };
        var answer = new Command("answer", "Answer a complaint about your department.") { id, upheld, reply };
        DepartmentCommand.Call(answer, parse => http => http.PostJsonAsync($"v1/complaints/{Uri.EscapeDataString(parse.GetValue(id)!)}/answer",
            new ComplaintAnswerInput(parse.GetValue(upheld) ? ComplaintStatus.Upheld : ComplaintStatus.Dismissed, parse.GetValue(reply))));

        var name = new Option<string>("--name") { Description = "The person complaining.", Required = true };
        var contact = new Option<string>("--contact") { Description = "How to reach them (seen by operators only).", Required = true };
        var publicFile = new Command("public", "File a complaint of the public, taken down by the operator.")
            { respondent, resource, subject, description, name, contact, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        publicFile.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostJsonAsync("v1/operator/complaints",
            new ComplaintInput(parse.GetValue(respondent), parse.GetValue(resource), parse.GetValue(subject), parse.GetValue(description), new PublicComplainant(parse.GetValue(name), parse.GetValue(contact))),
            cancellation)));

        var overdue = new Option<bool>("--overdue") { Description = "Only those past their due day." };
        var open = new Command("open", "Complaints of the node, open ones first (operator).") { overdue, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        open.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync($"v1/operator/complaints?overdue={(parse.GetValue(overdue) ? "true" : "false")}", cancellation)));

        foreach (var sub in new[] { file, list, answer, publicFile, open })
        {
            command.Add(sub);
        }

        return command;
    }

    private static Command Request()
    {
        var command = new Command("request", "Share requests (Art. 25): apply, list, decide.");
        var resource = new Argument<string>("resource") { Description = "The resource code, e.g. 301100/000001." };
        var items = new Option<string[]>("--item") { Description = "An item (id or name); repeat. For approve: ITEM[:MASK], MASK = none|redact|pseudonym|keepEnds,6,4|date,year|bucket,0,18,60.", AllowMultipleArgumentsPerToken = false };
        var purposeCode = new Option<string>("--purpose-code") { Description = "The purpose code pulls will name.", Required = true };
        var purposeText = new Option<string>("--purpose") { Description = "The purpose in words.", Required = true };
        var basis = new Option<string>("--legal-basis") { Description = "The legal basis.", Required = true };
        var from = new Option<DateOnly?>("--from") { Description = "First day (yyyy-MM-dd)." };
        var to = new Option<DateOnly?>("--to") { Description = "Last day (yyyy-MM-dd)." };
        var contactName = new Option<string>("--contact-name") { Required = true };
        var contactPhone = new Option<string>("--contact-phone") { Required = true };
        var contactEmail = new Option<string?>("--contact-email");
        var useFrom = new Option<DateOnly>("--from") { Description = "First day of use (yyyy-MM-dd).", Required = true };
        var useTo = new Option<DateOnly>("--to") { Description = "Last day of use (yyyy-MM-dd).", Required = true };
        var apply = new Command("apply", "Apply for items of a conditional resource.") { resource, items, purposeCode, purposeText, basis, useFrom, useTo, contactName, contactPhone, contactEmail };
        DepartmentCommand.Call(apply, parse => http => http.PostJsonAsync("v1/requests", new ShareApplication(parse.GetValue(resource), parse.GetValue(items),
            new RequestPurpose(parse.GetValue(purposeCode)!, parse.GetValue(purposeText)!), parse.GetValue(basis),
            new UsePeriod(parse.GetValue(useFrom), parse.GetValue(useTo)),
            new RequestContact(parse.GetValue(contactName)!, parse.GetValue(contactPhone)!, parse.GetValue(contactEmail)))));

        var role = new Option<string?>("--role") { Description = "user (default) or provider." };
        var status = new Option<string?>("--status") { Description = "Only requests in this status." };
        var list = new Command("list", "The department's requests.") { role, status };
        DepartmentCommand.Call(list, parse => http => http.GetAsync($"v1/requests?{Query(("role", parse.GetValue(role)), ("status", parse.GetValue(status)))}"), table: TableSpec.Of("", Requests));

        var id = new Argument<string>("id");
        var show = new Command("show", "One request.") { id };
        DepartmentCommand.Call(show, parse => http => http.GetAsync($"v1/requests/{Uri.EscapeDataString(parse.GetValue(id)!)}"));

        var approve = new Command("approve", "Approve, possibly fewer items with masking, for a validity within the requested period (providing the data on needs a consent per recipient: govshare consent).") { id, items, from, to };
        DepartmentCommand.Call(approve, parse => http => http.PostJsonAsync($"v1/requests/{Uri.EscapeDataString(parse.GetValue(id)!)}/decision", new DecisionInput(
            DecisionOutcome.Approve, parse.GetValue(items) is { Length: > 0 } chosen ? [.. chosen.Select(ParseItem)] : null,
            parse.GetValue(from) is { } f && parse.GetValue(to) is { } t ? new UsePeriod(f, t) : null)));

        var reasonCode = new Option<string>("--reason-code") { Required = true };
        var reason = new Option<string>("--reason") { Required = true };
        var deny = new Command("deny", "Deny, with a reason code and text.") { id, reasonCode, reason };
        DepartmentCommand.Call(deny, parse => http => http.PostJsonAsync($"v1/requests/{Uri.EscapeDataString(parse.GetValue(id)!)}/decision",
            new DecisionInput(DecisionOutcome.Deny, ReasonCode: parse.GetValue(reasonCode), ReasonText: parse.GetValue(reason))));

        var withdraw = new Command("withdraw", "Withdraw an undecided request.") { id };
        DepartmentCommand.Call(withdraw, parse => http => http.PostAsync($"v1/requests/{Uri.EscapeDataString(parse.GetValue(id)!)}/withdraw", null));

        foreach (var sub in new[] { apply, list, show, approve, deny, withdraw })
        {
            command.Add(sub);
        }

        return command;
    }

    private static Command Grant()
    {
        var command = new Command("grant", "Grants: list, show, revoke; the operator creates one directly.");
        var role = new Option<string?>("--role") { Description = "user (default) or provider." };
        var list = new Command("list", "The department's grants.") { role };
        DepartmentCommand.Call(list, parse => http => http.GetAsync($"v1/grants?{Query(("role", parse.GetValue(role)))}"), table: TableSpec.Of("", Grants));

        var id = new Argument<string>("id");
        var show = new Command("show", "One grant.") { id };
        DepartmentCommand.Call(show, parse => http => http.GetAsync($"v1/grants/{Uri.EscapeDataString(parse.GetValue(id)!)}"));

        var reasonCode = new Option<string?>("--reason-code");
        var reason = new Option<string>("--reason") { Required = true };
        var revoke = new Command("revoke", "Revoke a grant on your resource, at once.") { id, reasonCode, reason };
        DepartmentCommand.Call(revoke, parse => http => http.PostJsonAsync($"v1/grants/{Uri.EscapeDataString(parse.GetValue(id)!)}/revoke",
            new RevocationInput(parse.GetValue(reasonCode), parse.GetValue(reason))));

        var division = new Option<string>("--user-division") { Required = true };
        var credit = new Option<string>("--user-credit-code") { Required = true };
        var resource = new Option<string>("--resource") { Required = true };
        var items = new Option<string[]>("--item") { Description = "ITEM[:MASK]; repeat." };
        var purpose = new Option<string>("--purpose-code") { Required = true };
        var from = new Option<DateOnly>("--from") { Required = true };
        var to = new Option<DateOnly>("--to") { Required = true };
        var decision = new Option<string>("--decision") { Description = "The reference of the decision taken outside the node.", Required = true };
        var create = new Command("create", "Record a grant directly (operator).") { division, credit, resource, items, purpose, from, to, decision, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        create.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostJsonAsync("v1/operator/grants", new OperatorGrantInput(
            new DepartmentRef(parse.GetValue(division)!, parse.GetValue(credit)!), parse.GetValue(resource), [.. (parse.GetValue(items) ?? []).Select(ParseItem)],
            parse.GetValue(purpose), new UsePeriod(parse.GetValue(from), parse.GetValue(to)), parse.GetValue(decision)), cancellation)));

        foreach (var sub in new[] { list, show, revoke, create })
        {
            command.Add(sub);
        }

        return command;
    }

    private static Command Dispute()
    {
        var command = new Command("dispute", "Disputes of data (Art. 27): raise, open an inconsistency case from a comparison, list, answer; the operator lists open ones.");
        var resource = new Argument<string>("resource");
        var version = new Option<string>("--data-version") { Description = "The data version you read.", Required = true };
        var kind = new Option<DisputeKind>("--kind") { Description = "doubtful or wrong.", Required = true };
        var description = new Option<string>("--description") { Required = true };
        var rows = new Option<string[]>("--row-key") { Description = "A row's key; repeat." };
        var items = new Option<string[]>("--item") { Description = "An item (id or name); repeat." };
        var raise = new Command("raise", "Flag data as doubtful or wrong.") { resource, version, kind, description, rows, items };
        DepartmentCommand.Call(raise, parse => http => http.PostJsonAsync("v1/disputes", new DisputeInput(parse.GetValue(resource), parse.GetValue(version), parse.GetValue(kind),
            parse.GetValue(rows), parse.GetValue(items), parse.GetValue(description))));

        // An inconsistency case (issue 23): a dispute of kind inconsistent, opened from the caller's own comparison.
        var caseResource = new Argument<string>("resource");
        var comparison = new Option<string>("--comparison") { Description = "The exchangeId of your comparison's answer (govshare compare prints it).", Required = true };
        var caseVersion = new Option<string>("--data-version") { Description = "The data version compared (the comparison's answer names it).", Required = true };
        var caseRows = new Option<string[]>("--row-key") { Description = "A differing row's key; repeat.", Required = true };
        var caseItems = new Option<string[]>("--item") { Description = "A differing item (id or name) the comparison compared; repeat.", Required = true };
        var caseDescription = new Option<string>("--description") { Required = true };
        var openCase = new Command("case", "Open an inconsistency case from a comparison: the provider must correct (a new version) or answer by the due day.")
        {
            caseResource, comparison, caseVersion, caseRows, caseItems, caseDescription,
        };
        DepartmentCommand.Call(openCase, parse => http => http.PostJsonAsync("v1/disputes", new DisputeInput(parse.GetValue(caseResource), parse.GetValue(caseVersion), DisputeKind.Inconsistent,
            parse.GetValue(caseRows), parse.GetValue(caseItems), parse.GetValue(caseDescription), parse.GetValue(comparison))));

        var role = new Option<string?>("--role") { Description = "user (default) or provider." };
        var list = new Command("list", "The department's disputes.") { role };
        DepartmentCommand.Call(list, parse => http => http.GetAsync($"v1/disputes?{Query(("role", parse.GetValue(role)))}"), table: TableSpec.Of("", Disputes));

        var id = new Argument<string>("id");
        var correctedBy = new Option<string?>("--corrected-by") { Description = "Confirmed: the data version that corrects it." };
        var rejected = new Option<bool>("--rejected") { Description = "Rejected (give --reason)." };
        var reason = new Option<string?>("--reason");
        var answer = new Command("answer", "Answer a dispute of your data.") { id, correctedBy, rejected, reason };
        DepartmentCommand.Call(answer, parse => http => http.PostJsonAsync($"v1/disputes/{Uri.EscapeDataString(parse.GetValue(id)!)}/answer", new DisputeAnswerInput(
            parse.GetValue(rejected) ? DisputeStatus.Rejected : parse.GetValue(correctedBy) is null ? null : DisputeStatus.Corrected,
            parse.GetValue(correctedBy), parse.GetValue(reason))));

        var overdue = new Option<bool>("--overdue") { Description = "Only those past their due day." };
        var open = new Command("open", "Open disputes of the node (operator).") { overdue, OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };
        open.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync($"v1/operator/disputes?overdue={(parse.GetValue(overdue) ? "true" : "false")}", cancellation)));

        foreach (var sub in new[] { raise, openCase, list, answer, open })
        {
            command.Add(sub);
        }

        return command;
    }

    private static Command Inbox()
    {
        var inbox = new Command("inbox", "What the department has to decide or answer, and what it received.");
        DepartmentCommand.Call(inbox, _ => http => http.GetAsync("v1/inbox"), table: new TableSpec(
        [
            ("Requests to decide", "toDecide", Requests),
            ("Your requests awaiting a decision", "awaitingDecision", Requests),
            ("Decisions received", "decisionsReceived", Requests),
            ("Grants ending", "grantsEnding", Grants),
            ("Suspended grants", "suspendedGrants", Grants),
            ("Disputes to answer", "disputesToAnswer", Disputes),
            ("Disputes raised", "disputesRaised", Disputes),
            ("Complaints to answer", "complaintsToAnswer", Complaints),
            ("Consents to answer", "consentsToAnswer", Consents),
            ("Notices to rectify (Art. 42)", "notices", Notices),
            ("Your certificate expiring", "certificateExpiring", [new("Serial", "serial"), new("Expires", "notAfter"), new("Days left", "daysLeft"), new("Notice", "notice")]),
        ]));
        return inbox;
    }

    private static string Query(params (string Name, string? Value)[] pairs) =>
        string.Join('&', pairs.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}"));

    /// <summary><c>ITEM[:MASK]</c>; an unknown mask is a usage error (FormatException).</summary>
    internal static DecidedItem ParseItem(string text)
    {
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return new DecidedItem(text);
        }

        var parts = text[(colon + 1)..].Split(',');
        MaskingRule rule = parts[0].ToUpperInvariant() switch
        {
            "NONE" => MaskingRule.None,
            "REDACT" => MaskingRule.Redact,
            "PSEUDONYM" => MaskingRule.Pseudonym,
            "KEEPENDS" when parts.Length == 3 => MaskingRule.KeepEnds(int.Parse(parts[1], CultureInfo.InvariantCulture), int.Parse(parts[2], CultureInfo.InvariantCulture)),
            "DATE" when parts.Length == 2 => MaskingRule.GeneraliseDate(Enum.Parse<DatePrecision>(parts[1], ignoreCase: true)),
            "BUCKET" when parts.Length > 1 => MaskingRule.Bucket([.. parts.Skip(1).Select(p => double.Parse(p, CultureInfo.InvariantCulture))]),
            _ => throw new FormatException($"--item {text}: the mask is none, redact, pseudonym, keepEnds,<keep>,<keepEnd>, date,year|month or bucket,<b1>,<b2>,…"),
        };
        return new DecidedItem(text[..colon], rule);
    }
}
