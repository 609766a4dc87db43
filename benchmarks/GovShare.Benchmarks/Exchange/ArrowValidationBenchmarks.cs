using Apache.Arrow.Ipc;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// Reading a pushed Arrow IPC stream from memory: the baseline is Apache.Arrow's
/// <see cref="ArrowStreamReader"/>; <see cref="SafeArrowReader"/> adds the framing guard and
/// validates every array's buffers before any value is read.
/// </summary>
[MemoryDiagnoser]
public class ArrowValidationBenchmarks
{
    private byte[] _stream = [];

    [Params(10_000, 1_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        using var memory = new MemoryStream();
        using (var writer = new ArrowStreamWriter(memory, People.Schema, leaveOpen: true))
        {
            for (var start = 0; start < Rows; start += 65_536)
            {
                using var batch = People.Batch(Math.Min(65_536, Rows - start), start);
                writer.WriteRecordBatch(batch);
            }

            writer.WriteEnd();
        }

        _stream = memory.ToArray();
    }

    [Benchmark(Baseline = true)]
    public async Task<long> ArrowStreamReaderOnly()
    {
        using var reader = new ArrowStreamReader(new MemoryStream(_stream, writable: false));
        long rows = 0;
        while (await reader.ReadNextRecordBatchAsync() is { } batch)
        {
            rows += batch.Length;
            batch.Dispose();
        }

        return rows;
    }

    [Benchmark]
    public async Task<long> SafeArrowReaderValidated()
    {
        await using var reader = await SafeArrowReader.OpenAsync(new MemoryStream(_stream, writable: false), declaredLength: _stream.Length);
        long rows = 0;
        while (await reader.ReadNextBatchAsync() is { } batch)
        {
            rows += batch.Length;
            batch.Dispose();
        }

        return rows;
    }
}
