using Apache.Arrow;
using Apache.Arrow.Ipc;
using Apache.Arrow.Types;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;

namespace GovShare.LoadBenchmark;

/// <summary>
/// The benchmark's resource: registered residents, six information items. The ID number and the
/// birth date are masked by the catalog's defaults and the address is never shared, so every
/// pull projects (drops an item) and masks two items.
/// </summary>
public static class Population
{
    /// <summary>The items a pull asks for (all shareable ones).</summary>
    public const string PulledItems = "id_number,name,birth_date,income,remarks";

    public static Schema Schema { get; } = new Schema.Builder()
        .Field(new Field("公民身份号码", StringType.Default, false))
        .Field(new Field("姓名", StringType.Default, true))
        .Field(new Field("出生日期", Date32Type.Default, true))
        .Field(new Field("Annual Income", DoubleType.Default, true))
        .Field(new Field("备注", StringType.Default, true))
        .Field(new Field("住址", StringType.Default, true))
        .Build();

    public static CatalogEntry Entry(string code, DepartmentRef provider) => new()
    {
        ResourceCode = code,
        Name = "Kunming residents (benchmark) " + code[^6..],
        Provider = provider,
        Abstract = "Registered residents of Kunming, generated for the load benchmark",
        Format = ResourceFormat.Database,
        Share = new ShareAttributes(ShareType.Unconditional),
        UpdateCycle = UpdateCycle.Daily,
        ReleaseDate = new DateOnly(2026, 1, 1),
        // Art. 34: shared only after its secrecy review, which the node requires by default.
        SecrecyReview = new SecrecyReview(new DateOnly(2026, 1, 1), "Benchmark secrecy office"),
        // The large resource's push (12 M rows with the unshareable address) is above the node's
        // 1 GiB default: the provider's catalog entry allows it, as for a province-wide register.
        MaxPushBytes = CatalogLimits.MaxPushBytes,
        Items =
        [
            new InformationItem("id_number", "公民身份号码", "utf8", 18, Nullable: false, Sensitivity: Sensitivity.Sensitive, Masking: MaskingRule.KeepEnds(6, 4)),
            new InformationItem("name", "姓名", "utf8", 50),
            new InformationItem("birth_date", "出生日期", "date32", Masking: MaskingRule.GeneraliseDate(DatePrecision.Year)),
            new InformationItem("income", "Annual Income", "float64"),
            new InformationItem("remarks", "备注", "utf8", 200),
            new InformationItem("address", "住址", "utf8", 200, Shareable: false),
        ],
    };

    /// <summary>One batch of <paramref name="rows"/> deterministic rows, numbered from <paramref name="start"/>.</summary>
    public static RecordBatch Batch(int rows, int start = 0)
    {
        var ids = new StringArray.Builder();
        var names = new StringArray.Builder();
        var births = new Date32Array.Builder();
        var incomes = new DoubleArray.Builder();
        var remarks = new StringArray.Builder();
        var addresses = new StringArray.Builder();
        for (var i = start; i < start + rows; i++)
        {
            ids.Append($"530102{1950 + (i % 50)}0101{i % 10000:D4}");
            names.Append(i % 2 == 0 ? "张三" : "李四光");
            births.Append(new DateOnly(1950 + (i % 50), 1 + (i % 12), 1 + (i % 28)));
            incomes.Append(30000 + (i % 100000));
            remarks.Append($"household {i:D9} registered, status verified");
            addresses.Append($"昆明市五华区某路{i % 1000}号");
        }

        return new RecordBatch(Schema, [ids.Build(), names.Build(), births.Build(), incomes.Build(), remarks.Build(), addresses.Build()], rows);
    }

    /// <summary>
    /// Writes an Arrow IPC stream of <paramref name="rows"/> rows: one generated batch written
    /// again and again (the values repeat per batch; the node does the same work per value).
    /// </summary>
    public static async Task WriteStreamAsync(Stream destination, long rows, int batchRows, CancellationToken cancellationToken = default)
    {
        using var template = Batch((int)Math.Min(batchRows, rows));
        using var writer = new ArrowStreamWriter(destination, Schema, leaveOpen: true);
        for (long written = 0; written < rows; written += template.Length)
        {
            var count = (int)Math.Min(template.Length, rows - written);
            if (count == template.Length)
            {
                await writer.WriteRecordBatchAsync(template, cancellationToken);
            }
            else
            {
                using var tail = Batch(count);
                await writer.WriteRecordBatchAsync(tail, cancellationToken);
            }
        }

        await writer.WriteEndAsync(cancellationToken);
    }

    public static string UrlOf(string code) => ResourceCode.ToUrl(code);

    public static string DataPath(string code, string? query = null) => $"v1/resources/{UrlOf(code)}/data{(query is null ? "" : "?" + query)}";

    public const string ArrowMediaType = MediaTypes.ArrowStream;
}
