using System.Net;
using Apache.Arrow;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Logs;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Exchange.ExchangeFixture;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// Small versions' answers kept in memory (<see cref="PullAnswerCache"/>), through a real node over
/// real TLS: a kept answer is the same bytes and is logged like any pull, and it is never served
/// after a new version, a changed grant, a renamed item, or for another projection, representation
/// or (pseudonymised) caller.
/// </summary>
public sealed class PullAnswerCacheTests : IAsyncLifetime
{
    private ExchangeFixture _f = null!;

    public async Task InitializeAsync() => _f = await ExchangeFixture.StartAsync();

    public async Task DisposeAsync() => await _f.DisposeAsync();

    private PullAnswerCache Cache => _f.Node.Services.GetRequiredService<PullAnswerCache>();

    [Fact]
    public async Task Pull_SmallVersionTwice_SameBytesFromMemoryAndEachLoggedWithItsRowsAndBytes()
    {
        await _f.PushAsync(Unconditional, 3);
        using var client = _f.Node.Client(_f.User.Certificate);
        Assert.Equal(0, Cache.Bytes);

        var (first, firstId) = await PullBytesAsync(client, Pull(Unconditional, "stats"));
        var kept = Cache.Bytes;
        Assert.Equal(first.Length, kept); // the first pull read the file and kept its answer
        var (second, secondId) = await PullBytesAsync(client, Pull(Unconditional, "stats"));

        Assert.Equal(first, second);
        Assert.Equal(kept, Cache.Bytes); // answered from memory: nothing new was kept
        var records = ExchangeRecords();
        var a = Assert.Single(records, r => r.ExchangeId == firstId);
        var b = Assert.Single(records, r => r.ExchangeId == secondId);
        Assert.Equal((200, 3L), (b.Status, b.Rows));
        Assert.Equal((a.Rows, a.Bytes, a.Purpose, a.Caller), (b.Rows, b.Bytes, b.Purpose, b.Caller));
        Assert.Equal(a.Items, b.Items);
    }

    [Fact]
    public async Task Pull_AfterANewVersionIsPublished_TheNewVersionNeverTheKeptAnswer()
    {
        await _f.PushAsync(Unconditional, 3);
        using var client = _f.Node.Client(_f.User.Certificate);
        await PullBytesAsync(client, Pull(Unconditional, "stats"));
        await PullBytesAsync(client, Pull(Unconditional, "stats"));

        await _f.PushAsync(Unconditional, 5);
        using var response = await client.SendAsync(Pull(Unconditional, "stats"));

        Assert.Equal("2", response.Headers.GetValues(GovShareHeaders.DataVersion).Single());
        var (_, batches) = await ReadAsync(response);
        Assert.Equal(5, batches.Sum(b => b.Length));
    }

    [Fact]
    public async Task Pull_GrantChangedOrRevoked_AnswerFollowsTheGrantInForceNow()
    {
        await _f.PushAsync(Conditional, 4);
        var grants = _f.Node.Services.GetRequiredService<GrantStore>();
        var first = _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("id_number", MaskingRule.KeepEnds(3, 2)));
        using var client = _f.Node.Client(_f.User.Certificate);
        var id = IdNumber(1);
        Assert.Equal(id[..3] + new string('*', id.Length - 5) + id[^2..], await FirstColumnAsync(client, 1));
        Assert.Equal(id[..3] + new string('*', id.Length - 5) + id[^2..], await FirstColumnAsync(client, 1)); // kept

