using System.Data.Common;
using System.Globalization;

namespace Tenancy;

/// <summary>
/// Turns the database URLs of the seed (<c>postgresql://user:pass@host:port/db?sslmode=require</c>, also
/// <c>postgres://</c>) into Npgsql connection-string syntax, without depending on Npgsql.
/// A value already in <c>key=value;...</c> form (Aspire's <c>ConnectionStrings__db</c>) is returned unchanged.
/// </summary>
/// <remarks>
/// User name, password, host and database are percent-decoded; values are quoted as
/// <see cref="DbConnectionStringBuilder"/> does, so a password containing <c>;</c> or <c>"</c> stays one value.
/// Several hosts (<c>h1:5432,h2:5433</c>) become Npgsql's multi-host form. Errors never echo the password.
/// </remarks>
public static class DatabaseConnectionString
{
    // libpq / Prisma query parameters and the Npgsql keyword each one means. Unknown parameters are refused
    // rather than passed through: Npgsql would reject them later, far from the variable that carried them.
    private static readonly Dictionary<string, string> QueryKeywords = new(StringComparer.OrdinalIgnoreCase)
    {
        ["sslmode"] = "SSL Mode",
        ["application_name"] = "Application Name",
        ["connect_timeout"] = "Timeout",
        ["options"] = "Options",
        ["sslrootcert"] = "Root Certificate",
        ["sslcert"] = "SSL Certificate",
        ["sslkey"] = "SSL Key",
        ["sslpassword"] = "SSL Password",
        ["target_session_attrs"] = "Target Session Attributes",
        ["channel_binding"] = "Channel Binding",
        ["schema"] = "Search Path",
        ["connection_limit"] = "Maximum Pool Size",
    };

    private static readonly Dictionary<string, string> SslModes = new(StringComparer.OrdinalIgnoreCase)
    {
        ["disable"] = "Disable",
        ["allow"] = "Allow",
        ["prefer"] = "Prefer",
        ["require"] = "Require",
        ["verify-ca"] = "VerifyCA",
        ["verify-full"] = "VerifyFull",
    };

    /// <summary>True when <paramref name="value"/> is written as a URL (it has a <c>scheme://</c>).</summary>
    public static bool IsUrl(string value) => value is not null && value.Contains("://", StringComparison.Ordinal);

