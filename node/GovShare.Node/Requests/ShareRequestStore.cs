using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using Microsoft.Extensions.Logging;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Requests;

/// <summary>How a request, grant or dispute operation ended; the API maps each to one status and problem type.</summary>
public enum RequestOutcome
{
    Ok,
    Created,
    Invalid,
    NotFound,

    /// <summary>The caller is not the party this operation belongs to.</summary>
    Forbidden,

    /// <summary>The resource is unconditionally shared: nobody needs to apply.</summary>
    NotNeeded,

    /// <summary>The resource is not shared; <see cref="RequestResult{T}.Detail"/> carries the catalog's reason.</summary>
    NotShared,

    /// <summary>A department does not apply for, or dispute, its own resource.</summary>
    OwnResource,

    /// <summary>The resource has no secrecy review on record (Art. 34), so it is not shared yet.</summary>
    SecrecyReviewMissing,

    /// <summary>The caller is outside the provider's province and the resource is not in the national scope (Art. 21).</summary>
    NotSharedNationally,

    /// <summary>The subject is no longer in a state that takes this operation (a second decision, a revoked grant …).</summary>
    Conflict,
}

/// <summary>The result of an operation: the value, or why nothing was written.</summary>
public sealed record RequestResult<T>(RequestOutcome Outcome, T? Value = null, IReadOnlyList<CatalogValidationError>? Errors = null, string? Detail = null)
    where T : class
{
    public bool Succeeded => Outcome is RequestOutcome.Ok or RequestOutcome.Created;

    internal static RequestResult<T> Invalid(List<CatalogValidationError> errors) => new(RequestOutcome.Invalid, Errors: errors);

    internal static RequestResult<T> Refused(RequestOutcome outcome, string detail) => new(outcome, Detail: detail);
}

/// <summary>Which side of a request or grant the caller is on.</summary>
public enum PartyRole
{
    User,
    Provider,
}

/// <summary>
/// Share requests and the grants they make (Art. 25, 32, 33), in the node's LiteDB
/// (<c>share_requests</c>; grants through <see cref="GrantStore"/>). Every transition runs
/// through the <see cref="RequestLedger"/>: one lock, one transaction with its change record.
/// A submitted request whose requested period has ended is expired the next time anyone looks.
/// </summary>
public sealed partial class ShareRequestStore
{
    /// <summary>Working days the provider has to answer (Art. 25).</summary>
    public const int DecisionWorkingDays = 10;

    /// <summary>The inbox lists grants that end within this many working days.</summary>
    public const int EndingWithinWorkingDays = 10;

    private readonly IStateDocuments<RequestDocument> _requests;
    private readonly CatalogStore _catalog;
    private readonly GrantStore _grants;
    private readonly RequestLedger _ledger;
    private readonly DepartmentRegistry _departments;
    private readonly SecrecyReviewGate _secrecy;
    private readonly WorkingDayCalendar _calendar;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public ShareRequestStore(NodeDataFolder data, CatalogStore catalog, GrantStore grants, RequestLedger ledger, DepartmentRegistry departments,
        SecrecyReviewGate secrecy, WorkingDayCalendar calendar, TimeProvider time, ILogger<ShareRequestStore> logger)
    {
        ArgumentNullException.ThrowIfNull(data);
        _requests = data.Collection<RequestDocument>("share_requests", d => d.User, d => d.Provider, d => d.Status);
        _catalog = catalog;
        _grants = grants;
        _ledger = ledger;
        _departments = departments;
        _secrecy = secrecy;
        _calendar = calendar;
        _time = time;
        _logger = logger;
    }

    /// <summary>Today in China Standard Time, by the node's clock.</summary>
    public DateOnly Today => WorkingDayCalendar.ToChinaDate(_time.GetUtcNow());

