using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Tests.Docs;

/// <summary>
/// The README and the documents under docs/ (and the projects' READMEs) lead a reader through a clone of this
/// repository, which has nothing beside it: every relative link resolves to a file of the repository, and a link to a
/// heading to a heading of that file. Links to public web addresses are not followed.
/// </summary>
public sealed partial class DocumentationLinksTests
{
    [Fact]
    public void Every_relative_link_resolves_to_a_file_and_heading_of_the_repository()
    {
        var broken = Documents().SelectMany(document => Links(document)
                .Where(link => !IsExternal(link.Target))
                .Select(link => (link, problem: Problem(document, link.Target)))
                .Where(x => x.problem is not null)
                .Select(x => $"{Relative(document)}:{x.link.Line}: {x.link.Target}: {x.problem}"))
            .ToList();

        Assert.True(broken.Count == 0, "Broken links:\n" + string.Join('\n', broken));
    }

    [Fact]
    public void The_readme_leads_to_the_architecture_operations_publishing_and_performance_documents()
    {
        var targets = Links(Path.Combine(Root, "README.md")).Select(l => l.Target.Split('#')[0]).ToHashSet(StringComparer.Ordinal);

        Assert.Superset(new HashSet<string>(StringComparer.Ordinal) { "docs/architecture.md", "docs/operations.md", "docs/publishing.md", "docs/performance.md" }, targets);
    }

    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Aspire.sln")))
            {
                return directory.FullName;
            }
        }
        throw new InvalidOperationException($"No Aspire.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>README.md, docs/*.md and every project's *.md (build output and packages aside).</summary>
    private static IEnumerable<string> Documents() =>
        Directory.EnumerateFiles(Root, "*.md", SearchOption.AllDirectories)
            .Where(path => !Relative(path).Split('/').Any(part => part is "bin" or "obj" or "node_modules" or "TestResults" || part.StartsWith('.')))
            .Order(StringComparer.Ordinal);

    private static string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');

    private static bool IsExternal(string target) =>
        target.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("https://", StringComparison.OrdinalIgnoreCase)
        || target.StartsWith("mailto:", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why a link does not resolve inside the repository, or null when it does.</summary>
    private static string? Problem(string document, string target)
    {
        var hash = target.IndexOf('#', StringComparison.Ordinal);
        var path = Uri.UnescapeDataString(hash < 0 ? target : target[..hash]);
        var anchor = hash < 0 ? null : target[(hash + 1)..];
        if (Path.IsPathRooted(path) || path.StartsWith('~'))
        {
            return "an absolute path, which a clone does not have";
        }
        var file = path.Length == 0 ? document : Path.GetFullPath(Path.Combine(Path.GetDirectoryName(document)!, path));
        if (!file.StartsWith(Root + Path.DirectorySeparatorChar, StringComparison.Ordinal) && file != Root)
        {
            return "outside the repository";
        }
        if (!File.Exists(file) && !Directory.Exists(file))
        {
            return "no such file";
        }
        if (anchor is not null && file.EndsWith(".md", StringComparison.Ordinal) && !Headings(file).Contains(anchor))
        {
            return $"no heading #{anchor} in {Relative(file)}";
        }
        return null;
    }

    private sealed record Link(int Line, string Target);

    /// <summary>Markdown links and images, and HTML <c>src</c>/<c>href</c>, outside code blocks and code spans.</summary>
    private static IEnumerable<Link> Links(string document)
    {
        var inFence = false;
        var number = 0;
        foreach (var raw in File.ReadLines(document))
        {
            number++;
            if (raw.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }
            if (inFence)
            {
                continue;
            }
            var line = CodeSpan().Replace(raw, "");
            foreach (Match match in MarkdownLink().Matches(line))
            {
                yield return new Link(number, match.Groups["target"].Value);
            }
            foreach (Match match in HtmlLink().Matches(line))
            {
                yield return new Link(number, match.Groups["target"].Value);
            }
        }
    }

    /// <summary>The anchors GitHub gives a file's headings: lower case, punctuation dropped, spaces as hyphens.</summary>
    private static HashSet<string> Headings(string file)
    {
        var anchors = new HashSet<string>(StringComparer.Ordinal);
        var inFence = false;
        foreach (var line in File.ReadLines(file))
        {
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal))
            {
                inFence = !inFence;
                continue;
            }
            if (inFence || !line.StartsWith('#'))
            {
                continue;
            }
            var text = line.TrimStart('#').Trim();
            var slug = new StringBuilder();
            foreach (var c in text.ToLowerInvariant())
            {
                if (char.IsLetterOrDigit(c) || c is '-' or '_')
                {
                    slug.Append(c);
                }
                else if (c == ' ')
                {
                    slug.Append('-');
                }
            }
            var anchor = slug.ToString();
            for (var n = 1; !anchors.Add(anchor); n++)
            {
                anchor = slug + "-" + n.ToString(CultureInfo.InvariantCulture);
            }
        }
        return anchors;
    }

    [GeneratedRegex(@"`[^`]*`")]
    private static partial Regex CodeSpan();

    [GeneratedRegex(@"!?\[[^\]]*\]\((?<target>[^)\s]+)(\s+""[^""]*"")?\)")]
    private static partial Regex MarkdownLink();

    [GeneratedRegex(@"<(?:img|a)\s[^>]*(?:src|href)=""(?<target>[^""]+)""", RegexOptions.IgnoreCase)]
    private static partial Regex HtmlLink();
}
