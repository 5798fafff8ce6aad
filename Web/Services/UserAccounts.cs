using System.Security.Claims;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Tenancy;
using Web.Infrastructure;

namespace Web.Services;

/// <summary>Users of this tenant: passwords hashed with ASP.NET Core Identity's PBKDF2 hasher.</summary>
internal sealed partial class UserAccounts(TenantDbContext db, ITenantSettingsStore tenants, TimeProvider time, ILogger<UserAccounts> logger)
{
    private static readonly PasswordHasher<User> Hasher = new();

    public async Task EnsureAdminAsync(string email, string password, CancellationToken cancellationToken)
    {
        var normalized = User.NormalizeEmail(email);
        var user = await db.Users.SingleOrDefaultAsync(u => u.Email == normalized, cancellationToken);
        if (user is null)
        {
            user = new User { Email = normalized, Name = "Administrator", IsAdmin = true, CreatedAt = time.GetUtcNow() };
            db.Users.Add(user);
            Log.AdminCreated(logger, normalized);
        }
        user.IsAdmin = true;
        if (user.PasswordHash is null || Hasher.VerifyHashedPassword(user, user.PasswordHash, password) == PasswordVerificationResult.Failed)
        {
            user.PasswordHash = Hasher.HashPassword(user, password);
        }
        await db.SaveChangesAsync(cancellationToken);
    }

    /// <summary>The principal for a correct email and password, else null (the caller cannot tell which was wrong).</summary>
    public async Task<ClaimsPrincipal?> SignInAsync(string email, string password, string scheme, CancellationToken cancellationToken)
    {
        var normalized = User.NormalizeEmail(email);
        var user = await db.Users.SingleOrDefaultAsync(u => u.Email == normalized, cancellationToken);
        if (user?.PasswordHash is null)
        {
            // Spend the same time as a real check, so response time does not reveal which emails exist.
            Hasher.HashPassword(new User { Email = normalized, Name = "" }, password);
            return null;
        }
        var verdict = Hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        if (verdict == PasswordVerificationResult.Failed)
        {
            return null;
        }
        if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
        {
            user.PasswordHash = Hasher.HashPassword(user, password);
            await db.SaveChangesAsync(cancellationToken);
        }
        return TenantClaim.Principal(user.Id, user.Name, user.Email, user.IsAdmin, TenantClaim.ValueFor(tenants), scheme);
    }

    public async Task<User> CreateAsync(string email, string name, string? password, bool isAdmin, EmailPreference preference, CancellationToken cancellationToken)
    {
        var user = new User
        {
            Email = User.NormalizeEmail(email),
            Name = name.Trim(),
            IsAdmin = isAdmin,
            EmailPreference = preference,
            CreatedAt = time.GetUtcNow(),
        };
        if (password is not null)
        {
            user.PasswordHash = Hasher.HashPassword(user, password);
        }
        db.Users.Add(user);
        await db.SaveChangesAsync(cancellationToken);
        return user;
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Seeded administrator {Email}")]
        public static partial void AdminCreated(ILogger logger, string email);
    }
}
