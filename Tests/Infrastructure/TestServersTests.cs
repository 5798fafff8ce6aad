using MailKit.Net.Smtp;
using MimeKit;
using Npgsql;
using StackExchange.Redis;

namespace Tests.Infrastructure;

public sealed class TestServersTests(TestServers servers)
{
    [Fact]
    public async Task Redis_databases_lent_to_two_tests_do_not_share_keys()
    {
        var redis = await servers.RedisAsync();
        await using var first = await redis.CreateDatabaseAsync();
        await using var second = await redis.CreateDatabaseAsync();
        await using var a = await first.ConnectAsync();
        await using var b = await second.ConnectAsync();

        await a.GetDatabase().StringSetAsync("key", "first");

        Assert.NotEqual(first.Index, second.Index);
        Assert.Equal("first", (string?)await a.GetDatabase().StringGetAsync("key"));
        Assert.False(await b.GetDatabase().KeyExistsAsync("key"));
    }

    [Fact]
    public async Task A_returned_redis_database_is_flushed_before_reuse()
    {
        var redis = await servers.RedisAsync();
        int index;
        await using (var lent = await redis.CreateDatabaseAsync())
        {
            index = lent.Index;
            await using var connection = await lent.ConnectAsync();
            await connection.GetDatabase().StringSetAsync("left-behind", "x");
        }

        var keys = await redis.Admin.GetServer(redis.Endpoint).KeysAsync(index).CountAsync();
        Assert.Equal(0, keys);
    }

    [Fact]
    public async Task Postgres_gives_each_test_its_own_database_reachable_by_url_and_password()
    {
        var postgres = await servers.PostgresAsync();
        await using var mine = await postgres.CreateDatabaseAsync("isolation");
        await using var other = await postgres.CreateDatabaseAsync("isolation");

        await using (var connection = new NpgsqlConnection(mine.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand("CREATE TABLE marker (id int); INSERT INTO marker VALUES (1);", connection);
            await create.ExecuteNonQueryAsync();
        }

        await using var otherConnection = new NpgsqlConnection(other.ConnectionString);
        await otherConnection.OpenAsync();
        await using var probe = new NpgsqlCommand("SELECT to_regclass('public.marker') IS NULL", otherConnection);
        Assert.True((bool)(await probe.ExecuteScalarAsync())!);
        Assert.StartsWith("postgresql://postgres:", mine.Url, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Postgres_refuses_a_wrong_password_because_host_auth_is_real()
    {
        var postgres = await servers.PostgresAsync();
        await using var connection = new NpgsqlConnection(postgres.ConnectionStringFor("postgres", password: "wrong"));

        var error = await Assert.ThrowsAsync<PostgresException>(() => connection.OpenAsync());
        Assert.Equal("28P01", error.SqlState);
    }

    [Fact]
    public async Task A_dropped_test_database_is_gone()
    {
        var postgres = await servers.PostgresAsync();
        var database = await postgres.CreateDatabaseAsync("dropped");
        await database.DisposeAsync();

        await using var connection = new NpgsqlConnection(postgres.AdminConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_database WHERE datname = @name", connection);
        command.Parameters.AddWithValue("name", database.Name);
        Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task Smtp_server_delivers_a_message_to_the_maildir_for_its_recipient_only()
    {
        var smtp = await servers.SmtpAsync();
        var recipient = SmtpServer.NewRecipient();
        var bystander = SmtpServer.NewRecipient();

        using var client = new SmtpClient();
        await client.ConnectAsync(smtp.Host, smtp.Port, MailKit.Security.SecureSocketOptions.None);
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("noreply@example.test"));
        message.To.Add(MailboxAddress.Parse(recipient));
        message.Subject = "Hello from the tests";
        message.Body = new TextPart("plain") { Text = "body" };
        await client.SendAsync(message);
        await client.DisconnectAsync(quit: true);

        var received = await smtp.WaitForMessagesAsync(recipient);
        Assert.Equal("Hello from the tests", Assert.Single(received).Subject);
        Assert.Empty(smtp.MessagesTo(bystander));
    }

    [Fact]
    public async Task Smtp_server_rejects_reject_recipients_permanently_and_tempfail_ones_transiently()
    {
        var smtp = await servers.SmtpAsync();
        using var client = new SmtpClient();
        await client.ConnectAsync(smtp.Host, smtp.Port, MailKit.Security.SecureSocketOptions.None);

        var permanent = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(Message(SmtpServer.NewRecipient("reject"))));
        var transient = await Assert.ThrowsAsync<SmtpCommandException>(() => client.SendAsync(Message(SmtpServer.NewRecipient("tempfail"))));

        Assert.Equal(SmtpStatusCode.MailboxUnavailable, permanent.StatusCode);
        Assert.Equal((SmtpStatusCode)451, transient.StatusCode);
    }

    private static MimeMessage Message(string to)
    {
        var message = new MimeMessage();
        message.From.Add(MailboxAddress.Parse("noreply@example.test"));
        message.To.Add(MailboxAddress.Parse(to));
        message.Subject = "s";
        message.Body = new TextPart("plain") { Text = "b" };
        return message;
    }
}
