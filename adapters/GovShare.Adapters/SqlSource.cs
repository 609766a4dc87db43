using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Apache.Arrow;
using GovShare.Contract;
using Npgsql;
using Npgsql.Schema;
using NpgsqlTypes;

namespace GovShare.Adapters;

/// <summary>
/// The result of an SQL query through ADO.NET (SQLite, PostgreSQL, any provider), read as record
/// batches. Rows stream from the data reader; the table is never held whole.
/// </summary>
public sealed class SqlSource(DbConnection connection, string query, ItemMapping? mapping = null, ReadOptions? options = null) : IRecordSource
{
    /// <summary>All rows of a table (<c>schema.table</c> allowed), its name quoted.</summary>
    public static SqlSource ForTable(DbConnection connection, string table, ItemMapping? mapping = null, ReadOptions? options = null) =>
        new(connection, $"SELECT * FROM {SqlDialect.QuoteName(table)}", mapping, options) { Name = $"Table '{table}'" };

    /// <summary>How mapping errors name this source: the table the user gave, or "query" (its text may be long).</summary>
    private string Name { get; init; } = "query";

    public async IAsyncEnumerable<RecordBatch> ReadAsync([EnumeratorCancellation] CancellationToken cancellation = default)
    {
        string? withTypes = null;
        if (connection.State != System.Data.ConnectionState.Open)
        {
            withTypes = connection is NpgsqlConnection closed ? PostgresBinaryCopy.SkipTypeLoading(closed) : null;
            await connection.OpenAsync(cancellation).ConfigureAwait(false);
            PhaseTrace.Mark("database connection opened");
        }

        if (connection is NpgsqlConnection npgsql)
        {
            await foreach (var batch in ReadByCopyAsync(npgsql, withTypes, cancellation).ConfigureAwait(false))
            {
                yield return batch;
            }

            yield break;
        }

        await using var command = connection.CreateCommand();
        command.CommandText = query;
        await using var reader = await command.ExecuteReaderAsync(cancellation).ConfigureAwait(false);
        var header = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        var map = mapping ?? Infer(reader, Name);
        var ordinals = CsvSource.Ordinals(header, map, Name);
        var assembler = new RecordBatchAssembler(map, options ?? ReadOptions.Default);
        long row = 0;
        var yielded = false;
        while (await reader.ReadAsync(cancellation).ConfigureAwait(false))
        {
            row++;
            for (var c = 0; c < ordinals.Length; c++)
            {
                assembler.AppendValue(row, c, reader.IsDBNull(ordinals[c]) ? null : reader.GetValue(ordinals[c]));
            }

            if (assembler.IsFull && assembler.Flush() is { } batch)
            {
                yielded = true;
                yield return batch;
            }
        }

        var last = assembler.Flush();
        assembler.Errors.ThrowIfAny();
        if (last is { Length: > 0 } || !yielded)
        {
            yield return last!;
        }
    }

