using GovShare.Contract;
using Microsoft.Extensions.Logging;

namespace GovShare.Node.Exchange.Datasets;

/// <summary>
/// ILogger events of the dataset store (event ids 4000-4999; operational diagnostics, not the audit logs). Never payload values, keys or unmasked
/// items: only resource codes, version numbers, counts, exchange ids and error codes.
/// </summary>
internal static partial class DatasetDiagnostics
{
    [LoggerMessage(EventId = 4001, EventName = "DatasetVersionPublished", Level = LogLevel.Debug,
        Message = "Published version {Version} of resource {ResourceCode} ({Mode}, {Rows} rows, {Bytes} bytes) for exchange {ExchangeId}")]
    public static partial void VersionPublished(ILogger logger, string resourceCode, int version, PushMode mode, long rows, long bytes, string exchangeId);

    [LoggerMessage(EventId = 4002, EventName = "DatasetPushAborted", Level = LogLevel.Warning,
        Message = "Push {ExchangeId} of resource {ResourceCode} was abandoned before commit; its temporary file was removed")]
    public static partial void PushAborted(ILogger logger, string resourceCode, string exchangeId);

    [LoggerMessage(EventId = 4003, EventName = "DatasetStrayFilesRemoved", Level = LogLevel.Warning,
        Message = "Removed {Count} stray dataset files of interrupted pushes at start")]
    public static partial void StrayFilesRemoved(ILogger logger, int count);

    [LoggerMessage(EventId = 4004, EventName = "DatasetVersionsPruned", Level = LogLevel.Information,
        Message = "Pruned {Count} old versions of resource {ResourceCode}, keeping {Kept}")]
    public static partial void VersionsPruned(ILogger logger, string resourceCode, int count, int kept);

    [LoggerMessage(EventId = 4005, EventName = "DatasetFileDeleteFailed", Level = LogLevel.Warning,
        Message = "Could not delete dataset file {File}; it is removed at the next start")]
    public static partial void FileDeleteFailed(ILogger logger, string file, Exception exception);

    [LoggerMessage(EventId = 4006, EventName = "DatasetKeyIndexBuilt", Level = LogLevel.Information,
        Message = "Built the key index of segment {File} ({Rows} rows) by reading it, in {Milliseconds} ms: {Reason}")]
    public static partial void KeyIndexBuilt(ILogger logger, string file, long rows, double milliseconds, string reason);

    [LoggerMessage(EventId = 4007, EventName = "DatasetKeyIndexLoaded", Level = LogLevel.Debug,
        Message = "Loaded the key index of segment {File} ({Rows} rows) from its index file in {Milliseconds} ms")]
    public static partial void KeyIndexLoaded(ILogger logger, string file, long rows, double milliseconds);

    [LoggerMessage(EventId = 4008, EventName = "DatasetKeyIndexWriteFailed", Level = LogLevel.Warning,
        Message = "Could not write the key index file of segment {File}; the next start builds the index again")]
    public static partial void KeyIndexWriteFailed(ILogger logger, string file, Exception exception);

    [LoggerMessage(EventId = 4010, EventName = "ArrowInputRefused", Level = LogLevel.Debug,
        Message = "Arrow input of exchange {ExchangeId} refused: {Code} {Detail}")]
    public static partial void ArrowInputRefused(ILogger logger, string exchangeId, string code, string detail);
}
