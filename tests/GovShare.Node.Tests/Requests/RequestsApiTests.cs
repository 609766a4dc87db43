using System.Net;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Catalog;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using static GovShare.Node.Tests.Requests.RequestsHttp;

namespace GovShare.Node.Tests.Requests;

/// <summary>A real node (TLS, LiteDB) on the real clock, shared by the requests API tests; each test uses its own departments and codes.</summary>
public sealed class RequestsNodeFixture : IAsyncLifetime
{
    public TestPki Pki { get; } = new();

    public TestNode Node { get; private set; } = null!;

    public async Task InitializeAsync() => Node = await StartNodeAsync(Pki, TestYear.Next());

    public async Task DisposeAsync()
    {
        await Node.DisposeAsync();
        Pki.Dispose();
    }
}

public sealed class RequestsApiTests(RequestsNodeFixture fixture) : IClassFixture<RequestsNodeFixture>
{
    private static readonly string[] BadItems = ["full_name", "户籍地址", "full_name"];
    private static readonly double[] AgeBoundaries = [18, 60];
    private static int _sequence;

    private TestNode Node => fixture.Node;

    /// <summary>A fresh conditional resource code per test: the catalog never reuses one.</summary>
    private static string NewCode(string classification = "301100") => $"{classification}/{Interlocked.Increment(ref _sequence):000000}";

    [Fact]
    public async Task Life_ApplyApproveFewerItemsWithMaskingThenRevoke_GrantAsDecidedAndRevokedAtOnce()
    {
        var (police, provider) = Department(Node, "公安局");
        var (civil, user) = Department(Node, "民政局");
        var (_, stranger) = Department(Node, "财政局");
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);

        // Apply: items by name or id, in any case form; canonical ids come back.
        var applied = await Post(user, "v1/requests", Application(code, Today, Today.AddDays(90), "公民身份号码", "FULL_NAME", "birth_date"));
        var request = await Ok(applied, HttpStatusCode.Created);
        var id = request.GetProperty("id").GetString()!;
        Assert.Equal($"/v1/requests/{id}", applied.Headers.Location?.OriginalString);
        Assert.Equal("submitted", request.GetProperty("status").GetString());
        Assert.Equal(["citizen_id", "full_name", "birth_date"], request.GetProperty("items").EnumerateArray().Select(i => i.GetString()));
        Assert.False(request.GetProperty("overdue").GetBoolean());
        var inbox = await Get(provider, "v1/inbox");
        Assert.Contains(id, inbox.GetProperty("toDecide").EnumerateArray().Select(r => r.GetProperty("id").GetString()));

