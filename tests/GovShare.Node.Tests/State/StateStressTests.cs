using System.Collections.Concurrent;
using System.Diagnostics;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Hosting;
using GovShare.Node.Identity;
using GovShare.Node.Requests;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace GovShare.Node.Tests.State;

/// <summary>
/// The node's own stores and background services used at once on a fresh data folder, round
/// after round: the start-up shape that corrupted LiteDB (issue 18: the first write creating a
/// collection racing a reader of it — "page type must be collection page" — and documents saved
/// with missing fields when several threads first used a type). Every round starts a real node
/// (its hosted services running), then writers and readers of the registry, the links, the
/// catalog and the grants start together. Nothing may throw and every document must read back whole.
/// </summary>
public sealed class StateStressTests(ITestOutputHelper output) : IDisposable
{
    private const int Rounds = 8;
    private const int WritesPerWorker = 12;
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task StoresAndBackgroundServices_UsedConcurrentlyFromAFreshFolder_NeverFailAndLoseNoField()
    {
        var clock = Stopwatch.StartNew();
        long operations = 0;
        var failures = new ConcurrentQueue<string>();
        var provider = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        for (var round = 1; round <= Rounds; round++)
        {
            var settings = TestNode.DefaultSettings(_pki, "530100");
            settings["Logging:LogLevel:GovShare"] = "Warning";
            var node = GovShareNode.Build([], settings);
            try
            {
                await node.StartAsync();
                var ops = await RoundAsync(node.Services, provider, round, failures);
                Interlocked.Add(ref operations, ops);
                output.WriteLine($"round {round}: {ops} operations, {failures.Count} failures so far");
            }
            catch (Exception ex)
            {
                failures.Enqueue($"round {round}: {ex.GetType().Name}: {ex.Message}");
                output.WriteLine($"round {round}: {ex.GetType().Name}: {ex.Message}");
            }
            finally
            {
                await node.StopAsync();
                await node.DisposeAsync();
            }
        }

        output.WriteLine($"{Rounds} rounds, {operations} operations ({Rounds * WritesPerWorker * 4} writes), {clock.Elapsed.TotalSeconds:F1} s, {failures.Count} failures");
        Assert.True(failures.IsEmpty, string.Join("\n", failures.Take(20)));
    }

