using System.Security.Cryptography.X509Certificates;
using GovShare.Benchmarks.Identity;
using GovShare.Contract;
using GovShare.Node.Catalog;
using GovShare.Node.Desensitisation;
using GovShare.Node.Exchange.Pull;
using GovShare.Node.Identity;
using GovShare.Node.Kernel;
using GovShare.Node.Pki;
using GovShare.Node.Requests;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Certificate;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;

namespace GovShare.Benchmarks.Exchange;

/// <summary>
/// <c>decision-cpu [calls]</c>: a one-row pull's authorisation and answer-cache key, as the pull
/// endpoint makes them per request (the grant looked up, the decision, the item ids, the key) for
/// a conditional resource of five items with a grant of four, by thread CPU time and bytes
/// allocated per call. Before the decision was remembered on the grant and entry snapshots
/// (fix/small7) the same work was 1.76–1.78 µs and 2,745–2,750 B per call (load 86–96).
/// <c>decision-cpu [calls] [items]</c> names items as the request's <c>items</c> value does (the
/// load benchmark's one-row pull names two): measured both as the endpoint does it now (the
/// choice remembered for that value, fix/small9) and as it did before (the value parsed with
/// LINQ, the named items decided and the answer-cache key built per request).
/// Then the pull's two query reads, parsed and scanned (<see cref="QueryReads"/>), and, for either, the identity work a kept-alive connection's request pays before the decision
/// (<see cref="KeptAliveIdentity"/>), alternated twice with the remembered principal's claims made
/// first (as every principal was before fix/authdec12).
/// </summary>
public static class PullDecisionCpuRun
{
    public static int Run(string[] args)
    {
        var calls = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
        var folder = Path.Combine(Path.GetTempPath(), "govshare-decision-cpu-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var data = NodeDataFolder.Open(folder);
            var grants = new GrantStore(data);
            var now = DateTimeOffset.UtcNow;
            var user = CallerIdentity.Department("530100", "11530100MB00000118");
            var entry = new CatalogEntry
            {
                ResourceCode = "101001/000001",
                Name = "Kunming residents",
                Provider = new DepartmentRef("530100", "11530100MB0000011X", "Kunming Public Security Bureau"),
                Abstract = "Registered residents of Kunming",
                Format = ResourceFormat.Database,
                Share = new ShareAttributes(ShareType.Conditional, Condition: "social assistance cases"),
                UpdateCycle = UpdateCycle.Daily,
                ReleaseDate = new DateOnly(2026, 1, 1),
                Items =
                [
                    new InformationItem("id_number", "公民身份号码", "utf8", 18, Masking: MaskingRule.KeepEnds(6, 4)),
                    new InformationItem("name", "姓名", "utf8", 50),
                    new InformationItem("birth_date", "出生日期", "date32"),
                    new InformationItem("income", "Annual Income", "float64"),
                    new InformationItem("address", "住址", "utf8", 200, Shareable: false),
                ],
            };
            grants.Save(new Grant("g1", "530100", user.CreditCode!, entry.ResourceCode,
                [new GrantedItem("id_number", MaskingRule.KeepEnds(6, 4)), new GrantedItem("name", MaskingRule.None), new GrantedItem("birth_date", MaskingRule.None), new GrantedItem("income", MaskingRule.None)],
                "social-assistance", now.AddDays(-1), now.AddDays(30), GrantStatus.Active, "decision-1", now.AddDays(-1)));

            var items = args.Length > 2 ? new StringValues(args[2]) : StringValues.Empty;
            long Once()
            {
                var decision = PullAuthorisation.Decide(entry, user, "social-assistance", items, grants, now);
                var ids = decision.ItemIds;
                var key = decision.Keys!.For(MediaTypes.ArrowStream);
                return ids.Count + key.Length + user.Uri.Length;
            }

            long Before()
            {
                var requested = items.SelectMany(v => (v ?? "").Split(',')).Select(v => v.Trim()).Where(v => v.Length > 0).ToList();
                var decision = PullAuthorisation.Decide(entry, user, "social-assistance", requested, grants, now);
                var ids = decision.ItemIds;
                var key = PullAnswerCache.Key(MediaTypes.ArrowStream, true, decision.Items!);
                return ids.Count + key.Length + user.Uri.Length;
            }

            if (items.Count > 0)
            {
                Measure("items named, per request as before fix/small9", Before, calls);
            }

            Measure(items.Count > 0 ? "items named, remembered choice" : "every allowed item", Once, calls);
            QueryReads(calls);
            KeptAliveIdentity(folder, calls);
            return 0;
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>
    /// The identity work of every request on a kept-alive connection before the decision, as the node
    /// does it in its gate (CallerGate): the connection's remembered verdict handed out
    /// (ConnectionValidationCache.Remembered: a fresh principal), the caller read from it, the chain's
    /// revocation re-checked against the held CRLs (CrlStore.CheckChain), the registration checked
    /// (the last-seen certificate's and the gate's), and the four "vouched?" reads of a direct pull
    /// (exchange id, log parties twice, routing).
    /// </summary>
    private static void KeptAliveIdentity(string folder, int calls)
    {
        var pki = new PkiFolder(Path.Combine(folder, "pki"));
        var now = DateTimeOffset.UtcNow;
        var root = pki.CreateRoot("530000", "Bench Root CA", now.AddDays(-1));
        var kunming = pki.CreateIntermediate("530100", "Bench Kunming CA", now.AddDays(-1));
        var code = CreditCode.Complete("11530100MB0000011");
        var issued = pki.IssueDepartment("530100", code, "Bench Bureau", now.AddMinutes(-5), now.AddDays(30));
        using var leaf = X509Certificate2.CreateFromPem(File.ReadAllText(issued.CertificatePath));
        var crls = new CrlStore(pki.CrlFolder, TimeSpan.FromHours(1), [root.Certificate, kunming.Certificate], TimeProvider.System, NullLogger<CrlStore>.Instance);
        using var data = NodeDataFolder.Open(Path.Combine(folder, "registry"));
        var registry = new DepartmentRegistry(data, TimeProvider.System, new RegistryLookupBenchmarks.CountingJournal(), "530100");
        registry.Register("530100", code, "Bench Bureau", out _);
        var scheme = CertificateAuthenticationDefaults.AuthenticationScheme;
        var context = new DefaultHttpContext();

        for (var round = 0; round < 2; round++)
        {
            var principal = CallerIdentity.Department("530100", code).ToPrincipal(scheme);
            var connection = new ConnectionValidationCache(new NoSharedCache(), TimeProvider.System, TimeSpan.FromMinutes(2));
            connection.Put(context, leaf, AuthenticateResult.Success(new AuthenticationTicket(principal, scheme)));
            long Once()
            {
                var user = connection.Remembered(leaf)!;
                var caller = CallerIdentity.FromPrincipal(user)!;
                if (crls.CheckChain(leaf).Status != RevocationStatus.Good || !registry.IsRegistered(caller) || !registry.IsRegistered(caller))
                {
                    throw new InvalidOperationException("The benchmark's caller must pass every check.");
                }

                var vouched = 0;
                for (var read = 0; read < 4; read++)
                {
                    vouched += Vouching.Via(user) is null ? 0 : 1;
                }

                return vouched + caller.Uri.Length;
            }

            Measure("kept-alive identity", Once, calls);
        }
    }

    /// <summary>
    /// The two query reads of a one-row pull (routing's <c>node</c>, the decision's <c>items</c>) on the
    /// load benchmark's query, each call a new request (so nothing parsed before is reused): as
    /// <c>Request.Query</c> parses the whole query, and as <see cref="QueryValues"/> scans it
    /// (fix/decide13). The request alone is measured too: the difference is the reads.
    /// </summary>
    private static void QueryReads(int calls)
    {
        const string raw = "?items=id_number%2Cname%2Cbirth_date%2Cincome%2Cremarks";
        HttpRequest NewRequest()
        {
            var features = new FeatureCollection();
            features.Set<IHttpRequestFeature>(new HttpRequestFeature { QueryString = raw });
            return new DefaultHttpContext(features).Request;
        }

        for (var round = 0; round < 2; round++)
        {
            Measure("query reads: the request alone", () => NewRequest().Method.Length, calls);
            Measure("query reads: node + items parsed (Request.Query)", () =>
            {
                var request = NewRequest();
                return request.Query["node"].ToString().Length + request.Query["items"].ToString().Length;
            }, calls);
            Measure("query reads: node + items scanned (QueryValues)", () =>
            {
                var request = NewRequest();
                return QueryValues.Of(request, "node").ToString().Length + QueryValues.Of(request, "items").ToString().Length;
            }, calls);
        }
    }

    /// <summary>The measured requests all find their connection's result; the shared cache is never asked.</summary>
    private sealed class NoSharedCache : ICertificateValidationCache
    {
        public AuthenticateResult? Get(HttpContext context, X509Certificate2 certificate) => null;

        public void Put(HttpContext context, X509Certificate2 certificate, AuthenticateResult result)
        {
        }
    }

    private static void Measure(string what, Func<long> once, int calls)
    {
        var warm = ThreadCost.Measure(10_000, _ => once());
        var (ns, bytes, sink) = ThreadCost.Measure(calls, _ => once());
        Console.WriteLine(FormattableString.Invariant($"decision-cpu {what}, load {ThreadCost.Load()}: {ns:F0} ns thread CPU, {bytes:F0} B allocated per pull decision + key ({(warm.Sink + sink) % 7})"));
    }
}
