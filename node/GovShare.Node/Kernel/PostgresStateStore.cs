using System.Globalization;
using System.Linq.Expressions;
using System.Reflection;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;

namespace GovShare.Node.Kernel;

/// <summary>
/// The node's state in PostgreSQL, shared by every replica of the node (issue 19). One table holds
/// every collection's documents as JSON (<c>govshare_documents</c>: collection, key, numeric key,
/// document), with an expression index per declared field; <c>govshare_state_meta</c> holds the
/// state's version and each replica's change-log watermark. Kernel/README.md explains the design.
/// </summary>
/// <remarks>
/// <para>The gate spans replicas: every state change takes a transaction-scoped advisory lock, so
/// state changes of the whole node commit one at a time, as with LiteDB in one process.</para>
/// <para>Snapshots stay fresh: each committed change bumps the state version and notifies
/// (<c>NOTIFY govshare_state</c>, delivered at commit). Every replica listens and, when the version
/// moved, has each store reload its snapshot under the gate; without a notification (the listening
/// connection is down) it checks every <see cref="StateOptions.CatchUpInterval"/>. A state change
/// also checks the version after taking the lock and reloads first when it is behind, so a change
/// is always decided on the state as committed, never on a stale snapshot.</para>
/// </remarks>
public sealed class PostgresStateStore : GatedStateStore, IStateStore, IDisposable
{
    internal const string Channel = "govshare_state";
    private const long GateLock = 0x476F_7653_6861_7265; // "GovShare"
    private const long SchemaLock = GateLock + 1;
    private const long LeaderLock = GateLock + 2;
    private const string VersionId = "state-version";

    private readonly NpgsqlDataSource _source;

    // Unpooled, for the listening and the leader sessions: closing one must end its session (and
    // so release the leader lock), not park it in the pool still holding the lock.
    private readonly string _dedicated;
    private readonly string _watermarkId;
    private readonly string _replica;
    private readonly TimeSpan _catchUp;
    private readonly List<Action> _reloads = [];
    private readonly CancellationTokenSource _stop = new();
    private Thread? _listener;
    private Thread? _leadership;
    private volatile bool _leader;

    // Touched only by the thread holding the gate (and read by others only to learn they are not it).
    private bool _dirty;
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;
    private volatile int _owner;
    private long _seenVersion;

    // When this replica last knew its snapshots matched the committed state version (Stopwatch ticks).
    private long _confirmedAt = System.Diagnostics.Stopwatch.GetTimestamp();

    private PostgresStateStore(NpgsqlDataSource source, string dedicated, string replica, TimeSpan catchUp)
    {
        _source = source;
        _dedicated = dedicated;
        _replica = replica;
        _watermarkId = "change-log/" + replica;
        _catchUp = catchUp;
    }

    /// <summary>Where warnings of the listener go (set by the host once logging exists).</summary>
    public ILogger Logger { get; set; } = NullLogger.Instance;

    public bool ReplaysChangeLog => false;

    public bool IsLeader => _leader;

    /// <summary>The state version this replica's snapshots reflect (moves with every committed change of any replica).</summary>
    public long SeenVersion => Interlocked.Read(ref _seenVersion);

    /// <summary>
    /// How long since this replica last confirmed that its snapshots reflect the committed state (a
    /// catch-up check, after a notification or every <see cref="StateOptions.CatchUpInterval"/>, or
    /// a change of its own): the bound on how stale what it serves may be. It grows while following
    /// fails (the database unreachable), which is what <c>govshare.state.snapshot.age</c> shows.
    /// </summary>
    public TimeSpan SnapshotAge => System.Diagnostics.Stopwatch.GetElapsedTime(Interlocked.Read(ref _confirmedAt));

    private void Confirmed() => Interlocked.Exchange(ref _confirmedAt, System.Diagnostics.Stopwatch.GetTimestamp());

