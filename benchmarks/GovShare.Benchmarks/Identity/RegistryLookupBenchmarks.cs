using BenchmarkDotNet.Attributes;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;

namespace GovShare.Benchmarks.Identity;

/// <summary>
/// The registry check of every exchange (<see cref="DepartmentRegistry.IsRegistered"/>) and the
/// look-up of one department (<see cref="DepartmentRegistry.Find"/>), against a dictionary keyed
/// by credit code, over registries of different sizes.
/// </summary>
[MemoryDiagnoser]
public class RegistryLookupBenchmarks
{
    private string _folder = "";
    private NodeDataFolder _data = null!;
    private DepartmentRegistry _registry = null!;
    private readonly Dictionary<string, string> _dictionary = [];
    private CallerIdentity _caller = null!;
    private string _code = "";

    [Params(100, 10_000)]
    public int Departments { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _folder = Path.Combine(Path.GetTempPath(), "govshare-bench-registry-" + Guid.NewGuid().ToString("N"));
        _data = NodeDataFolder.Open(_folder);
        _registry = new DepartmentRegistry(_data, TimeProvider.System, new CountingJournal(), "530100");
        for (var i = 0; i < Departments; i++)
        {
            var code = CreditCode.Complete($"11530100MB{i:D7}");
            _registry.Register("530100", code, $"Bureau {i}", out _);
            _dictionary[code] = "530100";
        }

        _code = CreditCode.Complete($"11530100MB{Departments / 2:D7}");
        _caller = CallerIdentity.Department("530100", _code);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _data.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    [Benchmark(Baseline = true)]
    public bool DictionaryLookup() => _dictionary.TryGetValue(_code, out var division) && division == "530100";

    [Benchmark]
    public bool RegistryIsRegistered() => _registry.IsRegistered(_caller);

    [Benchmark]
    public RegisteredDepartment? RegistryFind() => _registry.Find(_code);

    /// <summary>Numbers changes as the change log would, without writing one: the benchmark measures look-ups.</summary>
    internal sealed class CountingJournal : IStateJournal
    {
        private long _sequence;

        public long Append(StateChange change) => Interlocked.Increment(ref _sequence);
    }
}
