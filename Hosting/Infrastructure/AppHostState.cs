namespace Hosting.Infrastructure;

/// <summary>
/// Where the local stand-ins keep their data (PostgreSQL cluster, Valkey's append-only file, the maildir):
/// <c>APPHOST_STATE_DIR</c> (or <c>AppHost:StateDirectory</c>), else <c>.apphost/</c> inside the AppHost's
/// directory (ignored by git). It survives restarts; delete it to start from nothing.
/// </summary>
public static class AppHostState
{
    public static string Directory(IDistributedApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var configured = builder.Configuration["APPHOST_STATE_DIR"] ?? builder.Configuration["AppHost:StateDirectory"];
        var path = Path.GetFullPath(string.IsNullOrWhiteSpace(configured) ? ".apphost" : configured, builder.AppHostDirectory);
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>A subdirectory for one resource, created if missing.</summary>
    public static string For(IDistributedApplicationBuilder builder, string resourceName)
    {
        var path = Path.Combine(Directory(builder), resourceName);
        System.IO.Directory.CreateDirectory(path);
        return path;
    }

    /// <summary>Copies an embedded script of this assembly into <paramref name="directory"/> and returns its path.</summary>
    internal static string WriteScript(string directory, string fileName)
    {
        var path = Path.Combine(directory, fileName);
        using var source = typeof(AppHostState).Assembly.GetManifestResourceStream("Hosting.Resources." + fileName)
            ?? throw new InvalidOperationException($"Embedded script {fileName} is missing from the Hosting assembly.");
        using (var target = File.Create(path))
        {
            source.CopyTo(target);
        }
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)Convert.ToInt32("755", 8));
        }
        return path;
    }
}
