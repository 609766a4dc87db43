using System.Diagnostics.Metrics;
using System.Net;
using System.Text.RegularExpressions;
using GovShare.Contract;
using GovShare.Node.Identity;
using GovShare.Node.Tests.Exchange;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.OperatorConsole;

/// <summary>
/// The console's "departments' certificates": the node keeps no department certificate, so it
/// remembers the one each registered department last authenticated with (real mTLS on the exchange
/// listener) and the departments page flags those within <c>Node:ExpiryWarning</c>.
/// </summary>
public sealed partial class DepartmentCertificateTests : IAsyncLifetime
{
    private ExchangeFixture _env = null!;
    private TestDepartment _operator = null!;

    public async Task InitializeAsync()
    {
        _env = await ExchangeFixture.StartAsync(s => s["Node:ManagementUrl"] = "https://127.0.0.1:0");
        _operator = _env.Pki.IssueOperator("530100", "zhang.wei", "Zhang Wei");
    }

    public async Task DisposeAsync()
    {
        await _env.DisposeAsync();
    }

    [Fact]
    public async Task DepartmentWithSoonExpiringCertificate_CallsIn_ConsoleFlagsIt_OneThatNeverCalled_NotSeen()
    {
        var now = DateTimeOffset.UtcNow;
        var soon = _env.Pki.IssueDepartment(name: "Kunming Transport Bureau", notAfter: now.AddDays(10));
        var healthy = _env.Pki.IssueDepartment(name: "Kunming Water Bureau", notAfter: now.AddDays(365));
        var silent = _env.Pki.IssueDepartment(name: "Kunming Forestry Bureau", notAfter: now.AddDays(5));
        var stranger = _env.Pki.IssueDepartment(name: "Unregistered Bureau", notAfter: now.AddDays(3));
        foreach (var department in new[] { soon, healthy, silent })
        {
            _env.Node.Register(department);
        }

        await CallInAsync(soon, HttpStatusCode.OK);
        await CallInAsync(soon, HttpStatusCode.OK); // the same certificate again: the entry stays
        await CallInAsync(healthy, HttpStatusCode.OK);
        // A valid certificate of a department not registered here: refused, and not remembered.
        await CallInAsync(stranger, HttpStatusCode.Forbidden);

        var html = await DepartmentsPageAsync();
        Assert.Contains("As last seen since the node started", html, StringComparison.Ordinal);
        var soonRow = Row(html, soon.CreditCode);
        Assert.Contains(soon.Certificate.SerialNumber, soonRow, StringComparison.Ordinal);
        Assert.Contains($"id=\"expiring-{soon.CreditCode}\">expiring soon<", soonRow, StringComparison.Ordinal);
        var healthyRow = Row(html, healthy.CreditCode);
        Assert.Contains(healthy.Certificate.SerialNumber, healthyRow, StringComparison.Ordinal);
        Assert.DoesNotContain("expiring soon", healthyRow, StringComparison.Ordinal);
        var silentRow = Row(html, silent.CreditCode);
        Assert.Contains($"id=\"cert-{silent.CreditCode}\">not seen<", silentRow, StringComparison.Ordinal);
        Assert.DoesNotContain(silent.Certificate.SerialNumber, silentRow, StringComparison.Ordinal);
        Assert.DoesNotContain(stranger.CreditCode, html, StringComparison.Ordinal);
        Assert.DoesNotContain(stranger.Certificate.SerialNumber, html, StringComparison.Ordinal);
        // Soonest to run out first among those seen, the unseen after them.
        Assert.True(html.IndexOf(soonRow, StringComparison.Ordinal) < html.IndexOf(healthyRow, StringComparison.Ordinal));
        Assert.True(html.IndexOf(healthyRow, StringComparison.Ordinal) < html.IndexOf(silentRow, StringComparison.Ordinal));

        // The gauge: one series per registered department seen, seconds to its certificate's end.
        var gauge = ReadGauge();
        // Exactly the two registered departments that called: not the stranger, not the silent one.
        Assert.Equal(new[] { healthy.CreditCode, soon.CreditCode }.Order(StringComparer.Ordinal), gauge.Keys.Order(StringComparer.Ordinal));
        Assert.InRange(gauge[soon.CreditCode], TimeSpan.FromDays(9).TotalSeconds, TimeSpan.FromDays(10).TotalSeconds);

        // The department renews: its entry is replaced, not added to, and no longer flagged. (The old
        // key file is moved away first: the PKI never overwrites a key; the old certificate is loaded.)
        File.Move(soon.Files.KeyPath, soon.Files.KeyPath + ".old");
        File.Move(soon.Files.CertificatePath, soon.Files.CertificatePath + ".old");
        var renewed = _env.Pki.IssueDepartment(soon.Division, soon.CreditCode, soon.Name, notAfter: now.AddDays(400));
        await CallInAsync(renewed, HttpStatusCode.OK);
        html = await DepartmentsPageAsync();
        soonRow = Row(html, soon.CreditCode);
        Assert.Contains(renewed.Certificate.SerialNumber, soonRow, StringComparison.Ordinal);
        Assert.DoesNotContain(soon.Certificate.SerialNumber, html, StringComparison.Ordinal);
        Assert.DoesNotContain("expiring soon", soonRow, StringComparison.Ordinal);
        var seen = _env.Node.Services.GetRequiredService<DepartmentCertificates>();
        Assert.Equal(renewed.Certificate.Thumbprint, seen.Find(soon.CreditCode)!.Thumbprint);
        Assert.Null(seen.Find(stranger.CreditCode));

        // Removed from the registry: dropped from the page and the memory.
        Assert.True(_env.Node.Services.GetRequiredService<DepartmentRegistry>().Remove(healthy.CreditCode));
        html = await DepartmentsPageAsync();
        Assert.DoesNotContain(healthy.Certificate.SerialNumber, html, StringComparison.Ordinal);
        Assert.Null(seen.Find(healthy.CreditCode));
    }

