using System.Security.Claims;
using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Identity;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using Tenancy;
using Web.Infrastructure;

namespace Web.Services;

/// <summary>Users of this tenant: passwords hashed with ASP.NET Core Identity's PBKDF2 hasher.</summary>
internal sealed partial class UserAccounts(
    TenantDbContext db, ITenantSettingsStore tenants, TimeProvider time, IOptions<SignInThrottleOptions> throttling, ILogger<UserAccounts> logger)
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

    /// <summary>
    /// Checks an email and password, counting failures against the account and against <paramref name="address"/>
    /// (<see cref="SignInThrottleOptions"/>): a blocked account or address is refused before the password is looked
    /// at, the right password included. A success forgets the account's failures. Attempts on one account are taken
    /// one at a time across all replicas (its row in the tenant database is locked until the attempt is counted), so
    /// parallel guesses cannot slip past the count.
    /// </summary>
    public async Task<SignInOutcome> SignInAsync(string email, string password, string? address, string scheme, CancellationToken cancellationToken)
    {
        var policy = throttling.Value;
        var normalized = User.NormalizeEmail(email);
        var accountSubject = SignInThrottle.AccountSubject(normalized);
        var addressSubject = address is null ? null : SignInThrottle.AddressSubject(address);
        var now = time.GetUtcNow();

        await using var transaction = await db.Database.BeginTransactionAsync(cancellationToken);
        await db.Database.ExecuteSqlAsync(
            $"INSERT INTO sign_in_throttles (subject, failures, last_failure_at) VALUES ({accountSubject}, 0, {now}) ON CONFLICT (subject) DO NOTHING",
            cancellationToken);
        var account = await db.SignInThrottles.FromSql($"SELECT * FROM sign_in_throttles WHERE subject = {accountSubject} FOR UPDATE").SingleAsync(cancellationToken);
        var addressLock = addressSubject is null ? null
            : await db.SignInThrottles.AsNoTracking().Where(t => t.Subject == addressSubject).Select(t => t.LockedUntil).SingleOrDefaultAsync(cancellationToken);
        if (BlockOf(account, addressLock, policy, now) is { } blocked)
        {
            // Nothing is counted while blocked: the transaction (and the row it may have added) is rolled back.
            return blocked;
        }

        var user = await db.Users.SingleOrDefaultAsync(u => u.Email == normalized, cancellationToken);
        var verdict = PasswordVerificationResult.Failed;
        if (user?.PasswordHash is null)
        {
            // Spend the same time as a real check, so response time does not reveal which emails exist.
            Hasher.HashPassword(new User { Email = normalized, Name = "" }, password);
        }
        else
        {
            verdict = Hasher.VerifyHashedPassword(user, user.PasswordHash, password);
        }

        if (user is not null && verdict != PasswordVerificationResult.Failed)
        {
            if (verdict == PasswordVerificationResult.SuccessRehashNeeded)
            {
                user.PasswordHash = Hasher.HashPassword(user, password);
            }
            db.SignInThrottles.Remove(account);
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            return new SignInOutcome.SignedIn(TenantClaim.Principal(user.Id, user.Name, user.Email, user.IsAdmin, TenantClaim.ValueFor(tenants), scheme));
        }

        account.Failures = account.Failures > 0 && now - account.LastFailureAt > SignInThrottleDefaults.AccountMemory ? 1 : account.Failures + 1;
        account.LastFailureAt = now;
        if (account.Failures >= policy.SIGNIN_LOCKOUT_AFTER)
        {
            account.LockedUntil = now + policy.LockoutFor;
            Log.AccountLocked(logger, normalized, account.LockedUntil.Value, account.Failures, address ?? "an unknown address");
        }
        else if (account.Failures >= policy.SIGNIN_THROTTLE_AFTER)
        {
            account.LockedUntil = now + policy.ThrottleFor;
        }
        await db.SaveChangesAsync(cancellationToken);
        if (addressSubject is not null)
        {
            await CountAddressFailureAsync(addressSubject, address!, policy, now, cancellationToken);
        }
        await ForgetQuietAsync(now, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return new SignInOutcome.Refused();
    }

    private static SignInOutcome.Blocked? BlockOf(SignInThrottle account, DateTimeOffset? addressLockedUntil, SignInThrottleOptions policy, DateTimeOffset now)
    {
        var accountBlock = account.LockedUntil is { } until && until > now
            ? new SignInOutcome.Blocked(account.Failures >= policy.SIGNIN_LOCKOUT_AFTER ? SignInBlock.AccountLocked : SignInBlock.Throttled, until - now)
            : null;
        var addressBlock = addressLockedUntil is { } addressUntil && addressUntil > now
            ? new SignInOutcome.Blocked(SignInBlock.AddressLocked, addressUntil - now)
            : null;
        return accountBlock is null ? addressBlock
            : addressBlock is null ? accountBlock
            : addressBlock.RetryAfter > accountBlock.RetryAfter ? addressBlock : accountBlock;
    }

    /// <summary>
    /// One more failure of the address (failures older than <see cref="SignInThrottleDefaults.AddressMemory"/> are
    /// forgotten); at the limit the address is locked and its count starts over. Atomic without a row lock held
    /// across the password check, so many users behind one address do not queue behind each other.
    /// </summary>
    private async Task CountAddressFailureAsync(string subject, string address, SignInThrottleOptions policy, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var forgetBefore = now - SignInThrottleDefaults.AddressMemory;
        await db.Database.ExecuteSqlAsync($"""
            INSERT INTO sign_in_throttles AS t (subject, failures, last_failure_at) VALUES ({subject}, 1, {now})
            ON CONFLICT (subject) DO UPDATE
            SET failures = CASE WHEN t.last_failure_at < {forgetBefore} THEN 1 ELSE t.failures + 1 END, last_failure_at = {now}
            """, cancellationToken);
        var until = now + policy.LockoutFor;
        var locked = await db.Database.ExecuteSqlAsync(
            $"UPDATE sign_in_throttles SET locked_until = {until}, failures = 0 WHERE subject = {subject} AND failures >= {policy.SIGNIN_ADDRESS_LOCKOUT_AFTER}",
            cancellationToken);
        if (locked > 0)
        {
            Log.AddressLocked(logger, address, until, policy.SIGNIN_ADDRESS_LOCKOUT_AFTER);
        }
    }

    /// <summary>
    /// Deletes a few rows nobody has failed on for a day (and that are not locked), so guesses at made-up emails do
    /// not pile up. Rows another attempt holds are skipped rather than waited for.
    /// </summary>
    private Task<int> ForgetQuietAsync(DateTimeOffset now, CancellationToken cancellationToken)
    {
        var before = now - SignInThrottleDefaults.AccountMemory;
        return db.Database.ExecuteSqlAsync($"""
            DELETE FROM sign_in_throttles WHERE subject IN (
                SELECT subject FROM sign_in_throttles
                WHERE last_failure_at < {before} AND (locked_until IS NULL OR locked_until < {now})
                ORDER BY last_failure_at LIMIT 100 FOR UPDATE SKIP LOCKED)
            """, cancellationToken);
    }

    /// <summary>Lifts a lock on the user's account and forgets its failures; false when there is no such user.</summary>
    public async Task<bool> UnlockAsync(long userId, CancellationToken cancellationToken)
    {
        var email = await db.Users.Where(u => u.Id == userId).Select(u => u.Email).SingleOrDefaultAsync(cancellationToken);
        if (email is null)
        {
            return false;
        }
        var subject = SignInThrottle.AccountSubject(email);
        await db.SignInThrottles.Where(t => t.Subject == subject).ExecuteDeleteAsync(cancellationToken);
        Log.AccountUnlocked(logger, email);
        return true;
    }

    /// <summary>A page of the tenant's users by email, each with its sign-in state (failures counted and any lock).</summary>
    public async Task<Paged<Apis.UserDto>> ListAsync(PageRequest request, CancellationToken cancellationToken)
    {
        var users = await db.Users.AsNoTracking().OrderBy(u => u.Email).ToPagedAsync(request, cancellationToken);
        var subjects = users.Items.Select(u => SignInThrottle.AccountSubject(u.Email)).ToList();
        var throttles = await db.SignInThrottles.AsNoTracking().Where(t => subjects.Contains(t.Subject)).ToDictionaryAsync(t => t.Subject, cancellationToken);
        var now = time.GetUtcNow();
        return users.Select(u =>
        {
            var throttle = throttles.GetValueOrDefault(SignInThrottle.AccountSubject(u.Email));
            return new Apis.UserDto(u.Id, u.Email, u.Name, u.IsAdmin, u.EmailPreference, u.PasswordHash is not null, throttle?.Failures ?? 0,
                throttle?.LockedUntil is { } until && until > now ? until : null);
        });
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

        [LoggerMessage(2, LogLevel.Warning, "Sign-in to account {Email} locked until {LockedUntil:o} after {Failures} failed attempts; the last came from {ClientAddress}")]
        public static partial void AccountLocked(ILogger logger, string email, DateTimeOffset lockedUntil, int failures, string clientAddress);

        [LoggerMessage(3, LogLevel.Warning, "Sign-in from address {ClientAddress} locked until {LockedUntil:o} after {Failures} failed attempts within an hour")]
        public static partial void AddressLocked(ILogger logger, string clientAddress, DateTimeOffset lockedUntil, int failures);

        [LoggerMessage(4, LogLevel.Information, "Sign-in to account {Email} unlocked by an administrator")]
        public static partial void AccountUnlocked(ILogger logger, string email);
    }
}
