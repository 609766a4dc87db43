using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Options;

namespace GovShare.Node.Hierarchy;

/// <summary>One page of the tree-wide sharing catalog.</summary>
public sealed record TreeCatalogPage(IReadOnlyList<AggregatedEntry> Entries, int Page, int PageSize, int Total, string AnsweredBy);

/// <summary>
/// A link as the operator submits it: the other node's division, its role, its exchange address,
/// and optionally the SHA-256 of its key; without one, the key is read from the node's TLS
/// handshake at <paramref name="Url"/>.
/// </summary>
public sealed record LinkRegistration(string? DivisionCode, LinkRole? Role, string? Url, string? KeySha256 = null);

/// <summary>The office's review of a filing: send-back needs a reason.</summary>
public sealed record FilingReview(string? Reason);

/// <summary>The office passes a child's escalation (<see cref="Id"/>, as listed) on to its parent's office, saying why it cannot resolve it.</summary>
public sealed record EscalationPassUpRequest(string? Id, string? Reason);

/// <summary>A re-key as the operator submits it: the new key's SHA-256, or none to read it from the node's address.</summary>
public sealed record LinkRekey(string? KeySha256);

/// <summary>
/// Node-to-node endpoints of the hierarchy: a child publishes its subtree's sharing catalog to
/// its parent; a department searches the whole tree's sharing catalog through its own node.
/// </summary>
public static class HierarchyApi
{
    public const string PublishPath = "/v1/hierarchy/catalog";

    /// <summary>Where a linked child delivers the violations it escalated to this node's office (Art. 42).</summary>
    public const string EscalationsPath = "/v1/hierarchy/escalations";

    /// <summary>Where a linked child reads how this node's office reviewed its catalog filings (Art. 12).</summary>
    public const string FilingsPath = "/v1/hierarchy/filings";

    /// <summary>The largest catalog publication a parent reads.</summary>
    public const long MaxPublicationBytes = 256L * 1024 * 1024;

    /// <summary>
    /// Maps the operator's link management on the management listener's <c>/v1/operator</c> group.
    /// Each link, unlink and re-key is a change-log record naming the operator.
    /// </summary>
    public static IEndpointRouteBuilder MapHierarchyOperatorApi(this IEndpointRouteBuilder operators)
    {
        operators.MapGet("/links", (NodeLinkRegistry links, LinkHealth health) =>
            TypedResults.Ok(links.All().Select(l => new { l.DivisionCode, l.Role, l.Url, l.LinkedAt, l.KeySha256, Health = health.Of(l.DivisionCode) })));
        operators.MapPost("/links", LinkAsync);
        operators.MapPost("/links/{divisionCode}/rekey", RekeyAsync);
        operators.MapDelete("/links/{divisionCode}", IResult (HttpContext context, string divisionCode, NodeLinkRegistry links) =>
        {
            if (!links.Unlink(divisionCode, by: OperatorAttribution.Of(context)))
            {
                return Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such link", $"This node has no link to {divisionCode}.");
            }

            return Results.NoContent();
        });

        // Art. 12: what the children filed here, and the office's review of each filing.
        operators.MapGet("/hierarchy/filings", (CatalogFilings filings, string? child) =>
            Results.Json(child is null ? filings.All() : filings.Of(child), CatalogJson.Options));
        operators.MapPost("/hierarchy/filings/{id}/approve", (HttpContext context, CatalogFilings filings, string id) =>
            Reviewed(filings.Review(id, approve: true, null, OperatorAttribution.Of(context), out var filing), filing));
        operators.MapPost("/hierarchy/filings/{id}/send-back", async (HttpContext context, CatalogFilings filings, string id) =>
        {
            var (body, refusal) = await JsonBody.ReadAsync<FilingReview>(context, 64 * 1024, CatalogJson.Options);
            return refusal ?? Reviewed(filings.Review(id, approve: false, body!.Reason, OperatorAttribution.Of(context), out var filing), filing);
        });

        // Art. 12, the child's side: how the parent's office reviewed this node's filings; a sent-back one with no later filing needs action.
        operators.MapGet("/hierarchy/parent-filings", (ParentFilings filings) => Results.Json(filings.All(), CatalogJson.Options));

        // Art. 42: violations the children escalated to this office; one it cannot resolve goes on to its own parent's office.
        operators.MapGet("/hierarchy/escalations", (ChildEscalations escalations, string? child) =>
            Results.Json(child is null ? escalations.All() : escalations.Of(child), CatalogJson.Options));
        operators.MapPost("/hierarchy/escalations/pass-up", async (HttpContext context, ChildEscalations escalations, NodeLinkRegistry links) =>
        {
            var (body, refusal) = await JsonBody.ReadAsync<EscalationPassUpRequest>(context, 64 * 1024, CatalogJson.Options);
            if (refusal is not null)
            {
                return refusal;
            }

            var outcome = escalations.PassUp(body!.Id ?? "", links.Parent()?.DivisionCode, body.Reason, OperatorAttribution.Of(context), out var passed);
            return outcome switch
            {
                PassUpOutcome.Ok => Results.Json(passed, CatalogJson.Options),
                PassUpOutcome.NotFound => Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such escalation", $"No escalation '{body.Id}' from a child here (govshare office escalations lists them)."),
                PassUpOutcome.NoParent => Problem.Result(StatusCodes.Status409Conflict, ProblemTypes.Conflict, "This node has no parent",
                    "The top of the tree reports what it cannot resolve to the leading group (the annual report's escalations); there is no office above to pass it to."),
                PassUpOutcome.Conflict => Problem.Result(StatusCodes.Status409Conflict, ProblemTypes.Conflict, "Nothing to pass up",
                    passed!.Violation.RectifiedAt is { } at ? $"The child reported it rectified at {at:O}." : $"It was passed up to {passed.PassedUp!.To} by {passed.PassedUp.By} at {passed.PassedUp.At:O}."),
                _ => Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The pass-up is invalid", "Say why this office cannot resolve it (reason, at most 2000 characters).",
                    new Dictionary<string, object?> { ["errors"] = PassUpReasonRequired }),
            };
        });

