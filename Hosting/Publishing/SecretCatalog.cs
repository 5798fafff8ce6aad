using System.Text;
using Hosting.Tenants;

namespace Hosting.Publishing;

/// <summary>One key of one Secret: a single value the operator supplies at deploy time (the output never holds it).</summary>
/// <param name="Secret">The Secret's name.</param>
/// <param name="Key">The key, unique across all Secrets, so that one values file can fill them all.</param>
/// <param name="Description">What it is, for the operator.</param>
/// <param name="Parameter">The AppHost parameter whose value it is, if any (<c>--Kubernetes:IncludeSecretValues</c> writes its value).</param>
/// <param name="GenerateLength">When set, <c>secrets.sh init</c> generates this many letters and digits for it.</param>
/// <param name="Optional">May stay empty.</param>
public sealed record SecretKey(string Secret, string Key, string Description, ParameterResource? Parameter, int? GenerateLength, bool Optional)
{
    /// <summary>Set when the value goes into a longer value (a connection string, a URL): it must then be letters, digits, '-', '.', '_', '~'.</summary>
    public bool Plain { get; set; }

    /// <summary>The variable a pod sees it under when a longer value is composed from it (<c>$(SECRET_...)</c>).</summary>
    public string HelperVariable => "SECRET_" + new string([.. Key.Select(c => char.IsAsciiLetterOrDigit(c) ? char.ToUpperInvariant(c) : '_')]);

    public HashSet<string> Consumers { get; } = new(StringComparer.Ordinal);
}

/// <summary>
/// The one place that declares the Secrets of the Kubernetes output and their keys. Every secret value has exactly one
/// home: the tenants' database passwords and signing keys in <c>tenant-secrets-&lt;n&gt;</c> (named like the tenant
/// variables, since the workers read them as files), a secret parameter used by one resource only in
/// <c>&lt;resource&gt;-secrets</c>, every other one in <c>apphost-secrets</c> (keys named like the parameters). The operator
/// fills <c>secrets/secrets.env</c> (one <c>KEY=value</c> line each) and creates the Secrets from it with <c>secrets.sh</c>.
/// To add a Secret (a Valkey ACL file, say), <see cref="Declare"/> its keys here.
/// </summary>
public sealed class SecretCatalog
{
    public const string SharedSecret = "apphost-secrets";

    private readonly Dictionary<ParameterResource, SecretKey> _byParameter = [];
    private readonly Dictionary<ParameterResource, HashSet<string>> _uses = [];
    private readonly Dictionary<string, SecretKey> _byKey = new(StringComparer.Ordinal);

    public IEnumerable<SecretKey> Keys => _byKey.Values.OrderBy(k => k.Secret, StringComparer.Ordinal).ThenBy(k => k.Key, StringComparer.Ordinal);

    public static string TenantSecret(int chunk) => $"tenant-secrets-{chunk}";

    /// <summary>A key that is no AppHost parameter (an OTLP header the operator supplies, say).</summary>
    public SecretKey Declare(string secret, string key, string description, bool optional = false, int? generateLength = null) =>
        Add(new SecretKey(secret, key, description, null, generateLength, optional));

    /// <summary>A key declared with <see cref="Declare"/>.</summary>
    public SecretKey Declared(string key) => _byKey[key];

    /// <summary>The tenant's database password and signing key, files of the workers' tenant settings directory.</summary>
    public void AddTenant(TenantSettingsEntry tenant, int chunk)
    {
        Add(new SecretKey(TenantSecret(chunk), $"TENANT_{tenant.VariableForm}_DATABASE_PASSWORD",
            $"tenant {tenant.Id}: password of its database role {tenant.Database.Role} (AppHost parameter {tenant.Database.PasswordParameter.Name})",
            tenant.Database.PasswordParameter, GenerateLength(tenant.Database.PasswordParameter), false), tenant.Database.PasswordParameter);
        Add(new SecretKey(TenantSecret(chunk), $"TENANT_{tenant.VariableForm}_SIGNING_KEY",
            $"tenant {tenant.Id}: key that signs its jobs (AppHost parameter {tenant.SigningKey.Name})",
            tenant.SigningKey, GenerateLength(tenant.SigningKey), false), tenant.SigningKey);
    }

    /// <summary>Notes that <paramref name="consumer"/> uses <paramref name="parameter"/>; homes are given by <see cref="Place"/>.</summary>
    public void Use(ParameterResource parameter, string consumer)
    {
        if (!_uses.TryGetValue(parameter, out var consumers))
        {
            _uses[parameter] = consumers = new HashSet<string>(StringComparer.Ordinal);
        }
        consumers.Add(consumer);
    }

