using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Management;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GovShare.Node.Tests.Management;

/// <summary>The operator API on the management listener: token-guarded, validated, and lossless on refusal.</summary>
public sealed class ManagementApiTests : IAsyncLifetime
{
    private readonly TestPki _pki = new();
    private TestNode _node = null!;

    public async Task InitializeAsync() => _node = await TestNode.StartAsync(_pki);

    public async Task DisposeAsync()
    {
        await _node.DisposeAsync();
        _pki.Dispose();
    }

    [Fact]
    public async Task Health_LiveAndReady_200()
    {
        using var client = _node.ManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("health/ready")).StatusCode);
    }

    [Fact]
    public async Task Health_Ready_SaysReadyWithNoReasons()
    {
        using var client = _node.ManagementClient();

        var ready = await client.GetFromJsonAsync<JsonElement>("health/ready");

        Assert.Equal("ready", ready.GetProperty("status").GetString());
        Assert.Equal(0, ready.GetProperty("reasons").GetArrayLength());
    }

    [Fact]
    public async Task Health_OnceAStopBegins_NotReadyNamingShutdown_ButLive()
    {
        using var client = _node.ManagementClient();

        // What SIGTERM does first; readiness must turn at once, before the listeners close.
        _node.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        var ready = await client.GetAsync("health/ready");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        var body = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("not ready", body.GetProperty("status").GetString());
        var reason = Assert.Single(body.GetProperty("reasons").EnumerateArray());
        Assert.Equal("shutdown", reason.GetProperty("check").GetString());
        Assert.Contains("stopping", reason.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("health/live")).StatusCode);
    }

    [Fact]
    public void OperatorToken_File_IsOwnerOnly()
    {
        var mode = File.GetUnixFileMode(Path.Combine(_node.DataPath, OperatorToken.FileName));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, mode);
    }

    [Fact]
    public async Task RegisterDepartment_ThenIdentityWorks()
    {
        var department = _pki.IssueDepartment();
        using var client = OperatorClient();

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", department.CreditCode, "Kunming Bureau of Statistics"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var exchange = _node.Client(department.Certificate);
        var identity = await exchange.GetFromJsonAsync<JsonElement>("v1/identity");
        Assert.Equal("Kunming Bureau of Statistics", identity.GetProperty("name").GetString());
    }

    [Fact]
    public async Task RegisterCountyDepartment_AtItsPrefecture_IdentityWorks()
    {
        // Counties run no node (Art. 21): Wuhua district's departments use Kunming's.
        var department = _pki.IssueDepartment("530102");
        using var client = OperatorClient();

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530102", department.CreditCode, "Wuhua District Bureau of Statistics"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var exchange = _node.Client(department.Certificate);
        var identity = await exchange.GetFromJsonAsync<JsonElement>("v1/identity");
        Assert.Equal("530102", identity.GetProperty("divisionCode").GetString());
    }

    [Theory]
    [InlineData("530300", "530300")] // another prefecture (Qujing)
    [InlineData("530302", "530300")] // a county of another prefecture
    [InlineData("530000", "530000")] // the province: its departments use the province's node
    [InlineData("110000", "110000")] // another province
    [InlineData("000000", "000000")] // a national department
    public async Task Register_DepartmentOfAnotherPlatform_400NamesItsOwnAndNothingChanged(string division, string ownPlatform)
    {
        using var client = OperatorClient();

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration(division, TestPki.NewCreditCode(), "Bureau of Statistics"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var error = Assert.Single(problem.GetProperty("errors").EnumerateArray()).GetString()!;
        Assert.StartsWith($"divisionCode: '{division}' is not served by this node (530100)", error, StringComparison.Ordinal);
        Assert.EndsWith($"register it at the node of {ownPlatform}.", error, StringComparison.Ordinal);
        Assert.Empty(Registry.All());
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer wrong-token")]
    [InlineData("Basic b3BlcmF0b3I6cGFzcw==")]
    public async Task Operator_WithoutValidToken_401AndNothingChanged(string? authorization)
    {
        using var client = _node.ManagementClient();
        if (authorization is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);
        }

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", TestPki.NewCreditCode(), "Intruder"));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.OperatorTokenInvalid);
        Assert.Empty(Registry.All());
    }

    [Fact]
    public async Task Register_InvalidFields_400ListsEveryErrorAndNothingChanged()
    {
        using var client = OperatorClient();

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("../etc", "11530100MB0000011X", ""));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.ValidationFailed);
        var errors = problem.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Contains(errors, e => e.StartsWith("divisionCode:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("creditCode:", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("name:", StringComparison.Ordinal));
        Assert.Empty(Registry.All());
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("[1,2,3]")]
    [InlineData("")]
    public async Task Register_MalformedBody_400AndNothingChanged(string body)
    {
        using var client = OperatorClient();

        var response = await client.PostAsync("v1/operator/departments", new StringContent(body, Encoding.UTF8, "application/json"));

        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.BadRequest, ProblemTypes.MalformedRequest);
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.Empty(Registry.All());
    }

    [Fact]
    public async Task Register_OversizedBody_413AndNothingChanged()
    {
        using var client = OperatorClient();
        var huge = new string('x', 2 * 1024 * 1024);

        var response = await client.PostAsJsonAsync("v1/operator/departments", new DepartmentRegistration("530100", TestPki.NewCreditCode(), huge));

        await ProblemAssert.IsProblemAsync(response, HttpStatusCode.RequestEntityTooLarge, ProblemTypes.PayloadTooLarge);
        Assert.Empty(Registry.All());
    }

    [Fact]
    public async Task Remove_UnknownDepartment_404()
    {
        using var client = OperatorClient();
        await ProblemAssert.IsProblemAsync(await client.DeleteAsync($"v1/operator/departments/{TestPki.NewCreditCode()}"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    private DepartmentRegistry Registry => _node.Services.GetRequiredService<DepartmentRegistry>();

    private HttpClient OperatorClient()
    {
        var client = _node.ManagementClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", OperatorToken.ReadFrom(_node.DataPath));
        return client;
    }
}
