using System.CommandLine;
using System.Text.Json;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary><c>govshare catalog search</c>: searches the node's sharing catalog as a department.</summary>
internal static class CatalogCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static Command Create()
    {
        var catalog = new Command("catalog", "The node's sharing catalog.");
        var text = new Argument<string?>("text") { Description = "Words to search for (name, abstract, items).", Arity = ArgumentArity.ZeroOrOne };
        var search = new Command("search", "Search the sharing catalog.") { text };
        DepartmentConnection.AddOptions(search);
        search.SetAction((parse, cancellation) => DepartmentConnection.RunAsync(async () =>
        {
            var config = DepartmentConnection.Load(parse);
            using var http = config.CreateHttpClient(TimeSpan.FromSeconds(60));
            using var result = await new NodeClient(http).SearchCatalogAsync(parse.GetValue(text), cancellation);
            Console.WriteLine(JsonSerializer.Serialize(result.RootElement, Indented));
            return ExitCodes.Ok;
        }));
        catalog.Add(search);
        return catalog;
    }
}
