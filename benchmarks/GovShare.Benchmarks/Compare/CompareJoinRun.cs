using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Apache.Arrow;
using GovShare.Node.Compare;

namespace GovShare.Benchmarks.Compare;

/// <summary>
/// The comparison join at scale, outside BenchmarkDotNet (one 10-million-row run takes minutes):
/// <c>dotnet run -c Release --project benchmarks/GovShare.Benchmarks -- compare-join [rows] [memoryMiB]</c>.
/// Runs, each in a child process of its own so that its peak working set (VmHWM) is its own:
/// the node's <see cref="CompareJoin"/> (grace hash join, spilling past the budget) and the
/// baseline, a plain in-memory hash join of the same generated rows (<see cref="Dictionary{TKey,TValue}"/>
/// of the submission's key text to its values, probed by the resource's rows). Both generate the
/// same rows on the fly in 65,536-row Arrow batches (that cost is in both), and both must give the same counts.
/// </summary>
public static class CompareJoinRun
{
    private const int BatchRows = 65_536;

    public static int Run(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args[0] == "compare-join-child")
        {
            return Child(args[1], long.Parse(args[2], CultureInfo.InvariantCulture), long.Parse(args[3], CultureInfo.InvariantCulture));
        }

        var rows = args.Length > 1 ? long.Parse(args[1], CultureInfo.InvariantCulture) : 10_000_000;
        var memory = args.Length > 2 ? long.Parse(args[2], CultureInfo.InvariantCulture) : 256;
        var results = new List<JsonElement>();
        foreach (var mode in new[] { "grace", "baseline" })
        {
            Console.Error.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss} {mode}: {rows:N0} × {rows:N0} rows, load average {File.ReadAllText("/proc/loadavg").Trim()}");
            var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, UseShellExecute = false };
            if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
            {
                start.ArgumentList.Add(typeof(CompareJoinRun).Assembly.Location);
            }

            foreach (var a in new[] { "compare-join-child", mode, rows.ToString(CultureInfo.InvariantCulture), memory.ToString(CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(a);
            }

            using var child = Process.Start(start)!;
            var output = child.StandardOutput.ReadToEnd();
            child.WaitForExit();
            if (child.ExitCode != 0)
            {
                Console.Error.WriteLine($"{mode} failed ({child.ExitCode}): {output}");
                return 1;
            }

            results.Add(JsonDocument.Parse(output).RootElement.Clone());
            Console.Error.WriteLine($"{DateTimeOffset.UtcNow:HH:mm:ss} {mode}: {output.Trim()}");
        }

        var (grace, baseline) = (results[0], results[1]);
        if (grace.GetProperty("counts").GetRawText() != baseline.GetProperty("counts").GetRawText())
        {
            Console.Error.WriteLine("The two joins disagree: " + grace.GetProperty("counts").GetRawText() + " vs " + baseline.GetProperty("counts").GetRawText());
            return 1;
        }

        double Seconds(JsonElement e) => e.GetProperty("seconds").GetDouble();
        double Mib(JsonElement e) => e.GetProperty("peakBytes").GetInt64() / 1048576.0;
        Console.WriteLine($"| {rows:N0} × {rows:N0} | {Seconds(grace):F1} s, peak {Mib(grace):F0} MiB (budget {memory} MiB, {grace.GetProperty("partitions").GetInt32()} partitions) | {Seconds(baseline):F1} s, peak {Mib(baseline):F0} MiB | {Seconds(grace) / Seconds(baseline):F2} × time, {Mib(grace) / Mib(baseline):F2} × memory | {File.ReadAllText("/proc/loadavg").Trim()} |");
        Console.WriteLine("counts: " + grace.GetProperty("counts").GetRawText());
        return 0;
    }

    /// <summary>
    /// Submission: keys 0..rows-1; resource: keys rows/10 .. rows + rows/10 - 1 (90 % overlap).
    /// The name differs where i % 100 == 0; the birth date is missing from the submission where i % 1000 == 0.
    /// </summary>
    private static IEnumerable<(StringArray Keys, StringArray Names, Date32Array Births, int Length)> Rows(bool submission, long rows)
    {
        var first = submission ? 0 : rows / 10;
        for (var start = first; start < first + rows; start += BatchRows)
        {
            var count = (int)Math.Min(BatchRows, first + rows - start);
            var keys = new StringArray.Builder();
            var names = new StringArray.Builder();
            var births = new Date32Array.Builder();
            for (var i = start; i < start + count; i++)
            {
                keys.Append(string.Create(CultureInfo.InvariantCulture, $"5301{i:D14}"));
                names.Append(submission && i % 100 == 0 ? "王五" : (i % 3) switch { 0 => "张三", 1 => "李四光", _ => "赵钱孙李" });
                if (submission && i % 1000 == 0)
                {
                    births.AppendNull();
                }
                else
                {
                    births.Append(new DateOnly(1950 + (int)(i % 50), 1 + (int)(i % 12), 1 + (int)(i % 28)));
                }
            }

            yield return (keys.Build(), names.Build(), births.Build(), count);
        }
    }

    private static int Child(string mode, long rows, long memoryMib)
    {
        var clock = Stopwatch.StartNew();
        object counts;
        var partitions = 0;
        if (mode == "grace")
        {
            var spill = Path.Combine(Path.GetTempPath(), "govshare-compare-bench-" + Environment.ProcessId);
            using var join = new CompareJoin(2, 0b11, listNotInResource: true, memoryMib * 1024 * 1024, spill, 10_000);
            foreach (var (k, n, b, length) in Rows(true, rows))
            {
                join.AddSubmission([k], [n, b], length);
            }

            foreach (var (k, n, b, length) in Rows(false, rows))
            {
                join.AddResource([k], [n, b], length);
            }

            var r = join.Finish();
            partitions = r.SpilledPartitions;
            counts = new { r.RowsInBoth, r.OnlyInSubmission, r.OnlyInResource, NameDiffering = r.Items[0].Differing, BirthMissing = r.Items[1].MissingInSubmission };
        }
        else
        {
            var table = new Dictionary<string, (string? Name, int? Birth, bool Matched)>(StringComparer.Ordinal);
            foreach (var (k, n, b, length) in Rows(true, rows))
            {
                for (var i = 0; i < length; i++)
                {
                    table.Add(k.GetString(i), (n.GetString(i), b.GetValue(i), false));
                }
            }

            long inBoth = 0, onlyInResource = 0, nameDiffering = 0, birthMissing = 0;
            foreach (var (k, n, b, length) in Rows(false, rows))
            {
                for (var i = 0; i < length; i++)
                {
                    ref var entry = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrNullRef(table, k.GetString(i));
                    if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref entry))
                    {
                        onlyInResource++;
                        continue;
                    }

                    entry.Matched = true;
                    inBoth++;
                    nameDiffering += entry.Name != n.GetString(i) ? 1 : 0;
                    birthMissing += entry.Birth is null && b.GetValue(i) is not null ? 1 : 0;
                }
            }

            counts = new { RowsInBoth = inBoth, OnlyInSubmission = table.Count - inBoth, OnlyInResource = onlyInResource, NameDiffering = nameDiffering, BirthMissing = birthMissing };
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var peak = File.ReadLines("/proc/self/status").Where(l => l.StartsWith("VmHWM:", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024).First();
        Console.WriteLine(JsonSerializer.Serialize(new { mode, seconds, peakBytes = peak, partitions, counts }));
        return 0;
    }
}
