using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Node.Tests.Exchange;

/// <summary>The regression set of malformed streams: each one is refused with its own error, never a crash.</summary>
public sealed class SafeArrowReaderTests
{
    private static async Task<ArrowInputException> RefusedAsync(byte[] input, ArrowInputLimits? limits = null, long? declaredLength = -1) =>
        await Assert.ThrowsAsync<ArrowInputException>(() => ArrowSamples.ReadAllAsync(input, limits, declaredLength));

    private static void PatchInt32(byte[] stream, int at, int value) => BinaryPrimitives.WriteInt32LittleEndian(stream.AsSpan(at), value);

    private static void PatchInt64(byte[] stream, int at, long value) => BinaryPrimitives.WriteInt64LittleEndian(stream.AsSpan(at), value);

    /// <summary>Position in the stream of element <paramref name="element"/> (int32) of buffer <paramref name="buffer"/> of a batch.</summary>
    private static int BodyInt32(ArrowSamples.Frame frame, int buffer, int element) =>
        frame.BodyStart + (int)frame.Metadata.Buffers[buffer].Offset + (element * 4);

    private static int BufferEntry(ArrowSamples.Frame frame, int buffer) =>
        frame.MetadataStart + frame.Metadata.Buffers[buffer].MetadataPosition;

    [Fact]
    public async Task ReadAll_ValidStreamOfEveryItemType_ReadsEveryBatch()
    {
        var (schema, rows, batches) = await ArrowSamples.ReadAllAsync(ArrowSamples.PeopleStream(batches: 3, rows: 20));

        Assert.Equal(60, rows);
        Assert.Equal(3, batches);
        Assert.Equal(ArrowSamples.PeopleSchema.FieldsList.Select(f => f.Name), schema.FieldsList.Select(f => f.Name));
    }

    [Fact]
    public async Task ReadAll_ValidStream_ValuesEqualWhatWasWritten()
    {
        var input = ArrowSamples.PeopleStream(batches: 2, rows: 10);
        using var source = new MemoryStream(input);
        await using var reader = await SafeArrowReader.OpenAsync(source, declaredLength: input.Length);
        using var first = await reader.ReadNextBatchAsync();
        using var second = await reader.ReadNextBatchAsync();

        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.Equal(ArrowSamples.IdNumber(1, 2), ((StringArray)second.Column(0)).GetString(2));
        Assert.Equal("王五", ((StringArray)first.Column(1)).GetString(2));
        Assert.True(first.Column(0).IsNull(3));
        Assert.Null(await reader.ReadNextBatchAsync());
        Assert.Equal(20, reader.RowsRead);
        Assert.Equal(input.Length, reader.BytesRead);
    }

    [Fact]
    public async Task Open_EmptyInput_EmptyStream()
    {
        var ex = await RefusedAsync([]);
        Assert.Equal(ArrowInputError.EmptyStream, ex.Error);
        Assert.Equal("arrow-empty-stream", ex.Code);
    }

    [Fact]
    public async Task Open_OnlyEndOfStreamMarker_UnexpectedMessage()
    {
        var ex = await RefusedAsync([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0]);
        Assert.Equal(ArrowInputError.UnexpectedMessage, ex.Error);
    }

    [Fact]
    public async Task ReadAll_TruncatedAtAnyByte_RefusedAsTruncated()
    {
        var input = ArrowSamples.NameStream("张三", "李小明", null, "王五");
        for (var cut = 0; cut < input.Length; cut++)
        {
            var truncated = input[..cut];
            var ex = await RefusedAsync(truncated, declaredLength: null);
            Assert.True(
                ex.Error is ArrowInputError.EmptyStream or ArrowInputError.Truncated or ArrowInputError.MissingEndOfStream,
                $"cut at {cut}: {ex.Error} {ex.Message}");
        }
    }

    [Fact]
    public async Task ReadAll_CutAtMessageBoundary_MissingEndOfStream()
    {
        var input = ArrowSamples.NameStream("张三", "李小明");
        var withoutEnd = input[..^8];

        var ex = await RefusedAsync(withoutEnd);

        Assert.Equal(ArrowInputError.MissingEndOfStream, ex.Error);
        var (_, rows, _) = await ArrowSamples.ReadAllAsync(withoutEnd, ArrowInputLimits.Default with { RequireEndOfStreamMarker = false });
        Assert.Equal(2, rows);
    }

