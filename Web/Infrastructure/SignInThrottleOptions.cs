using System.ComponentModel.DataAnnotations;

namespace Web.Infrastructure;

/// <summary>
/// How failed sign-ins slow down and then lock an account, and lock a client address, from environment variables of
/// the same names. The state lives in the tenant database, so every replica of the tenant's web app enforces the same
/// lock. Defaults in <see cref="SignInThrottleDefaults"/>; docs/security.md describes the policy.
/// </summary>
internal sealed class SignInThrottleOptions
{
    /// <summary>
    /// From this many consecutive failures of one account on, each further failure blocks the account for
    /// <see cref="SIGNIN_THROTTLE_SECONDS"/>. A value at or above <see cref="SIGNIN_LOCKOUT_AFTER"/> turns the slow-down off.
    /// </summary>
    [Range(1, 10_000)]
    public int SIGNIN_THROTTLE_AFTER { get; set; } = SignInThrottleDefaults.ThrottleAfter;

    [Range(1, 3600)]
    public int SIGNIN_THROTTLE_SECONDS { get; set; } = SignInThrottleDefaults.ThrottleSeconds;

    /// <summary>From this many consecutive failures of one account on, each further failure locks it for <see cref="SIGNIN_LOCKOUT_SECONDS"/>.</summary>
    [Range(1, 10_000)]
    public int SIGNIN_LOCKOUT_AFTER { get; set; } = SignInThrottleDefaults.LockoutAfter;

    [Range(1, 7 * 24 * 3600)]
    public int SIGNIN_LOCKOUT_SECONDS { get; set; } = SignInThrottleDefaults.LockoutSeconds;

    /// <summary>This many failures from one client address (any accounts) within an hour lock the address for <see cref="SIGNIN_LOCKOUT_SECONDS"/>.</summary>
    [Range(1, 1_000_000)]
    public int SIGNIN_ADDRESS_LOCKOUT_AFTER { get; set; } = SignInThrottleDefaults.AddressLockoutAfter;

    public TimeSpan ThrottleFor => TimeSpan.FromSeconds(SIGNIN_THROTTLE_SECONDS);

    public TimeSpan LockoutFor => TimeSpan.FromSeconds(SIGNIN_LOCKOUT_SECONDS);
}

internal static class SignInThrottleDefaults
{
    public const int ThrottleAfter = 5;
    public const int ThrottleSeconds = 30;
    public const int LockoutAfter = 20;
    public const int LockoutSeconds = 15 * 60;
    public const int AddressLockoutAfter = 100;

    /// <summary>An account's failures are forgotten this long after the last one (a success or an unlock forgets them at once).</summary>
    public static readonly TimeSpan AccountMemory = TimeSpan.FromHours(24);

    /// <summary>An address's failures are forgotten this long after the last one; its count also starts over when it is locked.</summary>
    public static readonly TimeSpan AddressMemory = TimeSpan.FromHours(1);
}
