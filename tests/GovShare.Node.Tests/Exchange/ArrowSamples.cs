using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Node.Tests.Exchange;

/// <summary>Valid Arrow streams of the catalog's item types, and tools to take them apart.</summary>
internal static class ArrowSamples
{
    public static readonly TimestampType Registered = new(TimeUnit.Millisecond, "Asia/Shanghai");
    public static readonly Decimal128Type Money = new(18, 2);

    public static Schema PeopleSchema { get; } = new Schema.Builder()
        .Field(f => f.Name("id_number").DataType(StringType.Default).Nullable(true))
        .Field(f => f.Name("name").DataType(StringType.Default).Nullable(true))
        .Field(f => f.Name("age").DataType(Int32Type.Default).Nullable(true))
        .Field(f => f.Name("household").DataType(Int64Type.Default).Nullable(true))
        .Field(f => f.Name("income").DataType(DoubleType.Default).Nullable(true))
        .Field(f => f.Name("active").DataType(BooleanType.Default).Nullable(true))
        .Field(f => f.Name("birth").DataType(Date32Type.Default).Nullable(true))
        .Field(f => f.Name("registered").DataType(Registered).Nullable(true))
        .Field(f => f.Name("balance").DataType(Money).Nullable(true))
        .Field(f => f.Name("photo").DataType(BinaryType.Default).Nullable(true))
        .Build();

    private static readonly string[] PersonNames = ["张三", "李小明", "王五", "欧阳娜娜", "Zhao Liu"];

    /// <summary>The id number of row <paramref name="i"/> of batch <paramref name="seed"/>.</summary>
    public static string IdNumber(int seed, int i) => FormattableString.Invariant($"530102{1950 + ((seed + i) % 60)}0101{(seed * 100) + i:D4}");

    /// <summary>A batch of <paramref name="rows"/> people; every 7th row has nulls.</summary>
    public static RecordBatch People(int rows, int seed = 0)
    {
        var id = new StringArray.Builder();
        var name = new StringArray.Builder();
        var age = new Int32Array.Builder();
        var household = new Int64Array.Builder();
        var income = new DoubleArray.Builder();
        var active = new BooleanArray.Builder();
        var birth = new Date32Array.Builder();
        var registered = new TimestampArray.Builder(Registered);
        var balance = new Decimal128Array.Builder(Money);
        var photo = new BinaryArray.Builder();
        for (var i = 0; i < rows; i++)
        {
            if (i % 7 == 3)
            {
                id.AppendNull();
                name.AppendNull();
                age.AppendNull();
                household.AppendNull();
                income.AppendNull();
                active.AppendNull();
                birth.AppendNull();
                registered.AppendNull();
                balance.AppendNull();
                photo.AppendNull();
                continue;
            }

            id.Append(IdNumber(seed, i));
            name.Append(PersonNames[(seed + i) % PersonNames.Length]);
            age.Append((seed + (i * 13)) % 100);
            household.Append(5301020000000L + seed + i);
            income.Append(1000.5 * i);
            active.Append(i % 2 == 0);
            birth.Append(new DateTime(1950 + (i % 60), 1 + (i % 12), 1 + (i % 28), 0, 0, 0, DateTimeKind.Utc));
            registered.Append(new DateTimeOffset(2020, 1, 1, 0, 0, 0, TimeSpan.Zero).AddHours(i * 37));
            balance.Append((decimal)(i * 12.34));
            photo.Append(Enumerable.Range(0, i % 5).Select(b => (byte)(b + seed)).ToArray().AsSpan());
        }

        return new RecordBatch(PeopleSchema, [id.Build(), name.Build(), age.Build(), household.Build(), income.Build(), active.Build(), birth.Build(), registered.Build(), balance.Build(), photo.Build()], rows);
    }

