using System.Data.Common;
using Apache.Arrow;
using GovShare.Contract;
using Npgsql;
using NpgsqlTypes;

namespace GovShare.Adapters;

/// <summary>What a pull does to an SQL table that already exists.</summary>
public enum SqlWriteMode
{
    /// <summary>Create the table; an existing table must be empty (rows are never doubled unasked).</summary>
    New,

    /// <summary>Empty the table first, in the same transaction.</summary>
    Replace,

    /// <summary>Add the rows to what the table holds.</summary>
    Append,

    /// <summary>Insert new keys, update existing ones (the key columns need a unique index; a created table gets a primary key).</summary>
    Upsert,
}

/// <summary>
/// Writes record batches into an SQL table in one transaction: created when missing (columns typed
/// from the items, named by the items or by <paramref name="columnNames"/>), and on any failure
/// left as it was. PostgreSQL is written with binary COPY (Npgsql's importer), as fast as
/// <c>psql \copy</c>; SQLite with one prepared statement in one transaction.
/// </summary>
/// <param name="connection">The database (opened when closed).</param>
/// <param name="dialect">SQLite or PostgreSQL.</param>
/// <param name="table">The table, possibly schema-qualified.</param>
/// <param name="mode">What to do with an existing table's rows.</param>
/// <param name="columnNames">Item (id or name) → column of an existing table; unnamed items keep their name.</param>
/// <param name="keyColumns">The key columns of <see cref="SqlWriteMode.Upsert"/>, as named in the table.</param>
public sealed class SqlSink(DbConnection connection, SqlDialectKind dialect, string table, SqlWriteMode mode = SqlWriteMode.New,
    IReadOnlyDictionary<string, string>? columnNames = null, IReadOnlyList<string>? keyColumns = null) : IRecordSink
{
    /// <summary>The earlier form: <paramref name="replace"/> empties the table first, else rows are added.</summary>
    public SqlSink(DbConnection connection, SqlDialectKind dialect, string table, bool replace)
        : this(connection, dialect, table, replace ? SqlWriteMode.Replace : SqlWriteMode.Append)
    {
    }

    public async Task<long> WriteAsync(IAsyncEnumerable<RecordBatch> batches, CancellationToken cancellation = default)
    {
        if (mode == SqlWriteMode.Upsert && (keyColumns is null || keyColumns.Count == 0))
        {
            throw new SqlTargetException("An upsert needs the key column(s).");
        }

        if (connection.State != System.Data.ConnectionState.Open)
        {
            if (connection is NpgsqlConnection npgsql)
            {
                // The COPY writes only built-in types, its statements too: no need for the server's type catalog.
                PostgresBinaryCopy.SkipTypeLoading(npgsql);
            }

            await connection.OpenAsync(cancellation).ConfigureAwait(false);
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellation).ConfigureAwait(false);
        long rows = 0;
        Writer? writer = null;
        try
        {
            await foreach (var batch in batches.WithCancellation(cancellation).ConfigureAwait(false))
            {
                writer ??= await PrepareAsync(batch.Schema, transaction, cancellation).ConfigureAwait(false);
                await writer.WriteAsync(batch, cancellation).ConfigureAwait(false);
                rows += batch.Length;
            }

            if (writer is not null)
            {
                await writer.CompleteAsync(cancellation).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellation).ConfigureAwait(false);
            return rows;
        }
        finally
        {
            if (writer is not null)
            {
                await writer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private string ColumnOf(Field field)
    {
        if (columnNames is null)
        {
            return field.Name;
        }

        var id = field.Metadata is { } metadata && metadata.TryGetValue("govshare:item-id", out var itemId) ? itemId : null;
        return columnNames.TryGetValue(field.Name, out var named) ? named
            : id is not null && columnNames.TryGetValue(id, out var byId) ? byId
            : field.Name;
    }

    private async Task<Writer> PrepareAsync(Schema schema, DbTransaction transaction, CancellationToken cancellation)
    {
        var name = SqlDialect.QuoteName(table);
        var columns = schema.FieldsList.Select(ColumnOf).ToList();
        var types = schema.FieldsList.Select(f => ItemDataType.FromArrow(f.DataType) ?? throw new NotSupportedException($"Field '{f.Name}' has no item type.")).ToList();
        var exists = await ExistsAsync(transaction, cancellation).ConfigureAwait(false);
        if (!exists)
        {
            var definitions = columns.Select((c, i) => $"{SqlDialect.QuoteName(c)} {SqlDialect.ColumnType(dialect, types[i])}").ToList();
            if (mode == SqlWriteMode.Upsert)
            {
                definitions.Add($"PRIMARY KEY ({string.Join(", ", keyColumns!.Select(SqlDialect.QuoteName))})");
            }

            await ExecuteAsync($"CREATE TABLE {name} ({string.Join(", ", definitions)})", transaction, cancellation).ConfigureAwait(false);
        }
        else if (mode == SqlWriteMode.New && await ScalarAsync($"SELECT COUNT(*) FROM {name}", transaction, cancellation).ConfigureAwait(false) is var count and > 0)
        {
            throw new SqlTargetException($"The table {table} already holds {count:N0} rows; nothing was written. Say what to do with them: "
                + "--replace (empty it first), --append (add the rows) or --upsert-key KEY (update rows by key).");
        }

        if (mode == SqlWriteMode.Replace)
        {
            await ExecuteAsync($"DELETE FROM {name}", transaction, cancellation).ConfigureAwait(false);
        }

        if (mode == SqlWriteMode.Upsert && keyColumns!.FirstOrDefault(k => !columns.Contains(k, StringComparer.Ordinal)) is { } missing)
        {
            throw new SqlTargetException($"The key column '{missing}' is not among the pulled columns ({string.Join(", ", columns)}).");
        }

        if (dialect == SqlDialectKind.PostgreSql && connection is NpgsqlConnection npgsql)
        {
            var target = name;
            if (mode == SqlWriteMode.Upsert)
            {
                // COPY has no ON CONFLICT: copy into a temporary table, then merge by key.
                target = "\"govshare_upsert\"";
                await ExecuteAsync($"CREATE TEMP TABLE {target} (LIKE {name} INCLUDING DEFAULTS) ON COMMIT DROP", transaction, cancellation).ConfigureAwait(false);
            }

            var quoted = string.Join(", ", columns.Select(SqlDialect.QuoteName));
            foreach (var type in types)
            {
                _ = CopyType(type); // every item type has its PostgreSQL type, before COPY starts
            }

            var copy = await npgsql.BeginRawBinaryCopyAsync($"COPY {target} ({quoted}) FROM STDIN (FORMAT BINARY)", cancellation).ConfigureAwait(false);
            var merge = mode == SqlWriteMode.Upsert ? Upsert(name, target, columns) : null;
            return new CopyWriter(copy, merge is null ? null : () => ExecuteAsync(merge, transaction, cancellation));
        }

        var insert = connection.CreateCommand();
        insert.Transaction = transaction;
        insert.CommandText = $"INSERT INTO {name} ({string.Join(", ", columns.Select(SqlDialect.QuoteName))}) VALUES ({string.Join(", ", columns.Select((_, i) => "@p" + i))})"
            + (mode == SqlWriteMode.Upsert ? OnConflict(columns) : "");
        for (var i = 0; i < columns.Count; i++)
        {
            var parameter = insert.CreateParameter();
            parameter.ParameterName = "@p" + i;
            insert.Parameters.Add(parameter);
        }

        return new InsertWriter(insert, dialect);
    }

    private string Upsert(string name, string staging, IReadOnlyList<string> columns)
    {
        var quoted = string.Join(", ", columns.Select(SqlDialect.QuoteName));
        return $"INSERT INTO {name} ({quoted}) SELECT {quoted} FROM {staging}{OnConflict(columns)}";
    }

    private string OnConflict(IReadOnlyList<string> columns)
    {
        var updates = columns.Where(c => !keyColumns!.Contains(c, StringComparer.Ordinal)).Select(c => $"{SqlDialect.QuoteName(c)} = excluded.{SqlDialect.QuoteName(c)}").ToList();
        return $" ON CONFLICT ({string.Join(", ", keyColumns!.Select(SqlDialect.QuoteName))}) DO " + (updates.Count == 0 ? "NOTHING" : "UPDATE SET " + string.Join(", ", updates));
    }

    private async Task<bool> ExistsAsync(DbTransaction transaction, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        var parameter = command.CreateParameter();
        parameter.ParameterName = "@t";
        if (dialect == SqlDialectKind.Sqlite)
        {
            command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = @t";
            parameter.Value = table;
        }
        else
        {
            command.CommandText = "SELECT CASE WHEN to_regclass(@t) IS NULL THEN 0 ELSE 1 END";
            parameter.Value = SqlDialect.QuoteName(table);
        }

        command.Parameters.Add(parameter);
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private async Task<long> ScalarAsync(string sql, DbTransaction transaction, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return Convert.ToInt64(await command.ExecuteScalarAsync(cancellation).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
    }

    private async Task ExecuteAsync(string sql, DbTransaction transaction, CancellationToken cancellation)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
    }

    private static NpgsqlDbType CopyType(ItemDataType type) => type.Kind switch
    {
        ItemTypeKind.Utf8 => NpgsqlDbType.Text,
        ItemTypeKind.Int32 => NpgsqlDbType.Integer,
        ItemTypeKind.Int64 => NpgsqlDbType.Bigint,
        ItemTypeKind.Float64 => NpgsqlDbType.Double,
        ItemTypeKind.Boolean => NpgsqlDbType.Boolean,
        ItemTypeKind.Date32 => NpgsqlDbType.Date,
        ItemTypeKind.Timestamp => NpgsqlDbType.TimestampTz,
        ItemTypeKind.Decimal128 => NpgsqlDbType.Numeric,
        ItemTypeKind.Binary => NpgsqlDbType.Bytea,
        _ => throw new NotSupportedException($"No PostgreSQL type for {type}."),
    };

    private abstract class Writer : IAsyncDisposable
    {
        public abstract Task WriteAsync(RecordBatch batch, CancellationToken cancellation);

        public abstract Task CompleteAsync(CancellationToken cancellation);

        public abstract ValueTask DisposeAsync();
    }

    /// <summary>
    /// Binary COPY: rows stream to the server with no statement per row, each value encoded from
    /// the Arrow buffers by <see cref="PostgresCopyWriter"/> (no object, no string per value).
    /// </summary>
    private sealed class CopyWriter(NpgsqlRawCopyStream copy, Func<Task>? afterCopy) : Writer
    {
        private readonly PostgresCopyWriter _rows = new(copy);
        private bool _completed;

        public override Task WriteAsync(RecordBatch batch, CancellationToken cancellation) => _rows.WriteAsync(batch, cancellation);

        public override async Task CompleteAsync(CancellationToken cancellation)
        {
            await _rows.CompleteAsync(cancellation).ConfigureAwait(false);
            _completed = true;
            await copy.DisposeAsync().ConfigureAwait(false); // ends the COPY: the server's refusal of a value surfaces here
            if (afterCopy is not null)
            {
                await afterCopy().ConfigureAwait(false);
            }
        }

        public override async ValueTask DisposeAsync()
        {
            if (!_completed)
            {
                // A failed or cancelled pull: abort the COPY (the transaction is rolled back) rather than end it.
                try
                {
                    await copy.CancelAsync().ConfigureAwait(false);
                }
                catch (Exception e) when (e is PostgresException or NpgsqlException or IOException or ObjectDisposedException)
                {
                    // The original failure is what the user needs to see.
                }
            }

            await copy.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed class InsertWriter(DbCommand insert, SqlDialectKind dialect) : Writer
    {
        public override async Task WriteAsync(RecordBatch batch, CancellationToken cancellation)
        {
            for (var r = 0; r < batch.Length; r++)
            {
                for (var c = 0; c < batch.ColumnCount; c++)
                {
                    insert.Parameters[c].Value = SqlDialect.Parameter(dialect, ArrowValues.Get(batch.Column(c), r));
                }

                // SQLite's provider is synchronous underneath: the async call only adds a task per row.
                if (dialect == SqlDialectKind.Sqlite)
                {
                    cancellation.ThrowIfCancellationRequested();
                    insert.ExecuteNonQuery();
                }
                else
                {
                    await insert.ExecuteNonQueryAsync(cancellation).ConfigureAwait(false);
                }
            }
        }

        public override Task CompleteAsync(CancellationToken cancellation) => Task.CompletedTask;

        public override ValueTask DisposeAsync() => insert.DisposeAsync();
    }
}

/// <summary>The target table cannot take the rows as asked (it holds rows, a key column is missing): a choice for the user (exit 2).</summary>
public sealed class SqlTargetException(string message) : Exception(message);