    /// <summary>Opens the database, creating the tables when absent (safe when several replicas start at once).</summary>
    /// <exception cref="NpgsqlException">The database cannot be reached.</exception>
    public static PostgresStateStore Open(StateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var builder = new NpgsqlConnectionStringBuilder(options.ConnectionString) { Enlist = false };
        var dedicated = new NpgsqlConnectionStringBuilder(builder.ConnectionString) { Pooling = false }.ConnectionString;
        var store = new PostgresStateStore(NpgsqlDataSource.Create(builder), dedicated, options.Replica, options.CatchUpInterval);
        try
        {
            using var connection = store._source.OpenConnection();
            using var transaction = connection.BeginTransaction();
            Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({SchemaLock})");
            Execute(connection, transaction, """
                CREATE TABLE IF NOT EXISTS govshare_documents (
                    collection text NOT NULL,
                    id text NOT NULL,
                    num bigint,
                    doc jsonb NOT NULL,
                    PRIMARY KEY (collection, id));
                CREATE INDEX IF NOT EXISTS govshare_documents_num ON govshare_documents (collection, num) WHERE num IS NOT NULL;
                CREATE TABLE IF NOT EXISTS govshare_state_meta (id text PRIMARY KEY, value bigint NOT NULL);
                INSERT INTO govshare_state_meta (id, value) VALUES ('state-version', 0) ON CONFLICT (id) DO NOTHING;
                """);
            store.AppliedThrough = Scalar(connection, transaction, "SELECT value FROM govshare_state_meta WHERE id = @id", ("id", store._watermarkId)) ?? 0;
            store._seenVersion = Scalar(connection, transaction, "SELECT value FROM govshare_state_meta WHERE id = @id", ("id", VersionId)) ?? 0;
            transaction.Commit();
            return store;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public IStateDocuments<T> Collection<T>(string name, params Expression<Func<T, object>>[] indexes)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(indexes);
        var fields = DocumentShape.Members(indexes);
        if (!IsIdentifier(name) || fields.Any(f => !IsIdentifier(f)))
        {
            throw new ArgumentException($"collection {name}: names and fields are identifiers (letters, digits, '_').", nameof(name));
        }

        using var connection = _source.OpenConnection();
        using var transaction = connection.BeginTransaction();
        Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({SchemaLock})");
        foreach (var field in fields)
        {
            // An expression index per (collection, field): what Where and DeleteWhere look up by.
            var index = $"gs_{name}_{field}".ToLowerInvariant();
            index = index.Length > 63 ? index[..63] : index;
            Execute(connection, transaction, $"CREATE INDEX IF NOT EXISTS {index} ON govshare_documents ((doc->>'{field}')) WHERE collection = '{name}'");
        }

        transaction.Commit();
        return new PostgresStateDocuments<T>(this, name, fields);
    }

    public void OnChangedElsewhere(Action reload)
    {
        ArgumentNullException.ThrowIfNull(reload);
        lock (Gate)
        {
            _reloads.Add(reload);
        }
    }

    /// <summary>Starts listening for other replicas' changes (once every store is constructed).</summary>
    public void StartFollowing()
    {
        lock (Gate)
        {
            if (_listener is not null)
            {
                return;
            }

            _listener = new Thread(Follow) { IsBackground = true, Name = "state-follower" };
            _listener.Start();
            _leadership = new Thread(Lead) { IsBackground = true, Name = "state-leader" };
            _leadership.Start();
        }
    }

    /// <summary>
    /// Refused: the state is the database server's, shared by every replica, and is backed up with
    /// its own tools (a copy taken by one replica would not be consistent with the others' logs).
    /// </summary>
    public long Snapshot(string targetFolder) =>
        throw new NotSupportedException("The state is in PostgreSQL (State:Backend=postgresql): back it up with pg_dump, then the shared dataset volume and each replica's logs (deploy/README.md, Backup and restore).");

    public void Check()
    {
        using var connection = _source.OpenConnection();
        using var command = new NpgsqlCommand("SELECT 1", connection);
        command.ExecuteScalar();
    }

    /// <inheritdoc/>
    protected override T Commit<T>(Func<T> work, Func<long?> watermark)
    {
        _dirty = false;
        using var connection = _source.OpenConnection();
        using var transaction = connection.BeginTransaction();
        _connection = connection;
        _transaction = transaction;
        _owner = Environment.CurrentManagedThreadId;
        try
        {
            // The node-wide gate: one state change at a time across replicas.
            Execute(connection, transaction, $"SELECT pg_advisory_xact_lock({GateLock})");
            var version = Scalar(connection, transaction, "SELECT value FROM govshare_state_meta WHERE id = @id", ("id", VersionId)) ?? 0;
            if (version != _seenVersion)
            {
                // Another replica changed the state since our snapshots: decide on what is committed.
                Reload();
            }

            var result = work();
            var next = version;
            if (_dirty)
            {
                next = version + 1;
                Execute(connection, transaction, "UPDATE govshare_state_meta SET value = @v WHERE id = @id", ("v", next), ("id", VersionId));
                Execute(connection, transaction, $"SELECT pg_notify('{Channel}', @r)", ("r", _replica));
            }

            if (watermark() is { } sequence)
            {
                Execute(connection, transaction, "INSERT INTO govshare_state_meta (id, value) VALUES (@id, @v) ON CONFLICT (id) DO UPDATE SET value = excluded.value",
                    ("id", _watermarkId), ("v", sequence));
            }

            transaction.Commit();
            Interlocked.Exchange(ref _seenVersion, next);
            Confirmed();
            return result;
        }
        finally
        {
            _owner = 0;
            _connection = null;
            _transaction = null;
        }
    }

    /// <summary>
    /// Brings this replica's snapshots up to the committed state when another replica changed it;
    /// true when they were reloaded. The listener calls it on every notification and every
    /// <see cref="StateOptions.CatchUpInterval"/>; tests call it to skip the wait.
    /// </summary>
    public bool CatchUp()
    {
        lock (Gate)
        {
            if (InChange)
            {
                return false;
            }

            using var connection = _source.OpenConnection();
            // One consistent view of the version and of every collection the stores reload.
            using var transaction = connection.BeginTransaction(System.Data.IsolationLevel.RepeatableRead);
            var version = Scalar(connection, transaction, "SELECT value FROM govshare_state_meta WHERE id = @id", ("id", VersionId)) ?? 0;
            if (version == _seenVersion)
            {
                Confirmed();
                return false;
            }

            _connection = connection;
            _transaction = transaction;
            _owner = Environment.CurrentManagedThreadId;
            try
            {
                Reload();
                transaction.Commit();
                Interlocked.Exchange(ref _seenVersion, version);
                Confirmed();
                return true;
            }
            finally
            {
                _owner = 0;
                _connection = null;
                _transaction = null;
            }
        }
    }

    public void Dispose()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }

