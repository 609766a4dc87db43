using System.Net.Http.Headers;
using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Exchange;

/// <summary>
/// A real node with three registered departments of Kunming: the Public Security Bureau provides
/// a population resource in three share types; Civil Affairs and Health use it.
/// </summary>
public sealed class ExchangeFixture : IAsyncDisposable
{
    public const string Unconditional = "101001/000001";
    public const string Conditional = "101001/000002";
    public const string NotShared = "101001/000003";

    private ExchangeFixture(TestPki pki, TestNode node, TestDepartment provider, TestDepartment user, TestDepartment other)
    {
        Pki = pki;
        Node = node;
        Provider = provider;
        User = user;
        Other = other;
    }

    public TestPki Pki { get; }
    public TestNode Node { get; }
    public TestDepartment Provider { get; }
    public TestDepartment User { get; }
    public TestDepartment Other { get; }

    public static async Task<ExchangeFixture> StartAsync(Action<Dictionary<string, string?>>? configure = null)
    {
        var pki = new TestPki();
        var node = await TestNode.StartAsync(pki, configure: configure);
        var fixture = new ExchangeFixture(pki, node, pki.IssueDepartment(name: "Kunming Public Security Bureau"), pki.IssueDepartment(name: "Kunming Civil Affairs Bureau"), pki.IssueDepartment(name: "Kunming Health Commission"));
        foreach (var department in new[] { fixture.Provider, fixture.User, fixture.Other })
        {
            node.Register(department);
        }

        var catalog = node.Services.GetRequiredService<CatalogStore>();
        var provider = Caller(fixture.Provider);
        Assert.True(catalog.Create(Entry(Unconditional, fixture.Provider, new ShareAttributes(ShareType.Unconditional)), provider).Succeeded);
        Assert.True(catalog.Create(Entry(Conditional, fixture.Provider, new ShareAttributes(ShareType.Conditional, Condition: "For social assistance casework only")), provider).Succeeded);
        Assert.True(catalog.Create(Entry(NotShared, fixture.Provider, new ShareAttributes(ShareType.NotShared, Reason: "State secret (Art. 10)")), provider).Succeeded);
        return fixture;
    }

    public static CallerIdentity Caller(TestDepartment department) => CallerIdentity.Department(department.Division, department.CreditCode);

    /// <summary>The secrecy review (Art. 34) the fixtures' entries carry: without one, the node shares nothing.</summary>
    public static SecrecyReview Reviewed { get; } = new(new DateOnly(2026, 1, 1), "市保密办");

    /// <summary>Items: an ID number masked by default, a name, a birth date, an income, and an address that is never shared.</summary>
    public static CatalogEntry Entry(string code, TestDepartment provider, ShareAttributes share) => new()
    {
        ResourceCode = code,
        Name = "Kunming residents " + code[^1],
        Provider = new DepartmentRef(provider.Division, provider.CreditCode, provider.Name),
        Abstract = "Registered residents of Kunming",
        Format = ResourceFormat.Database,
        Share = share,
        UpdateCycle = UpdateCycle.Daily,
        ReleaseDate = new DateOnly(2026, 1, 1),
        SecrecyReview = Reviewed,
        Items =
        [
            new InformationItem("id_number", "公民身份号码", "utf8", 18, Nullable: false, Sensitivity: Sensitivity.Sensitive, Masking: MaskingRule.KeepEnds(6, 4)),
            new InformationItem("name", "姓名", "utf8", 50),
            new InformationItem("birth_date", "出生日期", "date32"),
            new InformationItem("income", "Annual Income", "float64"),
            new InformationItem("address", "住址", "utf8", 200, Shareable: false),
        ],
    };

