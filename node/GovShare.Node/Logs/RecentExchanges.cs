using System.Runtime.InteropServices;

namespace GovShare.Node.Logs;

/// <summary>
/// The exchange ids an aggregate saw within its duplicate window (<see cref="StatisticsAggregate.DuplicateWindow"/>),
/// each with the UTC day it was last seen and the places it was counted at, so that a repeated record of one
/// exchange counts once. A province node sees up to a million exchanges a day, so this is the
/// aggregates' one per-exchange memory and it is kept flat: no object per id.
/// <list type="bullet">
/// <item>an id exactly as <see cref="ExchangeId.New"/> writes it (26 upper-case ULID characters) is kept
/// as its 128 bits in an open-addressing table (linear probing, at most <see cref="MaxLoad"/> full,
/// grown by half its size, not doubled, so it is never less than 0.53 full once grown; deletion by
/// backward shift, so no tombstones): a <see cref="Slot"/> of 24 bytes (the id, the day it
/// was last seen, the day and count of its inline places) and <c>inline</c> place keys of 4 bytes each in a
/// parallel array. A place is a day and a 32-bit key the aggregate numbers (a bucket or a cell); the
/// places of an id's first record share one day, which is what nearly every id has. Places on another
/// day, or more than fit inline, go to a dictionary beside the table, found through a flag in the slot.</item>
/// <item>slots are found by <see cref="HashCode.Combine{T1, T2}(T1, T2)"/> of the 128 bits, which is
/// seeded per process: ids forwarded by a linked node are its choice (<see cref="ExchangeId.ForRequest"/>),
/// and an unseeded hash would let it aim them at one run of slots and make every fold probe it.</item>
/// <item>any other text (ids of older logs, tests) is kept as the string itself, so one key is always
/// one text, as in the full scans (ordinal), in a side dictionary of at most <see cref="MaxOthers"/>
/// ids: the node never writes such ids today (a linked node's id is parsed and written upper-case, an
/// unreadable one replaced by a new id), so only an old log can fill it; past the bound an id is not
/// remembered and a repeated record of it would count again.</item>
/// </list>
/// Ids are forgotten by day (<see cref="Evict"/>): one pass over the table when the latest day moves.
/// </summary>
internal sealed class RecentExchanges
{
    /// <summary>The most ids of another form than the node's own kept at once (see the type's remarks).</summary>
    public const int MaxOthers = 1 << 16;

    /// <summary>The table grows (by half) before it is fuller than this: linear probing stays short up to it.</summary>
    public const double MaxLoad = 0.8;

    private const int MinCapacity = 16;

    // The "has places beside the table" flag, in the stamp's top bit (a stamp is a day number + 1 < 2^31).
    private const int Spilled = int.MinValue;

    // A slot's Inline field: the inline places' day in the low bits (a DateOnly.DayNumber is below 2^22), their
    // count above. Kept in the slot so a fold reads the count with the id it just found, not by scanning the
    // slot's keys (a second cache miss per record: the keys are in their own array).
    private const int InlineDayBits = 24;
    private const int InlineDayMask = (1 << InlineDayBits) - 1;
    private const int MaxInline = 127;

    private readonly int _inline;
    private readonly Dictionary<Ulid, List<Place>> _spill = [];
    private readonly Dictionary<string, Other> _others = new(StringComparer.Ordinal);
    private Slot[] _slots = new Slot[MinCapacity];
    private uint[] _keys;
    private int _used;

