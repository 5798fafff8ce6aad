using System.Runtime.CompilerServices;
using System.Text;

namespace Hosting;

/// <summary>Where a value is being rendered: the local run, an Aspire manifest, or Kubernetes manifests.</summary>
public enum ValueTarget
{
    /// <summary>The values a locally started process receives (allocated ports, resolved secrets).</summary>
    Run,

    /// <summary>Aspire manifest expressions such as <c>{valkey.connectionString}</c>, resolved later by azd.</summary>
    Manifest,

    /// <summary>Values seen inside a Kubernetes cluster: service DNS names and service ports.</summary>
    Kubernetes,
}

/// <summary>A value that can be rendered for each <see cref="ValueTarget"/>: a parameter, an endpoint part, an expression.</summary>
public interface IValueExpression
{
    /// <summary>Renders the value. In <see cref="ValueTarget.Run"/> it throws until the application has allocated its ports.</summary>
    string Render(ValueTarget target);

    /// <summary>True when the value carries a secret (a secret parameter anywhere inside it).</summary>
    bool IsSecret { get; }
}

/// <summary>
/// A string made of literal text and values (parameters, endpoints, other expressions), like Aspire's
/// <c>ReferenceExpression</c>. Create one with <see cref="Create"/> and an interpolated string, or with a
/// <see cref="ReferenceExpressionBuilder"/>. Literal braces are escaped when rendered for the manifest.
/// </summary>
public sealed class ReferenceExpression : IValueExpression
{
    private readonly IReadOnlyList<object> _parts; // string (literal) or IValueExpression

    internal ReferenceExpression(IReadOnlyList<object> parts) => _parts = parts;

    public static ReferenceExpression Create(in ExpressionInterpolatedStringHandler handler) => handler.Build();

    /// <summary>An expression of literal text only.</summary>
    public static ReferenceExpression Literal(string text) => new([text]);

    public bool IsSecret => _parts.OfType<IValueExpression>().Any(v => v.IsSecret);

    /// <summary>The values this expression is made of (for dependency tracking).</summary>
    public IEnumerable<IValueExpression> Values => _parts.OfType<IValueExpression>();

    public string Render(ValueTarget target)
    {
        var text = new StringBuilder();
        foreach (var part in _parts)
        {
            text.Append(part switch
            {
                string literal when target == ValueTarget.Manifest => literal.Replace("{", "{{", StringComparison.Ordinal).Replace("}", "}}", StringComparison.Ordinal),
                string literal => literal,
                IValueExpression value => value.Render(target),
                _ => throw new InvalidOperationException("Unexpected expression part."),
            });
        }
        return text.ToString();
    }

    public override string ToString() => Render(ValueTarget.Manifest);
}

/// <summary>Builds a <see cref="ReferenceExpression"/> piece by piece (for text generated in loops, such as JSON).</summary>
public sealed class ReferenceExpressionBuilder
{
    private readonly List<object> _parts = [];

    public ReferenceExpressionBuilder AppendLiteral(string text)
    {
        _parts.Add(text);
        return this;
    }

    public ReferenceExpressionBuilder AppendValue(IValueExpression value)
    {
        _parts.Add(value);
        return this;
    }

    /// <summary>Appends a value as a JSON string literal; its rendered text must not need JSON escaping.</summary>
    public ReferenceExpressionBuilder AppendJsonString(IValueExpression value) => AppendLiteral("\"").AppendValue(value).AppendLiteral("\"");

    public ReferenceExpression Build() => new(_parts.ToList());
}

[InterpolatedStringHandler]
public ref struct ExpressionInterpolatedStringHandler
{
    private readonly ReferenceExpressionBuilder _builder;

    public ExpressionInterpolatedStringHandler(int literalLength, int formattedCount)
    {
        _ = literalLength;
        _ = formattedCount;
        _builder = new ReferenceExpressionBuilder();
    }

    public readonly void AppendLiteral(string value) => _builder.AppendLiteral(value);

    public readonly void AppendFormatted(string? value) => _builder.AppendLiteral(value ?? string.Empty);

    public readonly void AppendFormatted(IValueExpression value) => _builder.AppendValue(value);

    public readonly void AppendFormatted<T>(IResourceBuilder<T> value) where T : IResource, IValueExpression =>
        _builder.AppendValue(value.Resource);

    internal readonly ReferenceExpression Build() => _builder.Build();
}
