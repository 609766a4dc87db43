using System.Diagnostics;

namespace GovShare.Cli.Commands;

/// <summary>
/// Progress of a long transfer on stderr: rows, MB and MB/s. On a terminal one line redrawn in
/// place a few times a second; when stderr is a file or pipe, a plain line every 10 seconds.
/// </summary>
internal sealed class TransferProgressLine(string verb)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly bool _terminal = !Console.IsErrorRedirected;
    private readonly Lock _lock = new();
    private TimeSpan? _shown; // Null until the first line: the first report always shows.
    private long _rows;
    private long _bytes;

    public IProgress<long> Rows => new Progress(this, rows: true);

    public IProgress<long> Bytes => new Progress(this, rows: false);

    public void Done()
    {
        lock (_lock)
        {
            Console.Error.Write(Line() + Environment.NewLine);
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
            Console.Error.Write(_terminal ? Line() + "   " : Line() + Environment.NewLine);
        }
    }

    private string Line()
    {
        var seconds = Math.Max(_clock.Elapsed.TotalSeconds, 0.001);
        var megabytes = _bytes / 1_000_000.0;
        var rows = _rows > 0 ? $"{_rows:N0} rows, " : "";
        return $"{(_terminal ? "\r" : "")}{verb}: {rows}{megabytes:N1} MB, {megabytes / seconds:N1} MB/s, {_clock.Elapsed:hh\\:mm\\:ss}";
    }

    private sealed class Progress(TransferProgressLine line, bool rows) : IProgress<long>
    {
        public void Report(long value) => line.Update(value, rows);
    }
}