    private static async Task<long> RoundAsync(IServiceProvider services, TestDepartment provider, int round, ConcurrentQueue<string> failures)
    {
        var registry = services.GetRequiredService<DepartmentRegistry>();
        var links = services.GetRequiredService<NodeLinkRegistry>();
        var catalog = services.GetRequiredService<CatalogStore>();
        var requests = services.GetRequiredService<ShareRequestStore>();
        var grants = services.GetRequiredService<GrantStore>();
        var caller = ExchangeFixture.Caller(provider);
        long operations = 0;
        using var writersDone = new CancellationTokenSource();
        var start = new Barrier(8);

        Task Worker(string name, Action<int> step, bool writer) => Task.Run(() =>
        {
            start.SignalAndWait();
            try
            {
                for (var i = 0; writer ? i < WritesPerWorker : !writersDone.IsCancellationRequested; i++)
                {
                    step(i);
                    Interlocked.Increment(ref operations);
                    if (!writer && i % 16 == 0)
                    {
                        // Readers run flat out otherwise and starve the writers on a 2-core machine.
                        Thread.Sleep(0);
                    }
                }
            }
            catch (Exception ex)
            {
                failures.Enqueue($"round {round} {name}: {ex.GetType().Name}: {ex.Message}");
            }
        });

        var users = Enumerable.Range(0, WritesPerWorker).Select(_ => TestPki.NewCreditCode()).ToArray();
        var writers = new[]
        {
            Worker("register", i =>
            {
                if (i == 0)
                {
                    Assert.Empty(registry.Register(provider.Division, provider.CreditCode, provider.Name, out _));
                }

                Assert.Empty(registry.Register("530100", users[i], $"Bureau {i}", out _));
            }, writer: true),
            Worker("link", i => Assert.Empty(links.Link($"5301{i + 2:D2}", LinkRole.Child, $"https://127.0.0.1:{9000 + i}/", new string('b', 64), out _)), writer: true),
            Worker("catalog", i =>
            {
                var share = i % 2 == 0 ? new ShareAttributes(ShareType.Unconditional) : new ShareAttributes(ShareType.Conditional, Condition: "for the stated purpose only");
                var result = catalog.Create(ExchangeFixture.Entry($"101001/{i + 1:D6}", provider, share), caller);
                Assert.True(result.Succeeded, $"{result.Outcome} {result.Detail} {string.Join(", ", result.Errors?.Select(e => e.Message) ?? [])}");
            }, writer: true),
            Worker("grant", i =>
            {
                // A grant needs a conditional entry and a registered user: take whatever the other writers have made so far.
                var user = users[..Math.Max(1, i)].Select(registry.Find).OfType<RegisteredDepartment>().FirstOrDefault();
                var entry = catalog.ListResources(new CatalogQuery(ShareType: ShareType.Conditional, PageSize: 1)).Entries is [var first, ..] ? first : null;
                if (user is not null && entry is not null)
                {
                    var validity = new UsePeriod(DateOnly.FromDateTime(DateTime.UtcNow), DateOnly.FromDateTime(DateTime.UtcNow).AddDays(30));
                    var result = requests.CreateByOperator(new OperatorGrantInput(new DepartmentRef(user.DivisionCode, user.CreditCode, user.Name), entry.ResourceCode,
                        [new DecidedItem("name")], "P01", validity, "D-" + i));
                    Assert.True(result.Succeeded, $"{result.Outcome} {result.Detail} {string.Join(", ", result.Errors?.Select(e => e.Message) ?? [])}");
                }
            }, writer: true),
        };
        var readers = new[]
        {
            // What the request path and the background services read while the writers run.
            Worker("registry reader", i => _ = registry.IsRegistered(caller) && registry.All().Count >= 0, writer: false),
            Worker("links reader", i => _ = links.All().Count + links.Children().Count + (links.Parent() is null ? 0 : 1) + (links.ChildHolding("530102") is null ? 0 : 1), writer: false),
            Worker("catalog reader", i => _ = catalog.Get($"101001/{(i % WritesPerWorker) + 1:D6}") is null ? 0 : catalog.ListSharing(new CatalogQuery(PageSize: 5)).Total, writer: false),
            Worker("grants reader", i => _ = grants.ForUser(users[i % users.Length]).Count + grants.ForResource($"101001/{(i % WritesPerWorker) + 1:D6}").Count, writer: false),
        };

        // Hang protection only: a deadlocked store would otherwise stall the suite.
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromMinutes(3));
        await writersDone.CancelAsync();
        await Task.WhenAll(readers).WaitAsync(TimeSpan.FromMinutes(3));

        // Whole documents: every department, link and entry reads back with every field (5.0.21's mapper race lost fields).
        foreach (var department in registry.All())
        {
            if (department.DivisionCode.Length != 6 || department.Name.Length == 0 || department.RegisteredAt == default)
            {
                failures.Enqueue($"round {round}: department {department.CreditCode} read back incomplete");
            }
        }

        foreach (var link in links.All())
        {
            if (link.Url.Length == 0 || link.LinkedAt == default)
            {
                failures.Enqueue($"round {round}: link {link.DivisionCode} read back incomplete");
            }
        }

        if (registry.All().Count != WritesPerWorker + 1 || links.All().Count != WritesPerWorker
            || catalog.ListResources(new CatalogQuery(PageSize: 200)).Total != WritesPerWorker)
        {
            failures.Enqueue($"round {round}: {registry.All().Count} departments, {links.All().Count} links, {catalog.ListResources(new CatalogQuery(PageSize: 200)).Total} entries");
        }

        return operations;
    }
}
