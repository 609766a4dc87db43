using Apache.Arrow;
using GovShare.Contract;
using Microsoft.Data.Sqlite;

namespace GovShare.Adapters.Tests;

public sealed class IncrementalSyncTests : IDisposable
{
    private readonly TempFolder _temp = new();
    private readonly SqliteConnection _connection;
    private readonly List<(PushMode Mode, List<long> Ids)> _pushes = [];

    // The rows the node holds after the pushes so far, as the node applies them.
    private readonly SortedDictionary<long, string> _node = [];

    public IncrementalSyncTests()
    {
        _connection = new SqliteConnection($"Data Source={_temp.File("dept.db")};Pooling=False");
        _connection.Open();
        SqliteRoundTripTests.CreateLicences(_connection, rows: 50);
    }

    public void Dispose()
    {
        _connection.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task RunOnceAsync_Watermark_PushesAllThenOnlyRowsUpdatedSince()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.Watermark, _temp.File("state"), UpdatedAtItem: "updated_at"));

        var first = await RunAsync(sync);
        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET holder = 'changed', updated = '2025-01-01T00:00:00.000Z' WHERE id IN (7, 30)");
        SqliteRoundTripTests.Execute(_connection, "INSERT INTO licences VALUES (51, 'new', '1.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");
        var second = await RunAsync(sync);
        var third = await RunAsync(sync);

        Assert.Equal((SyncOutcome.Pushed, PushMode.Replace, 50L), (first.Outcome, first.Mode!.Value, first.RowsPushed));
        Assert.Equal((SyncOutcome.Pushed, PushMode.Append, 3L, 51L), (second.Outcome, second.Mode!.Value, second.RowsPushed, second.RowsScanned));
        Assert.Equal(SyncOutcome.UpToDate, third.Outcome);
        Assert.Equal(2, _pushes.Count);
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), _pushes[0].Ids);
        Assert.Equal([7L, 30L, 51L], _pushes[1].Ids);
    }

    [Fact]
    public async Task RunOnceAsync_KeyHashOnlyNewRows_AppendsOnlyThem()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]));

        await RunAsync(sync);
        SqliteRoundTripTests.Execute(_connection, "INSERT INTO licences VALUES (60, 'new', '1.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");
        SqliteRoundTripTests.Execute(_connection, "INSERT INTO licences VALUES (61, 'newer', '2.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");
        var second = await RunAsync(sync);
        var third = await RunAsync(sync);

        Assert.Equal((PushMode.Append, 2L, 0L), (second.Mode!.Value, second.RowsPushed, second.DeletionsDetected));
        Assert.Equal([60L, 61L], _pushes[1].Ids);
        Assert.Equal(SyncOutcome.UpToDate, third.Outcome);
    }

    [Fact]
    public async Task RunOnceAsync_KeyHashChangedRow_ReplacesSoNoRowIsHeldTwice()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]));

        await RunAsync(sync);
        // The updated-at column is left alone: the hash sees the change without it.
        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET capital = '99.99' WHERE id = 12");
        SqliteRoundTripTests.Execute(_connection, "INSERT INTO licences VALUES (60, 'new', '1.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");
        var second = await RunAsync(sync);
        var third = await RunAsync(sync);

        // A push appends; an existing key with new values would stand twice, so the whole current dataset replaces it.
        Assert.Equal((PushMode.Replace, 51L), (second.Mode!.Value, second.RowsPushed));
        Assert.Equal(51, _pushes[1].Ids.Distinct().Count());
        Assert.Equal(SyncOutcome.UpToDate, third.Outcome);
    }

    [Fact]
    public async Task RunOnceAsync_KeyHashWithDeletedRow_ReplacesWithAllCurrentRows()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]));
        await RunAsync(sync);
        SqliteRoundTripTests.Execute(_connection, "DELETE FROM licences WHERE id = 5");

        var second = await RunAsync(sync);
        var third = await RunAsync(sync);

        Assert.Equal((PushMode.Replace, 49L, 1L), (second.Mode!.Value, second.RowsPushed, second.DeletionsDetected));
        Assert.DoesNotContain(5L, _pushes[1].Ids);
        Assert.Equal(SyncOutcome.UpToDate, third.Outcome);
    }

    [Fact]
    public async Task RunOnceAsync_PushRefused_StateNotAdvancedAndNextRunRetries()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]));
        await RunAsync(sync);
        SqliteRoundTripTests.Execute(_connection, "INSERT INTO licences VALUES (70, 'late', '1.23', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");

        await Assert.ThrowsAsync<NodeRefusedException>(() => sync.RunOnceAsync(Source, (_, _, _) => throw new NodeRefusedException(System.Net.HttpStatusCode.ServiceUnavailable, "{}"), TimeProvider.System, _temp.Path));
        var retried = await RunAsync(sync);

        Assert.Equal([70L], _pushes[1].Ids);
        Assert.Equal(1, retried.RowsPushed);
    }

    [Fact]
    public async Task RunOnceAsync_MergeRefusedAsTooLarge_ReSendsInFullWithReplace()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]) { Merge = true });
        await RunAsync(sync);
        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET capital = '99.99' WHERE id = 12");

        // The node caps a merge body (Exchange:MaxMergeBytes): 413.
        var second = await sync.RunOnceAsync(Source, (staged, mode, cancellation) => mode == PushMode.Merge
            ? throw new NodeRefusedException(System.Net.HttpStatusCode.RequestEntityTooLarge, "{}")
            : PushAsync(staged, mode, cancellation), TimeProvider.System, _temp.Path);
        var third = await RunAsync(sync);

        Assert.Equal((SyncOutcome.Pushed, PushMode.Replace, 50L), (second.Outcome, second.Mode!.Value, second.RowsPushed));
        Assert.Equal(Enumerable.Range(1, 50).Select(i => (long)i), _pushes[1].Ids);
        Assert.Equal(SyncOutcome.UpToDate, third.Outcome);
    }

    [Fact]
    public async Task RunOnceAsync_DuplicateKey_FailsWithRowAndPushesNothing()
    {
        SqliteRoundTripTests.Execute(_connection, "CREATE TABLE dup (id INTEGER, name TEXT); INSERT INTO dup VALUES (1, 'a'), (2, 'b'), (1, 'c')");
        var sync = new IncrementalSync(new SyncSettings("r", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["id"]));

        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() =>
            sync.RunOnceAsync(() => new SqlSource(_connection, "SELECT id, name FROM dup ORDER BY rowid", new ItemMapping([new("id", "id", ItemDataType.Int64), new("name", "name", ItemDataType.Utf8)])), PushAsync, TimeProvider.System, _temp.Path));

        Assert.Equal(3, Assert.Single(failure.Errors).Row);
        Assert.Empty(_pushes);
    }

    [Fact]
    public async Task RunOnceAsync_MergeOneRowChangedThenDeletedThenInserted_NodeHoldsExactlyTheSourceRows()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]) { Merge = true });
        await RunAsync(sync);

        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET holder = 'renamed' WHERE id = 12");
        var changed = await RunAsync(sync);
        Assert.Equal(await SourceRowsAsync(), _node);
        SqliteRoundTripTests.Execute(_connection, "DELETE FROM licences WHERE id = 30");
        var deleted = await RunAsync(sync);
        Assert.Equal(await SourceRowsAsync(), _node);
        SqliteRoundTripTests.Execute(_connection, "INSERT INTO licences VALUES (60, 'new', '1.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");
        var inserted = await RunAsync(sync);
        var after = await RunAsync(sync);

        Assert.Equal((PushMode.Merge, 1L, 0L), (changed.Mode!.Value, changed.RowsPushed, changed.DeletionsDetected));
        Assert.Equal([12L], _pushes[1].Ids);
        Assert.Equal((PushMode.Merge, 1L, 1L), (deleted.Mode!.Value, deleted.RowsPushed, deleted.DeletionsDetected));
        Assert.Equal([30L], _pushes[2].Ids);
        Assert.Equal((PushMode.Merge, 1L, 0L), (inserted.Mode!.Value, inserted.RowsPushed, inserted.DeletionsDetected));
        Assert.Equal([60L], _pushes[3].Ids);
        Assert.Equal(SyncOutcome.UpToDate, after.Outcome);
        Assert.Equal(await SourceRowsAsync(), _node);
    }

    [Fact]
    public async Task RunOnceAsync_InterruptedWhileReadingOrPushing_StateStaysTheLastSyncsAndTheNextRunSendsTheChanges()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]) { Merge = true });
        await RunAsync(sync);
        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET capital = '99.99' WHERE id = 12; DELETE FROM licences WHERE id = 5; INSERT INTO licences VALUES (60, 'new', '1.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");

        // Ctrl+C while the source is read (after its second batch of 16 rows: the changed row already pending)...
        using var reading = new CancellationTokenSource();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sync.RunOnceAsync(() => new CancelAfter(Source(), batches: 2, reading), PushAsync, TimeProvider.System, _temp.Path, cancellation: reading.Token));
        // ...and while the merge is uploaded.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sync.RunOnceAsync(Source, (_, _, _) => throw new OperationCanceledException(), TimeProvider.System, _temp.Path));
        var retried = await RunAsync(sync);
        var after = await RunAsync(sync);

        Assert.Equal(2, _pushes.Count);
        Assert.Equal((PushMode.Merge, 3L, 1L), (retried.Mode!.Value, retried.RowsPushed, retried.DeletionsDetected));
        Assert.Equal([12L, 60L, 5L], _pushes[1].Ids);
        Assert.Equal(await SourceRowsAsync(), _node);
        Assert.Equal(SyncOutcome.UpToDate, after.Outcome);
    }

    [Fact]
    public async Task RunOnceAsync_StateFileOfThePreviousRelease_ReSendsInFullOnceSayingWhyThenOnlyChanges()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]) { Merge = true });
        await RunAsync(sync);
        // The layout and hashes the previous release wrote: SHA-256 of the value texts in `rows`, no
        // hash version in meta, and the pending rows of a pass it never finished.
        var previous = SyncState.PathFor(_temp.File("previous"), "530100-01-0001");
        Directory.CreateDirectory(Path.GetDirectoryName(previous)!);
        using (var file = new SqliteConnection($"Data Source={previous};Pooling=False"))
        {
            file.Open();
            SqliteRoundTripTests.Execute(file, $"""
                PRAGMA journal_mode = WAL;
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE rows (key TEXT PRIMARY KEY, hash BLOB NOT NULL);
                CREATE TABLE pending (key TEXT PRIMARY KEY, hash BLOB NOT NULL);
                ATTACH '{SyncState.PathFor(_temp.File("state"), "530100-01-0001")}' AS kept;
                INSERT INTO meta SELECT key, value FROM kept.meta WHERE key <> 'hashVersion';
                INSERT INTO rows SELECT key, zeroblob(32) FROM kept.kept;
                INSERT INTO pending VALUES ('12' || char(31), x'00'), ('999' || char(31), x'00');
                """);
        }

        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET holder = 'renamed' WHERE id = 12");
        var fromPrevious = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("previous"), KeyItems: ["licence_id"]) { Merge = true });
        var upgraded = await RunAsync(fromPrevious);
        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET holder = 'renamed again' WHERE id = 13");
        var next = await RunAsync(fromPrevious);
        var after = await RunAsync(fromPrevious);

        // Once in full, with the reason the CLI prints; then one changed row is one row again.
        Assert.Equal((PushMode.Replace, 50L), (upgraded.Mode!.Value, upgraded.RowsPushed));
        Assert.Contains("earlier govshare (row hash version 1, this one uses 2)", upgraded.Diverged);
        Assert.Equal((PushMode.Merge, 1L, (string?)null), (next.Mode!.Value, next.RowsPushed, next.Diverged));
        Assert.Equal([13L], _pushes[^1].Ids);
        Assert.Equal(SyncOutcome.UpToDate, after.Outcome);
        Assert.Equal(await SourceRowsAsync(), _node);
        // The previous release's tables went with the full sync's commit.
        using var check = new SqliteConnection($"Data Source={previous};Pooling=False");
        check.Open();
        Assert.Equal(["kept", "meta", "pass"], SqliteRoundTripTests.Dump(check, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"));
    }

    [Fact]
    public async Task RunOnceAsync_FullSyncTwiceThenChanges_StateStaysExactAcrossTheTableSwap()
    {
        var sync = new IncrementalSync(new SyncSettings("530100-01-0001", SyncStrategy.KeyHash, _temp.File("state"), KeyItems: ["licence_id"]) { Merge = true });
        await RunAsync(sync);
        // A second full sync (the items changed: a column left out) swaps the tables again.
        var fewer = new SqlSource(_connection, "SELECT id, holder, capital, issued, active, updated FROM licences ORDER BY id",
            new ItemMapping([.. SqliteRoundTripTests.Mapping.Columns.Where(c => c.Item != "credit_score")]), new ReadOptions { BatchSize = 16 });
        var full = await sync.RunOnceAsync(() => fewer, PushAsync, TimeProvider.System, _temp.Path);
        SqliteRoundTripTests.Execute(_connection, "UPDATE licences SET capital = '1.23' WHERE id = 40; DELETE FROM licences WHERE id IN (3, 41); INSERT INTO licences VALUES (70, 'new', '1.00', '2025-01-01', 1, 1.0, '2025-01-02T00:00:00.000Z')");
        var changed = await sync.RunOnceAsync(() => fewer, PushAsync, TimeProvider.System, _temp.Path);
        var after = await sync.RunOnceAsync(() => fewer, PushAsync, TimeProvider.System, _temp.Path);

        Assert.Equal((PushMode.Replace, 50L), (full.Mode!.Value, full.RowsPushed));
        Assert.Equal((PushMode.Merge, 4L, 2L), (changed.Mode!.Value, changed.RowsPushed, changed.DeletionsDetected));
        Assert.Equal([40L, 70L, 3L, 41L], _pushes[^1].Ids);
        Assert.Equal(SyncOutcome.UpToDate, after.Outcome);
    }

    private SqlSource Source() => new(_connection, "SELECT * FROM licences ORDER BY id", SqliteRoundTripTests.Mapping, new ReadOptions { BatchSize = 16 });

    private Task<SyncResult> RunAsync(IncrementalSync sync) => sync.RunOnceAsync(Source, PushAsync, TimeProvider.System, _temp.Path);

    /// <summary>Each row of the source as the node would hold it: key → every item's text.</summary>
    private async Task<SortedDictionary<long, string>> SourceRowsAsync()
    {
        var rows = new SortedDictionary<long, string>();
        await foreach (var batch in Source().ReadAsync())
        {
            for (var i = 0; i < batch.Length; i++)
            {
                rows.Add(((Int64Array)batch.Column("licence_id")).GetValue(i)!.Value, RowText(batch, i));
            }
        }

        return rows;
    }

    private static string RowText(RecordBatch batch, int row) => string.Join("|", Enumerable.Range(0, batch.ColumnCount)
        .Where(c => batch.Schema.GetFieldByIndex(c).Name != MergeWire.DeleteColumn)
        .Select(c => ArrowValues.GetText(batch.Column(c), row) ?? "(null)"));

    /// <summary>Pushes as the node applies them: replace, append, or merge (upserts and deletes by key).</summary>
    private async Task<PushReceipt> PushAsync(StagedDataset dataset, PushMode mode, CancellationToken cancellation)
    {
        var ids = new List<long>();
        if (mode == PushMode.Replace)
        {
            _node.Clear();
        }

        await foreach (var batch in dataset.ReadAsync(cancellation))
        {
            var column = (Int64Array)batch.Column("licence_id");
            var delete = batch.Schema.GetFieldIndex(MergeWire.DeleteColumn);
            for (var i = 0; i < batch.Length; i++)
            {
                var id = column.GetValue(i)!.Value;
                ids.Add(id);
                if (delete >= 0 && ((BooleanArray)batch.Column(delete)).GetValue(i) == true)
                {
                    Assert.True(_node.Remove(id), $"a delete of {id}, which the node does not hold");
                }
                else if (mode == PushMode.Append)
                {
                    // Keyed by id, the model cannot hold an appended row twice (the watermark test
                    // shows that case by the pushed ids); it keeps the first.
                    _node.TryAdd(id, RowText(batch, i));
                }
                else
                {
                    _node[id] = RowText(batch, i);
                }
            }
        }

        _pushes.Add((mode, ids));
        return new PushReceipt($"x-{_pushes.Count}", _pushes.Count, ids.Count);
    }

    /// <summary>A source whose reader cancels (like Ctrl+C) after some batches.</summary>
    private sealed class CancelAfter(IRecordSource inner, int batches, CancellationTokenSource cancel) : IRecordSource
    {
        public async IAsyncEnumerable<RecordBatch> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
        {
            var read = 0;
            await foreach (var batch in inner.ReadAsync(cancellation))
            {
                if (read++ == batches)
                {
                    await cancel.CancelAsync();
                    cancellation.ThrowIfCancellationRequested();
                }

                yield return batch;
            }
        }
    }
}