    /// <summary>The rows the provider pushes: deterministic, <paramref name="rows"/> of them in batches.</summary>
    public static IEnumerable<RecordBatch> People(int rows, int batchSize = 1000)
    {
        var schema = new Schema.Builder()
            .Field(new Field("公民身份号码", StringType.Default, false))
            .Field(new Field("姓名", StringType.Default, true))
            .Field(new Field("出生日期", Date32Type.Default, true))
            .Field(new Field("Annual Income", DoubleType.Default, true))
            .Field(new Field("住址", StringType.Default, true))
            .Build();
        for (var start = 0; start < rows; start += batchSize)
        {
            var count = Math.Min(batchSize, rows - start);
            var ids = new StringArray.Builder();
            var names = new StringArray.Builder();
            var births = new Date32Array.Builder();
            var incomes = new DoubleArray.Builder();
            var addresses = new StringArray.Builder();
            for (var i = start; i < start + count; i++)
            {
                ids.Append(IdNumber(i));
                names.Append(Name(i));
                births.Append(new DateOnly(1950 + (i % 50), 1 + (i % 12), 1 + (i % 28)));
                incomes.Append(30000 + i);
                addresses.Append($"昆明市五华区某路{i}号");
            }

            yield return new RecordBatch(schema, [ids.Build(), names.Build(), births.Build(), incomes.Build(), addresses.Build()], count);
        }
    }

    public static string IdNumber(int i) => $"530102{1950 + (i % 50)}0101{i % 10000:D4}";

    public static string Name(int i) => i % 2 == 0 ? "张三" : "李四光";

    public static async Task<byte[]> StreamAsync(IEnumerable<RecordBatch> batches)
    {
        using var memory = new MemoryStream();
        ArrowStreamWriter? writer = null;
        foreach (var batch in batches)
        {
            writer ??= new ArrowStreamWriter(memory, batch.Schema, leaveOpen: true);
            await writer.WriteRecordBatchAsync(batch);
            batch.Dispose();
        }

        await writer!.WriteEndAsync();
        writer.Dispose();
        return memory.ToArray();
    }

    public static ByteArrayContent ArrowContent(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(MediaTypes.ArrowStream);
        return content;
    }

    public static string DataPath(string code, string? query = null) => $"v1/resources/{ResourceCode.ToUrl(code)}/data{(query is null ? "" : "?" + query)}";

    public async Task<HttpResponseMessage> PushAsync(string code, int rows, string mode = "replace")
    {
        using var client = Node.Client(Provider.Certificate);
        return await client.PostAsync(DataPath(code, "mode=" + mode), ArrowContent(await StreamAsync(People(rows))));
    }

    public static HttpRequestMessage Pull(string code, string? purpose, string? items = null, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, DataPath(code, items is null ? null : "items=" + Uri.EscapeDataString(items)));
        if (purpose is not null)
        {
            request.Headers.Add(GovShareHeaders.Purpose, purpose);
        }

        if (accept is not null)
        {
            request.Headers.Accept.ParseAdd(accept);
        }

        return request;
    }

    /// <summary>Reads a pulled Arrow stream whole into memory (test sizes only).</summary>
    public static async Task<(Schema Schema, List<RecordBatch> Batches)> ReadAsync(HttpResponseMessage response)
    {
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var reader = new ArrowStreamReader(stream);
        var batches = new List<RecordBatch>();
        while (await reader.ReadNextRecordBatchAsync() is { } batch)
        {
            batches.Add(batch);
        }

        return (reader.Schema, batches);
    }

    public Grant GrantTo(TestDepartment user, string code, string purpose, params GrantedItem[] items)
    {
        var now = DateTimeOffset.UtcNow;
        var grant = new Grant(Guid.NewGuid().ToString("N"), user.Division, user.CreditCode, code, items, purpose, now.AddMinutes(-1), now.AddDays(30), GrantStatus.Active, "operator", now);
        Node.Services.GetRequiredService<GrantStore>().Save(grant);
        return grant;
    }

    public async ValueTask DisposeAsync()
    {
        await Node.DisposeAsync();
        Pki.Dispose();
    }
}
