using System.Buffers;
using System.Data;
using System.Threading.Channels;
using Npgsql;
using NpgsqlTypes;

namespace Domain.Infrastructure;

/// <summary>
/// Uploads kept as PostgreSQL large objects in the tenant database, so a worker on another machine can stream
/// them. Both directions move fixed-size chunks through the server-side <c>lo_put</c>/<c>lo_get</c> functions:
/// memory stays flat whatever the size of the file.
/// </summary>
public static class LargeObjects
{
    public const int ChunkSize = 1024 * 1024;

    /// <summary>
    /// Copies <paramref name="source"/> into a new large object inside the caller's transaction (roll it back and
    /// the object is gone with it). Throws <see cref="UploadTooLargeException"/> past <paramref name="maxBytes"/>.
    /// </summary>
    public static async Task<(uint Oid, long Size)> WriteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Stream source, long maxBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(source);
        uint oid;
        await using (var create = new NpgsqlCommand("SELECT lo_create(0)", connection, transaction))
        {
            oid = (uint)(await create.ExecuteScalarAsync(cancellationToken))!;
        }

        await using var put = new NpgsqlCommand("SELECT lo_put(@oid, @offset, @data)", connection, transaction);
        put.Parameters.Add(new NpgsqlParameter<uint>("oid", NpgsqlDbType.Oid) { TypedValue = oid });
        var offsetParameter = new NpgsqlParameter<long>("offset", NpgsqlDbType.Bigint);
        var dataParameter = new NpgsqlParameter<ArraySegment<byte>>("data", NpgsqlDbType.Bytea);
        put.Parameters.Add(offsetParameter);
        put.Parameters.Add(dataParameter);
        var buffer = new byte[ChunkSize];
        long size = 0;
        while (true)
        {
            var filled = await FillAsync(source, buffer, cancellationToken);
            if (filled == 0)
            {
                break;
            }
            if (size + filled > maxBytes)
            {
                throw new UploadTooLargeException(maxBytes);
            }
            offsetParameter.TypedValue = size;
            dataParameter.TypedValue = new ArraySegment<byte>(buffer, 0, filled);
            await put.ExecuteNonQueryAsync(cancellationToken);
            size += filled;
        }
        return (oid, size);
    }

    /// <summary>
    /// A read-only stream over a large object that reads ahead: a loop of its own fetches the next chunks (at most
    /// <paramref name="depth"/> waiting, in pooled buffers) on <paramref name="connection"/> while the caller works
    /// through the current one; a read fault surfaces from the stream's next read. The loop holds
    /// <paramref name="gate"/> around each of its commands, so the caller may use the connection too, between them,
    /// by holding the gate. Disposing the stream lets a command under way finish, then stops the loop.
    /// </summary>
    public static Stream OpenReadAhead(NpgsqlConnection connection, SemaphoreSlim gate, uint oid, long length, int depth = 2) =>
        new LargeObjectReadAheadStream(connection, gate, oid, length, depth);

    public static async Task DeleteAsync(NpgsqlConnection connection, uint oid, CancellationToken cancellationToken)
    {
        await using var unlink = new NpgsqlCommand("SELECT lo_unlink(@oid) WHERE EXISTS (SELECT 1 FROM pg_largeobject_metadata WHERE oid = @oid)", connection);
        unlink.Parameters.Add(new NpgsqlParameter<uint>("oid", NpgsqlDbType.Oid) { TypedValue = oid });
        await unlink.ExecuteNonQueryAsync(cancellationToken);
    }

    private static async Task<int> FillAsync(Stream source, byte[] buffer, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < buffer.Length)
        {
            var read = await source.ReadAsync(buffer.AsMemory(filled), cancellationToken);
            if (read == 0)
            {
                break;
            }
            filled += read;
        }
        return filled;
    }

    private sealed class LargeObjectReadAheadStream : Stream
    {
        private readonly Channel<(byte[] Buffer, int Length)> _chunks;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _reading;
        private readonly long _length;
        private byte[]? _chunk;
        private int _chunkLength;
        private int _chunkOffset;
        private long _position;

        public LargeObjectReadAheadStream(NpgsqlConnection connection, SemaphoreSlim gate, uint oid, long length, int depth)
        {
            _length = length;
            _chunks = Channel.CreateBounded<(byte[], int)>(new BoundedChannelOptions(Math.Max(1, depth)) { SingleReader = true, SingleWriter = true });
            _reading = Task.Run(() => ReadAheadAsync(connection, gate, oid, length, _stop.Token));
        }

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => _length;

        public override long Position
        {
            get => _position;
            set => throw new NotSupportedException();
        }

        private async Task ReadAheadAsync(NpgsqlConnection connection, SemaphoreSlim gate, uint oid, long length, CancellationToken stop)
        {
            try
            {
                await using var get = new NpgsqlCommand("SELECT lo_get(@oid, @offset, @length)", connection);
                get.Parameters.Add(new NpgsqlParameter<uint>("oid", NpgsqlDbType.Oid) { TypedValue = oid });
                var offset = new NpgsqlParameter<long>("offset", NpgsqlDbType.Bigint);
                get.Parameters.Add(offset);
                get.Parameters.Add(new NpgsqlParameter<int>("length", NpgsqlDbType.Integer) { TypedValue = ChunkSize });
                for (long position = 0; position < length;)
                {
                    var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                    int filled;
                    await gate.WaitAsync(stop);
                    try
                    {
                        offset.TypedValue = position;
                        // Not cancelled midway (the connection is shared); sequential access streams the chunk into
                        // the pooled buffer instead of a new array each time.
                        await using var reader = await get.ExecuteReaderAsync(CommandBehavior.SequentialAccess, CancellationToken.None);
                        await reader.ReadAsync(CancellationToken.None);
                        await using var data = await reader.GetStreamAsync(0, CancellationToken.None);
                        filled = await FillAsync(data, buffer, CancellationToken.None);
                    }
                    catch
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        throw;
                    }
                    finally
                    {
                        gate.Release();
                    }
                    if (filled == 0)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        break;
                    }
                    try
                    {
                        await _chunks.Writer.WriteAsync((buffer, filled), stop);
                    }
                    catch (OperationCanceledException)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                        throw;
                    }
                    position += filled;
                }
                _chunks.Writer.TryComplete();
            }
            catch (Exception e)
            {
                _chunks.Writer.TryComplete(e);
            }
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_chunk is null || _chunkOffset >= _chunkLength)
            {
                Release();
                (byte[], int) next;
                try
                {
                    while (!_chunks.Reader.TryRead(out next))
                    {
                        if (!await _chunks.Reader.WaitToReadAsync(cancellationToken))
                        {
                            return 0;
                        }
                    }
                }
                catch (ChannelClosedException e) when (e.InnerException is not null)
                {
                    throw e.InnerException;
                }
                (_chunk, _chunkLength) = next;
                _chunkOffset = 0;
            }
            var take = Math.Min(buffer.Length, _chunkLength - _chunkOffset);
            _chunk.AsSpan(_chunkOffset, take).CopyTo(buffer.Span);
            _chunkOffset += take;
            _position += take;
            return take;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        private void Release()
        {
            if (_chunk is not null)
            {
                ArrayPool<byte>.Shared.Return(_chunk);
                _chunk = null;
            }
        }

        public override async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _reading;
            }
            catch (OperationCanceledException)
            {
            }
            while (_chunks.Reader.TryRead(out var left))
            {
                ArrayPool<byte>.Shared.Return(left.Buffer);
            }
            Release();
            _stop.Dispose();
            await base.DisposeAsync();
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing && !_reading.IsCompleted)
            {
                DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            base.Dispose(disposing);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>An upload exceeded the configured maximum size; nothing of it was kept.</summary>
public sealed class UploadTooLargeException : Exception
{
    public UploadTooLargeException(long maxBytes) : base($"The upload exceeds the maximum of {maxBytes} bytes.") => MaxBytes = maxBytes;

    public UploadTooLargeException() : base("The upload is too large.")
    {
    }

    public UploadTooLargeException(string message) : base(message)
    {
    }

    public UploadTooLargeException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public long MaxBytes { get; }
}
