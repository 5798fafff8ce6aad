using System.Net;
using System.Net.Sockets;
using System.Security.Claims;

namespace Web.Services;

/// <summary>What became of one sign-in attempt.</summary>
internal abstract record SignInOutcome
{
    private SignInOutcome()
    {
    }

    public sealed record SignedIn(ClaimsPrincipal Principal) : SignInOutcome;

    /// <summary>The email or the password is wrong (the caller cannot tell which, and neither can the user).</summary>
    public sealed record Refused : SignInOutcome;

    /// <summary>Not even checked: the account or the client address is blocked until <see cref="RetryAfter"/> has passed.</summary>
    public sealed record Blocked(SignInBlock Kind, TimeSpan RetryAfter) : SignInOutcome
    {
        /// <summary>Whole seconds, rounded up, for a <c>Retry-After</c> header.</summary>
        public long RetryAfterSeconds => Math.Max(1, (long)Math.Ceiling(RetryAfter.TotalSeconds));

        /// <summary>What the sign-in form and the API's problem say.</summary>
        public string Message => Kind switch
        {
            SignInBlock.Throttled => $"Too many failed sign-ins for this account: wait {Spoken(RetryAfter)} before the next try.",
            SignInBlock.AccountLocked => $"This account is locked after too many failed sign-ins. Try again in {Spoken(RetryAfter)}, or ask an administrator to unlock it.",
            _ => $"Too many failed sign-ins from your network address. Try again in {Spoken(RetryAfter)}.",
        };

        private static string Spoken(TimeSpan wait)
        {
            var seconds = (long)Math.Ceiling(wait.TotalSeconds);
            return seconds switch
            {
                <= 1 => "a second",
                < 90 => $"{seconds} seconds",
                < 90 * 60 => $"{(seconds + 59) / 60} minutes",
                _ => $"{(seconds + 3599) / 3600} hours",
            };
        }
    }
}

internal enum SignInBlock
{
    /// <summary>A short pause after several failures of one account: attempts slow down.</summary>
    Throttled,

    /// <summary>The account is locked after many failures; time or an administrator lifts it.</summary>
    AccountLocked,

    /// <summary>The client address is locked after many failures across accounts.</summary>
    AddressLocked,
}

/// <summary>The client address a sign-in attempt is counted against.</summary>
internal static class ClientAddress
{
    /// <summary>
    /// The remote address (the client's own behind a proxy whose forwarded headers the app honours); IPv4-mapped
    /// addresses as IPv4, and IPv6 by its /64 network, since one client usually holds a whole /64. Null when unknown.
    /// </summary>
    public static string? Of(HttpContext context)
    {
        var address = context.Connection.RemoteIpAddress;
        if (address is null)
        {
            return null;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
        {
            return address.ToString();
        }
        var bytes = address.GetAddressBytes();
        Array.Clear(bytes, 8, 8);
        return new IPAddress(bytes).ToString() + "/64";
    }
}
