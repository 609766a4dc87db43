using Microsoft.Data.Sqlite;

namespace GovShare.Adapters;

/// <summary>
/// What the last successful sync of one resource pushed, in a small SQLite file per resource:
/// the watermark, or each key's row hash. Rows of the current pass wait in <c>pending</c> and
/// replace the kept state only after the node has accepted the push.
/// </summary>
internal sealed class SyncState : IDisposable
{
    private readonly SqliteConnection _connection;
    private SqliteTransaction? _pass;
    private SqliteCommand? _lookup;
    private SqliteCommand? _addPending;

    private SyncState(SqliteConnection connection) => _connection = connection;

    public static string PathFor(string folder, string resourceCode) =>
        Path.Combine(folder, Uri.EscapeDataString(resourceCode) + ".sync.db");

    public static SyncState Open(string folder, string resourceCode)
    {
        Directory.CreateDirectory(folder);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = PathFor(folder, resourceCode), Pooling = false }.ToString());
        connection.Open();
        var state = new SyncState(connection);
        state.Execute("""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS rows (key TEXT PRIMARY KEY, hash BLOB NOT NULL);
            CREATE TABLE IF NOT EXISTS pending (key TEXT PRIMARY KEY, hash BLOB NOT NULL);
            """);
        return state;
    }

    public string? Get(string key)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = _pass;
        command.CommandText = "SELECT value FROM meta WHERE key = $key";
        command.Parameters.AddWithValue("$key", key);
        return command.ExecuteScalar() as string;
    }

    /// <summary>Starts a pass: forgets any pending rows of an earlier, unfinished pass.</summary>
    public void BeginPass()
    {
        _pass = _connection.BeginTransaction();
        Execute("DELETE FROM pending");
        _lookup = Command("SELECT hash FROM rows WHERE key = $key", "$key");
        _addPending = Command("INSERT INTO pending (key, hash) VALUES ($key, $hash)", "$key", "$hash");
    }

    /// <summary>The hash pushed last time for <paramref name="key"/>, or null for a new key.</summary>
    public byte[]? Lookup(string key)
    {
        _lookup!.Parameters[0].Value = key;
        return _lookup.ExecuteScalar() as byte[];
    }

    /// <summary>Records a row of this pass; false when the key was already seen in it.</summary>
    public bool AddPending(string key, byte[] hash)
    {
        _addPending!.Parameters[0].Value = key;
        _addPending.Parameters[1].Value = hash;
        try
        {
            _addPending.ExecuteNonQuery();
            return true;
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 19)
        {
            return false; // SQLITE_CONSTRAINT: a duplicate key.
        }
    }

    public void EndPass()
    {
        _lookup?.Dispose();
        _addPending?.Dispose();
        _pass?.Commit();
        _pass?.Dispose();
        _pass = null;
    }

    /// <summary>Keys pushed last time that this pass did not see: deleted at the source.</summary>
    public long CountDeleted() => Scalar("SELECT COUNT(*) FROM rows WHERE key NOT IN (SELECT key FROM pending)");

    public long CountKept() => Scalar("SELECT COUNT(*) FROM rows");

    /// <summary>The keys <see cref="CountDeleted"/> counts, in key order; after <see cref="EndPass"/>.</summary>
    public IEnumerable<string> DeletedKeys()
    {
        using var command = Command("SELECT key FROM rows WHERE key NOT IN (SELECT key FROM pending) ORDER BY key");
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            yield return reader.GetString(0);
        }
    }

    /// <summary>After the node accepted the push: the pass becomes the kept state, atomically.</summary>
    public void Commit(IReadOnlyDictionary<string, string> meta, bool rowsFromPending)
    {
        using var transaction = _connection.BeginTransaction();
        _pass = transaction;
        if (rowsFromPending)
        {
            Execute("DELETE FROM rows; INSERT INTO rows (key, hash) SELECT key, hash FROM pending; DELETE FROM pending;");
        }

        foreach (var (key, value) in meta)
        {
            using var command = Command("INSERT INTO meta (key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value", "$key", "$value");
            command.Parameters[0].Value = key;
            command.Parameters[1].Value = value;
            command.ExecuteNonQuery();
        }

        transaction.Commit();
        _pass = null;
    }

    public void Dispose()
    {
        _pass?.Dispose();
        _connection.Dispose();
    }

    private long Scalar(string sql)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = _pass;
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private void Execute(string sql)
    {
        using var command = _connection.CreateCommand();
        command.Transaction = _pass;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private SqliteCommand Command(string sql, params string[] parameters)
    {
        var command = _connection.CreateCommand();
        command.Transaction = _pass;
        command.CommandText = sql;
        foreach (var name in parameters)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = name });
        }

        command.Prepare();
        return command;
    }
}
