using System.Text;
using System.Text.Json;
using Domain.Model;

namespace Workers.Infrastructure;

/// <summary>One element of an export's <c>cases</c>, <c>runs</c> or <c>results</c> array, with where it starts in the file.</summary>
/// <param name="Index">Its index in its array.</param>
/// <param name="Offset">Byte offset of its opening brace.</param>
/// <param name="Line">1-based line of its opening brace.</param>
public abstract record TestmoRecord(long Index, long Offset, long Line);

public sealed record TestmoCase(long Index, long Offset, long Line, long Id, string Name, string? Description) : TestmoRecord(Index, Offset, Line);

public sealed record TestmoRun(long Index, long Offset, long Line, long Id, string Name, DateTimeOffset? CreatedAt) : TestmoRecord(Index, Offset, Line);

public sealed record TestmoResult(long Index, long Offset, long Line, long CaseId, long RunId, TestResultStatus Status, long? ElapsedMs, string? Comment, DateTimeOffset? CreatedAt)
    : TestmoRecord(Index, Offset, Line);

/// <summary>A Testmo export that is not valid JSON or not in the supported shape; the message names where.</summary>
public sealed class TestmoFormatException : Exception
{
    public TestmoFormatException()
    {
    }

    public TestmoFormatException(string message) : base(message)
    {
    }

    public TestmoFormatException(string message, Exception innerException) : base(message, innerException)
    {
    }

    public static TestmoFormatException At(long offset, long line, string? path, string problem, Exception? inner = null)
    {
        var message = $"Invalid Testmo export at byte {offset} (line {line}){(path is null ? "" : $", {path}")}: {problem}";
        return inner is null ? new(message) : new(message, inner);
    }
}

/// <summary>
/// Streams a Testmo export with <see cref="Utf8JsonReader"/> over a fixed-size buffer refilled from the stream,
/// so memory stays flat whatever the file size. The supported subset of the format:
/// <code>
/// {
///   "cases":   [ { "id": 123, "name": "Login works", "description": "..." } ],
///   "runs":    [ { "id": 9, "name": "Nightly", "created_at": "2024-05-01T10:00:00Z" } ],
///   "results": [ { "case_id": 123, "run_id": 9, "status": "passed", "elapsed": 1.5, "comment": "...", "created_at": "..." } ]
/// }
/// </code>
/// <c>id</c>, <c>name</c>, <c>case_id</c>, <c>run_id</c> and <c>status</c> (passed, failed, blocked, skipped or retest,
/// any case) are required; <c>description</c>, <c>created_at</c> (ISO 8601), <c>elapsed</c> (seconds) and
/// <c>comment</c> are optional and may be null. The three arrays may come in any order and each is optional; any
/// other property, at the top or inside an element, is skipped. One element must fit in
/// <see cref="MaxElementBytes"/>: the buffer grows to hold a larger one, never beyond.
/// </summary>
/// <remarks>
/// The reader takes one array element at a time: it first checks the whole element is in the buffer
/// (<see cref="Utf8JsonReader.TrySkip"/> on a copy of the reader); if not, it rewinds to the element's start,
/// keeps the unread tail, refills and tries again with the saved <see cref="JsonReaderState"/>. Tokens that span
/// two buffers are therefore never seen half.
/// </remarks>
public sealed class TestmoExportReader(Stream stream, int bufferSize = TestmoExportReader.DefaultBufferSize)
{
    public const int DefaultBufferSize = 64 * 1024;
    public const int MaxElementBytes = 16 * 1024 * 1024;
    private const int MaxBatch = 1000;

    private byte[] _buffer = new byte[Math.Max(16, bufferSize)];
    private int _filled;
    private int _consumed;
    private long _bufferStart;
    private bool _final;
    private JsonReaderState _state;
    private Part _part;
    private long _index;

    // Lines are counted incrementally up to the last element handed out, so the cost stays linear in the file.
    private int _lineCursor;
    private long _lines;

    private enum Part
    {
        Start,
        Top,
        Cases,
        Runs,
        Results,
        End,
        Done,
    }

    /// <summary>Bytes taken from the stream so far.</summary>
    public long BytesRead => _bufferStart + _filled;