        // The provider narrows the masking: a new grant replaces the first.
        grants.SetStatus(first.Id, GrantStatus.Revoked, "replaced", DateTimeOffset.UtcNow);
        var second = _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("id_number", MaskingRule.KeepEnds(1, 1)));
        Assert.Equal(id[..1] + new string('*', id.Length - 2) + id[^1..], await FirstColumnAsync(client, 1));

        // Revoked: refused, although an answer for exactly this projection is kept.
        grants.SetStatus(second.Id, GrantStatus.Revoked, "no longer needed", DateTimeOffset.UtcNow);
        await ProblemAssert.IsProblemAsync(await client.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);

        // Another department with no grant of its own never gets the kept answer.
        using var other = _f.Node.Client(_f.Other.Certificate);
        await ProblemAssert.IsProblemAsync(await other.SendAsync(Pull(Conditional, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
    }

    [Fact]
    public async Task Pull_OtherItemsRepresentationOrCallerOrRenamedItem_EachItsOwnAnswer()
    {
        await _f.PushAsync(Unconditional, 3);
        using var client = _f.Node.Client(_f.User.Certificate);
        using var provider = _f.Node.Client(_f.Provider.Certificate);
        await PullBytesAsync(client, Pull(Unconditional, "stats"));
        await PullBytesAsync(client, Pull(Unconditional, "stats"));

        using (var named = await client.SendAsync(Pull(Unconditional, "stats", "姓名")))
        {
            Assert.Equal(["姓名"], (await ReadAsync(named)).Schema.FieldsList.Select(f => f.Name));
        }

        using (var json = await client.SendAsync(Pull(Unconditional, "stats", accept: "application/json")))
        {
            Assert.Equal("application/json", json.Content.Headers.ContentType?.MediaType);
            Assert.StartsWith("[", await json.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The provider sees its own data unmasked; the user, after it, masked again.
        using (var own = await provider.SendAsync(Pull(Unconditional, "audit")))
        {
            Assert.Equal(IdNumber(2), ((StringArray)(await ReadAsync(own)).Batches[0].Column(0)).GetString(2));
        }

        using (var masked = await client.SendAsync(Pull(Unconditional, "stats")))
        {
            Assert.NotEqual(IdNumber(2), ((StringArray)(await ReadAsync(masked)).Batches[0].Column(0)).GetString(2));
        }

        var catalog = _f.Node.Services.GetRequiredService<CatalogStore>();
        var entry = catalog.Get(Unconditional)!;
        var renamed = entry.Items.Select(i => i.Id == "name" ? i with { Name = "姓名（户籍）" } : i).ToList();
        Assert.True(catalog.Update(Unconditional, entry with { Items = renamed }, entry.Version, Caller(_f.Provider)).Succeeded);
        using (var after = await client.SendAsync(Pull(Unconditional, "stats")))
        {
            Assert.Contains("姓名（户籍）", (await ReadAsync(after)).Schema.FieldsList.Select(f => f.Name));
        }
    }

    [Fact]
    public async Task Pull_PseudonymisedItem_NeverKeptSoEachDepartmentGetsItsOwnPseudonyms()
    {
        await _f.PushAsync(Conditional, 3);
        _f.GrantTo(_f.User, Conditional, "social-assistance", new GrantedItem("id_number", MaskingRule.Pseudonym));
        _f.GrantTo(_f.Other, Conditional, "social-assistance", new GrantedItem("id_number", MaskingRule.Pseudonym));
        using var user = _f.Node.Client(_f.User.Certificate);
        using var other = _f.Node.Client(_f.Other.Certificate);

        var mine = await FirstColumnAsync(user, 0);
        var theirs = await FirstColumnAsync(other, 0);

        Assert.NotEqual(mine, theirs);
        Assert.Equal(mine, await FirstColumnAsync(user, 0));
        Assert.Equal(0, Cache.Bytes);
    }

    [Fact]
    public async Task Pull_VersionLargerThanTheLimit_ReadFromItsFileEachTime()
    {
        await _f.PushAsync(Unconditional, 3_000);
        Assert.True(_f.Node.Services.GetRequiredService<DatasetStore>().Latest(Unconditional)!.Bytes > PullAnswerCache.MaxVersionBytes);
        using var client = _f.Node.Client(_f.User.Certificate);

        await PullBytesAsync(client, Pull(Unconditional, "stats"));

        Assert.Equal(0, Cache.Bytes);
    }

    [Fact]
    public void Add_BeyondTheCapacity_DropsWhatWasKeptAndNeverHoldsMore()
    {
        var cache = new PullAnswerCache(capacityBytes: 1000);
        var v1 = Version("101001/000001", 1);
        var v2 = Version("101001/000002", 1);

        cache.Add(v1, "a", Answer(600));
        cache.Add(v2, "b", Answer(300));
        Assert.Equal(900, cache.Bytes);
        cache.Add(v2, "c", Answer(200));

        Assert.Equal(200, cache.Bytes);
        Assert.Null(cache.Find(v1, "a"));
        Assert.Null(cache.Find(v2, "b"));
        Assert.NotNull(cache.Find(v2, "c"));
    }

    [Fact]
    public void Add_NewVersionOfAResource_DropsTheOlderVersionsAnswers()
    {
        var cache = new PullAnswerCache(capacityBytes: 1 << 20);
        var v1 = Version("101001/000001", 1);
        var v2 = Version("101001/000001", 2);
        var restored = v2 with { ExchangeId = "01HZZZZZZZZZZZZZZZZZZZZZZZ" }; // same number, another push

        cache.Add(v1, "k", Answer(100));
        cache.Add(v2, "k", Answer(50));

        Assert.Null(cache.Find(v1, "k"));
        Assert.Equal(50, cache.Find(v2, "k")!.Body.Length);
        Assert.Null(cache.Find(restored, "k"));
        Assert.Equal(50, cache.Bytes);
    }

    [Fact]
    public void Admits_OnlySmallVersionsWithoutPseudonymsAndOnlyWhenOn()
    {
        var item = new InformationItem("name", "姓名", "utf8");
        var plain = new[] { new AllowedItem(item, MaskingRule.None) };
        var pseudonymised = new[] { new AllowedItem(item, MaskingRule.Pseudonym) };

        Assert.True(new PullAnswerCache(1 << 20).Admits(Version("101001/000001", 1), plain));
        Assert.False(new PullAnswerCache(1 << 20).Admits(Version("101001/000001", 1), pseudonymised));
        Assert.False(new PullAnswerCache(1 << 20).Admits(Version("101001/000001", 1) with { Bytes = PullAnswerCache.MaxVersionBytes + 1 }, plain));
        Assert.False(new PullAnswerCache(0).Admits(Version("101001/000001", 1), plain));
        Assert.NotEqual(
            PullAnswerCache.Key("application/vnd.apache.arrow.stream", false, [new AllowedItem(item, MaskingRule.KeepEnds(1, 1))]),
            PullAnswerCache.Key("application/vnd.apache.arrow.stream", false, [new AllowedItem(item, MaskingRule.KeepEnds(1, 2))]));
    }

    private static DatasetVersion Version(string code, int number) =>
        new(code, number, 1, 100, "fingerprint", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, "01HAAAAAAAAAAAAAAAAAAAAAA" + number, PushMode.Replace, [new DatasetSegment("s", 1, 100)]);

    private static CachedAnswer Answer(int bytes) => new(new byte[bytes], bytes - 8, 1, ["name"]);

    private static async Task<string?> FirstColumnAsync(HttpClient client, int row)
    {
        using var response = await client.SendAsync(Pull(Conditional, "social-assistance"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return ((StringArray)(await ReadAsync(response)).Batches[0].Column(0)).GetString(row);
    }

    private static async Task<(byte[] Body, string ExchangeId)> PullBytesAsync(HttpClient client, HttpRequestMessage request)
    {
        using (request)
        {
            using var response = await client.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return (await response.Content.ReadAsByteArrayAsync(), response.Headers.GetValues(GovShareHeaders.ExchangeId).Single());
        }
    }

    private List<LogRecord> ExchangeRecords() =>
        LogStore.ForDataFolder(_f.Node.DataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().ToList();
}
