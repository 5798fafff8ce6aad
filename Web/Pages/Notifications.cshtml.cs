using Domain.Infrastructure;
using Domain.Model;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Microsoft.EntityFrameworkCore;
using Web.Infrastructure;

namespace Web.Pages;

internal sealed class NotificationsModel(TenantDbContext db) : PageModel
{
    public const int PageSize = 50;

    public Paged<Notification> Items { get; private set; } = null!;

    public EmailPreference EmailPreference { get; private set; }

    [BindProperty(SupportsGet = true, Name = "p")]
    public int? PageNumber { get; set; }

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        var userId = User.UserId();
        Items = await db.Notifications.AsNoTracking().Where(n => n.UserId == userId).OrderByDescending(n => n.Id)
            .ToPagedAsync(PageRequest.ForPage(PageNumber, PageSize), cancellationToken);
        EmailPreference = await db.Users.Where(u => u.Id == userId).Select(u => u.EmailPreference).SingleOrDefaultAsync(cancellationToken);
    }

    public async Task<IActionResult> OnPostReadAsync(long notificationId, CancellationToken cancellationToken)
    {
        var userId = User.UserId();
        var updated = await db.Notifications.Where(n => n.Id == notificationId && n.UserId == userId)
            .ExecuteUpdateAsync(s => s.SetProperty(n => n.IsRead, true), cancellationToken);
        return updated == 0 ? NotFound() : Redirect(PageNumber is > 1 ? $"/notifications?p={PageNumber}" : "/notifications");
    }

    public async Task<IActionResult> OnPostReadAllAsync(CancellationToken cancellationToken)
    {
        var userId = User.UserId();
        await db.Notifications.Where(n => n.UserId == userId && !n.IsRead).ExecuteUpdateAsync(s => s.SetProperty(n => n.IsRead, true), cancellationToken);
        return Redirect("/notifications");
    }
}
