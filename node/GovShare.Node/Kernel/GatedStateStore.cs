namespace GovShare.Node.Kernel;

/// <summary>
/// What both state backends (<see cref="StateStore"/> on LiteDB, <see cref="PostgresStateStore"/>)
/// do alike around a change: one gate, nested writes joining the outermost one, the change-log
/// watermark carried to the commit, and the after-commit actions run in commit order. A backend
/// supplies only its transaction (<see cref="Commit{T}"/>).
/// </summary>
public abstract class GatedStateStore
{
    // Touched only by the thread holding the gate.
    private int _depth;
    private List<Action>? _afterCommit;
    private long _pendingWatermark;

    /// <summary>The gate every change (and anything that must not interleave with one) holds.</summary>
    protected Lock Gate { get; } = new();

    /// <summary>The last change-log sequence whose change the state holds (0: none).</summary>
    public long AppliedThrough { get; protected set; }

    /// <summary>Whether the thread holding <see cref="Gate"/> is inside a change (read under the gate only).</summary>
    protected bool InChange => _depth > 0;

    /// <summary>
    /// Runs <paramref name="work"/> as one state change: under the gate, in one database
    /// transaction (joining the caller's, when this thread is already inside one). Actions given
    /// to <see cref="AfterCommit"/> run once the outermost transaction has committed, still under
    /// the gate, so in-memory snapshots change in commit order and never show a rolled-back write.
    /// </summary>
    public T Write<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        lock (Gate)
        {
            if (_depth > 0)
            {
                _depth++;
                try
                {
                    return work();
                }
                finally
                {
                    _depth--;
                }
            }

            _depth = 1;
            _afterCommit = [];
            _pendingWatermark = AppliedThrough;
            List<Action> actions;
            T result;
            try
            {
                result = Commit(work, () => _pendingWatermark > AppliedThrough ? _pendingWatermark : null);
                AppliedThrough = Math.Max(AppliedThrough, _pendingWatermark);
                actions = _afterCommit;
            }
            finally
            {
                _depth = 0;
                _afterCommit = null;
            }

            foreach (var action in actions)
            {
                action();
            }

            return result;
        }
    }

    /// <summary>Runs <paramref name="work"/> as one state change (see <see cref="Write{T}(Func{T})"/>).</summary>
    public void Write(Action work)
    {
        ArgumentNullException.ThrowIfNull(work);
        Write(() =>
        {
            work();
            return 0;
        });
    }

    /// <summary>
    /// Records, inside <see cref="Write{T}(Func{T})"/>, that this transaction holds the change the
    /// change log numbered <paramref name="changeSequence"/>: the watermark commits with it.
    /// </summary>
    public void MarkApplied(long changeSequence)
    {
        lock (Gate)
        {
            if (_depth == 0)
            {
                throw new InvalidOperationException("MarkApplied belongs inside IStateStore.Write: the watermark must commit with the change it covers.");
            }

            _pendingWatermark = Math.Max(_pendingWatermark, changeSequence);
        }
    }

    /// <summary>Runs <paramref name="action"/> after the current state change commits (at once outside one).</summary>
    public void AfterCommit(Action action)
    {
        ArgumentNullException.ThrowIfNull(action);
        lock (Gate)
        {
            if (_afterCommit is null)
            {
                action();
                return;
            }

            _afterCommit.Add(action);
        }
    }

    /// <summary>
    /// The backend's transaction around the outermost change: runs <paramref name="work"/>, then, when
    /// <paramref name="watermark"/> gives a sequence (the change log's records this change holds),
    /// writes it in the same transaction, and commits; rolls back and rethrows when anything throws.
    /// </summary>
    protected abstract T Commit<T>(Func<T> work, Func<long?> watermark);
}