    /// <summary>A one-column utf8 stream: handy for patching offsets.</summary>
    public static byte[] NameStream(params string?[] values)
    {
        var builder = new StringArray.Builder();
        foreach (var v in values)
        {
            if (v is null)
            {
                builder.AppendNull();
            }
            else
            {
                builder.Append(v);
            }
        }

        var schema = new Schema.Builder().Field(f => f.Name("name").DataType(StringType.Default).Nullable(true)).Build();
        return Write(schema, new RecordBatch(schema, [builder.Build()], values.Length));
    }

    public static byte[] Write(Schema schema, params RecordBatch[] batches)
    {
        using var memory = new MemoryStream();
        using (var writer = new ArrowStreamWriter(memory, schema, leaveOpen: true))
        {
            writer.WriteStart();
            foreach (var batch in batches)
            {
                writer.WriteRecordBatch(batch);
            }

            writer.WriteEnd();
        }

        return memory.ToArray();
    }

    public static byte[] PeopleStream(int batches = 3, int rows = 20) =>
        Write(PeopleSchema, [.. Enumerable.Range(0, batches).Select(b => People(rows, b))]);

    /// <summary>One message's position in a stream.</summary>
    public sealed record Frame(int Start, int MetadataStart, int MetadataLength, int BodyStart, int BodyLength, ArrowMessageMetadata Metadata)
    {
        public int End => BodyStart + BodyLength;
    }

    /// <summary>The messages of a valid stream (the end-of-stream marker excluded).</summary>
    public static List<Frame> Frames(byte[] stream)
    {
        var frames = new List<Frame>();
        var at = 0;
        while (at + 8 <= stream.Length)
        {
            var length = BinaryPrimitives.ReadInt32LittleEndian(stream.AsSpan(at + 4));
            if (length == 0)
            {
                break;
            }

            var meta = ArrowMessageMetadata.Parse(stream.AsSpan(at + 8, length), ArrowInputLimits.Default);
            frames.Add(new Frame(at, at + 8, length, at + 8 + length, (int)meta.BodyLength, meta));
            at += 8 + length + (int)meta.BodyLength;
        }

        return frames;
    }

    /// <summary>Reads a whole input with the safe reader and touches every value with Apache.Arrow's own accessors.</summary>
    public static async Task<(Schema Schema, long Rows, int Batches)> ReadAllAsync(byte[] input, ArrowInputLimits? limits = null, long? declaredLength = -1)
    {
        using var source = new MemoryStream(input, writable: false);
        await using var reader = await SafeArrowReader.OpenAsync(source, limits, declaredLength == -1 ? input.Length : declaredLength);
        long rows = 0;
        var batches = 0;
        while (await reader.ReadNextBatchAsync() is { } batch)
        {
            using (batch)
            {
                Touch(batch);
                rows += batch.Length;
                batches++;
            }
        }

        return (reader.Schema, rows, batches);
    }

    /// <summary>Reads every value through Apache.Arrow's accessors, which trust the buffers.</summary>
    public static long Touch(RecordBatch batch)
    {
        long checksum = 0;
        for (var c = 0; c < batch.ColumnCount; c++)
        {
            var column = batch.Column(c);
            for (var i = 0; i < column.Length; i++)
            {
                checksum += column switch
                {
                    StringArray s => s.GetString(i)?.Length ?? 0,
                    BinaryArray b => b.GetBytes(i).Length,
                    Int32Array a => a.GetValue(i) ?? 0,
                    Int64Array a => a.GetValue(i) ?? 0,
                    DoubleArray a => (long)(a.GetValue(i) ?? 0),
                    BooleanArray a => a.GetValue(i) == true ? 1 : 0,
                    Date32Array a => a.GetValue(i) ?? 0,
                    TimestampArray a => a.GetValue(i) ?? 0,
                    Decimal128Array a => a.GetBytes(i).Length,
                    _ => throw new InvalidOperationException($"Unexpected array {column.GetType().Name}."),
                };
            }
        }

        return checksum;
    }
}
