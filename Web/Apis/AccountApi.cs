using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.EntityFrameworkCore;
using Web.Infrastructure;
using Web.Services;

namespace Web.Apis;

public sealed record SignInRequest([Required] string Email, [Required] string Password);

public sealed record MeDto(long Id, string Name, string Email, bool IsAdmin, string Tenant, EmailPreference EmailPreference);

public sealed record CreateTokenRequest([Required, StringLength(200, MinimumLength = 1)] string Name, [Range(1, 3650)] int? ExpiresInDays);

public sealed record TokenCreatedDto(long Id, string Name, string Token, DateTimeOffset? ExpiresAt);

public sealed record TokenDto(long Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? RevokedAt);

public sealed record PreferencesRequest(EmailPreference EmailPreference);

public sealed record CreateUserRequest(
    [Required, EmailAddress, StringLength(320)] string Email,
    [Required, StringLength(200, MinimumLength = 1)] string Name,
    [StringLength(200, MinimumLength = 8)] string? Password,
    bool IsAdmin,
    EmailPreference EmailPreference);

public sealed record UserDto(long Id, string Email, string Name, bool IsAdmin, EmailPreference EmailPreference);

/// <summary>Sign-in, the current user, API tokens and users.</summary>
internal static class AccountApi
{
    public static RouteGroupBuilder MapAccountApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/account").WithTags("Account");
        api.MapPost("/signin", SignIn).AllowAnonymous();
        api.MapPost("/signout", SignOut);
        api.MapGet("/me", Me);
        api.MapPut("/preferences", SetPreferences);
        api.MapGet("/tokens", ListTokens).RequireAuthorization(AuthorizationPolicies.Admin);
        api.MapPost("/tokens", CreateToken).RequireAuthorization(AuthorizationPolicies.Admin);
        api.MapDelete("/tokens/{tokenId:long}", RevokeToken).RequireAuthorization(AuthorizationPolicies.Admin);

        var users = app.MapGroup("api/users").WithTags("Users").RequireAuthorization(AuthorizationPolicies.Admin);
        users.MapGet("/", ListUsers);
        users.MapPost("/", CreateUser);
        return api;
    }

    public static async Task<Results<NoContent, UnauthorizedHttpResult>> SignIn(SignInRequest request, UserAccounts accounts, HttpContext context, CancellationToken cancellationToken)
    {
        var principal = await accounts.SignInAsync(request.Email, request.Password, CookieAuthenticationDefaults.AuthenticationScheme, cancellationToken);
        if (principal is null)
        {
            return TypedResults.Unauthorized();
        }
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
        return TypedResults.NoContent();
    }

    public static async Task<NoContent> SignOut(HttpContext context, CancellationToken cancellationToken)
    {
        await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        return TypedResults.NoContent();
    }

    public static async Task<Results<Ok<MeDto>, UnauthorizedHttpResult>> Me(ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        var id = user.UserId();
        var me = await db.Users.AsNoTracking().Where(u => u.Id == id)
            .Select(u => new MeDto(u.Id, u.Name, u.Email, u.IsAdmin, user.FindFirstValue(TenantClaim.Type) ?? "", u.EmailPreference))
            .SingleOrDefaultAsync(cancellationToken);
        return me is null ? TypedResults.Unauthorized() : TypedResults.Ok(me);
    }

    public static async Task<NoContent> SetPreferences(PreferencesRequest request, ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        if (!Enum.IsDefined(request.EmailPreference))
        {
            throw new InvalidRequestException("emailPreference", $"Unknown email preference '{request.EmailPreference}'.");
        }
        var id = user.UserId();
        await db.Users.Where(u => u.Id == id).ExecuteUpdateAsync(s => s.SetProperty(u => u.EmailPreference, request.EmailPreference), cancellationToken);
        return TypedResults.NoContent();
    }

    public static async Task<Ok<List<TokenDto>>> ListTokens(ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        var id = user.UserId();
        return TypedResults.Ok(await db.ApiTokens.AsNoTracking().Where(t => t.UserId == id).OrderByDescending(t => t.Id)
            .Select(t => new TokenDto(t.Id, t.Name, t.CreatedAt, t.ExpiresAt, t.RevokedAt)).ToListAsync(cancellationToken));
    }

    public static async Task<Ok<TokenCreatedDto>> CreateToken(CreateTokenRequest request, ClaimsPrincipal user, ApiTokens tokens, TimeProvider time, CancellationToken cancellationToken)
    {
        var expires = request.ExpiresInDays is { } days ? time.GetUtcNow().AddDays(days) : (DateTimeOffset?)null;
        var (token, secret) = await tokens.CreateAsync(user.UserId(), request.Name.Trim(), expires, cancellationToken);
        return TypedResults.Ok(new TokenCreatedDto(token.Id, token.Name, secret, token.ExpiresAt));
    }

    public static async Task<Results<NoContent, NotFound>> RevokeToken(long tokenId, ApiTokens tokens, CancellationToken cancellationToken) =>
        await tokens.RevokeAsync(tokenId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    public static async Task<Ok<List<UserDto>>> ListUsers(TenantDbContext db, CancellationToken cancellationToken) =>
        TypedResults.Ok(await db.Users.AsNoTracking().OrderBy(u => u.Email)
            .Select(u => new UserDto(u.Id, u.Email, u.Name, u.IsAdmin, u.EmailPreference)).ToListAsync(cancellationToken));

    public static async Task<Created<UserDto>> CreateUser(CreateUserRequest request, UserAccounts accounts, CancellationToken cancellationToken)
    {
        var created = await accounts.CreateAsync(request.Email, request.Name, request.Password, request.IsAdmin, request.EmailPreference, cancellationToken);
        return TypedResults.Created($"/api/users/{created.Id}", new UserDto(created.Id, created.Email, created.Name, created.IsAdmin, created.EmailPreference));
    }
}
