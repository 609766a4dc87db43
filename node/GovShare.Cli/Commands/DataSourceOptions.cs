using System.CommandLine;
using System.Data.Common;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary>Where push and sync read a department's data: a CSV, JSON lines or Arrow file, or an SQL table or query.</summary>
internal sealed class DataSourceOptions
{
    public Option<string?> Csv { get; } = new("--csv") { Description = "A CSV file with a header row (UTF-8 or GB18030, detected); '-' reads standard input." };
    public Option<string?> Jsonl { get; } = new("--jsonl") { Description = "A JSON lines file." };
    public Option<string?> Arrow { get; } = new("--arrow") { Description = "An Arrow IPC file." };
    public Option<string?> Sqlite { get; } = new("--sqlite") { Description = "An SQLite database file (with --table or --query)." };
    public Option<string?> Postgres { get; } = new("--postgres") { Description = "A PostgreSQL connection string: Host=db;Database=dept;Username=…, or as psql takes it, 'host=db dbname=dept user=…' or postgresql://user@db/dept (with --table or --query)." };
    public Option<string?> Table { get; } = new("--table") { Description = "The table to read." };
    public Option<string?> Query { get; } = new("--query") { Description = "The SQL query to read." };
    public Option<string?> Mapping { get; } = new("--mapping") { Description = "Mapping file: source column → item name and type (see adapters/README.md)." };
    public Option<string?> Encoding { get; } = new("--encoding") { Description = "The CSV's encoding: utf-8 or gb18030 (default: detected — a BOM decides, else UTF-8 if the whole file is valid UTF-8, else GB18030)." };
    public Option<string> Delimiter { get; } = new("--delimiter") { Description = "The CSV's field delimiter: one character, or 'tab' (default ',').", DefaultValueFactory = _ => "," };
    public Option<string> TimeZone { get; } = new("--time-zone") { Description = "The zone of date-times written without an offset: an offset (+08:00), 'UTC' or an IANA name (default +08:00, Beijing time). Times with an offset or Z keep it; the node stores UTC.", DefaultValueFactory = _ => "+08:00" };

    public Option<string?> DateTimeFormat { get; } = new("--datetime-format") { Description = "The one format CSV/JSON timestamps are written in, .NET style, e.g. 'yyyy/MM/dd HH:mm' or 'dd.MM.yyyy HH:mm:ss zzz' (default: ISO 8601, or 'yyyy-MM-dd HH:mm[:ss[.ffffff]]' and 'yyyy/M/d H:mm[:ss]' local times). Without an offset in it, times are at --time-zone." };
    public Option<string?> DateFormat { get; } = new("--date-format") { Description = "The one format CSV/JSON dates are written in, .NET style, e.g. 'dd.MM.yyyy' (default: yyyy-MM-dd, yyyy/MM/dd, yyyyMMdd, yyyy-M-d or yyyy/M/d)." };

    /// <summary>Rows in the first record batch (then doubling up to the usual size); null: all batches the usual size (<see cref="ReadOptions.FirstBatchSize"/>).</summary>
    public int? FirstBatchSize { get; init; }

