using System.Buffers.Binary;
using Microsoft.Data.Sqlite;

namespace GovShare.Adapters;

/// <summary>
/// What the last successful sync of one resource pushed, in a small SQLite file per resource:
/// the watermark, or for each key its key hash, key text and row hash (table <c>kept</c>).
/// </summary>
/// <remarks>
/// <para>A key-hash pass costs one read of the kept hashes, not a SQLite lookup per source row: they
/// are loaded into one open-addressing table (<see cref="KeptTable"/>: 40 bytes a kept row at a load
/// of 0.7, about 110 MiB for 2,000,000 rows, allocated once at its final size; no object per row) and
/// each source row is compared there. New and changed rows (every row of a full pass) are written to
/// <c>pass</c>; the kept rows are not touched until <see cref="Commit"/>, after the node accepted the
/// push, applies the pass in one transaction with the node's version. So a crash or Ctrl+C mid-sync
/// leaves the last successful sync's state, and the next pass starts by forgetting the unfinished
/// one's rows. A full pass's <c>pass</c> table becomes <c>kept</c> by a rename, not a copy.</para>
/// <para>Key texts (needed only to send a delete for a key gone) stay in the file: read back by id,
/// only for the keys gone.</para>
/// <para>The hashes are version <see cref="HashVersion"/> (<see cref="SyncRowHasher"/>); a state file
/// of another version (the first release's SHA-256 of value texts, tables <c>rows</c> and
/// <c>pending</c>) cannot be compared with, so the caller re-sends in full once and the commit drops
/// the old tables.</para>
/// </remarks>
internal sealed class SyncState : IDisposable
{
    /// <summary>
    /// The row and key hashes' version, kept in meta: 2 is <see cref="SyncRowHasher"/>'s XxHash128 of
    /// the values' bytes; 1 (no version in meta) was SHA-256 over the values as text.
    /// </summary>
    public const string HashVersion = "2";

    public const string HashVersionKey = "hashVersion";

    private const string PassTable = "CREATE TABLE pass (id INTEGER PRIMARY KEY, key_hash BLOB NOT NULL, key TEXT NOT NULL, row_hash BLOB NOT NULL, replaces INTEGER)";

    private readonly SqliteConnection _connection;
    private readonly byte[] _keyBytes = new byte[16];
    private readonly byte[] _rowBytes = new byte[16];
    private SqliteTransaction? _pass;
    private SqliteCommand? _addPending;

    // An incremental pass: the kept rows, loaded by BeginPass. A full pass: the keys it has seen.
    private KeptTable? _kept;
    private KeySet? _added;
    private List<long>? _deletedIds;
    private List<string>? _deleted;

    private SyncState(SqliteConnection connection) => _connection = connection;