    /// <summary>
    /// PostgreSQL: the query's rows through binary COPY (Npgsql's exporter), as <c>psql \copy</c>
    /// reads them — one stream in PostgreSQL's binary format instead of a result set row by row.
    /// The columns' types come from the query's schema (run with <c>SchemaOnly</c>), each value read
    /// as the CLR type the data reader would give, so both paths convert alike.
    /// </summary>
    /// <param name="npgsql">The open connection.</param>
    /// <param name="withTypes">
    /// When this source opened the connection without loading the server's type catalog
    /// (<see cref="PostgresBinaryCopy.SkipTypeLoading"/>), its original connection string: a query
    /// with a column type the raw reader does not decode (a domain, an enum, …) reopens with it, so
    /// Npgsql's exporter knows that type as before.
    /// </param>
    /// <param name="cancellation">Stops the read.</param>
    private async IAsyncEnumerable<RecordBatch> ReadByCopyAsync(NpgsqlConnection npgsql, string? withTypes, [EnumeratorCancellation] CancellationToken cancellation)
    {
        ItemMapping map;
        int[] ordinals;
        List<Func<NpgsqlBinaryExporter, object>>? readers;
        uint[] oids;
        while (true)
        {
            await using var command = npgsql.CreateCommand();
            command.CommandText = query;
            await using var schemaReader = await command.ExecuteReaderAsync(CommandBehavior.SchemaOnly, cancellation).ConfigureAwait(false);
            var header = Enumerable.Range(0, schemaReader.FieldCount).Select(schemaReader.GetName).ToList();
            oids = [.. Enumerable.Range(0, schemaReader.FieldCount).Select(((NpgsqlDataReader)schemaReader).GetDataTypeOID)];
            var needed = mapping is null ? Enumerable.Range(0, oids.Length) : CsvSource.Ordinals(header, mapping, Name).AsEnumerable();
            if (withTypes is not null && !needed.All(i => PostgresBinaryCopy.CanRead(oids[i])))
            {
                await schemaReader.DisposeAsync().ConfigureAwait(false);
                await npgsql.CloseAsync().ConfigureAwait(false);
                npgsql.ConnectionString = withTypes;
                withTypes = null;
                await npgsql.OpenAsync(cancellation).ConfigureAwait(false);
                continue;
            }

            map = mapping ?? Infer(schemaReader, Name);
            ordinals = CsvSource.Ordinals(header, map, Name);
            // Npgsql's column schema (CLR types, for its exporter) only when a column needs the exporter.
            readers = ordinals.All(o => PostgresBinaryCopy.CanRead(oids[o])) ? null
                : [.. schemaReader.GetColumnSchema().Select(c => CopyReader(c.DataType!, ((NpgsqlDbColumn)c).NpgsqlDbType))];
            break;
        }

        var wanted = new int[oids.Length];
        System.Array.Fill(wanted, -1);
        for (var c = 0; c < ordinals.Length; c++)
        {
            wanted[ordinals[c]] = c;
        }

        var assembler = new RecordBatchAssembler(map, options ?? ReadOptions.Default);
        var copy = $"COPY ({query.TrimEnd().TrimEnd(';')}) TO STDOUT (FORMAT BINARY)";
        if (readers is null)
        {
            // The usual column types: decoded from the wire bytes here, no object per value.
            await foreach (var batch in ReadRawAsync(npgsql, copy, oids, wanted, assembler, cancellation).ConfigureAwait(false))
            {
                yield return batch;
            }

            yield break;
        }

        long row = 0;
        var yielded = false;
        var exporter = await npgsql.BeginBinaryExportAsync(copy, cancellation).ConfigureAwait(false);
        await using (exporter.ConfigureAwait(false))
        {
            // The synchronous reads serve from Npgsql's buffer; it refills from the socket as needed.
            while (exporter.StartRow() != -1)
            {
                cancellation.ThrowIfCancellationRequested();
                row++;
                for (var i = 0; i < readers.Count; i++)
                {
                    if (wanted[i] < 0)
                    {
                        exporter.Skip();
                    }
                    else if (exporter.IsNull)
                    {
                        exporter.Skip();
                        assembler.AppendValue(row, wanted[i], null);
                    }
                    else
                    {
                        assembler.AppendValue(row, wanted[i], readers[i](exporter));
                    }
                }

                if (assembler.IsFull && assembler.Flush() is { } batch)
                {
                    yielded = true;
                    yield return batch;
                }
            }
        }

        var last = assembler.Flush();
        assembler.Errors.ThrowIfAny();
        if (last is { Length: > 0 } || !yielded)
        {
            yield return last!;
        }
    }

    private static async IAsyncEnumerable<RecordBatch> ReadRawAsync(NpgsqlConnection npgsql, string copy, uint[] oids, int[] wanted, RecordBatchAssembler assembler,
        [EnumeratorCancellation] CancellationToken cancellation)
    {
        var yielded = false;
        PhaseTrace.Mark("query's schema read; COPY starting");
        var stream = await npgsql.BeginRawBinaryCopyAsync(copy, cancellation).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var reader = new PostgresCopyReader(stream, oids, wanted, assembler);
            bool more;
            do
            {
                more = await reader.ReadAsync(cancellation).ConfigureAwait(false);
                if (assembler.IsFull && assembler.Flush() is { } batch)
                {
                    yielded = true;
                    yield return batch;
                }
            }
            while (more);

            // Read to the end of the COPY, so the connection is ready for the next command.
            var rest = new byte[256];
            while (await stream.ReadAsync(rest, cancellation).ConfigureAwait(false) > 0)
            {
            }
        }

