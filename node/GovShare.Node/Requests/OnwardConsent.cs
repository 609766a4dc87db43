using System.Collections.Immutable;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using Microsoft.Extensions.Logging;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Requests;

/// <summary>Where an onward-sharing consent stands.</summary>
public enum ConsentStatus
{
    /// <summary>The user asked; the provider has not answered.</summary>
    Applied,

    /// <summary>The provider consented: the user may provide the data on to the recipient for the purpose.</summary>
    Granted,

    /// <summary>The provider said no, with a reason.</summary>
    Refused,

    /// <summary>Withdrawn: by the user before an answer, or by the provider after consenting (from then on, refused).</summary>
    Withdrawn,
}

/// <summary>
/// The provider's consent (Art. 33: 对外提供须经同意) to a user providing a resource's data on to one
/// recipient department, for one purpose. A pull that names an onward recipient
/// (<c>GovShare-Onward-Recipient</c>) is refused unless a granted consent matches user, resource,
/// purpose and recipient.
/// </summary>
public sealed record OnwardConsent(
    string Id,
    DepartmentRef User,
    DepartmentRef Provider,
    string ResourceCode,
    string Purpose,
    string Recipient,
    string Reason,
    DateTimeOffset AppliedAt,
    ConsentStatus Status,
    string? AnsweredBy = null,
    DateTimeOffset? AnsweredAt = null,
    string? AnswerReason = null);

/// <summary>A user's application for an onward-sharing consent.</summary>
public sealed record ConsentApplication(string? ResourceCode, string? Purpose, string? Recipient, string? Reason);

/// <summary>The provider's answer: <c>grant</c> or <c>refuse</c> (a refusal states its reason).</summary>
public sealed record ConsentDecisionInput(ConsentDecision? Outcome, string? Reason);

/// <summary>A provider's answer to a consent application.</summary>
public enum ConsentDecision
{
    Grant,
    Refuse,
}

/// <summary>A withdrawal; the provider withdrawing a consent it gave states why.</summary>
public sealed record ConsentWithdrawal(string? Reason);

/// <summary>
/// Onward-sharing consents in the node's state (<c>onward_consents</c>), every transition through the
/// <see cref="RequestLedger"/> (change log, replay). The pull's check reads an in-memory snapshot of the
/// granted ones, replaced after each commit, so the request path makes no database query.
/// </summary>
public sealed partial class ConsentStore
{
    private readonly IStateDocuments<ConsentDocument> _consents;
    private readonly CatalogStore _catalog;
    private readonly GrantStore _grants;
    private readonly ShareRequestStore _requests;
    private readonly RequestLedger _ledger;
    private readonly IStateStore _state;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private volatile ImmutableDictionary<(string User, string Resource, string Purpose, string Recipient), OnwardConsent> _granted;

    public ConsentStore(NodeDataFolder data, CatalogStore catalog, GrantStore grants, ShareRequestStore requests, RequestLedger ledger, TimeProvider time, ILogger<ConsentStore> logger)
    {
        ArgumentNullException.ThrowIfNull(data);
        _consents = data.Collection<ConsentDocument>("onward_consents", d => d.User, d => d.Provider, d => d.Status);
        _state = data.State;
        _catalog = catalog;
        _grants = grants;
        _requests = requests;
        _ledger = ledger;
        _time = time;
        _logger = logger;
        _granted = Granted(_consents.All().Select(Read));
        _state.OnChangedElsewhere(() => _granted = Granted(_consents.All().Select(Read)));
    }

    /// <summary>
    /// The pull's check: may <paramref name="user"/> provide <paramref name="resourceCode"/>'s data, pulled for
    /// <paramref name="purpose"/>, on to <paramref name="recipient"/>? One dictionary look-up on the snapshot.
    /// </summary>
    public bool Allows(CallerIdentity user, string resourceCode, string purpose, string recipient, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(user);
        return _granted.TryGetValue((user.CreditCode ?? "", resourceCode, purpose, recipient), out var consent)
            && consent.User.DivisionCode == user.DivisionCode;
    }

