using Scheduler.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddBasicServiceDefaults();
builder.AddApplicationServices(args);

var app = builder.Build();

app.MapDefaultEndpoints();

await app.RunAsync();
