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
        DepartmentCommand.AddOptions(search);
        search.SetAction((parse, cancellation) => DepartmentCommand.RunAsync(async () =>
        {
            var config = DepartmentCommand.Load(parse);
            using var http = config.CreateHttpClient(TimeSpan.FromSeconds(60));
            using var result = await new NodeClient(http).SearchCatalogAsync(parse.GetValue(text), cancellation);
            Console.WriteLine(JsonSerializer.Serialize(result.RootElement, Indented));
            return ExitCodes.Ok;
        }));
        catalog.Add(search);
        foreach (var command in Manage())
        {
            catalog.Add(command);
        }

        return catalog;
    }

    /// <summary>
    /// The department's own catalog entries (Art. 7, 8): read, create, update and retire with
    /// ETag concurrency, import and export as JSON, an entry's items as CSV for spreadsheets.
    /// </summary>
    private static IEnumerable<Command> Manage()
    {
        var code = new Argument<string>("resource") { Description = "The resource code, e.g. 101001/000001." };
        var file = new Option<string>("--file") { Description = "A JSON (or CSV for items) file.", Required = true };
        var etag = new Option<string>("--etag") { Description = "The ETag the change is based on (from get/create/update).", Required = true };
        var output = new Option<string?>("--output") { Description = "Write the answer to this file." };

        var get = new Command("get", "One entry as this department sees it; prints its ETag.") { code };
        DepartmentCommand.Call(get, parse => http => http.GetAsync(EntryPath(parse.GetValue(code)!)));

        var mine = new Command("mine", "This department's resource catalog (all its entries).");
        DepartmentCommand.Call(mine, _ => http => http.GetAsync("v1/catalog/resources"));

        var create = new Command("create", "Register a resource from a JSON entry file.") { file };
        DepartmentCommand.Call(create, parse => http => http.PostAsync("v1/catalog", JsonFile(parse.GetValue(file)!)));

        var update = new Command("update", "Replace an entry from a JSON file (If-Match: --etag).") { code, file, etag };
        DepartmentCommand.Call(update, parse => http => SendAsync(http, HttpMethod.Put, EntryPath(parse.GetValue(code)!), JsonFile(parse.GetValue(file)!), parse.GetValue(etag)!));

        var retire = new Command("retire", "Retire an entry (If-Match: --etag).") { code, etag };
        DepartmentCommand.Call(retire, parse => http => SendAsync(http, HttpMethod.Delete, EntryPath(parse.GetValue(code)!), null, parse.GetValue(etag)!));

        var import = new Command("import", "Import this department's catalog from JSON (all or nothing).") { file };
        DepartmentCommand.Call(import, parse => http => http.PostAsync("v1/catalog/import", JsonFile(parse.GetValue(file)!)));

        var export = new Command("export", "Export this department's catalog as JSON.") { output };
        DepartmentCommand.Call(export, _ => http => http.GetAsync("v1/catalog/export"), output);

        var itemsGet = new Command("items-export", "An entry's information items as CSV (UTF-8 with BOM).") { code, output };
        DepartmentCommand.Call(itemsGet, parse => http => http.GetAsync(EntryPath(parse.GetValue(code)!) + "/items.csv"), output);

        var itemsPut = new Command("items-import", "Replace an entry's items from a CSV file (If-Match: --etag).") { code, file, etag };
        DepartmentCommand.Call(itemsPut, parse => http =>
        {
            var content = new ByteArrayContent(File.ReadAllBytes(parse.GetValue(file)!));
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("text/csv");
            return SendAsync(http, HttpMethod.Put, EntryPath(parse.GetValue(code)!) + "/items.csv", content, parse.GetValue(etag)!);
        });

        var text = new Argument<string?>("text") { Description = "Words to search for.", Arity = ArgumentArity.ZeroOrOne };
        var tree = new Command("tree", "Search the sharing catalog of the whole tree (every jurisdiction), through this node.") { text };
        DepartmentCommand.Call(tree, parse => http => http.GetAsync($"v1/catalog/tree?q={Uri.EscapeDataString(parse.GetValue(text) ?? "")}"));

        return [get, mine, create, update, retire, import, export, itemsGet, itemsPut, tree];
    }

    /// <summary>The entry's address: the code's <c>/</c> becomes <c>-</c> in a URL.</summary>
    private static string EntryPath(string code) => "v1/catalog/" + Uri.EscapeDataString(code.Replace('/', '-'));

    private static StringContent JsonFile(string path) =>
        new(File.ReadAllText(path), System.Text.Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, HttpContent? content, string etag)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.TryAddWithoutValidation("If-Match", etag.StartsWith('"') ? etag : $"\"{etag}\"");
        return http.SendAsync(request);
    }
}
