using Apache.Arrow;
using Apache.Arrow.Ipc;

namespace GovShare.Adapters;

/// <summary>
/// A dataset converted in full to a temporary Arrow IPC stream file before anything is pushed.
/// </summary>
/// <remarks>
/// Why stage rather than validate first and read again: one pass over the source, so what is
/// pushed is exactly what was checked (a database may change between two reads), memory stays
/// bounded by one batch, and the push body's length is known for progress. A failed conversion
/// deletes the file and throws; the node never sees a byte.
/// </remarks>
public sealed class StagedDataset : IAsyncDisposable
{
    private StagedDataset(string path, Schema schema, long rows, long bytes)
    {
        Path = path;
        Schema = schema;
        Rows = rows;
        Bytes = bytes;
    }

    public string Path { get; }
    public Schema Schema { get; }
    public long Rows { get; }
    public long Bytes { get; }

    /// <summary>Writes every batch to a temporary stream file in <paramref name="folder"/> (the system temp folder by default).</summary>
    /// <exception cref="ConversionFailedException">Any row failed; no file remains.</exception>
    public static async Task<StagedDataset> StageAsync(IAsyncEnumerable<RecordBatch> batches, string? folder = null, IProgress<long>? rowsRead = null, CancellationToken cancellation = default)
    {
        var directory = folder ?? System.IO.Path.GetTempPath();
        Directory.CreateDirectory(directory);
        var path = System.IO.Path.Combine(directory, $"govshare-stage-{Guid.NewGuid():N}.arrows");
        try
        {
            long rows = 0;
            Schema? schema = null;
            await using (var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                ArrowStreamWriter? writer = null;
                await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
                {
                    schema ??= batch.Schema;
                    writer ??= new ArrowStreamWriter(stream, schema, leaveOpen: true);
                    await writer.WriteRecordBatchAsync(batch, cancellation).ConfigureAwait(false);
                    rows += batch.Length;
                    rowsRead?.Report(rows);
                }

                if (writer is null || schema is null)
                {
                    throw new InvalidOperationException("The source yielded no batch, not even an empty one.");
                }

                await writer.WriteEndAsync(cancellation).ConfigureAwait(false);
                writer.Dispose();
            }

            return new StagedDataset(path, schema, rows, new FileInfo(path).Length);
        }
        catch
        {
            File.Delete(path);
            throw;
        }
    }

    public Stream OpenRead() => new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);

    /// <summary>The staged batches, read back (for tests and for writing to a local sink).</summary>
    public async IAsyncEnumerable<RecordBatch> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await using var stream = OpenRead();
        using var reader = new ArrowStreamReader(stream);
        RecordBatch? batch;
        while ((batch = await reader.ReadNextRecordBatchAsync(cancellation).ConfigureAwait(false)) is not null)
        {
            yield return batch;
        }
    }

    public ValueTask DisposeAsync()
    {
        File.Delete(Path);
        return ValueTask.CompletedTask;
    }
}
