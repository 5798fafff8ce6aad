namespace Hosting;

/// <summary>Entry point of the app model (filled by the AppHost issue).</summary>
public static class DistributedApplication
{
}
