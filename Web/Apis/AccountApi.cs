using System.ComponentModel.DataAnnotations;
using System.Security.Claims;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Antiforgery;
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

/// <param name="CanSignIn">Whether the user has a password (users without one only receive notifications).</param>
/// <param name="FailedSignIns">Failed sign-ins counted against the account since its last success or unlock.</param>
/// <param name="LockedUntil">Until when sign-in is refused (a short pause or a lockout); null when it is not.</param>
public sealed record UserDto(long Id, string Email, string Name, bool IsAdmin, EmailPreference EmailPreference, bool CanSignIn, int FailedSignIns, DateTimeOffset? LockedUntil);

/// <summary>
/// What a cookie client needs after signing in: state-changing calls it makes with the session cookie must send
/// <see cref="AntiforgeryToken"/> in the header named <see cref="AntiforgeryHeader"/> (API tokens need neither).
/// </summary>
public sealed record SignedInDto(string AntiforgeryHeader, string AntiforgeryToken);

/// <summary>Sign-in, the current user, API tokens and users.</summary>
internal static class AccountApi
{
    public static RouteGroupBuilder MapAccountApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("api/account").WithTags("Account");
        // No antiforgery token exists before signing in; RequestForgeryProtection still refuses another origin's post.
        api.MapPost("/signin", SignIn).AllowAnonymous().DisableAntiforgery();
        api.MapPost("/signout", SignOut);
        api.MapGet("/me", Me);
        api.MapPut("/preferences", SetPreferences);
        api.MapGet("/tokens", ListTokens).RequireAuthorization(AuthorizationPolicies.Admin);
        api.MapPost("/tokens", CreateToken).RequireAuthorization(AuthorizationPolicies.Admin);
        api.MapDelete("/tokens/{tokenId:long}", RevokeToken).RequireAuthorization(AuthorizationPolicies.Admin);

        var users = app.MapGroup("api/users").WithTags("Users").RequireAuthorization(AuthorizationPolicies.Admin);
        users.MapGet("/", ListUsers);
        users.MapPost("/", CreateUser);
        users.MapPost("/{userId:long}/unlock", Unlock);
        return api;
    }

    /// <summary>
    /// Signs in with the session cookie: 200 with the antiforgery token for the session, 401 for a wrong email or
    /// password, 429 with <c>Retry-After</c> (seconds) while the account or the client's address is blocked after
    /// failed attempts (the right password is refused then too).
    /// </summary>
    public static async Task<Results<Ok<SignedInDto>, UnauthorizedHttpResult, ProblemHttpResult>> SignIn(
        SignInRequest request, UserAccounts accounts, IAntiforgery antiforgery, HttpContext context, CancellationToken cancellationToken)
    {
        switch (await accounts.SignInAsync(request.Email, request.Password, ClientAddress.Of(context), CookieAuthenticationDefaults.AuthenticationScheme, cancellationToken))
        {
            case SignInOutcome.SignedIn signedIn:
                await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, signedIn.Principal);
                // A request token is bound to the user it is issued for: issue it for the one just signed in.
                context.User = signedIn.Principal;
                var tokens = antiforgery.GetAndStoreTokens(context);
                return TypedResults.Ok(new SignedInDto(tokens.HeaderName!, tokens.RequestToken!));
            case SignInOutcome.Blocked blocked:
                context.Response.Headers.RetryAfter = blocked.RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
                return TypedResults.Problem(title: "Too many failed sign-ins.", detail: blocked.Message, statusCode: StatusCodes.Status429TooManyRequests);
            default:
                return TypedResults.Unauthorized();
        }
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

    public static async Task<Ok<Paged<TokenDto>>> ListTokens(int? page, int? pageSize, ClaimsPrincipal user, TenantDbContext db, CancellationToken cancellationToken)
    {
        var request = PageRequest.ForApi(page, pageSize);
        var id = user.UserId();
        return TypedResults.Ok(await db.ApiTokens.AsNoTracking().Where(t => t.UserId == id).OrderByDescending(t => t.Id)
            .Select(t => new TokenDto(t.Id, t.Name, t.CreatedAt, t.ExpiresAt, t.RevokedAt)).ToPagedAsync(request, cancellationToken));
    }

    public static async Task<Ok<TokenCreatedDto>> CreateToken(CreateTokenRequest request, ClaimsPrincipal user, ApiTokens tokens, TimeProvider time, CancellationToken cancellationToken)
    {
        var expires = request.ExpiresInDays is { } days ? time.GetUtcNow().AddDays(days) : (DateTimeOffset?)null;
        var (token, secret) = await tokens.CreateAsync(user.UserId(), request.Name.Trim(), expires, cancellationToken);
        return TypedResults.Ok(new TokenCreatedDto(token.Id, token.Name, secret, token.ExpiresAt));
    }

    public static async Task<Results<NoContent, NotFound>> RevokeToken(long tokenId, ApiTokens tokens, CancellationToken cancellationToken) =>
        await tokens.RevokeAsync(tokenId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    public static async Task<Ok<Paged<UserDto>>> ListUsers(int? page, int? pageSize, UserAccounts accounts, CancellationToken cancellationToken) =>
        TypedResults.Ok(await accounts.ListAsync(PageRequest.ForApi(page, pageSize), cancellationToken));

    /// <summary>Lifts a sign-in lock (or pause) on the user's account and forgets its failed attempts.</summary>
    public static async Task<Results<NoContent, NotFound>> Unlock(long userId, UserAccounts accounts, CancellationToken cancellationToken) =>
        await accounts.UnlockAsync(userId, cancellationToken) ? TypedResults.NoContent() : TypedResults.NotFound();

    public static async Task<Created<UserDto>> CreateUser(CreateUserRequest request, UserAccounts accounts, CancellationToken cancellationToken)
    {
        var created = await accounts.CreateAsync(request.Email, request.Name, request.Password, request.IsAdmin, request.EmailPreference, cancellationToken);
        return TypedResults.Created($"/api/users/{created.Id}", new UserDto(created.Id, created.Email, created.Name, created.IsAdmin, created.EmailPreference, created.PasswordHash is not null, 0, null));
    }
}
