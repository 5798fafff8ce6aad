using Cronos;

namespace Queue.Client;

/// <summary>A parsed cron expression in its time zone.</summary>
internal sealed class RecurringSchedule(CronExpression expression, TimeZoneInfo zone)
{
    public static RecurringSchedule Parse(string cron, string? timeZone)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(cron);
        var fields = cron.Split(' ', StringSplitOptions.RemoveEmptyEntries).Length;
        CronExpression expression;
        try
        {
            expression = CronExpression.Parse(cron, fields == 6 ? CronFormat.IncludeSeconds : CronFormat.Standard);
        }
        catch (CronFormatException e)
        {
            throw new ArgumentException($"Invalid cron expression '{cron}': {e.Message} Use five fields, or six with seconds first.", nameof(cron), e);
        }
        TimeZoneInfo zone;
        try
        {
            zone = timeZone is null ? TimeZoneInfo.Utc : TimeZoneInfo.FindSystemTimeZoneById(timeZone);
        }
        catch (TimeZoneNotFoundException e)
        {
            throw new ArgumentException($"Unknown time zone '{timeZone}'.", nameof(timeZone), e);
        }
        return new RecurringSchedule(expression, zone);
    }

    /// <summary>The first occurrence strictly after <paramref name="instant"/>.</summary>
    public DateTimeOffset? NextAfter(DateTimeOffset instant) => expression.GetNextOccurrence(instant, zone);
}
