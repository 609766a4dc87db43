using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;

namespace GovShare.Adapters;

/// <summary>
/// What the last successful sync of one resource pushed, in a small SQLite file per resource:
/// the watermark, or each key's row hash (table <c>rows</c>, the same layout since the first
/// release, so an older state file loads as it is).
/// </summary>
/// <remarks>
/// A pass costs one read of the kept rows, not a SQLite lookup per source row: the kept rows are
/// loaded once into memory and compared there, each as 128 bits of its key's SHA-256 and 128 bits
/// of its row hash (48 bytes a row with the dictionary's own; the key texts stay in the file, read
/// again only when keys are gone). An incremental pass writes only the new and changed
/// rows to <c>pending</c>, and <see cref="Commit"/> applies them and the keys gone, with the node's
/// version, in one transaction; only a full pass writes every row to <c>pending</c> and replaces
/// <c>rows</c> with it. Nothing in <c>rows</c> changes before the node accepted the push, so a crash
/// or Ctrl+C mid-sync leaves the state of the last successful sync, and the next pass starts by
/// forgetting the unfinished one's <c>pending</c> rows.
/// </remarks>
internal sealed class SyncState : IDisposable
{
    private readonly SqliteConnection _connection;
    private SqliteTransaction? _pass;
    private SqliteCommand? _addPending;

    // The kept rows by key hash; loaded by the first incremental pass of this object.
    private Dictionary<Hash128, Kept>? _kept;
    private long _keptLoaded;
    private long _keptSeen;
    private List<string>? _deleted;

    private SyncState(SqliteConnection connection) => _connection = connection;

    /// <summary>How a row of an incremental pass compares with the kept state.</summary>
    public enum Seen
    {
        New,
        Changed,
        Same,

        /// <summary>The key occurred earlier in this pass.</summary>
        Duplicate,
    }

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

    /// <summary>Whether the pass in progress (or last ended) writes every row: a full pass.</summary>
    public bool Full { get; private set; }

    /// <summary>Starts a pass: forgets any pending rows of an earlier, unfinished pass.</summary>
    public void BeginPass(bool full)
    {
        Full = full;
        _deleted = null;
        if (!full)
        {
            LoadKept();
        }

        _pass = _connection.BeginTransaction();
        Execute("DELETE FROM pending");
        _addPending = Command("INSERT INTO pending (key, hash) VALUES ($key, $hash)", "$key", "$hash");
    }

    /// <summary>A row of this pass: how it compares with the kept state; new and changed rows (every row of a full pass) go to <c>pending</c>.</summary>
    public Seen See(string key, byte[] hash)
    {
        if (Full)
        {
            // A full pass needs no comparison; the primary key of pending finds a repeated key.
            return AddPending(key, hash) ? Seen.New : Seen.Duplicate;
        }

        ref var kept = ref CollectionsMarshal.GetValueRefOrAddDefault(_kept!, KeyHash(key), out var exists);
        var rowHash = RowHash(hash);
        if (!exists)
        {
            kept = new Kept(rowHash, Flags.Seen | Flags.New);
            AddPending(key, hash);
            return Seen.New;
        }

        if ((kept.Flags & Flags.Seen) != 0)
        {
            return Seen.Duplicate;
        }

        kept.Flags |= Flags.Seen;
        _keptSeen++;
        if (kept.Hash == rowHash)
        {
            return Seen.Same;
        }

        AddPending(key, hash);
        return Seen.Changed;
    }

    public void EndPass()
    {
        _addPending?.Dispose();
        _addPending = null;
        _pass?.Commit();
        _pass?.Dispose();
        _pass = null;
    }

    /// <summary>Keys pushed last time that this incremental pass did not see: deleted at the source.</summary>
    public long CountDeleted() => _kept is null ? 0 : _keptLoaded - _keptSeen;

    /// <summary>The keys <see cref="CountDeleted"/> counts, in ordinal key order; after <see cref="EndPass"/>.</summary>
    public IReadOnlyList<string> DeletedKeys()
    {
        if (_deleted is null)
        {
            _deleted = [];
            if (CountDeleted() > 0)
            {
                // The key texts are in the file only: one more read of it, only when keys are gone.
                using var read = Command("SELECT key FROM rows ORDER BY key");
                using var reader = read.ExecuteReader();
                while (reader.Read())
                {
                    var key = reader.GetString(0);
                    if (_kept!.TryGetValue(KeyHash(key), out var kept) && kept.Flags == Flags.None)
                    {
                        _deleted.Add(key);
                    }
                }
            }
        }

        return _deleted;
    }

