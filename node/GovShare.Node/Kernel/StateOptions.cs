namespace GovShare.Node.Kernel;

/// <summary>
/// Where the node keeps its state, bound from the <c>State</c> section (<c>State__Backend</c> …).
/// <c>litedb</c> (the default) is one file in the data folder, for one node process;
/// <c>postgresql</c> is one database shared by every replica of the node (Kernel/README.md).
/// </summary>
public sealed class StateOptions
{
    public const string Section = "State";

    /// <summary>The embedded default: <c>&lt;Node:DataPath&gt;/govshare.db</c>.</summary>
    public const string LiteDb = "litedb";

    /// <summary>A PostgreSQL database, shared by several replicas.</summary>
    public const string PostgreSql = "postgresql";

    /// <summary><c>litedb</c> or <c>postgresql</c>.</summary>
    public string Backend { get; set; } = LiteDb;

    /// <summary>
    /// Npgsql connection string of the node's database (with <c>postgresql</c>), e.g.
    /// <c>Host=db;Database=govshare;Username=govshare;Password=…;SSL Mode=VerifyFull</c>.
    /// One database (or one <c>Search Path</c> schema) per node: the tables carry no division.
    /// </summary>
    public string? ConnectionString { get; set; }

    /// <summary>
    /// This replica's name, unique among the node's replicas (with <c>postgresql</c>): it keys the
    /// replica's change-log watermark. Defaults to the host name, which Kubernetes sets to the pod's name.
    /// </summary>
    public string? ReplicaId { get; set; }

    /// <summary>
    /// With <c>postgresql</c>: how often a replica checks for changes other replicas committed even
    /// without a notification (the fallback when the LISTEN connection is down). A replica's
    /// snapshots are at most this stale, plus the time to reload them.
    /// </summary>
    public TimeSpan CatchUpInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>True for the PostgreSQL backend.</summary>
    public bool IsPostgreSql => string.Equals(Backend, PostgreSql, StringComparison.OrdinalIgnoreCase);

    /// <summary>The replica id in force: the setting, else the host name.</summary>
    public string Replica => string.IsNullOrWhiteSpace(ReplicaId) ? Environment.MachineName : ReplicaId.Trim();

    /// <summary>Every problem with the settings, each naming its setting.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!string.Equals(Backend, LiteDb, StringComparison.OrdinalIgnoreCase) && !IsPostgreSql)
        {
            errors.Add($"{Section}:{nameof(Backend)}: '{Backend}' is not a state backend; use {LiteDb} or {PostgreSql}.");
        }

        if (IsPostgreSql && string.IsNullOrWhiteSpace(ConnectionString))
        {
            errors.Add($"{Section}:{nameof(ConnectionString)}: required with {Section}:{nameof(Backend)}={PostgreSql}.");
        }

        if (ReplicaId is { } id && (id.Trim().Length is 0 or > 63 || !id.Trim().All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            errors.Add($"{Section}:{nameof(ReplicaId)}: '{id}' must be 1-63 letters, digits, '-', '_' or '.'.");
        }
        else if (ReplicaId is null && IsPostgreSql && (Replica.Length > 63 || !Replica.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
        {
            // The replica id names the replica's log chain (and is hashed into it): the host name must be one too.
            errors.Add($"{Section}:{nameof(ReplicaId)}: the host name '{Replica}' is not a replica id (1-63 letters, digits, '-', '_' or '.'); set {Section}:{nameof(ReplicaId)}.");
        }

        if (CatchUpInterval < TimeSpan.FromMilliseconds(100) || CatchUpInterval > TimeSpan.FromMinutes(5))
        {
            errors.Add($"{Section}:{nameof(CatchUpInterval)}: between 00:00:00.1 and 00:05:00.");
        }

        return errors;
    }
}
