using System.Runtime.CompilerServices;
using Apache.Arrow;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Pull;

namespace GovShare.Node.Tests.Exchange;

/// <summary>The pull's two stages: order, and how many batches (each a stored body and its masked columns) are alive at once.</summary>
public sealed class ProjectionPipelineTests
{
    private static readonly ProjectedItem[] Items = [new("id_number", "SFZH", MaskingRule.None), new("birth", "CSNY", MaskingRule.GeneraliseDate(DatePrecision.Year))];

    [Fact]
    public async Task ProjectAhead_SlowWriter_AtMostTwoBatchesAlive_InOrder()
    {
        // A pull's memory is a few batches whatever the resource's size: while one batch is
        // written, the next may be read and masked, and no further one. Counted at the source:
        // when it is asked for a batch, how many it handed out are not yet written and disposed.
        using var projection = ItemProjection.Create(ArrowSamples.PeopleSchema, Items, null);
        var produced = 0;
        var written = 0;
        var mostAlive = 0;
        var order = new List<string>();

        async IAsyncEnumerable<RecordBatch> Source([EnumeratorCancellation] CancellationToken cancellationToken = default)
        {
            for (var i = 0; i < 12; i++)
            {
                await Task.Yield();
                var alive = Interlocked.Increment(ref produced) - Volatile.Read(ref written);
                mostAlive = Math.Max(mostAlive, alive);
                yield return ArrowSamples.People(5, seed: i);
            }
        }

        await foreach (var (source, output) in ProjectionPipeline.ProjectAheadAsync(Source(), projection, depth: 1))
        {
            using (source)
            using (output)
            {
                // A slow client: the reading stage has all the time it wants to run ahead.
                await Task.Delay(20);
                order.Add(((StringArray)output.Column(0)).GetString(0));
            }

            Interlocked.Increment(ref written);
        }

        Assert.Equal(Enumerable.Range(0, 12).Select(i => ArrowSamples.IdNumber(i, 0)), order);
        Assert.InRange(mostAlive, 1, 2);
    }
}