    [Fact]
    public async Task ReadAll_BytesAfterEndOfStream_TrailingData()
    {
        var input = ArrowSamples.NameStream("张三");
        var ex = await RefusedAsync([.. input, 0x42]);
        Assert.Equal(ArrowInputError.TrailingData, ex.Error);
    }

    [Fact]
    public async Task Open_LegacyFramingWithoutContinuation_InvalidFraming()
    {
        var input = ArrowSamples.NameStream("张三");
        var ex = await RefusedAsync(input[4..]);
        Assert.Equal(ArrowInputError.InvalidFraming, ex.Error);
    }

    [Theory]
    [InlineData(int.MaxValue)]
    [InlineData(-8)]
    [InlineData((1 << 20) + 8)]
    public async Task Open_MetadataLengthOutOfRange_MetadataTooLarge(int length)
    {
        var input = ArrowSamples.NameStream("张三");
        PatchInt32(input, 4, length);

        var ex = await RefusedAsync(input, declaredLength: null);

        Assert.Equal(ArrowInputError.MetadataTooLarge, ex.Error);
    }

    [Fact]
    public async Task ReadAll_FewHundredBytesDeclaringA17GBBody_RefusedWithoutAllocating()
    {
        var input = ArrowSamples.NameStream("张三", "李小明");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt64(input, batch.MetadataStart + batch.Metadata.BodyLengthPosition, 1_700_000_000);
        Assert.True(input.Length < 4096);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var capped = await RefusedAsync(input, declaredLength: null);
        var beyondRequest = await RefusedAsync(input, ArrowInputLimits.Default with { MaxBodyBytes = 4L << 30 });
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(ArrowInputError.BodyTooLarge, capped.Error);
        Assert.Contains("1700000000", capped.Message, StringComparison.Ordinal);
        Assert.Equal(ArrowInputError.ExceedsDeclaredLength, beyondRequest.Error);
        Assert.True(allocated < (4 << 20), $"allocated {allocated} bytes");
    }

    [Fact]
    public async Task ReadAll_NegativeBodyLength_BodyTooLarge()
    {
        var input = ArrowSamples.NameStream("张三");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt64(input, batch.MetadataStart + batch.Metadata.BodyLengthPosition, -64);

        var ex = await RefusedAsync(input);

        Assert.Equal(ArrowInputError.BodyTooLarge, ex.Error);
    }

