using Domain.Search;
using Elastic.Clients.Elasticsearch;
using Elastic.Transport.Products.Elasticsearch;
using Queue;
using Tenancy;

namespace Workers.Infrastructure;

/// <summary>The current job's tenant search: its Elasticsearch, or none (PostgreSQL full-text search serves it).</summary>
public sealed class TenantSearch(ITenantSettingsStore settings, ICurrentTenant currentTenant, ElasticsearchConnections connections)
{
    /// <summary>
    /// The client and target of the tenant's Elasticsearch, or null for a tenant without <c>elasticsearchNode</c>.
    /// A node that is not an http(s) URL, or has no <c>elasticsearchIndex</c> beside it, fails the job permanently.
    /// </summary>
    public (ElasticsearchClient Client, ElasticsearchTarget Target)? Connect()
    {
        var tenant = currentTenant.Id;
        var tenantSettings = settings.Find(tenant);
        ElasticsearchTarget? target;
        try
        {
            target = ElasticsearchTarget.From(tenantSettings?.ElasticsearchNode, tenantSettings?.ElasticsearchIndex);
        }
        catch (FormatException e)
        {
            throw new PermanentJobFailureException($"The search settings of tenant {tenant?.Value ?? "(single tenant)"} are unusable: {e.Message}", e);
        }
        return target is null ? null : (connections.For(target.Node), target);
    }
}

/// <summary>A request Elasticsearch answered with an error, or did not answer.</summary>
public sealed class ElasticsearchRequestException : Exception
{
    public ElasticsearchRequestException()
    {
    }

    public ElasticsearchRequestException(string message) : base(message)
    {
    }

    public ElasticsearchRequestException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>
    /// Returns when <paramref name="response"/> is valid. Otherwise throws: <see cref="JobRetryAfterException"/> when
    /// no answer came (the node is down: the job waits without using an attempt, as for any tenant dependency), or
    /// <see cref="ElasticsearchRequestException"/> with the server's status and error.
    /// </summary>
    public static void ThrowUnlessValid(ElasticsearchResponse response, string what, ElasticsearchTarget target)
    {
        ArgumentNullException.ThrowIfNull(response);
        ArgumentNullException.ThrowIfNull(target);
        if (response.IsValidResponse)
        {
            return;
        }
        var details = response.ApiCallDetails;
        response.TryGetOriginalException(out var cause);
        if (details?.HttpStatusCode is not { } status)
        {
            throw new JobRetryAfterException(UnreachableDelay,
                $"Elasticsearch at {Redacted(target.Node)} did not answer ({what}): {cause?.Message ?? "no response"}", cause);
        }
        var error = response.ElasticsearchServerError?.Error;
        var reason = error is not null ? $" {error.Type}: {error.Reason}" : cause is not null ? $" ({cause.Message})" : "";
        throw new ElasticsearchRequestException($"Elasticsearch refused to {what}: {status}{reason}", cause);
    }

    /// <summary>How long a job waits when the tenant's node does not answer.</summary>
    public static readonly TimeSpan UnreachableDelay = TimeSpan.FromSeconds(30);

    /// <summary>The node URL without its credentials, for messages.</summary>
    public static string Redacted(Uri node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new UriBuilder(node) { UserName = string.Empty, Password = string.Empty }.Uri.GetLeftPart(UriPartial.Authority);
    }
}
