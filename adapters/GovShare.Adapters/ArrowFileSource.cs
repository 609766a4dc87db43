using System.Runtime.CompilerServices;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>
/// An Arrow IPC file (or stream) read batch by batch. With a mapping, columns are picked and
/// renamed to items; their Arrow types must already be the items' types.
/// </summary>
public sealed class ArrowFileSource(string path, ItemMapping? mapping = null) : IRecordSource
{
    private static readonly byte[] FileMagic = "ARROW1"u8.ToArray();

    public async IAsyncEnumerable<RecordBatch> ReadAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        await using var stream = File.OpenRead(path);
        var magic = new byte[FileMagic.Length];
        var isFile = await stream.ReadAtLeastAsync(magic, magic.Length, throwOnEndOfStream: false, cancellation).ConfigureAwait(false) == magic.Length && magic.AsSpan().SequenceEqual(FileMagic);
        stream.Position = 0;
        using var reader = isFile ? new ArrowFileReader(stream, leaveOpen: true) : new ArrowStreamReader(stream, leaveOpen: true);
        var yielded = false;
        Schema? projected = null;
        int[]? ordinals = null;
        RecordBatch? batch;
        while ((batch = await reader.ReadNextRecordBatchAsync(cancellation).ConfigureAwait(false)) is not null)
        {
            // The batch is handed on, not disposed: its arrays are the projected batch's arrays.
            (projected, ordinals) = projected is null ? Project(batch.Schema) : (projected, ordinals);
            yielded = true;
            var current = batch;
            yield return new RecordBatch(projected, ordinals!.Select(current.Column), batch.Length);
        }

        if (!yielded)
        {
            var schema = Project(reader.Schema).Schema;
            yield return new RecordBatch(schema, schema.FieldsList.Select(f => ColumnAppender.For(ItemDataType.FromArrow(f.DataType)!, TimeSpan.Zero).Build()), 0);
        }
    }

    private (Schema Schema, int[] Ordinals) Project(Schema schema)
    {
        var errors = new List<string>();
        if (mapping is null)
        {
            errors.AddRange(schema.FieldsList.Where(f => ItemDataType.FromArrow(f.DataType) is null).Select(f => $"Field '{f.Name}' has type {f.DataType.Name}, which no item has."));
            return errors.Count == 0 ? (schema, Enumerable.Range(0, schema.FieldsList.Count).ToArray()) : throw new MappingException(path, errors);
        }

        var ordinals = new List<int>();
        foreach (var column in mapping.Columns)
        {
            var index = schema.GetFieldIndex(column.Column);
            if (index < 0)
            {
                errors.Add($"Field '{column.Column}' is not in the file.");
                continue;
            }

            if (ItemDataType.FromArrow(schema.GetFieldByIndex(index).DataType) != column.Type)
            {
                errors.Add($"Field '{column.Column}' is {schema.GetFieldByIndex(index).DataType.Name}, the mapping says {column.Type}.");
            }

            ordinals.Add(index);
        }

        return errors.Count == 0 ? (mapping.ToSchema(), ordinals.ToArray()) : throw new MappingException(path, errors);
    }
}
