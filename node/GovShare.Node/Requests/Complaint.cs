using System.Globalization;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using LiteDB;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Requests;

/// <summary>Where a complaint stands: open until the department complained of answers.</summary>
public enum ComplaintStatus
{
    Open,

    /// <summary>The department found the complaint justified and says what it has done.</summary>
    Upheld,

    /// <summary>The department found it unjustified, with its reasons.</summary>
    Dismissed,
}

/// <summary>Who brought a complaint: a department (its certificate) or the public, through an operator.</summary>
public enum ComplaintChannel
{
    Department,
    Public,
}

/// <summary>The answer of the department complained of; <see cref="Late"/> when given after the due day.</summary>
public sealed record ComplaintAnswer(ComplaintStatus Outcome, string By, DateTimeOffset At, bool Late, string Reply);

/// <summary>
/// A complaint or report (投诉举报, Art. 29) about a department's handling of shared data: access
/// beyond authority, misuse, wrong data, a refusal. It gets a <see cref="Number"/> (<c>TS&lt;year&gt;-&lt;n&gt;</c>,
/// counted per year from 1), a due day on the working-day calendar (<c>Requests:ComplaintWorkingDays</c>)
/// and an answer from the department complained of, like a dispute. A complaint of the public names
/// the person (<see cref="PublicName"/>, <see cref="PublicContact"/>); only the operator sees the contact.
/// </summary>
public sealed record Complaint(
    string Id,
    string Number,
    ComplaintChannel Channel,
    DepartmentRef? Complainant,
    string? PublicName,
    string? PublicContact,
    string FiledBy,
    DepartmentRef Respondent,
    string? ResourceCode,
    string Subject,
    string Description,
    DateTimeOffset FiledAt,
    DateOnly Due,
    bool DueProvisional,
    ComplaintStatus Status,
    ComplaintAnswer? Answer = null) : IAnswerableCase
{
    /// <summary>Computed on read, never stored: still open after its due day.</summary>
    public bool Overdue { get; init; }

    string? IAnswerableCase.CaseResource => ResourceCode;

    DateTimeOffset IAnswerableCase.OpenedAt => FiledAt;

    bool IAnswerableCase.IsAnswered => Status != ComplaintStatus.Open;
}

/// <summary>A complaint as filed: the department complained of (credit code), or the resource whose provider it is; what and why.</summary>
public sealed record ComplaintInput(string? Respondent, string? ResourceCode, string? Subject, string? Description, PublicComplainant? Complainant = null);

/// <summary>The person behind a complaint of the public, as the operator took it down.</summary>
public sealed record PublicComplainant(string? Name, string? Contact);

/// <summary>The answer: <c>upheld</c> or <c>dismissed</c>, with the reply (mandatory).</summary>
public sealed record ComplaintAnswerInput(ComplaintStatus? Outcome, string? Reply);

/// <summary>
/// Complaints (Art. 29) in the node's state (<c>complaints</c>); every transition through the
/// <see cref="RequestLedger"/> (one gate, its change record, the change log, replay).
/// </summary>
public sealed partial class ComplaintStore
{
    private readonly IStateDocuments<ComplaintDocument> _complaints;
    private readonly CatalogStore _catalog;
    private readonly DepartmentRegistry _departments;
    private readonly RequestLedger _ledger;
    private readonly WorkingDayCalendar _calendar;
    private readonly TimeProvider _time;
    private readonly int _workingDays;
    private readonly ILogger _logger;