        // Art. 13: one datum, one source, checked across the whole tree below this node.
        operators.MapGet("/hierarchy/duplicates", (CatalogStore catalog, CatalogAggregate aggregate, CollectorDesignations designations, IOptions<NodeOptions> node) =>
            Results.Json(TreeDuplicates.Find(catalog, aggregate, designations, node.Value.DivisionCode), CatalogJson.Options));
        return operators;
    }

    private static readonly string[] SendBackReasonRequired = ["reason: a filing sent back states its reason."];

    private static readonly string[] PassUpReasonRequired = ["reason: an escalation passed up states why this office cannot resolve it."];

    private static IResult Reviewed(FilingReviewOutcome outcome, CatalogFiling? filing) => outcome switch
    {
        FilingReviewOutcome.Ok => Results.Json(filing, CatalogJson.Options),
        FilingReviewOutcome.NotFound => Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such filing", null),
        FilingReviewOutcome.AlreadyReviewed => Problem.Result(StatusCodes.Status409Conflict, ProblemTypes.Conflict, "The filing was reviewed already",
            $"It was {(filing!.Status == FilingStatus.Approved ? "approved" : "sent back")} by {filing.ReviewedBy} at {filing.ReviewedAt:O}; a later publication is a new filing."),
        _ => Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The review is invalid", "A filing sent back states its reason (at most 2000 characters).",
            new Dictionary<string, object?> { ["errors"] = SendBackReasonRequired }),
    };

    private static async Task<IResult> LinkAsync(HttpContext context, LinkRegistration? body, NodeLinkRegistry links, PeerKeyProbe probe, LinkHealth health)
    {
        if (body is null)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.MalformedRequest, "A JSON body is required");
        }

        var key = body.KeySha256;
        if (key is null && body.Role is not null)
        {
            var (fetched, problem) = await probe.FetchAsync(body.Url ?? "", body.DivisionCode ?? "", context.RequestAborted);
            if (problem is not null)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The link is invalid", problem, new Dictionary<string, object?> { ["errors"] = new[] { problem } });
            }

            key = fetched;
        }

        NodeLink? link = null;
        var errors = body.Role is { } role
            ? links.Link(body.DivisionCode ?? "", role, body.Url ?? "", key, out link, by: OperatorAttribution.Of(context))
            : ["role: 'parent' or 'child' is required."];
        if (errors.Count > 0)
        {
            return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The link is invalid", string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors });
        }

        health.Forget(link!.DivisionCode);
        return TypedResults.Ok(link);
    }

    private static async Task<IResult> RekeyAsync(HttpContext context, string divisionCode, LinkRekey? body, NodeLinkRegistry links, PeerKeyProbe probe, LinkHealth health)
    {
        if (links.Find(divisionCode) is not { } existing)
        {
            return Problem.Result(StatusCodes.Status404NotFound, ProblemTypes.NotFound, "No such link", $"This node has no link to {divisionCode}.");
        }

        var key = body?.KeySha256;
        if (key is null)
        {
            var (fetched, problem) = await probe.FetchAsync(existing.Url, divisionCode, context.RequestAborted);
            if (problem is not null)
            {
                return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The new key cannot be read", problem, new Dictionary<string, object?> { ["errors"] = new[] { problem } });
            }

            key = fetched!;
        }

        if (!NodeLinkRegistry.IsKeySha256(key) || links.Rekey(divisionCode, key, by: OperatorAttribution.Of(context)) is not { } link)
        {
            var error = $"keySha256: '{key}' is not the SHA-256 of a key (64 hex digits).";
            return Problem.Result(StatusCodes.Status400BadRequest, ProblemTypes.ValidationFailed, "The re-key is invalid", error, new Dictionary<string, object?> { ["errors"] = new[] { error } });
        }

        // The link was refused as down because of the old key: exchanges may go again now, not after the next probe.
        health.Forget(divisionCode);
        return TypedResults.Ok(link);
    }

    public static IEndpointRouteBuilder MapHierarchyApi(this IEndpointRouteBuilder endpoints)
    {
        endpoints.MapPut(PublishPath, PublishAsync).WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxPublicationBytes)).AnsweredLocally();
        endpoints.MapPost(EscalationsPath, ReceiveEscalationAsync).WithMetadata(new Microsoft.AspNetCore.Mvc.RequestSizeLimitAttribute(MaxEscalationBytes)).AnsweredLocally();
        endpoints.MapGet(FilingsPath, FilingsOfChild).AnsweredLocally();
        endpoints.MapGet("/v1/catalog/tree", SearchTreeAsync);
        return endpoints;
    }

    /// <summary>
    /// Receives a linked child's catalog publication, signed by the child's node key as a
    /// <see cref="CatalogFilings.SubmissionKind"/> submission (subject: the payload's SHA-256), and verified
    /// as a report is (the pinned key, this node's trust, the signature over exactly what arrived) before the
    /// aggregate is replaced and the filing (Art. 12) recorded with the signature.
    /// </summary>
    private static async Task<IResult> PublishAsync(HttpContext context, NodeLinkRegistry links, CatalogAggregate aggregate, CatalogFilings filings, NodeDataFolder data, TrustMaterial trust, CrlStore crls)
    {
        if (ParentChannel.LinkedChild(context, links) is not { } child)
        {
            return Problem.Result(403, ProblemTypes.Forbidden, "Only a linked child node publishes its catalog here", null);
        }

        var (submission, refusal) = await JsonBody.ReadAsync<SignedSubmission>(context, MaxPublicationBytes, CatalogJson.Options);
        if (refusal is not null)
        {
            return refusal;
        }

        if (submission!.Signature is null || submission.Payload is null)
        {
            // An unsigned publication (a child from before publications were signed): say what is expected.
            return Problem.Result(400, ProblemTypes.MalformedRequest, "Unsigned catalog publication",
                $"A catalog publication is a signed submission of kind '{CatalogFilings.SubmissionKind}' (payload, signature, certificate); update the child node.");
        }

        var check = submission.Verify(CatalogFilings.SubmissionKind, child, submission.PayloadSha256 ?? "", trust, crls);
        if (check.Refusal("catalog publication") is { } submissionRefused)
        {
            return submissionRefused;
        }

        CatalogPublication? publication;
        try
        {
            publication = JsonSerializer.Deserialize<CatalogPublication>(check.Payload, CatalogJson.Options);
        }
        catch (JsonException ex)
        {
            return Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed catalog publication", ex.Message);
        }

        if (publication?.Entries is null)
        {
            return Problem.Result(400, ProblemTypes.MalformedRequest, "Malformed catalog publication", "A JSON object with 'entries' is required.");
        }

        var caller = CallerIdentity.FromPrincipal(context.User)!;
        var signature = FilingSignature.Of(submission, check.SignerKeySha256!);
        // One state change: the aggregate replaced and the filing (备案, Art. 12) recorded together.
        var errors = data.State.Write(() =>
        {
            var before = aggregate.Of(caller.DivisionCode);
            var refused = aggregate.Replace(caller.DivisionCode, publication);
            if (refused.Count == 0)
            {
                filings.Receive(caller.DivisionCode, before, publication, caller.Uri, signature);
            }

            return refused;
        });
        return errors.Count > 0
            ? Problem.Result(400, ProblemTypes.ValidationFailed, "The publication is invalid", string.Join(" ", errors.Take(20)), new Dictionary<string, object?> { ["errors"] = errors })
            : Results.NoContent();
    }

    /// <summary>
    /// A linked child reads how this node's office reviewed its own filings (Art. 12): the same trust as a
    /// publication, and only its own filings.
    /// </summary>
    private static IResult FilingsOfChild(HttpContext context, NodeLinkRegistry links, CatalogFilings filings)
    {
        var caller = CallerIdentity.FromPrincipal(context.User);
        if (caller is not { Kind: CallerKind.Node } || Vouching.Via(context.User) is not null
            || links.Find(caller.DivisionCode) is not { Role: LinkRole.Child })
        {
            return Problem.Result(403, ProblemTypes.Forbidden, "Only a linked child node reads its filings here", null);
        }

        return Results.Json(filings.Of(caller.DivisionCode), CatalogJson.Options);
    }

    /// <summary>The largest escalation a parent reads: one violation's summary, not its evidence.</summary>
    public const long MaxEscalationBytes = 64 * 1024;

    /// <summary>
    /// Receives a violation a linked child escalated (Art. 42). The same trust as a publication: the
    /// caller is the child node itself (mTLS, pinned key), never a department vouched for by it; and
    /// a child escalates only for departments inside its own division.
    /// </summary>
    private static async Task<IResult> ReceiveEscalationAsync(HttpContext context, NodeLinkRegistry links, ChildEscalations escalations)
    {
        var caller = CallerIdentity.FromPrincipal(context.User);
        if (caller is not { Kind: CallerKind.Node } || Vouching.Via(context.User) is not null
            || links.Find(caller.DivisionCode) is not { Role: LinkRole.Child })
        {
            return Problem.Result(403, ProblemTypes.Forbidden, "Only a linked child node escalates to this office", null);
        }

        var (notice, refusal) = await JsonBody.ReadAsync<EscalationNotice>(context, MaxEscalationBytes, CatalogJson.Options);
        if (refusal is not null)
        {
            return refusal;
        }

        var errors = Invalid(notice!);
        if (errors.Count > 0)
        {
            return Problem.Result(400, ProblemTypes.ValidationFailed, "The escalation is invalid", string.Join(" ", errors), new Dictionary<string, object?> { ["errors"] = errors });
        }

        if (!DivisionCode.IsWithin(notice!.DepartmentDivision, caller.DivisionCode))
        {
            return Problem.Result(403, ProblemTypes.Forbidden, "Outside the child's division",
                $"Node {caller.DivisionCode} escalates only for departments inside its division; {notice.DepartmentDivision} is not.");
        }

        // Passed up from the child's own child: that node lies below the child, and the department inside that node.
        if (notice.Origin is { } origin && (origin == caller.DivisionCode || !DivisionCode.IsWithin(origin, caller.DivisionCode) || !DivisionCode.IsWithin(notice.DepartmentDivision, origin)))
        {
            return Problem.Result(403, ProblemTypes.Forbidden, "Outside the child's subtree",
                $"Node {caller.DivisionCode} passes up escalations only from nodes below it, for their own departments; origin {origin} with department division {notice.DepartmentDivision} is not.");
        }

        var receipt = escalations.Receive(caller.DivisionCode, notice, caller.Uri, out var stored);
        return Results.Json(stored, CatalogJson.Options, statusCode: receipt == EscalationReceipt.Recorded ? StatusCodes.Status201Created : StatusCodes.Status200OK);
    }

    private static List<string> Invalid(EscalationNotice notice)
    {
        var errors = new List<string>();
        if (notice.ViolationId is null || !System.Text.RegularExpressions.Regex.IsMatch(notice.ViolationId, "^vio-[0-9a-f]{20}$"))
        {
            errors.Add("violationId: 'vio-' and 20 hex digits.");
        }

        if (!DivisionCode.IsValid(notice.DepartmentDivision))
        {
            errors.Add("departmentDivision: a six-digit division code.");
        }

        foreach (var (name, value, max) in new[] { ("kind", notice.Kind, 64), ("rule", notice.Rule, 128), ("departmentCreditCode", notice.DepartmentCreditCode, 64), ("summary", notice.Summary, 4000) })
        {
            if (string.IsNullOrWhiteSpace(value) || value.Length > max)
            {
                errors.Add($"{name}: required, at most {max} characters.");
            }
        }

        if (notice.ResourceCode?.Length > 64)
        {
            errors.Add("resourceCode: at most 64 characters.");
        }

        if (notice.Origin is not null && !DivisionCode.IsValid(notice.Origin))
        {
            errors.Add("origin: a six-digit division code.");
        }

        if (notice.PassUpReason?.Length > 4000 || (notice.Origin is null) != (notice.PassUpReason is null))
        {
            errors.Add("passUpReason: given with origin only, at most 4000 characters.");
        }

        return errors;
    }

    /// <summary>
    /// Searches the sharing catalog of the whole tree. Only the root holds all of it, so a node
    /// with a parent passes the search up (for the department, over its own link); the root
    /// answers from its own catalog and its aggregate. The province is the root of what its
    /// departments may search: its parent, the national node, holds only what the province's
    /// providers exposed nationally, so a search never leaves the province (Art. 21).
    /// </summary>
    private static async Task SearchTreeAsync(HttpContext context, NodeLinkRegistry links, NodeForwarder forwarder, CatalogStore catalog, CatalogAggregate aggregate, IOptions<NodeOptions> options, TimeProvider time)
    {
        var caller = CallerIdentity.FromPrincipal(context.User)!;
        if (caller.Kind != CallerKind.Department)
        {
            await Problem.WriteAsync(context, 403, ProblemTypes.Forbidden, "A department searches the catalog", null);
            return;
        }

        if (links.Parent() is { } parent && !CatalogPublisher.LeavesProvince(options.Value.DivisionCode, parent.DivisionCode))
        {
            var exchangeId = Logs.ExchangeId.New(time).Value;
            await forwarder.ForwardAsync(context, parent, caller, exchangeId, 0);
            return;
        }

        var query = context.Request.Query;
        var text = ItemNames.Canonical(query["q"].ToString());
        var page = int.TryParse(query["page"], out var p) ? Math.Max(1, p) : 1;
        var size = int.TryParse(query["pageSize"], out var s) ? Math.Clamp(s, 1, CatalogQuery.MaxPageSize) : 50;
        var matches = CatalogPublisher.Snapshot(catalog, aggregate, options.Value.DivisionCode).Entries
            .Where(e => text.Length == 0 || Searchable(e.Entry).Contains(text, StringComparison.Ordinal))
            .OrderBy(e => e.OwnerNode, StringComparer.Ordinal).ThenBy(e => e.Entry.ResourceCode, StringComparer.Ordinal)
            .ToList();
        await TypedResults.Ok(new TreeCatalogPage(matches.Skip((page - 1) * size).Take(size).ToList(), page, size, matches.Count, options.Value.DivisionCode)).ExecuteAsync(context);
    }

    private static string Searchable(CatalogEntry entry) =>
        ItemNames.Canonical(string.Join(' ', new[] { entry.Name, entry.Abstract, entry.ResourceCode }.Concat(entry.Items.Select(i => i.Name))));
}