        _stop.Cancel();
        _listener?.Join(TimeSpan.FromSeconds(10));
        _leadership?.Join(TimeSpan.FromSeconds(10));
        _source.Dispose();
    }

    // Under the gate, with _connection set: every store rebuilds its snapshot from the documents.
    private void Reload()
    {
        foreach (var reload in _reloads)
        {
            reload();
        }
    }

    private void Follow()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var connection = new NpgsqlConnection(_dedicated);
                connection.Open();
                using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    listen.ExecuteNonQuery();
                }

                // Changes committed before LISTEN took effect would be missed without this.
                CatchUp();
                while (!_stop.IsCancellationRequested)
                {
                    // A notification or the catch-up interval, whichever comes first.
                    connection.Wait(_catchUp);
                    CatchUp();
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException)
            {
                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                StateDiagnostics.FollowFailed(Logger, _catchUp, ex);
                _stop.Token.WaitHandle.WaitOne(_catchUp);
            }
        }
    }

    /// <summary>
    /// Holds or seeks the leader lock: a session-level advisory lock on a connection of its own.
    /// The holder checks its session every catch-up interval and steps down the moment the check
    /// fails (its lock may then be gone); the others try to take it at the same pace. A dead
    /// leader's session ends with its process (or, for a lost host, when PostgreSQL's TCP
    /// keepalive gives up), which releases the lock.
    /// </summary>
    private void Lead()
    {
        while (!_stop.IsCancellationRequested)
        {
            try
            {
                using var connection = new NpgsqlConnection(_dedicated);
                connection.Open();
                while (!_stop.IsCancellationRequested)
                {
                    using (var command = new NpgsqlCommand(_leader ? "SELECT true" : $"SELECT pg_try_advisory_lock({LeaderLock})", connection))
                    {
                        var held = command.ExecuteScalar() is true;
                        if (held != _leader)
                        {
                            _leader = held;
                            StateDiagnostics.Leadership(Logger, _replica, held);
                        }
                    }

                    _stop.Token.WaitHandle.WaitOne(_catchUp);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or InvalidOperationException or TimeoutException)
            {
                if (_leader)
                {
                    _leader = false;
                    StateDiagnostics.Leadership(Logger, _replica, false);
                }

                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                StateDiagnostics.FollowFailed(Logger, _catchUp, ex);
                _stop.Token.WaitHandle.WaitOne(_catchUp);
            }
        }

        _leader = false;
    }

    // The connection and transaction a document call uses: the state change's or catch-up's on
    // the thread that holds the gate, none (a pooled connection per call) on any other thread.
    internal (NpgsqlConnection Connection, NpgsqlTransaction? Transaction, bool Own) Use(bool writes)
    {
        if (_owner == Environment.CurrentManagedThreadId && _connection is { } connection)
        {
            if (writes)
            {
                _dirty = true;
            }

            return (connection, _transaction, false);
        }

        return (_source.OpenConnection(), null, true);
    }

    private static bool IsIdentifier(string name) => name.Length is > 0 and <= 40 && name.All(c => char.IsAsciiLetterOrDigit(c) || c == '_');

    internal static void Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        command.ExecuteNonQuery();
    }

    internal static long? Scalar(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = Command(connection, transaction, sql, parameters);
        return command.ExecuteScalar() is { } value and not DBNull ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : null;
    }

    internal static NpgsqlCommand Command(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        var command = new NpgsqlCommand(sql, connection, transaction);
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return command;
    }
}