        var last = assembler.Flush();
        assembler.Errors.ThrowIfAny();
        if (last is { Length: > 0 } || !yielded)
        {
            yield return last!;
        }
    }

    /// <summary>Reads one column's value from the exporter as the CLR type its data reader gives.</summary>
    private static Func<NpgsqlBinaryExporter, object> CopyReader(Type type, NpgsqlDbType? dbType)
    {
        if (dbType is not { } t)
        {
            // No binary mapping known (a domain or extension type): read it as text.
            return e => e.Read<string>(NpgsqlDbType.Text);
        }

        return type switch
        {
            _ when type == typeof(string) => e => e.Read<string>(t),
            _ when type == typeof(int) => e => e.Read<int>(t),
            _ when type == typeof(short) => e => e.Read<short>(t),
            _ when type == typeof(long) => e => e.Read<long>(t),
            _ when type == typeof(double) => e => e.Read<double>(t),
            _ when type == typeof(float) => e => e.Read<float>(t),
            _ when type == typeof(bool) => e => e.Read<bool>(t),
            _ when type == typeof(decimal) => e => e.Read<decimal>(t),
            _ when type == typeof(DateTime) => e => e.Read<DateTime>(t),
            _ when type == typeof(DateOnly) => e => e.Read<DateOnly>(t),
            _ when type == typeof(DateTimeOffset) => e => e.Read<DateTimeOffset>(t),
            _ when type == typeof(Guid) => e => e.Read<Guid>(t),
            _ when type == typeof(byte[]) => e => e.Read<byte[]>(t),
            _ => e => e.Read<object>(t),
        };
    }

    /// <summary>Item types from the provider's column types, when no mapping is given.</summary>
    private static ItemMapping Infer(DbDataReader reader, string source)
    {
        var schema = reader.GetColumnSchema();
        var columns = new List<ColumnMapping>();
        var errors = new List<string>();
        for (var i = 0; i < reader.FieldCount; i++)
        {
            var name = reader.GetName(i);
            var type = reader.GetFieldType(i);
            ItemDataType? item = type switch
            {
                _ when type == typeof(string) || type == typeof(Guid) => ItemDataType.Utf8,
                _ when type == typeof(int) || type == typeof(short) || type == typeof(byte) => ItemDataType.Int32,
                _ when type == typeof(long) => ItemDataType.Int64,
                _ when type == typeof(double) || type == typeof(float) => ItemDataType.Float64,
                _ when type == typeof(bool) => ItemDataType.Boolean,
                _ when type == typeof(DateOnly) => ItemDataType.Date32,
                _ when type == typeof(DateTime) || type == typeof(DateTimeOffset) => ItemDataType.Timestamp,
                _ when type == typeof(byte[]) => ItemDataType.Binary,
                _ when type == typeof(decimal) && schema[i].NumericPrecision is > 0 and <= 38 and var p && schema[i].NumericScale is >= 0 and var s =>
                    ItemDataType.Decimal(p, s),
                _ => null,
            };
            if (item is null)
            {
                errors.Add($"Column '{name}' ({type.Name}) has no obvious item type; give a mapping for it.");
            }
            else
            {
                columns.Add(new ColumnMapping(name, name, item));
            }
        }

        return errors.Count == 0 ? new ItemMapping(columns) : throw new MappingException(source, errors);
    }
}

/// <summary>The SQL dialects the adapters write tables in.</summary>
public enum SqlDialectKind
{
    Sqlite,
    PostgreSql,
}

/// <summary>Column types, names and parameter values for one SQL dialect.</summary>
internal static class SqlDialect
{
    /// <summary>Quotes each part of a possibly schema-qualified name, doubling embedded quotes.</summary>
    public static string QuoteName(string name) =>
        string.Join('.', name.Split('.').Select(part => "\"" + part.Replace("\"", "\"\"", StringComparison.Ordinal) + "\""));

    public static string ColumnType(SqlDialectKind dialect, ItemDataType type) => (dialect, type.Kind) switch
    {
        (SqlDialectKind.Sqlite, ItemTypeKind.Utf8 or ItemTypeKind.Date32 or ItemTypeKind.Timestamp or ItemTypeKind.Decimal128) => "TEXT",
        (SqlDialectKind.Sqlite, ItemTypeKind.Int32 or ItemTypeKind.Int64 or ItemTypeKind.Boolean) => "INTEGER",
        (SqlDialectKind.Sqlite, ItemTypeKind.Float64) => "REAL",
        (SqlDialectKind.Sqlite, ItemTypeKind.Binary) => "BLOB",
        (_, ItemTypeKind.Utf8) => "text",
        (_, ItemTypeKind.Int32) => "integer",
        (_, ItemTypeKind.Int64) => "bigint",
        (_, ItemTypeKind.Float64) => "double precision",
        (_, ItemTypeKind.Boolean) => "boolean",
        (_, ItemTypeKind.Date32) => "date",
        (_, ItemTypeKind.Timestamp) => "timestamptz",
        (_, ItemTypeKind.Decimal128) => $"numeric({type.Precision},{type.Scale})",
        (_, ItemTypeKind.Binary) => "bytea",
        _ => throw new NotSupportedException($"No column type for {type}."),
    };

    /// <summary>A value as the dialect's provider binds it; SQLite keeps dates and times as ISO text.</summary>
    public static object Parameter(SqlDialectKind dialect, object? value) => (dialect, value) switch
    {
        (_, null) => DBNull.Value,
        (SqlDialectKind.Sqlite, DateOnly d) => d.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
        (SqlDialectKind.Sqlite, DateTimeOffset t) => ArrowValues.TimestampText(t),
        (SqlDialectKind.Sqlite, decimal m) => m.ToString(System.Globalization.CultureInfo.InvariantCulture),
        (SqlDialectKind.PostgreSql, DateTimeOffset t) => t.UtcDateTime,
        (_, var v) => v,
    };
}
