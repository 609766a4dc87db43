using System.Diagnostics;
using System.Globalization;

namespace GovShare.Cli.Commands;

/// <summary>
/// Progress of a long transfer on stderr. On a terminal: one line redrawn in place a few times a
/// second with rows, bytes, and — when the total is known — percentage, rate and time left, as
/// <c>aws s3 cp</c> shows it. When stderr is a file or pipe: a plain line every 10 seconds and
/// one at the end, so logs stay readable. The total is rows when the node announced them (a pull),
/// else bytes when the source's size is known (a file pushed); with neither, no percentage and no
/// time left are shown — never a guess — but rows, bytes and the rate still are.
/// </summary>
internal sealed class TransferProgressLine(string verb, long? totalBytes = null)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly Lock _lock = new();
    private TimeSpan? _shown; // Null until the first line: the first report always shows.
    private long _rows;
    private long _bytes;
    private int _width;

    /// <summary>The bytes the transfer will move, when known only after it was set up (a source file's size).</summary>
    public long? Total { get; set; } = totalBytes;

    /// <summary>The rows the transfer will move, when announced (a pull's <c>GovShare-Data-Rows</c>); preferred to <see cref="Total"/>.</summary>
    public long? TotalRows { get; set; }

    public IProgress<long> Rows => new Progress(this, rows: true);

    public IProgress<long> Bytes => new Progress(this, rows: false);

    public void Done()
    {
        lock (_lock)
        {
            if (TotalRows is null && Total is { } total)
            {
                // The source was read to its end: all of it was moved, whatever the last report said.
                _bytes = total;
            }

            Write(Format(verb, Snapshot(done: true)), newLine: true);
        }
    }

    private void Update(long value, bool rows)
    {
        lock (_lock)
        {
            if (rows)
            {
                _rows = value;
            }
            else
            {
                _bytes = value;
            }

            var interval = _terminal ? TimeSpan.FromMilliseconds(250) : TimeSpan.FromSeconds(10);
            if (_shown is { } shown && _clock.Elapsed - shown < interval)
            {
                return;
            }

            _shown = _clock.Elapsed;
            Write(Format(verb, Snapshot(done: false)), newLine: !_terminal);
        }
    }

    private TransferSnapshot Snapshot(bool done) => new(_rows, _bytes, _clock.Elapsed, TotalRows, Total, done);

    private void Write(string line, bool newLine)
    {
        if (_terminal)
        {
            // Redraw in place; pad over a longer previous line.
            Console.Error.Write("\r" + line.PadRight(_width) + (newLine ? Environment.NewLine : ""));
            _width = newLine ? 0 : Math.Max(_width, line.Length);
        }
        else
        {
            Console.Error.Write(line + Environment.NewLine);
        }
    }

    /// <summary>
    /// The line for one moment of a transfer, e.g.
    /// <c>pull: 40,000 rows, 33% of 120,000 rows, 4.1 MB, 20,000 rows/s, ETA 0:04, 0:02</c>.
    /// Pure arithmetic on doubles with every division guarded: no moment — no time elapsed yet,
    /// nothing moved, more moved than announced, totals near <see cref="long.MaxValue"/> — can
    /// throw (the first version of this line threw an OverflowException on every run).
    /// </summary>
    internal static string Format(string verb, TransferSnapshot moment)
    {
        var seconds = moment.Elapsed.TotalSeconds;
        var parts = new List<string>();
        var rows = Math.Max(0, moment.Rows);
        var bytes = Math.Max(0, moment.Bytes);

        // What the percentage and time left are measured in: announced rows, else known bytes.
        (double Done, double Total)? measure = null;
        if (moment.TotalRows is { } totalRows and >= 0)
        {
            parts.Add(Count(rows) + " rows");
            parts.Add(Percent(rows, totalRows) + " of " + Count(totalRows) + " rows");
            if (bytes > 0)
            {
                parts.Add(Size(bytes));
            }

            measure = (rows, totalRows);
        }
        else
        {
            if (rows > 0)
            {
                parts.Add(Count(rows) + " rows");
            }

            if (moment.TotalBytes is { } totalBytes and > 0)
            {
                parts.Add(Percent(bytes, totalBytes) + " of " + Size(totalBytes));
                measure = (bytes, totalBytes);
            }
            else if (bytes > 0)
            {
                parts.Add(Size(bytes));
            }
        }

        // The rate of what is counted against the total (rows of a pull; bytes of a file), else
        // bytes, else rows; none before any time has passed or anything has moved.
        if (seconds > 0)
        {
            if (moment.TotalRows is not null && rows > 0)
            {
                parts.Add(Rate(rows / seconds) + " rows/s");
            }
            else if (bytes > 0)
            {
                parts.Add(Size(bytes / seconds) + "/s");
            }
            else if (rows > 0)
            {
                parts.Add(Rate(rows / seconds) + " rows/s");
            }
        }

        if (!moment.Done && measure is { } m && m.Done > 0 && m.Done < m.Total && seconds > 0)
        {
            // Time left at the rate so far: (total − done) / (done / elapsed).
            parts.Add("ETA " + Clock((m.Total - m.Done) * (seconds / m.Done)));
        }

        parts.Add((moment.Done ? "done in " : "") + Clock(seconds));
        return verb + ": " + string.Join(", ", parts);
    }

    /// <summary>Whole per cent, rounded down (99% until the last row), never above 100; 100% of nothing is done.</summary>
    private static string Percent(double done, double total)
    {
        var percent = total > 0 ? Math.Floor(Math.Clamp(done / total, 0, 1) * 100) : 100;
        return percent.ToString("0", CultureInfo.InvariantCulture) + "%";
    }

    private static string Count(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Rate(double perSecond) => Math.Round(perSecond).ToString("N0", CultureInfo.InvariantCulture);

    /// <summary>Bytes in the unit that shows them (a few kB read are "64.0 kB", not "0.0 MB").</summary>
    internal static string Size(double bytes) => bytes switch
    {
        < 1_000 => bytes.ToString("0", CultureInfo.InvariantCulture) + " B",
        < 1_000_000 => (bytes / 1_000).ToString("N1", CultureInfo.InvariantCulture) + " kB",
        < 1_000_000_000 => (bytes / 1_000_000).ToString("N1", CultureInfo.InvariantCulture) + " MB",
        _ => (bytes / 1_000_000_000).ToString("N1", CultureInfo.InvariantCulture) + " GB",
    };

    /// <summary>
    /// m:ss, or h:mm:ss from an hour; computed on doubles, not TimeSpan (which throws past
    /// ~29,000 years): a time left beyond 99 hours says so rather than count days.
    /// </summary>
    internal static string Clock(double seconds)
    {
        if (double.IsNaN(seconds) || seconds < 0)
        {
            seconds = 0;
        }

        if (seconds >= 100 * 3600)
        {
            return ">99:59:59";
        }

        var whole = (long)seconds;
        var (hours, minutes, secs) = (whole / 3600, whole / 60 % 60, whole % 60);
        return hours > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{hours}:{minutes:00}:{secs:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{minutes}:{secs:00}");
    }

    private sealed class Progress(TransferProgressLine line, bool rows) : IProgress<long>
    {
        public void Report(long value) => line.Update(value, rows);
    }
}

/// <summary>One moment of a transfer, as <see cref="TransferProgressLine.Format"/> draws it.</summary>
internal readonly record struct TransferSnapshot(long Rows, long Bytes, TimeSpan Elapsed, long? TotalRows, long? TotalBytes, bool Done);
