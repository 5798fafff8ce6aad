using Domain.Jobs;
using Domain.Search;
using Npgsql;
using Queue;
using Tenancy;
using Workers.Handlers;
using Workers.Infrastructure;

namespace Workers.Extensions;

internal static class Extensions
{
    /// <summary>The six workers, their concurrency variables and defaults (ARCHITECTURE.md).</summary>
    public static readonly IReadOnlyList<(string Queue, string Variable, int Default)> Concurrency =
    [
        (QueueNames.Notifications, "NOTIFICATION_CONCURRENCY", 5),
        (QueueNames.Emails, "EMAIL_CONCURRENCY", 3),
        (QueueNames.ForecastUpdates, "FORECAST_CONCURRENCY", 5),
        (QueueNames.IssueSync, "SYNC_CONCURRENCY", 2),
        (QueueNames.ElasticsearchReindex, "ELASTICSEARCH_REINDEX_CONCURRENCY", 2),
        (QueueNames.TestmoImports, "TESTMO_IMPORT_CONCURRENCY", 1),
    ];

    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var configuration = builder.Configuration;

        builder.AddTenancy();
        builder.AddValkeyClient();

        // Multi-tenant mode: one pool per tenant database. Single-tenant mode: the one database of the deployment.
        services.AddSingleton(sp => new SingleTenantDataSource(sp.GetRequiredService<ITenantSettingsStore>().IsMultiTenant
            ? null
            : new NpgsqlDataSourceBuilder(SingleTenantDatabase.GetConnectionString(configuration)).Build()));
        services.AddOptions<TenantDatabaseOptions>()
            .Configure(o =>
            {
                o.TotalConnections = configuration.GetValue("DATABASE_CONNECTION_BUDGET", o.TotalConnections);
                o.ConnectionsPerTenant = configuration.GetValue("DATABASE_CONNECTIONS_PER_TENANT", o.ConnectionsPerTenant);
                o.MaxOpenPools = configuration.GetValue("DATABASE_MAX_OPEN_POOLS", o.MaxOpenPools);
            })
            .ValidateDataAnnotations().ValidateOnStart();
        services.AddSingleton<TenantDatabases>();
        services.AddScoped<JobDatabase>();
        services.AddScoped<TenantLinks>();

        services.AddOptions<SmtpOptions>()
            .Configure(o =>
            {
                o.Host = configuration["SMTP_HOST"];
                o.Port = configuration.GetValue("SMTP_PORT", o.Port);
                o.Security = configuration.GetValue("SMTP_SECURITY", o.Security);
                o.Username = configuration["SMTP_USERNAME"];
                o.Password = configuration["SMTP_PASSWORD"];
                o.From = configuration["SMTP_FROM"] ?? o.From;
                o.FromName = configuration["SMTP_FROM_NAME"] ?? o.FromName;
            })
            .ValidateDataAnnotations();
        services.AddHttpClient<JiraClient>(JiraClient.HttpClientName, http => http.Timeout = TimeSpan.FromSeconds(30));
        // One client per Elasticsearch node (official client, thread-safe); the job's tenant picks its node.
        services.AddSingleton(new ElasticsearchConnections(TimeSpan.FromMinutes(2)));
        services.AddScoped<TenantSearch>();

        // The workers enqueue follow-up jobs (emails from notifications) as well as running jobs.
        services.AddJobQueueClient();
        var server = services.AddJobQueueServer();
        services.AddSingleton<IDependencyFailureClassifier, TenantDependencyFailures>();
        services.AddHealthChecks().AddJobQueueCheck();
        foreach (var (queue, variable, fallback) in Concurrency)
        {
            var concurrency = configuration.GetValue(variable, fallback);
            var perTenant = configuration.GetValue(variable.Replace("_CONCURRENCY", "_PER_TENANT_CONCURRENCY", StringComparison.Ordinal), DefaultPerTenantCap(concurrency));
            var handlers = server.AddQueue(queue, concurrency, o => o.PerTenantConcurrency = perTenant);
            AddHandlers(queue, handlers);
        }
    }

    /// <summary>
    /// <c>GET /metrics/backlog</c>: <c>{"waiting":{"notifications":12,"emails":0,...}}</c>, the jobs waiting per queue over
    /// every tenant, which KEDA's metrics-api scaler reads (one trigger per queue, <c>valueLocation: waiting.&lt;queue&gt;</c>).
    /// Any replica answers from one read of Valkey. 503 while a queue has no figure yet (within a heartbeat of the
    /// first worker's start) or Valkey does not answer, so the autoscaler keeps the replicas it has rather than scaling on a guess.
    /// </summary>
    public static WebApplication MapBacklog(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGet("/metrics/backlog", async (IJobQueueBacklog backlog, CancellationToken cancellationToken) =>
        {
            var queues = Concurrency.Select(c => c.Queue).ToList();
            IReadOnlyDictionary<string, long> waiting;
            try
            {
                waiting = await backlog.GetWaitingAsync(queues, cancellationToken);
            }
            catch (StackExchange.Redis.RedisException e)
            {
                return Results.Json(new { error = $"Valkey does not answer: {e.Message}" }, statusCode: StatusCodes.Status503ServiceUnavailable);
            }
            var missing = queues.Where(q => !waiting.ContainsKey(q)).ToList();
            return missing.Count == 0
                ? Results.Json(new { waiting })
                : Results.Json(new { waiting, missing, error = "no backlog figure yet for " + string.Join(", ", missing) }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }).AllowAnonymous();
        return app;
    }

    /// <summary>
    /// One tenant may hold at most half of a queue's slots (rounded up) unless configured otherwise, so a tenant whose
    /// database hangs or whose jobs are slow can never occupy every worker of the queue.
    /// </summary>
    private static int DefaultPerTenantCap(int concurrency) => concurrency <= 1 ? 0 : (concurrency + 1) / 2;

    private static void AddHandlers(string queue, JobQueueBuilder handlers)
    {
        switch (queue)
        {
            case QueueNames.Notifications:
                handlers.AddHandler<CreateNotificationHandler>(JobNames.CreateNotification)
                    .AddHandler<SendDailyDigestHandler>(JobNames.SendDailyDigest);
                break;
            case QueueNames.Emails:
                handlers.AddHandler<SendEmailHandler>(JobNames.SendEmail);
                break;
            case QueueNames.ForecastUpdates:
                handlers.AddHandler<UpdateCaseForecastHandler>(JobNames.UpdateCaseForecast)
                    .AddHandler<UpdateAllCasesForecastHandler>(JobNames.UpdateAllCasesForecast);
                break;
            case QueueNames.IssueSync:
                handlers.AddHandler<SyncIssueHandler>(JobNames.SyncIssue)
                    .AddHandler<SyncProjectIssuesHandler>(JobNames.SyncProjectIssues);
                break;
            case QueueNames.ElasticsearchReindex:
                handlers.AddHandler<ReindexHandler>(JobNames.Reindex);
                break;
            case QueueNames.TestmoImports:
                handlers.AddHandler<TestmoImportHandler>(JobNames.Import);
                break;
            default:
                throw new InvalidOperationException($"No handlers for queue '{queue}'.");
        }
    }
}
