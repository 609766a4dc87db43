using System.Globalization;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>Reads one value of an Arrow array as a .NET value or as canonical text.</summary>
internal static class ArrowValues
{
    public static object? Get(IArrowArray array, int index)
    {
        if (array.IsNull(index))
        {
            return null;
        }

        return array switch
        {
            StringArray s => s.GetString(index),
            Int32Array a => a.GetValue(index),
            Int64Array a => a.GetValue(index),
            DoubleArray a => a.GetValue(index),
            BooleanArray a => a.GetValue(index),
            Date32Array a => a.GetDateOnly(index),
            TimestampArray a => a.GetTimestamp(index),
            Decimal128Array a => a.GetValue(index),
            BinaryArray a => a.GetBytes(index).ToArray(),
            _ => throw new NotSupportedException($"Arrow type {array.Data.DataType.Name} is not an item type."),
        };
    }

    /// <summary>
    /// A timestamp as text: ISO 8601 in UTC with all six fractional digits, since the item's unit
    /// is the microsecond (<see cref="ItemDataType.TimestampUnit"/>); fewer digits would truncate.
    /// </summary>
    public static string TimestampText(DateTimeOffset instant) =>
        instant.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);

    /// <summary>A timestamp as ISO 8601 at a stated offset (<c>2026-03-01T08:30:00.000000+08:00</c>): the zone is always written.</summary>
    public static string TimestampText(DateTimeOffset instant, TimeSpan offset) =>
        offset == TimeSpan.Zero ? TimestampText(instant) : instant.ToOffset(offset).ToString("yyyy-MM-dd'T'HH:mm:ss.ffffffzzz", CultureInfo.InvariantCulture);

    /// <summary>Canonical text: invariant numbers, yyyy-MM-dd dates, ISO 8601 timestamps (UTC unless an offset is given), base64 bytes.</summary>
    public static string? GetText(IArrowArray array, int index, TimeSpan? offset) => Get(array, index) switch
    {
        DateTimeOffset t when offset is { } o => TimestampText(t, o),
        _ => GetText(array, index),
    };

    /// <summary>Canonical text: invariant numbers, yyyy-MM-dd dates, ISO 8601 UTC timestamps, base64 bytes.</summary>
    public static string? GetText(IArrowArray array, int index) => Get(array, index) switch
    {
        null => null,
        string s => s,
        bool b => b ? "true" : "false",
        DateOnly d => d.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
        DateTimeOffset t => TimestampText(t),
        byte[] bytes => Convert.ToBase64String(bytes),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        var other => other.ToString(),
    };

    /// <summary>The rows of <paramref name="batch"/> at <paramref name="indices"/>, as a new batch.</summary>
    public static RecordBatch Take(RecordBatch batch, IReadOnlyList<int> indices)
    {
        var arrays = new List<IArrowArray>(batch.ColumnCount);
        for (var c = 0; c < batch.ColumnCount; c++)
        {
            var type = ItemDataType.FromArrow(batch.Schema.GetFieldByIndex(c).DataType)
                ?? throw new NotSupportedException($"Field '{batch.Schema.GetFieldByIndex(c).Name}' has no item type.");
            var appender = ColumnAppender.For(type, TimeSpan.Zero);
            var column = batch.Column(c);
            foreach (var i in indices)
            {
                appender.AppendValue(Get(column, i));
            }

            arrays.Add(appender.Build());
        }

        return new RecordBatch(batch.Schema, arrays, indices.Count);
    }
}
