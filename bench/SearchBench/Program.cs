// Search benchmark: creates a scratch database on the server of DATABASE_URL, migrates it with the real tenant
// migrations, fills one tenant's database with CASES test cases (default 100,000; plus runs and issues), then runs
// a mix of realistic queries through PostgresFullTextSearch, the code path of the web app's search, and prints one
// JSON line with latency percentiles and counts. Drops the scratch database afterwards. See README.md.
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Domain.Infrastructure;
using Domain.Search;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using NpgsqlTypes;
using Tenancy;

var cases = int.TryParse(Environment.GetEnvironmentVariable("CASES"), CultureInfo.InvariantCulture, out var c) && c > 0 ? c : 100_000;
var rounds = int.TryParse(Environment.GetEnvironmentVariable("ROUNDS"), CultureInfo.InvariantCulture, out var r) && r > 0 ? r : 40;
var url = Environment.GetEnvironmentVariable("DATABASE_URL");
if (string.IsNullOrWhiteSpace(url))
{
    await Console.Error.WriteLineAsync("Set DATABASE_URL=postgresql://user:pass@host:port/db (a server where the user may create databases); CASES defaults to 100000, ROUNDS to 40.");
    return 2;
}

var admin = new NpgsqlConnectionStringBuilder(DatabaseConnectionString.FromUrl(url));
var scratch = $"search_bench_{DateTime.UtcNow:yyyyMMddHHmmss}";
await ExecuteAsync(admin.ConnectionString, $"CREATE DATABASE \"{scratch}\"");
try
{
    var target = new NpgsqlConnectionStringBuilder(admin.ConnectionString) { Database = scratch, CommandTimeout = 0 }.ConnectionString;
    await using (var db = new TenantDbContext(new DbContextOptionsBuilder<TenantDbContext>().UseNpgsql(target).Options))
    {
        await new TenantDatabaseMigrator(db, TimeProvider.System, NullLogger<TenantDatabaseMigrator>.Instance).MigrateAsync("bench", SearchLanguage.Default);
    }
    await using var dataSource = NpgsqlDataSource.Create(target);

    var fill = Stopwatch.StartNew();
    var counts = await Corpus.FillAsync(dataSource, cases);
    await using (var analyze = dataSource.CreateCommand("VACUUM ANALYZE"))
    {
        await analyze.ExecuteNonQueryAsync();
    }
    fill.Stop();

    // Warm the caches once with every query, then time ROUNDS passes over the mix.
    foreach (var query in Corpus.Queries)
    {
        await PostgresFullTextSearch.SearchAsync(dataSource, query, 1, SearchLimits.DefaultPageSize, CancellationToken.None);
    }
    var latencies = new List<double>();
    var perQuery = Corpus.Queries.ToDictionary(q => q, _ => new List<double>());
    var totals = new Dictionary<string, long>();
    for (var round = 0; round < rounds; round++)
    {
        foreach (var query in Corpus.Queries)
        {
            // Most searches look at the first page; some page on.
            var page = round % 5 == 4 ? 3 : 1;
            var watch = Stopwatch.StartNew();
            var results = await PostgresFullTextSearch.SearchAsync(dataSource, query, page, SearchLimits.DefaultPageSize, CancellationToken.None);
            watch.Stop();
            latencies.Add(watch.Elapsed.TotalMilliseconds);
            perQuery[query].Add(watch.Elapsed.TotalMilliseconds);
            totals[query] = results.Total;
        }
    }
    latencies.Sort();
    Console.WriteLine(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["cases"] = counts.Cases,
        ["runs"] = counts.Runs,
        ["issues"] = counts.Issues,
        ["fill_seconds"] = Math.Round(fill.Elapsed.TotalSeconds, 1),
        ["queries"] = latencies.Count,
        ["distinct_queries"] = Corpus.Queries.Count,
        ["p50_ms"] = Percentile(latencies, 0.50),
        ["p99_ms"] = Percentile(latencies, 0.99),
        ["max_ms"] = Math.Round(latencies[^1], 2),
        ["mean_ms"] = Math.Round(latencies.Average(), 2),
        ["per_query"] = perQuery.ToDictionary(p => p.Key, p =>
        {
            p.Value.Sort();
            return new Dictionary<string, object> { ["p50_ms"] = Percentile(p.Value, 0.50), ["matches"] = totals[p.Key] };
        }),
    }, new JsonSerializerOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
    return 0;
}
finally
{
    NpgsqlConnection.ClearAllPools();
    await ExecuteAsync(admin.ConnectionString, $"DROP DATABASE IF EXISTS \"{scratch}\" WITH (FORCE)");
}

