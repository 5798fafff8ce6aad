using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace Tests.Infrastructure;

/// <summary>
/// A bare RESP2 client: one connection, one command at a time, replies as text. For tests that act as an attacker who
/// talks to the server directly, so that nothing a client library refuses on its own side hides what the server allows.
/// </summary>
public sealed class RespClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly StreamReader _reader;

    private RespClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new StreamReader(_stream, Encoding.UTF8);
    }

    public static async Task<RespClient> ConnectAsync(int port, string user, string password)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var client = new RespClient(tcp);
        var auth = await client.SendAsync("AUTH", user, password);
        return auth == "OK" ? client : throw new InvalidOperationException($"AUTH {user} failed: {auth}");
    }

    /// <summary>Sends one command and returns its reply: a simple string, an error (starting with '-'), or the elements of an array joined by newlines.</summary>
    public async Task<string> SendAsync(params string[] command)
    {
        var request = new StringBuilder().Append('*').Append(command.Length.ToString(CultureInfo.InvariantCulture)).Append("\r\n");
        foreach (var part in command)
        {
            request.Append('$').Append(Encoding.UTF8.GetByteCount(part).ToString(CultureInfo.InvariantCulture)).Append("\r\n").Append(part).Append("\r\n");
        }
        await _stream.WriteAsync(Encoding.UTF8.GetBytes(request.ToString()));
        return await ReadAsync();
    }

    private async Task<string> ReadAsync()
    {
        var line = await _reader.ReadLineAsync() ?? throw new IOException("The server closed the connection.");
        switch (line[0])
        {
            case '+':
            case ':':
                return line[1..];
            case '-':
                return line;
            case '$':
                var length = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return "(nil)";
                }
                var buffer = new char[length];
                await _reader.ReadBlockAsync(buffer);
                await _reader.ReadLineAsync();
                return new string(buffer);
            case '*':
                var count = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                var items = new List<string>();
                for (var i = 0; i < count; i++)
                {
                    items.Add(await ReadAsync());
                }
                return string.Join('\n', items);
            default:
                throw new IOException($"Unexpected reply: {line}");
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
