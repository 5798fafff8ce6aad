using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.Hosting;

/// <summary>
/// Quiet by default, loud when it matters. What every request, probe and poll would write at Information starts at
/// Warning: EF Core's SQL statements (the outbox relay's look every 5 s, the health check's <c>SELECT 1</c>), HttpClient's
/// request lines, the Valkey client's connection handshake, ASP.NET Core's request and static-file lines. What remains
/// at Information is what happened: starts and stops, migrations, every processed job
/// (<c>Processing &lt;queue&gt; job &lt;id&gt; of type &lt;name&gt; for tenant &lt;tenant&gt;</c>), retries, holds, failures.
/// Errors and warnings of those categories still show.
/// </summary>
/// <remarks>
/// These levels give way to configuration: appsettings.json, environment variables
/// (<c>Logging__LogLevel__Microsoft.EntityFrameworkCore.Database.Command=Information</c>) and arguments override any
/// one of them, and <c>DETAILED_LOGS=true</c> leaves them all out.
/// </remarks>
public static class QuietLogging
{
    /// <summary>The setting that turns the detail back on: <c>DETAILED_LOGS=true</c>.</summary>
    public const string DetailedLogsSetting = "DETAILED_LOGS";

    /// <summary>The categories that start at Warning, and why.</summary>
    public static IReadOnlyDictionary<string, string> QuietCategories { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["Microsoft.EntityFrameworkCore.Database.Command"] = "every SQL statement, polls and probes included",
        ["System.Net.Http.HttpClient"] = "four lines per outgoing HTTP request",
        ["StackExchange.Redis"] = "about 40 lines per Valkey connection handshake",
        ["Microsoft.AspNetCore"] = "every request, endpoint and static file",
    };

    public static TBuilder AddQuietLogging<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (!builder.Configuration.GetValue<bool>(DetailedLogsSetting))
        {
            builder.Services.AddQuietLogLevels(QuietCategories.Keys.Select(category => (category, LogLevel.Warning)));
        }
        return builder;
    }

    /// <summary>
    /// Adds filter rules that configuration overrides: placed first among the rules, so a configured rule for the same
    /// category (which the logging system applies in order, the last match winning) takes precedence. Rules, not a
    /// configuration source: adding a source reloads the configuration and drops values set on it directly.
    /// </summary>
    public static IServiceCollection AddQuietLogLevels(this IServiceCollection services, IEnumerable<(string Category, LogLevel Level)> levels)
    {
        ArgumentNullException.ThrowIfNull(services);
        var rules = levels.Select(l => new LoggerFilterRule(providerName: null, l.Category, l.Level, filter: null)).ToList();
        services.Configure<LoggerFilterOptions>(options =>
        {
            for (var i = rules.Count - 1; i >= 0; i--)
            {
                options.Rules.Insert(0, rules[i]);
            }
        });
        return services;
    }
}