        // Refusals on the way, each leaving the request as it was.
        await ProblemAssert.IsProblemAsync(await Post(stranger, $"v1/requests/{id}/decision", new { outcome = "approve" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await ProblemAssert.IsProblemAsync(await stranger.GetAsync($"v1/requests/{id}"), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        var noReason = await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "deny" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("reasonCode", "required"), ("reasonText", "required")], Errors(noReason));
        var tooMuch = await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/requests/{id}/decision", new
        {
            outcome = "approve",
            items = new object[] { new { item = "citizen_id" }, new { item = "no_such_item" } },
            validity = new { from = Today, to = Today.AddDays(400) },
        }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Contains(("items[1].item", "item.unknown"), Errors(tooMuch));
        Assert.Contains(("validity", "validity.beyondRequested"), Errors(tooMuch));
        Assert.Equal("submitted", (await Get(user, $"v1/requests/{id}")).GetProperty("status").GetString());

        // Approve fewer items than asked, with the provider's masking per item.
        var decided = await Ok(await Post(provider, $"v1/requests/{id}/decision", new
        {
            outcome = "approve",
            items = new object[]
            {
                new { item = "citizen_id", masking = new { kind = "keepEnds", keep = 3, keepEnd = 2 } },
                new { item = "姓名", masking = new { kind = "redact" } },
            },
            validity = new { from = Today, to = Today.AddDays(30) },
        }));
        Assert.Equal("approved", decided.GetProperty("status").GetString());
        Assert.False(decided.GetProperty("decision").GetProperty("late").GetBoolean());
        var grantId = decided.GetProperty("decision").GetProperty("grantId").GetString()!;
        await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "deny", reasonCode = "x", reasonText = "y" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        // The grant is exactly what was decided.
        var grant = await Get(user, $"v1/grants/{grantId}");
        var items = grant.GetProperty("items").EnumerateArray().ToArray();
        Assert.Equal(["citizen_id", "full_name"], items.Select(i => i.GetProperty("itemId").GetString()));
        Assert.Equal(("keepEnds", 3, 2), (items[0].GetProperty("masking").GetProperty("kind").GetString(), items[0].GetProperty("masking").GetProperty("keep").GetInt32(), items[0].GetProperty("masking").GetProperty("keepEnd").GetInt32()));
        Assert.Equal("redact", items[1].GetProperty("masking").GetProperty("kind").GetString());
        Assert.Equal("social-assistance", grant.GetProperty("purpose").GetString());
        Assert.False(grant.TryGetProperty("onwardSharing", out _)); // Art. 33: providing data on is a consent per recipient, never a grant's flag.
        Assert.Equal(id, grant.GetProperty("requestId").GetString());
        Assert.Equal(decided.GetProperty("decision").GetProperty("id").GetString(), grant.GetProperty("decision").GetString());
        var store = Node.Services.GetRequiredService<GrantStore>();
        var effective = store.Effective(civil.CreditCode, code, "social-assistance", DateTimeOffset.UtcNow);
        Assert.Equal(grantId, effective?.Id);
        Assert.Null(store.Effective(civil.CreditCode, code, "another-purpose", DateTimeOffset.UtcNow));
        Assert.Contains(id, (await Get(user, "v1/inbox")).GetProperty("decisionsReceived").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.Contains(grantId, (await Get(provider, "v1/grants?role=provider")).EnumerateArray().Select(g => g.GetProperty("id").GetString()));

        // The pull delivers exactly the decided items, masked as decided.
        await PushPeopleAsync(provider, code);
        using (var pull = await user.SendAsync(Exchange.ExchangeFixture.Pull(code, "social-assistance")))
        {
            var (schema, batches) = await Exchange.ExchangeFixture.ReadAsync(pull);
            Assert.Equal(["公民身份号码", "姓名"], schema.FieldsList.Select(f => f.Name));
            Assert.Equal("530" + new string('*', 13) + "34", ((Apache.Arrow.StringArray)batches[0].Column(0)).GetString(0));
            Assert.True(batches[0].Column(1).IsNull(0));
        }

        // Revoke: only the provider, with a reason; effective at once.
        await ProblemAssert.IsProblemAsync(await Post(user, $"v1/grants/{grantId}/revoke", new { reasonText = "自行撤销" }), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/grants/{grantId}/revoke", new { reasonCode = "misuse" }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var generation = store.Generation;
        var revoked = await Ok(await Post(provider, $"v1/grants/{grantId}/revoke", new { reasonCode = "misuse", reasonText = "超出申请用途使用" }));
        Assert.Equal("revoked", revoked.GetProperty("status").GetString());
        Assert.True(store.Generation > generation);
        Assert.Null(store.Effective(civil.CreditCode, code, "social-assistance", DateTimeOffset.UtcNow));
        await ProblemAssert.IsProblemAsync(await user.SendAsync(Exchange.ExchangeFixture.Pull(code, "social-assistance")), HttpStatusCode.Forbidden, ProblemTypes.NoGrant);
        await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/grants/{grantId}/revoke", new { reasonText = "again" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        // Every transition is a change record.
        using var op = Operator(Node);
        var requestChanges = await Get(op, $"v1/operator/requests/changes?subject={id}");
        Assert.Equal([(null, "submitted"), ("submitted", "approved")], requestChanges.EnumerateArray().Select(c => (c.TryGetProperty("from", out var f) ? f.GetString() : null, c.GetProperty("to").GetString())));
        var grantChanges = await Get(op, $"v1/operator/requests/changes?subject={grantId}");
        Assert.Equal(["active", "revoked"], grantChanges.EnumerateArray().Select(c => c.GetProperty("to").GetString()));
    }

    /// <summary>The provider pushes two residents for the catalog fixture's three items.</summary>
    private static async Task PushPeopleAsync(HttpClient provider, string code)
    {
        var schema = new Apache.Arrow.Schema.Builder()
            .Field(new Apache.Arrow.Field("公民身份号码", Apache.Arrow.Types.StringType.Default, false))
            .Field(new Apache.Arrow.Field("姓名", Apache.Arrow.Types.StringType.Default, true))
            .Field(new Apache.Arrow.Field("出生日期", Apache.Arrow.Types.Date32Type.Default, true))
            .Build();
        var batch = new Apache.Arrow.RecordBatch(schema,
        [
            new Apache.Arrow.StringArray.Builder().Append("530102199001011234").Append("530102198506064321").Build(),
            new Apache.Arrow.StringArray.Builder().Append("张三").Append("李四").Build(),
            new Apache.Arrow.Date32Array.Builder().Append(new DateOnly(1990, 1, 1)).Append(new DateOnly(1985, 6, 6)).Build(),
        ], 2);
        var response = await provider.PostAsync(Exchange.ExchangeFixture.DataPath(code), Exchange.ExchangeFixture.ArrowContent(await Exchange.ExchangeFixture.StreamAsync([batch])));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Apply_ResourceOfEachWrongKind_PreciseRefusalNothingStored()
    {
        var (police, provider) = Department(Node);
        var (civil, user) = Department(Node);
        var (open, closed, conditional) = (NewCode(), NewCode(), NewCode());
        await CreateEntryAsync(provider, police, open, ShareType.Unconditional);
        await CreateEntryAsync(provider, police, closed, ShareType.NotShared);
        await CreateEntryAsync(provider, police, conditional);

        await ProblemAssert.IsProblemAsync(await Post(user, "v1/requests", Application(open, Today, Today.AddDays(9), "full_name")), HttpStatusCode.Conflict, ProblemTypes.RequestNotNeeded);
        var notShared = await ProblemAssert.IsProblemAsync(await Post(user, "v1/requests", Application(closed, Today, Today.AddDays(9), "full_name")), HttpStatusCode.Forbidden, ProblemTypes.ResourceNotShared);
        Assert.Contains("《中华人民共和国保守国家秘密法》", notShared.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await ProblemAssert.IsProblemAsync(await Post(provider, "v1/requests", Application(conditional, Today, Today.AddDays(9), "full_name")), HttpStatusCode.Conflict, ProblemTypes.OwnResource);
        await ProblemAssert.IsProblemAsync(await Post(user, "v1/requests", Application("301100/999999", Today, Today.AddDays(9), "full_name")), HttpStatusCode.NotFound, ProblemTypes.NotFound);

        // Every defect of one body at once, unknown items named.
        var bad = await ProblemAssert.IsProblemAsync(await Post(user, "v1/requests", new
        {
            resourceCode = conditional,
            items = BadItems,
            purpose = new { code = "Bad Code!", text = "" },
            period = new { from = Today.AddDays(5), to = Today },
            contact = new { name = "张三", phone = "call me" },
        }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var errors = Errors(bad);
        Assert.Contains(("items[1].item", "item.unknown"), errors);
        Assert.Contains(("items[2].item", "item.duplicate"), errors);
        Assert.Contains(("purpose.code", "code.format"), errors);
        Assert.Contains(("purpose.text", "required"), errors);
        Assert.Contains(("legalBasis", "required"), errors);
        Assert.Contains(("period.to", "period.reversed"), errors);
        Assert.Contains(("contact.phone", "phone.format"), errors);
        Assert.Contains("户籍地址", bad.GetProperty("errors")[0].GetProperty("message").GetString(), StringComparison.Ordinal);

        Assert.Equal(0, (await Get(user, "v1/requests")).GetArrayLength());
        Assert.Equal(0, (await Get(provider, "v1/requests?role=provider")).GetArrayLength());
        Assert.Contains(Node.Logs, l => l.Contains("[5001:ShareRequestRefused]", StringComparison.Ordinal) && l.Contains(civil.CreditCode, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Bodies_MalformedOversizedWrongType_RefusedNothingChanged()
    {
        var (police, provider) = Department(Node);
        var (_, user) = Department(Node);
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);
        var id = (await Ok(await Post(user, "v1/requests", Application(code, Today, Today.AddDays(30), "full_name")), HttpStatusCode.Created)).GetProperty("id").GetString();
        using var op = Operator(Node);
        var changes = (await Get(op, "v1/operator/requests/changes?limit=10000")).GetArrayLength();

        await ProblemAssert.IsProblemAsync(await PostRaw(user, "v1/requests", "{\"resourceCode\": "), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PostRaw(user, "v1/requests", "null"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PostRaw(user, "v1/requests", "{}", "text/plain"), HttpStatusCode.UnsupportedMediaType, ProblemTypes.UnsupportedMediaType);
        var huge = JsonSerializer.Serialize(new { resourceCode = code, items = Enumerable.Repeat("full_name", 10_000) });
        await ProblemAssert.IsProblemAsync(await PostRaw(user, "v1/requests", huge), HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        await ProblemAssert.IsProblemAsync(await PostRaw(provider, $"v1/requests/{id}/decision", "{\"outcome\": \"maybe\"}"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PostRaw(provider, $"v1/requests/{id}/decision", "{\"outcome\": 0}"), HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        await ProblemAssert.IsProblemAsync(await PostRaw(provider, $"v1/requests/{id}/decision", "{\"outcome\": \"approve\", \"items\": [{\"item\": \"full_name\", \"masking\": {\"kind\": \"bucket\", \"boundaries\": [5, 1]}}]}"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        await ProblemAssert.IsProblemAsync(await user.GetAsync("v1/requests?role=owner"), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);

        Assert.Equal(1, (await Get(user, "v1/requests")).GetArrayLength());
        Assert.Equal("submitted", (await Get(user, $"v1/requests/{id}")).GetProperty("status").GetString());
        Assert.Equal(changes, (await Get(op, "v1/operator/requests/changes?limit=10000")).GetArrayLength());
    }

    [Fact]
    public async Task Decision_MaskingRuleNotForTheItemsType_400NamingItemAndRuleNoGrant()
    {
        var (police, provider) = Department(Node);
        var (_, user) = Department(Node);
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);
        var id = (await Ok(await Post(user, "v1/requests", Application(code, Today, Today.AddDays(30), "full_name", "birth_date")), HttpStatusCode.Created)).GetProperty("id").GetString();

        // A range bucket on a text item and a pseudonym on a date: each would fail every pull.
        var response = await Post(provider, $"v1/requests/{id}/decision", new
        {
            outcome = "approve",
            items = new object[]
            {
                new { item = "full_name", masking = new { kind = "bucket", boundaries = AgeBoundaries } },
                new { item = "birth_date", masking = new { kind = "pseudonym" } },
            },
        });

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var errors = problem.GetProperty("errors").EnumerateArray().ToList();
        Assert.Contains(errors, e => e.GetProperty("path").GetString() == "items[0].masking" && e.GetProperty("code").GetString() == "masking.notForType"
            && e.GetProperty("message").GetString()!.Contains("full_name", StringComparison.Ordinal) && e.GetProperty("message").GetString()!.Contains("Bucket", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.GetProperty("path").GetString() == "items[1].masking" && e.GetProperty("message").GetString()!.Contains("Pseudonym", StringComparison.Ordinal));
        Assert.Equal("submitted", (await Get(user, $"v1/requests/{id}")).GetProperty("status").GetString());
    }

    [Fact]
    public async Task Withdraw_ThenDecide_Conflict409AndOnlyUserWithdraws()
    {
        var (police, provider) = Department(Node);
        var (_, user) = Department(Node);
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);
        var id = (await Ok(await Post(user, "v1/requests", Application(code, Today, Today.AddDays(30), "full_name")), HttpStatusCode.Created)).GetProperty("id").GetString();
        await ProblemAssert.IsProblemAsync(await Post(user, "v1/requests", Application(code, Today, Today.AddDays(30), "birth_date")), HttpStatusCode.Conflict, ProblemTypes.Conflict);

        await ProblemAssert.IsProblemAsync(await provider.PostAsync($"v1/requests/{id}/withdraw", null), HttpStatusCode.Forbidden, ProblemTypes.Forbidden);
        Assert.Equal("withdrawn", (await Ok(await user.PostAsync($"v1/requests/{id}/withdraw", null))).GetProperty("status").GetString());
        await ProblemAssert.IsProblemAsync(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "approve" }), HttpStatusCode.Conflict, ProblemTypes.Conflict);
        Assert.Empty((await Get(provider, "v1/inbox")).GetProperty("toDecide").EnumerateArray());
    }

    [Fact]
    public async Task CatalogChange_ItemRemovedThenNotShared_AffectedGrantsSuspendedWithReasonInInbox()
    {
        var (police, provider) = Department(Node);
        var (_, user) = Department(Node);
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);
        async Task<string> GrantFor(string purpose, params string[] items)
        {
            var id = (await Ok(await Post(user, "v1/requests", ApplicationFor(purpose, code, Today, Today.AddDays(60), items)), HttpStatusCode.Created)).GetProperty("id").GetString();
            return (await Ok(await Post(provider, $"v1/requests/{id}/decision", new { outcome = "approve" }))).GetProperty("decision").GetProperty("grantId").GetString()!;
        }

        var names = await GrantFor("names", "citizen_id", "full_name");
        var births = await GrantFor("births", "birth_date");
        var entry = CatalogHttp.Entry(code, police, ShareType.Conditional);

        // Remove full_name: only the grant holding it is suspended.
        await Ok(await CatalogHttp.Send(provider, HttpMethod.Put, $"v1/catalog/{ResourceCode.ToUrl(code)}", entry with { Items = [.. entry.Items.Where(i => i.Id != "full_name")] }, "\"1\""));
        var suspended = await Get(user, $"v1/grants/{names}");
        Assert.Equal("suspended", suspended.GetProperty("status").GetString());
        Assert.Contains("full_name removed", suspended.GetProperty("statusReason").GetString(), StringComparison.Ordinal);
        Assert.Equal("active", (await Get(user, $"v1/grants/{births}")).GetProperty("status").GetString());
        var inbox = await Get(user, "v1/inbox");
        Assert.Equal([names], inbox.GetProperty("suspendedGrants").EnumerateArray().Select(g => g.GetProperty("id").GetString()));

        // Not shared any more: reported, the terms in force stay until the office approves (Art. 17); then the rest goes too, with the catalog's reason.
        await Ok(await CatalogHttp.Send(provider, HttpMethod.Put, $"v1/catalog/{ResourceCode.ToUrl(code)}", entry with
        {
            Items = [.. entry.Items.Where(i => i.Id != "full_name")],
            Share = new ShareAttributes(ShareType.NotShared, Reason: "涉及国家秘密"),
        }, "\"2\""));
        Assert.Equal("active", (await Get(user, $"v1/grants/{births}")).GetProperty("status").GetString());
        using (var office = Operator(Node))
        {
            await Ok(await office.PostAsync($"v1/operator/catalog/{ResourceCode.ToUrl(code)}/review/approve", null));
        }

        var second = await Get(user, $"v1/grants/{births}");
        Assert.Equal("suspended", second.GetProperty("status").GetString());
        Assert.Contains("涉及国家秘密", second.GetProperty("statusReason").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, (await Get(user, "v1/inbox")).GetProperty("suspendedGrants").GetArrayLength());
        Assert.Contains(Node.Logs, l => l.Contains("[5010:GrantsSuspended]", StringComparison.Ordinal) && l.Contains(code, StringComparison.Ordinal));
    }

    [Fact]
    public async Task OperatorGrant_ValidAndInvalid_CreatedOrAllErrorsListed()
    {
        var (police, provider) = Department(Node);
        var (civil, _) = Department(Node);
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);
        using var op = Operator(Node);

        var bad = await ProblemAssert.IsProblemAsync(await Post(op, "v1/operator/grants", new
        {
            user = new { divisionCode = "530100", creditCode = TestPki.NewCreditCode() },
            resourceCode = code,
            items = new[] { new { item = "nope" } },
            purpose = "social-assistance",
            validity = new { from = Today, to = Today.AddDays(10) },
        }), HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        Assert.Equal([("user", "user.notRegistered"), ("items[0].item", "item.unknown"), ("decision", "required")], Errors(bad));

        var created = await Ok(await Post(op, "v1/operator/grants", new
        {
            user = new { divisionCode = civil.Division, creditCode = civil.CreditCode },
            resourceCode = code,
            items = new object[] { new { item = "citizen_id" } },
            purpose = "social-assistance",
            validity = new { from = Today, to = Today.AddDays(10) },
            decision = "昆公复〔2026〕12号",
        }), HttpStatusCode.Created);
        Assert.Equal("keepEnds", created.GetProperty("items")[0].GetProperty("masking").GetProperty("kind").GetString());
        Assert.Equal("operator:昆公复〔2026〕12号", created.GetProperty("decision").GetString());
        Assert.Single((await Get(op, $"v1/operator/grants?user={civil.CreditCode}")).EnumerateArray());
        Assert.NotNull(Node.Services.GetRequiredService<GrantStore>().Effective(civil.CreditCode, code, "social-assistance", DateTimeOffset.UtcNow));
    }

    [Fact]
    public async Task Requests_NodeRestart_RequestsGrantsAndChangesSurvive()
    {
        using var pki = new TestPki();
        await using var node = await StartNodeAsync(pki, TestYear.Next());
        var (police, provider) = Department(node);
        var (civil, user) = Department(node);
        var code = NewCode();
        await CreateEntryAsync(provider, police, code);
        var first = (await Ok(await Post(user, "v1/requests", Application(code, Today, Today.AddDays(30), "full_name", "birth_date")), HttpStatusCode.Created)).GetProperty("id").GetString();
        var grant = (await Ok(await Post(provider, $"v1/requests/{first}/decision", new { outcome = "approve", items = new[] { new { item = "full_name" } } })))
            .GetProperty("decision").GetProperty("grantId").GetString();
        var second = (await Ok(await Post(user, "v1/requests", ApplicationFor("other", code, Today, Today.AddDays(30), "birth_date")), HttpStatusCode.Created)).GetProperty("id").GetString();

        await node.RestartAsync();
        using var user2 = node.Client(civil.Certificate);
        using var provider2 = node.Client(police.Certificate);
        Assert.Equal("approved", (await Get(user2, $"v1/requests/{first}")).GetProperty("status").GetString());
        Assert.Equal(["full_name"], (await Get(user2, $"v1/grants/{grant}")).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("itemId").GetString()));
        Assert.Equal([second], (await Get(provider2, "v1/inbox")).GetProperty("toDecide").EnumerateArray().Select(r => r.GetProperty("id").GetString()));
        Assert.NotNull(node.Services.GetRequiredService<GrantStore>().Effective(civil.CreditCode, code, "social-assistance", DateTimeOffset.UtcNow));
        using var op = Operator(node);
        Assert.Equal(4, (await Get(op, "v1/operator/requests/changes")).GetArrayLength());
    }
}
