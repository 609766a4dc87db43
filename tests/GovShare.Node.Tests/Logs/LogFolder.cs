using System.Security.Cryptography;
using System.Text.Json;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>A real node data folder in a temp directory, with a node key, for log tests.</summary>
internal sealed class LogFolder : IDisposable
{
    public const string Node = "530100";

    /// <param name="parent">Where to make the folder (e.g. a small file system); the temp folder by default.</param>
    public LogFolder(string? parent = null)
    {
        Path = System.IO.Path.Combine(parent ?? System.IO.Path.GetTempPath(), "govshare-logs-" + Guid.NewGuid().ToString("N"));
        Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    }

    public string Path { get; }

    public ECDsa Key { get; }

    public LogStore Store => LogStore.ForDataFolder(Path);

    /// <summary>Opens the folder (taking its lock) and a writer on it; dispose both with <see cref="OpenWriter.DisposeAsync"/>.</summary>
    public OpenWriter Open(LogOptions? options = null, TimeProvider? time = null, string? replica = null)
    {
        var folder = NodeDataFolder.Open(Path);
        try
        {
            return new OpenWriter(folder, new LogWriter(folder, Node, Key, options ?? new LogOptions(), time ?? TimeProvider.System, replica: replica));
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    public static LogRecord Exchange(int i, string resource = "5301001000000001", string? caller = null) => new()
    {
        ExchangeId = $"ex-{i:D6}",
        Caller = caller ?? "govshare:dept/530100/11530100MB0000001X",
        Kind = ExchangeKind.Pull,
        ResourceCode = resource,
        Provider = "11530100MB0000002X",
        Items = ["name", "idNumber"],
        Purpose = "social-assistance",
        GrantId = "grant-1",
        Rows = 10 + i,
        Bytes = 1000 + i,
        Status = 200,
        DurationMs = 3,
        Hop = 0,
    };

    public static LogRecord Change(int i) => new()
    {
        ExchangeId = $"ch-{i}",
        Caller = "govshare:dept/530100/11530100MB0000001X",
        Kind = ExchangeKind.CatalogChange,
        ResourceCode = "5301001000000001",
        Status = 200,
        Entity = "catalog/5301001000000001",
        Diff = JsonDocument.Parse("""{"name":{"from":"a","to":"b"}}""").RootElement,
    };

    /// <summary>An exchange record with every field set, non-ASCII text and a diff (the record whose line LogWriterTests pins).</summary>
    public static LogRecord EveryField(JsonElement diff) => new()
    {
        ExchangeId = "20260105T000000Z-0123456789abcdef",
        Time = new DateTimeOffset(2026, 1, 5, 0, 0, 1, 5, TimeSpan.Zero),
        Caller = "govshare:node/530000",
        OnBehalfOf = "govshare:dept/530100/11530100MB0000001X",
        Kind = ExchangeKind.Push,
        ResourceCode = "101001/000001",
        Provider = "11530100MB0000002X",
        Items = ["姓名", "id_number"],
        Purpose = "最低生活保障 & <审核>",
        GrantId = "grant-2",
        Recipient = "11530100MB0000003X",
        Rows = 12_000_000,
        Bytes = 1_209_100_736,
        Mode = "merge",
        Status = 409,
        ProblemType = "https://govshare.yn.gov.cn/problems/conflict",
        DurationMs = 6400,
        Hop = 1,
        Diff = diff,
    };

    public void Dispose()
    {
        Key.Dispose();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A child process may still hold a file for an instant; the temp folder is harmless.
        }
    }
}

internal sealed class OpenWriter(NodeDataFolder folder, LogWriter writer) : IAsyncDisposable
{
    public NodeDataFolder Folder { get; } = folder;

    public LogWriter Writer { get; } = writer;

    public async ValueTask DisposeAsync()
    {
        await Writer.DisposeAsync();
        Folder.Dispose();
    }
}
