namespace GovShare.Node.Logs;

/// <summary>
/// The entries a <see cref="LogWriter"/> made durable, handed to one reader that follows the log
/// (the aggregates' tail, the Kafka relay) in memory, as the writer built them, so that reader does
/// not read back and parse what was just written. The log file stays the source of truth: a reader
/// takes from here only a run that begins exactly where it stands, and reads the file for anything
/// else — its first catch-up after a start, a gap left when it fell more than
/// <see cref="Capacity"/> entries behind (the oldest are dropped), another replica's chain.
/// Entries are added after their fsync and before the writer's durable sequence passes them, so
/// what a reader may read is here unless it was dropped. <see cref="LogWriter.Follow"/> makes one;
/// disposing it stops the feed.
/// </summary>
public sealed class LogFollower : IDisposable
{
    /// <summary>
    /// How many entries are held for a reader that has not taken them: 8,192 one-row pull records
    /// are about 14 MB (line, record bytes and entry each), a second of far more traffic than two
    /// cores serve, against readers that take every 100 ms (aggregates) or at once (relay).
    /// </summary>
    public const int Capacity = 8192;

    private readonly Queue<(LogEntry Entry, LogPosition At)> _entries = new();
    private readonly Lock _lock = new();
    private readonly Action<LogFollower> _stop;
    private TaskCompletionSource? _held;
    private int _heldAtLeast = 1;
    private bool _disposed;

    internal LogFollower(LogKind log, Action<LogFollower> stop)
    {
        Log = log;
        _stop = stop;
    }

    /// <summary>The log followed.</summary>
    public LogKind Log { get; }

    /// <summary>Entries held now (tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _entries.Count;
            }
        }
    }

    /// <summary>
    /// Moves into <paramref name="into"/> the held entries from <paramref name="from"/> on, at most
    /// <paramref name="max"/> and none after <paramref name="to"/>, in sequence order; entries before
    /// <paramref name="from"/> are dropped. Takes nothing when the first held entry is not
    /// <paramref name="from"/>: the reader then reads those <paramref name="max"/> entries from the
    /// file, so the held ones among them are dropped too. Returns how many were taken.
    /// </summary>
    public int Take(long from, long to, int max, List<(LogEntry Entry, LogPosition At)> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        lock (_lock)
        {
            while (_entries.TryPeek(out var head) && head.Entry.Sequence < from)
            {
                _entries.Dequeue();
            }

            if (_entries.TryPeek(out var first) && first.Entry.Sequence != from)
            {
                var read = from + Math.Min(max, to - from + 1) - 1;
                while (_entries.TryPeek(out var head) && head.Entry.Sequence <= read)
                {
                    _entries.Dequeue();
                }

                return 0;
            }

            var taken = 0;
            var next = from;
            while (taken < max && _entries.TryPeek(out var head) && head.Entry.Sequence == next && next <= to)
            {
                into.Add(_entries.Dequeue());
                taken++;
                next++;
            }

            return taken;
        }
    }

    /// <summary>
    /// Completes when at least <paramref name="atLeast"/> entries are held (at once if they are now),
    /// or when this is disposed: a reader that folds on a timer can instead take the groups soon
    /// after they are handed over, so the entries do not live long enough to be promoted by the
    /// collections of a busy node, and a few groups at a time rather than one pass per group.
    /// </summary>
    public Task WhenHeld(int atLeast = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(atLeast, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(atLeast, Capacity);
        lock (_lock)
        {
            if (_entries.Count >= atLeast || _disposed)
            {
                return Task.CompletedTask;
            }

            _heldAtLeast = atLeast;
            return (_held ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;
        }
    }

    /// <summary>The writer's hand-over of one durable group, in sequence order.</summary>
    internal void Add(List<(LogEntry Entry, LogPosition At)> group)
    {
        TaskCompletionSource? held;
        lock (_lock)
        {
            foreach (var item in group)
            {
                if (_entries.Count >= Capacity)
                {
                    // A reader this far behind reads the file for what it missed.
                    _entries.Dequeue();
                }

                _entries.Enqueue(item);
            }

            held = null;
            if (_entries.Count >= _heldAtLeast)
            {
                (held, _held) = (_held, null);
            }
        }

        // Outside the lock, and the waiter's continuation runs elsewhere: the writer never runs a reader's code.
        held?.TrySetResult();
    }

    public void Dispose()
    {
        _stop(this);
        TaskCompletionSource? held;
        lock (_lock)
        {
            _entries.Clear();
            _disposed = true;
            (held, _held) = (_held, null);
        }

        held?.TrySetResult();
    }
}