static double Percentile(List<double> sorted, double p) =>
    Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Count) - 1, 0, sorted.Count - 1)], 2);

static async Task ExecuteAsync(string connectionString, string sql)
{
    await using var connection = new NpgsqlConnection(connectionString);
    await connection.OpenAsync();
    await using var command = new NpgsqlCommand(sql, connection);
    await command.ExecuteNonQueryAsync();
}

/// <summary>
/// Test cases that read like a test-management tool's: titles and descriptions drawn from a domain vocabulary with
/// a skewed (Zipf-like) frequency, so some words are common (thousands of matches) and some rare (a handful).
/// Deterministic (seeded), so runs compare.
/// </summary>
internal static class Corpus
{
    private static readonly string[] Nouns =
    [
        "checkout", "login", "password", "cart", "basket", "invoice", "refund", "payment", "card", "coupon", "shipping",
        "address", "profile", "search", "filter", "report", "export", "import", "upload", "dashboard", "notification",
        "email", "session", "token", "order", "product", "catalog", "discount", "tax", "currency", "language", "settings",
        "account", "subscription", "receipt", "wishlist", "review", "rating", "inventory", "warehouse", "delivery",
        "return", "voucher", "banner", "menu", "footer", "header", "sidebar", "calendar", "timezone", "locale", "avatar",
        "webhook", "integration", "permission", "role", "team", "invitation", "billing", "plan", "trial", "license",
    ];

    private static readonly string[] Verbs =
    [
        "rejects", "accepts", "shows", "hides", "sends", "validates", "calculates", "expires", "updates", "deletes",
        "creates", "renders", "loads", "saves", "redirects", "retries", "caches", "sorts", "filters", "exports",
    ];

    private static readonly string[] Adjectives =
    [
        "expired", "invalid", "valid", "empty", "large", "duplicate", "mobile", "guest", "admin", "cached", "localized",
        "archived", "pending", "failed", "partial", "recurring", "international", "anonymous", "locked", "default",
    ];

    /// <summary>The query mix: common and rare words, stems, phrases, exclusions, alternatives, nothing to match, stop words only.</summary>
    public static readonly IReadOnlyList<string> Queries =
    [
        "expire card", "login", "checkout rejects expired credit cards", "\"guest checkout\"", "payment -refund",
        "invoice or receipt", "webhook retries", "localized timezone calendar", "password reset email", "license trial expires",
        "zyzzyva", "the", "duplicate coupon discount", "admin permission role", "export report", "mobile",
    ];