/// <summary>A collection in PostgreSQL: rows of <c>govshare_documents</c> with this collection's name.</summary>
internal sealed class PostgresStateDocuments<T>(PostgresStateStore store, string name, IReadOnlySet<string> indexes) : IStateDocuments<T>
    where T : class
{
    // Member names as written (no naming policy): the index expressions name them as they are.
    private static readonly JsonSerializerOptions Json = new() { IncludeFields = false };
    private static readonly PropertyInfo KeyProperty = DocumentShape.Key(typeof(T));
    private static readonly bool NumericKey = KeyProperty.PropertyType == typeof(long) || KeyProperty.PropertyType == typeof(int);

    public string Name => name;

    public T? Find(object key) => Query("AND id = @id", [("id", KeyText(key))]).FirstOrDefault();

    public IReadOnlyList<T> All() => Query("", []);

    public IReadOnlyList<T> Where(Expression<Func<T, object>> field, object value) =>
        Query($"AND doc->>'{Field(field)}' = @v", [("v", ValueText(value))]);

    public void Put(T document) => PutMany([document]);

    public bool Add(T document) => Write([document], "DO NOTHING") > 0;

    public void PutMany(IEnumerable<T> documents) => Write(documents, "DO UPDATE SET num = excluded.num, doc = excluded.doc");

    private int Write(IEnumerable<T> documents, string onConflict)
    {
        ArgumentNullException.ThrowIfNull(documents);
        var (connection, transaction, own) = store.Use(writes: true);
        try
        {
            var written = 0;
            foreach (var document in documents)
            {
                var key = KeyProperty.GetValue(document) ?? throw new ArgumentException($"collection {name}: a document without a key.");
                using var command = PostgresStateStore.Command(connection, transaction,
                    $"INSERT INTO govshare_documents (collection, id, num, doc) VALUES (@c, @id, @num, @doc) ON CONFLICT (collection, id) {onConflict}",
                    ("c", name), ("id", KeyText(key)), ("num", NumericKey ? Convert.ToInt64(key, CultureInfo.InvariantCulture) : DBNull.Value));
                command.Parameters.Add(new NpgsqlParameter("doc", NpgsqlDbType.Jsonb) { Value = JsonSerializer.Serialize(document, Json) });
                written += command.ExecuteNonQuery();
            }

            return written;
        }
        finally
        {
            if (own)
            {
                connection.Dispose();
            }
        }
    }

    public bool Delete(object key) => Modify("DELETE FROM govshare_documents WHERE collection = @c AND id = @id", ("id", KeyText(key))) > 0;

    public int DeleteWhere(Expression<Func<T, object>> field, object value) =>
        Modify($"DELETE FROM govshare_documents WHERE collection = @c AND doc->>'{Field(field)}' = @v", ("v", ValueText(value)));

    public IReadOnlyList<T> After(long afterKey, int limit, Expression<Func<T, object>>? field = null, object? value = null)
    {
        var filter = field is null ? "" : $" AND doc->>'{Field(field)}' = @v";
        return Query($"AND num > @after{filter} ORDER BY num LIMIT @limit", [("after", afterKey), ("limit", limit), ("v", value is null ? "" : ValueText(value))], ordered: true);
    }

    public long MaxKey()
    {
        var (connection, transaction, own) = store.Use(writes: false);
        try
        {
            return PostgresStateStore.Scalar(connection, transaction, "SELECT coalesce(max(num), 0) FROM govshare_documents WHERE collection = @c", ("c", name)) ?? 0;
        }
        finally
        {
            if (own)
            {
                connection.Dispose();
            }
        }
    }

    private List<T> Query(string condition, (string, object)[] parameters, bool ordered = false)
    {
        var (connection, transaction, own) = store.Use(writes: false);
        try
        {
            // Key order, as LiteDB's _id index gives it: numbers by value, text by code point.
            var order = ordered ? "" : " ORDER BY num, id COLLATE \"C\"";
            using var command = PostgresStateStore.Command(connection, transaction, $"SELECT doc::text FROM govshare_documents WHERE collection = @c {condition}{order}", [("c", name), .. parameters]);
            using var reader = command.ExecuteReader();
            var found = new List<T>();
            while (reader.Read())
            {
                found.Add(JsonSerializer.Deserialize<T>(reader.GetString(0), Json) ?? throw new InvalidDataException($"collection {name}: an unreadable document."));
            }

            return found;
        }
        finally
        {
            if (own)
            {
                connection.Dispose();
            }
        }
    }

    private int Modify(string sql, params (string, object)[] parameters)
    {
        var (connection, transaction, own) = store.Use(writes: true);
        try
        {
            return PostgresStateStore.Command(connection, transaction, sql, [("c", name), .. parameters]) is var command
                ? Using(command, c => c.ExecuteNonQuery())
                : 0;
        }
        finally
        {
            if (own)
            {
                connection.Dispose();
            }
        }
    }

    private static int Using(NpgsqlCommand command, Func<NpgsqlCommand, int> run)
    {
        using (command)
        {
            return run(command);
        }
    }

    private string Field(Expression<Func<T, object>> field)
    {
        var member = DocumentShape.Member(field);
        return indexes.Contains(member) ? member : throw new ArgumentException($"collection {name}: {member} is not one of its indexes.", nameof(field));
    }

    private static string KeyText(object key) => Convert.ToString(key, CultureInfo.InvariantCulture) ?? "";

    // As jsonb's ->> writes a value: booleans lower-case, numbers invariant.
    private static string ValueText(object value) => value switch
    {
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

internal static partial class StateDiagnostics
{
    [LoggerMessage(6101, LogLevel.Warning, "Following other replicas' state changes failed; checking again in {Interval}.", EventName = "StateFollowFailed")]
    public static partial void FollowFailed(ILogger logger, TimeSpan interval, Exception exception);

    [LoggerMessage(6102, LogLevel.Information, "Replica {Replica} leads the node's background work: {Leads}.", EventName = "StateLeadership")]
    public static partial void Leadership(ILogger logger, string replica, bool leads);
}
