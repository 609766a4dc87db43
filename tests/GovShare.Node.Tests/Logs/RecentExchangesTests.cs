using GovShare.Node.Logs;

namespace GovShare.Node.Tests.Logs;

/// <summary>
/// The aggregates' table of recent exchange ids (<see cref="RecentExchanges"/>) against a plain dictionary of the
/// same ids: every id added, touched and forgotten by day in random order must be found with its places exactly
/// (the open addressing's growth and backward-shift deletion lose nothing, move nothing under another id), and
/// ids of another form than the node's are bounded.
/// </summary>
public sealed class RecentExchangesTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    [InlineData(3, 3)]
    public void AddTouchEvict_InRandomOrder_EqualsADictionary(int seed, int inline)
    {
        var random = new Random(seed);
        var table = new RecentExchanges(inline);
        var expected = new Dictionary<string, (int LastDay, List<RecentExchanges.Place> Places)>(StringComparer.Ordinal);
        var known = new List<string>();
        for (var day = 100; day < 160; day++)
        {
            // A day of new ids, repeats of recent ones (on this day and at new keys), and a few of another form.
            for (var n = random.Next(200, 3000); n > 0; n--)
            {
                var id = known.Count > 0 && random.Next(4) == 0
                    ? known[random.Next(Math.Max(0, known.Count - 2000), known.Count)]
                    : StatisticsAggregateTests.AnExchangeId(random, seed, (3 * random.Next(1_000_000)) + (random.Next(3) == 0 ? 2 : 0));
                var seen = table.Get(id, out var exists);
                Assert.Equal(expected.ContainsKey(id), exists);
                if (!exists)
                {
                    expected[id] = (0, []);
                    known.Add(id);
                }

                var (lastDay, places) = expected[id];
                var place = new RecentExchanges.Place(day - random.Next(2), (uint)random.Next(6));
                Assert.Equal(places.Contains(place), seen.Contains(place));
                if (!places.Contains(place))
                {
                    seen.Add(place);
                    places.Add(place);
                }

                seen.Touch(day);
                expected[id] = (Math.Max(lastDay, day), places);
            }

            var horizon = day - 7;
            table.Evict(horizon);
            foreach (var gone in expected.Where(e => e.Value.LastDay < horizon).Select(e => e.Key).ToList())
            {
                expected.Remove(gone);
            }

            known.RemoveAll(id => !expected.ContainsKey(id));
            Assert.Equal(expected.Count, table.Count);
        }

        var all = table.All().ToDictionary(e => e.Id, e => (e.LastDay, Places: e.Places.ToList()), StringComparer.Ordinal);
        Assert.Equal(expected.Count, all.Count);
        foreach (var (id, (lastDay, places)) in expected)
        {
            Assert.Equal(lastDay, all[id].LastDay);
            Assert.Equal(places, all[id].Places);
            var seen = table.Get(id, out var exists);
            Assert.True(exists);
            Assert.Equal(places.Count, seen.Count);
            Assert.Equal(places, Enumerable.Range(0, seen.Count).Select(i => seen[i]));
        }

        Assert.InRange(table.Count, 1, table.Capacity * RecentExchanges.MaxLoad);
    }

    [Fact]
    public void IdsOfAnotherForm_AreBounded()
    {
        var table = new RecentExchanges(inline: 1);
        for (var i = 0; i < RecentExchanges.MaxOthers + 1000; i++)
        {
            table.Get($"ex-{i}", out var exists).Touch(1);
            Assert.False(exists);
        }

        Assert.Equal(RecentExchanges.MaxOthers, table.Count);
        // Past the bound an id is not remembered: a repeat of it is new again; one kept before still is found.
        table.Get($"ex-{RecentExchanges.MaxOthers + 10}", out var again);
        Assert.False(again);
        table.Get("ex-0", out var first);
        Assert.True(first);
    }
}
