using LiteDB;

namespace GovShare.Node.Kernel;

/// <summary>
/// The node's data folder: the LiteDB file and everything written beside it. It holds an
/// exclusive lock file for its whole life, so a second node process on the same folder
/// fails at start instead of corrupting the single-writer LiteDB file.
/// </summary>
public sealed class NodeDataFolder : IDisposable
{
    private readonly FileStream _lock;

    private NodeDataFolder(string path, FileStream lockFile, LiteDatabase database)
    {
        Path = path;
        _lock = lockFile;
        Database = database;
    }

    /// <summary>Absolute path of the folder.</summary>
    public string Path { get; }

    /// <summary>The node's embedded database (catalog, registry, grants, outbox …).</summary>
    public LiteDatabase Database { get; }

    /// <summary>Opens (creating if needed) the folder and its database.</summary>
    /// <exception cref="DataFolderInUseException">Another process holds the folder.</exception>
    public static NodeDataFolder Open(string path)
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
            var database = new LiteDatabase(new ConnectionString
            {
                Filename = System.IO.Path.Combine(full, "govshare.db"),
                Connection = ConnectionType.Direct,
            });
            return new NodeDataFolder(full, lockFile, database);
        }
        catch
        {
            lockFile.Dispose();
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
        Database.Dispose();
        _lock.Dispose();
    }
}

/// <summary>The data folder is locked by another node process.</summary>
public sealed class DataFolderInUseException(string path, Exception inner)
    : Exception($"The data folder '{path}' is in use by another GovShare node process (Node:DataPath).", inner);