    [Fact]
    public async Task ReadAll_StringOffsetPastDataBuffer_InvalidOffsets()
    {
        var input = ArrowSamples.NameStream("张三", "李小明", "王五");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt32(input, BodyInt32(batch, buffer: 1, element: 2), 100_000);

        var ex = await RefusedAsync(input);

        Assert.Equal(ArrowInputError.InvalidOffsets, ex.Error);
        Assert.Contains("'name'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAll_NegativeFirstOffset_InvalidOffsets()
    {
        var input = ArrowSamples.NameStream("张三", "李小明");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt32(input, BodyInt32(batch, buffer: 1, element: 0), -5);

        Assert.Equal(ArrowInputError.InvalidOffsets, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_DecreasingOffsets_InvalidOffsets()
    {
        var input = ArrowSamples.NameStream("张三", "李小明", "王五");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt32(input, BodyInt32(batch, buffer: 1, element: 2), 1);

        Assert.Equal(ArrowInputError.InvalidOffsets, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_LastOffsetInsideBodyButPastDataBuffer_InvalidOffsets()
    {
        var input = ArrowSamples.NameStream("ab", "cd");
        var batch = ArrowSamples.Frames(input)[1];
        var dataLength = (int)batch.Metadata.Buffers[2].Length;
        PatchInt32(input, BodyInt32(batch, buffer: 1, element: 2), dataLength + 1);

        Assert.Equal(ArrowInputError.InvalidOffsets, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_BitmapDisagreesWithNullCount_InvalidNullCount()
    {
        var input = ArrowSamples.NameStream("张三", null, "王五");
        var batch = ArrowSamples.Frames(input)[1];
        input[batch.BodyStart + (int)batch.Metadata.Buffers[0].Offset] = 0xFF;

        Assert.Equal(ArrowInputError.InvalidNullCount, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_ValidityBufferEmptyWithNulls_BufferTooShort()
    {
        var input = ArrowSamples.NameStream("张三", null, "王五");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt64(input, BufferEntry(batch, 0) + 8, 0);

        Assert.Equal(ArrowInputError.BufferTooShort, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_OffsetsBufferShorterThanLength_BufferTooShort()
    {
        var input = ArrowSamples.NameStream("张三", "李小明", "王五");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt64(input, BufferEntry(batch, 1) + 8, 4);

        Assert.Equal(ArrowInputError.BufferTooShort, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_DataBufferShortened_InvalidOffsets()
    {
        var input = ArrowSamples.NameStream("张三", "李小明", "王五");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt64(input, BufferEntry(batch, 2) + 8, 1);

        Assert.Equal(ArrowInputError.InvalidOffsets, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_BufferOutsideBody_InvalidLength()
    {
        var input = ArrowSamples.NameStream("张三", "李小明");
        var batch = ArrowSamples.Frames(input)[1];
        PatchInt64(input, BufferEntry(batch, 2), batch.BodyLength + 8);

        Assert.Equal(ArrowInputError.InvalidLength, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task ReadAll_FixedWidthBufferShorterThanLength_BufferTooShort()
    {
        var input = ArrowSamples.PeopleStream(batches: 1, rows: 20);
        var batch = ArrowSamples.Frames(input)[1];

        // Buffers: id (3), name (3), age (validity 6, values 7).
        PatchInt64(input, BufferEntry(batch, 7) + 8, 8);

        var ex = await RefusedAsync(input);

        Assert.Equal(ArrowInputError.BufferTooShort, ex.Error);
        Assert.Contains("'age'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ReadAll_InvalidUtf8_InvalidUtf8()
    {
        var input = ArrowSamples.NameStream("abc", "def");
        var batch = ArrowSamples.Frames(input)[1];
        input[batch.BodyStart + (int)batch.Metadata.Buffers[2].Offset + 1] = 0xFF;

        Assert.Equal(ArrowInputError.InvalidUtf8, (await RefusedAsync(input)).Error);
    }

    [Fact]
    public async Task Open_Float32Column_UnsupportedType()
    {
        var schema = new Schema.Builder().Field(f => f.Name("ratio").DataType(FloatType.Default)).Build();
        var values = new FloatArray.Builder().Append(1.5f).Build();
        var input = ArrowSamples.Write(schema, new RecordBatch(schema, [values], 1));

        var ex = await RefusedAsync(input);

        Assert.Equal(ArrowInputError.UnsupportedType, ex.Error);
    }

    [Fact]
    public async Task Open_TimestampInSeconds_UnsupportedType()
    {
        var schema = new Schema.Builder().Field(f => f.Name("at").DataType(new TimestampType(TimeUnit.Second, (string?)null))).Build();

        var ex = await RefusedAsync(ArrowSamples.Write(schema));

        Assert.Equal(ArrowInputError.UnsupportedType, ex.Error);
    }

    [Fact]
    public async Task Open_ListColumn_UnsupportedType()
    {
        var schema = new Schema.Builder().Field(f => f.Name("tags").DataType(new ListType(StringType.Default))).Build();

        var ex = await RefusedAsync(ArrowSamples.Write(schema));

        Assert.Equal(ArrowInputError.UnsupportedType, ex.Error);
    }

    [Fact]
    public async Task Open_StructNestedSixDeep_NestingTooDeep()
    {
        IArrowType type = Int32Type.Default;
        for (var i = 0; i < 6; i++)
        {
            type = new StructType([new Field($"level{i}", type, true)]);
        }

        var schema = new Schema.Builder().Field(f => f.Name("deep").DataType(type)).Build();

        var ex = await RefusedAsync(ArrowSamples.Write(schema));

        Assert.Equal(ArrowInputError.NestingTooDeep, ex.Error);
    }

    [Fact]
    public async Task Open_DictionaryColumn_UnsupportedType()
    {
        var dictionaryType = new DictionaryType(Int32Type.Default, StringType.Default, false);
        var schema = new Schema.Builder().Field(f => f.Name("city").DataType(dictionaryType)).Build();
        var indices = new Int32Array.Builder().Append(0).Build();
        var dictionary = new StringArray.Builder().Append("Kunming").Build();
        var input = ArrowSamples.Write(schema, new RecordBatch(schema, [new DictionaryArray(dictionaryType, indices, dictionary)], 1));

        var ex = await RefusedAsync(input);

        Assert.Equal(ArrowInputError.UnsupportedType, ex.Error);
    }

    [Fact]
    public async Task Open_DuplicateColumnNames_DuplicateColumn()
    {
        var schema = new Schema.Builder()
            .Field(f => f.Name("name").DataType(StringType.Default))
            .Field(f => f.Name("name").DataType(Int32Type.Default))
            .Build();

        var ex = await RefusedAsync(ArrowSamples.Write(schema));

        Assert.Equal(ArrowInputError.DuplicateColumn, ex.Error);
    }

    [Fact]
    public async Task Open_TooManyColumns_TooManyColumns()
    {
        var ex = await RefusedAsync(ArrowSamples.PeopleStream(1, 1), ArrowInputLimits.Default with { MaxColumns = 5 });
        Assert.Equal(ArrowInputError.TooManyColumns, ex.Error);
    }

    [Fact]
    public async Task ReadAll_BatchOfAnotherSchemaSpliced_LayoutMismatch()
    {
        var people = ArrowSamples.PeopleStream(1, 5);
        var names = ArrowSamples.NameStream("张三");
        var peopleFrames = ArrowSamples.Frames(people);
        var nameFrames = ArrowSamples.Frames(names);
        byte[] spliced = [.. people[..peopleFrames[0].End], .. names[nameFrames[1].Start..]];

        Assert.Equal(ArrowInputError.LayoutMismatch, (await RefusedAsync(spliced)).Error);
    }

    [Fact]
    public async Task Open_BatchBeforeSchema_UnexpectedMessage()
    {
        var names = ArrowSamples.NameStream("张三");
        var frames = ArrowSamples.Frames(names);

        Assert.Equal(ArrowInputError.UnexpectedMessage, (await RefusedAsync(names[frames[1].Start..])).Error);
    }

    [Fact]
    public async Task ReadAll_SecondSchema_UnexpectedMessage()
    {
        var names = ArrowSamples.NameStream("张三");
        var frames = ArrowSamples.Frames(names);
        byte[] twice = [.. names[..frames[0].End], .. names];

        Assert.Equal(ArrowInputError.UnexpectedMessage, (await RefusedAsync(twice)).Error);
    }

    [Fact]
    public async Task ReadAll_MessageLongerThanRequest_ExceedsDeclaredLength()
    {
        var input = ArrowSamples.PeopleStream(2, 10);
        var frames = ArrowSamples.Frames(input);

        var ex = await RefusedAsync(input, declaredLength: frames[1].BodyStart + 1);

        Assert.Equal(ArrowInputError.ExceedsDeclaredLength, ex.Error);
    }

    [Fact]
    public async Task ReadAll_StreamAboveCap_StreamTooLarge()
    {
        var input = ArrowSamples.PeopleStream(3, 10);
        var ex = await RefusedAsync(input, ArrowInputLimits.Default with { MaxStreamBytes = input.Length / 2 }, declaredLength: null);
        Assert.Equal(ArrowInputError.StreamTooLarge, ex.Error);
    }

    [Fact]
    public async Task ReadAll_TooManyRows_InvalidLength()
    {
        var ex = await RefusedAsync(ArrowSamples.PeopleStream(1, 50), ArrowInputLimits.Default with { MaxRowsPerBatch = 10 });
        Assert.Equal(ArrowInputError.InvalidLength, ex.Error);
    }

    [Fact]
    public async Task ReadAll_TransportFails_TransportFailure()
    {
        var input = ArrowSamples.PeopleStream(3, 10);
        await using var source = new FailingStream(input, failAfter: input.Length / 2);

        var ex = await Assert.ThrowsAsync<ArrowInputException>(async () =>
        {
            await using var reader = await SafeArrowReader.OpenAsync(source);
            while (await reader.ReadNextBatchAsync() is { } batch)
            {
                batch.Dispose();
            }
        });

        Assert.Equal(ArrowInputError.TransportFailure, ex.Error);
    }

    [Fact]
    public async Task ReadNext_Cancelled_ThrowsOperationCanceled()
    {
        var input = ArrowSamples.PeopleStream(2, 10);
        using var source = new MemoryStream(input);
        await using var reader = await SafeArrowReader.OpenAsync(source);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await reader.ReadNextBatchAsync(cancelled.Token));
    }

    [Fact]
    public void Code_EveryError_DistinctAndPrefixed()
    {
        var codes = Enum.GetValues<ArrowInputError>().Select(ArrowInputException.CodeOf).ToList();
        Assert.Equal(codes.Count, codes.Distinct().Count());
        Assert.All(codes, c => Assert.StartsWith("arrow-", c, StringComparison.Ordinal));
        Assert.DoesNotContain("arrow-unknown", codes);
    }

    private sealed class FailingStream(byte[] data, int failAfter) : MemoryStream(data)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            Position >= failAfter
                ? throw new IOException("The client went away.")
                : base.ReadAsync(buffer[..(int)Math.Min(buffer.Length, failAfter - Position)], cancellationToken);
    }
}