    public static async Task<(int Cases, int Runs, int Issues)> FillAsync(NpgsqlDataSource dataSource, int cases)
    {
        var random = new Random(42);
        const int projects = 20;
        var runs = Math.Max(1, cases / 100);
        var issues = Math.Max(1, cases / 200);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using (var command = new NpgsqlCommand(
            $"INSERT INTO projects (name, created_at) SELECT 'Project ' || g, now() FROM generate_series(1, {projects}) g", connection))
        {
            await command.ExecuteNonQueryAsync();
        }
        // Binary COPY fires the row triggers, so the search vectors are built by the database as for any insert.
        await using (var copy = await connection.BeginBinaryImportAsync("COPY test_cases (project_id, title, description, created_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < cases; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync((long)(i % projects) + 1, NpgsqlDbType.Bigint);
                await copy.WriteAsync(Title(random), NpgsqlDbType.Varchar);
                await copy.WriteAsync(Description(random), NpgsqlDbType.Text);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
            }
            await copy.CompleteAsync();
        }
        await using (var copy = await connection.BeginBinaryImportAsync("COPY test_runs (project_id, name, created_at) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < runs; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync((long)(i % projects) + 1, NpgsqlDbType.Bigint);
                await copy.WriteAsync($"Nightly {Pick(random, Nouns)} {Pick(random, Nouns)} {i}", NpgsqlDbType.Varchar);
                await copy.WriteAsync(DateTimeOffset.UtcNow, NpgsqlDbType.TimestampTz);
            }
            await copy.CompleteAsync();
        }
        await using (var command = new NpgsqlCommand(
            $"INSERT INTO tracker_integrations (project_id, kind, base_url, project_key, created_at) SELECT g, 'Jira', 'https://jira.example', 'P' || g, now() FROM generate_series(1, {projects}) g", connection))
        {
            await command.ExecuteNonQueryAsync();
        }
        await using (var copy = await connection.BeginBinaryImportAsync("COPY external_issues (integration_id, key, title, status) FROM STDIN (FORMAT BINARY)"))
        {
            for (var i = 0; i < issues; i++)
            {
                await copy.StartRowAsync();
                await copy.WriteAsync((long)(i % projects) + 1, NpgsqlDbType.Bigint);
                await copy.WriteAsync($"P{(i % projects) + 1}-{i + 1}", NpgsqlDbType.Varchar);
                await copy.WriteAsync($"{Capital(Pick(random, Nouns))} {Pick(random, Verbs)} {Pick(random, Adjectives)} {Pick(random, Nouns)}", NpgsqlDbType.Varchar);
                await copy.WriteAsync(random.Next(3) == 0 ? "Done" : "Open", NpgsqlDbType.Varchar);
            }
            await copy.CompleteAsync();
        }
        return (cases, runs, issues);
    }

    private static string Title(Random random) => random.Next(4) switch
    {
        0 => $"{Capital(Pick(random, Nouns))} {Pick(random, Verbs)} {Pick(random, Adjectives)} {Pick(random, Nouns)}",
        1 => $"{Capital(Pick(random, Adjectives))} {Pick(random, Nouns)} {Pick(random, Verbs)} the {Pick(random, Nouns)}",
        2 => $"{Capital(Pick(random, Nouns))} {Pick(random, Nouns)} {Pick(random, Verbs)} {Pick(random, Adjectives)} {Pick(random, Nouns)} for {Pick(random, Adjectives)} users",
        _ => $"{Capital(Pick(random, Verbs))} {Pick(random, Adjectives)} {Pick(random, Nouns)} on the {Pick(random, Nouns)} page",
    };

    private static string Description(Random random)
    {
        var words = new List<string>(30) { "Given", "a", Pick(random, Adjectives), Pick(random, Nouns) };
        var count = random.Next(8, 22);
        for (var i = 0; i < count; i++)
        {
            words.Add(random.Next(3) switch { 0 => Pick(random, Verbs), 1 => Pick(random, Adjectives), _ => Pick(random, Nouns) });
            if (random.Next(5) == 0)
            {
                words.Add(random.Next(2) == 0 ? "and" : "when the");
            }
        }
        return string.Join(' ', words) + ".";
    }

    // Zipf-like: index k is drawn with weight about 1/(k+1), so the first words are common, the last rare.
    private static string Pick(Random random, string[] words)
    {
        var harmonic = 0.0;
        for (var k = 0; k < words.Length; k++)
        {
            harmonic += 1.0 / (k + 1);
        }
        var x = random.NextDouble() * harmonic;
        for (var k = 0; k < words.Length; k++)
        {
            x -= 1.0 / (k + 1);
            if (x <= 0)
            {
                return words[k];
            }
        }
        return words[^1];
    }

    private static string Capital(string word) => char.ToUpperInvariant(word[0]) + word[1..];
}
