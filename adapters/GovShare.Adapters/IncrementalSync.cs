using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace GovShare.Adapters;

/// <summary>How a sync finds the rows changed since the last one.</summary>
public enum SyncStrategy
{
    /// <summary>Rows whose updated-at item is later than the last sync's highest value.</summary>
    Watermark,

    /// <summary>Rows whose key is new or whose row hash differs from the last sync's.</summary>
    KeyHash,
}

/// <summary>One resource's sync: the strategy, its item(s) and where its local state lives.</summary>
public sealed record SyncSettings(string ResourceCode, SyncStrategy Strategy, string StateFolder, string? UpdatedAtItem = null, IReadOnlyList<string>? KeyItems = null)
{
    /// <summary>
    /// Key-hash only: the node's catalog entry names the same key items, so changes go as a merge
    /// push (<see cref="PushMode.Merge"/>): new and changed rows as upserts, keys gone from the
    /// source as deletes. Without it, a changed or deleted key re-sends the whole dataset.
    /// </summary>
    public bool Merge { get; init; }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (string.IsNullOrWhiteSpace(ResourceCode))
        {
            errors.Add("The resource code is empty.");
        }

        if (Strategy == SyncStrategy.Watermark && string.IsNullOrWhiteSpace(UpdatedAtItem))
        {
            errors.Add("The watermark strategy needs the updated-at item (--updated-at).");
        }

        if (Strategy == SyncStrategy.KeyHash && (KeyItems is null || KeyItems.Count == 0))
        {
            errors.Add("The key-hash strategy needs the key item(s) (--key).");
        }

        return errors;
    }
}

public enum SyncOutcome
{
    /// <summary>Nothing changed since the last sync: nothing was pushed.</summary>
    UpToDate,
    Pushed,
}

/// <summary>What one sync did.</summary>
/// <remarks><c>Diverged</c>: why this sync re-sent in full although it was not the first (the node's version was not the one the last sync made).</remarks>
public sealed record SyncResult(SyncOutcome Outcome, PushMode? Mode, long RowsScanned, long RowsPushed, long DeletionsDetected, PushReceipt? Receipt, string? Diverged = null);

/// <summary>Pushes a staged dataset to the node (normally <see cref="NodeClient.PushAsync(string, PushMode, StagedDataset, IProgress{long}?, CancellationToken)"/>).</summary>
public delegate Task<PushReceipt> PushStaged(StagedDataset dataset, PushMode mode, CancellationToken cancellation);

/// <summary>
/// Incremental sync of one resource: push only the rows changed since the last successful sync,
/// so a department meets the 10-working-day update rule (Art. 16) without manual work.
/// </summary>
/// <remarks>
/// The first sync (no state, or a different strategy or items than last time) pushes everything
/// with <see cref="PushMode.Replace"/>. With <see cref="SyncSettings.Merge"/> (the key-hash strategy
/// on a resource whose catalog names the same key items), later syncs push only the new and changed
/// rows and a delete per key gone, as one <see cref="PushMode.Merge"/>: one changed row sends one row.
/// Otherwise later syncs push only new rows with <see cref="PushMode.Append"/>, and because an
/// append cannot update or delete by key, an existing key changed or gone makes the key-hash
/// strategy push the whole current dataset with Replace instead. The watermark
/// strategy sees neither: it is for insert-only sources (event and register tables); use key-hash
/// for tables whose rows change. State is committed only after
/// the node accepted the push, so a failed push is retried whole next time.
/// </remarks>
public sealed partial class IncrementalSync(SyncSettings settings, ILogger? logger = null)
{
    private const string StrategyKey = "strategy";
    private const string ItemsKey = "items";
    private const string WatermarkKey = "watermark";
    private const string LastSyncKey = "lastSync";
    private const string NodeVersionKey = "nodeVersion";
    private readonly ILogger _logger = logger ?? NullLogger.Instance;