    /// <summary>
    /// Converts a <c>postgresql://</c> or <c>postgres://</c> URL to an Npgsql connection string, or returns a
    /// <c>key=value</c> connection string as it is.
    /// </summary>
    /// <exception cref="FormatException">The value is neither; the message says what is wrong and omits the password.</exception>
    public static string FromUrl(string urlOrConnectionString)
    {
        ArgumentNullException.ThrowIfNull(urlOrConnectionString);
        var value = urlOrConnectionString.Trim();
        if (value.Length == 0)
        {
            throw new FormatException("is empty.");
        }
        if (!IsUrl(value))
        {
            return ValidateConnectionString(value);
        }

        var schemeEnd = value.IndexOf("://", StringComparison.Ordinal);
        var scheme = value[..schemeEnd];
        if (!scheme.Equals("postgresql", StringComparison.OrdinalIgnoreCase) && !scheme.Equals("postgres", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException($"has scheme '{scheme}', expected postgresql:// or postgres://.");
        }

        var rest = value[(schemeEnd + 3)..];
        var fragment = rest.IndexOf('#', StringComparison.Ordinal);
        if (fragment >= 0)
        {
            rest = rest[..fragment];
        }
        var query = string.Empty;
        var queryStart = rest.IndexOf('?', StringComparison.Ordinal);
        if (queryStart >= 0)
        {
            query = rest[(queryStart + 1)..];
            rest = rest[..queryStart];
        }
        var database = string.Empty;
        // The password may contain '/', so the path starts after the last '@', not at the first '/'.
        var at = rest.LastIndexOf('@');
        var pathStart = rest.IndexOf('/', at + 1);
        if (pathStart >= 0)
        {
            database = Decode(rest[(pathStart + 1)..]);
            rest = rest[..pathStart];
        }

        string? user = null;
        string? password = null;
        var hostList = rest;
        if (at >= 0)
        {
            var userInfo = rest[..at];
            hostList = rest[(at + 1)..];
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            user = Decode(colon >= 0 ? userInfo[..colon] : userInfo);
            password = colon >= 0 ? Decode(userInfo[(colon + 1)..]) : null;
        }

        var builder = new DbConnectionStringBuilder();
        AddHosts(builder, hostList);
        if (database.Length > 0)
        {
            builder["Database"] = database;
        }
        if (!string.IsNullOrEmpty(user))
        {
            builder["Username"] = user;
        }
        if (password is not null)
        {
            builder["Password"] = password;
        }
        AddQuery(builder, query);
        return builder.ConnectionString;
    }

    private static string ValidateConnectionString(string value)
    {
        if (!value.Contains('=', StringComparison.Ordinal))
        {
            throw new FormatException("is neither a postgresql:// URL nor a key=value connection string.");
        }
        try
        {
            _ = new DbConnectionStringBuilder { ConnectionString = value };
        }
        catch (ArgumentException)
        {
            // The builder's message quotes the offending text, which may be the password, so it is not passed on.
            throw new FormatException("is not a well-formed key=value connection string.");
        }
        return value;
    }

    private static void AddHosts(DbConnectionStringBuilder builder, string hostList)
    {
        var hosts = new List<(string Host, int? Port)>();
        foreach (var entry in hostList.Split(','))
        {
            hosts.Add(ParseHost(entry));
        }
        if (hosts.Count == 1)
        {
            builder["Host"] = hosts[0].Host;
            if (hosts[0].Port is { } port)
            {
                builder["Port"] = port.ToString(CultureInfo.InvariantCulture);
            }
            return;
        }
        builder["Host"] = string.Join(',', hosts.Select(h =>
        {
            var host = h.Host.Contains(':', StringComparison.Ordinal) ? $"[{h.Host}]" : h.Host;
            return h.Port is { } p ? $"{host}:{p.ToString(CultureInfo.InvariantCulture)}" : host;
        }));
    }

    private static (string Host, int? Port) ParseHost(string entry)
    {
        string host;
        string? port = null;
        if (entry.StartsWith('['))
        {
            var close = entry.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException("has an IPv6 host without its closing ']'.");
            }
            host = entry[1..close];
            var after = entry[(close + 1)..];
            if (after.Length > 0)
            {
                if (after[0] != ':')
                {
                    throw new FormatException($"has unexpected text after the IPv6 host '{host}'.");
                }
                port = after[1..];
            }
        }
        else
        {
            var colon = entry.LastIndexOf(':');
            host = colon >= 0 ? entry[..colon] : entry;
            port = colon >= 0 ? entry[(colon + 1)..] : null;
        }
        host = Decode(host);
        if (host.Length == 0)
        {
            throw new FormatException("has no host.");
        }
        if (port is null)
        {
            return (host, null);
        }
        if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            throw new FormatException($"has port '{port}', expected a number from 1 to 65535.");
        }
        return (host, number);
    }

    private static void AddQuery(DbConnectionStringBuilder builder, string query)
    {
        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            var name = Decode(eq >= 0 ? pair[..eq] : pair);
            var value = eq >= 0 ? Decode(pair[(eq + 1)..]) : string.Empty;
            if (!QueryKeywords.TryGetValue(name, out var keyword))
            {
                throw new FormatException($"has query parameter '{name}', which is not supported (supported: {string.Join(", ", QueryKeywords.Keys)}).");
            }
            if (keyword == "SSL Mode")
            {
                value = SslModes.TryGetValue(value, out var mode)
                    ? mode
                    : throw new FormatException($"has sslmode '{value}', expected one of {string.Join(", ", SslModes.Keys)}.");
            }
            builder[keyword] = value;
        }
    }

    private static string Decode(string value) => Uri.UnescapeDataString(value);
}
