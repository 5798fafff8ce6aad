using Domain.Infrastructure;
using Domain.Search;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Queue;
using Tenancy;
using Web.Infrastructure;
using Web.Services;

namespace Web.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;

        builder.AddTenancy();
        services.AddOptions<WebOptions>().BindConfiguration("").ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SignInThrottleOptions>().BindConfiguration("").ValidateDataAnnotations().ValidateOnStart();

        // One database, the tenant's, through Aspire's EF Core integration (pooled contexts, health check, tracing, metrics).
        // Its connection comes from ConnectionStrings__db or the seed's DATABASE_URL; a bad value fails the start, naming the variable.
        var connectionString = SingleTenantDatabase.GetConnectionString(builder.Configuration);
        builder.AddNpgsqlDbContext<TenantDbContext>(WebOptions.DatabaseConnectionName, settings =>
        {
            settings.ConnectionString = connectionString;
            // Imports and result writes use explicit transactions, which a retrying execution strategy refuses.
            settings.DisableRetry = true;
        });
        services.AddTransient<TenantDatabaseMigrator>();

        // The web app enqueues and administers its own tenant's jobs; it runs no worker.
        builder.AddValkeyClient();
        services.AddJobQueueClient();
        services.AddHealthChecks().AddJobQueueCheck();

        services.AddDataProtection()
            // Keys are shared by this tenant's replicas through its database; the application name keeps one
            // tenant's cookies and tokens unreadable by another tenant's app even if keys were ever shared.
            .SetApplicationName(WebOptions.ApplicationNameFor(builder.Configuration))
            // Encrypted at rest with DATA_PROTECTION_KEY, a secret of this app only (KeyRingEncryption).
            .ProtectKeysWithConfiguredSecret(builder.Configuration, WebOptions.ApplicationNameFor(builder.Configuration));
        services.AddOptions<Microsoft.AspNetCore.DataProtection.KeyManagement.KeyManagementOptions>()
            .Configure<IServiceScopeFactory>((options, scopes) => options.XmlRepository = new DatabaseXmlRepository(scopes));

        services.AddWebAuthentication(builder.Configuration);
        services.AddSiteProtection(builder.Configuration);
        services.AddScoped<UserAccounts>();
        services.AddScoped<ApiTokens>();
        services.AddScoped<JobPublisher>();
        services.AddScoped<JobOutbox>();
        services.AddSingleton<OutboxSignal>();
        services.AddSingleton<OutboxRelay>();
        services.AddHostedService(sp => sp.GetRequiredService<OutboxRelay>());
        services.AddScoped<TestRunService>();
        services.AddScoped<IssueService>();
        services.AddScoped<ImportService>();
        services.AddScoped<SearchService>();
        services.AddScoped<ReindexService>();
        services.AddScoped<JobQueueDashboard>();
        // A search waits at most this long for Elasticsearch before it answers from PostgreSQL instead.
        services.AddSingleton(new ElasticsearchConnections(TimeSpan.FromSeconds(10)));

        services.AddProblemDetails();
        services.AddExceptionHandler<ApiExceptionHandler>();
        services.ConfigureHttpJsonOptions(options =>
            options.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
        services.AddValidation();
        // Razor encodes what is markup in HTML (<, >, &, quotes) everywhere; other characters (an en dash, accented
        // names) are written as themselves rather than as numeric references.
        services.AddWebEncoders(options => options.TextEncoderSettings = new System.Text.Encodings.Web.TextEncoderSettings(System.Text.Unicode.UnicodeRanges.All));
        services.AddRazorPages(options =>
        {
            options.Conventions.AllowAnonymousToPage("/SignIn");
            options.Conventions.AuthorizeFolder("/Admin", AuthorizationPolicies.Admin);
        });
        services.Configure<FormOptions>(options => options.MultipartBodyLengthLimit = long.MaxValue);
    }

    public static IServiceCollection AddWebAuthentication(this IServiceCollection services, IConfiguration configuration)
    {
        var tenant = WebOptions.TenantLabelFor(configuration);
        services.AddAuthentication(AuthSchemes.Smart)
            .AddPolicyScheme(AuthSchemes.Smart, "Cookie or bearer token", options =>
                options.ForwardDefaultSelector = context =>
                    AuthSchemes.IsBearer(context.Request) ? AuthSchemes.Bearer : CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = $".web-{tenant}.session";
                options.Cookie.HttpOnly = true;
                // Lax, not Strict: a link to a run in a notification email opens signed in. Forgery from other sites
                // (same-site siblings included) is stopped by RequestForgeryProtection and antiforgery tokens instead.
                options.Cookie.SameSite = SameSiteMode.Lax;
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.LoginPath = "/signin";
                options.SlidingExpiration = true;
                options.ExpireTimeSpan = TimeSpan.FromHours(12);
                options.Events = new CookieAuthenticationEvents
                {
                    // A session names its tenant; one minted by (or replayed at) another tenant's app means nothing here.
                    OnValidatePrincipal = TenantClaim.RejectForeignSessionAsync,
                    // The API answers 401; pages send people to the sign-in page.
                    OnRedirectToLogin = context => ApiAware(context, StatusCodes.Status401Unauthorized),
                    // Both answer 403: a page's 403 is shown as the site's "not allowed" page (Pages/Error), not a sign-in form.
                    OnRedirectToAccessDenied = context =>
                    {
                        context.Response.StatusCode = StatusCodes.Status403Forbidden;
                        return Task.CompletedTask;
                    },
                };
            })
            .AddScheme<BearerTokenOptions, BearerTokenHandler>(AuthSchemes.Bearer, _ => { });

        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new Microsoft.AspNetCore.Authorization.AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build())
            .AddPolicy(AuthorizationPolicies.Admin, policy => policy.RequireAuthenticatedUser().RequireRole(Roles.Admin));
        return services;
    }

    /// <summary>
    /// Antiforgery, cookie flags and HSTS. Every cookie is HttpOnly and Secure whenever the request is https (behind a
    /// TLS-terminating proxy the app sees https through its forwarded headers, <c>ASPNETCORE_FORWARDEDHEADERS_ENABLED</c>,
    /// which the published topology sets); each is named after the tenant, since tenants' apps can share a host name
    /// on different ports, where browsers would otherwise mix their cookies.
    /// </summary>
    public static IServiceCollection AddSiteProtection(this IServiceCollection services, IConfiguration configuration)
    {
        var tenant = WebOptions.TenantLabelFor(configuration);
        services.AddAntiforgery(options =>
        {
            options.Cookie.Name = $".web-{tenant}.antiforgery";
            // Strict: the cookie is only needed by this site's own forms and fetches.
            options.Cookie.SameSite = SameSiteMode.Strict;
            options.SuppressXFrameOptionsHeader = true;
        });
        services.Configure<CookieTempDataProviderOptions>(options =>
        {
            options.Cookie.Name = $".web-{tenant}.messages";
            options.Cookie.SameSite = SameSiteMode.Strict;
        });
        services.Configure<CookiePolicyOptions>(options =>
        {
            options.HttpOnly = Microsoft.AspNetCore.CookiePolicy.HttpOnlyPolicy.Always;
            options.Secure = CookieSecurePolicy.SameAsRequest;
            options.MinimumSameSitePolicy = SameSiteMode.Lax;
        });
        services.AddHsts(options => options.MaxAge = TimeSpan.FromDays(365));
        return services;
    }

    private static Task ApiAware(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }
        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
