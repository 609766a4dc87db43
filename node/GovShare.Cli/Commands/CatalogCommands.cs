using System.CommandLine;
using System.Text.Json.Nodes;
using GovShare.Adapters;

namespace GovShare.Cli.Commands;

/// <summary><c>govshare catalog search</c>: searches the node's sharing catalog as a department.</summary>
internal static class CatalogCommands
{
    /// <summary>A page of catalog entries as a table.</summary>
    private static readonly TableSpec Entries = TableSpec.Of("entries",
        new("Code", "resourceCode"), new("Name", "name"), new("Provider", "provider.name"), new("Share", "share.type"), new("Update", "updateCycle"), new("Version", "version"));

    public static Command Create()
    {
        var catalog = new Command("catalog", "The node's sharing catalog.");
        var text = new Argument<string?>("text") { Description = "Words to search for (name, abstract, items).", Arity = ArgumentArity.ZeroOrOne };
        var search = new Command("search", "Search the sharing catalog.") { text };
        DepartmentCommand.Call(search, parse => http => http.GetAsync(string.IsNullOrWhiteSpace(parse.GetValue(text)) ? "v1/catalog" : "v1/catalog?q=" + Uri.EscapeDataString(parse.GetValue(text)!)), table: Entries);
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
    /// <summary>The tree's answer: each entry with the node that holds it.</summary>
    private static readonly TableSpec TreeEntries = TableSpec.Of("entries",
        new("Node", "ownerNode"), new("Code", "entry.resourceCode"), new("Name", "entry.name"), new("Provider", "entry.provider.name"), new("Share", "entry.share.type"), new("Update", "entry.updateCycle"));

    private static IEnumerable<Command> Manage()
    {
        var code = new Argument<string>("resource") { Description = "The resource code, e.g. 101001/000001." };
        var file = new Option<string>("--file") { Description = "A JSON (or CSV for items) file.", Required = true };
        var etag = new Option<string>("--etag") { Description = "The ETag the change is based on (from get/create/update).", Required = true };
        var output = new Option<string?>("--output") { Description = "Write the answer to this file." };

        var get = new Command("get", "One entry as this department sees it; prints its ETag.") { code };
        DepartmentCommand.Call(get, parse => http => http.GetAsync(EntryPath(parse.GetValue(code)!)));

        var mine = new Command("mine", "This department's resource catalog (all its entries).");
        DepartmentCommand.Call(mine, _ => http => http.GetAsync("v1/catalog/resources"), table: Entries);

        var create = new Command("create", "Register a resource from a JSON entry file.") { file };
        DepartmentCommand.Call(create, parse => async http => await http.PostAsync("v1/catalog", await WithProviderAsync(http, parse.GetValue(file)!)));

        var update = new Command("update", "Replace an entry from a JSON file (If-Match: --etag).") { code, file, etag };
        DepartmentCommand.Call(update, parse => async http => await SendAsync(http, HttpMethod.Put, EntryPath(parse.GetValue(code)!), await WithProviderAsync(http, parse.GetValue(file)!), parse.GetValue(etag)!));

        var retire = new Command("retire", "Retire an entry (If-Match: --etag).") { code, etag };
        DepartmentCommand.Call(retire, parse => http => SendAsync(http, HttpMethod.Delete, EntryPath(parse.GetValue(code)!), null, parse.GetValue(etag)!));

        var import = new Command("import", "Import this department's catalog from JSON (all or nothing).") { file };
        DepartmentCommand.Call(import, parse => async http => await http.PostAsync("v1/catalog/import", await WithProviderAsync(http, parse.GetValue(file)!)));

        var export = new Command("export", "Export this department's catalog as JSON.") { output };
        DepartmentCommand.Call(export, _ => http => http.GetAsync("v1/catalog/export"), output);

        var itemsGet = new Command("items-export", "An entry's information items as CSV (UTF-8 with BOM).") { code, output };
        DepartmentCommand.Call(itemsGet, parse => http => http.GetAsync(EntryPath(parse.GetValue(code)!) + "/items.csv"), output);

        var itemsPut = new Command("items-import", "Replace an entry's items from a CSV file (If-Match: --etag).") { code, file, etag };
        DepartmentCommand.Call(itemsPut, parse => http =>
        {
            // Spreadsheets in Chinese offices save CSV as GB18030: read it as such, send UTF-8.
            var path = parse.GetValue(file)!;
            var content = new StringContent(File.ReadAllText(path, TextEncodings.Detect(path)), System.Text.Encoding.UTF8, "text/csv");
            return SendAsync(http, HttpMethod.Put, EntryPath(parse.GetValue(code)!) + "/items.csv", content, parse.GetValue(etag)!);
        });

        var text = new Argument<string?>("text") { Description = "Words to search for.", Arity = ArgumentArity.ZeroOrOne };
        var tree = new Command("tree", "Search the sharing catalog of the whole tree (every jurisdiction), through this node.") { text };
        DepartmentCommand.Call(tree, parse => http => http.GetAsync($"v1/catalog/tree?q={Uri.EscapeDataString(parse.GetValue(text) ?? "")}"), table: TreeEntries);

        return [get, mine, create, update, retire, import, export, itemsGet, itemsPut, tree];
    }

    /// <summary>The entry's address: the code's <c>/</c> becomes <c>-</c> in a URL.</summary>
    private static string EntryPath(string code) => "v1/catalog/" + Uri.EscapeDataString(code.Replace('/', '-'));

    /// <summary>
    /// The entry file (or an import's entries) with the provider filled in from the caller's
    /// identity where it is left out: the node requires it, and it can only be the caller (Art. 13).
    /// </summary>
    private static async Task<StringContent> WithProviderAsync(HttpClient http, string path)
    {
        var node = JsonNode.Parse(File.ReadAllText(path, TextEncodings.Detect(path))) ?? throw new FormatException($"{path} is empty.");
        var entries = node["entries"] is JsonArray list ? list.OfType<JsonObject>().ToList() : node is JsonObject one ? [one] : [];
        if (entries.Any(e => e["provider"] is null))
        {
            using var response = await http.GetAsync("v1/identity");
            var body = await response.Content.ReadAsStringAsync();
            if (!response.IsSuccessStatusCode)
            {
                throw new NodeRefusedException(response.StatusCode, body);
            }

            var identity = JsonNode.Parse(body)!;
            foreach (var entry in entries.Where(e => e["provider"] is null))
            {
                entry["provider"] = new JsonObject { ["divisionCode"] = identity["divisionCode"]?.GetValue<string>(), ["creditCode"] = identity["creditCode"]?.GetValue<string>(), ["name"] = identity["name"]?.GetValue<string>() };
            }
        }

        return new StringContent(node.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient http, HttpMethod method, string path, HttpContent? content, string etag)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.TryAddWithoutValidation("If-Match", etag.StartsWith('"') ? etag : $"\"{etag}\"");
        return http.SendAsync(request);
    }
}
