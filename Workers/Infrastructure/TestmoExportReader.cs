using System.Text;
using System.Text.Unicode;
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

/// <summary>Which array of the export an element comes from.</summary>
public enum TestmoArray
{
    Cases,
    Runs,
    Results,
}

/// <summary>One element of <c>cases</c> as read. Texts are UTF-8 (unescaped, valid) and live only during the call.</summary>
public readonly ref struct TestmoCaseElement
{
    public long Index { get; init; }
    public long Offset { get; init; }
    public long Line { get; init; }
    public long Id { get; init; }
    public ReadOnlySpan<byte> Name { get; init; }
    /// <summary>False when the description is absent or null.</summary>
    public bool HasDescription { get; init; }
    public ReadOnlySpan<byte> Description { get; init; }
}

/// <summary>One element of <c>runs</c> as read. Texts are UTF-8 (unescaped, valid) and live only during the call.</summary>
public readonly ref struct TestmoRunElement
{
    public long Index { get; init; }
    public long Offset { get; init; }
    public long Line { get; init; }
    public long Id { get; init; }
    public ReadOnlySpan<byte> Name { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>One element of <c>results</c> as read. Texts are UTF-8 (unescaped, valid) and live only during the call.</summary>
public readonly ref struct TestmoResultElement
{
    public long Index { get; init; }
    public long Offset { get; init; }
    public long Line { get; init; }
    public long CaseId { get; init; }
    public long RunId { get; init; }
    public TestResultStatus Status { get; init; }
    public long? ElapsedMs { get; init; }
    /// <summary>False when the comment is absent or null.</summary>
    public bool HasComment { get; init; }
    public ReadOnlySpan<byte> Comment { get; init; }
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>
/// Where <see cref="TestmoExportReader"/> hands the elements, straight from its buffer. Once
/// <see cref="NeedsFlush"/> says true, the reader calls nothing more and returns from
/// <see cref="TestmoExportReader.ReadAsync"/>, so the sink can do its asynchronous work (write, switch tables).
/// </summary>
public interface ITestmoExportSink
{
    bool NeedsFlush { get; }

    /// <summary>An array of elements begins (an array may come more than once; a null one does not begin).</summary>
    void StartArray(TestmoArray array);

    void Case(in TestmoCaseElement element);

    void Run(in TestmoRunElement element);

    void Result(in TestmoResultElement element);
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
/// <c>comment</c> are optional and may be null. Texts must be valid UTF-8 without NUL characters (PostgreSQL text
/// cannot hold them). The three arrays may come in any order and each is optional; any other property, at the top
/// or inside an element, is skipped. One element must fit in <see cref="MaxElementBytes"/>: the buffer grows to
/// hold a larger one, never beyond.
/// </summary>
/// <remarks>
/// One pass per element, without building objects or strings: its fields are read into spans of the buffer (an
/// escaped text is unescaped into a scratch buffer), checked, and handed to the sink once the element's closing
/// brace has been read. When the buffer ends inside an element, the reader rewinds to the element's start, keeps
/// the unread tail, refills and reads it again with the saved <see cref="JsonReaderState"/>; the sink never sees
/// half an element, and the first fault in the file is the one reported, whatever the buffer size.
/// </remarks>
public sealed class TestmoExportReader(Stream stream, int bufferSize = TestmoExportReader.DefaultBufferSize)
{
    public const int DefaultBufferSize = 64 * 1024;
    public const int MaxElementBytes = 16 * 1024 * 1024;

    private static readonly (byte[] Name, TestResultStatus Status)[] Statuses =
        [.. Enum.GetValues<TestResultStatus>().Select(s => (Encoding.UTF8.GetBytes(s.ToString().ToLowerInvariant()), s))];

    private byte[] _buffer = new byte[Math.Max(16, bufferSize)];
    private byte[] _scratch = new byte[256];
    private int _scratchUsed;
    private int _filled;
    private int _consumed;
    private long _bufferStart;
    private bool _final;
    private JsonReaderState _state;
    private Part _part;
    private long _index;
    private long _elements;

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

    private enum Outcome
    {
        NeedMore,
        Flush,
        Done,
    }

    /// <summary>Bytes taken from the stream so far.</summary>
    public long BytesRead => _bufferStart + _filled;

    /// <summary>
    /// Hands the next elements to <paramref name="sink"/>: returns true when the sink needs a flush or a buffer's worth
    /// has been read, false once the export has been read to its end and found complete. Throws
    /// <see cref="TestmoFormatException"/> at the first fault.
    /// </summary>
    public async Task<bool> ReadAsync(ITestmoExportSink sink, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(sink);
        while (true)
        {
            if (_part == Part.Done)
            {
                return false;
            }
            var before = _elements;
            switch (Parse(sink))
            {
                case Outcome.Flush:
                    return true;
                case Outcome.Done:
                    return false;
                default:
                    await FillAsync(cancellationToken);
                    if (_elements > before)
                    {
                        return true;
                    }
                    break;
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

    /// <summary>Reads what the buffer holds, until it needs more bytes, the sink a flush, or the export is done.</summary>
    private Outcome Parse(ITestmoExportSink sink)
    {
        // The block is only declared final once the top-level object has closed: a file cut short then reads as
        // "needs more data" (reported as such below) rather than as a syntax error somewhere near its end.
        var reader = new Utf8JsonReader(_buffer.AsSpan(_consumed, _filled - _consumed), _final && _part >= Part.End, _state);
        Outcome outcome;
        try
        {
            while (true)
            {
                if (_part == Part.Done)
                {
                    outcome = Outcome.Done;
                    break;
                }
                var checkpoint = reader;
                if (!Step(ref reader, sink))
                {
                    reader = checkpoint;
                    outcome = Outcome.NeedMore;
                    break;
                }
                if (sink.NeedsFlush)
                {
                    outcome = Outcome.Flush;
                    break;
                }
            }
        }
        catch (JsonException e)
        {
            // The reader's line numbers carry over between buffers in its state, so they are the file's.
            var offset = _bufferStart + _consumed + reader.BytesConsumed;
            throw TestmoFormatException.At(offset, (e.LineNumber ?? 0) + 1, Path(), $"not valid JSON ({FirstSentence(e.Message)})", e);
        }
        if (outcome == Outcome.NeedMore && _final)
        {
            throw TestmoFormatException.At(_bufferStart + _filled, CurrentLine(_filled), Path(), "the file ends before the JSON is complete.");
        }
        _consumed += (int)reader.BytesConsumed;
        _state = reader.CurrentState;
        return outcome;
    }

    /// <summary>One step of the top-level walk; false when the buffer ends first (the caller rewinds).</summary>
    private bool Step(ref Utf8JsonReader reader, ITestmoExportSink sink)
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
                sink.StartArray(part switch
                {
                    Part.Cases => TestmoArray.Cases,
                    Part.Runs => TestmoArray.Runs,
                    _ => TestmoArray.Results,
                });
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
                var start = _consumed + (int)reader.TokenStartIndex;
                _scratchUsed = 0;
                var complete = _part switch
                {
                    Part.Cases => ReadCase(ref reader, start, sink),
                    Part.Runs => ReadRun(ref reader, start, sink),
                    _ => ReadResult(ref reader, start, sink),
                };
                if (complete)
                {
                    _index++;
                    _elements++;
                }
                return complete;

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

    // Each element reader: false when the buffer ends before the element's closing brace (nothing handed out then).
    private bool ReadCase(ref Utf8JsonReader r, int start, ITestmoExportSink sink)
    {
        long? id = null;
        bool hasName = false, hasDescription = false;
        ReadOnlySpan<byte> name = default, description = default;
        while (true)
        {
            if (!r.Read())
            {
                return false;
            }
            if (r.TokenType != JsonTokenType.PropertyName)
            {
                break;
            }
            if (r.ValueTextEquals("id"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                id = Id(ref r, "id");
            }
            else if (r.ValueTextEquals("name"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                name = RequiredText(ref r, "name");
                hasName = true;
            }
            else if (r.ValueTextEquals("description"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                hasDescription = OptionalText(ref r, "description", out description);
            }
            else if (!SkipValue(ref r))
            {
                return false;
            }
        }
        CountLinesTo(start);
        sink.Case(new TestmoCaseElement
        {
            Index = _index,
            Offset = _bufferStart + start,
            Line = _lines + 1,
            Id = id ?? throw Missing(ref r, "id"),
            Name = hasName ? name : throw Missing(ref r, "name"),
            HasDescription = hasDescription,
            Description = description,
        });
        return true;
    }

    private bool ReadRun(ref Utf8JsonReader r, int start, ITestmoExportSink sink)
    {
        long? id = null;
        var hasName = false;
        ReadOnlySpan<byte> name = default;
        DateTimeOffset? createdAt = null;
        while (true)
        {
            if (!r.Read())
            {
                return false;
            }
            if (r.TokenType != JsonTokenType.PropertyName)
            {
                break;
            }
            if (r.ValueTextEquals("id"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                id = Id(ref r, "id");
            }
            else if (r.ValueTextEquals("name"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                name = RequiredText(ref r, "name");
                hasName = true;
            }
            else if (r.ValueTextEquals("created_at"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                createdAt = Timestamp(ref r, "created_at");
            }
            else if (!SkipValue(ref r))
            {
                return false;
            }
        }
        CountLinesTo(start);
        sink.Run(new TestmoRunElement
        {
            Index = _index,
            Offset = _bufferStart + start,
            Line = _lines + 1,
            Id = id ?? throw Missing(ref r, "id"),
            Name = hasName ? name : throw Missing(ref r, "name"),
            CreatedAt = createdAt,
        });
        return true;
    }

    private bool ReadResult(ref Utf8JsonReader r, int start, ITestmoExportSink sink)
    {
        long? caseId = null, runId = null, elapsedMs = null;
        TestResultStatus? status = null;
        var hasComment = false;
        ReadOnlySpan<byte> comment = default;
        DateTimeOffset? createdAt = null;
        while (true)
        {
            if (!r.Read())
            {
                return false;
            }
            if (r.TokenType != JsonTokenType.PropertyName)
            {
                break;
            }
            if (r.ValueTextEquals("case_id"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                caseId = Id(ref r, "case_id");
            }
            else if (r.ValueTextEquals("run_id"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                runId = Id(ref r, "run_id");
            }
            else if (r.ValueTextEquals("status"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                status = Status(ref r);
            }
            else if (r.ValueTextEquals("elapsed"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                elapsedMs = Elapsed(ref r);
            }
            else if (r.ValueTextEquals("comment"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                hasComment = OptionalText(ref r, "comment", out comment);
            }
            else if (r.ValueTextEquals("created_at"u8))
            {
                if (!r.Read())
                {
                    return false;
                }
                createdAt = Timestamp(ref r, "created_at");
            }
            else if (!SkipValue(ref r))
            {
                return false;
            }
        }
        CountLinesTo(start);
        sink.Result(new TestmoResultElement
        {
            Index = _index,
            Offset = _bufferStart + start,
            Line = _lines + 1,
            CaseId = caseId ?? throw Missing(ref r, "case_id"),
            RunId = runId ?? throw Missing(ref r, "run_id"),
            Status = status ?? throw Missing(ref r, "status"),
            ElapsedMs = elapsedMs,
            HasComment = hasComment,
            Comment = comment,
            CreatedAt = createdAt,
        });
        return true;
    }

    /// <summary>Skips a property's value (whatever it nests); false when the buffer ends first.</summary>
    private static bool SkipValue(ref Utf8JsonReader r) => r.Read() && r.TrySkip();

    private long Id(ref Utf8JsonReader r, string field) =>
        r.TokenType == JsonTokenType.Number && r.TryGetInt64(out var id) ? id : throw Fault(ref r, $"{Path()}.{field}", "must be an integer.");

    private ReadOnlySpan<byte> RequiredText(scoped ref Utf8JsonReader r, string field)
    {
        if (r.TokenType == JsonTokenType.String)
        {
            var text = Text(ref r, field);
            if (HasNonWhitespace(text))
            {
                return text;
            }
        }
        throw Fault(ref r, $"{Path()}.{field}", "must be a non-empty string.");
    }

    /// <summary>False for null; the text otherwise.</summary>
    private bool OptionalText(scoped ref Utf8JsonReader r, string field, out ReadOnlySpan<byte> text)
    {
        switch (r.TokenType)
        {
            case JsonTokenType.Null:
                text = default;
                return false;
            case JsonTokenType.String:
                text = Text(ref r, field);
                return true;
            default:
                throw Fault(ref r, $"{Path()}.{field}", "must be a string or null.");
        }
    }

    /// <summary>The current string token as UTF-8: the buffer's own bytes, or unescaped into the scratch buffer.</summary>
    private ReadOnlySpan<byte> Text(scoped ref Utf8JsonReader r, string field)
    {
        ReadOnlySpan<byte> text;
        if (r.ValueIsEscaped)
        {
            var room = r.ValueSpan.Length;
            if (_scratch.Length - _scratchUsed < room)
            {
                // Texts already handed out keep pointing into the old array, which stays alive while they do.
                _scratch = new byte[Math.Max(_scratch.Length * 2, _scratchUsed + room)];
                _scratchUsed = 0;
            }
            var written = r.CopyString(_scratch.AsSpan(_scratchUsed));
            text = _scratch.AsSpan(_scratchUsed, written);
            _scratchUsed += written;
            if (text.Contains((byte)0))
            {
                throw Fault(ref r, $"{Path()}.{field}", "contains a NUL character (\\u0000), which PostgreSQL text cannot hold.");
            }
        }
        else
        {
            text = r.ValueSpan;
        }
        return Utf8.IsValid(text) ? text : throw Fault(ref r, $"{Path()}.{field}", "is not valid UTF-8.");
    }

    /// <summary>As <c>!string.IsNullOrWhiteSpace</c>, decoding only texts without a visible ASCII character.</summary>
    private static bool HasNonWhitespace(ReadOnlySpan<byte> utf8)
    {
        foreach (var b in utf8)
        {
            if (b < 0x80 && !char.IsWhiteSpace((char)b))
            {
                return true;
            }
        }
        return !Ascii.IsValid(utf8) && !string.IsNullOrWhiteSpace(Encoding.UTF8.GetString(utf8));
    }

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
        if (r.TokenType != JsonTokenType.String)
        {
            throw Fault(ref r, $"{Path()}.status", "must be one of passed, failed, blocked, skipped or retest.");
        }
        var utf8 = Text(ref r, "status");
        foreach (var (name, status) in Statuses)
        {
            if (Ascii.EqualsIgnoreCase(utf8, name))
            {
                return status;
            }
        }
        // Beyond ASCII, case-insensitive means what string comparison says it means.
        var text = Encoding.UTF8.GetString(utf8);
        foreach (var (_, status) in Statuses)
        {
            if (string.Equals(text, status.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                return status;
            }
        }
        throw Fault(ref r, $"{Path()}.status", $"unknown status '{text}'; expected passed, failed, blocked, skipped or retest.");
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

    /// <summary>For tests: the whole text through the reader with the given buffer size, as records.</summary>
    internal static Task<List<TestmoRecord>> ReadAllAsync(string json, int bufferSize) => ReadAllAsync(Encoding.UTF8.GetBytes(json), bufferSize);

    /// <summary>For tests: the whole file through the reader with the given buffer size, as records.</summary>
    internal static async Task<List<TestmoRecord>> ReadAllAsync(byte[] utf8, int bufferSize)
    {
        using var stream = new MemoryStream(utf8);
        var reader = new TestmoExportReader(stream, bufferSize);
        var records = new RecordSink();
        while (await reader.ReadAsync(records, CancellationToken.None))
        {
        }
        return records.All;
    }

    private sealed class RecordSink : ITestmoExportSink
    {
        public List<TestmoRecord> All { get; } = [];

        public bool NeedsFlush => false;

        public void StartArray(TestmoArray array)
        {
        }

        public void Case(in TestmoCaseElement element) => All.Add(new TestmoCase(element.Index, element.Offset, element.Line, element.Id,
            Encoding.UTF8.GetString(element.Name), element.HasDescription ? Encoding.UTF8.GetString(element.Description) : null));

        public void Run(in TestmoRunElement element) => All.Add(new TestmoRun(element.Index, element.Offset, element.Line, element.Id,
            Encoding.UTF8.GetString(element.Name), element.CreatedAt));

        public void Result(in TestmoResultElement element) => All.Add(new TestmoResult(element.Index, element.Offset, element.Line,
            element.CaseId, element.RunId, element.Status, element.ElapsedMs, element.HasComment ? Encoding.UTF8.GetString(element.Comment) : null, element.CreatedAt));
    }
}
