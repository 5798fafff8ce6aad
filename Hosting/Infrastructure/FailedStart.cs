using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Hosting.Infrastructure;

internal static class FailedStart
{
    /// <summary>
    /// Makes an executable that cannot run (its binary is missing) exit at once with <paramref name="reason"/> on its
    /// console, so it shows as Exited with the reason in the dashboard, everything waiting for it fails instead of
    /// waiting forever, and the AppHost's console names the reason too.
    /// </summary>
    public static IResourceBuilder<T> FailsToStart<T>(this IResourceBuilder<T> builder, string reason) where T : ExecutableResource
    {
        builder.ApplicationBuilder.Eventing.Subscribe<BeforeStartEvent>((@event, _) =>
        {
            var log = @event.Services.GetRequiredService<ILoggerFactory>().CreateLogger("AppHost");
            log.LogError("{Resource} cannot start: {Reason}", builder.Resource.Name, reason);
            return Task.CompletedTask;
        });
        return builder
            .WithCommand("/bin/sh")
            .WithArgs("-c", "echo \"$1\" >&2; exit 1", "fail", reason);
    }
}
