using AppHost;
using Hosting;

var builder = DistributedApplication.CreateBuilder(args);

var tenants = Tenants.Load(builder);

// First, as Aspire's dashboard: every project exports its telemetry here and waits for it to be up.
builder.AddDashboard<Projects.Dashboard>("dashboard");

var valkey = builder.AddValkey("valkey");
var postgres = builder.AddPostgres("postgres");
var smtp = builder.AddSmtpServer("smtp");

var adminEmail = builder.AddParameter("admin-email", "admin@example.test");
var elasticsearchNode = builder.AddParameter("elasticsearch-node", "http://127.0.0.1:9200");

var tenantResources = new List<TenantResources>();
foreach (var tenant in tenants)
{
    var database = postgres.AddTenantDatabase(tenant);
    var signingKey = builder.AddSigningKey(tenant);
    var adminPassword = builder.AddAdminPassword(tenant);

    var web = builder.AddProject<Projects.Web>($"web-{tenant.Id}")
        .WithExternalHttpEndpoints()
        .WithReplicas(tenant.WebReplicas)
        .WithReference(database, "db").WaitFor(database)
        .WithReference(valkey).WaitFor(valkey)
        .WithEnvironment("INSTANCE_TENANT_ID", tenant.Id)
        .WithEnvironment($"TENANT_{tenant.VariableForm}_SIGNING_KEY", signingKey)
        .WithEnvironment("ADMIN_EMAIL", adminEmail)
        .WithEnvironment("ADMIN_PASSWORD", adminPassword);

    tenantResources.Add(new(tenant, database, web, signingKey, adminPassword));
}

var tenantConfigs = TenantTopology.TenantConfigs(tenantResources, elasticsearchNode);

builder.AddProject<Projects.Workers>("workers")
    .WithReference(valkey).WaitFor(valkey)
    .WithReference(smtp).WaitFor(smtp)
    .WaitFor(postgres)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .WithEnvironment("TENANT_CONFIGS", tenantConfigs)
    .WithEnvironment("SMTP_HOST", smtp.Resource.SmtpEndpoint.Property(EndpointProperty.Host))
    .WithEnvironment("SMTP_PORT", smtp.Resource.SmtpEndpoint.Property(EndpointProperty.Port));

builder.AddProject<Projects.Scheduler>("scheduler")
    .WithReference(valkey).WaitFor(valkey)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .WithEnvironment("TENANT_CONFIGS", tenantConfigs)
    .PublishAsKubernetesJob();

await builder.Build().RunAsync();
