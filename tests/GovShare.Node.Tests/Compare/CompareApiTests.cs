using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Apache.Arrow;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Compare;
using GovShare.Node.Desensitisation;
using GovShare.Node.Logs;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Compare;

/// <summary>
/// Comparison without disclosure against a real node: Civil Affairs compares its own copy of the
/// Public Security Bureau's residents with the authoritative version. Generated rows with known
/// differences give exact counts; refusals are checked one by one, the anti-enumeration rules
/// (a minimum size on masked items, a rate per hour) included.
/// </summary>
public sealed class CompareApiTests
{
    /// <summary>Keyed by 公民身份号码; conditional.</summary>
    public const string Keyed = "101001/000011";

    /// <summary>Keyed by 公民身份号码; unconditional, so users see the ID number masked (KeepEnds 6,4).</summary>
    public const string KeyedOpen = "101001/000012";

    private const string Purpose = "social-assistance";

    internal static async Task<ExchangeFixture> StartAsync(Action<Dictionary<string, string?>>? configure = null, int rows = 1000)
    {
        var f = await ExchangeFixture.StartAsync(configure);
        var catalog = f.Node.Services.GetRequiredService<CatalogStore>();
        foreach (var (code, share) in new[] { (Keyed, new ShareAttributes(ShareType.Conditional, Condition: "For social assistance casework only")), (KeyedOpen, new ShareAttributes(ShareType.Unconditional)) })
        {
            var entry = ExchangeFixture.Entry(code, f.Provider, share);
            entry = entry with { Items = [entry.Items[0] with { Key = true }, .. entry.Items.Skip(1)] };
            Assert.True(catalog.Create(entry, ExchangeFixture.Caller(f.Provider)).Succeeded);
            using var client = f.Node.Client(f.Provider.Certificate);
            var pushed = await client.PostAsync(ExchangeFixture.DataPath(code), ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(ExchangeFixture.People(rows))));
            Assert.Equal(HttpStatusCode.OK, pushed.StatusCode);
        }

