using System.Diagnostics.Metrics;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>The exchange instruments on the hot path: each step recorded with its tags, and no allocation per step.</summary>
public sealed class ExchangeMetricsTests
{
    [Fact]
    public void Record_WithAListener_CountsWithCachedTagsAndAllocatesNothing()
    {
        // The meter is static and other tests record too: a status only this test records (299),
        // and the observable counters' sums compared before and after.
        long Steps() => ExchangeMetrics.StepsSoFar().Where(s => s is { Kind: "compare", Status: "299" }).Sum(s => s.Count);
        long durations = 0;
        var thread = Environment.CurrentManagedThreadId;
        var observed = new Dictionary<string, (long Value, string? Status)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == ExchangeMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (tags[0].Value is "compare" && (tags.Length == 1 || tags[1].Value is "299"))
            {
                observed[instrument.Name] = (value, tags.Length > 1 ? (string?)tags[1].Value : null);
            }
        });
        listener.SetMeasurementEventCallback<double>((_, _, tags, _) =>
        {
            if (Environment.CurrentManagedThreadId == thread && tags[0].Value is "compare" && tags[1].Value is "ok")
            {
                durations++;
            }
        });
        listener.Start();

        ExchangeMetrics.Record(ExchangeKind.Compare, 299, 5, 100, TimeSpan.FromMilliseconds(3));
        var steps = Steps();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            ExchangeMetrics.Record(ExchangeKind.Compare, 299, 5, 100, TimeSpan.FromMilliseconds(3));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Other tests may count successful comparisons meanwhile: the bytes observed lie between the sums read around the collection.
        long CompareBytes() => ExchangeMetrics.BytesSoFar().Single(b => b.Kind == "compare").Bytes;
        var bytesBefore = CompareBytes();
        listener.RecordObservableInstruments();
        var bytesAfter = CompareBytes();

        Assert.Equal(0, allocated);
        Assert.Equal(1000, Steps() - steps);
        Assert.Equal(1001, durations);
        // What a collecting listener (the /metrics exporter, OTLP) reads: the sums, tagged as the counters were.
        Assert.Equal((Steps(), "299"), observed["govshare.exchanges"]);
        Assert.True(observed["govshare.exchange.rows"].Value >= 5005);
        Assert.True(observed["govshare.exchange.bytes"].Value >= 100_100);
        Assert.InRange(observed["govshare.exchange.bytes"].Value, bytesBefore, bytesAfter);
    }

    [Fact]
    public void Record_StatusOrKindOutOfRange_CountedAsOther()
    {
        long Other() => ExchangeMetrics.StepsSoFar().Where(s => s is { Kind: "other", Status: "other" }).Sum(s => s.Count);
        var before = Other();

        ExchangeMetrics.Record((ExchangeKind)99, 600, 0, 0, TimeSpan.Zero);
        ExchangeMetrics.Record((ExchangeKind)(-1), -1, 0, 0, TimeSpan.Zero);

        Assert.Equal(2, Other() - before);
    }
}
