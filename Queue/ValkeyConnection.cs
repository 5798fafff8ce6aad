using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using StackExchange.Redis;

namespace Queue;

/// <summary>Reads the Valkey connection the way every service is configured (see ARCHITECTURE.md).</summary>
public static class ValkeyConnection
{
    /// <summary>The connection name: <c>ConnectionStrings__valkey</c>, what the AppHost's <c>WithReference(valkey)</c> sets.</summary>
    public const string ConnectionName = "valkey";

    /// <summary>
    /// Registers the shared Valkey through Aspire's StackExchange.Redis client integration (one multiplexer for the
    /// process, its health check, logging and metrics), which the job queue then uses. Aspire's
    /// <c>ConnectionStrings__valkey</c> wins; outside an AppHost the seed's <c>VALKEY_URL</c> works too.
    /// </summary>
    public static IHostApplicationBuilder AddValkeyClient(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddRedisClient(ConnectionName, settings =>
        {
            if (string.IsNullOrWhiteSpace(settings.ConnectionString) && FromConfiguration(builder.Configuration) is { } configured)
            {
                settings.ConnectionString = Parse(configured).ToString(includePassword: true);
            }
            // The engine's own spans describe each job; a span per Valkey command (blocking fetches, heartbeats) would bury them.
            settings.DisableTracing = true;
        }, options => Harden(options));
        return builder;
    }

    /// <summary>
    /// What every connection of ours asks of the server: only commands its Valkey user may run (KEYS.md, "Who may touch
    /// what"). StackExchange.Redis would otherwise read INFO and CONFIG, name its library, and use a tie-breaker key and a configuration
    /// channel, which a confined user may not touch (each refusal lands in Valkey's ACL log as if it were an attack).
    /// </summary>
    public static ConfigurationOptions Harden(ConfigurationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.AbortOnConnectFail = false;
        options.CommandMap = CommandMap.Create(new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "INFO", "CONFIG" }, available: false);
        options.ConfigurationChannel = "";
        options.TieBreaker = "";
        // CLIENT SETINFO does not exist before Redis 7.2, so the ACL (written for 7.0 too) cannot grant it.
        options.SetClientLibrary = false;
        // Aspire's Redis health check asks each node of a cluster CLUSTER INFO, which StackExchange.Redis sends only in
        // admin mode. What a user may run is the server's ACL to decide (CLUSTER INFO is granted, FLUSHALL is not).
        options.AllowAdmin = true;
        return options;
    }

    /// <summary>
    /// <c>ConnectionStrings:valkey</c> (Aspire's name) if set, else <c>VALKEY_URL</c>; null when neither is.
    /// </summary>
    public static string? FromConfiguration(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = configuration.GetConnectionString(ConnectionName);
        return string.IsNullOrWhiteSpace(value) ? NullIfBlank(configuration["VALKEY_URL"]) : value;
    }

    /// <summary>
    /// Parses a StackExchange.Redis configuration string (<c>host:port,password=...</c>) or a URL
    /// <c>valkey://[[user]:password@]host[:port][/db]</c> (also <c>redis://</c>; <c>valkeys://</c> and <c>rediss://</c> use TLS).
    /// URL user and password are percent-decoded. The port defaults to 6379.
    /// </summary>
    public static ConfigurationOptions Parse(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        if (!value.Contains("://", StringComparison.Ordinal))
        {
            return Harden(ConfigurationOptions.Parse(value));
        }
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri))
        {
            throw new FormatException($"Invalid Valkey URL '{Redact(value)}': expected valkey://[:password@]host:port[/db].");
        }
        var tls = uri.Scheme switch
        {
            "valkey" or "redis" => false,
            "valkeys" or "rediss" => true,
            _ => throw new FormatException($"Invalid Valkey URL scheme '{uri.Scheme}': use valkey://, redis://, valkeys:// or rediss://."),
        };
        var options = Harden(new ConfigurationOptions { Ssl = tls });
        options.EndPoints.Add(uri.Host.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? 6379 : uri.Port);
        if (uri.UserInfo.Length > 0)
        {
            var colon = uri.UserInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            var password = colon < 0 ? null : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
            if (password is null)
            {
                // valkey://secret@host is the common shorthand for a password without a user.
                options.Password = user;
            }
            else
            {
                options.User = user.Length == 0 ? null : user;
                options.Password = password;
            }
        }
        var path = uri.AbsolutePath.Trim('/');
        if (path.Length > 0)
        {
            options.DefaultDatabase = int.TryParse(path, NumberStyles.None, CultureInfo.InvariantCulture, out var db)
                ? db
                : throw new FormatException($"Invalid Valkey URL database '{path}': expected a number.");
        }
        return options;
    }

    private static string? NullIfBlank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;

    private static string Redact(string url)
    {
        var at = url.LastIndexOf('@');
        var scheme = url.IndexOf("://", StringComparison.Ordinal);
        return at > scheme && scheme >= 0 ? string.Concat(url.AsSpan(0, scheme + 3), "***", url.AsSpan(at)) : url;
    }
}
