using System.Runtime.InteropServices;

namespace GovShare.Node.Logs;

/// <summary>
/// The exchange ids an aggregate saw within its duplicate window (<see cref="StatisticsAggregate.DuplicateWindow"/>),
/// each with when it was last seen and the places it was counted at, so that a repeated record of one
/// exchange counts once. A province node sees up to a million exchanges a day, so this is the
/// aggregates' one per-exchange memory and it is kept small: no object per id.
/// <list type="bullet">
/// <item>an id exactly as <see cref="ExchangeId.New"/> writes it (26 upper-case ULID characters) is
/// kept as its 128 bits; any other text (ids of older logs, tests, the lower-case spelling) is kept as
/// the string itself, so one key always stands for exactly one text, as in the full scans (ordinal);</item>
/// <item>each id's entry is a struct in the dictionary: last seen as UTC ticks and the first
/// <see cref="Seen.Inline"/> places inline, where an aggregate packs a place (a bucket or cell and a
/// day) into a <see cref="ulong"/>; only an exchange counted at more places gets an array.</item>
/// </list>
/// </summary>
internal sealed class RecentExchanges
{
    private readonly Dictionary<Ulid, Seen> _ulids = [];
    private readonly Dictionary<string, Seen> _others = new(StringComparer.Ordinal);

    public int Count => _ulids.Count + _others.Count;

    /// <summary>
    /// The entry of <paramref name="id"/>, added empty when new (<paramref name="exists"/> false). The
    /// reference is good until the next call that adds or removes an id.
    /// </summary>
    public ref Seen Get(string id, out bool exists)
    {
        if (ExchangeId.TryPack(id, out var high, out var low))
        {
            return ref CollectionsMarshal.GetValueRefOrAddDefault(_ulids, new Ulid(high, low), out exists);
        }

        return ref CollectionsMarshal.GetValueRefOrAddDefault(_others, id, out exists);
    }

    /// <summary>Forgets the ids last seen before <paramref name="horizonUtcTicks"/>.</summary>
    public void Evict(long horizonUtcTicks)
    {
        // Removing while enumerating is allowed for Dictionary (it does not invalidate the enumerator).
        foreach (var (id, seen) in _ulids)
        {
            if (seen.LastSeen < horizonUtcTicks)
            {
                _ulids.Remove(id);
            }
        }

        foreach (var (id, seen) in _others)
        {
            if (seen.LastSeen < horizonUtcTicks)
            {
                _others.Remove(id);
            }
        }
    }

    /// <summary>Every id with its entry, the id in its text form (for the saved aggregate).</summary>
    public IEnumerable<(string Id, Seen Seen)> All()
    {
        foreach (var (id, seen) in _ulids)
        {
            yield return (ExchangeId.Unpack(id.High, id.Low), seen);
        }

        foreach (var (id, seen) in _others)
        {
            yield return (id, seen);
        }
    }

    /// <summary>
    /// An id's 128 bits as two fields: <see cref="UInt128"/> is 16-byte aligned and would pad every entry.
    /// Hashed with <see cref="HashCode"/>, which is seeded per process: ids forwarded by a linked node are
    /// its choice, and a record struct's own hash is the same everywhere, so they could be aimed at one bucket.
    /// </summary>
    private readonly record struct Ulid(ulong High, ulong Low)
    {
        public override int GetHashCode() => HashCode.Combine(High, Low);
    }

    /// <summary>One id's entry: when it was last seen and the places (packed by the aggregate) it was counted at, in order.</summary>
    public struct Seen
    {
        /// <summary>Places kept without an array: a statistics record counts at up to three (resource, provider, user).</summary>
        public const int Inline = 3;

        private ulong _first;
        private ulong _second;
        private ulong _third;
        private ulong[]? _more;

        /// <summary>The latest record time of the id, as UTC ticks (0 = none yet).</summary>
        public long LastSeen { get; set; }

        public int Count { get; private set; }

        public readonly ulong this[int index] => index switch
        {
            0 => _first,
            1 => _second,
            2 => _third,
            _ => _more![index - Inline],
        };

        public readonly bool Contains(ulong place)
        {
            for (var i = 0; i < Count; i++)
            {
                if (this[i] == place)
                {
                    return true;
                }
            }

            return false;
        }

        public void Add(ulong place)
        {
            switch (Count)
            {
                case 0:
                    _first = place;
                    break;
                case 1:
                    _second = place;
                    break;
                case 2:
                    _third = place;
                    break;
                default:
                    var at = Count - Inline;
                    if (_more is null)
                    {
                        _more = new ulong[4];
                    }
                    else if (at == _more.Length)
                    {
                        Array.Resize(ref _more, at * 2);
                    }

                    _more[at] = place;
                    break;
            }

            Count++;
        }
    }
}
