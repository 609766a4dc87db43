using System.Diagnostics;
using System.Globalization;

namespace GovShare.Cli.Commands;

/// <summary>
/// Progress of a long transfer on stderr. On a terminal: one line redrawn in place a few times a
/// second with rows, bytes, and — when the total is known — percentage, rate and time left, as
/// <c>aws s3 cp</c> shows it. When stderr is a file or pipe: a plain line every 10 seconds and
/// one at the end, so logs stay readable.
/// </summary>
internal sealed class TransferProgressLine(string verb, long? totalBytes = null)
{
    private long? _total = totalBytes;

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly Lock _lock = new();
    private TimeSpan? _shown; // Null until the first line: the first report always shows.
    private long _rows;
    private long _bytes;
    private int _width;

    /// <summary>The bytes the transfer will move, when known only after it was set up (a source file's size).</summary>
    public long? Total
    {
        get => _total;
        set => _total = value;
    }

    public IProgress<long> Rows => new Progress(this, rows: true);

    public IProgress<long> Bytes => new Progress(this, rows: false);

    public void Done()
    {
        lock (_lock)
        {
            if (_total is { } total)
            {
                _bytes = total;
            }

            Write(Line(done: true), newLine: true);
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
            Write(Line(done: false), newLine: !_terminal);
        }
    }

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

    private string Line(bool done)
    {
        var elapsed = _clock.Elapsed;
        var seconds = Math.Max(elapsed.TotalSeconds, 0.001);
        var parts = new List<string>();
        if (_rows > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{_rows:N0} rows"));
        }

        if (_total is { } total and > 0)
        {
            var fraction = Math.Min(1.0, (double)_bytes / total);
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{fraction * 100:0}% of {Megabytes(total)}"));
        }
        else if (_bytes > 0)
        {
            parts.Add(Megabytes(_bytes));
        }

        if (_bytes > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{_bytes / 1_000_000.0 / seconds:N1} MB/s"));
        }
        else if (_rows > 0)
        {
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{_rows / seconds:N0} rows/s"));
        }

        if (!done && _total is { } all and > 0 && _bytes > 0 && _bytes < all)
        {
            parts.Add("ETA " + Clock(TimeSpan.FromSeconds((all - _bytes) / (_bytes / seconds))));
        }

        parts.Add((done ? "done in " : "") + Clock(elapsed));
        return $"{verb}: {string.Join(", ", parts)}";
    }

    private static string Megabytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1_000_000.0:N1} MB");

    private static string Clock(TimeSpan span) => span.ToString(span.TotalHours >= 1 ? @"h\:mm\:ss" : @"m\:ss", CultureInfo.InvariantCulture);

    private sealed class Progress(TransferProgressLine line, bool rows) : IProgress<long>
    {
        public void Report(long value) => line.Update(value, rows);
    }
}
