using Microsoft.Extensions.Logging;

namespace GovShare.Node.Logs;

/// <summary>The feature's log messages, event ids 6000-6999. Never a record's content.</summary>
internal static partial class LogsDiagnostics
{
    [LoggerMessage(6001, LogLevel.Warning, "The {Log} log ended in a torn record (a write cut short by a crash): {Bytes} bytes after sequence {Sequence} in {File} were truncated.", EventName = "TornRecordTruncated")]
    public static partial void TornRecordTruncated(ILogger logger, LogKind log, long bytes, long sequence, string file);

    [LoggerMessage(6002, LogLevel.Information, "Archived {Log} log segment {File} (sequences {First}-{Last}).", EventName = "SegmentArchived")]
    public static partial void SegmentArchived(ILogger logger, LogKind log, string file, long first, long last);

    [LoggerMessage(6003, LogLevel.Critical, "The {Log} log can no longer be written; appends fail until the node restarts.", EventName = "LogFaulted")]
    public static partial void LogFaulted(ILogger logger, Exception exception, LogKind log);

    [LoggerMessage(6004, LogLevel.Error, "Archiving {Log} log segment {File} failed; it stays a live segment and is retried at start.", EventName = "ArchiveFailed")]
    public static partial void ArchiveFailed(ILogger logger, Exception exception, LogKind log, string file);

    [LoggerMessage(6005, LogLevel.Debug, "Signed {Log} log checkpoint at sequence {Sequence}.", EventName = "CheckpointSigned")]
    public static partial void CheckpointSigned(ILogger logger, LogKind log, long sequence);

    [LoggerMessage(6006, LogLevel.Error, "The {Log} log cannot be written for lack of space after sequence {Sequence}; appends are refused and retried every second until space returns.", EventName = "LogRetrying")]
    public static partial void LogRetrying(ILogger logger, Exception exception, LogKind log, long sequence);

    [LoggerMessage(6007, LogLevel.Warning, "The {Log} log is writable again; the chain continues at sequence {Sequence}.", EventName = "LogResumed")]
    public static partial void LogResumed(ILogger logger, LogKind log, long sequence);

    [LoggerMessage(6008, LogLevel.Warning, "The copy of the {Log} log's last checkpoint could not be replaced; the previous copy stays.", EventName = "CheckpointFileFailed")]
    public static partial void CheckpointFileFailed(ILogger logger, Exception exception, LogKind log);

    [LoggerMessage(6009, LogLevel.Warning, "A new {Log} log segment could not be created; the current one stays live and rotation is tried again.", EventName = "RotationFailed")]
    public static partial void RotationFailed(ILogger logger, Exception exception, LogKind log);

    [LoggerMessage(6016, LogLevel.Information, "Stopping: signed the closing checkpoints of the logs (change {Change}, exchange {Exchange}, query {Query}).", EventName = "ClosingCheckpoints")]
    public static partial void ClosingCheckpoints(ILogger logger, long change, long exchange, long query);

    [LoggerMessage(6017, LogLevel.Warning, "Stopping: Kafka did not confirm the {Log} log beyond sequence {Shipped} of {Durable} within {Seconds} s; the rest is shipped after the next start.", EventName = "RelayStopIncomplete")]
    public static partial void RelayStopIncomplete(ILogger logger, LogKind log, long shipped, long durable, double seconds);

    [LoggerMessage(6018, LogLevel.Critical, "The {Log} log's record {Sequence} does not follow the record Kafka confirmed last: the local log was rewritten after it was shipped. Nothing more of it is shipped; compare with 'govshare log verify --data <folder> --kafka <servers>'.", EventName = "RelayDiverged")]
    public static partial void RelayDiverged(ILogger logger, LogKind log, long sequence);

    [LoggerMessage(6010, LogLevel.Warning, "Kafka did not confirm {Count} {Log} log records from sequence {Sequence} ({Reason}); they are sent again.", EventName = "RelayDeliveryFailed")]
    public static partial void RelayDeliveryFailed(ILogger logger, int count, LogKind log, long sequence, string reason);

