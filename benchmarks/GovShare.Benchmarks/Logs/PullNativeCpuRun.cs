using System.Diagnostics;
using System.Globalization;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>native-cpu [calls]</c>: the native calls a one-row pull makes of its own (not TLS's), each by thread
/// CPU time and bytes allocated per call: a new exchange id (its random bits: OpenSSL's RAND_bytes), the
/// log record's chain hash (SHA-256 of a one-row pull record's length), and the two clocks (each a vDSO
/// call). Alternate processes of two builds to compare (A B A B).
/// </summary>
public static class PullNativeCpuRun
{
    public static int Run(string[] args)
    {
        var calls = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000_000;
        var time = TimeProvider.System;
        // A one-row pull record is ~575 bytes of JSON (the durable baseline writes a line of that length).
        var record = new byte[575];
        Array.Fill(record, (byte)'x');
        var previous = new string('0', 64);
        long sink = 0;
        for (var round = 0; round <= 3; round++)
        {
            // Round 0 warms the JIT up (tiered compilation): not reported.
            var report = round > 0;
            Measure(report, "ExchangeId.New", calls, () => ExchangeId.New(time).Value.Length);
            Measure(report, "LogEntry.ComputeHash (575 B)", calls / 4, () => LogEntry.ComputeHash(LogKind.Exchange, "530100", 12345678, LogEntryType.Record, previous, record).Length);
            Measure(report, "TimeProvider.GetUtcNow", calls, () => time.GetUtcNow().Millisecond);
            Measure(report, "Stopwatch.GetTimestamp", calls, () => (int)Stopwatch.GetTimestamp());
        }

        return 0;

        void Measure(bool report, string what, int n, Func<int> once)
        {
            var (ns, bytes, sum) = ThreadCost.Measure(n, _ => once());
            sink += sum;
            if (report)
            {
                Console.WriteLine(FormattableString.Invariant($"native-cpu {what}, load {ThreadCost.Load()}: {ns:F0} ns thread CPU, {bytes:F0} B allocated a call ({sink % 7})"));
            }
        }
    }
}