    private async Task CallInAsync(TestDepartment department, HttpStatusCode expected)
    {
        using var client = _env.Node.Client(department.Certificate);
        var response = await client.GetAsync("v1/catalog/resources");
        if (expected == HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        else
        {
            await ProblemAssert.IsProblemAsync(response, expected, ProblemTypes.DepartmentNotRegistered);
        }
    }

    private async Task<string> DepartmentsPageAsync()
    {
        using var client = TestNode.ClientFor(_env.Pki, new Uri($"https://localhost:{_env.Node.ManagementAddress.Port}/"), _operator.Certificate);
        var response = await client.GetAsync("console/departments?lang=en");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("<table id=\"department-certificates\">", html, StringComparison.Ordinal);
        return html;
    }

    /// <summary>The row of the department-certificates table naming <paramref name="creditCode"/>.</summary>
    private static string Row(string html, string creditCode)
    {
        var start = html.IndexOf("<table id=\"department-certificates\">", StringComparison.Ordinal);
        var table = html[start..html.IndexOf("</table>", start, StringComparison.Ordinal)];
        return Assert.Single(Rows().Matches(table).Select(m => m.Value), r => r.Contains($"<code>{creditCode}</code>", StringComparison.Ordinal));
    }

    [GeneratedRegex("<tr>.*?</tr>", RegexOptions.Singleline)]
    private static partial Regex Rows();

    /// <summary>This node's <c>govshare.department.certificate.expiry</c> series, by department.</summary>
    private Dictionary<string, double> ReadGauge()
    {
        var factory = _env.Node.Services.GetRequiredService<IMeterFactory>();
        var values = new Dictionary<string, double>(StringComparer.Ordinal);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            // Nodes sharing the test process each have their own meter: only this node's.
            if (instrument.Name == "govshare.department.certificate.expiry" && ReferenceEquals(instrument.Meter.Scope, factory))
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<double>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == "govshare.department")
                {
                    values[(string)tag.Value!] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return values;
    }
}
