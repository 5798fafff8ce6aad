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
        var keyBytes = Encoding.UTF8.GetBytes(key);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, keyBytes);
        Span<byte> length = stackalloc byte[4];
        foreach (var field in (ReadOnlySpan<string>)[Version, queue, id, tenant, name, payload])
        {
            var bytes = Encoding.UTF8.GetBytes(field);
            BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            hmac.AppendData(length);
            hmac.AppendData(bytes);
        }
        return Convert.ToBase64String(hmac.GetHashAndReset());
    }

    /// <summary>Constant-time comparison of the expected and the presented signature.</summary>
    public static bool Verify(string key, string queue, string id, string tenant, string name, string payload, string signature)
    {
        var expected = Convert.FromBase64String(Compute(key, queue, id, tenant, name, payload));
        Span<byte> presented = stackalloc byte[64];
        return Convert.TryFromBase64String(signature, presented, out var written)
            && CryptographicOperations.FixedTimeEquals(expected, presented[..written]);
    }
}
