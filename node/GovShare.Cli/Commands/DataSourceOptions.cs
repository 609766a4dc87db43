using System.CommandLine;
using System.Data.Common;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary>Where push and sync read a department's data: a CSV, JSON lines or Arrow file, or an SQL table or query.</summary>
internal sealed class DataSourceOptions
{
    public Option<string?> Csv { get; } = new("--csv") { Description = "A CSV file with a header row (UTF-8 or GB18030, detected)." };
    public Option<string?> Jsonl { get; } = new("--jsonl") { Description = "A JSON lines file." };
    public Option<string?> Arrow { get; } = new("--arrow") { Description = "An Arrow IPC file." };
    public Option<string?> Sqlite { get; } = new("--sqlite") { Description = "An SQLite database file (with --table or --query)." };
    public Option<string?> Postgres { get; } = new("--postgres") { Description = "A PostgreSQL connection string (with --table or --query)." };
    public Option<string?> Table { get; } = new("--table") { Description = "The table to read." };
    public Option<string?> Query { get; } = new("--query") { Description = "The SQL query to read." };
    public Option<string?> Mapping { get; } = new("--mapping") { Description = "Mapping file: source column → item name and type (see adapters/README.md)." };
    public Option<string?> Encoding { get; } = new("--encoding") { Description = "The CSV's encoding: utf-8 or gb18030 (detected when not given)." };

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Csv, Jsonl, Arrow, Sqlite, Postgres, Table, Query, Mapping, Encoding })
        {
            command.Add(option);
        }
    }

    /// <summary>
    /// A factory of the chosen source (a sync reads it more than once) and the database connection
    /// it uses, if any, for the caller to dispose.
    /// </summary>
    public (Func<IRecordSource> Open, DbConnection? Connection) Resolve(ParseResult parse)
    {
        var given = new[] { Csv, Jsonl, Arrow, Sqlite, Postgres }.Where(o => parse.GetValue(o) is not null).ToList();
        if (given.Count != 1)
        {
            throw new ArgumentException("Give exactly one source: --csv, --jsonl, --arrow, --sqlite or --postgres.");
        }

        var mapping = parse.GetValue(Mapping) is { } path ? ItemMapping.Load(path) : null;
        if (parse.GetValue(Csv) is { } csv)
        {
            var encoding = parse.GetValue(Encoding) is { } name ? TextEncodings.Get(name) : null;
            return (() => new CsvSource(csv, mapping, encoding), null);
        }

        if (parse.GetValue(Jsonl) is { } jsonl)
        {
            return (() => new JsonLinesSource(jsonl, mapping), null);
        }

        if (parse.GetValue(Arrow) is { } arrow)
        {
            return (() => new ArrowFileSource(arrow, mapping), null);
        }

        var (connection, _) = DepartmentCommand.OpenDatabase(parse.GetValue(Sqlite), parse.GetValue(Postgres));
        var table = parse.GetValue(Table);
        var query = parse.GetValue(Query);
        if ((table is null) == (query is null))
        {
            connection.Dispose();
            throw new ArgumentException("Give --table or --query (one of them) with a database.");
        }

        return (() => table is not null ? SqlSource.ForTable(connection, table, mapping) : new SqlSource(connection, query!, mapping), connection);
    }
}
