using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>
/// <c>create-notification</c>: writes one in-app notification per recipient, then enqueues an immediate email for
/// the recipients who want one. The email job carries the notification ids, so the mail worker marks them emailed
/// and the daily digest does not repeat them.
/// </summary>
public sealed class CreateNotificationHandler(JobDatabase database, IJobQueueClient queue, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<CreateNotificationPayload>();
        var db = await database.ContextAsync(cancellationToken);
        var recipients = await db.Users.AsNoTracking().Where(u => payload.UserIds.Contains(u.Id))
            .Select(u => new { u.Id, u.Email, u.Name, u.EmailPreference }).ToListAsync(cancellationToken);

        // A retried attempt must not notify twice: the job id marks the notifications it created.
        var notifications = await db.Notifications.Where(n => n.SourceJobId == context.Id).ToListAsync(cancellationToken);
        if (notifications.Count == 0)
        {
            var now = time.GetUtcNow();
            notifications = recipients.Select(r => new Notification
            {
                UserId = r.Id,
                Kind = payload.Kind,
                Text = payload.Text,
                Link = payload.Link,
                SourceJobId = context.Id,
                CreatedAt = now,
            }).ToList();
            db.Notifications.AddRange(notifications);
            await db.SaveChangesAsync(cancellationToken);
        }
        var byUser = notifications.ToDictionary(n => n.UserId);

        var emails = recipients
            .Where(r => r.EmailPreference == EmailPreference.Immediate && byUser.ContainsKey(r.Id))
            .Select(r => new JobRequest(JobNames.SendEmail, System.Text.Json.JsonSerializer.Serialize(
                new SendEmailPayload(r.Email, payload.Text, payload.Text, payload.Link, [byUser[r.Id].Id]),
                System.Text.Json.JsonSerializerOptions.Web),
                // Deduplicated per notification, so a retry of this job does not mail twice.
                new EnqueueOptions { JobId = $"notification-{byUser[r.Id].Id}" }))
            .ToList();
        if (emails.Count > 0)
        {
            await queue.EnqueueBulkAsync(QueueNames.Emails, emails, cancellationToken);
        }
    }
}

/// <summary>
/// <c>send-daily-digest</c>: for every user who wants a digest, one email listing the last day's unread
/// notifications not yet emailed. The email job marks them emailed once it is sent.
/// </summary>
public sealed class SendDailyDigestHandler(JobDatabase database, IJobQueueClient queue, TenantLinks links, TimeProvider time) : IJobHandler
{
    private static readonly TimeSpan Window = TimeSpan.FromDays(1);

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var db = await database.ContextAsync(cancellationToken);
        var since = time.GetUtcNow() - Window;
        var pending = await db.Notifications.AsNoTracking()
            .Where(n => !n.IsRead && n.EmailedAt == null && n.CreatedAt >= since && n.User!.EmailPreference == EmailPreference.DailyDigest)
            .OrderBy(n => n.UserId).ThenBy(n => n.Id)
            .Select(n => new { n.Id, n.UserId, n.User!.Email, n.Text, n.Link })
            .ToListAsync(cancellationToken);

        var emails = pending.GroupBy(n => (n.UserId, n.Email)).Select(group =>
        {
            var lines = group.Select(n => "- " + n.Text + (n.Link is null ? "" : " (" + links.Absolute(n.Link) + ")"));
            var body = $"You have {group.Count()} unread notification(s) from the last day:\n\n" + string.Join('\n', lines);
            return new JobRequest(JobNames.SendEmail, System.Text.Json.JsonSerializer.Serialize(
                new SendEmailPayload(group.Key.Email, $"Your daily digest: {group.Count()} notification(s)", body, "/notifications", group.Select(n => n.Id).ToList()),
                System.Text.Json.JsonSerializerOptions.Web),
                new EnqueueOptions { JobId = $"digest-{context.Id}-{group.Key.UserId}" });
        }).ToList();
        if (emails.Count > 0)
        {
            await queue.EnqueueBulkAsync(QueueNames.Emails, emails, cancellationToken);
        }
        await context.ReportProgressAsync(new { digests = emails.Count });
    }
}