    /// <summary>Submits the caller's application for items of a conditional resource.</summary>
    public RequestResult<ShareRequest> Apply(ShareApplication input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<CatalogValidationError>();
        var (entry, refusal) = ConditionalResource(input.ResourceCode, caller.DivisionCode, caller.CreditCode, errors);
        if (refusal is not null)
        {
            Log.ApplicationRefused(_logger, caller.Uri, refusal.Value);
            return RequestResult<ShareRequest>.Refused(refusal.Value, errors[0].Message);
        }

        var now = _time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        var items = new List<string>();
        if (input.Items is not { Count: > 0 })
        {
            errors.Add(new("items", "required", "name at least one item"));
        }
        else if (entry is not null)
        {
            // Requested items are resolved against the sharing view: an item the provider does not share is unknown to the user.
            items = RequestChecks.GrantedItems(errors, [.. input.Items.Select(i => new DecidedItem(i))], CatalogViews.ForSharing(entry), null)
                .Select(g => g.ItemId).ToList();
        }

        RequestChecks.Code(errors, "purpose.code", input.Purpose?.Code);
        RequestChecks.Text(errors, "purpose.text", input.Purpose?.Text);
        RequestChecks.Text(errors, "legalBasis", input.LegalBasis);
        RequestChecks.Period(errors, "period", input.Period, today);
        RequestChecks.Contact(errors, input.Contact);
        if (errors.Count > 0)
        {
            Log.ApplicationRefused(_logger, caller.Uri, RequestOutcome.Invalid);
            return RequestResult<ShareRequest>.Invalid(errors);
        }

        var due = _calendar.AddWorkingDays(today, DecisionWorkingDays, out var provisional);
        var request = new ShareRequest(
            "r-" + Guid.NewGuid().ToString("N"),
            Party(caller.DivisionCode, caller.CreditCode!),
            entry!.Provider,
            entry.ResourceCode,
            items,
            input.Purpose!,
            input.LegalBasis!,
            input.Period!,
            input.Contact!,
            now,
            due,
            provisional,
            ShareRequestStatus.Submitted,
            now);
        return _ledger.Write(() =>
        {
            var open = _requests.Where(d => d.User, caller.CreditCode!).Where(d => d.Status == nameof(ShareRequestStatus.Submitted)).Select(Read)
                .FirstOrDefault(r => r.ResourceCode == request.ResourceCode && r.Purpose.Code == request.Purpose.Code);
            if (open is not null)
            {
                return RequestResult<ShareRequest>.Refused(RequestOutcome.Conflict, $"request {open.Id} for this resource and purpose is still awaiting a decision; withdraw it first");
            }

            Write(request);
            _ledger.Record(RequestSubject.Request, request, request.Id, request.ResourceCode, null, ShareRequestStatus.Submitted, caller.Uri, now, $"due {due:yyyy-MM-dd}");
            Log.Submitted(_logger, request.Id, caller.Uri, request.ResourceCode, request.Items.Count);
            return new RequestResult<ShareRequest>(RequestOutcome.Created, WithFlags(request, today));
        });
    }

    /// <summary>One request, for either of its parties.</summary>
    public RequestResult<ShareRequest> Get(string id, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ExpireLapsed();
        var request = Find(id);
        if (request is null)
        {
            return RequestResult<ShareRequest>.Refused(RequestOutcome.NotFound, "no such share request");
        }

        return IsParty(request.User, caller) || IsParty(request.Provider, caller)
            ? new(RequestOutcome.Ok, WithFlags(request, Today))
            : RequestResult<ShareRequest>.Refused(RequestOutcome.Forbidden, "only the applying and the providing department see a request");
    }

