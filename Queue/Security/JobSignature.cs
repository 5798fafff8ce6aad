using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Queue.Security;

/// <summary>
/// HMAC-SHA256 over queue, id, tenant, name and payload. Each field is written as its UTF-8 byte length (4 bytes,
/// big-endian) followed by its bytes, after a version tag, so no field's content can be shifted into another.
/// </summary>
internal static class JobSignature
{
    private const string Version = "aq-job-v1";

    public static string Compute(string key, string queue, string id, string tenant, string name, string payload)
    {
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Hash(key, queue, id, tenant, name, payload, mac);
        return Convert.ToBase64String(mac);
    }

    /// <summary>Constant-time comparison of the expected and the presented signature.</summary>
    public static bool Verify(string key, string queue, string id, string tenant, string name, string payload, string signature)
    {
        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Hash(key, queue, id, tenant, name, payload, expected);
        Span<byte> presented = stackalloc byte[64];
        return Convert.TryFromBase64String(signature, presented, out var written)
            && CryptographicOperations.FixedTimeEquals(expected, presented[..written]);
    }

    private static void Hash(string key, string queue, string id, string tenant, string name, string payload, Span<byte> destination)
    {
        ReadOnlySpan<string> fields = [Version, queue, id, tenant, name, payload];
        var size = 0;
        foreach (var field in fields)
        {
            size += 4 + Encoding.UTF8.GetMaxByteCount(field.Length);
        }
        var buffer = ArrayPool<byte>.Shared.Rent(size);
        try
        {
            var at = 0;
            foreach (var field in fields)
            {
                var written = Encoding.UTF8.GetBytes(field, buffer.AsSpan(at + 4));
                BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(at), written);
                at += 4 + written;
            }
            HMACSHA256.HashData(Encoding.UTF8.GetBytes(key), buffer.AsSpan(0, at), destination);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
