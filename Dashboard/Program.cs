using Dashboard.Extensions;

var builder = WebApplication.CreateBuilder(args);

builder.AddDashboardServices();

var app = builder.Build();

app.MapDashboard();

app.Run();
