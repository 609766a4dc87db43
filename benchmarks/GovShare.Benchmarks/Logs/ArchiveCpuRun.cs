using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;

namespace GovShare.Benchmarks.Logs;

/// <summary>
/// <c>archive-cpu [records] [level ...]</c>: the CPU and the archive size of gzip-archiving a closed
/// exchange-log segment at each zlib level (<c>Logs:ArchiveCompressionLevel</c>; 3 and 6 by default,
/// 6 being <see cref="CompressionLevel.Optimal"/>, what the node used before). The segment is written
/// by a real <see cref="LogWriter"/> (one-row pull records with fresh exchange ids: lines, hash chain
/// and checkpoints as the node writes them, 100,000 by default); each level then compresses it as the
/// node's archiver does (a <see cref="GZipStream"/> with <see cref="ZLibCompressionOptions"/>), five
/// rounds alternating the levels, reporting the least process CPU a record and the archive's size as
/// a share of the segment. Process CPU, not wall time: the shared machine's load sways the latter.
/// </summary>
public static class ArchiveCpuRun
{
    public static int Run(string[] args)
    {
        var records = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 100_000;
        int[] levels = args.Length > 2 ? [.. args.Skip(2).Select(a => int.Parse(a, CultureInfo.InvariantCulture))] : [3, 6];
        if (records < 1 || levels.Any(l => l is < 1 or > 9))
        {
            Console.Error.WriteLine("Usage: archive-cpu [records] [level 1-9 ...]");
            return 2;
        }

        var folder = Path.Combine(Path.GetTempPath(), "govshare-archive-cpu-" + Guid.NewGuid().ToString("N"));
        try
        {
            byte[] segment;
            using (var data = NodeDataFolder.Open(folder))
            using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
            {
                // One segment holds them all: the archiver's input is exactly what the writer wrote.
                var writer = new LogWriter(data, "530100", key, new LogOptions { SegmentBytes = long.MaxValue / 2 }, TimeProvider.System);
                var record = LogAppendBenchmarks.OnePullRecord();
                for (var written = 0; written < records; written += 64)
                {
                    Task.WaitAll([.. Enumerable.Range(0, Math.Min(64, records - written)).Select(_ =>
                        writer.AppendAsync(LogKind.Exchange, record with { ExchangeId = ExchangeId.New(TimeProvider.System).Value, Time = DateTimeOffset.UtcNow }))]);
                }

                writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
                var file = Directory.GetFiles(Path.Combine(data.Path, "logs", "exchange"), "segment-*.jsonl").Single();
                segment = File.ReadAllBytes(file);
            }

            var lines = segment.AsSpan().Count((byte)'\n');
            Console.WriteLine($"archive-cpu: a segment of {lines:N0} lines, {segment.Length:N0} bytes ({segment.Length / (double)lines:F0} B a line); least process CPU of 5 rounds");
            var best = levels.ToDictionary(l => l, _ => TimeSpan.MaxValue);
            var sizes = new Dictionary<int, long>();
            var output = new MemoryStream(segment.Length);
            for (var round = 0; round < 5; round++)
            {
                foreach (var level in levels)
                {
                    output.SetLength(0);
                    var cpu = LogWriterCpuRun.ProcessCpu();
                    using (var gzip = new GZipStream(output, new ZLibCompressionOptions { CompressionLevel = level }, leaveOpen: true))
                    {
                        gzip.Write(segment);
                    }

                    var spent = LogWriterCpuRun.ProcessCpu() - cpu;
                    best[level] = spent < best[level] ? spent : best[level];
                    sizes[level] = output.Length;
                }
            }

            Console.WriteLine("| zlib level | archive, % of the segment | us a record | ns a byte |");
            Console.WriteLine("|---|---|---|---|");
            foreach (var level in levels)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {level} | {100.0 * sizes[level] / segment.Length:F2} | {best[level].TotalMicroseconds / lines:F2} | {best[level].TotalNanoseconds / segment.Length:F2} |"));
            }

            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (IOException)
            {
                // A temp folder left behind is harmless.
            }
        }
    }
}