    /// <summary>Runs one sync: reads the source, stages the changed rows, pushes them, keeps the state.</summary>
    /// <remarks>
    /// <c>nodeVersion</c> reads the node's latest dataset version. When given, a sync that is not
    /// the first compares it with the version its last push made: if they differ, someone else
    /// pushed (or the node lost a version), the state no longer describes the node, and this sync
    /// re-sends in full rather than appending to a dataset it does not know.
    /// </remarks>
    public async Task<SyncResult> RunOnceAsync(Func<IRecordSource> openSource, PushStaged push, TimeProvider time, string? tempFolder = null,
        Func<CancellationToken, Task<long>>? nodeVersion = null, CancellationToken cancellation = default)
    {
        var errors = settings.Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(" ", errors));
        }

        using var state = SyncState.Open(settings.StateFolder, settings.ResourceCode);
        var strategy = settings.Strategy.ToString();
        var first = state.Get(LastSyncKey) is null || state.Get(StrategyKey) != strategy;
        string? diverged = null;
        var keyHash = settings.Strategy == SyncStrategy.KeyHash;
        if (!first && keyHash && state.Get(SyncState.HashVersionKey) is var hashVersion && hashVersion != SyncState.HashVersion)
        {
            // The kept row hashes were made another way (an earlier govshare): none would match, so
            // the node's dataset is replaced whole once, and the state is kept in this version from then on.
            diverged = $"the sync state was kept by an earlier govshare (row hash version {hashVersion ?? "1"}, this one uses {SyncState.HashVersion}), so it cannot tell which rows changed";
            LogHashVersion(_logger, settings.ResourceCode, hashVersion ?? "1", SyncState.HashVersion);
            first = true;
        }

        if (!first && nodeVersion is not null)
        {
            var expected = long.TryParse(state.Get(NodeVersionKey), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1;
            var actual = await nodeVersion(cancellation).ConfigureAwait(false);
            if (actual != expected)
            {
                diverged = expected < 0
                    ? $"the last sync recorded no node version; the node is at version {actual}"
                    : $"the last sync left the node at version {expected}, but it is at version {actual} (another push happened)";
                LogDiverged(_logger, settings.ResourceCode, expected, actual);
                first = true;
            }
        }

        LogSyncStarted(_logger, settings.ResourceCode, strategy, first);

        var pass = new Pass(settings, state, first ? null : state.Get(WatermarkKey), first ? null : state.Get(ItemsKey), selectAll: first);
        var staged = await StagedDataset.StageAsync(pass.Filter(openSource().ReadAsync(cancellation), cancellation), tempFolder, cancellation: cancellation).ConfigureAwait(false);
        try
        {
            var mode = pass.SelectAll ? PushMode.Replace : pass.Merging ? PushMode.Merge : PushMode.Append;
            var deleted = settings.Strategy == SyncStrategy.KeyHash && !pass.SelectAll ? state.CountDeleted() : 0;
            if (mode == PushMode.Append && (deleted > 0 || pass.ChangedExisting > 0))
            {
                // The node's push appends and has no delete or update by key: when rows were
                // deleted or existing rows changed, the current rows replace the dataset instead,
                // so the node never holds a row twice. Only new keys go as an append.
                LogDeletionsReplace(_logger, settings.ResourceCode, deleted);
                await staged.DisposeAsync().ConfigureAwait(false);
                pass = new Pass(settings, state, null, null, selectAll: true);
                staged = await StagedDataset.StageAsync(pass.Filter(openSource().ReadAsync(cancellation), cancellation), tempFolder, cancellation: cancellation).ConfigureAwait(false);
                mode = PushMode.Replace;
            }

            if (staged.Rows == 0 && mode is PushMode.Append or PushMode.Merge)
            {
                LogUpToDate(_logger, settings.ResourceCode, pass.Scanned);
                return new SyncResult(SyncOutcome.UpToDate, null, pass.Scanned, 0, 0, null, diverged);
            }

            PushReceipt receipt;
            try
            {
                receipt = await push(staged, mode, cancellation).ConfigureAwait(false);
            }
            catch (NodeRefusedException refused) when (mode == PushMode.Merge && refused.Status == System.Net.HttpStatusCode.RequestEntityTooLarge)
            {
                // More changed than a merge may carry (the node holds a merge in memory, so it caps
                // it: Exchange:MaxMergeBytes): the current rows replace the dataset instead.
                LogMergeTooLarge(_logger, settings.ResourceCode, staged.Rows);
                await staged.DisposeAsync().ConfigureAwait(false);
                pass = new Pass(settings, state, null, null, selectAll: true);
                staged = await StagedDataset.StageAsync(pass.Filter(openSource().ReadAsync(cancellation), cancellation), tempFolder, cancellation: cancellation).ConfigureAwait(false);
                mode = PushMode.Replace;
                receipt = await push(staged, mode, cancellation).ConfigureAwait(false);
            }

            var meta = new Dictionary<string, string>
            {
                [StrategyKey] = strategy,
                [ItemsKey] = pass.ItemsFingerprint ?? "",
                [LastSyncKey] = time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture),
                [NodeVersionKey] = receipt.Version.ToString(CultureInfo.InvariantCulture),
            };
            if (keyHash)
            {
                meta[SyncState.HashVersionKey] = SyncState.HashVersion;
            }

            if (pass.NewWatermark is { } watermark)
            {
                meta[WatermarkKey] = watermark;
            }

            state.Commit(meta, rows: settings.Strategy == SyncStrategy.KeyHash);
            LogPushed(_logger, settings.ResourceCode, staged.Rows, mode, receipt.ExchangeId);
            return new SyncResult(SyncOutcome.Pushed, mode, pass.Scanned, staged.Rows, deleted, receipt, diverged);
        }
        finally
        {
            await staged.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Syncs now and then every <paramref name="period"/> until cancelled. A failed run is logged and
    /// reported, and the next run tries again (its state was not advanced).
    /// </summary>
    public async Task RunEveryAsync(TimeSpan period, Func<IRecordSource> openSource, PushStaged push, TimeProvider time, Action<SyncResult?, Exception?> report, string? tempFolder = null,
        Func<CancellationToken, Task<long>>? nodeVersion = null, CancellationToken cancellation = default)
    {
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
                report(await RunOnceAsync(openSource, push, time, tempFolder, nodeVersion, cancellation).ConfigureAwait(false), null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                LogSyncFailed(_logger, settings.ResourceCode, ex.GetType().Name);
                report(null, ex);
            }

            try
            {
                await Task.Delay(period, time, cancellation).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    [LoggerMessage(EventId = 9000, EventName = "SyncStarted", Level = LogLevel.Information, Message = "Sync of {ResourceCode} started ({Strategy}, first: {First})")]
    private static partial void LogSyncStarted(ILogger logger, string resourceCode, string strategy, bool first);

    [LoggerMessage(EventId = 9001, EventName = "SyncUpToDate", Level = LogLevel.Information, Message = "Sync of {ResourceCode}: {Scanned} rows scanned, none changed; nothing pushed")]
    private static partial void LogUpToDate(ILogger logger, string resourceCode, long scanned);

    [LoggerMessage(EventId = 9002, EventName = "SyncPushed", Level = LogLevel.Information, Message = "Sync of {ResourceCode}: {Rows} rows pushed ({Mode}), exchange {ExchangeId}")]
    private static partial void LogPushed(ILogger logger, string resourceCode, long rows, PushMode mode, string exchangeId);

    [LoggerMessage(EventId = 9005, EventName = "SyncDiverged", Level = LogLevel.Warning, Message = "Sync of {ResourceCode}: the node is at version {Actual}, not {Expected} as the last sync left it; re-sending in full")]
    private static partial void LogDiverged(ILogger logger, string resourceCode, long expected, long actual);

    [LoggerMessage(EventId = 9008, EventName = "SyncHashVersion", Level = LogLevel.Warning, Message = "Sync of {ResourceCode}: the sync state holds row hashes of version {Kept}, this govshare makes version {Current}; re-sending in full once")]
    private static partial void LogHashVersion(ILogger logger, string resourceCode, string kept, string current);

    [LoggerMessage(EventId = 9007, EventName = "SyncMergeTooLarge", Level = LogLevel.Information, Message = "Sync of {ResourceCode}: the node refused a merge of {Rows} rows as too large; the whole dataset is pushed with replace")]
    private static partial void LogMergeTooLarge(ILogger logger, string resourceCode, long rows);

    [LoggerMessage(EventId = 9003, EventName = "SyncDeletionsReplace", Level = LogLevel.Information, Message = "Sync of {ResourceCode}: {Deleted} keys deleted at the source; the whole dataset is pushed with replace")]
    private static partial void LogDeletionsReplace(ILogger logger, string resourceCode, long deleted);

    [LoggerMessage(EventId = 9004, EventName = "SyncFailed", Level = LogLevel.Warning, Message = "Sync of {ResourceCode} failed ({Error}); the next run retries it")]
    private static partial void LogSyncFailed(ILogger logger, string resourceCode, string error);

    /// <summary>One pass over the source: selects the changed rows and records the new state.</summary>
    private sealed class Pass(SyncSettings settings, SyncState state, string? watermark, string? itemsFingerprint, bool selectAll)
    {
        private SyncRowHasher? _hasher;

        public bool SelectAll { get; private set; } = selectAll;
        public long Scanned { get; private set; }

        /// <summary>This pass stages a merge: upserts and deletes, each row with the delete column.</summary>
        public bool Merging => settings.Merge && settings.Strategy == SyncStrategy.KeyHash && !SelectAll;

        /// <summary>Rows whose key was synced before with other values (key-hash strategy).</summary>
        public long ChangedExisting { get; private set; }
        public string? NewWatermark { get; private set; }
        public string? ItemsFingerprint { get; private set; }

        public async IAsyncEnumerable<RecordBatch> Filter(IAsyncEnumerable<RecordBatch> batches, [EnumeratorCancellation] CancellationToken cancellation = default)
        {
            var duplicates = new ConversionErrors();
            var keyHash = settings.Strategy == SyncStrategy.KeyHash;
            var begun = false;
            Schema? items = null;

            try
            {
                await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
                {
                    var fingerprint = string.Join(",", batch.Schema.FieldsList.Select(f => $"{f.Name}:{ItemDataType.FromArrow(f.DataType)}"));
                    if (ItemsFingerprint is null)
                    {
                        ItemsFingerprint = fingerprint;
                        // Items changed since the last sync: the node's dataset must be replaced whole.
                        SelectAll |= itemsFingerprint is not null && itemsFingerprint != fingerprint;
                    }

                    if (keyHash && !begun)
                    {
                        // After the first batch: whether this pass is full is known (the items may have changed).
                        state.BeginPass(full: SelectAll);
                        begun = true;
                    }

                    var selected = settings.Strategy == SyncStrategy.Watermark ? ByWatermark(batch) : ByKeyHash(batch, duplicates);
                    Scanned += batch.Length;
                    items ??= batch.Schema;
                    if (!duplicates.Any)
                    {
                        var rows = selected.Count == batch.Length ? batch : ArrowValues.Take(batch, selected);
                        yield return Merging ? WithDeleteColumn(rows, false) : rows;
                    }
                }

                if (keyHash && !begun)
                {
                    // An empty source: a full pass keeps no rows; an incremental one finds every kept key gone.
                    state.BeginPass(full: SelectAll);
                    begun = true;
                }

                duplicates.ThrowIfAny();
            }
            finally
            {
                if (begun)
                {
                    state.EndPass();
                }
            }

            if (Merging && items is not null)
            {
                foreach (var deletes in DeleteBatches(items))
                {
                    yield return deletes;
                }
            }
        }

        private static RecordBatch WithDeleteColumn(RecordBatch batch, bool delete)
        {
            var flags = new BooleanArray.Builder();
            for (var r = 0; r < batch.Length; r++)
            {
                flags.Append(delete);
            }

            var schema = new Schema([.. batch.Schema.FieldsList, new Field(MergeWire.DeleteColumn, BooleanType.Default, false)], batch.Schema.Metadata);
            return new RecordBatch(schema, [.. Enumerable.Range(0, batch.ColumnCount).Select(batch.Column), flags.Build()], batch.Length);
        }

        /// <summary>
        /// A delete row for each key the last sync pushed that this pass did not see: its key items
        /// parsed back from the key text (the values as <see cref="ArrowValues.GetText(IArrowArray, int)"/>
        /// wrote them), every other item null.
        /// </summary>
        private IEnumerable<RecordBatch> DeleteBatches(Schema items)
        {
            const int BatchRows = 10_000;
            var keyIndexes = settings.KeyItems!.Select(k => items.GetFieldIndex(k)).ToArray();
            var appenders = items.FieldsList.Select(f => ColumnAppender.For(ItemDataType.FromArrow(f.DataType) ?? ItemDataType.Utf8, TimeSpan.Zero)).ToArray();
            foreach (var key in state.DeletedKeys())
            {
                var parts = key.Split('\u001F');
                for (var c = 0; c < appenders.Length; c++)
                {
                    var k = System.Array.IndexOf(keyIndexes, c);
                    var text = k < 0 || parts[k] == "\0" ? null : parts[k];
                    if (appenders[c].AppendText(text) is { } error)
                    {
                        throw new MappingException(settings.ResourceCode, [$"The deleted key '{key.Replace('\u001F', ' ').TrimEnd()}' cannot be sent back as item '{items.GetFieldByIndex(c).Name}': {error}"]);
                    }
                }

                if (appenders[0].Length == BatchRows)
                {
                    yield return Flush();
                }
            }

            if (appenders[0].Length > 0)
            {
                yield return Flush();
            }

            RecordBatch Flush()
            {
                var length = appenders[0].Length;
                var columns = appenders.Select(a => a.Build()).ToArray();
                appenders = items.FieldsList.Select(f => ColumnAppender.For(ItemDataType.FromArrow(f.DataType) ?? ItemDataType.Utf8, TimeSpan.Zero)).ToArray();
                return WithDeleteColumn(new RecordBatch(items, columns, length), true);
            }
        }

        private List<int> ByWatermark(RecordBatch batch)
        {
            var index = batch.Schema.GetFieldIndex(settings.UpdatedAtItem!);
            if (index < 0)
            {
                throw new MappingException(settings.ResourceCode, [$"The updated-at item '{settings.UpdatedAtItem}' is not among the items ({string.Join(", ", batch.Schema.FieldsList.Select(f => f.Name))})."]);
            }

            var column = batch.Column(index);
            var selected = new List<int>();
            for (var r = 0; r < batch.Length; r++)
            {
                var value = Comparable(ArrowValues.Get(column, r));
                if (value is not null && (NewWatermark is null || Compare(value, NewWatermark) > 0))
                {
                    NewWatermark = value;
                }

                // Rows without an updated-at value go with the first (full) sync only.
                if (SelectAll || (value is not null && (watermark is null || Compare(value, watermark) > 0)))
                {
                    selected.Add(r);
                }
            }

            return selected;
        }

        private List<int> ByKeyHash(RecordBatch batch, ConversionErrors duplicates)
        {
            var keyIndexes = settings.KeyItems!.Select(k => (Name: k, Index: batch.Schema.GetFieldIndex(k))).ToList();
            var missing = keyIndexes.Where(k => k.Index < 0).Select(k => $"The key item '{k.Name}' is not among the items.").ToList();
            if (missing.Count > 0)
            {
                throw new MappingException(settings.ResourceCode, missing);
            }

            _hasher ??= new SyncRowHasher([.. keyIndexes.Select(k => k.Index)]);
            var selected = new List<int>();
            for (var r = 0; r < batch.Length; r++)
            {
                var (key, row) = _hasher.Hash(batch, r);
                var seen = state.See(key, row, out var replaces);
                if (seen == SyncState.Seen.Duplicate)
                {
                    duplicates.Add(ConversionError.Create(Scanned + r + 1, string.Join("+", settings.KeyItems!), KeyText(batch, keyIndexes, r).Replace('\u001F', ' ').TrimEnd(), "the key occurs more than once"));
                    continue;
                }

                if (seen == SyncState.Seen.Changed)
                {
                    ChangedExisting++;
                }

                if (SelectAll || seen != SyncState.Seen.Same)
                {
                    // Only rows that go to the node get their key as text (kept to send a delete for it later).
                    state.AddPending(KeyText(batch, keyIndexes, r), key, row, replaces);
                    selected.Add(r);
                }
            }

            return selected;
        }

        /// <summary>The key as text: each key item's canonical text and a unit separator; a null part is a NUL so it differs from "".</summary>
        private static string KeyText(RecordBatch batch, List<(string Name, int Index)> keyIndexes, int row)
        {
            var key = new StringBuilder();
            foreach (var (_, index) in keyIndexes)
            {
                key.Append(ArrowValues.GetText(batch.Column(index), row) ?? "\0").Append('\u001F');
            }

            return key.ToString();
        }

        /// <summary>A watermark value as text that sorts like the value: fixed-width numbers, or the text itself.</summary>
        private static string? Comparable(object? value) => value switch
        {
            null => null,
            DateTimeOffset t => "n:" + Number((t.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond),
            DateOnly d => "n:" + Number(d.DayNumber),
            int i => "n:" + Number(i),
            long l => "n:" + Number(l),
            string s => "s:" + s,
            _ => throw new MappingException("sync", [$"An updated-at item of type {value.GetType().Name} cannot be a watermark (use a timestamp, date, integer or text item)."]),
        };

        // Offset so negative numbers sort before positive ones as text.
        private static string Number(long value) => ((ulong)value ^ 0x8000_0000_0000_0000UL).ToString("D20", CultureInfo.InvariantCulture);

        private static int Compare(string a, string b) => string.CompareOrdinal(a, b);
    }
}
