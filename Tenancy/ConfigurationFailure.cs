using Microsoft.Extensions.Options;

namespace Tenancy;

/// <summary>
/// How a service ends on a configuration error: exit code 1 and one line naming the source, tenant and field,
/// without a stack trace (an operator fixes a setting, not code). Covers <see cref="TenantConfigurationException"/>
/// and <see cref="OptionsValidationException"/> wherever they surface unhandled, also wrapped.
/// </summary>
public static class ConfigurationFailure
{
    private static int _installed;

    /// <summary>Installs the process-wide handler once; later calls do nothing.</summary>
    public static void ExitOnUnhandled()
    {
        if (Interlocked.Exchange(ref _installed, 1) == 1)
        {
            return;
        }
        AppDomain.CurrentDomain.UnhandledException += (_, e) =>
        {
            if (e.ExceptionObject is Exception exception && Describe(exception) is { } message)
            {
                Console.Error.WriteLine($"{AppDomain.CurrentDomain.FriendlyName}: configuration error: {message}");
                Console.Error.Flush();
                Environment.Exit(1);
            }
        };
    }

    /// <summary>The message of the configuration error in <paramref name="exception"/> (or its inner ones), or null.</summary>
    public static string? Describe(Exception exception)
    {
        for (var (e, depth) = (exception, 0); e is not null && depth < 16; (e, depth) = (e.InnerException, depth + 1))
        {
            switch (e)
            {
                case TenantConfigurationException t:
                    return t.Message;
                case OptionsValidationException o:
                    return $"{o.OptionsType.Name}: {string.Join("; ", o.Failures)}";
                case AggregateException { InnerExceptions.Count: > 0 } a:
                    return a.InnerExceptions.Select(Describe).FirstOrDefault(m => m is not null);
            }
        }
        return null;
    }
}
