using Web.Apis;
using Web.Extensions;
using Web.Infrastructure;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

await app.PrepareDatabaseAsync();

app.UseSecurityHeaders();
app.UseErrorResponses();
app.UseHsts();
app.UseCookiePolicy();
app.UseInstanceTenant();
app.UseAuthentication();
app.UseAuthorization();
app.UseRequestForgeryProtection();
app.UseAntiforgery();

app.MapDefaultEndpoints();
// The stylesheet and scripts are needed by the sign-in and error pages too; the fallback policy would otherwise demand a user.
app.MapStaticAssets().AllowAnonymous();
app.MapRazorPages();
app.MapAccountApi();
app.MapProjectsApi();
app.MapWorkApi();
app.MapAdminQueuesApi();

await app.RunAsync();
