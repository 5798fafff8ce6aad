using System.ComponentModel.DataAnnotations;
using System.Net.Sockets;
using Domain.Jobs;
using MailKit;
using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MimeKit;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>The SMTP server the worker sends through (SMTP_* variables).</summary>
public sealed class SmtpOptions
{
    [Required(ErrorMessage = "SMTP_HOST is not set: the emails worker needs an SMTP server.")]
    public string? Host { get; set; }

    [Range(1, 65535)]
    public int Port { get; set; } = 25;

    /// <summary><c>None</c>, <c>StartTls</c>, <c>StartTlsWhenAvailable</c> (default), <c>SslOnConnect</c> or <c>Auto</c>.</summary>
    public SecureSocketOptions Security { get; set; } = SecureSocketOptions.StartTlsWhenAvailable;

    public string? Username { get; set; }

    public string? Password { get; set; }

    [Required, EmailAddress]
    public string From { get; set; } = "noreply@localhost";

    public string FromName { get; set; } = "Test management";
}

/// <summary>
/// <c>send-email</c> over SMTP with MailKit. Links are made absolute with the tenant's base URL. A transient failure
/// (connection trouble, a 4xx reply) fails the attempt so the queue retries it with backoff; a permanent rejection
/// (5xx) fails the job at once with the server's reply. Sent notifications are marked emailed; a job whose notifications
/// are all marked already (an earlier attempt sent it, its completion was lost) completes without mailing again.
/// </summary>
public sealed class SendEmailHandler(IOptions<SmtpOptions> options, TenantLinks links, JobDatabase database, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<SendEmailPayload>();
        if (payload.NotificationIds is { Count: > 0 } notified)
        {
            // An earlier attempt sent this and marked its notifications, but its outcome never reached the queue (the
            // worker died or Valkey went away before the job completed): the job runs again, the mail must not.
            var distinct = notified.Distinct().ToList();
            var earlier = await database.ContextAsync(cancellationToken);
            if (await earlier.Notifications.CountAsync(n => distinct.Contains(n.Id) && n.EmailedAt != null, cancellationToken) == distinct.Count)
            {
                return;
            }
        }
        var smtp = options.Value;
        var host = smtp.Host ?? throw new PermanentJobFailureException("SMTP_HOST is not set: the emails worker has no SMTP server to send through.");
        var message = new MimeMessage();
        message.From.Add(new MailboxAddress(smtp.FromName, smtp.From));
        if (!MailboxAddress.TryParse(payload.To, out var to))
        {
            throw new PermanentJobFailureException($"'{payload.To}' is not an email address.");
        }
        message.To.Add(to);
        message.Subject = payload.Subject;
        var body = payload.Body;
        if (payload.LinkPath is { } link)
        {
            body += "\n\nOpen: " + links.Absolute(link);
        }
        message.Body = new TextPart("plain") { Text = body };
        message.Headers.Add("X-Job-Id", context.Id);
        if (context.Tenant is { } tenant)
        {
            message.Headers.Add("X-Tenant-Id", tenant.Value);
        }

        using var client = new SmtpClient();
        try
        {
            await client.ConnectAsync(host, smtp.Port, smtp.Security, cancellationToken);
            if (!string.IsNullOrEmpty(smtp.Username))
            {
                await client.AuthenticateAsync(smtp.Username, smtp.Password ?? "", cancellationToken);
            }
            await client.SendAsync(message, cancellationToken);
            await client.DisconnectAsync(quit: true, cancellationToken);
        }
        catch (SmtpCommandException e) when ((int)e.StatusCode >= 500)
        {
            throw new PermanentJobFailureException($"The SMTP server rejected the message to {payload.To}: {(int)e.StatusCode} {e.Message}", e);
        }
        catch (AuthenticationException e)
        {
            throw new PermanentJobFailureException($"The SMTP server refused the login of {smtp.Username}: {e.Message}", e);
        }
        catch (SmtpCommandException e)
        {
            // A 4xx reply is transient: the queue retries with backoff.
            throw new InvalidOperationException($"Sending to {payload.To} failed transiently: {(int)e.StatusCode} {e.Message}", e);
        }
        catch (Exception e) when (e is SmtpProtocolException or SocketException or IOException or ServiceNotConnectedException)
        {
            // The server did not answer (refused, reset, timed out): an outage, which delays the job without using an attempt.
            throw new DependencyUnavailableException("smtp", $"The SMTP server {host}:{smtp.Port} is unreachable: {e.Message}", e);
        }

        if (payload.NotificationIds is { Count: > 0 } ids)
        {
            var db = await database.ContextAsync(cancellationToken);
            var now = time.GetUtcNow();
            await db.Notifications.Where(n => ids.Contains(n.Id) && n.EmailedAt == null)
                .ExecuteUpdateAsync(s => s.SetProperty(n => n.EmailedAt, now), cancellationToken);
        }
    }
}
