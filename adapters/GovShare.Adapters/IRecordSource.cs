using Apache.Arrow;

namespace GovShare.Adapters;

/// <summary>
/// A department system read as Arrow record batches of catalog items, in bounded batches.
/// </summary>
/// <remarks>
/// Contract: <see cref="ReadAsync"/> yields at least one batch (empty when the source has no rows)
/// so the schema is always known; when any value does not convert it stops yielding, scans on to
/// collect every error, and throws <see cref="ConversionFailedException"/> at the end. A consumer
/// therefore commits nothing before the enumeration has completed.
/// </remarks>
public interface IRecordSource
{
    IAsyncEnumerable<RecordBatch> ReadAsync(CancellationToken cancellation = default);
}

/// <summary>A place record batches are written to: a file, or a database table.</summary>
public interface IRecordSink
{
    /// <summary>Writes every batch; returns the rows written. Nothing is left half-written on failure.</summary>
    Task<long> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default);
}
