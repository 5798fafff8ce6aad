using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Hosting.Infrastructure;

/// <summary>Development mail run by aiosmtpd (python3-aiosmtpd), every message kept in a maildir in the state directory.</summary>
public sealed class SmtpExecutableResource(string name, string command, string workingDirectory)
    : ExecutableResource(name, command, workingDirectory);

/// <summary>
/// <c>AddDevelopmentSmtp</c>: an SMTP server that accepts every message for development, on an endpoint named
/// <c>smtp</c>. Mailpit (<c>axllent/mailpit</c>, with its web UI) when published or when a container runtime works;
/// otherwise aiosmtpd writing a maildir. Healthy once it greets with <c>220</c>.
/// </summary>
public static class SmtpBuilderExtensions
{
    public const string EndpointName = "smtp";
    private const string Python = "/usr/bin/python3";

    public static IResourceBuilder<IResourceWithEndpoints> AddDevelopmentSmtp(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var healthCheck = $"{name}_check";
        if (ContainerRuntime.UseContainers(builder))
        {
            var mailpit = builder.AddContainer(name, "axllent/mailpit", "v1.27")
                .WithImageRegistry("docker.io")
                .WithEndpoint(targetPort: 1025, name: EndpointName, scheme: "tcp")
                .WithHttpEndpoint(targetPort: 8025, name: "http");
            AddBannerCheck(builder, healthCheck, mailpit.Resource);
            return mailpit.WithHealthCheck(healthCheck);
        }

        var directory = AppHostState.For(builder, name);
        var smtp = builder.AddResource(new SmtpExecutableResource(name, Python, directory))
            .WithEndpoint(name: EndpointName, scheme: "tcp")
            .WithIconName("Mail")
            .ExcludeFromManifest();
        if (!File.Exists(Python) || !HasAiosmtpd())
        {
            return smtp.FailsToStart(Prerequisites.Missing("The Python module aiosmtpd (for /usr/bin/python3) was", Prerequisites.SmtpPackage));
        }
        var script = AppHostState.WriteScript(directory, "smtp_server.py");
        AddBannerCheck(builder, healthCheck, smtp.Resource);
        return smtp
            .WithArgs(context =>
            {
                context.Args.Add(script);
                context.Args.Add(smtp.Resource.GetEndpoint(EndpointName).Property(EndpointProperty.TargetPort));
                context.Args.Add(Path.Combine(directory, "maildir"));
            })
            .WithHealthCheck(healthCheck);
    }

    /// <summary>
    /// The SMTP server of the topology: the development mail catcher (<see cref="AddDevelopmentSmtp"/>), except when
    /// Kubernetes manifests are published without <c>--Kubernetes:DevelopmentSmtp true</c>: then null, and
    /// <see cref="WithSmtp"/> names the server of <c>--Kubernetes:Smtp:*</c>.
    /// </summary>
    public static IResourceBuilder<IResourceWithEndpoints>? AddSmtp(this IDistributedApplicationBuilder builder, [ResourceName] string name)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return Publishing.KubernetesResourceBuilderExtensions.IsActive(builder) && !Publishing.KubernetesResourceBuilderExtensions.Options(builder).DevelopmentSmtp
            ? null
            : builder.AddDevelopmentSmtp(name);
    }

    /// <summary>
    /// <c>SMTP_HOST</c> and <c>SMTP_PORT</c> of <paramref name="smtp"/>, which the project waits for; without one (published
    /// for Kubernetes), the server of <c>--Kubernetes:Smtp:*</c>: host, port, security, sender, user, and the password
    /// from the Secret key <c>smtp-password</c>, with a NetworkPolicy that lets the project reach that port.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithSmtp(this IResourceBuilder<ProjectResource> project, IResourceBuilder<IResourceWithEndpoints>? smtp)
    {
        ArgumentNullException.ThrowIfNull(project);
        if (smtp is not null)
        {
            var endpoint = smtp.GetEndpoint(EndpointName);
            return project.WaitFor(smtp)
                .WithEnvironment("SMTP_HOST", endpoint.Property(EndpointProperty.Host))
                .WithEnvironment("SMTP_PORT", endpoint.Property(EndpointProperty.Port));
        }
        var settings = Publishing.KubernetesResourceBuilderExtensions.Options(project.ApplicationBuilder).Smtp;
        if (settings.Host is null)
        {
            return project;
        }
        project.WithEnvironment("SMTP_HOST", settings.Host)
            .WithEnvironment("SMTP_PORT", settings.Port.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .WithEnvironment("SMTP_SECURITY", settings.Security)
            .WithExternalEgressFor(settings.Port, "SMTP server");
        if (settings.From is not null)
        {
            project.WithEnvironment("SMTP_FROM", settings.From);
        }
        if (settings.Username is not null)
        {
            project.WithEnvironment("SMTP_USERNAME", settings.Username)
                .WithEnvironment("SMTP_PASSWORD", project.ApplicationBuilder.AddParameter("smtp-password", secret: true));
        }
        return project;
    }

    private static IResourceBuilder<ProjectResource> WithExternalEgressFor(this IResourceBuilder<ProjectResource> project, int port, string purpose) =>
        Publishing.KubernetesResourceBuilderExtensions.WithExternalEgress(project, port, purpose);

    private static bool HasAiosmtpd()
    {
        using var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Python, ["-c", "import aiosmtpd"])
        {
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        probe.StandardError.ReadToEnd();
        probe.WaitForExit();
        return probe.ExitCode == 0;
    }

    private static void AddBannerCheck(IDistributedApplicationBuilder builder, string key, IResourceWithEndpoints smtp) =>
        builder.Services.AddHealthChecks().Add(new HealthCheckRegistration(key, _ => new SmtpBannerHealthCheck(smtp.GetEndpoint(EndpointName)), null, null));
}

/// <summary>Healthy when the server greets a new connection with <c>220</c> within two seconds.</summary>
internal sealed class SmtpBannerHealthCheck(EndpointReference endpoint) : IHealthCheck
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(Timeout);
            using var client = new TcpClient();
            await client.ConnectAsync(endpoint.Host, endpoint.Port, timeout.Token);
            var buffer = new byte[512];
            var read = await client.GetStream().ReadAsync(buffer, timeout.Token);
            var greeting = Encoding.ASCII.GetString(buffer, 0, read);
            return greeting.StartsWith("220", StringComparison.Ordinal)
                ? HealthCheckResult.Healthy(greeting.TrimEnd())
                : HealthCheckResult.Unhealthy($"SMTP greeting was '{greeting.TrimEnd()}', not 220.");
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy($"No SMTP greeting: {ex.Message}");
        }
    }
}
