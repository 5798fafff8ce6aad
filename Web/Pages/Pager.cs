using System.Globalization;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Web.Infrastructure;

namespace Web.Pages;

/// <summary>
/// The line under a paged list (Shared/_Pager): which items the page shows out of how many, and links to the pages
/// before and after that keep every other parameter of the address (a page with two lists pages each on its own).
/// The parameter is <c>p</c> by default, never <c>page</c>: Razor Pages keep the page's own name in the route value
/// <c>page</c>, which a page-number property named so would bind instead.
/// </summary>
public sealed record Pager(long Total, int Page, int PageCount, long First, long Last, string Parameter, string Singular, string Plural)
{
    public static Pager Of<T>(Paged<T> list, string singular, string plural, string parameter = "p") =>
        new(list.Total, list.Page, list.PageCount, list.FirstNumber, list.LastNumber, parameter, singular, plural);

    public string Summary => Total switch
    {
        0 => $"No {Plural}",
        1 => $"1 {Singular}",
        _ when PageCount == 1 => $"{Number(Total)} {Plural}",
        _ => $"{Number(First)}–{Number(Last)} of {Number(Total)} {Plural}",
    };

    /// <summary>The address of page <paramref name="page"/>: this request's path and query with the page parameter replaced.</summary>
    public string Href(HttpRequest request, int page)
    {
        ArgumentNullException.ThrowIfNull(request);
        var query = QueryHelpers.ParseQuery(request.QueryString.Value);
        // A list refreshed in place (a page handler's partial) links to the page itself, not to the fragment.
        query.Remove("handler");
        query[Parameter] = page.ToString(CultureInfo.InvariantCulture);
        return request.PathBase + request.Path + QueryString.Create(query.Select(p => new KeyValuePair<string, StringValues>(p.Key, p.Value)));
    }

    public static string Number(long value) => value.ToString("N0", CultureInfo.InvariantCulture);
}
