namespace GovShare.Node.Compare;

/// <summary>
/// Admission of comparisons: how many run at once (each may hold its memory budget), and how many
/// one department made of one resource in the last hour (anti-enumeration). In memory, per node
/// process: with several replicas each counts its own, so the bound is per replica.
/// </summary>
internal sealed class CompareGate
{
    /// <summary>The folder under the data folder that holds the spill files of comparisons in progress.</summary>
    public const string SpillFolderName = "compare-spill";

    private static readonly TimeSpan Window = TimeSpan.FromHours(1);

    private readonly Lock _gate = new();
    private readonly Dictionary<(string Department, string Resource), Queue<DateTimeOffset>> _recent = [];
    private int _running;
    private string? _spillRoot;

    /// <summary>
    /// Counts a comparison of <paramref name="resource"/> by <paramref name="department"/>; null when
    /// admitted, else how long until the oldest in the window leaves it.
    /// </summary>
    public TimeSpan? TryCount(string department, string resource, int perHour, DateTimeOffset now)
    {
        lock (_gate)
        {
            if (!_recent.TryGetValue((department, resource), out var times))
            {
                _recent[(department, resource)] = times = new Queue<DateTimeOffset>();
            }

            while (times.TryPeek(out var oldest) && oldest <= now - Window)
            {
                times.Dequeue();
            }

            if (times.Count >= Math.Max(1, perHour))
            {
                return times.Peek() + Window - now;
            }

            times.Enqueue(now);
            return null;
        }
    }

    public bool TryEnter(int capacity)
    {
        lock (_gate)
        {
            if (_running >= Math.Max(1, capacity))
            {
                return false;
            }

            _running++;
            return true;
        }
    }

    public void Exit()
    {
        lock (_gate)
        {
            _running--;
        }
    }

    /// <summary>
    /// The spill root, emptied the first time it is asked for: what is there then was left by a
    /// process that died mid-comparison (the data folder is locked to one process at a time).
    /// </summary>
    public string SpillRoot(string dataFolder)
    {
        lock (_gate)
        {
            if (_spillRoot is null)
            {
                var root = Path.Combine(dataFolder, SpillFolderName);
                if (Directory.Exists(root))
                {
                    Directory.Delete(root, recursive: true);
                }

                _spillRoot = Directory.CreateDirectory(root).FullName;
            }

            return _spillRoot;
        }
    }
}
