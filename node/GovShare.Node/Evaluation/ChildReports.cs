using System.Collections.Immutable;
using GovShare.Node.Calendar;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Evaluation;

/// <summary>
/// A child's annual report as this node received it (Art. 40): the signed submission kept verbatim (so it can be
/// verified again from what is stored), the signer's key, when it first and last arrived, and whether it was late.
/// </summary>
public sealed record ReceivedReport(
    string Id,
    string Child,
    int Year,
    DateOnly DueBy,
    DateTimeOffset FirstReceivedAt,
    DateTimeOffset ReceivedAt,
    bool Late,
    string SignerKeySha256,
    SignedSubmission Submission)
{
    /// <summary>The report itself, read from the signed payload.</summary>
    public TreeReport Report() => JsonSerializer.Deserialize<TreeReport>(Convert.FromBase64String(Submission.Payload), CatalogJson.Options)!;

    /// <summary>What the parent counts of it.</summary>
    public ChildReportSummary Summary()
    {
        var report = Report();
        return new ChildReportSummary(Child, DueBy, FirstReceivedAt, ReceivedAt, Late, Submission.PayloadSha256, SignerKeySha256, report.Total, report.Months, report.Violations);
    }
}

/// <summary>How a submission was taken.</summary>
public enum ReportReceipt
{
    /// <summary>The child's first report for the year.</summary>
    New,

    /// <summary>A new version (the child re-submits when its own children's reports change the totals).</summary>
    Replaced,

    /// <summary>The same signed payload again (a retry): nothing recorded.</summary>
    Same,
}

/// <summary>
/// The annual reports this node's children submitted (<c>child_reports</c>, id <c>&lt;child&gt;/&lt;year&gt;</c>).
/// Each receipt is a state change with its <c>registry-change</c> change-log record, entity
/// <c>report/&lt;child&gt;/&lt;year&gt;</c>, carrying the received report with the signed submission
/// (<see cref="ChildReportReplayer"/> redoes it after a crash).
/// </summary>
public sealed class ChildReports
{
    public const string EntityPrefix = "report/";

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<ReportDocument> _reports;
    private volatile ImmutableList<ReceivedReport> _snapshot;

    public ChildReports(NodeDataFolder data, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _journal = journal;
        _time = time;
        _reports = data.Collection<ReportDocument>("child_reports", r => r.Child);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>Records a verified submission of <paramref name="child"/>'s report for <paramref name="year"/>.</summary>
    public (ReportReceipt Receipt, ReceivedReport Report) Receive(string child, int year, SignedSubmission submission, string signerKeySha256, string by)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var id = $"{child}/{year}";
        return _state.Write(() =>
        {
            var before = _reports.Find(id) is { } document ? JsonSerializer.Deserialize<ReceivedReport>(document.Json, CatalogJson.Options) : null;
            if (before is not null && before.Submission.PayloadSha256 == submission.PayloadSha256)
            {
                return (ReportReceipt.Same, before);
            }

            var now = _time.GetUtcNow();
            var first = before?.FirstReceivedAt ?? now;
            var due = TreeReports.DueBy(child, year);
            var report = new ReceivedReport(id, child, year, due, first, now, WorkingDayCalendar.ToChinaDate(first) > due, signerKeySha256, submission);
            Apply(report);
            var action = before is null ? "received" : "replaced";
            _state.MarkApplied(_journal.Append(new StateChange(Identity.DepartmentRegistry.ChangeKind, EntityPrefix + id, by, now,
                JsonSerializer.SerializeToElement(new ReportRecord(action, report), CatalogJson.Options))));
            return (before is null ? ReportReceipt.New : ReportReceipt.Replaced, report);
        });
    }

    public IReadOnlyList<ReceivedReport> Of(int year) => [.. _snapshot.Where(r => r.Year == year)];

    public ReceivedReport? Find(string child, int year) => _snapshot.FirstOrDefault(r => r.Child == child && r.Year == year);

    internal void Apply(ReceivedReport report)
    {
        _reports.Put(new ReportDocument { Id = report.Id, Child = report.Child, Json = JsonSerializer.Serialize(report, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableList<ReceivedReport> Load() =>
        [.. _reports.All().Select(d => JsonSerializer.Deserialize<ReceivedReport>(d.Json, CatalogJson.Options)!).OrderBy(r => r.Year).ThenBy(r => r.Child, StringComparer.Ordinal)];

    internal sealed class ReportDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string Child { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of a report's record: <c>received</c> or <c>replaced</c>, and the report as stored. Never rename a property.</summary>
public sealed record ReportRecord(string Action, ReceivedReport Report);

/// <summary>Redoes logged report receipts (their part of the change-log replay).</summary>
public sealed class ChildReportReplayer(ChildReports reports) : IStateReplayer
{
    public string EntityPrefix => ChildReports.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (JsonSerializer.Deserialize<ReportRecord>(record.Diff, CatalogJson.Options) is not { Report: { } report })
        {
            return false;
        }

        reports.Apply(report);
        return true;
    }
}
