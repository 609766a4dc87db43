using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Apache.Arrow;

namespace GovShare.Node.Exchange.Pull;

/// <summary>
/// A pull's two stages on two threads: one reads and checks the stored batches and masks them
/// (<see cref="ItemProjection.Project"/>), the other encodes and writes the previous batch to
/// the client. Bounded: at most <c>depth</c> projected batches wait, so memory stays a few
/// batches whatever the resource's size, and a slow client slows the reading down.
/// </summary>
internal static class ProjectionPipeline
{
    /// <summary>
    /// Each source batch with its projection, in order. The caller disposes both (output first)
    /// when written; batches still queued when the caller stops are disposed here, after the
    /// reading stage has stopped, so the source can be disposed as soon as this returns.
    /// </summary>
    public static async IAsyncEnumerable<(RecordBatch Source, RecordBatch Output)> ProjectAheadAsync(
        IAsyncEnumerable<RecordBatch> source,
        ItemProjection projection,
        int depth,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var queue = Channel.CreateBounded<(RecordBatch Source, RecordBatch Output)>(new BoundedChannelOptions(Math.Max(1, depth))
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Exception? failure = null;
        var reading = Task.Run(
            async () =>
            {
                try
                {
                    var batches = source.GetAsyncEnumerator(stop.Token);
                    await using var batchesScope = batches.ConfigureAwait(false);

                    // A batch is read only once the queue has room for it: at most one batch waits
                    // in the queue while the next is read, instead of one more read and masked
                    // batch (its body and masked columns, ~10 MB on a wide resource) held while
                    // waiting for room. The stages still overlap: the next batch is read and
                    // masked while the one before is written.
                    while (await queue.Writer.WaitToWriteAsync(stop.Token).ConfigureAwait(false)
                        && await batches.MoveNextAsync().ConfigureAwait(false))
                    {
                        var batch = batches.Current;
                        RecordBatch output;
                        try
                        {
                            output = projection.Project(batch);
                        }
                        catch
                        {
                            batch.Dispose();
                            throw;
                        }

                        try
                        {
                            await queue.Writer.WriteAsync((batch, output), stop.Token).ConfigureAwait(false);
                        }
                        catch
                        {
                            output.Dispose();
                            batch.Dispose();
                            throw;
                        }
                    }
                }
#pragma warning disable CA1031 // Handed to the writing stage, which rethrows it as it was.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    failure = ex;
                }
                finally
                {
                    queue.Writer.TryComplete();
                }
            },
            CancellationToken.None);

        try
        {
            while (await queue.Reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
            {
                while (queue.Reader.TryRead(out var item))
                {
                    yield return item;
                }
            }

            await reading.ConfigureAwait(false);
            if (failure is not null)
            {
                ExceptionDispatchInfo.Capture(failure).Throw();
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            while (queue.Reader.TryRead(out var left))
            {
                left.Output.Dispose();
                left.Source.Dispose();
            }
        }
    }
}
