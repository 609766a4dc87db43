using System.Text.Json;
using System.Text.Json.Serialization;

namespace GovShare.Node.Logs;

/// <summary>The three logs of Art. 28. Each is its own hash chain with its own sequence.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<LogKind>))]
public enum LogKind
{
    /// <summary>Changes to catalog, grants, requests, disputes, registry (变更日志).</summary>
    Change,

    /// <summary>Data exchanges: push, pull, forward, compare (交换日志).</summary>
    Exchange,

    /// <summary>Catalog and metadata queries (查询日志).</summary>
    Query,
}

/// <summary>What happened in one logged step. Serialised in kebab case (<c>catalog-query</c>).</summary>
[JsonConverter(typeof(KebabEnumConverter<ExchangeKind>))]
public enum ExchangeKind
{
    Push,
    Pull,
    Forward,
    Compare,
    CatalogQuery,
    CatalogChange,
    RequestDecision,
    GrantChange,
    DisputeChange,
    RegistryChange,

    /// <summary>
    /// The node was restored from a backup (<c>govshare node restore</c>): written at the first start on
    /// the restored folder, in each log, naming the head the backup held. Records the source node wrote
    /// after that head are not in this log; the record says so instead of the chain silently going on.
    /// No state: the change-log replay skips it.
    /// </summary>
    Restore,

    /// <summary>An onward-sharing consent applied for, granted, refused or withdrawn (Art. 33).</summary>
    ConsentChange,

    /// <summary>A complaint filed or answered (Art. 29).</summary>
    ComplaintChange,

    /// <summary>A violation notified, rectified or escalated (Art. 42).</summary>
    ViolationChange,
}

/// <summary>
/// One log record as a feature hands it to <see cref="LogWriter"/>. Items are information-item
/// ids only, never values; the writer adds sequence, node, previous hash and hash.
/// The schema is documented in <c>Logs/README.md</c>; never rename a property.
/// </summary>
public sealed record LogRecord
{
    /// <summary>One id per exchange, kept across hops so every node's records join up.</summary>
    public required string ExchangeId { get; init; }

    /// <summary>When the step happened; the writer fills it from its clock when left default.</summary>
    public DateTimeOffset Time { get; init; }

    /// <summary>The authenticated caller's URI (<c>govshare:dept/…</c> or <c>govshare:node/…</c>).</summary>
    public required string Caller { get; init; }

    /// <summary>When a node forwards, the department it acts for (its URI).</summary>
    public string? OnBehalfOf { get; init; }

    public required ExchangeKind Kind { get; init; }

    /// <summary>Resource code (信息资源代码); also the Kafka key.</summary>
    public string? ResourceCode { get; init; }

    /// <summary>Credit code of the resource's provider department, when known.</summary>
    public string? Provider { get; init; }

    /// <summary>Ids of the information items delivered or asked for. Never values.</summary>
    public IReadOnlyList<string> Items { get; init; } = [];

    public string? Purpose { get; init; }

    public string? GrantId { get; init; }

    /// <summary>A pull's onward recipient (Art. 33): the department the caller said it provides the data on to; absent otherwise, and in records written before it existed (so their hashes stand).</summary>
    public string? Recipient { get; init; }

    public long Rows { get; init; }

    public long Bytes { get; init; }

    /// <summary>A push's mode (<c>replace</c>, <c>append</c>, <c>merge</c>); absent elsewhere, and in records written before it existed (so their hashes stand).</summary>
    public string? Mode { get; init; }

    /// <summary>HTTP status of the outcome.</summary>
    public int Status { get; init; }

    /// <summary>The problem+json type when the step was refused or failed.</summary>
    public string? ProblemType { get; init; }

    public long DurationMs { get; init; }

    /// <summary>0 at the node the department called; +1 per forwarding node.</summary>
    public int Hop { get; init; }

    /// <summary>Change log: the changed entity, e.g. <c>catalog/5301001234</c>.</summary>
    public string? Entity { get; init; }

    /// <summary>Change log: the change as JSON (never item values of datasets).</summary>
    public JsonElement? Diff { get; init; }

    /// <summary>The user the statistics count: the department acted for, else the caller.</summary>
    [JsonIgnore]
    public string EffectiveUser => OnBehalfOf ?? Caller;

    /// <summary>Every problem of the record for this log, all at once.</summary>
    public IReadOnlyList<string> Validate(LogKind log)
    {
        // A list only when there is a problem: every append is validated, almost all pass.
        List<string>? errors = null;
        void Add(string error) => (errors ??= []).Add(error);

        if (string.IsNullOrWhiteSpace(ExchangeId))
        {
            Add("exchangeId is required.");
        }

        if (string.IsNullOrWhiteSpace(Caller))
        {
            Add("caller is required.");
        }

        if (Rows < 0)
        {
            Add("rows must not be negative.");
        }

        if (Bytes < 0)
        {
            Add("bytes must not be negative.");
        }

        if (DurationMs < 0)
        {
            Add("durationMs must not be negative.");
        }

        if (Hop < 0)
        {
            Add("hop must not be negative.");
        }

        if (Status is < 100 or > 599)
        {
            Add("status must be an HTTP status (100-599).");
        }

        if (Items.Any(string.IsNullOrWhiteSpace))
        {
            Add("items must not contain empty ids.");
        }

        if (log == LogKind.Change)
        {
            if (string.IsNullOrWhiteSpace(Entity))
            {
                Add("entity is required in the change log.");
            }

            if (Diff is null || Diff.Value.ValueKind == JsonValueKind.Undefined)
            {
                Add("diff is required in the change log.");
            }
        }

        return errors ?? (IReadOnlyList<string>)[];
    }
}

/// <summary>A record that a log refuses; <see cref="Errors"/> lists every problem.</summary>
public sealed class LogRecordInvalidException(LogKind log, IReadOnlyList<string> errors)
    : Exception($"Invalid {log} log record: {string.Join(" ", errors)}")
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

/// <summary>Writes enum members in kebab case, e.g. <c>CatalogQuery</c> as <c>catalog-query</c>.</summary>
internal sealed class KebabEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false)
    where T : struct, Enum;