    /// <param name="inline">How many place keys each slot holds without the dictionary beside it: the places one record is counted at.</param>
    public RecentExchanges(int inline)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inline, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(inline, MaxInline);
        _inline = inline;
        _keys = NewKeys(MinCapacity * inline);
    }

    public int Count => _used + _others.Count;

    /// <summary>Slots of the table (for the memory figures: <see cref="Count"/> / <see cref="Capacity"/> is its load).</summary>
    public int Capacity => _slots.Length;

    /// <summary>
    /// The entry of <paramref name="id"/>, added empty when new (<paramref name="exists"/> false). Good
    /// until the next call that adds or removes an id.
    /// </summary>
    public Seen Get(string id, out bool exists)
    {
        if (ExchangeId.TryPack(id, out var high, out var low))
        {
            return new Seen(this, FindOrAdd(high, low, out exists), null);
        }

        if (_others.TryGetValue(id, out var other))
        {
            exists = true;
            return new Seen(this, -1, other);
        }

        exists = false;
        other = new Other();
        if (_others.Count < MaxOthers)
        {
            _others.Add(id, other);
        }

        return new Seen(this, -1, other);
    }

    /// <summary>Forgets the ids last seen before UTC day <paramref name="horizonDay"/> (a <see cref="DateOnly.DayNumber"/>).</summary>
    public void Evict(int horizonDay)
    {
        var slots = _slots;
        for (var i = 0; i < slots.Length;)
        {
            ref var slot = ref slots[i];
            if (slot.Stamp != 0 && (slot.Stamp & ~Spilled) - 1 < horizonDay)
            {
                if ((slot.Stamp & Spilled) != 0)
                {
                    _spill.Remove(new Ulid(slot.High, slot.Low));
                }

                // Backward shift: what moves into i is looked at again; what wraps from the start was kept already.
                Remove(i);
            }
            else
            {
                i++;
            }
        }

        foreach (var (id, other) in _others)
        {
            if (other.LastDay < horizonDay)
            {
                _others.Remove(id);
            }
        }
    }

    /// <summary>
    /// Every id with the UTC day it was last seen and its places in the order they were added (for the
    /// saved aggregate). The list is reused from one id to the next: read it before moving on.
    /// </summary>
    public IEnumerable<(string Id, int LastDay, List<Place> Places)> All()
    {
        var places = new List<Place>();
        for (var i = 0; i < _slots.Length; i++)
        {
            var slot = _slots[i];
            if (slot.Stamp == 0)
            {
                continue;
            }

            places.Clear();
            new Seen(this, i, null).CopyTo(places);
            yield return (ExchangeId.Unpack(slot.High, slot.Low), (slot.Stamp & ~Spilled) - 1, places);
        }

        foreach (var (id, other) in _others)
        {
            yield return (id, other.LastDay, other.Places);
        }
    }

    private int FindOrAdd(ulong high, ulong low, out bool exists)
    {
        if (_used + 1 > _slots.Length * MaxLoad)
        {
            Grow();
        }

        for (var i = Home(high, low, _slots.Length); ; i = Next(i, _slots.Length))
        {
            ref var slot = ref _slots[i];
            if (slot.Stamp == 0)
            {
                slot.High = high;
                slot.Low = low;
                slot.Inline = 0;
                // Day number 0 + 1 until the first Touch: never 0, which marks a free slot.
                slot.Stamp = 1;
                _used++;
                exists = false;
                return i;
            }

            if (slot.High == high && slot.Low == low)
            {
                exists = true;
                return i;
            }
        }
    }

    // The hash scaled to the table's size (multiply and shift: any size, not only powers of two).
    private static int Home(ulong high, ulong low, int capacity) => (int)(((ulong)(uint)HashCode.Combine(high, low) * (uint)capacity) >> 32);

    private static int Next(int i, int capacity) => i + 1 == capacity ? 0 : i + 1;

    private void Grow()
    {
        var old = _slots;
        var oldKeys = _keys;
        // By half: doubling would leave a large table half empty for long (a week of ids at a million a day).
        _slots = new Slot[old.Length + (old.Length / 2)];
        _keys = NewKeys(_slots.Length * _inline);
        for (var from = 0; from < old.Length; from++)
        {
            if (old[from].Stamp == 0)
            {
                continue;
            }

            var to = Home(old[from].High, old[from].Low, _slots.Length);
            while (_slots[to].Stamp != 0)
            {
                to = Next(to, _slots.Length);
            }

            _slots[to] = old[from];
            Array.Copy(oldKeys, from * _inline, _keys, to * _inline, _inline);
        }
    }

    // Empties slot i and moves back the entries after it whose probe run passed through it.
    private void Remove(int i)
    {
        var slots = _slots;
        for (var j = Next(i, slots.Length); slots[j].Stamp != 0; j = Next(j, slots.Length))
        {
            var home = Home(slots[j].High, slots[j].Low, slots.Length);
            // j stays when its home lies cyclically in (i, j]: a lookup from there never passes i.
            var stays = i <= j ? i < home && home <= j : i < home || home <= j;
            if (!stays)
            {
                slots[i] = slots[j];
                Array.Copy(_keys, j * _inline, _keys, i * _inline, _inline);
                i = j;
            }
        }

        // The keys past a slot's inline count are never read: a freed slot's stay as they were.
        slots[i] = default;
        _used--;
    }

    // Not cleared: a slot's keys are read up to its inline count only. Filling them (as before the count was in
    // the slot) wrote the whole new array at once when the table grew: page faults on the fold's thread.
    private static uint[] NewKeys(int length) => GC.AllocateUninitializedArray<uint>(length);

    /// <summary>A place an id was counted at: a day (<see cref="DateOnly.DayNumber"/>) and the aggregate's number for a bucket or cell.</summary>
    public readonly record struct Place(int Day, uint Key);

    /// <summary>One id's entry in the table (or beside it): a view, good until the next call that adds or removes an id.</summary>
    public readonly struct Seen
    {
        private readonly RecentExchanges _table;
        private readonly int _slot;
        private readonly Other? _other;

        internal Seen(RecentExchanges table, int slot, Other? other)
        {
            _table = table;
            _slot = slot;
            _other = other;
        }

        /// <summary>How many places the id was counted at.</summary>
        public int Count
        {
            get
            {
                if (_other is not null)
                {
                    return _other.Places.Count;
                }

                var count = InlineCount;
                return (_table._slots[_slot].Stamp & Spilled) != 0 ? count + Spill.Count : count;
            }
        }

        private int InlineCount => _table._slots[_slot].Inline >>> InlineDayBits;

        private int InlineDay => _table._slots[_slot].Inline & InlineDayMask;

        private List<Place> Spill => _table._spill[new Ulid(_table._slots[_slot].High, _table._slots[_slot].Low)];

        public Place this[int index]
        {
            get
            {
                if (_other is not null)
                {
                    return _other.Places[index];
                }

                var inline = InlineCount;
                return index < inline
                    ? new Place(InlineDay, _table._keys[(_slot * _table._inline) + index])
                    : Spill[index - inline];
            }
        }

        /// <summary>Records that the id was seen on UTC day <paramref name="day"/> (the latest day is kept).</summary>
        public void Touch(int day)
        {
            if (_other is not null)
            {
                _other.LastDay = Math.Max(_other.LastDay, day);
                return;
            }

            ref var slot = ref _table._slots[_slot];
            if (day + 1 > (slot.Stamp & ~Spilled))
            {
                slot.Stamp = (slot.Stamp & Spilled) | (day + 1);
            }
        }

        public bool Contains(Place place)
        {
            if (_other is not null)
            {
                return _other.Places.Contains(place);
            }

            ref var slot = ref _table._slots[_slot];
            var inline = InlineCount;
            if (inline > 0 && InlineDay == place.Day && _table._keys.AsSpan(_slot * _table._inline, inline).Contains(place.Key))
            {
                return true;
            }

            return (slot.Stamp & Spilled) != 0 && Spill.Contains(place);
        }

        /// <summary>Adds a place after the others (the order they were added is kept).</summary>
        public void Add(Place place)
        {
            if (_other is not null)
            {
                _other.Places.Add(place);
                return;
            }

            ref var slot = ref _table._slots[_slot];
            var inline = InlineCount;
            // Inline while nothing spilled (the order stays the order added), there is room and the day is the inline
            // places' day (a day the slot's field cannot hold, never a DateOnly's, goes beside the table).
            if ((slot.Stamp & Spilled) == 0 && inline < _table._inline && (inline == 0 ? place.Day is >= 0 and <= InlineDayMask : InlineDay == place.Day))
            {
                slot.Inline = ((inline + 1) << InlineDayBits) | place.Day;
                _table._keys[(_slot * _table._inline) + inline] = place.Key;
                return;
            }

            if ((slot.Stamp & Spilled) == 0)
            {
                slot.Stamp |= Spilled;
                _table._spill.Add(new Ulid(slot.High, slot.Low), [place]);
            }
            else
            {
                Spill.Add(place);
            }
        }

        internal void CopyTo(List<Place> places)
        {
            for (var i = 0; i < Count; i++)
            {
                places.Add(this[i]);
            }
        }
    }

    /// <summary>
    /// One slot: the id's 128 bits as two fields (<see cref="UInt128"/> is 16-byte aligned and would pad
    /// the slot to 32 bytes), the UTC day last seen + 1 (0 = a free slot; the top bit = places beside the
    /// table) and the day and count of the inline places (<see cref="InlineDayBits"/>).
    /// </summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Slot
    {
        public ulong High;
        public ulong Low;
        public int Stamp;
        public int Inline;
    }

    /// <summary>An id's 128 bits as the key of the places beside the table, hashed with the per-process seed as the slots are.</summary>
    private readonly record struct Ulid(ulong High, ulong Low)
    {
        public override int GetHashCode() => HashCode.Combine(High, Low);
    }

    /// <summary>An id of another form: the day last seen and its places.</summary>
    internal sealed class Other
    {
        public int LastDay { get; set; }

        public List<Place> Places { get; } = [];
    }
}
