using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace GovShare.Node.Tests.OperatorConsole;

/// <summary>
/// Debian's chromium, driven by Debian's chromedriver, presenting a client certificate over real TLS
/// the way a person's browser does: the certificate and the PKI's root sit in an NSS database in the
/// browser's own home folder (<c>certutil</c>, <c>pk12util</c> from libnss3-tools), and a managed
/// policy file (<c>AutoSelectCertificateForUrls</c>, one uniquely named file per browser, removed at
/// dispose) lets headless chromium pick it without a dialog. The performance log records every
/// request the browser made, so a test can show nothing left the node. Dispose quits the browser and
/// kills chromedriver's process tree if anything is left.
/// </summary>
internal sealed class ConsoleBrowser : IDisposable
{
    private const string Chromium = "/usr/bin/chromium";
    private const string ChromeDriver = "/usr/bin/chromedriver";
    private const string PolicyFolder = "/etc/chromium/policies/managed";

    /// <summary>Generous: the machine running the tests may be loaded; nothing here is a timing assertion.</summary>
    public static readonly TimeSpan Patience = TimeSpan.FromMinutes(3);

    private readonly ChromeDriverService _service;
    private readonly string _policy;
    private readonly int? _driverProcess;

    private ConsoleBrowser(ChromeDriver driver, ChromeDriverService service, string policy, Uri origin)
    {
        Driver = driver;
        _service = service;
        _policy = policy;
        Origin = origin;
        _driverProcess = service.ProcessId;
    }

    public ChromeDriver Driver { get; }

    public Uri Origin { get; }

    /// <summary>Starts a headless browser that signs in to <paramref name="origin"/> with <paramref name="certificate"/> (with its key).</summary>
    public static async Task<ConsoleBrowser> StartAsync(string folder, Uri origin, X509Certificate2 certificate, string rootCertificatePem)
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: tests/run.sh installs Debian's chromium.");
        Assert.True(File.Exists(ChromeDriver), $"{ChromeDriver} is missing: tests/run.sh installs Debian's chromium-driver.");
        var home = Path.Combine(folder, "browser-" + Guid.NewGuid().ToString("N"));
        var nss = Path.Combine(home, ".pki", "nssdb");
        Directory.CreateDirectory(nss);
        var p12 = Path.Combine(home, "identity.p12");
        const string password = "govshare-test";
        await File.WriteAllBytesAsync(p12, certificate.Export(X509ContentType.Pkcs12, password));
        await RunAsync("certutil", "-N", "-d", $"sql:{nss}", "--empty-password");
        await RunAsync("pk12util", "-i", p12, "-d", $"sql:{nss}", "-W", password);
        // The PKI's root as a trust anchor for TLS servers: the node's certificate chains to it.
        await RunAsync("certutil", "-A", "-n", "govshare-test-root", "-t", "C,,", "-i", rootCertificatePem, "-d", $"sql:{nss}");

        // Headless chromium shows no certificate dialog; this managed policy picks the certificate for the node's origin only.
        Assert.True(Directory.Exists(PolicyFolder) || TryCreate(PolicyFolder), $"{PolicyFolder} cannot be created: the browser tests need to run as root (as tests/run.sh does in CI).");
        var policy = Path.Combine(PolicyFolder, $"govshare-console-test-{Guid.NewGuid():N}.json");
        var pattern = JsonSerializer.Serialize(new { pattern = $"{origin.Scheme}://{origin.Authority}", filter = new { } });
        await File.WriteAllTextAsync(policy, JsonSerializer.Serialize(new Dictionary<string, object> { ["AutoSelectCertificateForUrls"] = new[] { pattern } }));