    /// <summary>The caller's requests on one side, newest first, optionally of one status.</summary>
    public IReadOnlyList<ShareRequest> List(CallerIdentity caller, PartyRole role, ShareRequestStatus? status = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ExpireLapsed();
        var today = Today;
        var docs = role == PartyRole.User
            ? _requests.Where(d => d.User, caller.CreditCode!)
            : _requests.Where(d => d.Provider, caller.CreditCode!);
        return docs.Select(Read)
            .Where(r => (role == PartyRole.User ? r.User : r.Provider).DivisionCode == caller.DivisionCode)
            .Where(r => status is null || r.Status == status)
            .OrderByDescending(r => r.SubmittedAt)
            .Select(r => WithFlags(r, today))
            .ToList();
    }

    /// <summary>Every undecided request past its due day (the operator's list).</summary>
    public IReadOnlyList<ShareRequest> Overdue()
    {
        ExpireLapsed();
        var today = Today;
        return _requests.Where(d => d.Status, nameof(ShareRequestStatus.Submitted)).Select(Read)
            .Where(r => r.IsOverdue(today)).OrderBy(r => r.Due).Select(r => WithFlags(r, today)).ToList();
    }

    /// <summary>
    /// The provider's decision. Approve makes a grant of the decided items (a subset of those
    /// requested, each with its masking) for the validity (within the requested period);
    /// deny needs a reason code and text. A request takes one decision only.
    /// </summary>
    public RequestResult<ShareRequest> Decide(string id, DecisionInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        ExpireLapsed();
        return _ledger.Write(() =>
        {
            var request = Find(id);
            if (request is null)
            {
                return RequestResult<ShareRequest>.Refused(RequestOutcome.NotFound, "no such share request");
            }

            if (!IsParty(request.Provider, caller))
            {
                Log.DecisionForbidden(_logger, caller.Uri, request.Id);
                return RequestResult<ShareRequest>.Refused(RequestOutcome.Forbidden, "only the providing department decides a request for its resource");
            }

            if (request.Status != ShareRequestStatus.Submitted)
            {
                return RequestResult<ShareRequest>.Refused(RequestOutcome.Conflict, $"the request is {Name(request.Status)} already; it takes one decision only");
            }

            var now = _time.GetUtcNow();
            var today = WorkingDayCalendar.ToChinaDate(now);
            var errors = new List<CatalogValidationError>();
            var late = request.IsOverdue(today);
            ShareDecision decision;
            Grant? grant = null;
            switch (input.Outcome)
            {
                case DecisionOutcome.Deny:
                    RequestChecks.Code(errors, "reasonCode", input.ReasonCode);
                    RequestChecks.Text(errors, "reasonText", input.ReasonText);
                    decision = new ShareDecision(NewDecisionId(), DecisionOutcome.Deny, caller.Uri, now, late, ReasonCode: input.ReasonCode, ReasonText: input.ReasonText);
                    break;
                case DecisionOutcome.Approve:
                    var entry = _catalog.Get(request.ResourceCode);
                    if (entry is null || entry.Status == EntryStatus.Retired || entry.Share.Type != ShareType.Conditional)
                    {
                        return RequestResult<ShareRequest>.Refused(RequestOutcome.Conflict,
                            $"resource {request.ResourceCode} is no longer a conditional, active resource; deny the request instead");
                    }

                    var decided = input.Items is { Count: > 0 } chosen ? chosen : [.. request.Items.Select(i => new DecidedItem(i))];
                    var items = RequestChecks.GrantedItems(errors, decided, CatalogViews.ForSharing(entry), request.Items);
                    var validity = input.Validity ?? request.Period;
                    RequestChecks.Period(errors, "validity", validity, today);
                    if (validity.From < request.Period.From || validity.To > request.Period.To)
                    {
                        errors.Add(new("validity", "validity.beyondRequested", $"the validity must lie within the requested period {request.Period.From:yyyy-MM-dd}..{request.Period.To:yyyy-MM-dd}"));
                    }

                    decision = new ShareDecision(NewDecisionId(), DecisionOutcome.Approve, caller.Uri, now, late, items, validity, "g-" + Guid.NewGuid().ToString("N"));
                    grant = new Grant(decision.GrantId!, request.User.DivisionCode, request.User.CreditCode, request.ResourceCode, items, request.Purpose.Code,
                        RequestChecks.StartOf(validity.From), RequestChecks.StartOf(validity.To.AddDays(1)), GrantStatus.Active, decision.Id, now,
                        RequestId: request.Id);
                    break;
                default:
                    errors.Add(new("outcome", "required", "the outcome is 'approve' or 'deny'"));
                    decision = null!;
                    break;
            }

            if (errors.Count > 0)
            {
                return RequestResult<ShareRequest>.Invalid(errors);
            }

            var status = decision.Outcome == DecisionOutcome.Approve ? ShareRequestStatus.Approved : ShareRequestStatus.Denied;
            var decidedRequest = request with { Status = status, StatusChangedAt = now, Decision = decision };
            Write(decidedRequest);
            _ledger.Record(RequestSubject.Request, decidedRequest, request.Id, request.ResourceCode, request.Status, status, caller.Uri, now,
                grant is null ? $"reason {decision.ReasonCode}" : $"grant {grant.Id}: {grant.Items.Count} of {request.Items.Count} items");
            if (grant is not null)
            {
                _grants.Save(grant);
                _ledger.Record(RequestSubject.Grant, grant, grant.Id, grant.ResourceCode, null, GrantStatus.Active, caller.Uri, now, $"request {request.Id}");
            }

            Log.Decided(_logger, request.Id, caller.Uri, status, late);
            return new RequestResult<ShareRequest>(RequestOutcome.Ok, WithFlags(decidedRequest, today));
        });
    }

