using System.Buffers;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using Apache.Arrow;
using BenchmarkDotNet.Attributes;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Pull;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// The JSON answer of a pull without the network: the benchmark's 100,000 rows (the node's
/// <c>Exchange:MaxTextRows</c>), projected and masked as the load benchmark's Arrow vs JSON case
/// pulls them (ID number keep-ends 6/4, birth date to the year, which makes it text), in two
/// batches, encoded as JSON to a counting null stream. Baseline, the formatter's limit:
/// <see cref="Utf8JsonWriter"/> writing the same values with nothing else (names escaped once,
/// text already UTF-8 bytes) into a reused buffer. <c>NodeJson</c> is the node's
/// <see cref="TextRepresentation"/>; <c>BoxedPerCell</c> the encoder it replaced (every cell
/// boxed, text decoded to .NET strings and encoded again).
/// </summary>
[MemoryDiagnoser]
public class JsonRepresentationBenchmarks : IDisposable
{
    private const int Rows = 100_000;
    private readonly List<RecordBatch> _sources = [];
    private readonly List<RecordBatch> _batches = [];
    private ItemProjection? _projection;
    private Schema _schema = null!;
    private JsonEncodedText[] _names = [];
    private byte[][][] _text = [];
    private double[] _incomes = [];
    private readonly ArrayBufferWriter<byte> _buffer = new(256 * 1024);

    [GlobalSetup]
    public void Setup()
    {
        _projection = ItemProjection.Create(People.Schema,
        [
            new ProjectedItem("公民身份号码", "id_number", MaskingRule.KeepEnds(6, 4)),
            new ProjectedItem("姓名", "name", MaskingRule.None),
            new ProjectedItem("出生日期", "birth_date", MaskingRule.GeneraliseDate(DatePrecision.Year)),
            new ProjectedItem("Annual Income", "income", MaskingRule.None),
            new ProjectedItem("住址", "remarks", MaskingRule.None),
        ]);
        _schema = _projection.OutputSchema;
        for (var start = 0; start < Rows; start += 65_536)
        {
            // Kept: the projected batch shares the unmasked columns with its source.
            _sources.Add(People.Batch(Math.Min(65_536, Rows - start), start));
            _batches.Add(_projection.Project(_sources[^1]));
        }

        // The baseline's values, materialised once: what "writing the same values directly" takes.
        var encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        _names = [.. _schema.FieldsList.Select(f => JsonEncodedText.Encode(f.Name, encoder))];
        _text = [.. _batches.SelectMany(b => Enumerable.Range(0, b.Length).Select(r => new[]
        {
            ((StringArray)b.Column(0)).GetBytes(r).ToArray(),
            ((StringArray)b.Column(1)).GetBytes(r).ToArray(),
            ((StringArray)b.Column(2)).GetBytes(r).ToArray(), // the year a birth date is generalised to, as text
            ((StringArray)b.Column(4)).GetBytes(r).ToArray(),
        }))];
        _incomes = [.. _batches.SelectMany(b => ((DoubleArray)b.Column(3)).Values.ToArray())];
    }

