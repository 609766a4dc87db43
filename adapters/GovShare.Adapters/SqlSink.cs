using System.Data.Common;
using Apache.Arrow;
using GovShare.Contract;

namespace GovShare.Adapters;

/// <summary>
/// Writes record batches into an SQL table through ADO.NET, in one transaction: the table is
/// created when missing (columns typed from the items), emptied first when
/// <paramref name="replace"/>, and on any failure left as it was.
/// </summary>
public sealed class SqlSink(DbConnection connection, SqlDialectKind dialect, string table, bool replace = false) : IRecordSink
{
    public async Task<long> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        if (connection.State != System.Data.ConnectionState.Open)
        {
            await connection.OpenAsync(cancellation).ConfigureAwait(false);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
        DbCommand? insert = null;
        long rows = 0;
        try
        {
            await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
            {
                insert ??= await PrepareAsync(batch.Schema, transaction, cancellation).ConfigureAwait(false);
                for (var r = 0; r < batch.Length; r++)
                {
                    for (var c = 0; c < batch.ColumnCount; c++)
                    {
                        insert.Parameters[c].Value = SqlDialect.Parameter(dialect, ArrowValues.Get(batch.Column(c), r));
                    }

                    await insert.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
                }

                rows += batch.Length;
            }

            await transaction.CommitAsync(cancellation).ConfigureAwait(false);
            return rows;
        }
        finally
        {
            if (insert is not null)
            {
                await insert.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private async Task<DbCommand> PrepareAsync(Schema schema, DbTransaction transaction, CancellationToken cancellation)
    {
        var name = SqlDialect.QuoteName(table);
        var columns = schema.FieldsList.Select(f => $"{SqlDialect.QuoteName(f.Name)} {SqlDialect.ColumnType(dialect, ItemDataType.FromArrow(f.DataType) ?? throw new NotSupportedException($"Field '{f.Name}' has no item type."))}");
        await ExecuteAsync($"CREATE TABLE IF NOT EXISTS {name} ({string.Join(", ", columns)})", transaction, cancellation).ConfigureAwait(false);
        if (replace)
        {
            await ExecuteAsync($"DELETE FROM {name}", transaction, cancellation).ConfigureAwait(false);
        }

        var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO {name} ({string.Join(", ", schema.FieldsList.Select(f => SqlDialect.QuoteName(f.Name)))}) VALUES ({string.Join(", ", schema.FieldsList.Select((_, i) => "@p" + i))})";
        for (var i = 0; i < schema.FieldsList.Count; i++)
        {
            var parameter = insert.CreateParameter();
            parameter.ParameterName = "@p" + i;
            insert.Parameters.Add(parameter);
        }

        return insert;
    }

    private async Task ExecuteAsync(string sql, DbTransaction transaction, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
    }
}
