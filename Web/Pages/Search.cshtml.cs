using Domain.Search;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Mvc.RazorPages;
using Web.Services;

namespace Web.Pages;

internal sealed class SearchModel(SearchService search) : PageModel
{
    [BindProperty(SupportsGet = true)]
    public string? Q { get; set; }

    // Not "page": Razor Pages keep the page's own name in the route value "page", which a property named so would bind instead.
    [BindProperty(Name = "p", SupportsGet = true)]
    public int? PageNumber { get; set; }

    public SearchResults Results { get; private set; } = SearchResults.Empty(SearchEngines.PostgreSql, SearchLimits.DefaultPageSize);

    /// <summary>The engine that serves this tenant, shown even before anything is searched.</summary>
    public string Engine { get; private set; } = SearchEngines.PostgreSql;

    public bool HasNextPage => Results.Page * Results.PageSize < Math.Min(Results.Total, SearchLimits.MaxWindow);

    public async Task OnGetAsync(CancellationToken cancellationToken)
    {
        Engine = search.Engine;
        Results = await search.SearchAsync(Q, PageNumber, SearchLimits.DefaultPageSize, cancellationToken);
    }
}
