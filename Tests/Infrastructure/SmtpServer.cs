using System.Diagnostics;
using System.Globalization;
using MimeKit;

namespace Tests.Infrastructure;

/// <summary>
/// A real SMTP server (python3-aiosmtpd, the AppHost's <c>Hosting/Resources/smtp_server.py</c>) on a free loopback port, writing every
/// accepted message to a Maildir that tests read. Recipients starting with <c>reject-</c> get a permanent 550,
/// those starting with <c>tempfail-</c> a transient 451. Tests isolate themselves by using recipients of their
/// own (<see cref="NewRecipient"/>) and reading only messages addressed to them.
/// </summary>
public sealed class SmtpServer : IAsyncDisposable
{
    private const string Python = "/usr/bin/python3";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly ServerProcess _process;

    private SmtpServer(ServerProcess process, int port, string maildir)
    {
        _process = process;
        Port = port;
        Maildir = maildir;
    }

    public int Port { get; }

    public string Host { get; } = "127.0.0.1";

    public string Maildir { get; }

    internal static async Task<SmtpServer> StartAsync(TestRunDirectory run)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "Infrastructure", "smtp_server.py");
        var maildir = Path.Combine(run.CreateSubdirectory("smtp"), "maildir");
        for (var attempt = 1; ; attempt++)
        {
            var port = FreePort.Next();
            var process = ServerProcess.Start("aiosmtpd", Python, [script, port.ToString(CultureInfo.InvariantCulture), maildir, "--scripted-replies"]);
            run.RecordProcess("smtp", process.Id);
            try
            {
                await process.WaitUntilReadyAsync(async () =>
                    await FreePort.AcceptsConnectionsAsync(port)
                    && (await FreePort.ReadGreetingAsync(port)).StartsWith("220", StringComparison.Ordinal), StartTimeout);
                return new SmtpServer(process, port, maildir);
            }
            catch (InvalidOperationException) when (attempt < 3 && process.Output.Contains("Address already in use", StringComparison.Ordinal))
            {
                await process.DisposeAsync();
            }
            catch (InvalidOperationException ex) when (process.Output.Contains("No module named 'aiosmtpd'", StringComparison.Ordinal))
            {
                await process.DisposeAsync();
                throw new InvalidOperationException("python3-aiosmtpd is missing. Install it with: apt-get install -y python3-aiosmtpd", ex);
            }
            catch
            {
                await process.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>A recipient address no other test uses.</summary>
    public static string NewRecipient(string prefix = "user") =>
        $"{prefix}-{Guid.NewGuid():N}@example.test";

    /// <summary>Every message delivered so far whose envelope includes <paramref name="recipient"/>.</summary>
    public IReadOnlyList<MimeMessage> MessagesTo(string recipient)
    {
        var messages = new List<MimeMessage>();
        foreach (var folder in new[] { "new", "cur" })
        {
            var path = Path.Combine(Maildir, folder);
            if (!Directory.Exists(path))
            {
                continue;
            }
            foreach (var file in Directory.GetFiles(path))
            {
                var message = MimeMessage.Load(file);
                var envelopeTo = message.Headers["X-Envelope-To"] ?? string.Empty;
                if (envelopeTo.Split(',', StringSplitOptions.TrimEntries).Contains(recipient, StringComparer.OrdinalIgnoreCase))
                {
                    messages.Add(message);
                }
            }
        }
        return messages;
    }

    /// <summary>Waits until at least <paramref name="count"/> messages to <paramref name="recipient"/> arrived.</summary>
    public async Task<IReadOnlyList<MimeMessage>> WaitForMessagesAsync(string recipient, int count = 1, TimeSpan? timeout = null)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        var clock = Stopwatch.StartNew();
        while (true)
        {
            var messages = MessagesTo(recipient);
            if (messages.Count >= count)
            {
                return messages;
            }
            if (clock.Elapsed > limit)
            {
                throw new TimeoutException($"Expected {count} message(s) to {recipient} within {limit.TotalSeconds:0}s, got {messages.Count}.");
            }
            await Task.Delay(50);
        }
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
