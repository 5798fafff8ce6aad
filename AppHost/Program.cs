using AppHost;
using Hosting.Infrastructure;
using Hosting.Publishing;
using Hosting.Tenants;
using Hosting.Topology;

var builder = DistributedApplication.CreateBuilder(args);

IReadOnlyList<Tenant> tenants;
try
{
    tenants = Tenants.Load(builder);
}
catch (TenantsFileException ex)
{
    // Before anything starts: nothing is left half-started.
    Console.Error.WriteLine(ex.Message);
    return 1;
}

// Shared infrastructure: local executables in run mode without a working container runtime, containers otherwise.
var valkey = builder.AddValkey("valkey");
var postgres = builder.AddTenantPostgres("postgres");
var smtp = builder.AddDevelopmentSmtp("smtp");

var adminEmail = builder.AddParameter("admin-email", "admin@example.test");

var workers = builder.AddProject<Projects.Workers>("workers")
    .WithRunModeEnvironment()
    .WithHttpEndpoint(port: Ports.Workers(builder))
    .WithHttpHealthCheck("/health")
    .WithReference(valkey).WaitFor(valkey)
    .WaitFor(smtp)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .WithEnvironment("SMTP_HOST", smtp.GetEndpoint(SmtpBuilderExtensions.EndpointName).Property(EndpointProperty.Host))
    .WithEnvironment("SMTP_PORT", smtp.GetEndpoint(SmtpBuilderExtensions.EndpointName).Property(EndpointProperty.Port));

var scheduler = builder.AddProject<Projects.Scheduler>("scheduler")
    .WithRunModeEnvironment()
    .WithHttpEndpoint(port: Ports.Scheduler(builder))
    .WithReference(valkey).WaitFor(valkey)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .PublishAsKubernetesJob();

// A dashboard row per tenant: live state from Valkey, links, and operator commands.
var tenantRows = new TenantRowOptions
{
    Queues = JobQueues.All,
    IsConfigured = id => Tenants.StillConfigured(builder, id),
    Scheduler = scheduler.Resource,
};

var tenantResources = new List<TenantResources>();
foreach (var (tenant, index) in tenants.Select((t, i) => (t, i)))
{
    var database = postgres.AddTenantDatabase(tenant);
    var signingKey = builder.AddGeneratedSecret($"signing-key-{tenant.Id}", 48);
    var adminPassword = builder.AddGeneratedSecret($"admin-password-{tenant.Id}");
    var dataProtectionKey = builder.AddGeneratedSecret($"data-protection-key-{tenant.Id}", 48);
    var search = builder.AddTenantSearch(tenant);
    var searchNode = search?.GetEndpoint(ElasticsearchBuilderExtensions.EndpointName);

    var web = builder.AddProject<Projects.Web>($"web-{tenant.Id}")
        .WithRunModeEnvironment()
        .WithHttpEndpoint(port: Ports.Web(builder, index))
        .WithExternalHttpEndpoints()
        .WithHttpHealthCheck("/health")
        .WithReplicas(tenant.WebReplicas)
        .WithReference(database, "db").WaitFor(database)
        .WithReference(valkey).WaitFor(valkey)
        .WithEnvironment("INSTANCE_TENANT_ID", tenant.Id)
        .WithEnvironment($"TENANT_{tenant.VariableForm}_SIGNING_KEY", signingKey)
        .WithEnvironment("ADMIN_EMAIL", adminEmail)
        .WithEnvironment("ADMIN_PASSWORD", adminPassword)
        .WithEnvironment("DATA_PROTECTION_KEY", dataProtectionKey)
        .WithDashboardLinks()
        .WithTenantSearch(tenant, searchNode);
    if (search is not null)
    {
        web.WaitFor(search);
    }

    builder.AddTenant(tenant.Id, valkey, tenantRows).WithTenantResource(web).WithSignIn(adminEmail, adminPassword);
    // The workers run every tenant's jobs: they start once every tenant database answers its own role.
    workers.WaitFor(database);
    tenantResources.Add(new(tenant, database, web, signingKey, searchNode));
}

var tenantConfigs = TenantTopology.TenantConfigs(tenantResources);
workers.WithEnvironment("TENANT_CONFIGS", tenantConfigs);
scheduler.WithEnvironment("TENANT_CONFIGS", tenantConfigs);

builder.AddKubernetesPublishing();
// State changes and errors on the console; once all is up, each tenant's address and sign-in.
builder.AddTopologyConsole();

await builder.Build().RunAsync();
return 0;
