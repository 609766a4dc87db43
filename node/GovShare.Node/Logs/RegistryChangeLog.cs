using System.Text.Json;
using System.Text.Json.Serialization;

namespace GovShare.Node.Logs;

/// <summary>What an operator did to the registry of departments or to the links of the node.</summary>
[JsonConverter(typeof(KebabEnumConverter<RegistryAction>))]
public enum RegistryAction
{
    DepartmentRegistered,
    DepartmentRemoved,
    NodeLinked,
    NodeUnlinked,
    NodeRekeyed,
}

/// <summary>
/// The <c>diff</c> of a <c>registry-change</c> record. Self-contained on purpose: the record
/// alone says what the registry or the link table holds after it, so replaying the change log
/// in order rebuilds both (a registration or link carries every stored field; a removal its key).
/// Never rename a property: records already written keep their names.
/// </summary>
public sealed record RegistryChange
{
    public required RegistryAction Action { get; init; }

    /// <summary>The department's division, or the linked node's.</summary>
    public required string DivisionCode { get; init; }

    /// <summary>Department changes: its unified social credit code (the registry's key).</summary>
    public string? CreditCode { get; init; }

    /// <summary>Department registered: its name.</summary>
    public string? Name { get; init; }

    /// <summary>Node linked: <c>parent</c> or <c>child</c>.</summary>
    public string? Role { get; init; }

    /// <summary>Node linked: the peer's exchange address.</summary>
    public string? Url { get; init; }

    /// <summary>Node linked or re-keyed: the SHA-256 (hex) of the peer's SubjectPublicKeyInfo now pinned.</summary>
    public string? KeySha256 { get; init; }

    /// <summary>Node re-keyed: the key pinned before.</summary>
    public string? PreviousKeySha256 { get; init; }

    /// <summary>When the department was first registered, or the link made (kept across re-registration).</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>The change-log entity: <c>department/&lt;credit-code&gt;</c> or <c>link/&lt;division&gt;</c>.</summary>
    [JsonIgnore]
    public string Entity => CreditCode is not null ? $"department/{CreditCode}" : $"link/{DivisionCode}";
}

/// <summary>
/// Writes registry and link changes to the change log (Art. 28), each attributed to the operator
/// who made it (Art. 29). The caller waits for the durable record before it answers: a change is
/// not acknowledged unlogged.
/// </summary>
public sealed class RegistryChangeLog(LogWriter log, TimeProvider time)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    /// <summary>Appends the change; throws <see cref="LogUnavailableException"/> when the log cannot be written.</summary>
    public Task<long> RecordAsync(string operatorUri, RegistryChange change, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(change);
        return log.AppendAsync(LogKind.Change, new LogRecord
        {
            ExchangeId = ExchangeId.New(time).Value,
            Time = time.GetUtcNow(),
            Caller = operatorUri,
            Kind = ExchangeKind.RegistryChange,
            Entity = change.Entity,
            Status = 200,
            Diff = JsonSerializer.SerializeToElement(change, Json),
        }, cancellationToken);
    }

    /// <summary>Reads a record's diff back, for replay and for tests.</summary>
    public static RegistryChange? Read(JsonElement diff) => diff.Deserialize<RegistryChange>(Json);
}
