using System.Buffers.Binary;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Node.Exchange.ArrowInput;

namespace GovShare.Node.Tests.Exchange;

/// <summary>The validator on hand-built arrays, where every buffer is exactly what the test says.</summary>
public sealed class ArrowBatchValidatorTests
{
    private static readonly Schema NameSchema = new Schema.Builder().Field(f => f.Name("name").DataType(StringType.Default)).Build();
    private static readonly Schema AgeSchema = new Schema.Builder().Field(f => f.Name("age").DataType(Int32Type.Default)).Build();

    private static byte[] Offsets(params int[] offsets)
    {
        var bytes = new byte[offsets.Length * 4];
        for (var i = 0; i < offsets.Length; i++)
        {
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), offsets[i]);
        }

        return bytes;
    }

    private static RecordBatch Strings(int length, int nullCount, byte[] validity, byte[] offsets, byte[] data, int offset = 0)
    {
        var array = new StringArray(new ArrayData(StringType.Default, length, nullCount, offset, [new ArrowBuffer(validity), new ArrowBuffer(offsets), new ArrowBuffer(data)]));
        return new RecordBatch(NameSchema, [array], length);
    }

    private static ArrowInputException Refused(RecordBatch batch, Schema schema) =>
        Assert.Throws<ArrowInputException>(() => ArrowBatchValidator.ValidateBatch(batch, schema, ArrowInputLimits.Default));

    [Fact]
    public void ValidateBatch_WellFormedStrings_Passes()
    {
        using var batch = Strings(3, 1, [0b101], Offsets(0, 2, 2, 5), "abcde"u8.ToArray());
        ArrowBatchValidator.ValidateBatch(batch, NameSchema, ArrowInputLimits.Default);
    }

    [Fact]
    public void ValidateBatch_SlicedArrayWithOffset_ChecksTheSlice()
    {
        // Values 1..2 of [ab, c, de]: offsets read from index 1.
        using var batch = Strings(2, 0, [], Offsets(0, 2, 3, 5), "abcde"u8.ToArray(), offset: 1);
        ArrowBatchValidator.ValidateBatch(batch, NameSchema, ArrowInputLimits.Default);
    }

    [Fact]
    public void ValidateBatch_OffsetPastData_InvalidOffsets()
    {
        using var batch = Strings(2, 0, [], Offsets(0, 2, 9), "abcde"u8.ToArray());
        Assert.Equal(ArrowInputError.InvalidOffsets, Refused(batch, NameSchema).Error);
    }

    [Fact]
    public void ValidateBatch_DecreasingOffsets_InvalidOffsets()
    {
        using var batch = Strings(2, 0, [], Offsets(0, 3, 2), "abcde"u8.ToArray());
        Assert.Equal(ArrowInputError.InvalidOffsets, Refused(batch, NameSchema).Error);
    }

    [Fact]
    public void ValidateBatch_OffsetsBufferTooShortForSliceOffset_BufferTooShort()
    {
        using var batch = Strings(2, 0, [], Offsets(0, 1, 2), "abcde"u8.ToArray(), offset: 1);
        Assert.Equal(ArrowInputError.BufferTooShort, Refused(batch, NameSchema).Error);
    }

    [Fact]
    public void ValidateBatch_NullCountAboveLength_InvalidNullCount()
    {
        using var batch = Strings(2, 3, [0], Offsets(0, 0, 0), []);
        Assert.Equal(ArrowInputError.InvalidNullCount, Refused(batch, NameSchema).Error);
    }

    [Fact]
    public void ValidateBatch_NullCountDisagreesWithBitmap_InvalidNullCount()
    {
        using var batch = Strings(3, 2, [0b101], Offsets(0, 1, 1, 2), "ab"u8.ToArray());
        Assert.Equal(ArrowInputError.InvalidNullCount, Refused(batch, NameSchema).Error);
    }

    [Fact]
    public void ValidateBatch_BitmapShorterThanLength_BufferTooShort()
    {
        using var batch = Strings(9, 1, [0b1111_1110], Offsets(0, 0, 1, 2, 3, 4, 5, 6, 7, 8), "abcdefgh"u8.ToArray());
        Assert.Equal(ArrowInputError.BufferTooShort, Refused(batch, NameSchema).Error);
    }

    [Fact]
    public void ValidateBatch_InvalidUtf8InNullSlot_Passes()
    {
        // A null's bytes are never read, so they need not be UTF-8.
        using var batch = Strings(2, 1, [0b01], Offsets(0, 1, 2), [(byte)'a', 0xFF]);
        ArrowBatchValidator.ValidateBatch(batch, NameSchema, ArrowInputLimits.Default);
    }

    [Fact]
    public void ValidateBatch_MultiByteValues_Passes()
    {
        // 中文 | é | (empty) | a: one pass over all the bytes, every value starting a character.
        byte[] data = [.. "中文"u8, .. "é"u8, (byte)'a'];
        using var batch = Strings(4, 0, [], Offsets(0, 6, 8, 8, 9), data);
        ArrowBatchValidator.ValidateBatch(batch, NameSchema, ArrowInputLimits.Default);
    }

    [Fact]
    public void ValidateBatch_CharacterSplitBetweenValues_InvalidUtf8()
    {
        // E4 B8 | AD: the column's bytes are 中, valid as a whole, but neither value is UTF-8.
        using var batch = Strings(2, 0, [], Offsets(0, 2, 3), [0xE4, 0xB8, 0xAD]);
        var refused = Refused(batch, NameSchema);
        Assert.Equal(ArrowInputError.InvalidUtf8, refused.Error);
        Assert.Contains("value 0 ", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateBatch_InvalidUtf8InALaterValue_NamesThatValue()
    {
        using var batch = Strings(3, 0, [], Offsets(0, 2, 4, 5), [(byte)'a', (byte)'b', (byte)'c', 0xFF, (byte)'d']);
        var refused = Refused(batch, NameSchema);
        Assert.Equal(ArrowInputError.InvalidUtf8, refused.Error);
        Assert.Contains("value 1 ", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateBatch_NullSlotStartingWithAContinuationByte_Passes()
    {
        using var batch = Strings(2, 1, [0b10], Offsets(0, 1, 2), [0xAD, (byte)'a']);
        ArrowBatchValidator.ValidateBatch(batch, NameSchema, ArrowInputLimits.Default);
    }

    [Fact]
    public void ValidateBatch_Int32ValuesShorterThanLength_BufferTooShort()
    {
        var array = new Int32Array(new ArrayData(Int32Type.Default, 4, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(new byte[12])]));
        using var batch = new RecordBatch(AgeSchema, [array], 4);
        Assert.Equal(ArrowInputError.BufferTooShort, Refused(batch, AgeSchema).Error);
    }

    [Fact]
    public void ValidateBatch_ColumnLengthDiffersFromBatch_InvalidLength()
    {
        var array = new Int32Array(new ArrayData(Int32Type.Default, 2, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(new byte[8])]));
        using var batch = new RecordBatch(AgeSchema, [array], 3);
        Assert.Equal(ArrowInputError.InvalidLength, Refused(batch, AgeSchema).Error);
    }

    [Fact]
    public void ValidateBatch_ColumnOfAnotherType_LayoutMismatch()
    {
        var array = new Int64Array(new ArrayData(Int64Type.Default, 1, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(new byte[8])]));
        using var batch = new RecordBatch(new Schema.Builder().Field(f => f.Name("age").DataType(Int64Type.Default)).Build(), [array], 1);
        Assert.Equal(ArrowInputError.LayoutMismatch, Refused(batch, AgeSchema).Error);
    }

    [Fact]
    public void ValidateSchema_EveryCatalogItemType_Passes() =>
        ArrowBatchValidator.ValidateSchema(ArrowSamples.PeopleSchema, ArrowInputLimits.Default);

    [Theory]
    [InlineData(ArrowTypeId.Float)]
    [InlineData(ArrowTypeId.Int16)]
    [InlineData(ArrowTypeId.Date64)]
    [InlineData(ArrowTypeId.LargeString)]
    public void ValidateSchema_OtherTypes_UnsupportedType(ArrowTypeId id)
    {
        IArrowType type = id switch
        {
            ArrowTypeId.Float => FloatType.Default,
            ArrowTypeId.Int16 => Int16Type.Default,
            ArrowTypeId.Date64 => Date64Type.Default,
            _ => LargeStringType.Default,
        };
        var schema = new Schema.Builder().Field(f => f.Name("x").DataType(type)).Build();

        var ex = Assert.Throws<ArrowInputException>(() => ArrowBatchValidator.ValidateSchema(schema, ArrowInputLimits.Default));

        Assert.Equal(ArrowInputError.UnsupportedType, ex.Error);
    }
}
