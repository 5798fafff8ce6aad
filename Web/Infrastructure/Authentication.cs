using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Domain.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tenancy;

namespace Web.Infrastructure;

internal static class AuthSchemes
{
    public const string Smart = "smart";
    public const string Bearer = "Bearer";

    /// <summary>A request with a bearer token is authenticated by it alone: its cookies are never looked at.</summary>
    public static bool IsBearer(HttpRequest request) =>
        request.Headers.Authorization.ToString().StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase);
}

internal static class AuthorizationPolicies
{
    public const string Admin = "admin";
}

internal static class Roles
{
    public const string Admin = "admin";
}

/// <summary>Every principal of this app carries the tenant it was issued for.</summary>
internal static class TenantClaim
{
    public const string Type = "tenant";

    public static string ValueFor(ITenantSettingsStore store) => store.InstanceTenant?.Value ?? WebOptions.NoTenantLabel;

    public static ClaimsPrincipal Principal(long userId, string name, string email, bool isAdmin, string tenant, string scheme)
    {
        var claims = new List<Claim>
        {
            new(ClaimTypes.NameIdentifier, userId.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(ClaimTypes.Name, name),
            new(ClaimTypes.Email, email),
            new(Type, tenant),
        };
        if (isAdmin)
        {
            claims.Add(new Claim(ClaimTypes.Role, Roles.Admin));
        }
        return new ClaimsPrincipal(new ClaimsIdentity(claims, scheme));
    }

    public static async Task RejectForeignSessionAsync(CookieValidatePrincipalContext context)
    {
        var store = context.HttpContext.RequestServices.GetRequiredService<ITenantSettingsStore>();
        if (context.Principal?.FindFirstValue(Type) != ValueFor(store))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
    }

    public static long UserId(this ClaimsPrincipal user) =>
        long.Parse(user.FindFirstValue(ClaimTypes.NameIdentifier) ?? throw new InvalidOperationException("The principal has no user id."), System.Globalization.CultureInfo.InvariantCulture);

    public static bool IsAdmin(this ClaimsPrincipal user) => user.IsInRole(Roles.Admin);
}

internal sealed class BearerTokenOptions : AuthenticationSchemeOptions;

/// <summary>
/// <c>Authorization: Bearer &lt;token&gt;</c> for the API. Tokens live (hashed) in the tenant's own database, so
/// a token of one tenant is unknown to every other tenant's app.
/// </summary>
internal sealed class BearerTokenHandler(
    IOptionsMonitor<BearerTokenOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    TenantDbContext db,
    ITenantSettingsStore tenants,
    TimeProvider time) : AuthenticationHandler<BearerTokenOptions>(options, logger, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return AuthenticateResult.NoResult();
        }
        var token = header["Bearer ".Length..].Trim();
        if (token.Length == 0)
        {
            return AuthenticateResult.Fail("Empty bearer token.");
        }
        var hash = ApiTokens.Hash(token);
        var now = time.GetUtcNow();
        var match = await db.ApiTokens.AsNoTracking()
            .Where(t => t.TokenHash == hash && t.RevokedAt == null && (t.ExpiresAt == null || t.ExpiresAt > now))
            .Select(t => new { t.User!.Id, t.User.Name, t.User.Email, t.User.IsAdmin })
            .SingleOrDefaultAsync(Context.RequestAborted);
        if (match is null)
        {
            return AuthenticateResult.Fail("Unknown, expired or revoked token.");
        }
        var principal = TenantClaim.Principal(match.Id, match.Name, match.Email, match.IsAdmin, TenantClaim.ValueFor(tenants), Scheme.Name);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
    }
}

/// <summary>Creates and checks API tokens. The token is shown once; only its SHA-256 is stored.</summary>
internal sealed class ApiTokens(TenantDbContext db, TimeProvider time)
{
    private const string Prefix = "wbt_";

    public static byte[] Hash(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    public async Task<(Domain.Model.ApiToken Token, string Secret)> CreateAsync(long userId, string name, DateTimeOffset? expiresAt, CancellationToken cancellationToken)
    {
        var secret = Prefix + Base64UrlEncode(RandomNumberGenerator.GetBytes(32));
        var token = new Domain.Model.ApiToken
        {
            UserId = userId,
            Name = name,
            TokenHash = Hash(secret),
            CreatedAt = time.GetUtcNow(),
            ExpiresAt = expiresAt,
        };
        db.ApiTokens.Add(token);
        await db.SaveChangesAsync(cancellationToken);
        return (token, secret);
    }

    public async Task<bool> RevokeAsync(long tokenId, CancellationToken cancellationToken) =>
        await db.ApiTokens.Where(t => t.Id == tokenId && t.RevokedAt == null)
            .ExecuteUpdateAsync(s => s.SetProperty(t => t.RevokedAt, time.GetUtcNow()), cancellationToken) > 0;

    private static string Base64UrlEncode(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
