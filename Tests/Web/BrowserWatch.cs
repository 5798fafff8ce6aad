using System.Collections.Concurrent;
using Microsoft.Playwright;

namespace Tests.Web;

/// <summary>
/// Headless Chromium (Debian's, never a downloaded one) with what a test watches for on every page it opens:
/// Content-Security-Policy violations (the <c>securitypolicyviolation</c> event, reported from each page as it
/// happens, and the console's CSP messages), uncaught page errors, console errors and dialogs.
/// </summary>
internal sealed class BrowserWatch : IAsyncDisposable
{
    public const float UiTimeoutMs = 30_000;

    private readonly IPlaywright _playwright;
    private readonly IBrowser _browser;

    private BrowserWatch(IPlaywright playwright, IBrowser browser)
    {
        _playwright = playwright;
        _browser = browser;
    }

    public ConcurrentQueue<string> CspViolations { get; } = new();

    public ConcurrentQueue<string> PageErrors { get; } = new();

    public ConcurrentQueue<string> ConsoleErrors { get; } = new();

    public ConcurrentQueue<string> Dialogs { get; } = new();

    public static async Task<BrowserWatch> LaunchAsync()
    {
        Environment.SetEnvironmentVariable("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1");
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = "/usr/bin/chromium",
                Headless = true,
                Args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
            });
            return new BrowserWatch(playwright, browser);
        }
        catch
        {
            playwright.Dispose();
            throw;
        }
    }

    /// <summary>A fresh context (no cookies) whose pages report to this watch.</summary>
    public async Task<IBrowserContext> NewContextAsync(Uri baseAddress)
    {
        var context = await _browser.NewContextAsync(new() { BaseURL = baseAddress.ToString(), ViewportSize = new() { Width = 1280, Height = 900 } });
        context.SetDefaultTimeout(UiTimeoutMs);
        Assertions.SetDefaultExpectTimeout(UiTimeoutMs);
        await context.ExposeFunctionAsync("__reportCspViolation", (string violation) => CspViolations.Enqueue(violation));
        // Runs in every document before its own scripts, outside the page's CSP (the DevTools protocol injects it).
        await context.AddInitScriptAsync("""
            document.addEventListener('securitypolicyviolation', e =>
                window.__reportCspViolation(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber} on ${location.pathname}`));
            """);
        context.Page += (_, page) => Watch(page);
        return context;
    }

    private void Watch(IPage page)
    {
        page.PageError += (_, error) => PageErrors.Enqueue($"{page.Url}: {error}");
        page.Console += (_, message) =>
        {
            if (message.Text.Contains("Content Security Policy", StringComparison.OrdinalIgnoreCase))
            {
                CspViolations.Enqueue($"console on {page.Url}: {message.Text}");
            }
            else if (message.Type == "error")
            {
                ConsoleErrors.Enqueue($"{page.Url}: {message.Text}");
            }
        };
        page.Dialog += async (_, dialog) =>
        {
            Dialogs.Enqueue($"{page.Url}: {dialog.Type} {dialog.Message}");
            await dialog.DismissAsync();
        };
    }

    public static async Task SaveScreenshotAsync(IPage page, string name)
    {
        var directory = Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");
        Directory.CreateDirectory(directory);
        var png = await page.ScreenshotAsync(new() { Path = Path.Combine(directory, name), FullPage = true });
        TestContext.Current.AddAttachment(name, png, "image/png");
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }
}
