using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using GovShare.Contract;
using GovShare.Node.Identity;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Logs;

/// <summary>
/// The id of one push or pull, carried in a response header and in every log record of the
/// exchange on every hop. ULID layout: 26 Crockford base32 characters, a 48-bit millisecond
/// timestamp then 80 random bits, so ids sort by creation time and are safe in file names.
/// </summary>
public sealed record ExchangeId
{
    private const string Alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private const int Length = 26;

    // The 80 random bits of an id, and how many ids' bits one call to the system's random number
    // generator draws at a time (see TakeRandom).
    private const int RandomBytes = 10;
    private const int IdsPerDraw = 256;

    /// <summary>Each ASCII character's digit in <see cref="Alphabet"/>, -1 for the others (upper case only, as <see cref="TryPack"/> reads).</summary>
    private static readonly sbyte[] Digits = DigitTable();

    // This thread's bytes from RandomNumberGenerator and how many of them are handed out (TakeRandom).
    [ThreadStatic]
    private static byte[]? t_random;
    [ThreadStatic]
    private static int t_taken;

    private ExchangeId(string value) => Value = value;

    /// <summary>The 26-character text form.</summary>
    public string Value { get; }

    /// <summary>A new id stamped with <paramref name="time"/>'s current time.</summary>
    public static ExchangeId New(TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(time);
        Span<byte> bytes = stackalloc byte[16];
        var ms = time.GetUtcNow().ToUnixTimeMilliseconds();
        BinaryPrimitives.WriteInt64BigEndian(bytes[..8], ms << 16);
        TakeRandom(bytes[6..]);
        return new ExchangeId(Encode(bytes));
    }

    /// <summary>
    /// Fills <paramref name="destination"/> (an id's 80 bits) with bytes of the system's cryptographic
    /// random number generator no id had before. One RandomNumberGenerator call draws the bits of
    /// <see cref="IdsPerDraw"/> ids, not one call an id: each call is OpenSSL's RAND_bytes on Linux, whose
    /// fixed cost (its DRBG's per-call cipher set-up, locks, a getpid for its fork check) is nearly all of
    /// a call - 10 bytes and 2,560 cost about the same (benchmarks native-cpu: ExchangeId.New 2.4 us of
    /// thread CPU with a call an id, 0.1 us with the block). The bits are as random and as unpredictable
    /// to callers as before: the same generator's output, each byte handed out once - a thread's bytes
    /// are read by that thread only, and past the end it draws a fresh block. Fork, which OpenSSL checks
    /// on every call so that parent and child never share a state: a .NET process does not run managed
    /// code in a forked child (Process.Start execs at once), so no copy of these bytes outlives a fork.
    /// </summary>
    private static void TakeRandom(Span<byte> destination)
    {
        var block = t_random;
        var taken = t_taken;
        if (block is null || taken > block.Length - destination.Length)
        {
            // Published only once filled: a draw that throws leaves this thread with no block (or its
            // used-up one), never with bytes that are not random.
            block ??= new byte[RandomBytes * IdsPerDraw];
            RandomNumberGenerator.Fill(block);
            t_random = block;
            taken = 0;
        }

        block.AsSpan(taken, destination.Length).CopyTo(destination);
        t_taken = taken + destination.Length;
    }

    /// <summary>
    /// The id of the exchange this request is: the forwarding node's when a linked node vouched
    /// for the caller (one id across every hop), else a new one. The first call sets the
    /// response header; later calls in the same request (routing, then the endpoint) get the same id.
    /// </summary>
    public static ExchangeId ForRequest(HttpContext context, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(context);
        // A request feature, not an entry of HttpContext.Items: the server's feature collection is reused
        // by a connection's requests (and cleared), where Items is a dictionary made for each request.
        if (context.Features.Get<ExchangeId>() is { } same)
        {
            return same;
        }

        var id = Vouching.Via(context.User) is not null && TryParse(context.Request.Headers[GovShareHeaders.ExchangeId].ToString(), out var forwarded)
            ? forwarded
            : New(time);
        context.Features.Set(id);
        context.Response.Headers[GovShareHeaders.ExchangeId] = id.Value;
        return id;
    }

    /// <summary>The creation time encoded in the id.</summary>
    public DateTimeOffset CreatedAt
    {
        get
        {
            long ms = 0;
            for (var i = 0; i < 10; i++)
            {
                ms = (ms << 5) | (long)Alphabet.IndexOf(Value[i], StringComparison.Ordinal);
            }

            return DateTimeOffset.FromUnixTimeMilliseconds(ms);
        }
    }

    /// <summary>Parses an id (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string? text, [NotNullWhen(true)] out ExchangeId? id)
    {
        id = null;
        if (text is not { Length: Length } || text[0] > '7')
        {
            return false;
        }

        var upper = text.ToUpperInvariant();
        foreach (var c in upper)
        {
            if (!Alphabet.Contains(c, StringComparison.Ordinal))
            {
                return false;
            }
        }

        id = new ExchangeId(upper);
        return true;
    }

    /// <summary>
    /// The 128 bits of <paramref name="text"/> when it is an id exactly as <see cref="New"/> writes it
    /// (upper case), for compact keys (<see cref="RecentExchanges"/>); false for any other text, also the
    /// lower-case spelling <see cref="TryParse"/> accepts, so that bits stand for exactly one text:
    /// <see cref="Unpack"/> gives <paramref name="text"/> back.
    /// </summary>
    internal static bool TryPack(string text, out ulong high, out ulong low)
    {
        high = low = 0;
        if (text is not { Length: Length } || text[0] > '7')
        {
            return false;
        }

        foreach (var c in text)
        {
            // A table, not Alphabet.IndexOf: every record an aggregate folds packs its id (26 searches were
            // most of the statistics' fold of a one-row pull after the table look-up itself).
            var digit = c < Digits.Length ? Digits[c] : -1;
            if (digit < 0)
            {
                return false;
            }

            // The first digit carries 3 bits (checked above), the other 25 five each: 128 in all.
            high = (high << 5) | (low >> 59);
            low = (low << 5) | (uint)digit;
        }

        return true;
    }

    /// <summary>The text of bits <see cref="TryPack"/> made.</summary>
    internal static string Unpack(ulong high, ulong low)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes[..8], high);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], low);
        return Encode(bytes);
    }

    public override string ToString() => Value;

    private static sbyte[] DigitTable()
    {
        var digits = new sbyte[128];
        Array.Fill(digits, (sbyte)-1);
        for (var i = 0; i < Alphabet.Length; i++)
        {
            digits[Alphabet[i]] = (sbyte)i;
        }

        return digits;
    }

    private static string Encode(ReadOnlySpan<byte> bytes)
    {
        // 128 bits as 26 base32 digits: the first digit carries the top 3 bits.
        var hi = BinaryPrimitives.ReadUInt64BigEndian(bytes[..8]);
        var lo = BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]);
        return string.Create(Length, (hi, lo), static (chars, state) =>
        {
            var (h, l) = state;
            for (var i = Length - 1; i >= 0; i--)
            {
                chars[i] = Alphabet[(int)(l & 31)];
                l = (l >> 5) | (h << 59);
                h >>= 5;
            }
        });
    }
}
