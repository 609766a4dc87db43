using System.Net;
using GovShare.Node.Catalog;
using GovShare.Node.Hierarchy;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.OperatorConsole;

/// <summary>
/// The console's catalog page shows the tree below the node: at the province, what its prefectures
/// published (their sharing view, in the node's catalog aggregate), each with the node that owns it,
/// searched by the same text as the node's own catalog, every value encoded.
/// </summary>
public sealed class ConsoleCatalogTreeTests
{
    [Fact]
    public async Task Province_CatalogPage_ListsWhatItsPrefecturesPublished_WithTheOwningNode()
    {
        using var pki = new TestPki();
        await using var province = await TestNode.StartAsync(pki, "530000", s => s["Node:ManagementUrl"] = "https://127.0.0.1:0");
        var office = pki.IssueOperator("530000", "li.hua", "Li Hua");
        var kunming = pki.IssueDepartment("530100", name: "Kunming Civil Affairs <Bureau>");
        var qujing = pki.IssueDepartment("530300", name: "Qujing Civil Affairs Bureau");
        var aggregate = province.Services.GetRequiredService<CatalogAggregate>();
        var share = new ShareAttributes(ShareType.Unconditional);
        Assert.Empty(aggregate.Replace("530100", new CatalogPublication([new AggregatedEntry("530100", ExchangeFixture.Entry("101001/000007", kunming, share))])));
        Assert.Empty(aggregate.Replace("530300", new CatalogPublication([new AggregatedEntry("530300", ExchangeFixture.Entry("101001/000008", qujing, share) with { Name = "Qujing households" })])));

        using var console = TestNode.ClientFor(pki, new Uri($"https://localhost:{province.ManagementAddress.Port}/"), office.Certificate);
        console.Timeout = TimeSpan.FromSeconds(120);

        var all = await Page(console, "console/catalog?lang=en");
        Assert.Contains("Published by the nodes below", all, StringComparison.Ordinal);
        Assert.Contains("<td>530100</td><td><code>101001/000007</code></td>", all, StringComparison.Ordinal);
        Assert.Contains("<td>530300</td><td><code>101001/000008</code></td>", all, StringComparison.Ordinal);
        Assert.Contains("Kunming Civil Affairs &lt;Bureau&gt;", all, StringComparison.Ordinal);
        Assert.DoesNotContain("<Bureau>", all, StringComparison.Ordinal);

        var searched = await Page(console, "console/catalog?lang=en&q=qujing");
        Assert.Contains("101001/000008", searched, StringComparison.Ordinal);
        Assert.DoesNotContain("101001/000007", searched, StringComparison.Ordinal);

        Assert.Contains("下级节点发布的目录", await Page(console, "console/catalog?lang=zh"), StringComparison.Ordinal);
    }

    private static async Task<string> Page(HttpClient console, string path)
    {
        using var response = await console.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {html}");
        return html;
    }
}