    [LoggerMessage(6011, LogLevel.Debug, "Shipped the {Log} log to Kafka up to sequence {Sequence}.", EventName = "RelayShipped")]
    public static partial void RelayShipped(ILogger logger, LogKind log, long sequence);

    [LoggerMessage(6012, LogLevel.Information, "Created Kafka topic {Topic} ({Partitions} partitions, retention {RetentionMs} ms).", EventName = "RelayTopicCreated")]
    public static partial void RelayTopicCreated(ILogger logger, string topic, int partitions, long retentionMs);

    [LoggerMessage(6013, LogLevel.Warning, "Could not create Kafka topic {Topic}: {Reason}. The relay relies on the broker's topic settings.", EventName = "RelayTopicNotCreated")]
    public static partial void RelayTopicNotCreated(ILogger logger, string topic, string reason);

    [LoggerMessage(6014, LogLevel.Error, "The Kafka producer failed fatally ({Reason}); it is recreated and unshipped records are sent again.", EventName = "RelayProducerFatal")]
    public static partial void RelayProducerFatal(ILogger logger, string reason);

    [LoggerMessage(6015, LogLevel.Error, "The Kafka relay of the {Log} log failed; it retries.", EventName = "RelayFailed")]
    public static partial void RelayFailed(ILogger logger, Exception exception, LogKind log);

    [LoggerMessage(6020, LogLevel.Warning, "Replayed {Replayed} change-log records into the node state ({Skipped} without a replayer or after-image), sequences {From}-{Through}, in {Ms} ms.", EventName = "StateReplayed")]
    public static partial void StateReplayed(ILogger logger, int replayed, int skipped, long from, long through, long ms);

    [LoggerMessage(6022, LogLevel.Warning, "{Count} change-log records of this replica (sequences {From}-{Through}) are after its watermark in the shared state: logged, but their transactions never committed (the replica stopped in between). The shared state holds the truth; they are not replayed.", EventName = "StateNotCommitted")]
    public static partial void StateNotCommitted(ILogger logger, int count, long from, long through);

    [LoggerMessage(6021, LogLevel.Critical, "The state database could not be opened; it was set aside in {Folder} and the state is rebuilt from the change log.", EventName = "StateSetAside")]
    public static partial void StateSetAside(ILogger logger, string folder);

    [LoggerMessage(6023, LogLevel.Information, "Rebuilding the {Aggregate} from the {Log} log: {Reason}.", EventName = "StatisticsRebuilt")]
    public static partial void AggregateRebuilt(ILogger logger, string aggregate, string log, string reason);

    [LoggerMessage(6024, LogLevel.Warning, "The {Aggregate} could not be saved to {Path}; the next start folds or rebuilds them from the log.", EventName = "StatisticsNotSaved")]
    public static partial void AggregateNotSaved(ILogger logger, Exception exception, string aggregate, string path);

    [LoggerMessage(6025, LogLevel.Information, "Bringing the {Aggregate} up to date from the logs, off the request path (requests meanwhile wait for it).", EventName = "AggregateWarmupStarted")]
    public static partial void AggregateWarmupStarted(ILogger logger, string aggregate);

    [LoggerMessage(6026, LogLevel.Information, "The {Aggregate} are up to date: {Entries} log entries folded in {Ms} ms.", EventName = "AggregateWarmedUp")]
    public static partial void AggregateWarmedUp(ILogger logger, string aggregate, long entries, long ms);

    [LoggerMessage(6027, LogLevel.Information, "Bringing the {Aggregate} up to date was stopped after {Ms} ms (the node is stopping); what was folded is saved and the next start goes on from there.", EventName = "AggregateWarmupStopped")]
    public static partial void AggregateWarmupStopped(ILogger logger, string aggregate, long ms);

    [LoggerMessage(6028, LogLevel.Warning, "The {Aggregate} could not be brought up to date from the logs; tried again in a few seconds.", EventName = "AggregateWarmupFailed")]
    public static partial void AggregateWarmupFailed(ILogger logger, Exception exception, string aggregate);
}
