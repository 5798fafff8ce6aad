using Dashboard.Otlp;
using Dashboard.Telemetry;
using Dashboard.Ui;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Dashboard.Extensions;

public static class Extensions
{
    /// <summary>Options, the telemetry stores, the resource client and the browser login.</summary>
    public static IHostApplicationBuilder AddDashboardServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DashboardOptions>().BindConfiguration(DashboardOptions.Section).ValidateDataAnnotations().ValidateOnStart()
            // Started on its own without a token, the Dashboard makes one and logs the login URL, as Aspire's does.
            .PostConfigure(options => options.LoginToken ??= Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)));
        builder.Services.AddSingleton<TelemetryStore>();
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddHealthChecks();
        builder.Services.AddGrpc();
        builder.Services.AddHttpClient();
        builder.Services.AddSingleton<Resources.ResourceClient>();

        var unsecured = builder.Configuration.GetSection(DashboardOptions.Section).GetValue<bool>(nameof(DashboardOptions.Unsecured));
        builder.Services.AddAuthentication(CookieAuthenticationDefaults.AuthenticationScheme)
            .AddCookie(cookie =>
            {
                cookie.Cookie.Name = "dashboard.auth";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Strict;
                cookie.LoginPath = "/login";
                cookie.ExpireTimeSpan = TimeSpan.FromDays(3);
                // JSON callers get 401 rather than a redirect to the login page.
                cookie.Events.OnRedirectToLogin = context =>
                {
                    if (context.Request.Path.StartsWithSegments("/api", StringComparison.OrdinalIgnoreCase))
                    {
                        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                        return Task.CompletedTask;
                    }
                    context.Response.Redirect(context.RedirectUri);
                    return Task.CompletedTask;
                };
            });
        builder.Services.AddAuthorization(authorization =>
        {
            if (!unsecured)
            {
                authorization.FallbackPolicy = authorization.DefaultPolicy;
            }
        });
        return builder;
    }

    /// <summary>The OTLP receiver, health endpoints, login, pages and their JSON API.</summary>
    public static WebApplication MapDashboard(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.MapHealthChecks("/health").AllowAnonymous();
        app.MapHealthChecks("/alive").AllowAnonymous();
        app.MapOtlpHttpApi();
        app.MapOtlpGrpcServices();
        app.MapLogin();
        app.MapDashboardApi();
        app.MapDashboardPages();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var options = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<DashboardOptions>>().Value;
            if (!options.Unsecured && app.Configuration[$"{DashboardOptions.Section}:{nameof(DashboardOptions.LoginToken)}"] is null)
            {
                DashboardLog.LoginUrl(app.Logger, string.Join(", ", app.Urls.Select(u => $"{u.TrimEnd('/')}/login?t={options.LoginToken}")));
            }
        });
        return app;
    }
}

internal static partial class DashboardLog
{
    [LoggerMessage(1, LogLevel.Warning, "No Dashboard:LoginToken was configured; log in at {LoginUrl}")]
    public static partial void LoginUrl(ILogger logger, string loginUrl);
}
