using BenchmarkDotNet.Attributes;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Benchmarks.Catalog;

/// <summary>
/// The catalog look-ups every exchange makes: <see cref="CatalogStore.Get"/> (LiteDB by id, then
/// the entry's JSON deserialised) and <see cref="CatalogEntry.ResolveItem"/> (NFKC-canonical
/// match of a requested item name, through the item list's canonical index; beside it the linear
/// scan it replaced), and the resource code's check (<see cref="ResourceCode.IsValid"/>, beside the
/// list of defects it used to build), each against a dictionary look-up.
/// </summary>
[MemoryDiagnoser]
public class CatalogLookupBenchmarks
{
    private const string Provider = "11530100MB00000118";
    private string _folder = "";
    private ServiceProvider _services = null!;
    private CatalogStore _catalog = null!;
    private readonly Dictionary<string, CatalogEntry> _entries = [];
    private Dictionary<string, InformationItem> _items = [];
    private CatalogEntry _entry = null!;
    private string _code = "";

    [Params(100, 1_000)]
    public int Entries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-catalog-" + Guid.NewGuid().ToString("N"));
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddSingleton(NodeDataFolder.Open(_folder));
        services.AddGovShareCatalog();
        _services = services.BuildServiceProvider();
        _catalog = _services.GetRequiredService<CatalogStore>();
        var caller = CallerIdentity.Department("530100", Provider);
        for (var i = 1; i <= Entries; i++)
        {
            var entry = Entry($"101001/{i:D6}");
            var result = _catalog.Create(entry, caller);
            if (!result.Succeeded)
            {
                throw new InvalidOperationException($"Catalog entry {entry.ResourceCode} refused: {result.Outcome}");
            }

            _entries[entry.ResourceCode] = entry;
        }

        _code = $"101001/{Entries / 2:D6}";
        _entry = _catalog.Get(_code)!;
        _items = _entry.Items.ToDictionary(i => i.Name, StringComparer.Ordinal);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _services.GetRequiredService<NodeDataFolder>().Dispose();
        _services.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public int DictionaryLookups() =>
        (_entries.TryGetValue(_code, out var entry) ? entry.Items.Count : 0) + (_items.TryGetValue("Annual Income", out var item) ? item.Name.Length : 0);

    [Benchmark]
    public int CatalogStoreGet() => _catalog.Get(_code)?.Items.Count ?? 0;

    [Benchmark]
    public int ResolveItemByName() => _entry.ResolveItem("Annual Income")?.Name.Length ?? 0;

    [Benchmark]
    public int ResolveItemById() => _entry.ResolveItem("income")?.Name.Length ?? 0;

    /// <summary>What <see cref="CatalogEntry.ResolveItem"/> did before its index: every item's id and name canonicalised per call.</summary>
    [Benchmark]
    public int ResolveItemByNameScan()
    {
        var key = ItemNames.Canonical("Annual Income");
        return (_entry.Items.FirstOrDefault(i => ItemNames.Canonical(i.Id) == key)
            ?? _entry.Items.FirstOrDefault(i => ItemNames.Canonical(i.Name) == key))?.Name.Length ?? 0;
    }

    /// <summary>A pull's code read back from its URL, as node routing and the endpoint each do (one string: the code).</summary>
    [Benchmark]
    public bool CodeFromUrl() => ResourceCode.TryFromUrl("101001-000500", out _);

    /// <summary>What <see cref="ResourceCode.IsValid"/> did before it checked spans: Check's list of defects, empty.</summary>
    [Benchmark]
    public bool CodeCheckedAsList() => ResourceCode.Check(_code).Count == 0;

    [Benchmark]
    public bool CodeValid() => ResourceCode.IsValid(_code);

    private static CatalogEntry Entry(string code) => new()
    {
        ResourceCode = code,
        Name = "Kunming residents " + code[^6..],
        Provider = new DepartmentRef("530100", Provider, "Kunming Public Security Bureau"),
        Abstract = "Registered residents of Kunming",
        Format = ResourceFormat.Database,
        Share = new ShareAttributes(ShareType.Unconditional),
        UpdateCycle = UpdateCycle.Daily,
        ReleaseDate = new DateOnly(2026, 1, 1),
        Items =
        [
            new InformationItem("id_number", "公民身份号码", "utf8", 18, Nullable: false, Sensitivity: Sensitivity.Sensitive, Masking: MaskingRule.KeepEnds(6, 4)),
            new InformationItem("name", "姓名", "utf8", 50),
            new InformationItem("birth_date", "出生日期", "date32"),
            new InformationItem("income", "Annual Income", "float64"),
            new InformationItem("address", "住址", "utf8", 200, Shareable: false),
        ],
    };
}
