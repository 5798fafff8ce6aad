using Workers.Extensions;

// `dotnet Workers.dll relayout [--shards N]`: moves the queue's data to this version's layout, then exits (README, "Upgrading").
if (args.FirstOrDefault() == "relayout")
{
    return await Relayout.RunAsync(args[1..]);
}

var builder = WebApplication.CreateBuilder(args);

builder.AddBasicServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.MapDefaultEndpoints();
app.MapBacklog();

await app.RunAsync();
return 0;