    /// <summary>The size of the source file once resolved (CSV), for a progress display's total.</summary>
    public long? FileBytes { get; private set; }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Csv, Jsonl, Arrow, Sqlite, Postgres, Table, Query, Mapping, Encoding, Delimiter, TimeZone, DateTimeFormat, DateFormat })
        {
            command.Add(option);
        }
    }

    /// <summary>
    /// A factory of the chosen source (a sync reads it more than once) and the database connection
    /// it uses, if any, for the caller to dispose.
    /// </summary>
    /// <summary>
    /// The columns and types to read a CSV or JSON lines source with when no <c>--mapping</c> is
    /// given (otherwise every column is text); read when the source is opened, so a command may set
    /// it after a first look at the header. <c>compare</c> types them by the catalog entry.
    /// </summary>
    public ItemMapping? TextMapping { get; set; }

    /// <summary>A CSV or JSON lines source without <c>--mapping</c>: its columns are read as text unless <see cref="TextMapping"/> types them.</summary>
    public bool IsUnmappedText(ParseResult parse) => parse.GetValue(Mapping) is null && (parse.GetValue(Csv) is not null || parse.GetValue(Jsonl) is not null);

    public (Func<IRecordSource> Open, DbConnection? Connection) Resolve(ParseResult parse, IProgress<long>? bytesRead = null)
    {
        var given = new[] { Csv, Jsonl, Arrow, Sqlite, Postgres }.Where(o => parse.GetValue(o) is not null).ToList();
        if (given.Count != 1)
        {
            throw new ArgumentException("Give exactly one source: --csv, --jsonl, --arrow, --sqlite or --postgres.");
        }

        var mapping = parse.GetValue(Mapping) is { } path ? ItemMapping.Load(path) : null;
        var options = ReadOptions.Default with
        {
            AssumedOffset = ParseZone(parse.GetValue(TimeZone)!),
            BytesRead = bytesRead,
            TimestampFormat = ParseFormat(parse.GetValue(DateTimeFormat), "--datetime-format", new DateTime(2026, 3, 1, 8, 30, 5)),
            DateFormat = ParseFormat(parse.GetValue(DateFormat), "--date-format", new DateTime(2026, 3, 1)),
            FirstBatchSize = FirstBatchSize,
        };

        if (parse.GetValue(Csv) is { } csv)
        {
            var encoding = parse.GetValue(Encoding) is { } name ? TextEncodings.Get(name) : null;
            var delimiter = ParseDelimiter(parse.GetValue(Delimiter)!);
            var file = csv == "-" ? StandardInput.Spool() : csv;
            ExistingFile("--csv", file);

            FileBytes = new FileInfo(file).Length;
            return (() => new CsvSource(file, mapping ?? TextMapping, encoding, options, delimiter), null);
        }

        if (parse.GetValue(Jsonl) is { } jsonl)
        {
            var file = jsonl == "-" ? StandardInput.Spool() : jsonl;
            ExistingFile("--jsonl", file);

            return (() => new JsonLinesSource(file, mapping ?? TextMapping, options), null);
        }

        if (parse.GetValue(Arrow) is { } arrow)
        {
            ExistingFile("--arrow", arrow);

            return (() => new ArrowFileSource(arrow, mapping), null);
        }

        if (parse.GetValue(Sqlite) is { } sqliteFile)
        {
            // SQLite would create an empty database and then find no table: say what is wrong.
            ExistingFile("--sqlite", sqliteFile);
        }

        var (connection, _) = DepartmentCommand.OpenDatabase(parse.GetValue(Sqlite), parse.GetValue(Postgres));
        var table = parse.GetValue(Table);
        var query = parse.GetValue(Query);
        if ((table is null) == (query is null))
        {
            connection.Dispose();
            throw new ArgumentException("Give --table or --query (one of them) with a database.");
        }

        return (() => table is not null ? SqlSource.ForTable(connection, table, mapping, options) : new SqlSource(connection, query!, mapping, options), connection);
    }

    /// <summary><c>,</c>, <c>;</c>, <c>|</c>, <c>tab</c> or <c>\t</c>: one character.</summary>
    /// <summary>A custom date/time format, checked now (a format .NET cannot use is a usage error, exit 2); null stays null.</summary>
    internal static string? ParseFormat(string? format, string option, DateTime sample)
    {
        if (format is null)
        {
            return null;
        }

        try
        {
            // A format that writes nothing of the value (or one .NET rejects) would read nothing either.
            var written = sample.ToString(format, System.Globalization.CultureInfo.InvariantCulture);
            var other = sample.AddYears(1).AddMonths(1).AddDays(1).AddHours(1).AddMinutes(1).AddSeconds(1).ToString(format, System.Globalization.CultureInfo.InvariantCulture);
            if (format.Length == 0 || written == other)
            {
                throw new FormatException();
            }
        }
        catch (FormatException)
        {
            throw new ArgumentException($"{option}: '{format}' is not a date/time format (.NET custom format, e.g. yyyy/MM/dd HH:mm).");
        }

        return format;
    }

    /// <summary>A source file named by <paramref name="option"/>: a missing file or a folder is said so, naming both.</summary>
    internal static void ExistingFile(string option, string path)
    {
        if (Directory.Exists(path))
        {
            throw new ArgumentException($"{option}: {Path.GetFullPath(path)} is a folder; give a file.");
        }

        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{option}: {Path.GetFullPath(path)} does not exist.");
        }
    }

    /// <summary>
    /// A file a pull writes, checked before anything is asked of the node: a folder, or a path in a
    /// folder that does not exist, is a mistake to name (not .NET's message about a .partial file).
    /// </summary>
    internal static string TargetFile(string option, string path)
    {
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full))
        {
            throw new ArgumentException($"{option}: {full} is a folder; give a file.");
        }

        if (Path.GetDirectoryName(full) is { } folder && !Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"{option}: the folder {folder} does not exist.");
        }

        return path;
    }

    internal static char ParseDelimiter(string text) => text switch
    {
        "tab" or "\\t" or "\t" => '\t',
        { Length: 1 } when text[0] is not ('"' or '\r' or '\n') => text[0],
        _ => throw new ArgumentException($"--delimiter: '{text}' is not one character (or 'tab').", nameof(text)),
    };

    /// <summary>
    /// The offset of local date-times: <c>+08:00</c>, <c>-05:30</c>, <c>UTC</c>/<c>Z</c>, or an IANA
    /// zone taken at its current offset (China has had no daylight saving time since 1991).
    /// </summary>
    internal static TimeSpan ParseZone(string text)
    {
        if (text is "UTC" or "utc" or "Z" or "z")
        {
            return TimeSpan.Zero;
        }

        if (text.Length == 6 && (text[0] == '+' || text[0] == '-') && TimeSpan.TryParseExact(text[1..], @"hh\:mm", System.Globalization.CultureInfo.InvariantCulture, out var offset) && offset <= TimeSpan.FromHours(14))
        {
            return text[0] == '-' ? -offset : offset;
        }

        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(text).GetUtcOffset(DateTimeOffset.UtcNow);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new ArgumentException($"--time-zone: '{text}' is not an offset (+08:00), UTC or a time zone name (Asia/Shanghai).", nameof(text));
        }
    }
}