    /// <summary>The user applies to provide a resource's data on to a recipient, for a purpose it may pull it for.</summary>
    public RequestResult<OnwardConsent> Apply(ConsentApplication input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        var errors = new List<CatalogValidationError>();
        var entry = ShareRequestStore.OthersSharedResource(_catalog, input.ResourceCode, caller, "a provider shares its own data as it decides; it needs no consent", errors, out var refusal);
        if (refusal is { } resourceRefused)
        {
            return RequestResult<OnwardConsent>.Refused(resourceRefused.Outcome, resourceRefused.Reason);
        }

        RequestChecks.Code(errors, "purpose", input.Purpose);
        RequestChecks.Text(errors, "reason", input.Reason);
        var recipient = CallerIdentity.TryParse(input.Recipient ?? "");
        if (recipient is not { Kind: CallerKind.Department, CreditCode: not null })
        {
            errors.Add(new("recipient", "recipient.format", "the recipient is a department identity URI (govshare:dept/<division>/<credit code>)"));
        }
        else if (recipient.CreditCode == caller.CreditCode || (entry is not null && entry.Provider.SameAs(recipient.DivisionCode, recipient.CreditCode)))
        {
            errors.Add(new("recipient", "recipient.party", "the recipient is a third party: neither the user nor the provider"));
        }

        if (errors.Count > 0)
        {
            return RequestResult<OnwardConsent>.Invalid(errors);
        }

        var now = _time.GetUtcNow();

        // Only data the user may pull for that purpose can be provided on: a conditional resource needs an effective grant.
        if (entry!.Share.Type == ShareType.Conditional
            && (_grants.Effective(caller.CreditCode!, entry.ResourceCode, input.Purpose!, now) is not { } grant || grant.UserDivision != caller.DivisionCode))
        {
            return RequestResult<OnwardConsent>.Refused(RequestOutcome.Conflict, $"you hold no effective grant on {entry.ResourceCode} for purpose '{input.Purpose}'; apply for one first (POST /v1/requests)");
        }

        var consent = new OnwardConsent("cns-" + Guid.NewGuid().ToString("N"), _requests.Party(caller.DivisionCode, caller.CreditCode!), entry.Provider, entry.ResourceCode,
            input.Purpose!, recipient!.Uri, input.Reason!, now, ConsentStatus.Applied);
        return _ledger.Write(() =>
        {
            var open = _consents.Where(d => d.User, caller.CreditCode!).Select(Read).FirstOrDefault(c =>
                c.ResourceCode == consent.ResourceCode && c.Purpose == consent.Purpose && c.Recipient == consent.Recipient && c.Status is ConsentStatus.Applied or ConsentStatus.Granted);
            if (open is not null)
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.Conflict, $"consent {open.Id} for this resource, purpose and recipient is {ShareRequestStore.Name(open.Status)} already");
            }

            Write(consent);
            _ledger.Record(RequestSubject.Consent, consent, consent.Id, consent.ResourceCode, null, ConsentStatus.Applied, caller.Uri, now, $"to {consent.Recipient} for purpose {consent.Purpose}");
            Log.Applied(_logger, consent.Id, caller.Uri, consent.ResourceCode, consent.Recipient);
            return new RequestResult<OnwardConsent>(RequestOutcome.Created, consent);
        });
    }

    /// <summary>The provider grants or refuses an application; one answer only.</summary>
    public RequestResult<OnwardConsent> Decide(string id, ConsentDecisionInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        return _ledger.Write(() =>
        {
            if (Find(id) is not { } consent)
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.NotFound, "no such consent");
            }

            if (!ShareRequestStore.IsParty(consent.Provider, caller))
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.Forbidden, "only the providing department answers a consent application for its data");
            }

            if (consent.Status != ConsentStatus.Applied)
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.Conflict, $"the consent is {ShareRequestStore.Name(consent.Status)} already; an application takes one answer");
            }

            var errors = new List<CatalogValidationError>();
            if (input.Outcome is null)
            {
                errors.Add(new("outcome", "required", "the outcome is 'grant' or 'refuse'"));
            }
            else if (input.Outcome == ConsentDecision.Refuse)
            {
                RequestChecks.Text(errors, "reason", input.Reason);
            }
            else if (input.Reason is { Length: > RequestChecks.MaxText })
            {
                errors.Add(new("reason", "tooLong", $"at most {RequestChecks.MaxText} characters"));
            }

            if (errors.Count > 0)
            {
                return RequestResult<OnwardConsent>.Invalid(errors);
            }

            var now = _time.GetUtcNow();
            var to = input.Outcome == ConsentDecision.Grant ? ConsentStatus.Granted : ConsentStatus.Refused;
            var answered = consent with { Status = to, AnsweredBy = caller.Uri, AnsweredAt = now, AnswerReason = input.Reason };
            Write(answered);
            _ledger.Record(RequestSubject.Consent, answered, id, consent.ResourceCode, consent.Status, to, caller.Uri, now, input.Reason);
            Log.Answered(_logger, id, caller.Uri, to);
            return new RequestResult<OnwardConsent>(RequestOutcome.Ok, answered);
        });
    }

    /// <summary>The user withdraws its application (before an answer); the provider withdraws its consent (after), with a reason.</summary>
    public RequestResult<OnwardConsent> Withdraw(string id, ConsentWithdrawal input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        return _ledger.Write(() =>
        {
            if (Find(id) is not { } consent)
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.NotFound, "no such consent");
            }

            var byUser = ShareRequestStore.IsParty(consent.User, caller);
            var byProvider = ShareRequestStore.IsParty(consent.Provider, caller);
            if (!byUser && !byProvider)
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.Forbidden, "only the applying and the providing department see or withdraw a consent");
            }

            if (!(byUser && consent.Status == ConsentStatus.Applied) && !(byProvider && consent.Status == ConsentStatus.Granted))
            {
                return RequestResult<OnwardConsent>.Refused(RequestOutcome.Conflict,
                    $"the consent is {ShareRequestStore.Name(consent.Status)}: the user withdraws an application before its answer, the provider a consent it granted");
            }

            var errors = new List<CatalogValidationError>();
            if (byProvider)
            {
                RequestChecks.Text(errors, "reason", input.Reason);
            }

            if (errors.Count > 0)
            {
                return RequestResult<OnwardConsent>.Invalid(errors);
            }

            var now = _time.GetUtcNow();
            var withdrawn = consent with { Status = ConsentStatus.Withdrawn, AnsweredBy = caller.Uri, AnsweredAt = now, AnswerReason = input.Reason ?? consent.AnswerReason };
            Write(withdrawn);
            _ledger.Record(RequestSubject.Consent, withdrawn, id, consent.ResourceCode, consent.Status, ConsentStatus.Withdrawn, caller.Uri, now, input.Reason);
            Log.Answered(_logger, id, caller.Uri, ConsentStatus.Withdrawn);
            return new RequestResult<OnwardConsent>(RequestOutcome.Ok, withdrawn);
        });
    }

    public RequestResult<OnwardConsent> Get(string id, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (Find(id) is not { } consent)
        {
            return RequestResult<OnwardConsent>.Refused(RequestOutcome.NotFound, "no such consent");
        }

        return ShareRequestStore.IsParty(consent.User, caller) || ShareRequestStore.IsParty(consent.Provider, caller)
            ? new(RequestOutcome.Ok, consent)
            : RequestResult<OnwardConsent>.Refused(RequestOutcome.Forbidden, "only the applying and the providing department see a consent");
    }

    /// <summary>The caller's consents on one side, newest first.</summary>
    public IReadOnlyList<OnwardConsent> List(CallerIdentity caller, PartyRole role, ConsentStatus? status = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var docs = role == PartyRole.User ? _consents.Where(d => d.User, caller.CreditCode!) : _consents.Where(d => d.Provider, caller.CreditCode!);
        return [.. docs.Select(Read)
            .Where(c => (role == PartyRole.User ? c.User : c.Provider).DivisionCode == caller.DivisionCode)
            .Where(c => status is null || c.Status == status)
            .OrderByDescending(c => c.AppliedAt)];
    }

    /// <summary>Every consent, newest first (the operator's view).</summary>
    public IReadOnlyList<OnwardConsent> All() => [.. _consents.All().Select(Read).OrderByDescending(c => c.AppliedAt)];

    /// <summary>Stores a consent as it is after a change; call inside a state write (also the change-log replay).</summary>
    internal void Write(OnwardConsent consent)
    {
        _consents.Put(new ConsentDocument
        {
            Id = consent.Id,
            User = consent.User.CreditCode,
            Provider = consent.Provider.CreditCode,
            Status = consent.Status.ToString(),
            Json = JsonSerializer.Serialize(consent, CatalogJson.Options),
        });
        _state.AfterCommit(() => _granted = With(_granted, consent));
    }

    private OnwardConsent? Find(string id) => _consents.Find(id) is { } doc ? Read(doc) : null;

    private static ImmutableDictionary<(string, string, string, string), OnwardConsent> Granted(IEnumerable<OnwardConsent> consents) =>
        consents.Aggregate(ImmutableDictionary<(string, string, string, string), OnwardConsent>.Empty, With);

    private static ImmutableDictionary<(string, string, string, string), OnwardConsent> With(ImmutableDictionary<(string, string, string, string), OnwardConsent> granted, OnwardConsent consent)
    {
        var key = (consent.User.CreditCode, consent.ResourceCode, consent.Purpose, consent.Recipient);
        if (consent.Status == ConsentStatus.Granted)
        {
            return granted.SetItem(key, consent);
        }

        // Only the consent that was granted under this key is removed by its own later change.
        return granted.TryGetValue(key, out var held) && held.Id == consent.Id ? granted.Remove(key) : granted;
    }

    private static OnwardConsent Read(ConsentDocument doc) =>
        JsonSerializer.Deserialize<OnwardConsent>(doc.Json, CatalogJson.Options) ?? throw new InvalidDataException($"consent {doc.Id} is unreadable");

    internal sealed class ConsentDocument
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
        [LoggerMessage(EventId = 5030, EventName = "ConsentApplied", Level = LogLevel.Information, Message = "Onward-sharing consent {ConsentId} applied for by {Caller} on {ResourceCode} to {Recipient}")]
        public static partial void Applied(ILogger logger, string consentId, string caller, string resourceCode, string recipient);

        [LoggerMessage(EventId = 5031, EventName = "ConsentChanged", Level = LogLevel.Information, Message = "Onward-sharing consent {ConsentId} now {Status}, by {Caller}")]
        public static partial void Answered(ILogger logger, string consentId, string caller, ConsentStatus status);
    }
}
