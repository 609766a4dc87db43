using GovShare.Node.Logs;
using Microsoft.Extensions.Time.Testing;

namespace GovShare.Node.Tests.Exchange;

public sealed class ExchangeIdTests
{
    [Fact]
    public void New_FixedTime_EncodesTheMillisecond()
    {
        var now = new DateTimeOffset(2026, 11, 24, 10, 30, 15, 123, TimeSpan.Zero);

        var id = ExchangeId.New(new FakeTimeProvider(now));

        Assert.Equal(26, id.Value.Length);
        Assert.Matches("^[0-9A-HJKMNP-TV-Z]{26}$", id.Value);
        Assert.Equal(now, id.CreatedAt);
    }

    [Fact]
    public void New_SameMillisecond_Distinct()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        var ids = Enumerable.Range(0, 1000).Select(_ => ExchangeId.New(time).Value).ToHashSet();
        Assert.Equal(1000, ids.Count);
    }

    [Fact]
    public void New_AMillionAcrossThreads_DistinctRandomBits_TheirTimeKept()
    {
        // Every id in one millisecond: only the 80 random bits tell them apart. A million ids on eight
        // threads draw thousands of blocks from the random number generator (each thread its own), so
        // a byte handed out twice - within a block, across a refill or across threads - is a duplicate.
        var now = new DateTimeOffset(2026, 12, 6, 18, 0, 0, 456, TimeSpan.Zero);
        var time = new FakeTimeProvider(now);
        const int Threads = 8;
        const int PerThread = 125_000;
        var packed = new (ulong High, ulong Low)[Threads * PerThread];
        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, thread =>
        {
            for (var i = 0; i < PerThread; i++)
            {
                var id = ExchangeId.New(time);
                Assert.True(ExchangeId.TryPack(id.Value, out var high, out var low), id.Value);
                packed[(thread * PerThread) + i] = (high, low);
            }
        });

        var distinct = new HashSet<(ulong, ulong)>(packed.Length);
        var ones = new int[80];
        foreach (var (high, low) in packed)
        {
            Assert.True(distinct.Add((high, low)));
            // The top 48 bits are the millisecond, the 80 below it random.
            Assert.Equal(now.ToUnixTimeMilliseconds(), (long)(high >> 16));
            for (var bit = 0; bit < 80; bit++)
            {
                ones[bit] += (int)((bit < 64 ? low >> bit : high >> (bit - 64)) & 1);
            }
        }

        // Each random bit is set in about half the ids (a million fair coins: 0.5 +- 0.0005 a standard
        // deviation): bytes left zero, or reused in a pattern, would show here before as duplicates.
        foreach (var count in ones)
        {
            Assert.InRange(count / (double)packed.Length, 0.49, 0.51);
        }
    }

    [Fact]
    public void New_LaterTime_SortsAfter()
    {
        var earlier = ExchangeId.New(new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero)));
        var later = ExchangeId.New(new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, 1, TimeSpan.Zero)));
        Assert.True(string.CompareOrdinal(earlier.Value, later.Value) < 0);
    }

    [Fact]
    public void TryPack_TheNodesIds_RoundTripExactly_AndDistinctBitsForDistinctIds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 5, 15, 0, 0, TimeSpan.Zero));
        string[] ids = [.. Enumerable.Range(0, 1000).Select(_ => ExchangeId.New(time).Value), "00000000000000000000000000", "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"];
        var bits = new HashSet<(ulong, ulong)>();
        foreach (var id in ids)
        {
            Assert.True(ExchangeId.TryPack(id, out var high, out var low), id);
            Assert.Equal(id, ExchangeId.Unpack(high, low));
            Assert.True(bits.Add((high, low)), id);
        }

        ExchangeId.TryPack("7ZZZZZZZZZZZZZZZZZZZZZZZZZ", out var top, out var bottom);
        Assert.Equal((ulong.MaxValue, ulong.MaxValue), (top, bottom));
    }

    [Theory]
    [InlineData("01jf0000000000000000000000")] // lower case: TryParse accepts it, but it is another text (ordinal) and must keep its own key
    [InlineData("81JF0000000000000000000000")] // over 128 bits
    [InlineData("01JF000000000000000000000I")] // not Crockford base32
    [InlineData("01JF000000000000000000000\uFF21")] // beyond ASCII (a full-width A): past the digit table's end
    [InlineData("01JF000000000000000000000\u0000")] // a control character: in the table, not a digit
    [InlineData("01JF00000000000000000000")] // too short
    [InlineData("01JF0000000000000000000000X")] // too long
    [InlineData("ex-1-2")]
    [InlineData("")]
    public void TryPack_AnyOtherText_False(string text) => Assert.False(ExchangeId.TryPack(text, out _, out _));

    [Fact]
    public void TryParse_LowerCaseText_SameId()
    {
        var id = ExchangeId.New(TimeProvider.System);
        Assert.True(ExchangeId.TryParse(id.Value.ToLowerInvariant(), out var parsed));
        Assert.Equal(id, parsed);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("01ARZ3NDEKTSV4RRFFQ69G5FA")]
    [InlineData("01ARZ3NDEKTSV4RRFFQ69G5FAVX")]
    [InlineData("01ARZ3NDEKTSV4RRFFQ69G5FAU")]
    [InlineData("81ARZ3NDEKTSV4RRFFQ69G5FAV")]
    [InlineData("../../etc/passwd/xxxxxxxxx")]
    public void TryParse_NotAnId_False(string? text) =>
        Assert.False(ExchangeId.TryParse(text, out _));

}
