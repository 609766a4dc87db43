using System.Collections.Immutable;
using System.Security.Cryptography;
using GovShare.Node.Catalog;
using GovShare.Node.Kernel;
using LiteDB;
using JsonSerializer = System.Text.Json.JsonSerializer;

namespace GovShare.Node.Evaluation;

/// <summary>
/// The office's publication of a year's evaluation with its improvement advice (Art. 38): the report as it stood when
/// published (this node's report over its own and its children's), the advice, who published it and when, and the
/// SHA-256 of the report's JSON as published, so a later reading can show it is the one published.
/// </summary>
public sealed record Publication(int Year, string Node, DateTimeOffset PublishedAt, string PublishedBy, string Advice, string ReportSha256, TreeReport Report);

/// <summary>
/// The published report as one department reads it through its certificate: the jurisdiction's totals, the children's
/// totals, the advice, and its own scorecard as published. Other departments' scorecards and violations are not in it
/// (a department sees only its own; the office sees everything).
/// </summary>
public sealed record PublishedView(
    int Year,
    string Node,
    DateTimeOffset PublishedAt,
    string Advice,
    string ReportSha256,
    JurisdictionSummary Total,
    IReadOnlyList<MonthlyExchanges> Months,
    int Violations,
    IReadOnlyList<PublishedChild> Children,
    DepartmentScorecard? YourScorecard)
{
    public static PublishedView For(Publication publication, string creditCode)
    {
        ArgumentNullException.ThrowIfNull(publication);
        var report = publication.Report;
        return new PublishedView(publication.Year, publication.Node, publication.PublishedAt, publication.Advice, publication.ReportSha256, report.Total, report.Months, report.Violations,
            [.. report.Children.Select(c => new PublishedChild(c.Node, c.Late, c.Total))],
            report.Own.Departments.FirstOrDefault(d => d.Department.CreditCode == creditCode));
    }
}

/// <summary>A child's part in a published report: its totals and whether it reported late.</summary>
public sealed record PublishedChild(string Node, bool Late, JurisdictionSummary Total);

/// <summary>How a publication ended.</summary>
public enum PublishOutcome
{
    Published,

    /// <summary>The year was published already: a publication is final (its record names who and when).</summary>
    AlreadyPublished,
}

/// <summary>
/// The office's publications (<c>evaluation_publications</c>, one per year). Publishing is a state change with its
/// <c>registry-change</c> change-log record, entity <c>publication/&lt;year&gt;</c>, naming the operator and carrying
/// the publication (<see cref="PublicationReplayer"/> redoes it after a crash).
/// </summary>
public sealed class Publications
{
    public const string EntityPrefix = "publication/";

    /// <summary>The longest improvement advice.</summary>
    public const int MaxAdviceLength = 20_000;

    private readonly IStateStore _state;
    private readonly IStateJournal _journal;
    private readonly TimeProvider _time;
    private readonly IStateDocuments<PublicationDocument> _publications;
    private volatile ImmutableDictionary<int, Publication> _snapshot;

    public Publications(NodeDataFolder data, TimeProvider time, IStateJournal journal)
    {
        ArgumentNullException.ThrowIfNull(data);
        _state = data.State;
        _journal = journal;
        _time = time;
        _publications = data.Collection<PublicationDocument>("evaluation_publications", p => p.PublishedBy);
        _snapshot = Load();
        _state.OnChangedElsewhere(() => _snapshot = Load());
    }

    /// <summary>Publishes <paramref name="report"/> with <paramref name="advice"/> as the office's evaluation of its year.</summary>
    public (PublishOutcome Outcome, Publication Publication) Publish(TreeReport report, string advice, string by)
    {
        ArgumentNullException.ThrowIfNull(report);
        return _state.Write(() =>
        {
            if (_publications.Find(report.Year.ToString(System.Globalization.CultureInfo.InvariantCulture)) is { } existing)
            {
                return (PublishOutcome.AlreadyPublished, JsonSerializer.Deserialize<Publication>(existing.Json, CatalogJson.Options)!);
            }

            var hash = Convert.ToHexStringLower(SHA256.HashData(JsonSerializer.SerializeToUtf8Bytes(report, CatalogJson.Options)));
            var publication = new Publication(report.Year, report.Node, _time.GetUtcNow(), by, advice, hash, report);
            Apply(publication);
            _state.MarkApplied(_journal.Append(new StateChange(Identity.DepartmentRegistry.ChangeKind, EntityPrefix + report.Year, by, publication.PublishedAt,
                JsonSerializer.SerializeToElement(new PublicationRecord("published", publication), CatalogJson.Options))));
            return (PublishOutcome.Published, publication);
        });
    }

    public Publication? Of(int year) => _snapshot.GetValueOrDefault(year);

    public IReadOnlyList<Publication> All() => [.. _snapshot.Values.OrderBy(p => p.Year)];

    internal void Apply(Publication publication)
    {
        _publications.Put(new PublicationDocument { Id = publication.Year.ToString(System.Globalization.CultureInfo.InvariantCulture), PublishedBy = publication.PublishedBy, Json = JsonSerializer.Serialize(publication, CatalogJson.Options) });
        _state.AfterCommit(() => _snapshot = Load());
    }

    private ImmutableDictionary<int, Publication> Load() =>
        _publications.All().Select(d => JsonSerializer.Deserialize<Publication>(d.Json, CatalogJson.Options)!).ToImmutableDictionary(p => p.Year);

    internal sealed class PublicationDocument
    {
        [BsonId(autoId: false)]
        public string Id { get; set; } = "";

        public string PublishedBy { get; set; } = "";

        public string Json { get; set; } = "";
    }
}

/// <summary>The <c>diff</c> of a publication's record: <c>published</c> and the publication. Never rename a property.</summary>
public sealed record PublicationRecord(string Action, Publication Publication);

/// <summary>Redoes logged publications (their part of the change-log replay).</summary>
public sealed class PublicationReplayer(Publications publications) : IStateReplayer
{
    public string EntityPrefix => Publications.EntityPrefix;

    public bool Replay(StateRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (JsonSerializer.Deserialize<PublicationRecord>(record.Diff, CatalogJson.Options) is not { Publication: { } publication })
        {
            return false;
        }

        publications.Apply(publication);
        return true;
    }
}
