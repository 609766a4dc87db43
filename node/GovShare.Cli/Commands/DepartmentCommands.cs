using System.CommandLine;
using System.Net.Http.Json;
using GovShare.Node.Management;

namespace GovShare.Cli.Commands;

/// <summary>
/// <c>govshare dept …</c>: the operator registers the departments its node serves, through the
/// node's management listener with the token from the node's data folder.
/// </summary>
internal static class DepartmentCommands
{
    public static Command Create()
    {
        var dept = new Command("dept", "Register the departments this node serves (operator).") { OperatorClient.Management, OperatorClient.Data, OperatorClient.Certificate, OperatorClient.Key, OperatorClient.TrustAnchors };

        var division = new Option<string>("--division") { Description = "The department's division code.", Required = true };
        var creditCode = new Option<string>("--credit-code") { Description = "The unified social credit code.", Required = true };
        var name = new Option<string>("--name") { Description = "The department's name.", Required = true };
        var register = new Command("register", "Register a department.") { division, creditCode, name };
        register.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.PostAsJsonAsync(
            "v1/operator/departments",
            new DepartmentRegistration(parse.GetValue(division), parse.GetValue(creditCode), parse.GetValue(name)),
            cancellation)));

        var list = new Command("list", "List registered departments.");
        list.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.GetAsync("v1/operator/departments", cancellation)));

        var code = new Argument<string>("credit-code") { Description = "The unified social credit code." };
        var remove = new Command("remove", "Remove a department's registration.") { code };
        remove.SetAction((parse, cancellation) => OperatorClient.CallAsync(parse, client => client.DeleteAsync($"v1/operator/departments/{Uri.EscapeDataString(parse.GetValue(code)!)}", cancellation)));

        dept.Add(register);
        dept.Add(list);
        dept.Add(remove);
        return dept;
    }
}
