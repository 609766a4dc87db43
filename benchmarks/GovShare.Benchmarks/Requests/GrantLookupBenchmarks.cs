using BenchmarkDotNet.Attributes;
using GovShare.Node.Desensitisation;
using GovShare.Node.Kernel;
using GovShare.Node.Requests;

namespace GovShare.Benchmarks.Requests;

/// <summary>
/// The grant check of a conditional pull: <see cref="GrantStore.Effective"/> (LiteDB query on
/// user and resource, then purpose and validity) against a dictionary keyed by the same three
/// values, over stores of different sizes.
/// </summary>
[MemoryDiagnoser]
public class GrantLookupBenchmarks
{
    private string _folder = "";
    private NodeDataFolder _data = null!;
    private GrantStore _store = null!;
    private readonly Dictionary<(string User, string Resource, string Purpose), Grant> _dictionary = [];
    private DateTimeOffset _now;
    private string _user = "";
    private string _resource = "";

    [Params(100, 10_000)]
    public int Grants { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-grants-" + Guid.NewGuid().ToString("N"));
        _data = NodeDataFolder.Open(_folder);
        _store = new GrantStore(_data);
        _now = DateTimeOffset.UtcNow;
        GrantedItem[] items = [new("id_number", MaskingRule.KeepEnds(6, 4)), new("name", MaskingRule.None)];
        // 100 users; each holds grants on Grants/100 resources.
        for (var i = 0; i < Grants; i++)
        {
            var user = $"11530100MB{i % 100:D7}X";
            var resource = $"101001/{i / 100:D6}";
            var grant = new Grant(Guid.NewGuid().ToString("N"), "530100", user, resource, items, "casework", _now.AddDays(-1), _now.AddDays(30), GrantStatus.Active, "operator", _now);
            _store.Save(grant);
            _dictionary[(user, resource, grant.Purpose)] = grant;
        }

        _user = $"11530100MB{(Grants - 1) % 100:D7}X";
        _resource = $"101001/{(Grants - 1) / 100:D6}";
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _data.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public Grant? DictionaryLookup() =>
        _dictionary.TryGetValue((_user, _resource, "casework"), out var grant) && grant.IsEffective(_now) ? grant : null;

    [Benchmark]
    public Grant? GrantStoreEffective() => _store.Effective(_user, _resource, "casework", _now);
}
