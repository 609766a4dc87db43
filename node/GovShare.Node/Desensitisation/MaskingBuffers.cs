namespace GovShare.Node.Desensitisation;

/// <summary>
/// The arrays masked columns are written into, reused across the batches of one pull: a masked
/// column of a large pull is a few hundred KB to a few MB per batch, and a fresh array per batch
/// is zeroed memory and garbage the collector must clear (profiled on the 1.2 GB pull). Arrays
/// come back only through <see cref="Return"/>, from a caller that has written the batch and
/// never touches it again; one never returned is left to the collector. One per projection
/// (so per pull, never shared between exchanges): a batch used by mistake after its return
/// could only ever show another batch of the same pull, masked by the same rules.
/// </summary>
/// <remarks>
/// <see cref="Take"/> is called by the one thread that masks; <see cref="Return"/> by the one
/// that writes, at the same time.
/// </remarks>
internal sealed class MaskingBuffers
{
    // A pull holds at most three projected batches at once (being masked, queued, being
    // written), each with up to three arrays a masked column: more are dropped for the GC.
    private const int Kept = 16;
    private readonly List<byte[]> _free = [];
    private readonly List<byte[]> _taken = [];

    /// <summary>An array of at least <paramref name="length"/> bytes, its content undefined.</summary>
    public byte[] Take(int length)
    {
        byte[]? array = null;
        lock (_free)
        {
            // Best fit: a validity bitmap must not take the array a data buffer needs.
            var best = -1;
            for (var i = 0; i < _free.Count; i++)
            {
                if (_free[i].Length >= length && (best < 0 || _free[i].Length < _free[best].Length))
                {
                    best = i;
                }
            }

            if (best >= 0)
            {
                array = _free[best];
                _free.RemoveAt(best);
            }
        }

        // Rounded up, so the next batch's column (a little longer) fits the same array.
        array ??= GC.AllocateUninitializedArray<byte>(length <= 4096 ? length : (int)Math.Min(Array.MaxLength, ((long)length + 0xFFFF) & ~0xFFFFL));
        _taken.Add(array);
        return array;
    }

    /// <summary>The arrays taken since the last call: the ones the batch just masked is made of.</summary>
    public byte[][] TakenForBatch()
    {
        var taken = _taken.ToArray();
        _taken.Clear();
        return taken;
    }

    /// <summary>Arrays of a batch that was written and will not be read again, for later batches.</summary>
    public void Return(byte[][] arrays)
    {
        lock (_free)
        {
            foreach (var array in arrays)
            {
                if (_free.Count < Kept)
                {
                    _free.Add(array);
                }
            }
        }
    }
}
