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

    [Fact]
    public async Task With_mounted_ACL_parts_the_script_loads_them_and_reloads_them_when_they_change_keeping_the_users_when_a_change_is_refused()
    {
        var dir = Directory.CreateTempSubdirectory("valkey-script-").FullName;
        try
        {
            var valkey = new ValkeyContainerResource("valkey", new ParameterResource("valkey-password", _ => "admin-secret", secret: true)) { MaxMemory = "64mb" };
            var parts = Directory.CreateDirectory(Path.Combine(dir, "acl")).FullName;
            string Line(string user, string password) => $"user {user} reset on >{password} {ValkeyAcl.Rules(user)}\n";
            await File.WriteAllTextAsync(Path.Combine(parts, "0.acl"), ValkeyAcl.DefaultUser + "\n" + Line(ValkeyAcl.Admin, "admin-secret") + Line("web-tenant-a", "web-a-secret"));
            var shims = Directory.CreateDirectory(Path.Combine(dir, "bin")).FullName;
            foreach (var (name, target) in new[] { ("valkey-server", "redis-server"), ("valkey-cli", "redis-cli") })
            {
                await File.WriteAllTextAsync(Path.Combine(shims, name), $"#!/bin/sh\nexec {target} \"$@\"\n");
                File.SetUnixFileMode(Path.Combine(shims, name), (UnixFileMode)Convert.ToInt32("755", 8));
            }
            var port = FreePort.Next();
            var start = new ProcessStartInfo("/bin/sh")
            {
                // inline: false is the Kubernetes output's script: without parts it refuses to start.
                ArgumentList = { "-c", ValkeyContainerBuilderExtensions.StartScript(valkey, inline: false), "valkey", "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", dir, "--save", "" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment =
                {
                    ["PATH"] = shims + ":" + Environment.GetEnvironmentVariable("PATH"),
                    ["VALKEY_ACL_FILE"] = Path.Combine(dir, "users.acl"),
                    ["VALKEY_ACL_DIR"] = parts,
                    ["VALKEY_ACL_RELOAD_SECONDS"] = "1",
                    [ValkeyContainerResource.AdminPasswordVariable] = "admin-secret",
                },
            };
            using var server = Process.Start(start)!;
            var errors = new System.Text.StringBuilder();
            server.ErrorDataReceived += (_, e) => { lock (errors) { errors.AppendLine(e.Data); } };
            server.OutputDataReceived += (_, _) => { };
            server.BeginErrorReadLine();
            server.BeginOutputReadLine();
            try
            {
                await Wait.UntilAsync(() => FreePort.AcceptsConnectionsAsync(port), "the server listens");
                await using (var web = await RespClient.ConnectAsync(port, "web-tenant-a", "web-a-secret"))
                {
                    Assert.Equal("(nil)", await web.SendAsync("HGET", "aq:t:tenant-a:{emails}:stats", "c"));
                }
                await Assert.ThrowsAsync<InvalidOperationException>(() => RespClient.ConnectAsync(port, "web-tenant-b", "web-b-secret"));

                // A tenant added: the kubelet writes a new part (here: the next file of the Secret's projection).
                await File.WriteAllTextAsync(Path.Combine(parts, "1.acl"), Line("web-tenant-b", "web-b-secret"));
                await Wait.UntilAsync(async () =>
                {
                    try
                    {
                        await using var b = await RespClient.ConnectAsync(port, "web-tenant-b", "web-b-secret");
                        return (await b.SendAsync("GET", "aq:t:tenant-a:{emails}:stats")).StartsWith("-NOPERM", StringComparison.Ordinal);
                    }
                    catch (InvalidOperationException)
                    {
                        return false;
                    }
                }, "the new tenant's user is loaded, confined to its own keys");

                // A broken part: the server refuses it and the users it has stay.
                await File.WriteAllTextAsync(Path.Combine(parts, "2.acl"), "user broken reset on +no-such-command\n");
                await Wait.UntilAsync(() => { lock (errors) { return Task.FromResult(errors.ToString().Contains("refused by the server", StringComparison.Ordinal)); } },
                    "the refusal is reported");
                await using (var b = await RespClient.ConnectAsync(port, "web-tenant-b", "web-b-secret"))
                {
                    Assert.Equal("(nil)", await b.SendAsync("HGET", "aq:t:tenant-b:{emails}:stats", "c"));
                }
                await using var administrator = await RespClient.ConnectAsync(port, ValkeyAcl.Admin, "admin-secret");
                Assert.DoesNotContain("broken", await administrator.SendAsync("ACL", "USERS"), StringComparison.Ordinal);
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
