using GovShare.Node.Hierarchy;
using GovShare.Node.Kernel;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace GovShare.Node.Tests.Hierarchy;

/// <summary>
/// <see cref="QueryValues"/>, read by routing for <c>?node=</c> and by the pull for <c>items</c>,
/// against ASP.NET's own parse of the same query (<c>Request.Query</c> of another request): every
/// spelling the collection accepts — any case of the name, percent-encoded letters, repeated names,
/// empty values, no '=', escaped values — gives the same values. Where the raw scan answers (no name
/// escaped or with a '+', the name once), the test also checks that the query was not parsed, so
/// each such case tests the scan itself and would fail if it missed, invented or misdecoded a value.
/// </summary>
public sealed class NodeRoutingQueryTests
{
    public static TheoryData<string, bool> Queries => new()
    {
        // (raw query, answered by the raw scan for both names)
        { "", true },
        { "?", true },
        { "?node=530100", true },
        { "?Node=530100", true },
        { "?NODE=530100", true },
        { "?nOdE=", true },
        { "?node", true },
        { "?node&items=name", true },
        { "?node=", true },
        { "?items=name,income", true },
        { "?items=id_number%2Cname%2Cbirth_date%2Cincome%2Cremarks", true },
        { "?ITEMS=name,income&node=530000", true },
        { "?Items=name&NODE=530000", true },
        { "?a=1&&node=2", true },
        { "?&node=2&", true },
        { "?node=a=b", true },
        { "?=node", true },
        { "?nodes=1&xnode=2&node_=3", true },
        { "?items=name;node=1", true },
        { "?items= name , income ", true },
        { "?items=name+income", true },
        { "?items=a%2Bb+c", true },
        { "?items=%E5%A7%93%E5%90%8D", true },
        { "?items=%F0%9F%98%80", true },
        { "?items=%", true },
        { "?items=%zz%4", true },
        { "?items=%E5%A7", true },
        { "?items=%C0%AF", true },
        { "?items=%ED%A0%80", true },
        { "?items=%2525", true },
        { "?node=%00", true },
        { "?node=%35%33%30%31%30%30", true },
        { "?node=5301ſ0", true },
        { "?ıtems=name", true },
        { "?İTEMS=income&noDE=1", true },
        { "items=name&node=530100", true },
        { "?ıtems=name&İTEMS=income&noDE=1", false },
        { "?node=1&node=2", false },
        { "?Node=1&node=2", false },
        { "?items=name&ITEMS=income", false },
        { "?%6Eode=530100", false },
        { "?%6eode=530100", false },
        { "?no%64e=530100", false },
        { "?%4E%4F%44%45=530100", false },
        { "?node%3D=1", false },
        { "?node+=1", false },
        { "?no+de=1", false },
        { "?+node=1", false },
        { "?%69tems=name&node=530100", false },
        { "?items=name&%69tems=income", false },
        { "?x%20=1&node=530100", false },
    };

    [Theory]
    [MemberData(nameof(Queries))]
    public void Of_AnyQuery_SameValuesAsTheParsedCollection(string raw, bool scanned)
    {
        foreach (var name in new[] { NodeRouter.NodeParameter, "items" })
        {
            var expected = Request(raw).Query[name];
            var request = Request(raw);

            var values = QueryValues.Of(request, name);

            Assert.Equal(expected.ToArray(), values.ToArray());
            Assert.Equal(expected.ToString(), values.ToString());
            if (scanned)
            {
                // Answered without the query feature, i.e. by the scan (whose values were just checked).
                Assert.Null(request.HttpContext.Features.Get<IQueryFeature>());
            }
        }
    }

    [Fact]
    public void Of_NameGivenTwice_BothValuesInOrder()
    {
        var values = QueryValues.Of(Request("?node=530000&NODE=530100"), NodeRouter.NodeParameter);

        Assert.Equal(2, values.Count);
        Assert.Equal("530000", values[0]);
        Assert.Equal("530100", values[1]);
    }

    [Fact]
    public void Of_EscapedValue_DecodedAsTheCollectionDoes()
    {
        Assert.Equal("姓名,income tax", QueryValues.Of(Request("?items=%E5%A7%93%E5%90%8D%2Cincome+tax"), "items").ToString());
    }

    [Fact]
    public void Of_PercentEncodedName_Found()
    {
        // The collection decodes names: a forward must not be skipped for an escaped 'n'.
        Assert.Equal("530100", QueryValues.Of(Request("?%6Eode=530100"), NodeRouter.NodeParameter).ToString());
    }

    private static HttpRequest Request(string raw)
    {
        var context = new DefaultHttpContext();
        context.Request.QueryString = new QueryString(raw.Length == 0 ? null : raw.StartsWith('?') ? raw : "?" + raw);
        return context.Request;
    }
}
