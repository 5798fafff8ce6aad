using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Web.Services;

namespace Web.Pages;

internal sealed class SearchModel(SearchService search) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? Q { get; set; }

    public IReadOnlyList<SearchHit> Hits { get; private set; } = [];

    public string Source { get; private set; } = "";

    public async Task OnGetAsync(CancellationToken cancellationToken) =>
        (Hits, Source) = await search.SearchAsync(Q ?? "", cancellationToken);
}
