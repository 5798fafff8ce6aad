using AppHost;
using Hosting.Infrastructure;
using Hosting.Publishing;
using Hosting.Tenants;
using Hosting.Topology;
using Queue;
using Tenancy;

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
if (KubernetesResourceBuilderExtensions.SettingsProblem(builder) is { } problem)
{
    Console.Error.WriteLine(problem);
    return 1;
}

// Shared infrastructure: local executables in run mode without a working container runtime, containers otherwise.
var valkey = builder.AddValkey("valkey");
var postgres = builder.AddTenantPostgres("postgres");
// The development mail catcher; published for Kubernetes, the SMTP server of --Kubernetes:Smtp:* instead (null here).
var smtp = builder.AddSmtp("smtp");

var adminEmail = builder.AddParameter("admin-email", "admin@example.test");

// Every tenant's role and database, created when missing and migrated, before anything uses them: a resource that runs
// to completion here, a Job on every deploy in Kubernetes (the azd manifest keeps the server's first-start script).
var provisioning = builder.AddProject<Projects.Provisioning>("tenant-provisioning")
    .WithRunModeEnvironment()
    .WithReference(postgres).WaitFor(postgres)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .ExcludeFromManifest()
    .PublishAsKubernetesJob();

var workers = builder.AddProject<Projects.Workers>("workers")
    .WithRunModeEnvironment()
    .WithHttpEndpoint(port: Ports.Workers(builder))
    .WithHttpHealthCheck("/health")
    .WithValkeyUser(valkey, ValkeyAcl.Workers)
    .WaitForCompletion(provisioning)
    .WithSmtp(smtp)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .WithExternalEgress(443, "issue trackers")
    .PublishScaledOnBacklog(JobQueues.All);

var scheduler = builder.AddProject<Projects.Scheduler>("scheduler")
    .WithRunModeEnvironment()
    .WithHttpEndpoint(port: Ports.Scheduler(builder))
    .WithValkeyUser(valkey, ValkeyAcl.Scheduler)
    .WithEnvironment("MULTI_TENANT_MODE", "true")
    .PublishAsKubernetesJob();

// A dashboard row per tenant: live state from Valkey, links, and operator commands (as the operator's Valkey user).
var operatorValkey = valkey.AddValkeyUser(ValkeyAcl.Operator);
var tenantRows = new TenantRowOptions
{
    Queues = JobQueues.All,
    IsConfigured = id => Tenants.StillConfigured(builder, id),
    Scheduler = scheduler.Resource,
};

var tenantSettings = new List<TenantSettingsEntry>();
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
        .WaitForProvisioning(provisioning)
        // The tenant's own Valkey user: it reaches only its tenant's keys (KEYS.md, "Who may touch what").
        .WithValkeyUser(valkey, ValkeyAcl.WebUser(TenantId.Parse(tenant.Id)))
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

    builder.AddTenant(tenant.Id, operatorValkey, tenantRows).WithTenantResource(web).WithSignIn(adminEmail, adminPassword);
    if (tenant.ElasticsearchNode is { } node)
    {
        workers.WithExternalEgress(new Uri(node).Port, $"Elasticsearch of tenant {tenant.Id}");
    }
    tenantSettings.Add(new(tenant.Id, database.Resource, web.GetEndpoint("http"), signingKey.Resource, TenantTopology.SearchSettings(tenant, searchNode).ToList()));
}

// Every tenant's settings for the services that serve them all: TENANT_CONFIGS here, mounted files in Kubernetes.
workers.WithTenantSettings(tenantSettings);
scheduler.WithTenantSettings(tenantSettings);
provisioning.WithTenantSettings(tenantSettings);

builder.AddKubernetesPublishing();
// State changes and errors on the console; once all is up, each tenant's address and sign-in.
builder.AddTopologyConsole();

await builder.Build().RunAsync();
return 0;