        return f;
    }

    /// <summary>
    /// The user's copy: residents 0..899 as the provider holds them, except the name of every 10th
    /// and a birth date left empty for every 25th; and residents 1000..1049 the provider does not hold.
    /// </summary>
    internal static IEnumerable<RecordBatch> UserCopy(int inBoth = 900, int extra = 50, int from = 0)
    {
        var schema = new Schema.Builder()
            .Field(new Field("公民身份号码", StringType.Default, false))
            .Field(new Field("姓名", StringType.Default, true))
            .Field(new Field("birth_date", Date32Type.Default, true))
            .Build();
        var ids = new StringArray.Builder();
        var names = new StringArray.Builder();
        var births = new Date32Array.Builder();
        foreach (var i in Enumerable.Range(from, inBoth).Concat(Enumerable.Range(1000, extra)))
        {
            ids.Append(ExchangeFixture.IdNumber(i));
            names.Append(i % 10 == 0 ? "王五" : ExchangeFixture.Name(i));
            if (i % 25 == 0)
            {
                births.AppendNull();
            }
            else
            {
                births.Append(new DateOnly(1950 + (i % 50), 1 + (i % 12), 1 + (i % 28)));
            }
        }

        yield return new RecordBatch(schema, [ids.Build(), names.Build(), births.Build()], inBoth + extra);
    }

    internal static async Task<HttpResponseMessage> CompareAsync(HttpClient client, string code, IEnumerable<RecordBatch> rows, string? purpose = Purpose, string query = "key=公民身份号码&items=姓名,birth_date")
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/resources/{ResourceCode.ToUrl(code)}/compare?{query}")
        {
            Content = ExchangeFixture.ArrowContent(await ExchangeFixture.StreamAsync(rows)),
        };
        if (purpose is not null)
        {
            request.Headers.Add(GovShareHeaders.Purpose, purpose);
        }

        return await client.SendAsync(request);
    }

    private static void GrantIdNameBirth(ExchangeFixture f, TestDepartment user) =>
        f.GrantTo(user, Keyed, Purpose, new GrantedItem("id_number", MaskingRule.None), new GrantedItem("name", MaskingRule.None), new GrantedItem("birth_date", MaskingRule.None));

    /// <summary>The exact answer to <see cref="UserCopy"/> against the 1000 pushed residents.</summary>
    internal static void AssertKnownDifferences(JsonElement answer)
    {
        Assert.Equal(950, answer.GetProperty("submittedRows").GetInt64());
        Assert.Equal(1000, answer.GetProperty("resourceRows").GetInt64());
        Assert.Equal(900, answer.GetProperty("rowsInBoth").GetInt64());
        Assert.Equal(50, answer.GetProperty("onlyInSubmission").GetInt64());
        Assert.Equal(100, answer.GetProperty("onlyInResource").GetInt64());
        var items = answer.GetProperty("items").EnumerateArray().ToDictionary(i => i.GetProperty("item").GetString()!);
        // Names: every 10th of 900 was changed (90), the rest agree.
        Assert.Equal((810L, 90L, 0L, 0L), Counts(items["name"]));
        // Birth dates: every 25th of 900 left empty by the user (36), the provider has them all.
        Assert.Equal((864L, 0L, 0L, 36L), Counts(items["birth_date"]));
        // Rows with a difference: 90 + 36 - 18 (every 50th is both).
        Assert.Equal(108, answer.GetProperty("differingRows").GetInt64());
        var differing = answer.GetProperty("differingKeys").EnumerateArray().ToList();
        Assert.Equal(
            Enumerable.Range(0, 900).Where(i => i % 10 == 0 || i % 25 == 0).Select(ExchangeFixture.IdNumber).Order(StringComparer.Ordinal),
            differing.Select(d => d.GetProperty("key").GetProperty("公民身份号码").GetString()!));
        var first = differing.Single(d => d.GetProperty("key").GetProperty("公民身份号码").GetString() == ExchangeFixture.IdNumber(50));
        Assert.Equal(["name", "birth_date"], first.GetProperty("items").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(
            Enumerable.Range(1000, 50).Select(ExchangeFixture.IdNumber).Order(StringComparer.Ordinal),
            answer.GetProperty("notInResourceKeys").EnumerateArray().Select(k => k.GetProperty("公民身份号码").GetString()!));
        Assert.Equal(0, answer.GetProperty("keysOmitted").GetInt64());
        // Never a value of the other side: the answer names keys the user sent, and counts.
        Assert.DoesNotContain("张三", answer.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain("李四光", answer.GetRawText(), StringComparison.Ordinal);
    }

    private static (long, long, long, long) Counts(JsonElement item) => (
        item.GetProperty("matched").GetInt64(),
        item.GetProperty("differing").GetInt64(),
        item.GetProperty("missingInResource").GetInt64(),
        item.GetProperty("missingInSubmission").GetInt64());

    [Theory]
    [InlineData(null)] // in memory
    [InlineData("4096")] // a 4 KiB budget: the join spills to disk and splits partitions again
    public async Task Compare_KnownDifferences_ExactCountsAndKeysLoggedAsCompare(string? memory)
    {
        await using var f = await StartAsync(s =>
        {
            if (memory is not null)
            {
                s["Compare:MemoryBytes"] = memory;
            }
        });
        GrantIdNameBirth(f, f.User);
        using var client = f.Node.Client(f.User.Certificate);

        using var response = await CompareAsync(client, Keyed, UserCopy());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        AssertKnownDifferences(answer);
        var id = answer.GetProperty("exchangeId").GetString();
        var record = Assert.Single(LogStore.ForDataFolder(f.Node.DataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>(), r => r.ExchangeId == id);
        Assert.Equal((ExchangeKind.Compare, 200, 950L, Purpose, Keyed), (record.Kind, record.Status, record.Rows, record.Purpose, record.ResourceCode));
        Assert.Equal(["id_number", "name", "birth_date"], record.Items);
        var compared = f.Node.Logs.Where(l => l.Contains("[4201:Compared]", StringComparison.Ordinal)).ToList();
        Assert.True(compared.Count == 1 && compared[0].Contains(memory is null ? " 0 spill partitions" : " 64 spill partitions", StringComparison.Ordinal), string.Join("\n", f.Node.Logs.Where(l => l.Contains("Compare", StringComparison.Ordinal))));
        // The spill files are gone with the comparison.
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(f.Node.DataPath, CompareGate.SpillFolderName)));
    }

    [Fact]
    public async Task Compare_ItemNotGranted_403NamingItAndNothingCompared()
    {
        await using var f = await StartAsync();
        GrantIdNameBirth(f, f.User);
        using var client = f.Node.Client(f.User.Certificate);

        // Income is not in the grant: comparing on it would tell the user what it may not pull.
        using var income = await CompareAsync(client, Keyed, UserCopy(), query: "key=公民身份号码&items=姓名,Annual Income");
        var problem = await ProblemAssert.IsProblemAsync(income, HttpStatusCode.Forbidden, ProblemTypes.ItemNotGranted);
        Assert.Contains("income", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // No grant at all, and a purpose that is not the grant's.
        using var other = f.Node.Client(f.Other.Certificate);
        await ProblemAssert.IsProblemAsync(await CompareAsync(other, Keyed, UserCopy()), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
        await ProblemAssert.IsProblemAsync(await CompareAsync(client, Keyed, UserCopy(), purpose: "tax-audit"), HttpStatusCode.Forbidden, ProblemTypes.PurposeMismatch);
        await ProblemAssert.IsProblemAsync(await CompareAsync(client, Keyed, UserCopy(), purpose: null), HttpStatusCode.BadRequest, ProblemTypes.PurposeRequired);
        // An item never shared (the address) is refused even on an unconditional resource.
        await ProblemAssert.IsProblemAsync(await CompareAsync(client, KeyedOpen, UserCopy(), query: "key=公民身份号码&items=住址"), HttpStatusCode.Forbidden, ProblemTypes.ItemNotGranted);

        var records = LogStore.ForDataFolder(f.Node.DataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().Where(r => r.Kind == ExchangeKind.Compare).ToList();
        Assert.Equal([403, 403, 403, 400, 403], records.Select(r => r.Status));
    }

    [Fact]
    public async Task Compare_BadSubmissions_400EachAndNoSpillLeft()
    {
        await using var f = await StartAsync(s => s["Compare:MemoryBytes"] = "4096");
        GrantIdNameBirth(f, f.User);
        using var client = f.Node.Client(f.User.Certificate);

        // One key twice (found only when the spilled partitions are joined).
        var doubled = UserCopy().Concat(UserCopy(inBoth: 1, extra: 0));
        var problem = await ProblemAssert.IsProblemAsync(await CompareAsync(client, Keyed, doubled), HttpStatusCode.BadRequest, ProblemTypes.InvalidCompareKey);
        Assert.Equal("key-duplicate", problem.GetProperty("code").GetString());

        // A column that is not one of the comparison's items, and a compared item left out.
        problem = await ProblemAssert.IsProblemAsync(await CompareAsync(client, Keyed, UserCopy(), query: "key=公民身份号码&items=姓名"), HttpStatusCode.BadRequest, ProblemTypes.SchemaMismatch);
        Assert.Contains("'birth_date' is not a key or compared item", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);

        // Garbage instead of Arrow.
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/resources/{ResourceCode.ToUrl(Keyed)}/compare") { Content = ExchangeFixture.ArrowContent(System.Text.Encoding.UTF8.GetBytes("{\"not\":\"arrow\"}")) };
        request.Headers.Add(GovShareHeaders.Purpose, Purpose);
        using var garbage = await client.SendAsync(request);
        var garbageText = await garbage.Content.ReadAsStringAsync();
        Assert.True(garbageText.Contains("invalid-arrow-stream", StringComparison.Ordinal), garbageText);
        await ProblemAssert.IsProblemAsync(garbage, HttpStatusCode.BadRequest, ProblemTypes.InvalidArrowStream);

        // An item both key and compared.
        await ProblemAssert.IsProblemAsync(await CompareAsync(client, Keyed, UserCopy(), query: "key=公民身份号码&items=id_number"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(f.Node.DataPath, CompareGate.SpillFolderName)));
    }

    [Fact]
    public async Task Compare_OverTheSubmissionCap_413NamingTheCap_DeclaredOrPassedPartWay()
    {
        await using var f = await StartAsync(s => s["Compare:MaxSubmissionBytes"] = "4096");
        GrantIdNameBirth(f, f.User);
        using var client = f.Node.Client(f.User.Certificate);
        var rows = await ExchangeFixture.StreamAsync(UserCopy());
        Assert.True(rows.Length > 4096);

        // Declared too large: refused before a byte is read. Chunked: refused when the body passes
        // the cap, and the client still reads the answer rather than a broken connection.
        foreach (var chunked in new[] { false, true })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/resources/{ResourceCode.ToUrl(Keyed)}/compare?key=公民身份号码&items=姓名,birth_date") { Content = ExchangeFixture.ArrowContent(rows) };
            request.Headers.Add(GovShareHeaders.Purpose, Purpose);
            request.Headers.TransferEncodingChunked = chunked;
            var problem = await ProblemAssert.IsProblemAsync(await client.SendAsync(request), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
            Assert.Equal($"At most 4096 bytes per comparison of {Keyed}.", problem.GetProperty("detail").GetString());
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(f.Node.DataPath, CompareGate.SpillFolderName)));
    }

    [Fact]
    public async Task Compare_MaskedKey_OneRowRefused422_ManyRowsAnsweredWithKeysMaskedAsAPull()
    {
        await using var f = await StartAsync();
        using var client = f.Node.Client(f.User.Certificate);

        // The ID number reaches users of the open resource only masked: a one-row comparison
        // would say whether that one person is registered and what their name is.
        using var one = await CompareAsync(client, KeyedOpen, UserCopy(inBoth: 1, extra: 0), query: "items=姓名,birth_date");
        var problem = await ProblemAssert.IsProblemAsync(one, HttpStatusCode.UnprocessableEntity, ProblemTypes.CompareTooSmall);
        Assert.Contains("100", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var ninetyNine = await CompareAsync(client, KeyedOpen, UserCopy(inBoth: 99, extra: 0), query: "items=姓名,birth_date");
        await ProblemAssert.IsProblemAsync(ninetyNine, HttpStatusCode.UnprocessableEntity, ProblemTypes.CompareTooSmall);

        using var many = await CompareAsync(client, KeyedOpen, UserCopy(), query: "items=姓名,birth_date");
        Assert.Equal(HttpStatusCode.OK, many.StatusCode);
        var answer = await many.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("KeepEnds(6,4)", answer.GetProperty("keyItems")[0].GetProperty("masking").GetString());
        var keys = answer.GetProperty("differingKeys").EnumerateArray().Select(d => d.GetProperty("key").GetProperty("公民身份号码").GetString()!).ToList();
        Assert.Equal(108, keys.Count);
        // Exactly as a pull masks them: the first 6 and last 4 characters.
        Assert.All(keys, k => Assert.Matches("^530102\\*{8}\\d{4}$", k));
        Assert.Equal(Enumerable.Range(0, 900).Where(i => i % 10 == 0 || i % 25 == 0).Select(i => ExchangeFixture.IdNumber(i)).Order(StringComparer.Ordinal).Select(k => k[..6] + "********" + k[^4..]), keys);
    }

    [Fact]
    public async Task Compare_MaskedComparedItem_CountedNeverListedByRow()
    {
        await using var f = await StartAsync();
        // Names granted masked: the user may learn how many agree, not which.
        f.GrantTo(f.User, Keyed, Purpose, new GrantedItem("id_number", MaskingRule.None), new GrantedItem("name", MaskingRule.KeepEnds(1, 0)), new GrantedItem("birth_date", MaskingRule.None));
        using var client = f.Node.Client(f.User.Certificate);

        using var response = await CompareAsync(client, Keyed, UserCopy());

        var answer = await response.Content.ReadFromJsonAsync<JsonElement>();
        var name = answer.GetProperty("items").EnumerateArray().Single(i => i.GetProperty("item").GetString() == "name");
        Assert.Equal((false, 90L), (name.GetProperty("listed").GetBoolean(), name.GetProperty("differing").GetInt64()));
        // Only the 36 rows whose birth date differs are listed, and never for their name.
        var differing = answer.GetProperty("differingKeys").EnumerateArray().ToList();
        Assert.Equal(36, differing.Count);
        Assert.All(differing, d => Assert.Equal(["birth_date"], d.GetProperty("items").EnumerateArray().Select(e => e.GetString())));
    }

    [Fact]
    public async Task Compare_ManyComparisonsInAnHour_429ForThatDepartmentOnly()
    {
        await using var f = await StartAsync(s => s["Compare:MaxPerDepartmentPerHour"] = "2");
        GrantIdNameBirth(f, f.User);
        GrantIdNameBirth(f, f.Other);
        using var client = f.Node.Client(f.User.Certificate);

        for (var i = 0; i < 2; i++)
        {
            using var ok = await CompareAsync(client, Keyed, UserCopy(inBoth: 1, extra: 0));
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        // The third one-row comparison within the hour: a stream of guesses is cut off.
        using var third = await CompareAsync(client, Keyed, UserCopy(inBoth: 1, extra: 0));
        await ProblemAssert.IsProblemAsync(third, HttpStatusCode.TooManyRequests, ProblemTypes.CompareRateExceeded);
        Assert.InRange(int.Parse(third.Headers.RetryAfter!.ToString(), System.Globalization.CultureInfo.InvariantCulture), 1, 3600);

        using var other = f.Node.Client(f.Other.Certificate);
        using var theirs = await CompareAsync(other, Keyed, UserCopy(inBoth: 1, extra: 0));
        Assert.Equal(HttpStatusCode.OK, theirs.StatusCode);
    }

    [Fact]
    public async Task Compare_ClientGoesAwayMidSubmissionAfterTheJoinSpilled_LoggedAndNoSpillFileLeft()
    {
        await using var f = await StartAsync(s => s["Compare:MemoryBytes"] = "4096");
        GrantIdNameBirth(f, f.User);
        using var client = f.Node.Client(f.User.Certificate);
        // Ten batches of 90 rows: the first ones already spill; the upload stops half way and the client gives up.
        var stream = await ExchangeFixture.StreamAsync(Enumerable.Range(0, 10).SelectMany(b => UserCopy(inBoth: 90, extra: 0, from: b * 90)));
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/resources/{ResourceCode.ToUrl(Keyed)}/compare?key=公民身份号码&items=姓名,birth_date") { Content = new HalfThenFail(stream) };
        request.Headers.Add(GovShareHeaders.Purpose, Purpose);

        await Assert.ThrowsAnyAsync<Exception>(() => client.SendAsync(request));

        LogRecord? aborted = null;
        for (var i = 0; i < 300 && aborted is null; i++)
        {
            await Task.Delay(100);
            aborted = LogStore.ForDataFolder(f.Node.DataPath).ReadEntries(LogKind.Exchange).Select(e => e.Record).OfType<LogRecord>().FirstOrDefault(r => r.Kind == ExchangeKind.Compare);
        }

        Assert.NotNull(aborted);
        // Kestrel reports a body cut mid-way as a client gone (499) or a body not received whole (400).
        Assert.True(aborted.Status is 400 or 499, $"status {aborted.Status}");
        Assert.InRange(aborted.Rows, 1, 899);
        // The record is written on the way out, the spill files go in the finally just after it.
        var spill = Path.Combine(f.Node.DataPath, CompareGate.SpillFolderName);
        for (var i = 0; i < 300 && Directory.EnumerateFileSystemEntries(spill).Any(); i++)
        {
            await Task.Delay(100);
        }

        Assert.Empty(Directory.EnumerateFileSystemEntries(spill));
    }

    /// <summary>Sends the first half of a body, then fails: the connection is cut mid-request.</summary>
    private sealed class HalfThenFail : HttpContent
    {
        private readonly byte[] _bytes;

        public HalfThenFail(byte[] bytes)
        {
            _bytes = bytes;
            Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(MediaTypes.ArrowStream);
        }

        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            await stream.WriteAsync(_bytes.AsMemory(0, _bytes.Length / 2));
            await stream.FlushAsync();
            await Task.Delay(TimeSpan.FromSeconds(3));
            throw new IOException("The department's system went away.");
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