    /// <summary>
    /// After the node accepted the push: the pass becomes the kept state, with <paramref name="meta"/>
    /// (the node's version among it), in one transaction. A full pass replaces the kept rows; an
    /// incremental one writes its new and changed rows and deletes the keys gone.
    /// </summary>
    public void Commit(IReadOnlyDictionary<string, string> meta, bool rows)
    {
        using var transaction = _connection.BeginTransaction();
        _pass = transaction;
        if (rows && Full)
        {
            Execute("DELETE FROM rows; INSERT INTO rows (key, hash) SELECT key, hash FROM pending; DELETE FROM pending;");
        }
        else if (rows)
        {
            Execute("INSERT INTO rows (key, hash) SELECT key, hash FROM pending WHERE true ON CONFLICT(key) DO UPDATE SET hash = excluded.hash; DELETE FROM pending;");
            using var delete = Command("DELETE FROM rows WHERE key = $key", "$key");
            foreach (var key in DeletedKeys())
            {
                delete.Parameters[0].Value = key;
                delete.ExecuteNonQuery();
            }
        }

        using (var command = Command("INSERT INTO meta (key, value) VALUES ($key, $value) ON CONFLICT(key) DO UPDATE SET value = excluded.value", "$key", "$value"))
        {
            foreach (var (key, value) in meta)
            {
                command.Parameters[0].Value = key;
                command.Parameters[1].Value = value;
                command.ExecuteNonQuery();
            }
        }

        transaction.Commit();
        _pass = null;
        // The kept rows in memory no longer match the file; a later pass on this object reloads them.
        _kept = null;
    }

    public void Dispose()
    {
        _addPending?.Dispose();
        _pass?.Dispose();
        _connection.Dispose();
    }

    // 128 bits of the SHA-256 row hash are kept in memory: as good as the whole for telling a changed row.
    private static Hash128 RowHash(ReadOnlySpan<byte> hash) => MemoryMarshal.Read<Hash128>(hash);

    // 128 bits of SHA-256: two different keys of one resource never meet in practice (2^-128 a pair).
    private static Hash128 KeyHash(string key)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(key), hash);
        return MemoryMarshal.Read<Hash128>(hash);
    }

    private void LoadKept()
    {
        if (_kept is not null)
        {
            foreach (var key in _kept.Keys.ToList())
            {
                ref var kept = ref CollectionsMarshal.GetValueRefOrNullRef(_kept, key);
                if ((kept.Flags & Flags.New) != 0)
                {
                    _kept.Remove(key);
                }
                else
                {
                    kept.Flags = Flags.None;
                }
            }

            _keptSeen = 0;
            return;
        }

        using var count = Command("SELECT COUNT(*) FROM rows");
        _kept = new Dictionary<Hash128, Kept>((int)(long)count.ExecuteScalar()!);
        _keptSeen = 0;
        using var read = Command("SELECT key, hash FROM rows");
        using var reader = read.ExecuteReader();
        var hash = new byte[32];
        while (reader.Read())
        {
            // A hash shorter than 16 bytes cannot have come from a sync: compare as changed.
            var length = reader.GetBytes(1, 0, hash, 0, hash.Length);
            _kept[KeyHash(reader.GetString(0))] = new Kept(length >= 16 ? RowHash(hash) : default, Flags.None);
        }

        _keptLoaded = _kept.Count;
    }

    private bool AddPending(string key, byte[] hash)
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

    [Flags]
    private enum Flags : byte
    {
        None = 0,

        /// <summary>This pass saw the key.</summary>
        Seen = 1,

        /// <summary>The key is not in the kept state: this pass added it.</summary>
        New = 2,
    }

    // Two longs rather than UInt128, which the runtime aligns to 16 bytes: 16 bytes, 8-aligned.
    private readonly record struct Hash128(ulong High, ulong Low);

    private struct Kept(Hash128 hash, Flags flags)
    {
        public readonly Hash128 Hash = hash;
        public Flags Flags = flags;
    }
}
