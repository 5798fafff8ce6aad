using System.Collections.Concurrent;
using Elastic.Clients.Elasticsearch;
using Elastic.Transport;

namespace Domain.Search;

/// <summary>
/// Clients of the official Elasticsearch .NET client (<c>Elastic.Clients.Elasticsearch</c> 9.x, which speaks to
/// Elasticsearch 9.x servers), one per node URL. A client is thread-safe and keeps its HTTP connections, so it is
/// reused rather than built per request; it carries no tenant state beyond the node it points at. User info in the
/// node URL (<c>https://user:pass@host:9200</c>) becomes basic auth and is never sent as part of the URL. Bounded:
/// past <see cref="MaxClients"/> nodes the cache starts again.
/// </summary>
public sealed class ElasticsearchConnections
{
    public const int MaxClients = 64;

    private readonly ConcurrentDictionary<Uri, ElasticsearchClient> _clients = new();
    private readonly TimeSpan _requestTimeout;

    public ElasticsearchConnections() : this(TimeSpan.FromMinutes(1))
    {
    }

    public ElasticsearchConnections(TimeSpan requestTimeout) => _requestTimeout = requestTimeout;

    /// <summary>The client of <paramref name="node"/> (created on first use).</summary>
    public ElasticsearchClient For(Uri node)
    {
        ArgumentNullException.ThrowIfNull(node);
        if (_clients.TryGetValue(node, out var client))
        {
            return client;
        }
        if (_clients.Count >= MaxClients)
        {
            // Nodes come from tenant settings, so this many distinct ones means settings churn; old clients are
            // left to finish their requests and be collected.
            _clients.Clear();
        }
        return _clients.GetOrAdd(node, Create);
    }

    private ElasticsearchClient Create(Uri node)
    {
        var address = new UriBuilder(node) { UserName = string.Empty, Password = string.Empty }.Uri;
        var settings = new ElasticsearchClientSettings(address)
            .RequestTimeout(_requestTimeout)
            // The workers decide what to retry (a job's attempts, 429 items); the transport must not retry behind them.
            .MaximumRetries(0);
        if (!string.IsNullOrEmpty(node.UserInfo))
        {
            var userInfo = node.UserInfo;
            var colon = userInfo.IndexOf(':', StringComparison.Ordinal);
            var user = Uri.UnescapeDataString(colon < 0 ? userInfo : userInfo[..colon]);
            var password = colon < 0 ? string.Empty : Uri.UnescapeDataString(userInfo[(colon + 1)..]);
            settings = settings.Authentication(new BasicAuthentication(user, password));
        }
        return new ElasticsearchClient(settings);
    }
}
