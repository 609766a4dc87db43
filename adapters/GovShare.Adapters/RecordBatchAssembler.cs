using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// Builds bounded record batches row by row, collecting conversion errors with row and column.
/// Once any row has failed, no further batch is handed out: a source then only scans on to
/// report every error, and its consumer never sees a partial dataset as if it were whole.
/// </summary>
internal sealed class RecordBatchAssembler
{
    private readonly ItemMapping _mapping;
    private readonly Schema _schema;
    private readonly ColumnAppender[] _appenders;
    private readonly int _batchSize;
    private int _size;

    public RecordBatchAssembler(ItemMapping mapping, ReadOptions options)
    {
        _mapping = mapping;
        _schema = mapping.ToSchema();
        _batchSize = options.BatchSize;
        _size = Math.Clamp(options.FirstBatchSize ?? options.BatchSize, 1, options.BatchSize);
        _appenders = mapping.Columns.Select(c => ColumnAppender.For(c.Type, options.AssumedOffset, options.TimestampFormat, options.DateFormat)).ToArray();
        Expect(_size);
    }

    public ConversionErrors Errors { get; } = new();

    public int Pending => _appenders.Length == 0 ? 0 : _appenders[0].Length;

    public bool IsFull => Pending >= _size;

    public void AppendText(long row, int column, string? text)
    {
        if (_appenders[column].AppendText(text) is { } error)
        {
            Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, text, error));
        }
    }

    /// <summary>A non-null text value from a span (a CSV cell): the same conversion and error as <see cref="AppendText"/> with its string.</summary>
    public void AppendChars(long row, int column, ReadOnlySpan<char> text)
    {
        if (_appenders[column].AppendChars(text) is { } error)
        {
            Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, new string(text), error));
        }
    }

    public void AppendValue(long row, int column, object? value)
    {
        if (_appenders[column].AppendValue(value) is { } error)
        {
            Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture), error));
        }
    }

    // Typed appends (the PostgreSQL binary COPY reader): no object per value; the value becomes
    // text only for an error's report, as AppendValue reports it.
    public void Append(long row, int column, int value) => Report(row, column, value, _appenders[column].AppendInt32(value));

    public void Append(long row, int column, long value) => Report(row, column, value, _appenders[column].AppendInt64(value));

    public void Append(long row, int column, double value) => Report(row, column, value, _appenders[column].AppendDouble(value));

    public void Append(long row, int column, bool value) => Report(row, column, value, _appenders[column].AppendBoolean(value));

    public void Append(long row, int column, decimal value) => Report(row, column, value, _appenders[column].AppendDecimal(value));

    /// <summary>A decimal given as its magnitude at <paramref name="scale"/> places and its sign: <c>±magnitude · 10^−scale</c> (scale 0 to 28).</summary>
    public void Append(long row, int column, ulong magnitude, int scale, bool negative)
    {
        if (_appenders[column].AppendDecimal(magnitude, scale, negative) is { } error)
        {
            Report(row, column, ColumnAppender.ToDecimal(magnitude, scale, negative), error);
        }
    }

    public void Append(long row, int column, DateOnly value) => Report(row, column, value, _appenders[column].AppendDate(value));

    public void Append(long row, int column, DateTime value) => Report(row, column, value, _appenders[column].AppendDateTime(value));

    /// <summary>Text as UTF-8 bytes (valid UTF-8: the caller's source guarantees it).</summary>
    public void AppendUtf8(long row, int column, ReadOnlySpan<byte> value)
    {
        if (_appenders[column].AppendUtf8(value) is { } error)
        {
            Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, System.Text.Encoding.UTF8.GetString(value), error));
        }
    }

    public void AppendBytes(long row, int column, ReadOnlySpan<byte> value)
    {
        if (_appenders[column].AppendBytes(value) is { } error)
        {
            Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, Convert.ToBase64String(value), error));
        }
    }

    /// <summary>A value the source could not read (the caller appended a null for it).</summary>
    public void Fail(long row, int column, string? value, string message)
    {
        Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, value, message));
    }

    private void Report<T>(long row, int column, T value, string? error)
    {
        if (error is not null)
        {
            Errors.Add(ConversionError.Create(row, _mapping.Columns[column].Column, Convert.ToString(value, System.Globalization.CultureInfo.InvariantCulture), error));
        }
    }

    /// <summary>A whole-row problem (wrong field count, bad JSON): the row's cells become nulls.</summary>
    public void RowError(long row, string column, string? value, string message)
    {
        Errors.Add(ConversionError.Create(row, column, value, message));
    }

    /// <summary>The pending rows as a batch, or null once any row has failed.</summary>
    public RecordBatch? Flush()
    {
        var length = Pending;
        var arrays = new IArrowArray[_appenders.Length];
        for (var c = 0; c < arrays.Length; c++)
        {
            arrays[c] = _appenders[c].Build();
        }

        _size = (int)Math.Min((long)_size * 2, _batchSize);
        Expect(_size);
        return Errors.Any ? null : new RecordBatch(_schema, arrays, length);
    }

    /// <summary>Each column's buffers for the next batch are allocated once, for this many rows.</summary>
    private void Expect(int rows)
    {
        foreach (var appender in _appenders)
        {
            appender.ExpectedRows = rows;
        }
    }
}

/// <summary>How sources read: batch size and the offset of timestamps written without one.</summary>
public sealed record ReadOptions
{
    public static readonly ReadOptions Default = new();

    /// <summary>Rows per record batch: bounds memory whatever the source's size.</summary>
    public int BatchSize { get; init; } = 65_536;

    /// <summary>
    /// Rows in the first batch when fewer than <see cref="BatchSize"/>; each batch after it is
    /// twice the one before, up to <see cref="BatchSize"/>. A push streams batches as they are
    /// made: a small first batch starts the upload, and the node's reading and checking of it,
    /// while the source is still converting, instead of after a whole <see cref="BatchSize"/>
    /// (benchmarks/results/adapters-history.md, fix/pgpush6). Null: every batch is <see cref="BatchSize"/>.
    /// </summary>
    public int? FirstBatchSize { get; init; }

    /// <summary>Offset of local times written without one; Beijing time unless said otherwise.</summary>
    public TimeSpan AssumedOffset { get; init; } = TimeSpan.FromHours(8);

    /// <summary>
    /// The one .NET custom format text timestamps are written in (e.g. <c>yyyy/MM/dd HH:mm</c>);
    /// with an offset specifier (<c>zzz</c>, <c>K</c>) the written offset counts, without one the
    /// time is taken at <see cref="AssumedOffset"/>. Null (the default): ISO 8601 with an offset or
    /// <c>Z</c>, or <c>yyyy-MM-dd[ T]HH:mm[:ss[.ffffff]]</c> and <c>yyyy/M/d H:mm[:ss]</c> local times.
    /// </summary>
    public string? TimestampFormat { get; init; }

    /// <summary>The one .NET custom format text dates are written in (e.g. <c>dd.MM.yyyy</c>); null (the default): <c>yyyy-MM-dd</c>, <c>yyyy/MM/dd</c>, <c>yyyyMMdd</c>, <c>yyyy-M-d</c>, <c>yyyy/M/d</c>.</summary>
    public string? DateFormat { get; init; }

    /// <summary>Where a file source reports how many of its bytes it has read (for a progress display).</summary>
    public IProgress<long>? BytesRead { get; init; }
}
