using System.CommandLine;
using System.Net.Http.Headers;
using System.Text.Json;

namespace GovShare.Cli.Commands;

/// <summary>
/// Calls a node's operator API on its management listener, with the token read from the
/// node's data folder, and shows the answer (or the problem) to a person.
/// </summary>
internal static class OperatorClient
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static readonly Option<string> Management = new("--management")
    {
        Description = "The node's management address.",
        DefaultValueFactory = _ => "http://127.0.0.1:8444",
        Recursive = true,
    };

    public static readonly Option<string> Data = new("--data")
    {
        Description = "The node's data folder (holds operator.token).",
        DefaultValueFactory = _ => "data",
        Recursive = true,
    };

    public static async Task<int> CallAsync(ParseResult parse, Func<HttpClient, Task<HttpResponseMessage>> call)
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
