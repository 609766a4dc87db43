using System.Net;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters.Tests;

/// <summary>
/// The check of a push against a catalog entry that is still being fetched while the source
/// reads: no batch passes unchecked, and the node's failure is the one reported.
/// </summary>
public sealed class CatalogCheckTests
{
    private static readonly CatalogCheck Entry = new("101001/000077", [new CatalogItem("name", "企业名称", "utf8", 4, Nullable: false)]);

    [Fact]
    public async Task CheckAsync_EntryStillFetching_TheSourceReadsMeanwhile_AndNoBatchComesOutBeforeTheEntry()
    {
        var entry = new TaskCompletionSource<CatalogCheck>(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var checkedBatches = CatalogCheck.CheckAsync(entry.Task, Source(started, "甲", "乙")).GetAsyncEnumerator();

        var first = checkedBatches.MoveNextAsync().AsTask();
        await started.Task.WaitAsync(TimeSpan.FromSeconds(60)); // the source was opened before the entry arrived
        Assert.False(first.IsCompleted);

        entry.SetResult(Entry);
        Assert.True(await first);
        Assert.Equal("甲", ((StringArray)checkedBatches.Current.Column(0)).GetString(0));
        Assert.True(await checkedBatches.MoveNextAsync());
        Assert.False(await checkedBatches.MoveNextAsync());
        await checkedBatches.DisposeAsync();
    }

    [Fact]
    public async Task CheckAsync_ValueBreaksTheEntry_ReportsRowAndItem_AfterTheEntryArrives()
    {
        var failure = await Assert.ThrowsAsync<ConversionFailedException>(() => Drain(CatalogCheck.CheckAsync(Task.FromResult(Entry), Source(null, "甲", "太长的企业名称"))));

        var error = Assert.Single(failure.Errors);
        Assert.Equal(2, error.Row);
        Assert.Contains("name (企业名称)", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task CheckAsync_BothTheEntryAndTheSourceFail_TheNodesFailureIsReported()
    {
        var refused = new NodeRefusedException(HttpStatusCode.NotFound, """{"title":"No such resource"}""");

        var failure = await Assert.ThrowsAsync<NodeRefusedException>(() => Drain(CatalogCheck.CheckAsync(Task.FromException<CatalogCheck>(refused), Failing())));

        Assert.Same(refused, failure);
    }

    [Fact]
    public async Task CheckAsync_EntryFails_TheSourceIsStopped_NotReadToItsEnd()
    {
        var refused = new NodeRefusedException(HttpStatusCode.Forbidden, """{"title":"Not the provider"}""");
        var entry = new TaskCompletionSource<CatalogCheck>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var stopped = false;

        // A source that never yields (as a file whose every row fails) until it is cancelled.
        async IAsyncEnumerable<RecordBatch> Endless([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
        {
            reading.SetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellation);
            }
            finally
            {
                stopped = cancellation.IsCancellationRequested;
            }

            yield break;
        }

        var drained = Drain(CatalogCheck.CheckAsync(entry.Task, Endless()));
        await reading.Task.WaitAsync(TimeSpan.FromSeconds(60));
        entry.SetException(refused);

        Assert.Same(refused, await Assert.ThrowsAsync<NodeRefusedException>(() => drained.WaitAsync(TimeSpan.FromSeconds(60))));
        Assert.True(stopped);
    }

    [Fact]
    public async Task CheckAsync_EntryFine_SourceFails_TheSourcesFailureIsReported()
    {
        var failure = await Assert.ThrowsAsync<InvalidDataException>(() => Drain(CatalogCheck.CheckAsync(Task.FromResult(Entry), Failing())));

        Assert.Equal("the table is gone", failure.Message);
    }

    private static async IAsyncEnumerable<RecordBatch> Source(TaskCompletionSource? started, params string[] names)
    {
        started?.SetResult();
        var schema = new Schema.Builder().Field(ItemDataType.Utf8.ToField("name")).Build();
        foreach (var name in names)
        {
            await Task.Yield();
            yield return new RecordBatch(schema, [new StringArray.Builder().Append(name).Build()], 1);
        }
    }

    private static async IAsyncEnumerable<RecordBatch> Failing()
    {
        await Task.Yield();
        throw new InvalidDataException("the table is gone");
#pragma warning disable CS0162 // an iterator needs a yield
        yield break;
#pragma warning restore CS0162
    }

    private static async Task Drain(IAsyncEnumerable<RecordBatch> batches)
    {
        await foreach (var _ in batches)
        {
        }
    }
}
