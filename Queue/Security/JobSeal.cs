using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Queue.Security;

/// <summary>
/// Payload encryption at rest: AES-256-GCM with a key derived from the tenant's secret (HKDF-SHA256 of its signing key,
/// labelled for this use alone), a unique 96-bit nonce per job, and the job's identity (queue, id, tenant, name) as
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

    private readonly ConcurrentDictionary<string, Cipher> _keys = new(StringComparer.Ordinal);

    /// <summary>One tenant's derived key and a few ready AesGcm instances for it (an instance serves one caller at a time).</summary>
    private sealed class Cipher(byte[] key)
    {
        private const int Kept = 16;
        private readonly ConcurrentQueue<AesGcm> _ready = new();

        public AesGcm Rent() => _ready.TryDequeue(out var aes) ? aes : new AesGcm(key, TagSize);

        public void Return(AesGcm aes)
        {
            if (_ready.Count < Kept)
            {
                _ready.Enqueue(aes);
            }
            else
            {
                aes.Dispose();
            }
        }
    }

    /// <summary>
    /// The nonces of this instance: a random 64-bit field fixed for its lifetime, combined with a 64-bit invocation counter
    /// (its high half folded into the field, its low half the last 4 bytes), so an instance never repeats one (NIST SP
    /// 800-38D's deterministic construction). Two instances repeat a nonce only if they drew the same 64 random bits: a
    /// chance of about 2^-64 per pair. A random draw per seal cost more than the encryption itself.
    /// </summary>
    private readonly ulong _nonceField = RandomField();
    private long _nonces = -1;

    private static ulong RandomField()
    {
        Span<byte> field = stackalloc byte[8];
        RandomNumberGenerator.Fill(field);
        return BinaryPrimitives.ReadUInt64LittleEndian(field);
    }

    private void NextNonce(Span<byte> nonce)
    {
        var n = (ulong)Interlocked.Increment(ref _nonces);
        BinaryPrimitives.WriteUInt64LittleEndian(nonce, _nonceField ^ (n >> 32));
        BinaryPrimitives.WriteUInt32LittleEndian(nonce[8..], (uint)n);
    }

    public byte[] Seal(string secret, string queue, string id, string tenant, string name, string payload)
    {
        var length = Encoding.UTF8.GetByteCount(payload);
        var sealedBytes = new byte[1 + NonceSize + length + TagSize];
        sealedBytes[0] = Version;
        var nonce = sealedBytes.AsSpan(1, NonceSize);
        NextNonce(nonce);
        // The clear text is written where the cipher text goes, then encrypted in place.
        var body = sealedBytes.AsSpan(1 + NonceSize, length);
        Encoding.UTF8.GetBytes(payload, body);
        var cipher = Key(secret);
        var aes = cipher.Rent();
        try
        {
            aes.Encrypt(nonce, body, body, sealedBytes.AsSpan(1 + NonceSize + length), Identity(queue, id, tenant, name));
        }
        finally
        {
            cipher.Return(aes);
        }
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
        var cipher = Key(secret);
        var aes = cipher.Rent();
        try
        {
            aes.Decrypt(sealedBytes.Slice(1, NonceSize), sealedBytes.Slice(1 + NonceSize, length), sealedBytes[(1 + NonceSize + length)..], plain, Identity(queue, id, tenant, name));
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
        finally
        {
            cipher.Return(aes);
        }
        return Encoding.UTF8.GetString(plain);
    }

    private Cipher Key(string secret)
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
        return _keys.GetOrAdd(secret, s => new Cipher(HKDF.DeriveKey(HashAlgorithmName.SHA256, Encoding.UTF8.GetBytes(s), 32, salt: [], info: Label)));
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