    [Benchmark(Baseline = true)]
    public long Utf8JsonWriterDirect()
    {
        long bytes = 0;
        using var json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping, SkipValidation = true });
        json.WriteStartArray();
        for (var r = 0; r < _text.Length; r++)
        {
            var row = _text[r];
            json.WriteStartObject();
            json.WritePropertyName(_names[0]);
            json.WriteStringValue(row[0]);
            json.WritePropertyName(_names[1]);
            json.WriteStringValue(row[1]);
            json.WritePropertyName(_names[2]);
            json.WriteStringValue(row[2]);
            json.WritePropertyName(_names[3]);
            json.WriteNumberValue(_incomes[r]);
            json.WritePropertyName(_names[4]);
            json.WriteStringValue(row[3]);
            json.WriteEndObject();
            if (json.BytesPending > 64 * 1024)
            {
                json.Flush();
                bytes += _buffer.WrittenCount;
                _buffer.ResetWrittenCount();
            }
        }

        json.WriteEndArray();
        json.Flush();
        bytes += _buffer.WrittenCount;
        _buffer.ResetWrittenCount();
        return bytes;
    }

    [Benchmark]
    public async Task<long> NodeJson()
    {
        var output = new CountingNull();
        await using (var text = await TextRepresentation.StartAsync(output, _schema, csv: false, CancellationToken.None))
        {
            foreach (var batch in _batches)
            {
                await text.WriteAsync(batch, CancellationToken.None);
            }

            await text.EndAsync(CancellationToken.None);
        }

        return output.Length;
    }

    [Benchmark]
    public long BoxedPerCell()
    {
        var output = new CountingNull();
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
        json.WriteStartArray();
        foreach (var batch in _batches)
        {
            for (var row = 0; row < batch.Length; row++)
            {
                json.WriteStartObject();
                for (var c = 0; c < batch.ColumnCount; c++)
                {
                    json.WritePropertyName(_schema.GetFieldByIndex(c).Name);
                    switch (TextRepresentation.Value(batch.Column(c), row))
                    {
                        case null: json.WriteNullValue(); break;
                        case string s: json.WriteStringValue(s); break;
                        case double d: json.WriteNumberValue(d); break;
                        case var other: json.WriteStringValue(Convert.ToString(other, CultureInfo.InvariantCulture)); break;
                    }
                }

                json.WriteEndObject();
                if (json.BytesPending > 64 * 1024)
                {
                    json.Flush();
                }
            }
        }

        json.WriteEndArray();
        json.Flush();
        return output.Length;
    }

    /// <summary>
    /// <c>json-cpu [rounds]</c>: each method warmed up (5 runs), then run in alternating rounds;
    /// prints the process CPU (user + system, all threads, GC included) per 100,000-row answer.
    /// </summary>
    public static int RunByCpu(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var rounds = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 10;
        using var bench = new JsonRepresentationBenchmarks();
        bench.Setup();
        var methods = new (string Name, Func<long> Run)[]
        {
            ("Utf8JsonWriterDirect (baseline)", bench.Utf8JsonWriterDirect),
            ("NodeJson", () => bench.NodeJson().GetAwaiter().GetResult()),
            ("BoxedPerCell (before)", bench.BoxedPerCell),
        };
        var cpu = new double[methods.Length];
        var bytes = new long[methods.Length];
        foreach (var (_, run) in methods)
        {
            for (var i = 0; i < 5; i++)
            {
                run();
            }
        }

        using var process = System.Diagnostics.Process.GetCurrentProcess();
        for (var round = 0; round < rounds; round++)
        {
            for (var m = 0; m < methods.Length; m++)
            {
                process.Refresh();
                var before = process.TotalProcessorTime;
                bytes[m] = methods[m].Run();
                process.Refresh();
                cpu[m] += (process.TotalProcessorTime - before).TotalMilliseconds;
            }
        }

        Console.WriteLine($"JSON of {Rows:N0} rows, process CPU per answer over {rounds} alternating rounds (load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}):");
        for (var m = 0; m < methods.Length; m++)
        {
            Console.WriteLine(FormattableString.Invariant($"  {methods[m].Name,-34} {cpu[m] / rounds,8:0.0} ms  {bytes[m],12:N0} B  {cpu[m] * 1e6 / rounds / bytes[m],6:0.00} ns/B  {cpu[m] / cpu[0],5:0.00} x baseline"));
        }

        return 0;
    }

    public void Dispose()
    {
        foreach (var batch in _batches.Concat(_sources))
        {
            batch.Dispose();
        }

        _projection?.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary><see cref="Stream.Null"/> that counts: the bytes are checked to be the same size across methods.</summary>
    private sealed class CountingNull : Stream
    {
        private long _length;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _length;

        public override long Position { get => _length; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _length += count;

        public override void Write(ReadOnlySpan<byte> buffer) => _length += buffer.Length;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _length += buffer.Length;
            return ValueTask.CompletedTask;
        }
    }
}