    /// <summary>How a row of a pass compares with the kept state.</summary>
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
        // `replaces`: the id of the kept row a changed row replaces (null: a new key); unused in kept.
        state.Execute($"""
            PRAGMA journal_mode = WAL;
            CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE IF NOT EXISTS kept (id INTEGER PRIMARY KEY, key_hash BLOB NOT NULL, key TEXT NOT NULL, row_hash BLOB NOT NULL, replaces INTEGER);
            {PassTable.Replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS", StringComparison.Ordinal)};
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

    /// <summary>Starts a pass: forgets any pass rows of an earlier, unfinished pass; an incremental one loads the kept hashes.</summary>
    public void BeginPass(bool full)
    {
        Full = full;
        _deleted = null;
        _deletedIds = null;
        _kept = null;
        _added = null;
        _kept = full ? null : LoadKept();
        _added = new KeySet();
        _pass = _connection.BeginTransaction();
        Execute("DELETE FROM pass");
        _addPending = Command("INSERT INTO pass (key_hash, key, row_hash, replaces) VALUES ($keyHash, $key, $rowHash, $replaces)", "$keyHash", "$key", "$rowHash", "$replaces");
    }

    /// <summary>
    /// A row of this pass: how it compares with the kept state. <paramref name="replaces"/> is the
    /// kept row a changed row replaces; pass it to <see cref="AddPending"/> for new and changed rows
    /// (every row of a full pass).
    /// </summary>
    public Seen See(UInt128 key, UInt128 row, out long replaces)
    {
        replaces = 0;
        if (_kept is not null)
        {
            switch (_kept.See(key, row, out replaces))
            {
                case KeptTable.Found.Same:
                    return Seen.Same;
                case KeptTable.Found.Changed:
                    return Seen.Changed;
                case KeptTable.Found.Again:
                    return Seen.Duplicate;
            }
        }

        return _added!.Add(key) ? Seen.New : Seen.Duplicate;
    }

    /// <summary>Writes a new or changed row (any row of a full pass) to <c>pass</c>, applied by <see cref="Commit"/>.</summary>
    public void AddPending(string keyText, UInt128 key, UInt128 row, long replaces)
    {
        BinaryPrimitives.WriteUInt128BigEndian(_keyBytes, key);
        BinaryPrimitives.WriteUInt128BigEndian(_rowBytes, row);
        _addPending!.Parameters[0].Value = _keyBytes;
        _addPending.Parameters[1].Value = keyText;
        _addPending.Parameters[2].Value = _rowBytes;
        _addPending.Parameters[3].Value = replaces > 0 ? replaces : DBNull.Value;
        _addPending.ExecuteNonQuery();
    }

    public void EndPass()
    {
        _addPending?.Dispose();
        _addPending = null;
        _pass?.Commit();
        _pass?.Dispose();
        _pass = null;
        // The keys added are needed no more (duplicates were found while they were added).
        _added = null;
    }

    /// <summary>Keys pushed last time that this incremental pass did not see: deleted at the source.</summary>
    public long CountDeleted() => _kept is null ? 0 : _kept.Count - _kept.SeenCount;

    /// <summary>The keys <see cref="CountDeleted"/> counts, in the order they were kept; after <see cref="EndPass"/>.</summary>
    public IReadOnlyList<string> DeletedKeys()
    {
        if (_deleted is null)
        {
            _deletedIds = _kept?.Unseen() ?? [];
            _deleted = new List<string>(_deletedIds.Count);
            if (_deletedIds.Count > 0)
            {
                // The key texts are in the file only: read back by id, only for the keys gone.
                using var read = Command("SELECT key FROM kept WHERE id = $id", "$id");
                foreach (var id in _deletedIds)
                {
                    read.Parameters[0].Value = id;
                    _deleted.Add((string)read.ExecuteScalar()!);
                }
            }
        }

        return _deleted;
    }

    /// <summary>
    /// After the node accepted the push: the pass becomes the kept state, with <paramref name="meta"/>
    /// (the node's version among it), in one transaction. A full pass's rows replace the kept rows
    /// (the old tables of hash version 1 go with them); an incremental one's update the changed rows,
    /// add the new and delete the keys gone.
    /// </summary>
    public void Commit(IReadOnlyDictionary<string, string> meta, bool rows)
    {
        using var transaction = _connection.BeginTransaction();
        _pass = transaction;
        if (rows && Full)
        {
            Execute($"DROP TABLE IF EXISTS rows; DROP TABLE IF EXISTS pending; DROP TABLE kept; ALTER TABLE pass RENAME TO kept; {PassTable};");
        }
        else if (rows)
        {
            Execute("""
                UPDATE kept SET row_hash = pass.row_hash FROM pass WHERE pass.replaces = kept.id;
                INSERT INTO kept (key_hash, key, row_hash) SELECT key_hash, key, row_hash FROM pass WHERE replaces IS NULL ORDER BY id;
                DELETE FROM pass;
                """);
            DeletedKeys();
            using var delete = Command("DELETE FROM kept WHERE id = $id", "$id");
            foreach (var id in _deletedIds!)
            {
                delete.Parameters[0].Value = id;
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

    private KeptTable LoadKept()
    {
        using var count = Command("SELECT COUNT(*) FROM kept");
        var kept = new KeptTable((long)count.ExecuteScalar()!);
        using var read = Command("SELECT id, key_hash, row_hash FROM kept");
        using var reader = read.ExecuteReader();
        while (reader.Read())
        {
            // GetFieldValue<byte[]>, not GetBytes: Microsoft.Data.Sqlite's GetBytes opens an
            // incremental blob handle per call (sqlite3_blob_open, a statement parse), several
            // seconds over 2,000,000 rows; this reads the column's value directly.
            var key = reader.GetFieldValue<byte[]>(1);
            var row = reader.GetFieldValue<byte[]>(2);
            // A hash of another length cannot have come from this version: it compares as changed.
            kept.Add(
                key.Length == 16 ? BinaryPrimitives.ReadUInt128BigEndian(key) : UInt128.MaxValue,
                row.Length == 16 ? BinaryPrimitives.ReadUInt128BigEndian(row) : UInt128.Zero,
                reader.GetInt64(0));
        }

        return kept;
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

    /// <summary>A slot of an open-addressing table, from the top 64 bits of a uniformly distributed hash (Lemire's range reduction: no modulo, any size).</summary>
    private static long SlotOf(UInt128 key, long slots) => (long)Math.BigMul((ulong)(key >> 64), (ulong)slots, out _);

    /// <summary>
    /// The kept rows of the last sync: key hash → row hash and id in the file, with a seen flag, in
    /// one array of 40-byte slots sized once for a load of 0.7 (linear probing). Key hashes are
    /// XxHash128 values, already uniform, so they index the array directly.
    /// </summary>
    private sealed class KeptTable
    {
        private readonly Slot[] _slots;

        public KeptTable(long rows) => _slots = new Slot[checked((int)(rows * 10 / 7) + 16)];

        public enum Found
        {
            None,
            Same,
            Changed,

            /// <summary>Seen before in this pass.</summary>
            Again,
        }

        public long Count { get; private set; }

        public long SeenCount { get; private set; }

        public void Add(UInt128 key, UInt128 row, long id)
        {
            var at = SlotOf(key, _slots.Length);
            while (_slots[at].Id != 0)
            {
                at = at + 1 == _slots.Length ? 0 : at + 1;
            }

            _slots[at] = new Slot(key, row, id);
            Count++;
        }

        public Found See(UInt128 key, UInt128 row, out long id)
        {
            var at = SlotOf(key, _slots.Length);
            while (true)
            {
                ref var slot = ref _slots[at];
                if (slot.Id == 0)
                {
                    id = 0;
                    return Found.None;
                }

                if (slot.Is(key))
                {
                    id = Math.Abs(slot.Id);
                    if (slot.Id < 0)
                    {
                        return Found.Again;
                    }

                    slot.Id = -slot.Id;
                    SeenCount++;
                    return slot.Same(row) ? Found.Same : Found.Changed;
                }

                at = at + 1 == _slots.Length ? 0 : at + 1;
            }
        }

        /// <summary>The ids of the kept rows this pass did not see, ascending.</summary>
        public List<long> Unseen()
        {
            var ids = new List<long>();
            foreach (var slot in _slots)
            {
                if (slot.Id > 0)
                {
                    ids.Add(slot.Id);
                }
            }

            ids.Sort();
            return ids;
        }

        // Four ulongs rather than two UInt128, which the runtime aligns to 16 bytes: 40 bytes a slot, not 48.
        // Id: the row's id in the file (ids start at 1, so 0 is an empty slot), negated once the pass saw it.
        private struct Slot(UInt128 key, UInt128 row, long id)
        {
            private readonly ulong _keyHigh = (ulong)(key >> 64);
            private readonly ulong _keyLow = (ulong)key;
            private readonly ulong _rowHigh = (ulong)(row >> 64);
            private readonly ulong _rowLow = (ulong)row;

            public long Id = id;

            public readonly bool Is(UInt128 key) => _keyHigh == (ulong)(key >> 64) && _keyLow == (ulong)key;

            public readonly bool Same(UInt128 row) => _rowHigh == (ulong)(row >> 64) && _rowLow == (ulong)row;
        }
    }

    /// <summary>The key hashes a pass added (new keys; every key of a full pass), to find a key that repeats: 16 bytes a slot, doubled at a load of 0.7.</summary>
    private sealed class KeySet
    {
        private ulong[] _slots = new ulong[2 * 1024];
        private bool _hasZero;
        private long _count;

        /// <summary>False when <paramref name="key"/> was added before.</summary>
        public bool Add(UInt128 key)
        {
            if (key == UInt128.Zero)
            {
                // The empty slot's value; a real key hashes to it with probability 2⁻¹²⁸, kept aside.
                var first = !_hasZero;
                _hasZero = true;
                return first;
            }

            if ((_count + 1) * 10 > Slots * 7)
            {
                Grow();
            }

            if (!Insert(_slots, key))
            {
                return false;
            }

            _count++;
            return true;
        }

        private long Slots => _slots.Length / 2;

        private static bool Insert(ulong[] slots, UInt128 key)
        {
            var count = slots.Length / 2;
            var high = (ulong)(key >> 64);
            var low = (ulong)key;
            var at = SlotOf(key, count);
            while (slots[2 * at] != 0 || slots[(2 * at) + 1] != 0)
            {
                if (slots[2 * at] == high && slots[(2 * at) + 1] == low)
                {
                    return false;
                }

                at = at + 1 == count ? 0 : at + 1;
            }

            slots[2 * at] = high;
            slots[(2 * at) + 1] = low;
            return true;
        }

        private void Grow()
        {
            var bigger = new ulong[_slots.Length * 2];
            for (var i = 0; i < _slots.Length; i += 2)
            {
                if (_slots[i] != 0 || _slots[i + 1] != 0)
                {
                    Insert(bigger, ((UInt128)_slots[i] << 64) | _slots[i + 1]);
                }
            }

            _slots = bigger;
        }
    }
}
