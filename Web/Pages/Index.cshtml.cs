using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;

namespace Web.Pages;

internal sealed class IndexModel : PageModel
{
    public IActionResult OnGet() => RedirectToPage("/Projects/Index");
}
