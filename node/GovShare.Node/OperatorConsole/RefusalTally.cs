using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GovShare.Node.Kernel;

namespace GovShare.Node.OperatorConsole;

/// <summary>
/// The refusals by problem type since this process started, as the overview's chart shows them:
/// it listens to the same counter <c>/metrics</c> exports (<c>govshare.refusals</c>, counted where
/// every problem+json is written), so the console and the monitoring never disagree. A restart
/// starts from zero, as the counter does; the exchange log keeps the history.
/// </summary>
public sealed class RefusalTally : IDisposable
{
    private const string Instrument = "govshare.refusals";
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _byType = new(StringComparer.Ordinal);

    public RefusalTally()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == NodeMetrics.MeterName && instrument.Name == Instrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "govshare.problem.type", Value: string type })
                {
                    _byType.AddOrUpdate(type, value, (_, sum) => sum + value);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>The counts, largest first; the type's last path segment names it (<c>urn:govshare:problem:no-grant</c> → <c>no-grant</c>).</summary>
    public IReadOnlyList<(string Reason, long Count)> ByReason() =>
        [.. _byType.Select(p => (Reason: p.Key[(p.Key.LastIndexOf(':') + 1)..], Count: p.Value)).OrderByDescending(p => p.Count).ThenBy(p => p.Reason, StringComparer.Ordinal)];

    public void Dispose() => _listener.Dispose();
}
