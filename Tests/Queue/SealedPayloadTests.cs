using System.Text;
using Queue;
using Queue.Storage;
using Tests.Infrastructure;

namespace Tests.Queue;

/// <summary>Payloads are encrypted at rest with the tenant's key (KEYS.md; JobQueueOptions.EncryptPayloads).</summary>
public sealed class SealedPayloadTests(TestServers servers)
{
    private const string Secret = "{\"to\":\"alice@example.test\",\"body\":\"the quarterly numbers\"}";

    [Fact]
    public async Task Valkey_holds_no_payload_in_the_clear_while_the_handler_and_the_tenants_admin_read_it()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var seen = new TaskCompletionSource<string>();
        var release = new TaskCompletionSource();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(), s => s.AddQueue("emails", 1).AddHandler("send-email", async (_, ctx, _) =>
        {
            seen.TrySetResult(ctx.PayloadJson);
            await release.Task;
        }));

        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", Secret));

        Assert.Equal(Secret, await seen.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        using (var admin = await db.ConnectAsync())
        {
            var server = admin.GetServer(admin.GetEndPoints()[0]);
            var everything = new StringBuilder();
            foreach (var key in server.Keys(db.Index, "aq:*"))
            {
                if (await admin.GetDatabase(db.Index).KeyTypeAsync(key) == StackExchange.Redis.RedisType.Hash)
                {
                    foreach (var entry in await admin.GetDatabase(db.Index).HashGetAllAsync(key))
                    {
                        everything.Append(Encoding.Latin1.GetString((byte[])entry.Value!));
                    }
                }
            }
            Assert.DoesNotContain("alice@example.test", everything.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain("quarterly", everything.ToString(), StringComparison.Ordinal);
        }
        Assert.Equal(Secret, (await Tenants.AsAsync(Tenants.A, () => host.Admin.GetJobAsync("emails", job.Id)))!.Payload);
        // The seal authenticates the job (SignatureTests tampers with it): no HMAC signature is computed or stored besides.
        var stored = (await host.Storage.ReadDataAsync("emails", "tenant-a", job.Id))!;
        Assert.NotNull(stored.Sealed);
        Assert.Equal(("", ""), (stored.Payload, stored.Signature));
        release.SetResult();
    }

    [Fact]
    public async Task A_sealed_payload_opens_only_with_its_own_tenants_key()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var settings = Tenants.Settings();
        await using var host = await QueueHost.StartAsync(db, settings);
        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", Secret));
        var stored = (await host.Storage.ReadDataAsync("emails", "tenant-a", job.Id))!;
        Assert.NotNull(stored.Sealed);
        Assert.Equal("", stored.Payload);

        // Tenant B's key cannot open A's payload, nor can A's key open it as another job or another tenant's.
        var seal = new global::Queue.Security.JobSeal();
        Assert.Null(seal.Open("key-of-tenant-b", "emails", job.Id, "tenant-a", "send-email", stored.Sealed));
        Assert.Null(seal.Open("key-of-tenant-a", "emails", "another-id", "tenant-a", "send-email", stored.Sealed));
        Assert.Null(seal.Open("key-of-tenant-a", "emails", job.Id, "tenant-b", "send-email", stored.Sealed));
        Assert.Equal(Secret, seal.Open("key-of-tenant-a", "emails", job.Id, "tenant-a", "send-email", stored.Sealed));
    }

    [Fact]
    public async Task With_encryption_off_payloads_are_stored_in_the_clear_and_still_run()
    {
        await using var db = await (await servers.RedisAsync()).CreateDatabaseAsync();
        var seen = new TaskCompletionSource<string>();
        await using var host = await QueueHost.StartAsync(db, Tenants.Settings(),
            s => s.AddQueue("emails", 1).AddHandler("send-email", (_, ctx, _) => Task.FromResult(seen.TrySetResult(ctx.PayloadJson))),
            options: o => o.EncryptPayloads = false);

        var job = await Tenants.AsAsync(Tenants.A, () => host.Client.EnqueueAsync("emails", "send-email", Secret));

        Assert.Equal(Secret, await seen.Task.WaitAsync(TimeSpan.FromSeconds(30)));
        var stored = (await host.Storage.ReadDataAsync("emails", "tenant-a", job.Id))!;
        Assert.Null(stored.Sealed);
        Assert.Equal(Secret, stored.Payload);
    }
}
