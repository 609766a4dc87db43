using System.Diagnostics.Metrics;
using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>The exchange instruments on the hot path: each step recorded with its tags, and no allocation per step.</summary>
public sealed class ExchangeMetricsTests
{
    [Fact]
    public void Record_WithAListener_CountsWithCachedTagsAndAllocatesNothing()
    {
        long exchanges = 0, rows = 0;
        string? status = null;
        // The meter is static: tests running in parallel record too, so count this thread's measurements only.
        var thread = Environment.CurrentManagedThreadId;
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
            if (Environment.CurrentManagedThreadId != thread)
            {
                return;
            }

            if (instrument.Name == "govshare.exchanges" && tags[0].Value is "pull")
            {
                exchanges += value;
                status = (string?)tags[1].Value;
            }
            else if (instrument.Name == "govshare.exchange.rows" && tags[0].Value is "pull")
            {
                rows += value;
            }
        });
        listener.SetMeasurementEventCallback<double>((_, _, _, _) => { });
        listener.Start();

        ExchangeMetrics.Record(ExchangeKind.Pull, 200, 5, 100, TimeSpan.FromMilliseconds(3));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            ExchangeMetrics.Record(ExchangeKind.Pull, 200, 5, 100, TimeSpan.FromMilliseconds(3));
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(1001, exchanges);
        Assert.Equal(5005, rows);
        Assert.Equal("200", status);
        Assert.Equal(0, allocated);
    }
}
