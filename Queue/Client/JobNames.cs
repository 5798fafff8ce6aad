using System.Text.RegularExpressions;

namespace Queue;

internal static partial class JobNames
{
    public const int MaxLength = 200;

    public static void ValidateQueue(string queue)
    {
        ArgumentNullException.ThrowIfNull(queue);
        if (!QueueRule().IsMatch(queue))
        {
            throw new ArgumentException($"Invalid queue name '{queue}': use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit.", nameof(queue));
        }
    }

    public static void ValidateName(string name, string what, string parameter)
    {
        if (string.IsNullOrWhiteSpace(name) || name.Length > MaxLength || name.Any(char.IsControl))
        {
            throw new ArgumentException($"Invalid {what} '{name}': 1 to {MaxLength} characters without control characters.", parameter);
        }
    }

    [GeneratedRegex("^[a-z0-9][a-z0-9._-]{0,63}$", RegexOptions.CultureInvariant)]
    private static partial Regex QueueRule();
}
