using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Queue.Security;

/// <summary>
/// Payload encryption at rest: AES-256-GCM with a key derived from the tenant's secret (HKDF-SHA256 of its signing key,
/// labelled for this use alone), a random 96-bit nonce per job, and the job's identity (queue, id, tenant, name) as
/// associated data, so a sealed payload opens only for the job it was sealed for. Sealed form: version (1 byte), nonce
/// (12), ciphertext, tag (16). Thread-safe.
/// </summary>
internal sealed class JobSeal
{
    private const byte Version = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private const int MaxCachedKeys = 10_000;
    private static readonly byte[] Label = "aq-payload-v1"u8.ToArray();

    private readonly ConcurrentDictionary<string, byte[]> _keys = new(StringComparer.Ordinal);

    public byte[] Seal(string secret, string queue, string id, string tenant, string name, string payload)
    {
        var plain = Encoding.UTF8.GetBytes(payload);
        var sealedBytes = new byte[1 + NonceSize + plain.Length + TagSize];
        sealedBytes[0] = Version;
        var nonce = sealedBytes.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(Key(secret), TagSize);
        aes.Encrypt(nonce, plain, sealedBytes.AsSpan(1 + NonceSize, plain.Length), sealedBytes.AsSpan(1 + NonceSize + plain.Length), Identity(queue, id, tenant, name));
        return sealedBytes;
    }

    /// <summary>The payload, or null when the sealed bytes do not open with this secret for this job (tampered, or another job's or key's).</summary>
    public string? Open(string secret, string queue, string id, string tenant, string name, ReadOnlySpan<byte> sealedBytes)
    {
        if (sealedBytes.Length < 1 + NonceSize + TagSize || sealedBytes[0] != Version)
        {
            return null;
        }
        var length = sealedBytes.Length - 1 - NonceSize - TagSize;
        var plain = new byte[length];
        try
        {
            using var aes = new AesGcm(Key(secret), TagSize);
            aes.Decrypt(sealedBytes.Slice(1, NonceSize), sealedBytes.Slice(1 + NonceSize, length), sealedBytes[(1 + NonceSize + length)..], plain, Identity(queue, id, tenant, name));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        return Encoding.UTF8.GetString(plain);
    }

    private byte[] Key(string secret)
    {
        if (_keys.TryGetValue(secret, out var key))
        {
            return key;
        }
        if (_keys.Count >= MaxCachedKeys)
        {
            // Keys of tenants that left or rotated their secret do not pile up.
            _keys.Clear();
        }
        return _keys.GetOrAdd(secret, s => HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(s), 32, salt: [], info: Label));
    }

    /// <summary>Each field as its UTF-8 length (4 bytes, big-endian) and bytes, so no field can be shifted into another.</summary>
    private static byte[] Identity(string queue, string id, string tenant, string name)
    {
        ReadOnlySpan<string> fields = [queue, id, tenant, name];
        var size = 0;
        foreach (var field in fields)
        {
            size += 4 + Encoding.UTF8.GetByteCount(field);
        }
        var buffer = new byte[size];
        var at = 0;
        foreach (var field in fields)
        {
            var written = Encoding.UTF8.GetBytes(field, buffer.AsSpan(at + 4));
            BinaryPrimitives.WriteInt32BigEndian(buffer.AsSpan(at), written);
            at += 4 + written;
        }
        return buffer;
    }
}
