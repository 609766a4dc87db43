using Apache.Arrow;
using Apache.Arrow.Types;

namespace GovShare.Benchmarks;

/// <summary>Deterministic population rows, the shape of the exchange tests' resource.</summary>
public static class People
{
    public static Schema Schema { get; } = new Schema.Builder()
        .Field(new Field("公民身份号码", StringType.Default, false))
        .Field(new Field("姓名", StringType.Default, true))
        .Field(new Field("出生日期", Date32Type.Default, true))
        .Field(new Field("Annual Income", DoubleType.Default, true))
        .Field(new Field("住址", StringType.Default, true))
        .Build();

    public static RecordBatch Batch(int rows, int start = 0)
    {
        var ids = new StringArray.Builder();
        var names = new StringArray.Builder();
        var births = new Date32Array.Builder();
        var incomes = new DoubleArray.Builder();
        var addresses = new StringArray.Builder();
        for (var i = start; i < start + rows; i++)
        {
            ids.Append($"530102{1950 + (i % 50)}0101{i % 10000:D4}");
            names.Append(i % 2 == 0 ? "张三" : "李四光");
            births.Append(new DateOnly(1950 + (i % 50), 1 + (i % 12), 1 + (i % 28)));
            incomes.Append(30000 + i);
            addresses.Append($"昆明市五华区某路{i}号");
        }

        return new RecordBatch(Schema, [ids.Build(), names.Build(), births.Build(), incomes.Build(), addresses.Build()], rows);
    }

    /// <summary>A plain copy of a column: every buffer copied, nothing computed.</summary>
    public static IArrowArray Copy(IArrowArray column)
    {
        ArgumentNullException.ThrowIfNull(column);
        var data = column.Data;
        var buffers = data.Buffers.Select(b => b.IsEmpty ? ArrowBuffer.Empty : new ArrowBuffer(b.Span.ToArray())).ToArray();
        return ArrowArrayFactory.BuildArray(new ArrayData(data.DataType, data.Length, data.NullCount, data.Offset, buffers));
    }
}
