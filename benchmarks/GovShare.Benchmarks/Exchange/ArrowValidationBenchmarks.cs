using Apache.Arrow.Ipc;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// Reading a pushed Arrow IPC stream from memory: the baseline is Apache.Arrow's
/// <see cref="ArrowStreamReader"/>; <see cref="SafeArrowReader"/> adds the framing guard and
/// validates every array's buffers before any value is read. <see cref="SafeArrowReaderValidatedIn4KiBReads"/>
/// reads the same stream through a source that answers at most 4 KiB a read, as a push body read
/// through <c>Request.Body</c> did (Kestrel's TLS layer hands it on in 4 KiB pool blocks): the
/// difference is the per-read cost of the stacked streams that the push's gathered read
/// (<c>UploadCap.TakeGathered</c>, 128 KiB) no longer pays.
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

    [Benchmark]
    public async Task<long> SafeArrowReaderValidatedIn4KiBReads()
    {
        await using var reader = await SafeArrowReader.OpenAsync(new PieceStream(new MemoryStream(_stream, writable: false), 4096), declaredLength: _stream.Length);
        long rows = 0;
        while (await reader.ReadNextBatchAsync() is { } batch)
        {
            rows += batch.Length;
            batch.Dispose();
        }

        return rows;
    }

    /// <summary>A read-only stream that answers at most <c>piece</c> bytes a read.</summary>
    private sealed class PieceStream(Stream inner, int piece) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, piece));

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            inner.ReadAsync(buffer[..Math.Min(buffer.Length, piece)], cancellationToken);

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
