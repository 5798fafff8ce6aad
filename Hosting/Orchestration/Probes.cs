using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Hosting.Orchestration;

/// <summary>The health gates: TCP, RESP <c>AUTH</c>+<c>PING</c>, an SMTP greeting, HTTP <c>/health</c>.</summary>
internal static class Probes
{
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);
    private static readonly HttpClient Http = new() { Timeout = ProbeTimeout };

    public static async Task<bool> TcpAsync(int port, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(ProbeTimeout);
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            return true;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Valkey answers <c>+PONG</c> after authenticating with <paramref name="password"/>.</summary>
    public static async Task<bool> ValkeyPingAsync(int port, string password, CancellationToken cancellationToken)
    {
        var reply = await ExchangeAsync(port, $"AUTH {password}\r\nPING\r\n", "+PONG", cancellationToken);
        return reply?.Contains("+PONG", StringComparison.Ordinal) == true;
    }

    public static async Task<bool> SmtpGreetingAsync(int port, CancellationToken cancellationToken)
    {
        var reply = await ExchangeAsync(port, null, "220", cancellationToken);
        return reply?.StartsWith("220", StringComparison.Ordinal) == true;
    }

    public static async Task<bool> HttpOkAsync(Uri url, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await Http.GetAsync(url, cancellationToken);
            return response.StatusCode == HttpStatusCode.OK;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private static async Task<string?> ExchangeAsync(int port, string? request, string expected, CancellationToken cancellationToken)
    {
        try
        {
            using var client = new TcpClient();
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(ProbeTimeout);
            await client.ConnectAsync(IPAddress.Loopback, port, cts.Token);
            var stream = client.GetStream();
            if (request is not null)
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(request), cts.Token);
            }
            var received = new StringBuilder();
            var buffer = new byte[512];
            while (!received.ToString().Contains(expected, StringComparison.Ordinal))
            {
                var read = await stream.ReadAsync(buffer, cts.Token);
                if (read == 0)
                {
                    break;
                }
                received.Append(Encoding.ASCII.GetString(buffer, 0, read));
                if (received.ToString().Contains("-ERR", StringComparison.Ordinal) || received.ToString().Contains("-WRONGPASS", StringComparison.Ordinal))
                {
                    break;
                }
            }
            return received.ToString();
        }
        catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }
}

/// <summary>Whether a container runtime actually works here: <c>docker info</c> must succeed, not just exist.</summary>
internal static class ContainerRuntime
{
    public static async Task<bool> WorksAsync()
    {
        if (Prerequisites.Find("docker") is null)
        {
            return false;
        }
        try
        {
            await ManagedProcess.RunToCompletionAsync(ProcessLaunch.Command("docker", "info"), TimeSpan.FromSeconds(10));
            return true;
        }
        catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or PrerequisiteMissingException)
        {
            return false;
        }
    }
}
