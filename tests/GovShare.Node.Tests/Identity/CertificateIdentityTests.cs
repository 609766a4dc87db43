using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Pki;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Identity;

/// <summary>
/// mTLS identity against a real node: who is let in, and every way a certificate is refused,
/// each with its problem+json and a log line.
/// </summary>
public sealed class CertificateIdentityTests : IAsyncLifetime
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
    public async Task GetIdentity_RegisteredDepartment_ReturnsItsIdentity()
    {
        var department = _pki.IssueDepartment(name: "Kunming Public Security Bureau");
        _node.Register(department);

        using var client = _node.Client(department.Certificate);
        var identity = await client.GetFromJsonAsync<JsonElement>("v1/identity");

        Assert.Equal($"govshare:dept/530100/{department.CreditCode}", identity.GetProperty("uri").GetString());
        Assert.Equal("department", identity.GetProperty("kind").GetString());
        Assert.Equal("530100", identity.GetProperty("divisionCode").GetString());
        Assert.Equal(department.CreditCode, identity.GetProperty("creditCode").GetString());
        Assert.Equal("Kunming Public Security Bureau", identity.GetProperty("name").GetString());
    }

    [Fact]
    public async Task GetIdentity_NoCertificate_401CertificateRequired()
    {
        using var client = _node.Client(null);
        var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Unauthorized, ProblemTypes.CertificateRequired);
        Assert.Contains("client certificate", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLogged("CertificateRefused", ProblemTypes.CertificateRequired);
    }

    [Fact]
    public async Task GetIdentity_ExpiredCertificate_401Invalid()
    {
        var now = DateTimeOffset.UtcNow;
        var department = _pki.IssueDepartment(notBefore: now.AddDays(-30), notAfter: now.AddDays(-1));
        _node.Register(department);

        var problem = await RefusedAsync(department.Certificate, HttpStatusCode.Unauthorized, ProblemTypes.CertificateInvalid);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetIdentity_NotYetValidCertificate_401Invalid()
    {
        var now = DateTimeOffset.UtcNow;
        var department = _pki.IssueDepartment(notBefore: now.AddDays(2), notAfter: now.AddDays(30));
        _node.Register(department);

        var problem = await RefusedAsync(department.Certificate, HttpStatusCode.Unauthorized, ProblemTypes.CertificateInvalid);
        Assert.Contains("not valid before", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetIdentity_CertificateRevokedWhileNodeRuns_401RevokedWithoutRestart()
    {
        var department = _pki.IssueDepartment();
        _node.Register(department);
        using (var before = _node.Client(department.Certificate))
        {
            Assert.Equal(HttpStatusCode.OK, (await before.GetAsync("v1/identity")).StatusCode);
        }

        Assert.NotNull(_pki.Folder.Revoke(department.Files.Serial, DateTimeOffset.UtcNow));

        // The node re-reads the CRL folder when it changes (checked at most once a second).
        var response = await EventuallyAsync(department.Certificate, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.CertificateRevoked);
        Assert.Contains(department.Files.Serial, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
        AssertLogged("CertificateRefused", ProblemTypes.CertificateRevoked);
    }

    [Fact]
    public async Task GetIdentity_CertificateRevokedDuringAKeptAliveConnection_401RevokedOnThatConnection()
    {
        // The validation result is remembered on the connection's certificate object
        // (ConnectionValidationCache); revocation must still act on the connection already open.
        var department = _pki.IssueDepartment();
        using var client = await KeptAliveAsync(department);

        Assert.NotNull(_pki.Folder.Revoke(department.Files.Serial, DateTimeOffset.UtcNow));

        var response = await EventuallyAsync(client, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.CertificateRevoked);
        Assert.Contains(department.Files.Serial, problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task GetIdentity_CertificateExpiringDuringAKeptAliveConnection_401InvalidOnThatConnection()
    {
        // Neither cache may hold a validation past the certificate's notAfter, on the connection
        // that presented it either.
        var now = DateTimeOffset.UtcNow;
        var notAfter = now.AddSeconds(15);
        var department = _pki.IssueDepartment(notBefore: now.AddMinutes(-5), notAfter: notAfter);
        using var client = await KeptAliveAsync(department);

        // Certificates carry whole seconds: wait until the notAfter has passed, then ask again.
        await Task.Delay(notAfter.AddSeconds(1) - DateTimeOffset.UtcNow is { Ticks: > 0 } wait ? wait : TimeSpan.Zero);
        var response = await EventuallyAsync(client, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.CertificateInvalid);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetIdentity_DepartmentRemovedDuringAKeptAliveConnection_403OnThatConnection()
    {
        // The connection's certificate result is remembered (ConnectionValidationCache): the
        // registry must still be asked on every request of that connection.
        var department = _pki.IssueDepartment();
        using var client = await KeptAliveAsync(department);

        Assert.True(_node.Services.GetRequiredService<DepartmentRegistry>().Remove(department.CreditCode));

        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.Forbidden, ProblemTypes.DepartmentNotRegistered);
        _node.Register(department);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
    }

    [Fact]
    public async Task GetIdentity_ForeignCaWithSameSubjects_401Invalid()
    {
        // Another PKI with identical names: same root subject, same intermediate, same department.
        using var foreign = new TestPki();
        var genuine = _pki.IssueDepartment();
        _node.Register(genuine);
        var impostor = foreign.IssueDepartment(creditCode: genuine.CreditCode, name: genuine.Name);
        Assert.Equal(genuine.Certificate.Subject, impostor.Certificate.Subject);
        Assert.Equal(genuine.Certificate.Issuer, impostor.Certificate.Issuer);

        var problem = await RefusedAsync(impostor.Certificate, HttpStatusCode.Unauthorized, ProblemTypes.CertificateInvalid);
        Assert.Contains("trust anchor", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetIdentity_ServerAuthOnlyCertificate_401WrongUsage()
    {
        var code = TestPki.NewCreditCode();
        var now = DateTimeOffset.UtcNow;
        var profile = LeafProfile.Department("530100", code, "Wrong EKU Bureau", now.AddMinutes(-5), now.AddDays(10)) with { ExtendedKeyUsages = [LeafProfile.ServerAuth] };
        var department = _pki.IssueCustom($"wrong-eku-{code}", profile) with { CreditCode = code, Name = "Wrong EKU Bureau" };
        _node.Register(department);

        var problem = await RefusedAsync(department.Certificate, HttpStatusCode.Unauthorized, ProblemTypes.CertificateInvalid);
        Assert.Contains("clientAuth", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetIdentity_ValidButUnregisteredDepartment_403NotRegistered()
    {
        var department = _pki.IssueDepartment();

        var problem = await RefusedAsync(department.Certificate, HttpStatusCode.Forbidden, ProblemTypes.DepartmentNotRegistered, "CallerNotRegistered");
        Assert.Contains(department.CreditCode, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetIdentity_RegisteredInAnotherDivision_403NotRegistered()
    {
        // Registered as a department of Wuhua district (530102, served by this node too), but the certificate says 530100.
        var department = _pki.IssueDepartment("530100");
        Assert.Empty(_node.Services.GetService<DepartmentRegistry>()!.Register("530102", department.CreditCode, department.Name, out _));

        await RefusedAsync(department.Certificate, HttpStatusCode.Forbidden, ProblemTypes.DepartmentNotRegistered, "CallerNotRegistered");
    }

    [Fact]
    public async Task GetIdentity_CrlPastNextUpdateBeyondGrace_401FailsClosed()
    {
        var department = _pki.IssueDepartment();
        _node.Register(department);
        var kunming = _pki.Folder.IssuerFor("530100");
        // A validly signed CRL whose nextUpdate was two hours ago; the node's grace is one hour.
        _pki.Folder.PublishCrl(kunming, DateTimeOffset.UtcNow.AddHours(-3), TimeSpan.FromHours(1));

        var response = await EventuallyAsync(department.Certificate, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.RevocationUnknown);
        Assert.Contains("expired", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLogged("CertificateRefused", ProblemTypes.RevocationUnknown);
    }

    [Fact]
    public async Task GetIdentity_CrlWithBadSignature_IgnoredAndFailsClosed()
    {
        var department = _pki.IssueDepartment();
        _node.Register(department);
        // A CRL with the Kunming CA's name but signed by a foreign key replaces the genuine one.
        using var foreign = new TestPki();
        var forged = foreign.Folder.PublishCrl(foreign.Folder.IssuerFor("530100"), DateTimeOffset.UtcNow);
        File.Copy(forged, Path.Combine(_pki.Folder.CrlFolder, "530100.crl"), overwrite: true);

        var response = await EventuallyAsync(department.Certificate, r => r.StatusCode == HttpStatusCode.Unauthorized);
        var problem = await ProblemAssert.IsProblemAsync(response, HttpStatusCode.Unauthorized, ProblemTypes.RevocationUnknown);
        Assert.Contains("no valid CRL", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        AssertLogged("CrlSignatureInvalid", "530100.crl");
    }

    [Fact]
    public async Task GetIdentity_CertificateWithoutGovShareUri_401Unrecognised()
    {
        var now = DateTimeOffset.UtcNow;
        var profile = LeafProfile.Department("530100", TestPki.NewCreditCode(), "No identity", now.AddMinutes(-5), now.AddDays(10)) with { IdentityUri = "https://example.invalid/not-govshare" };
        var certificate = _pki.IssueCustom($"no-uri-{Guid.NewGuid():N}", profile).Certificate;

        await RefusedAsync(certificate, HttpStatusCode.Unauthorized, ProblemTypes.IdentityUnrecognised);
    }

    [Fact]
    public async Task ManagementRoutes_OnExchangeListener_404()
    {
        var department = _pki.IssueDepartment();
        _node.Register(department);
        using var client = _node.Client(department.Certificate);

        await ProblemAssert.IsProblemAsync(await client.GetAsync("health/ready"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/operator/departments"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task ExchangeRoutes_OnManagementListener_404()
    {
        using var client = _node.ManagementClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("health/live")).StatusCode);
        await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), HttpStatusCode.NotFound, ProblemTypes.NotFound);
    }

    [Fact]
    public async Task Curl_WithDepartmentCertificate_GetsIdentity()
    {
        // The README shows this very call; Debian's curl speaks the same mTLS as any department system.
        var department = _pki.IssueDepartment();
        _node.Register(department);
        var curl = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("curl",
        [
            "--silent", "--show-error", "--fail-with-body",
            "--cacert", _pki.Folder.TrustAnchorsFile,
            "--cert", department.Files.CertificatePath,
            "--key", department.Files.KeyPath,
            new Uri(_node.ExchangeAddress, "v1/identity").ToString(),
        ])
        { RedirectStandardOutput = true, RedirectStandardError = true }) ?? throw new InvalidOperationException("curl did not start");
        var output = await curl.StandardOutput.ReadToEndAsync();
        var error = await curl.StandardError.ReadToEndAsync();
        await curl.WaitForExitAsync();

        Assert.True(curl.ExitCode == 0, $"curl failed ({curl.ExitCode}): {error} {output}");
        Assert.Equal(department.CreditCode, JsonDocument.Parse(output).RootElement.GetProperty("creditCode").GetString());
    }

    /// <summary>Registers the department and opens a connection whose first two requests are served (its result is remembered).</summary>
    private async Task<HttpClient> KeptAliveAsync(TestDepartment department)
    {
        _node.Register(department);
        var client = _node.Client(department.Certificate);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("v1/identity")).StatusCode);
        return client;
    }

    private async Task<JsonElement> RefusedAsync(X509Certificate2 certificate, HttpStatusCode status, string type, string logEvent = "CertificateRefused")
    {
        using var client = _node.Client(certificate);
        var problem = await ProblemAssert.IsProblemAsync(await client.GetAsync("v1/identity"), status, type);
        AssertLogged(logEvent, status == HttpStatusCode.Forbidden ? "" : type);
        return problem;
    }

    /// <summary>The same, on one client: its requests go over the connection it keeps alive.</summary>
    private static async Task<HttpResponseMessage> EventuallyAsync(HttpClient client, Func<HttpResponseMessage, bool> done)
    {
        for (var attempt = 0; ; attempt++)
        {
            var response = await client.GetAsync("v1/identity");
            if (done(response) || attempt == 100)
            {
                return response;
            }

            await Task.Delay(100);
        }
    }

    private async Task<HttpResponseMessage> EventuallyAsync(X509Certificate2 certificate, Func<HttpResponseMessage, bool> done)
    {
        // Bounded polling for an effect that lands asynchronously; nothing here is a timing assertion.
        for (var attempt = 0; ; attempt++)
        {
            using var client = _node.Client(certificate);
            var response = await client.GetAsync("v1/identity");
            if (done(response) || attempt == 100)
            {
                return response;
            }

            await Task.Delay(100);
        }
    }

    private void AssertLogged(string eventName, string text) =>
        Assert.Contains(_node.Logs, line => line.Contains(eventName, StringComparison.Ordinal) && line.Contains(text, StringComparison.Ordinal));
}
