using GovShare.Node.Identity;
using GovShare.Node.Tests.Functional;
using Microsoft.Extensions.DependencyInjection;

namespace GovShare.Node.Tests.Hosting;

/// <summary>
/// A node disposed without being stopped first (a programming error in a product, a test's failure path): its
/// background services end without logging failures, and its data folder is left whole for the next start.
/// </summary>
public sealed class NodeDisposeTests : IDisposable
{
    private readonly TestPki _pki = new();

    public void Dispose() => _pki.Dispose();

    [Fact]
    public async Task DisposedWithoutStop_NoBackgroundServiceFails_AndTheDataFolderReopensWithWhatWasWritten()
    {
        var data = Path.Combine(_pki.Root, "data-530100");
        var department = _pki.IssueDepartment("530100");
        var node = await TestNode.StartOnAsync(_pki, "530100", data);
        node.Register(department);
        using (var client = node.Client(department.Certificate))
        {
            // Something in each log too: an exchange-side request, answered (the catalog is empty).
            Assert.True((await client.GetAsync("v1/catalog")).IsSuccessStatusCode);
        }

        await node.DisposeAsync(); // No StopAsync: every background service is still in its loop.

        var failures = node.Logs.Where(l => l.StartsWith("Error ", StringComparison.Ordinal) || l.StartsWith("Critical ", StringComparison.Ordinal)).ToList();
        Assert.True(failures.Count == 0, string.Join('\n', failures));

        var again = await TestNode.StartOnAsync(_pki, "530100", data);
        try
        {
            Assert.NotNull(again.Services.GetRequiredService<DepartmentRegistry>().Find(department.CreditCode));
            Assert.DoesNotContain(again.Logs, l => l.StartsWith("Error ", StringComparison.Ordinal) || l.StartsWith("Critical ", StringComparison.Ordinal));
        }
        finally
        {
            await again.Node.StopAsync();
            await again.DisposeAsync();
        }
    }
}
