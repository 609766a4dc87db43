using LiteDB;

namespace GovShare.Node.Kernel;

/// <summary>
/// The node's data folder: the state (the LiteDB file, or a PostgreSQL database with
/// <c>State:Backend=postgresql</c>) and everything written beside it. It holds an exclusive lock
/// file for its whole life, so a second node process on the same folder fails at start instead
/// of corrupting the single-writer LiteDB file or interleaving one log chain.
/// </summary>
public sealed class NodeDataFolder : IDisposable
{
    private readonly FileStream _lock;
    private readonly LiteDatabase? _database;

    private NodeDataFolder(string path, FileStream lockFile, LiteDatabase? database, IStateStore state, string? setAside, int? formatFound)
    {
        Path = path;
        FormatFound = formatFound;
        _lock = lockFile;
        _database = database;
        State = state;
        StateSetAside = setAside;
    }

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>The node's state: its documents, the gate of every change and the change-log watermark.</summary>
    public IStateStore State { get; }

    /// <summary>A collection of the node's state, opened safely (<see cref="IStateStore.Collection{T}"/>).</summary>
    public IStateDocuments<T> Collection<T>(string name, params System.Linq.Expressions.Expression<Func<T, object>>[] indexes)
        where T : class, new() => State.Collection(name, indexes);

    /// <summary>
    /// Where an unreadable state database was moved at open (null when it opened): the node then
    /// starts from an empty state, which the change-log replay fills.
    /// </summary>
    public string? StateSetAside { get; }

    /// <summary>
    /// The folder's format version before this open (null for a new folder); when lower than
    /// <see cref="DataFolderFormat.Current"/>, the open migrated it.
    /// </summary>
    public int? FormatFound { get; }

    /// <summary>The state database's file name in the folder.</summary>
    public const string DatabaseFile = "govshare.db";

    /// <summary>
    /// Opens (creating if needed) the folder and its database. With <paramref name="setStateAside"/>,
    /// the state database is set aside first (under the folder's lock), to be rebuilt from the change log.
    /// </summary>
    /// <exception cref="DataFolderInUseException">Another process holds the folder.</exception>
    /// <exception cref="Npgsql.NpgsqlException">With PostgreSQL: the database cannot be reached.</exception>
    /// <exception cref="DataFolderFormatException">The folder is of a newer format than this build reads (<see cref="DataFolderFormat"/>).</exception>
    public static NodeDataFolder Open(string path, bool setStateAside = false, StateOptions? stateOptions = null)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(full);
        FileStream lockFile;
        try
        {
            // On Unix .NET maps FileShare.None to an advisory flock, which another
            // .NET process honours; the PID inside is for the operator's eyes only.
            lockFile = new FileStream(System.IO.Path.Combine(full, "node.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
        }
        catch (IOException ex)
        {
            throw new DataFolderInUseException(full, ex);
        }

        try
        {
            lockFile.SetLength(0);
            var pid = System.Text.Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            lockFile.Write(pid);
            lockFile.Flush(true);
            // Before anything reads a file: an older folder is migrated here, a newer one refused.
            var formatFound = DataFolderFormat.Ensure(full);
            if (stateOptions is { IsPostgreSql: true })
            {
                // The state is PostgreSQL's: nothing to set aside here, and no LiteDB file is opened.
                return new NodeDataFolder(full, lockFile, null, PostgresStateStore.Open(stateOptions), null, formatFound);
            }

            var setAside = setStateAside ? SetStateAside(full) : null;
            LiteDatabase database;
            StateStore state;
            try
            {
                (database, state) = OpenState(full);
            }
            catch (Exception ex) when (ex is LiteException or InvalidDataException or InvalidCastException or ArgumentOutOfRangeException)
            {
                // The state is a cache of the change log: a database that cannot be opened is set
                // aside (kept for the operator, never deleted) and rebuilt by the replay at start.
                setAside = SetStateAside(full);
                (database, state) = OpenState(full);
            }

            return new NodeDataFolder(full, lockFile, database, state, setAside, formatFound);
        }
        catch
        {
            lockFile.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Moves the state database (and LiteDB's journal beside it) to <c>state-set-aside/&lt;UTC time&gt;/</c>
    /// so that the next start rebuilds it from the change log; returns that folder, or null when there was no database.
    /// Only with the folder's lock held, or with no node running on it.
    /// </summary>
    public static string? SetStateAside(string folder)
    {
        var files = Directory.GetFiles(folder, "govshare*.db");
        if (files.Length == 0)
        {
            return null;
        }

        var target = System.IO.Path.Combine(folder, "state-set-aside", DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmssfff'Z'", System.Globalization.CultureInfo.InvariantCulture));
        Directory.CreateDirectory(target);
        foreach (var file in files)
        {
            File.Move(file, System.IO.Path.Combine(target, System.IO.Path.GetFileName(file)));
        }

        return target;
    }

    private static (LiteDatabase, StateStore) OpenState(string folder)
    {
        // A mapper of its own, not BsonMapper.Global: the mappings are then built once, on the one
        // thread that opens the state, even when several nodes share a process (tests, the demo).
        // 5.0.21 lost fields, or failed with "Member … not found on BsonMapper", when threads
        // built one type's mapping at once.
        var database = new LiteDatabase(new ConnectionString
        {
            Filename = System.IO.Path.Combine(folder, DatabaseFile),
            Connection = ConnectionType.Direct,
        }, new BsonMapper());
        try
        {
            return (database, new StateStore(database));
        }
        catch
        {
            database.Dispose();
            throw;
        }
    }

    /// <summary>A sub-folder of the data folder, created if absent.</summary>
    public string SubFolder(string name)
    {
        var sub = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(sub);
        return sub;
    }

    public void Dispose()
    {
        if (State is IDisposable disposable)
        {
            disposable.Dispose();
        }

        _database?.Dispose();
        _lock.Dispose();
    }
}

/// <summary>The data folder is locked by another node process.</summary>
public sealed class DataFolderInUseException(string path, Exception inner)
    : Exception($"The data folder '{path}' is in use by another GovShare node process (Node:DataPath).", inner);
