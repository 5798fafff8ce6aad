using System.Buffers;
using System.Globalization;
using System.Text;

namespace Queue.Storage;

/// <summary>
/// The immutable part of a job, stored as one hash field so that enqueue writes and fetch reads one value instead of
/// six. Encoding: each field as its byte length in decimal, ':', then the bytes (UTF-8 for text). A sealed job
/// (<see cref="Security.JobSeal"/>) has an empty <see cref="Payload"/> and a seventh field, <see cref="Sealed"/>.
/// </summary>
internal sealed record JobData(string Name, string Payload, string Signature, string TraceParent, int MaxAttempts, long EnqueuedMs)
{
    /// <summary>The payload encrypted for this job, or null when it is stored in the clear (<see cref="Payload"/>).</summary>
    public byte[]? Sealed { get; init; }

    public byte[] Encode()
    {
        var writer = new ArrayBufferWriter<byte>(Payload.Length + Name.Length + Signature.Length + TraceParent.Length + (Sealed?.Length ?? 0) + 64);
        Write(writer, Name);
        Write(writer, Payload);
        Write(writer, Signature);
        Write(writer, TraceParent);
        Write(writer, MaxAttempts.ToString(CultureInfo.InvariantCulture));
        Write(writer, EnqueuedMs.ToString(CultureInfo.InvariantCulture));
        if (Sealed is not null)
        {
            WriteBytes(writer, Sealed);
        }
        return writer.WrittenSpan.ToArray();
    }

    /// <summary>What a job whose stored data cannot be read looks like: no name and no signature, so it fails verification.</summary>
    public static readonly JobData Corrupt = new("", "", "", "", 0, 0);

    /// <summary>Decodes stored data; <see cref="Corrupt"/> when it is not in this format (never written by this engine).</summary>
    public static JobData DecodeOrCorrupt(byte[]? data)
    {
        try
        {
            return data is null ? Corrupt : Decode(data);
        }
        catch (FormatException)
        {
            return Corrupt;
        }
        catch (OverflowException)
        {
            return Corrupt;
        }
    }

    public static JobData Decode(ReadOnlySpan<byte> data)
    {
        var name = Read(ref data);
        var payload = Read(ref data);
        var signature = Read(ref data);
        var traceParent = Read(ref data);
        var maxAttempts = int.Parse(Read(ref data), CultureInfo.InvariantCulture);
        var enqueued = long.Parse(Read(ref data), CultureInfo.InvariantCulture);
        var sealedBytes = data.IsEmpty ? null : ReadBytes(ref data).ToArray();
        return new JobData(name, payload, signature, traceParent, maxAttempts, enqueued) { Sealed = sealedBytes };
    }

    private static void WriteBytes(ArrayBufferWriter<byte> writer, ReadOnlySpan<byte> value)
    {
        var prefix = writer.GetSpan(12);
        value.Length.TryFormat(prefix, out var digits, default, CultureInfo.InvariantCulture);
        prefix[digits] = (byte)':';
        writer.Advance(digits + 1);
        writer.Write(value);
    }

    private static void Write(ArrayBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        var prefix = writer.GetSpan(12);
        length.TryFormat(prefix, out var digits, default, CultureInfo.InvariantCulture);
        prefix[digits] = (byte)':';
        writer.Advance(digits + 1);
        writer.Advance(Encoding.UTF8.GetBytes(value, writer.GetSpan(length)));
    }

    private static string Read(ref ReadOnlySpan<byte> data) => Encoding.UTF8.GetString(ReadBytes(ref data));

    private static ReadOnlySpan<byte> ReadBytes(ref ReadOnlySpan<byte> data)
    {
        var colon = data.IndexOf((byte)':');
        if (colon < 0 || !int.TryParse(data[..colon], NumberStyles.None, CultureInfo.InvariantCulture, out var length) || colon + 1 + length > data.Length)
        {
            throw new FormatException("Corrupt job data.");
        }
        var value = data.Slice(colon + 1, length);
        data = data[(colon + 1 + length)..];
        return value;
    }
}
