using System.Diagnostics;
using System.Globalization;
using Aspire.Hosting.ApplicationModel;
using Hosting.Infrastructure;
using Queue;
using Tests.Infrastructure;

namespace Tests.AppHost;

/// <summary>
/// The Valkey container's start script (the azd manifest's and a local container's), run by a real shell with the
/// Debian redis-server standing in for valkey-server: it writes the users' ACL from their passwords and starts the server.
/// </summary>
public sealed class ValkeyContainerScriptTests
{
    [Fact]
    public async Task The_start_script_writes_every_users_ACL_from_its_environment_and_starts_the_server_with_the_default_user_off()
    {
        var dir = Directory.CreateTempSubdirectory("valkey-script-").FullName;
        try
        {
            var admin = new ParameterResource("valkey-password", _ => "admin-secret", secret: true);
            var valkey = new ValkeyContainerResource("valkey", admin) { MaxMemory = "64mb" };
            var users = new ValkeyUsersAnnotation();
            foreach (var user in new[] { ValkeyAcl.Workers, "web-tenant-a" })
            {
                users.Users.Add(new ValkeyUserResource($"valkey-{user}", user, new ParameterResource($"valkey-password-{user}", _ => "x", secret: true), valkey));
            }
            valkey.Annotations.Add(users);
            var shims = Directory.CreateDirectory(Path.Combine(dir, "bin")).FullName;
            var shim = Path.Combine(shims, "valkey-server");
            await File.WriteAllTextAsync(shim, "#!/bin/sh\nexec redis-server \"$@\"\n");
            File.SetUnixFileMode(shim, (UnixFileMode)Convert.ToInt32("755", 8));
            var port = FreePort.Next();
            var start = new ProcessStartInfo("/bin/sh")
            {
                ArgumentList = { "-c", ValkeyContainerBuilderExtensions.StartScript(valkey), "valkey", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--save", "" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment =
                {
                    ["PATH"] = shims + ":" + Environment.GetEnvironmentVariable("PATH"),
                    ["VALKEY_ACL_FILE"] = Path.Combine(dir, "users.acl"),
                    [ValkeyContainerResource.AdminPasswordVariable] = "admin-secret",
                    [ValkeyContainerResource.PasswordVariable(ValkeyAcl.Workers)] = "workers-secret",
                    [ValkeyContainerResource.PasswordVariable("web-tenant-a")] = "web-a-secret",
                },
            };
            using var server = Process.Start(start)!;
            try
            {
                await Wait.UntilAsync(() => FreePort.AcceptsConnectionsAsync(port), "the server listens");

                await using var web = await RespClient.ConnectAsync(port, "web-tenant-a", "web-a-secret");
                Assert.StartsWith("-NOPERM", await web.SendAsync("GET", "aq:t:tenant-b:{emails}:stats"), StringComparison.Ordinal);
                Assert.Equal("(nil)", await web.SendAsync("HGET", "aq:t:tenant-a:{emails}:stats", "c"));
                await using var workers = await RespClient.ConnectAsync(port, ValkeyAcl.Workers, "workers-secret");
                Assert.StartsWith("-NOPERM", await workers.SendAsync("CONFIG", "SET", "maxmemory", "0"), StringComparison.Ordinal);
                await using var administrator = await RespClient.ConnectAsync(port, ValkeyAcl.Admin, "admin-secret");
                Assert.Contains("maxmemory-policy\nnoeviction", await administrator.SendAsync("CONFIG", "GET", "maxmemory-policy"), StringComparison.Ordinal);
                Assert.Contains("appendonly\nyes", await administrator.SendAsync("CONFIG", "GET", "appendonly"), StringComparison.Ordinal);
                await Assert.ThrowsAsync<InvalidOperationException>(() => RespClient.ConnectAsync(port, "default", "admin-secret"));
            }
            finally
            {
                server.Kill(entireProcessTree: true);
                await server.WaitForExitAsync();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
