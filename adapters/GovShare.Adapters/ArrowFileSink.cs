using Apache.Arrow;
using Apache.Arrow.Ipc;

namespace GovShare.Adapters;

/// <summary>Writes record batches as an Arrow IPC file, published by rename once complete.</summary>
public sealed class ArrowFileSink(string path) : IRecordSink
{
    public async Task<long> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        var temporary = path + ".partial";
        long rows = 0;
        try
        {
            await using (var stream = File.Create(temporary))
            {
                ArrowFileWriter? writer = null;
                await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
                {
                    writer ??= new ArrowFileWriter(stream, batch.Schema, leaveOpen: true);
                    await writer.WriteRecordBatchAsync(batch, cancellation).ConfigureAwait(false);
                    rows += batch.Length;
                }

                if (writer is not null)
                {
                    await writer.WriteEndAsync(cancellation).ConfigureAwait(false);
                    writer.Dispose();
                }
            }

            File.Move(temporary, path, overwrite: true);
            return rows;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