    public ComplaintStore(NodeDataFolder data, CatalogStore catalog, DepartmentRegistry departments, RequestLedger ledger, WorkingDayCalendar calendar,
        TimeProvider time, IOptions<RequestsOptions> options, ILogger<ComplaintStore> logger)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        _complaints = data.Collection<ComplaintDocument>("complaints", d => d.Complainant, d => d.Respondent, d => d.Status);
        _catalog = catalog;
        _departments = departments;
        _ledger = ledger;
        _calendar = calendar;
        _time = time;
        _workingDays = options.Value.ComplaintWorkingDays;
        _logger = logger;
    }

    /// <summary>A department files a complaint about another.</summary>
    public RequestResult<Complaint> File(ComplaintInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        return File(input, caller.Uri, new DepartmentRef(caller.DivisionCode, caller.CreditCode!, _departments.Find(caller.CreditCode!)?.Name), null);
    }

    /// <summary>An operator files a complaint of the public, naming the person.</summary>
    public RequestResult<Complaint> FileForPublic(ComplaintInput input, string operatorUri)
    {
        ArgumentNullException.ThrowIfNull(input);
        var errors = new List<CatalogValidationError>();
        RequestChecks.Text(errors, "complainant.name", input.Complainant?.Name, RequestChecks.MaxShort);
        RequestChecks.Text(errors, "complainant.contact", input.Complainant?.Contact, RequestChecks.MaxShort);
        return File(input, operatorUri, null, errors);
    }

    private RequestResult<Complaint> File(ComplaintInput input, string filedBy, DepartmentRef? complainant, List<CatalogValidationError>? publicErrors)
    {
        var errors = publicErrors ?? [];
        DepartmentRef? respondent = null;
        if (!string.IsNullOrEmpty(input.ResourceCode))
        {
            if (!Catalog.ResourceCode.IsValid(input.ResourceCode) || _catalog.Get(input.ResourceCode) is not { } entry)
            {
                errors.Add(new("resourceCode", "resource.unknown", $"no resource {input.ResourceCode} in this node's catalog"));
            }
            else
            {
                respondent = entry.Provider;
            }
        }

        if (!string.IsNullOrEmpty(input.Respondent))
        {
            if (_departments.Find(input.Respondent) is not { } registered)
            {
                errors.Add(new("respondent", "department.unknown", $"no department {input.Respondent} is registered with this node"));
            }
            else if (respondent is not null && respondent.CreditCode != registered.CreditCode)
            {
                errors.Add(new("respondent", "respondent.notProvider", $"{input.ResourceCode} is provided by {respondent.CreditCode}, not {input.Respondent}"));
            }
            else
            {
                respondent = new DepartmentRef(registered.DivisionCode, registered.CreditCode, registered.Name);
            }
        }
        else if (string.IsNullOrEmpty(input.ResourceCode))
        {
            errors.Add(new("respondent", "required", "name the department complained of (its credit code) or the resource"));
        }

        if (respondent is not null && complainant is not null && respondent.SameAs(complainant.DivisionCode, complainant.CreditCode))
        {
            errors.Add(new("respondent", "respondent.self", "a department does not complain about itself"));
        }

        RequestChecks.Text(errors, "subject", input.Subject, RequestChecks.MaxShort);
        RequestChecks.Text(errors, "description", input.Description);
        if (errors.Count > 0)
        {
            return RequestResult<Complaint>.Invalid(errors);
        }

        var now = _time.GetUtcNow();
        var due = CaseDeadline.Due(_calendar, now, _workingDays, out var provisional);
        return _ledger.Write(() =>
        {
            // Numbered per year under the state's gate, so numbers are unique and without gaps.
            var year = WorkingDayCalendar.ToChinaDate(now).Year;
            var prefix = string.Create(CultureInfo.InvariantCulture, $"TS{year}-");
            var next = _complaints.All().Count(d => d.Number.StartsWith(prefix, StringComparison.Ordinal)) + 1;
            var complaint = new Complaint("cmp-" + Guid.NewGuid().ToString("N"), string.Create(CultureInfo.InvariantCulture, $"{prefix}{next:D5}"),
                complainant is null ? ComplaintChannel.Public : ComplaintChannel.Department, complainant, input.Complainant?.Name, input.Complainant?.Contact, filedBy,
                respondent!, string.IsNullOrEmpty(input.ResourceCode) ? null : input.ResourceCode, input.Subject!, input.Description!, now, due, provisional, ComplaintStatus.Open);
            Write(complaint);
            _ledger.Record(RequestSubject.Complaint, complaint, complaint.Id, complaint.ResourceCode ?? "", null, ComplaintStatus.Open, filedBy, now,
                $"{complaint.Number} against {respondent!.Key}; due {due:yyyy-MM-dd}");
            Log.Filed(_logger, complaint.Id, complaint.Number, filedBy, respondent.CreditCode);
            return new RequestResult<Complaint>(RequestOutcome.Created, Flag(complaint, WorkingDayCalendar.ToChinaDate(now), hideContact: false));
        });
    }

    /// <summary>The department complained of answers; one answer only.</summary>
    public RequestResult<Complaint> Answer(string id, ComplaintAnswerInput input, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(caller);
        return _ledger.Write(() =>
        {
            if (Find(id) is not { } complaint)
            {
                return RequestResult<Complaint>.Refused(RequestOutcome.NotFound, "no such complaint");
            }

            if (!ShareRequestStore.IsParty(complaint.Respondent, caller))
            {
                return RequestResult<Complaint>.Refused(RequestOutcome.Forbidden, "only the department complained of answers a complaint");
            }

            if (complaint.Status != ComplaintStatus.Open)
            {
                return RequestResult<Complaint>.Refused(RequestOutcome.Conflict, $"the complaint is {ShareRequestStore.Name(complaint.Status)} already; it takes one answer only");
            }

            var errors = new List<CatalogValidationError>();
            if (input.Outcome is not (ComplaintStatus.Upheld or ComplaintStatus.Dismissed))
            {
                errors.Add(new("outcome", "required", "the outcome is 'upheld' or 'dismissed'"));
            }

            RequestChecks.Text(errors, "reply", input.Reply);
            if (errors.Count > 0)
            {
                return RequestResult<Complaint>.Invalid(errors);
            }

            var now = _time.GetUtcNow();
            var today = WorkingDayCalendar.ToChinaDate(now);
            var outcome = input.Outcome!.Value;
            var answered = complaint with { Status = outcome, Answer = new ComplaintAnswer(outcome, caller.Uri, now, complaint.IsOverdue(today), input.Reply!) };
            Write(answered);
            _ledger.Record(RequestSubject.Complaint, answered, id, complaint.ResourceCode ?? "", complaint.Status, outcome, caller.Uri, now, answered.Answer.Late ? "answered late" : null);
            Log.Answered(_logger, id, caller.Uri, outcome);
            return new RequestResult<Complaint>(RequestOutcome.Ok, Flag(answered, today, hideContact: true));
        });
    }

    /// <summary>One complaint, for the complaining or the answering department (a public complainant's contact withheld).</summary>
    public RequestResult<Complaint> Get(string id, CallerIdentity caller)
    {
        ArgumentNullException.ThrowIfNull(caller);
        if (Find(id) is not { } complaint)
        {
            return RequestResult<Complaint>.Refused(RequestOutcome.NotFound, "no such complaint");
        }

        return (complaint.Complainant is { } c && ShareRequestStore.IsParty(c, caller)) || ShareRequestStore.IsParty(complaint.Respondent, caller)
            ? new(RequestOutcome.Ok, Flag(complaint, Today, hideContact: true))
            : RequestResult<Complaint>.Refused(RequestOutcome.Forbidden, "only the complaining and the answering department see a complaint");
    }

    /// <summary>The operator's view of one complaint, contact included.</summary>
    public Complaint? ForOperator(string id) => Find(id) is { } complaint ? Flag(complaint, Today, hideContact: false) : null;

    /// <summary>Complaints the caller filed (<see cref="PartyRole.User"/>) or must answer (<see cref="PartyRole.Provider"/>), newest first.</summary>
    public IReadOnlyList<Complaint> List(CallerIdentity caller, PartyRole role, ComplaintStatus? status = null)
    {
        ArgumentNullException.ThrowIfNull(caller);
        var today = Today;
        var docs = role == PartyRole.User ? _complaints.Where(d => d.Complainant, caller.CreditCode!) : _complaints.Where(d => d.Respondent, caller.CreditCode!);
        return [.. docs.Select(Read)
            .Where(c => (role == PartyRole.User ? c.Complainant?.DivisionCode : c.Respondent.DivisionCode) == caller.DivisionCode)
            .Where(c => status is null || c.Status == status)
            .OrderByDescending(c => c.FiledAt).Select(c => Flag(c, today, hideContact: true))];
    }

    /// <summary>Every complaint, open ones first by due day (the operator's list); only the overdue ones on request.</summary>
    public IReadOnlyList<Complaint> All(bool overdueOnly)
    {
        var today = Today;
        return [.. _complaints.All().Select(Read).Where(c => !overdueOnly || c.IsOverdue(today))
            .OrderBy(c => c.Status != ComplaintStatus.Open).ThenBy(c => c.Due).Select(c => Flag(c, today, hideContact: false))];
    }

    /// <summary>Every complaint as stored (the evaluation's read).</summary>
    public IReadOnlyList<Complaint> Snapshot() => [.. _complaints.All().Select(Read)];

    private DateOnly Today => WorkingDayCalendar.ToChinaDate(_time.GetUtcNow());

    private static Complaint Flag(Complaint complaint, DateOnly today, bool hideContact) =>
        complaint with { Overdue = complaint.IsOverdue(today), PublicContact = hideContact ? null : complaint.PublicContact };

    private Complaint? Find(string id) => _complaints.Find(id) is { } doc ? Read(doc) : null;

    /// <summary>Stores a complaint as it is after a change; call inside a state write (also the change-log replay).</summary>
    internal void Write(Complaint complaint) => _complaints.Put(new ComplaintDocument
    {
        Id = complaint.Id,
        Number = complaint.Number,
        Complainant = complaint.Complainant?.CreditCode ?? "",
        Respondent = complaint.Respondent.CreditCode,
        Status = complaint.Status.ToString(),
        Json = JsonSerializer.Serialize(complaint with { Overdue = false }, CatalogJson.Options),
    });

    private static Complaint Read(ComplaintDocument doc) =>
        JsonSerializer.Deserialize<Complaint>(doc.Json, CatalogJson.Options) ?? throw new InvalidDataException($"complaint {doc.Id} is unreadable");

    internal sealed class ComplaintDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Number { get; set; } = "";

        public string Complainant { get; set; } = "";

        public string Respondent { get; set; } = "";

        public string Status { get; set; } = "";

        public string Json { get; set; } = "";
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 5040, EventName = "ComplaintFiled", Level = LogLevel.Information, Message = "Complaint {ComplaintId} ({Number}) filed by {FiledBy} against {Respondent}")]
        public static partial void Filed(ILogger logger, string complaintId, string number, string filedBy, string respondent);

        [LoggerMessage(EventId = 5041, EventName = "ComplaintAnswered", Level = LogLevel.Information, Message = "Complaint {ComplaintId} answered {Outcome} by {Caller}")]
        public static partial void Answered(ILogger logger, string complaintId, string caller, ComplaintStatus outcome);
    }
}
