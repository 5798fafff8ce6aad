namespace Hosting;

/// <summary>Finds the server binaries the local stand-ins run, and names the apt-get command for a missing one.</summary>
public static class Prerequisites
{
    /// <summary>The full path of <paramref name="command"/> (a path, or a name searched on PATH), or null.</summary>
    public static string? Find(string command)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        if (command.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(command) ? Path.GetFullPath(command) : null;
        }
        return (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Append("/usr/sbin").Append("/usr/bin")
            .Select(directory => Path.Combine(directory, command))
            .FirstOrDefault(File.Exists);
    }

    /// <summary>
    /// The directory of PostgreSQL's server binaries (initdb, postgres, pg_ctl): the newest major version under
    /// /usr/lib/postgresql (Debian keeps them off PATH), else wherever initdb is on PATH; null when neither exists.
    /// </summary>
    public static string? FindPostgresBinDirectory()
    {
        var newest = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(dir => Path.Combine(dir, "bin"))
                .Where(bin => File.Exists(Path.Combine(bin, "initdb")))
                .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), System.Globalization.CultureInfo.InvariantCulture, out var major) ? major : 0)
                .FirstOrDefault()
            : null;
        return newest ?? (Find("initdb") is { } initdb ? Path.GetDirectoryName(Path.GetFullPath(initdb)) : null);
    }

    /// <inheritdoc cref="FindPostgresBinDirectory"/>
    /// <exception cref="InvalidOperationException">Neither exists; the message gives the install command.</exception>
    public static string PostgresBinDirectory() =>
        FindPostgresBinDirectory() ?? throw new InvalidOperationException(Missing("PostgreSQL server binaries (initdb, postgres)", PostgresPackage));

    internal const string PostgresPackage = "postgresql";
    internal const string ValkeyPackage = "redis-server";
    internal const string SmtpPackage = "python3-aiosmtpd";

    /// <summary>"&lt;what&gt; not found. Install it with: apt-get install -y &lt;package&gt;".</summary>
    public static string Missing(string what, string package) => $"{what} not found. Install it with: apt-get install -y {package}";
}