        var service = ChromeDriverService.CreateDefaultService(Path.GetDirectoryName(ChromeDriver)!, Path.GetFileName(ChromeDriver));
        service.SuppressInitialDiagnosticInformation = true;
        service.HideCommandPromptWindow = true;
        service.InitializationTimeout = Patience;
        // chromium reads its NSS database from $HOME/.pki/nssdb: this browser's home, not the user's.
        service.DriverProcessStarting += (_, e) => e.DriverServiceProcessStartInfo.Environment["HOME"] = home;
        var options = new ChromeOptions { BinaryLocation = Chromium };
        options.AddArguments(
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions", "--disable-quic",
            "--host-resolver-rules=MAP localhost 127.0.0.1", "--window-size=1280,1600", "--lang=en-US",
            $"--user-data-dir={Path.Combine(home, "profile")}");
        options.SetLoggingPreference("performance", LogLevel.All);
        try
        {
            var driver = new ChromeDriver(service, options, Patience);
            driver.Manage().Timeouts().PageLoad = Patience;
            return new ConsoleBrowser(driver, service, policy, origin);
        }
        catch
        {
            File.Delete(policy);
            service.Dispose();
            throw;
        }
    }

    /// <summary>Opens a console path and waits for the page to be there.</summary>
    public void Open(string pathAndQuery) => Driver.Navigate().GoToUrl(new Uri(Origin, pathAndQuery));

    /// <summary>Waits (generously) for an element, e.g. after a form post navigated.</summary>
    /// <summary>
    /// Clicks what leads to another page and waits until the page it was on is gone: otherwise a
    /// WaitFor for an id both pages carry (the catalog table before and after a search, the h1)
    /// can find the old page's element, which goes stale as the new page arrives.
    /// </summary>
    public void ClickToNewPage(By by)
    {
        var page = Driver.FindElement(By.TagName("html"));
        Driver.FindElement(by).Click();
        new WebDriverWait(Driver, Patience) { PollingInterval = TimeSpan.FromMilliseconds(200) }.Until(driver =>
        {
            try
            {
                // Reading any property of an element of a page that is gone throws.
                return page.TagName.Length == 0;
            }
            catch (StaleElementReferenceException)
            {
                return true;
            }
        });
    }

    public IWebElement WaitFor(By by)
    {
        try
        {
            return new WebDriverWait(Driver, Patience) { PollingInterval = TimeSpan.FromMilliseconds(200) }.Until(d => d.FindElements(by).FirstOrDefault())!;
        }
        catch (WebDriverTimeoutException)
        {
            // Say where the browser is and what it shows (a refusal is a problem+json body).
            Assert.Fail($"{by} did not appear within {Patience.TotalMinutes} minutes at {Driver.Url}:\n{Driver.FindElement(By.TagName("body")).Text}");
            throw;
        }
    }

    /// <summary>The visible text of the page.</summary>
    public string Text => Driver.FindElement(By.TagName("body")).Text;

    /// <summary>Saves a screenshot of the page as <paramref name="name"/>.png in <paramref name="folder"/>; returns the path.</summary>
    public string Screenshot(string folder, string name)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, name + ".png");
        Driver.GetScreenshot().SaveAsFile(path);
        return path;
    }

    /// <summary>Every URL the browser requested so far (from chromium's performance log, which it drains).</summary>
    public IReadOnlyList<string> RequestedUrls()
    {
        var urls = new List<string>();
        foreach (var entry in Driver.Manage().Logs.GetLog("performance"))
        {
            using var message = JsonDocument.Parse(entry.Message);
            var inner = message.RootElement.GetProperty("message");
            if (inner.GetProperty("method").GetString() == "Network.requestWillBeSent")
            {
                urls.Add(inner.GetProperty("params").GetProperty("request").GetProperty("url").GetString()!);
            }
        }

        return urls;
    }

    public void Dispose()
    {
        try
        {
            Driver.Quit();
        }
        finally
        {
            _service.Dispose();
            File.Delete(_policy);
            // Anything chromedriver left behind (a hung chromium) goes with it.
            if (_driverProcess is { } pid)
            {
                try
                {
                    using var process = Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                }
                catch (ArgumentException)
                {
                    // Exited already.
                }
                catch (InvalidOperationException)
                {
                    // Exited meanwhile.
                }
            }
        }
    }

    private static bool TryCreate(string folder)
    {
        try
        {
            Directory.CreateDirectory(folder);
            return true;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static async Task RunAsync(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Assert.Fail($"{program} is missing: tests/run.sh installs Debian's libnss3-tools.");
            throw;
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {await output}{await error}");
        }
    }
}
