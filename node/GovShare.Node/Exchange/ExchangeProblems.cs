using GovShare.Contract;
using GovShare.Node.Exchange.ArrowInput;
using GovShare.Node.Exchange.Datasets;
using GovShare.Node.Kernel;
using GovShare.Node.Logs;
using Microsoft.AspNetCore.Http;

namespace GovShare.Node.Exchange;

/// <summary>The problem+json answers of the exchange's own refusals, for the endpoints built on it.</summary>
public static class ExchangeProblems
{
    /// <summary>400 for a refused Arrow stream: extensions <c>code</c> (stable, e.g. <c>arrow-invalid-offsets</c>) and <c>exchangeId</c>.</summary>
    public static IResult InvalidArrowStream(ArrowInputException refusal, ExchangeId exchangeId)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        ArgumentNullException.ThrowIfNull(exchangeId);
        return Problem.Result(
            StatusCodes.Status400BadRequest,
            ProblemTypes.InvalidArrowStream,
            "The Arrow stream was refused.",
            refusal.Message,
            new Dictionary<string, object?> { ["code"] = refusal.Code, ["exchangeId"] = exchangeId.Value });
    }

    /// <summary>409 for an append whose schema differs from the resource's latest version.</summary>
    public static IResult SchemaMismatch(DatasetSchemaMismatchException refusal, ExchangeId exchangeId)
    {
        ArgumentNullException.ThrowIfNull(refusal);
        ArgumentNullException.ThrowIfNull(exchangeId);
        return Problem.Result(
            StatusCodes.Status409Conflict,
            ProblemTypes.SchemaMismatch,
            "The pushed schema does not match the latest version.",
            refusal.Message,
            new Dictionary<string, object?> { ["exchangeId"] = exchangeId.Value });
    }
}
