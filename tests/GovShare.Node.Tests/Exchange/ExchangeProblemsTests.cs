using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Exchange;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Exchange;

public sealed class ExchangeProblemsTests
{
    private static async Task<(int Status, string? ContentType, JsonElement Body)> ExecuteAsync(IResult result)
    {
        var context = new DefaultHttpContext { RequestServices = new ServiceCollection().AddLogging().BuildServiceProvider() };
        using var body = new MemoryStream();
        context.Response.Body = body;
        await result.ExecuteAsync(context);
        return (context.Response.StatusCode, context.Response.ContentType, JsonDocument.Parse(body.ToArray()).RootElement.Clone());
    }

    [Fact]
    public async Task InvalidArrowStream_Refusal_BadRequestWithStableTypeAndCode()
    {
        var id = ExchangeId.New(TimeProvider.System);
        var refusal = new ArrowInputException(ArrowInputError.InvalidOffsets, "Column 0 ('name') has offset 100000 after 3 at value 1, outside 0..9 or decreasing.");

        var (status, contentType, body) = await ExecuteAsync(ExchangeProblems.InvalidArrowStream(refusal, id));

        Assert.Equal(400, status);
        Assert.Equal(Problem.ContentType, contentType);
        Assert.Equal(ProblemTypes.InvalidArrowStream, body.GetProperty("type").GetString());
        Assert.Equal("arrow-invalid-offsets", body.GetProperty("code").GetString());
        Assert.Equal(id.Value, body.GetProperty("exchangeId").GetString());
        Assert.Equal(refusal.Message, body.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task SchemaMismatch_Refusal_Conflict()
    {
        var id = ExchangeId.New(TimeProvider.System);

        var (status, _, body) = await ExecuteAsync(ExchangeProblems.SchemaMismatch(new DatasetSchemaMismatchException("Resource 1: an append must have the schema of version 3."), id));

        Assert.Equal(409, status);
        Assert.Equal(ProblemTypes.SchemaMismatch, body.GetProperty("type").GetString());
        Assert.Equal(id.Value, body.GetProperty("exchangeId").GetString());
    }
}