    /// <summary>The user takes back its undecided request.</summary>
    public RequestResult<ShareRequest> Withdraw(string id, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        ExpireLapsed();
        return _ledger.Write(() =>
        {
            var request = Find(id);
            if (request is null)
            {
                return RequestResult<ShareRequest>.Refused(RequestOutcome.NotFound, "no such share request");
            }

            if (!IsParty(request.User, caller))
            {
                return RequestResult<ShareRequest>.Refused(RequestOutcome.Forbidden, "only the applying department withdraws its request");
            }

            if (request.Status != ShareRequestStatus.Submitted)
            {
                return RequestResult<ShareRequest>.Refused(RequestOutcome.Conflict, $"the request is {Name(request.Status)} already");
            }

            var now = _time.GetUtcNow();
            var withdrawn = request with { Status = ShareRequestStatus.Withdrawn, StatusChangedAt = now };
            Write(withdrawn);
            _ledger.Record(RequestSubject.Request, withdrawn, id, request.ResourceCode, request.Status, withdrawn.Status, caller.Uri, now);
            return new RequestResult<ShareRequest>(RequestOutcome.Ok, WithFlags(withdrawn, Today));
        });
    }

    /// <summary>One grant, for its user or the resource's provider.</summary>
    public RequestResult<Grant> GetGrant(string id, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var grant = _grants.Find(id);
        if (grant is null)
        {
            return RequestResult<Grant>.Refused(RequestOutcome.NotFound, "no such grant");
        }

        return IsGrantUser(grant, caller) || IsResourceProvider(grant.ResourceCode, caller)
            ? new(RequestOutcome.Ok, grant)
            : RequestResult<Grant>.Refused(RequestOutcome.Forbidden, "only the grant's user and the resource's provider see a grant");
    }

    /// <summary>The grants the caller holds (user) or has given on its resources (provider).</summary>
    public IReadOnlyList<Grant> Grants(CallerIdentity caller, PartyRole role)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (role == PartyRole.User)
        {
            return _grants.ForUser(caller.CreditCode ?? "").Where(g => g.UserDivision == caller.DivisionCode).OrderByDescending(g => g.CreatedAt).ToList();
        }