    /// <summary>Gives every used parameter without a home one: its only consumer's Secret, or the shared one.</summary>
    public void Place()
    {
        foreach (var (parameter, consumers) in _uses.OrderBy(u => u.Key.Name, StringComparer.Ordinal))
        {
            if (_byParameter.TryGetValue(parameter, out var claimed))
            {
                claimed.Consumers.UnionWith(consumers);
                continue;
            }
            var secret = consumers.Count == 1 ? consumers.Single() + "-secrets" : SharedSecret;
            var key = Add(new SecretKey(secret, parameter.Name, $"AppHost parameter {parameter.Name}, used by {string.Join(", ", consumers.Order(StringComparer.Ordinal))}",
                parameter, GenerateLength(parameter), false), parameter);
            key.Consumers.UnionWith(consumers);
        }
    }

    /// <summary>The key of a parameter that some published resource uses; null for one that none does.</summary>
    public SecretKey? TryFor(ParameterResource parameter) => _byParameter.GetValueOrDefault(parameter);

    public SecretKey For(ParameterResource parameter) =>
        _byParameter.TryGetValue(parameter, out var key) ? key : throw new InvalidOperationException($"Parameter {parameter.Name} has no Secret (Place was not called).");

    /// <summary>
    /// <c>secrets.env.example</c>: every key under its Secret (<c>#secret NAME</c> lines), with what it is and how it may be
    /// filled (<c>[generate N]</c>, <c>[optional]</c>, <c>[plain]</c>), no values. <c>secrets.sh</c> reads the layout from it.
    /// </summary>
    public string Example(string @namespace)
    {
        var text = new StringBuilder();
        text.Append("""
            # Every key of every Secret the manifests beside this folder read; none of their values.
            # Keep a filled copy outside version control (a password manager, a vault) and create the Secrets from it:
            #   secrets/secrets.sh init  ~/secure/secrets.env   # copies the keys, generating every [generate N] value
            #   secrets/secrets.sh apply ~/secure/secrets.env   # kubectl apply --server-side of every Secret below
            # One KEY=value line each; the value is everything after the first '=' (no quotes, no escapes).
            # [generate N]: N random letters and digits will do; [optional]: may stay empty;
            # [plain]: goes into a connection string or URL, so only letters, digits and - . _ ~
            """).Append('\n');
        text.Append("#namespace ").Append(@namespace).Append('\n');
        foreach (var group in Keys.GroupBy(k => k.Secret))
        {
            text.Append('\n').Append("#secret ").Append(group.Key).Append('\n');
            foreach (var key in group)
            {
                var marks = (key.GenerateLength is { } n ? $" [generate {n}]" : "") + (key.Optional ? " [optional]" : "") + (key.Plain ? " [plain]" : "");
                text.Append("# ").Append(key.Description).Append(marks).Append('\n').Append(key.Key).Append("=\n");
            }
        }
        return text.ToString();
    }

    /// <summary>The same filled with this machine's parameter values (the explicit opt-in for a throwaway cluster).</summary>
    public async Task<string> ValuesAsync(CancellationToken cancellationToken)
    {
        var text = new StringBuilder("# DEVELOPMENT VALUES of the machine that published: for a throwaway cluster only. Never commit this file.\n");
        foreach (var key in Keys)
        {
            var value = key.Parameter is { } parameter ? await parameter.GetValueAsync(cancellationToken) ?? "" : "";
            if (value.Contains('\n', StringComparison.Ordinal))
            {
                throw new DistributedApplicationException($"The value of {key.Key} spans lines, which a values file cannot hold.");
            }
            text.Append(key.Key).Append('=').Append(value).Append('\n');
        }
        return text.ToString();
    }

    private SecretKey Add(SecretKey key, ParameterResource? parameter = null)
    {
        if (_byKey.TryGetValue(key.Key, out var existing))
        {
            throw new InvalidOperationException($"Secret key {key.Key} is declared twice ({existing.Secret} and {key.Secret}).");
        }
        _byKey[key.Key] = key;
        if (parameter is not null)
        {
            _byParameter[parameter] = key;
        }
        return key;
    }

    private static int? GenerateLength(ParameterResource parameter) =>
        parameter.Default is GenerateParameterDefault generate ? Math.Max(generate.MinLength, 16) : null;
}
