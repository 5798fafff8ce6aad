using Web.Apis;
using Web.Extensions;
using Web.Infrastructure;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

await app.PrepareDatabaseAsync();

app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseInstanceTenant();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapDefaultEndpoints();
app.MapStaticAssets();
app.MapRazorPages();
app.MapAccountApi();
app.MapProjectsApi();
app.MapWorkApi();
app.MapAdminQueuesApi();

await app.RunAsync();