        return _catalog.ListResources(new CatalogQuery(Department: caller.CreditCode, PageSize: CatalogQuery.MaxPageSize, IncludeRetired: true)) is { } first
            ? AllPages(caller.CreditCode!, first).Where(e => e.Provider.DivisionCode == caller.DivisionCode)
                .SelectMany(e => _grants.ForResource(e.ResourceCode)).OrderByDescending(g => g.CreatedAt).ToList()
            : [];
    }

    /// <summary>Every grant, optionally of one resource or one user (credit code): the operator's view.</summary>
    public IReadOnlyList<Grant> AllGrants(string? resourceCode, string? userCreditCode) =>
        (resourceCode is not null ? _grants.ForResource(resourceCode)
            : userCreditCode is not null ? _grants.ForUser(userCreditCode)
            : _grants.All())
        .Where(g => userCreditCode is null || g.UserCreditCode == userCreditCode)
        .OrderByDescending(g => g.CreatedAt).ToList();

    /// <summary>
    /// The provider revokes a grant: effective at once (<see cref="GrantStore.Generation"/> moves,
    /// so a pull in progress stops at its next batch). A reason text is mandatory.
    /// </summary>
    public RequestResult<Grant> Revoke(string id, RevocationInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        return _ledger.Write(() =>
        {
            var grant = _grants.Find(id);
            if (grant is null)
            {
                return RequestResult<Grant>.Refused(RequestOutcome.NotFound, "no such grant");
            }

            if (!IsResourceProvider(grant.ResourceCode, caller))
            {
                return RequestResult<Grant>.Refused(RequestOutcome.Forbidden, "only the resource's provider revokes a grant on it");
            }

            if (grant.Status == GrantStatus.Revoked)
            {
                return RequestResult<Grant>.Refused(RequestOutcome.Conflict, "the grant is revoked already");
            }

            var errors = new List<CatalogValidationError>();
            if (input.ReasonCode is not null)
            {
                RequestChecks.Code(errors, "reasonCode", input.ReasonCode);
            }

            RequestChecks.Text(errors, "reasonText", input.ReasonText);
            if (errors.Count > 0)
            {
                return RequestResult<Grant>.Invalid(errors);
            }

            var now = _time.GetUtcNow();
            var reason = input.ReasonCode is null ? input.ReasonText! : $"{input.ReasonCode}: {input.ReasonText}";
            var revoked = grant with { Status = GrantStatus.Revoked, StatusReason = reason, StatusChangedAt = now };
            _grants.Save(revoked);
            _ledger.Record(RequestSubject.Grant, revoked, id, grant.ResourceCode, grant.Status, GrantStatus.Revoked, caller.Uri, now, input.ReasonCode);
            Log.Revoked(_logger, id, caller.Uri, grant.ResourceCode);
            return new RequestResult<Grant>(RequestOutcome.Ok, revoked);
        });
    }

    /// <summary>
    /// Records a grant the operator enters directly (a decision taken outside the node): the
    /// same checks as an approval — a conditional, active resource, shared items, a registered user.
    /// </summary>
    /// <param name="input">The grant as the operator enters it.</param>
    /// <param name="by">The operator recorded in the change stream and the change log (<see cref="Identity.OperatorAttribution"/>).</param>
    public RequestResult<Grant> CreateByOperator(OperatorGrantInput input, string by = "operator")
    {
        ArgumentNullException.ThrowIfNull(input);
        var errors = new List<CatalogValidationError>();
        var user = input.User;
        if (user is null || string.IsNullOrEmpty(user.CreditCode) || string.IsNullOrEmpty(user.DivisionCode))
        {
            errors.Add(new("user", "required", "the user department {divisionCode, creditCode} is required"));
        }
        else if (_departments.Find(user.CreditCode) is not { } registered || registered.DivisionCode != user.DivisionCode)
        {
            errors.Add(new("user", "user.notRegistered", $"department {user.DivisionCode}/{user.CreditCode} is not registered with this node"));
        }

        var (entry, refusal) = ConditionalResource(input.ResourceCode, user?.DivisionCode ?? "", user?.CreditCode, errors);
        if (refusal is not null)
        {
            return RequestResult<Grant>.Refused(refusal.Value, errors.Last().Message);
        }

        var now = _time.GetUtcNow();
        var today = WorkingDayCalendar.ToChinaDate(now);
        var items = entry is null ? [] : RequestChecks.GrantedItems(errors, input.Items ?? [], CatalogViews.ForSharing(entry), null);
        RequestChecks.Code(errors, "purpose", input.Purpose);
        RequestChecks.Period(errors, "validity", input.Validity, today);
        RequestChecks.Text(errors, "decision", input.Decision, RequestChecks.MaxShort);
        if (errors.Count > 0)
        {
            return RequestResult<Grant>.Invalid(errors);
        }

        var grant = new Grant("g-" + Guid.NewGuid().ToString("N"), user!.DivisionCode, user.CreditCode, entry!.ResourceCode, items, input.Purpose!,
            RequestChecks.StartOf(input.Validity!.From), RequestChecks.StartOf(input.Validity.To.AddDays(1)), GrantStatus.Active,
            "operator:" + input.Decision, now);
        return _ledger.Write(() =>
        {
            _grants.Save(grant);
            _ledger.Record(RequestSubject.Grant, grant, grant.Id, grant.ResourceCode, null, GrantStatus.Active, by, now, "decision " + input.Decision);
            Log.OperatorGrant(_logger, grant.Id, grant.ResourceCode);
            return new RequestResult<Grant>(RequestOutcome.Created, grant);
        });
    }

    /// <summary>Moves every submitted request whose requested period has ended to expired, with its change record.</summary>
    public int ExpireLapsed()
    {
        var today = Today;
        var lapsed = _requests.Where(d => d.Status, nameof(ShareRequestStatus.Submitted)).Select(Read).Where(r => r.Period.To < today).ToList();
        if (lapsed.Count == 0)
        {
            return 0;
        }

        return _ledger.Write(() =>
        {
            var now = _time.GetUtcNow();
            var count = 0;
            foreach (var request in lapsed)
            {
                // Re-read under the lock: a decision may have come in between.
                if (Find(request.Id) is { Status: ShareRequestStatus.Submitted } current)
                {
                    var expired = current with { Status = ShareRequestStatus.Expired, StatusChangedAt = now };
                    Write(expired);
                    _ledger.Record(RequestSubject.Request, expired, current.Id, current.ResourceCode, current.Status, ShareRequestStatus.Expired, "node", now, "the requested period ended without a decision");
                    count++;
                }
            }

            return count;
        });
    }

    internal static ShareRequest WithFlags(ShareRequest request, DateOnly today) => request with { Overdue = request.IsOverdue(today) };

    /// <summary>
    /// The active resource <paramref name="code"/> when a department other than its provider
    /// may apply for it; otherwise the precise refusal, its sentence added to <paramref name="errors"/>.
    /// </summary>
    internal (CatalogEntry? Entry, RequestOutcome? Refusal) ConditionalResource(string? code, string division, string? creditCode, List<CatalogValidationError> errors)
    {
        if (string.IsNullOrEmpty(code))
        {
            errors.Add(new("resourceCode", "required", "the resource code is required"));
            return (null, null);
        }

        if (!Catalog.ResourceCode.IsValid(code))
        {
            errors.Add(new("resourceCode", "resourceCode.format", "not a resource code (<classification>/<sequence>)"));
            return (null, null);
        }

        var entry = _catalog.Get(code);
        if (entry is null || entry.Status == EntryStatus.Retired)
        {
            errors.Add(new("resourceCode", "resource.unknown", $"no active resource {code} in the catalog"));
            return (null, RequestOutcome.NotFound);
        }

        if (entry.Provider.SameAs(division, creditCode))
        {
            errors.Add(new("resourceCode", "resource.own", $"resource {code} is the department's own; it needs no request"));
            return (null, RequestOutcome.OwnResource);
        }

        // Art. 21: outside its provider's province a resource exists only in the national scope, so
        // there is nothing to apply for (or grant) there; the pull would be refused the same way.
        // An empty division is the operator grant's missing user, already reported above.
        if (division.Length > 0 && !CatalogViews.SharedWith(entry, division))
        {
            errors.Add(new("resourceCode", "resource.notSharedNationally", NotSharedNationallyDetail(entry, division)));
            return (null, RequestOutcome.NotSharedNationally);
        }

        switch (entry.Share.Type)
        {
            case ShareType.Unconditional:
                errors.Add(new("resourceCode", "resource.unconditional", $"resource {code} is shared unconditionally: pull it without a request"));
                return (null, RequestOutcome.NotNeeded);
            case ShareType.NotShared:
                errors.Add(new("resourceCode", "resource.notShared", $"resource {code} is not shared: {entry.Share.Reason}"));
                return (null, RequestOutcome.NotShared);
            case ShareType.Conditional when _secrecy.Withholds(entry, division, creditCode):
                // Art. 34: not shared before its secrecy review, so there is nothing to apply for (or grant) yet.
                errors.Add(new("resourceCode", "resource.secrecyReviewMissing", SecrecyReviewGate.Detail(entry)));
                return (null, RequestOutcome.SecrecyReviewMissing);
            default:
                return (entry, null);
        }
    }

    /// <summary>
    /// The active, shared resource <paramref name="code"/> of a department other than the caller: what a
    /// dispute or an onward-sharing consent is about. A malformed code is added to <paramref name="errors"/>
    /// (null entry, no refusal); an unknown, own (<paramref name="ownResource"/> says why) or not-shared
    /// resource is the <paramref name="refusal"/>.
    /// </summary>
    internal static CatalogEntry? OthersSharedResource(CatalogStore catalog, string? code, CallerIdentity caller, string ownResource, List<CatalogValidationError> errors, out (RequestOutcome Outcome, string Reason)? refusal)
    {
        refusal = null;
        if (string.IsNullOrEmpty(code) || !Catalog.ResourceCode.IsValid(code))
        {
            errors.Add(new("resourceCode", "resourceCode.format", "a resource code (<classification>/<sequence>) is required"));
            return null;
        }

        var entry = catalog.Get(code);
        if (entry is null || entry.Status == EntryStatus.Retired)
        {
            refusal = (RequestOutcome.NotFound, $"no active resource {code} in the catalog");
            return null;
        }

        if (IsParty(entry.Provider, caller))
        {
            refusal = (RequestOutcome.OwnResource, ownResource);
            return null;
        }

        // Art. 21: a department outside the provider's province neither disputes nor passes on a
        // resource it may not see (the same rule as the pull's).
        if (!CatalogViews.SharedWith(entry, caller.DivisionCode))
        {
            refusal = (RequestOutcome.NotSharedNationally, NotSharedNationallyDetail(entry, caller.DivisionCode));
            return null;
        }

        if (entry.Share.Type == ShareType.NotShared)
        {
            refusal = (RequestOutcome.NotShared, $"resource {entry.ResourceCode} is not shared: {entry.Share.Reason}");
            return null;
        }

        return entry;
    }

    internal static string NotSharedNationallyDetail(CatalogEntry entry, string division) =>
        $"{entry.ResourceCode} is shared within province {DivisionCode.ProvinceOf(entry.Provider.DivisionCode)} only; a department of {division} is outside it. Its provider exposes it nationally by setting the catalog entry's scope to 'national'.";

    internal ShareRequest? Find(string id) => _requests.Find(id) is { } doc ? Read(doc) : null;

    internal DepartmentRef Party(string division, string creditCode) => new(division, creditCode, _departments.Find(creditCode)?.Name);

    internal static bool IsParty(DepartmentRef party, CallerIdentity caller) =>
        caller.Kind == CallerKind.Department && party.SameAs(caller.DivisionCode, caller.CreditCode);

    private static bool IsGrantUser(Grant grant, CallerIdentity caller) =>
        caller.Kind == CallerKind.Department && grant.UserCreditCode == caller.CreditCode && grant.UserDivision == caller.DivisionCode;

    private bool IsResourceProvider(string resourceCode, CallerIdentity caller) =>
        _catalog.Get(resourceCode) is { } entry && IsParty(entry.Provider, caller);

    private IEnumerable<CatalogEntry> AllPages(string creditCode, CatalogPage first)
    {
        var page = first;
        for (var n = 1; ; n++)
        {
            foreach (var entry in page.Entries)
            {
                yield return entry;
            }

            if (n * page.PageSize >= page.Total)
            {
                yield break;
            }

            page = _catalog.ListResources(new CatalogQuery(Department: creditCode, Page: n + 1, PageSize: CatalogQuery.MaxPageSize, IncludeRetired: true));
        }
    }

    private static string NewDecisionId() => "dec-" + Guid.NewGuid().ToString("N");

    internal static string Name(Enum value)
    {
        var text = value.ToString();
        return char.ToLowerInvariant(text[0]) + text[1..];
    }

    /// <summary>Stores a request as it is after a change; call inside a state write (also the change-log replay).</summary>
    internal void Write(ShareRequest request) => _requests.Put(new RequestDocument
    {
        Id = request.Id,
        User = request.User.CreditCode,
        Provider = request.Provider.CreditCode,
        Status = request.Status.ToString(),
        Json = JsonSerializer.Serialize(request with { Overdue = false }, CatalogJson.Options),
    });

    private static ShareRequest Read(RequestDocument doc) =>
        JsonSerializer.Deserialize<ShareRequest>(doc.Json, CatalogJson.Options) ?? throw new InvalidDataException($"share request {doc.Id} is unreadable");

    internal sealed class RequestDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string User { get; set; } = "";

        public string Provider { get; set; } = "";

        public string Status { get; set; } = "";

        public string Json { get; set; } = "";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5000, EventName = "ShareRequestSubmitted", Level = LogLevel.Information, Message = "Share request {RequestId} submitted by {Caller} for {ResourceCode} ({ItemCount} items)")]
        public static partial void Submitted(ILogger logger, string requestId, string caller, string resourceCode, int itemCount);

        [LoggerMessage(EventId = 5001, EventName = "ShareRequestRefused", Level = LogLevel.Debug, Message = "Share request by {Caller} refused: {Outcome}")]
        public static partial void ApplicationRefused(ILogger logger, string caller, RequestOutcome outcome);

        [LoggerMessage(EventId = 5002, EventName = "ShareRequestDecided", Level = LogLevel.Information, Message = "Share request {RequestId} {Status} by {Caller} (late: {Late})")]
        public static partial void Decided(ILogger logger, string requestId, string caller, ShareRequestStatus status, bool late);

        [LoggerMessage(EventId = 5003, EventName = "ShareDecisionForbidden", Level = LogLevel.Debug, Message = "Decision on share request {RequestId} by {Caller} refused: not the provider")]
        public static partial void DecisionForbidden(ILogger logger, string caller, string requestId);

        [LoggerMessage(EventId = 5004, EventName = "GrantRevoked", Level = LogLevel.Information, Message = "Grant {GrantId} on {ResourceCode} revoked by {Caller}")]
        public static partial void Revoked(ILogger logger, string grantId, string caller, string resourceCode);

        [LoggerMessage(EventId = 5005, EventName = "GrantCreatedByOperator", Level = LogLevel.Information, Message = "Grant {GrantId} on {ResourceCode} created by the operator")]
        public static partial void OperatorGrant(ILogger logger, string grantId, string resourceCode);
    }
}