    /// <summary>
    /// Appends the next elements (at most about a thousand) to <paramref name="output"/>; false once the export has
    /// been read to its end and found complete. Throws <see cref="TestmoFormatException"/> at the first fault.
    /// </summary>
    public async Task<bool> ReadAsync(List<TestmoRecord> output, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        while (true)
        {
            if (_part == Part.Done)
            {
                return false;
            }
            var before = output.Count;
            var needMore = Parse(output);
            if (output.Count > before)
            {
                return true;
            }
            if (needMore)
            {
                await FillAsync(cancellationToken);
            }
        }
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_final)
        {
            throw TestmoFormatException.At(_bufferStart + _filled, CurrentLine(_filled), null, "the file ends before the JSON is complete.");
        }
        // Keep the unread tail: it is the start of a token or element that continues in the next read.
        CountLinesTo(_consumed);
        var tail = _filled - _consumed;
        if (tail == _buffer.Length)
        {
            if (_buffer.Length >= MaxElementBytes)
            {
                throw TestmoFormatException.At(_bufferStart + _consumed, CurrentLine(_consumed), Path(), $"one element is larger than {MaxElementBytes} bytes.");
            }
            var larger = new byte[Math.Min(MaxElementBytes, _buffer.Length * 2)];
            _buffer.AsSpan(_consumed, tail).CopyTo(larger);
            _buffer = larger;
        }
        else
        {
            _buffer.AsSpan(_consumed, tail).CopyTo(_buffer);
        }
        _bufferStart += _consumed;
        _lineCursor = 0;
        _filled = tail;
        _consumed = 0;
        while (_filled < _buffer.Length)
        {
            var read = await stream.ReadAsync(_buffer.AsMemory(_filled), cancellationToken);
            if (read == 0)
            {
                _final = true;
                break;
            }
            _filled += read;
        }
    }

    /// <summary>Reads what the buffer holds; true when it needs more bytes to go on.</summary>
    private bool Parse(List<TestmoRecord> output)
    {
        // The block is only declared final once the top-level object has closed: a file cut short then reads as
        // "needs more data" (reported as such below) rather than as a syntax error somewhere near its end.
        var reader = new Utf8JsonReader(_buffer.AsSpan(_consumed, _filled - _consumed), _final && _part >= Part.End, _state);
        var needMore = false;
        try
        {
            while (output.Count < MaxBatch && !needMore && _part != Part.Done)
            {
                var checkpoint = reader;
                needMore = !Step(ref reader, output);
                if (needMore)
                {
                    reader = checkpoint;
                }
            }
        }
        catch (JsonException e)
        {
            // The reader's line numbers carry over between buffers in its state, so they are the file's.
            var offset = _bufferStart + _consumed + reader.BytesConsumed;
            throw TestmoFormatException.At(offset, (e.LineNumber ?? 0) + 1, Path(), $"not valid JSON ({FirstSentence(e.Message)})", e);
        }
        if (needMore && _final && _part != Part.Done)
        {
            throw TestmoFormatException.At(_bufferStart + _filled, CurrentLine(_filled), Path(), "the file ends before the JSON is complete.");
        }
        _consumed += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
        return needMore;
    }

    /// <summary>One step of the top-level walk; false when the buffer ends first (the caller rewinds).</summary>
    private bool Step(ref Utf8JsonReader reader, List<TestmoRecord> output)
    {
        switch (_part)
        {
            case Part.Start:
                if (!reader.Read())
                {
                    return false;
                }
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw Fault(ref reader, null, "the export must be a JSON object with cases, runs and results arrays.");
                }
                _part = Part.Top;
                return true;

            case Part.Top:
                if (!reader.Read())
                {
                    return false;
                }
                if (reader.TokenType == JsonTokenType.EndObject)
                {
                    _part = Part.End;
                    return true;
                }
                var part = reader.ValueTextEquals("cases"u8) ? Part.Cases
                    : reader.ValueTextEquals("runs"u8) ? Part.Runs
                    : reader.ValueTextEquals("results"u8) ? Part.Results
                    : Part.Top;
                var name = reader.GetString();
                if (!reader.Read())
                {
                    return false;
                }
                if (part == Part.Top)
                {
                    return reader.TrySkip();
                }
                if (reader.TokenType == JsonTokenType.Null)
                {
                    return true;
                }
                if (reader.TokenType != JsonTokenType.StartArray)
                {
                    throw Fault(ref reader, name, "must be an array.");
                }
                (_part, _index) = (part, 0);
                return true;

            case Part.Cases or Part.Runs or Part.Results:
                if (!reader.Read())
                {
                    return false;
                }
                if (reader.TokenType == JsonTokenType.EndArray)
                {
                    _part = Part.Top;
                    return true;
                }
                if (reader.TokenType != JsonTokenType.StartObject)
                {
                    throw Fault(ref reader, Path(), "must be an object.");
                }
                var element = reader;
                if (!reader.TrySkip())
                {
                    return false;
                }
                var start = (int)element.TokenStartIndex + _consumed;
                CountLinesTo(start);
                var offset = _bufferStart + start;
                output.Add(_part switch
                {
                    Part.Cases => ReadCase(ref element, offset),
                    Part.Runs => ReadRun(ref element, offset),
                    _ => ReadResult(ref element, offset),
                });
                _index++;
                return true;

            case Part.End:
                // Only whitespace may follow; the reader itself refuses a second JSON value.
                if (!reader.Read())
                {
                    if (!_final)
                    {
                        return false;
                    }
                    _part = Part.Done;
                    return true;
                }
                throw Fault(ref reader, null, "unexpected data after the end of the export.");

            default:
                return true;
        }
    }

    private TestmoCase ReadCase(ref Utf8JsonReader r, long offset)
    {
        long? id = null;
        string? name = null, description = null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("id"u8))
            {
                r.Read();
                id = Id(ref r, "id");
            }
            else if (r.ValueTextEquals("name"u8))
            {
                r.Read();
                name = RequiredText(ref r, "name");
            }
            else if (r.ValueTextEquals("description"u8))
            {
                r.Read();
                description = OptionalText(ref r, "description");
            }
            else
            {
                r.Read();
                r.TrySkip();
            }
        }
        return new TestmoCase(_index, offset, _lines + 1, id ?? throw Missing(ref r, "id"), name ?? throw Missing(ref r, "name"), description);
    }

    private TestmoRun ReadRun(ref Utf8JsonReader r, long offset)
    {
        long? id = null;
        string? name = null;
        DateTimeOffset? createdAt = null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("id"u8))
            {
                r.Read();
                id = Id(ref r, "id");
            }
            else if (r.ValueTextEquals("name"u8))
            {
                r.Read();
                name = RequiredText(ref r, "name");
            }
            else if (r.ValueTextEquals("created_at"u8))
            {
                r.Read();
                createdAt = Timestamp(ref r, "created_at");
            }
            else
            {
                r.Read();
                r.TrySkip();
            }
        }
        return new TestmoRun(_index, offset, _lines + 1, id ?? throw Missing(ref r, "id"), name ?? throw Missing(ref r, "name"), createdAt);
    }

    private TestmoResult ReadResult(ref Utf8JsonReader r, long offset)
    {
        long? caseId = null, runId = null, elapsedMs = null;
        TestResultStatus? status = null;
        string? comment = null;
        DateTimeOffset? createdAt = null;
        while (r.Read() && r.TokenType == JsonTokenType.PropertyName)
        {
            if (r.ValueTextEquals("case_id"u8))
            {
                r.Read();
                caseId = Id(ref r, "case_id");
            }
            else if (r.ValueTextEquals("run_id"u8))
            {
                r.Read();
                runId = Id(ref r, "run_id");
            }
            else if (r.ValueTextEquals("status"u8))
            {
                r.Read();
                status = Status(ref r);
            }
            else if (r.ValueTextEquals("elapsed"u8))
            {
                r.Read();
                elapsedMs = Elapsed(ref r);
            }
            else if (r.ValueTextEquals("comment"u8))
            {
                r.Read();
                comment = OptionalText(ref r, "comment");
            }
            else if (r.ValueTextEquals("created_at"u8))
            {
                r.Read();
                createdAt = Timestamp(ref r, "created_at");
            }
            else
            {
                r.Read();
                r.TrySkip();
            }
        }
        return new TestmoResult(_index, offset, _lines + 1,
            caseId ?? throw Missing(ref r, "case_id"), runId ?? throw Missing(ref r, "run_id"), status ?? throw Missing(ref r, "status"),
            elapsedMs, comment, createdAt);
    }

    private long Id(ref Utf8JsonReader r, string field) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt64(out var id) ? id : throw Fault(ref r, $"{Path()}.{field}", "must be an integer.");

    private string RequiredText(ref Utf8JsonReader r, string field) =>
        r.TokenType == JsonTokenType.String && r.GetString() is { Length: > 0 } text && !string.IsNullOrWhiteSpace(text)
            ? text
            : throw Fault(ref r, $"{Path()}.{field}", "must be a non-empty string.");

    private string? OptionalText(ref Utf8JsonReader r, string field) => r.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String => r.GetString(),
        _ => throw Fault(ref r, $"{Path()}.{field}", "must be a string or null."),
    };

    private DateTimeOffset? Timestamp(ref Utf8JsonReader r, string field) => r.TokenType switch
    {
        JsonTokenType.Null => null,
        JsonTokenType.String when r.TryGetDateTimeOffset(out var value) => value.ToUniversalTime(),
        _ => throw Fault(ref r, $"{Path()}.{field}", "must be an ISO 8601 date and time or null."),
    };

    private long? Elapsed(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        if (r.TokenType == JsonTokenType.Number && r.TryGetDouble(out var seconds) && seconds >= 0 && seconds < long.MaxValue / 1000d)
        {
            return (long)Math.Round(seconds * 1000);
        }
        throw Fault(ref r, $"{Path()}.elapsed", "must be a number of seconds, zero or more, or null.");
    }

    private TestResultStatus Status(ref Utf8JsonReader r)
    {
        if (r.TokenType == JsonTokenType.String)
        {
            var text = r.GetString();
            foreach (var status in Enum.GetValues<TestResultStatus>())
            {
                if (string.Equals(text, status.ToString(), StringComparison.OrdinalIgnoreCase))
                {
                    return status;
                }
            }
            throw Fault(ref r, $"{Path()}.status", $"unknown status '{text}'; expected passed, failed, blocked, skipped or retest.");
        }
        throw Fault(ref r, $"{Path()}.status", "must be one of passed, failed, blocked, skipped or retest.");
    }

    private TestmoFormatException Missing(ref Utf8JsonReader r, string field) => Fault(ref r, $"{Path()}.{field}", "is required but missing.");

    private TestmoFormatException Fault(ref Utf8JsonReader r, string? path, string problem)
    {
        var at = _consumed + (int)r.TokenStartIndex;
        return TestmoFormatException.At(_bufferStart + at, CurrentLine(at), path, problem);
    }

    private string? Path() => _part switch
    {
        Part.Cases => $"cases[{_index}]",
        Part.Runs => $"runs[{_index}]",
        Part.Results => $"results[{_index}]",
        _ => null,
    };

    private void CountLinesTo(int position)
    {
        if (position > _lineCursor)
        {
            _lines += _buffer.AsSpan(_lineCursor, position - _lineCursor).Count((byte)'\n');
            _lineCursor = position;
        }
    }

    private long CurrentLine(int position) =>
        _lines + 1 + (position > _lineCursor ? _buffer.AsSpan(_lineCursor, position - _lineCursor).Count((byte)'\n') : 0);

    private static string FirstSentence(string message)
    {
        var end = message.IndexOf(" LineNumber", StringComparison.Ordinal);
        return (end > 0 ? message[..end] : message).TrimEnd('.', ' ');
    }

    /// <summary>For tests: the whole text through the reader with the given buffer size.</summary>
    internal static async Task<List<TestmoRecord>> ReadAllAsync(string json, int bufferSize)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        var reader = new TestmoExportReader(stream, bufferSize);
        var all = new List<TestmoRecord>();
        var batch = new List<TestmoRecord>();
        while (await reader.ReadAsync(batch, CancellationToken.None))
        {
            all.AddRange(batch);
            batch.Clear();
        }
        return all;
    }
}
