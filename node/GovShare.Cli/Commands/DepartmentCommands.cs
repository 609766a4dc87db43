using System.CommandLine;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using GovShare.Node.Management;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare dept …</c>: the operator registers the departments its node serves, through the
/// node's management listener with the token from the node's data folder.
/// </summary>
internal static class DepartmentCommands
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly Option<string> Management = new("--management")
    {
        Description = "The node's management address.",
        DefaultValueFactory = _ => "http://127.0.0.1:8444",
        Recursive = true,
    };

    private static readonly Option<string> Data = new("--data")
    {
        Description = "The node's data folder (holds operator.token).",
        DefaultValueFactory = _ => "data",
        Recursive = true,
    };

    public static Command Create()
    {
        var dept = new Command("dept", "Register the departments this node serves (operator).") { Management, Data };

        var division = new Option<string>("--division") { Description = "The department's division code.", Required = true };
        var creditCode = new Option<string>("--credit-code") { Description = "The unified social credit code.", Required = true };
        var name = new Option<string>("--name") { Description = "The department's name.", Required = true };
        var register = new Command("register", "Register a department.") { division, creditCode, name };
        register.SetAction((parse, cancellation) => CallAsync(parse, client => client.PostAsJsonAsync(
            "v1/operator/departments",
            new DepartmentRegistration(parse.GetValue(division), parse.GetValue(creditCode), parse.GetValue(name)),
            cancellation)));

        var list = new Command("list", "List registered departments.");
        list.SetAction((parse, cancellation) => CallAsync(parse, client => client.GetAsync("v1/operator/departments", cancellation)));

        var code = new Argument<string>("credit-code") { Description = "The unified social credit code." };
        var remove = new Command("remove", "Remove a department's registration.") { code };
        remove.SetAction((parse, cancellation) => CallAsync(parse, client => client.DeleteAsync($"v1/operator/departments/{Uri.EscapeDataString(parse.GetValue(code)!)}", cancellation)));

        dept.Add(register);
        dept.Add(list);
        dept.Add(remove);
        return dept;
    }

    private static async Task<int> CallAsync(ParseResult parse, Func<HttpClient, Task<HttpResponseMessage>> call)
    {
        string token;
        try
        {
            token = Node.Management.OperatorToken.ReadFrom(parse.GetValue(Data)!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"Cannot read the operator token in '{parse.GetValue(Data)}' (--data): {ex.Message}");
            return ExitCodes.Usage;
        }

        if (!Uri.TryCreate(parse.GetValue(Management), UriKind.Absolute, out var management))
        {
            await Console.Error.WriteLineAsync($"--management: '{parse.GetValue(Management)}' is not an address.");
            return ExitCodes.Usage;
        }

        using var client = new HttpClient { BaseAddress = management, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        HttpResponseMessage response;
        try
        {
            response = await call(client);
        }
        catch (HttpRequestException ex)
        {
            await Console.Error.WriteLineAsync($"The node at {management} cannot be reached: {ex.Message}");
            return ExitCodes.Unreachable;
        }

        using (response)
        {
            var body = await response.Content.ReadAsStringAsync();
            if (response.IsSuccessStatusCode)
            {
                if (body.Length > 0)
                {
                    Console.WriteLine(JsonSerializer.Serialize(JsonDocument.Parse(body).RootElement, Indented));
                }

                return ExitCodes.Ok;
            }

            await Console.Error.WriteLineAsync(ProblemText.Describe(response.StatusCode, body));
            return ExitCodes.Failed;
        }
    }
}
