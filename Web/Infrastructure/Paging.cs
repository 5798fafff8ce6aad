using System.Text.Json.Serialization;
using Microsoft.EntityFrameworkCore;
using Web.Services;

namespace Web.Infrastructure;

/// <summary>
/// One page of a list and the size of the whole: every list the API and the pages show comes a page at a time, so
/// no response grows with the data. In JSON: <c>items</c>, <c>page</c> (from 1), <c>pageSize</c> and <c>total</c>.
/// </summary>
public sealed record Paged<T>(IReadOnlyList<T> Items, int Page, int PageSize, long Total)
{
    /// <summary>At least 1: an empty list has one (empty) page.</summary>
    [JsonIgnore]
    public int PageCount => Total == 0 ? 1 : (int)Math.Min(int.MaxValue, (Total + PageSize - 1) / PageSize);

    /// <summary>The 1-based position of the page's first item in the whole list (0 when the page is empty).</summary>
    [JsonIgnore]
    public long FirstNumber => Items.Count == 0 ? 0 : ((long)Page - 1) * PageSize + 1;

    [JsonIgnore]
    public long LastNumber => Items.Count == 0 ? 0 : FirstNumber + Items.Count - 1;

    public Paged<TOut> Select<TOut>(Func<T, TOut> map) => new([.. Items.Select(map)], Page, PageSize, Total);
}

/// <summary>Which page of a list to read.</summary>
public readonly record struct PageRequest(int Page, int PageSize, bool ClampToLastPage = false)
{
    public const int DefaultApiPageSize = 50;
    public const int MaxApiPageSize = 200;

    public int Offset => (int)Math.Min(int.MaxValue, ((long)Page - 1) * PageSize);

    /// <summary>
    /// The API's <c>page</c> and <c>pageSize</c> query parameters: <c>page</c> from 1, <c>pageSize</c> from 1 to
    /// <paramref name="maxSize"/>; anything else is refused with a 400 that names the parameter. A page past the end is
    /// empty (its <c>total</c> still says how many there are).
    /// </summary>
    public static PageRequest ForApi(int? page, int? pageSize, int defaultSize = DefaultApiPageSize, int maxSize = MaxApiPageSize)
    {
        if (page is < 1)
        {
            throw new InvalidRequestException("page", $"Page {page} does not exist: pages are numbered from 1.");
        }
        if (pageSize is { } size && (size < 1 || size > maxSize))
        {
            throw new InvalidRequestException("pageSize", $"A page holds 1 to {maxSize} items; {size} is outside that.");
        }
        return new PageRequest(page ?? 1, pageSize ?? defaultSize);
    }

    /// <summary>A page number from a link of the site's own pages: below 1 reads the first page, past the end the last.</summary>
    public static PageRequest ForPage(int? page, int size) => new(Math.Max(1, page ?? 1), size, ClampToLastPage: true);
}

internal static class PagingExtensions
{
    /// <summary>The total, then one page of <paramref name="query"/> (which must be ordered, or pages would overlap).</summary>
    public static async Task<Paged<T>> ToPagedAsync<T>(this IQueryable<T> query, PageRequest request, CancellationToken cancellationToken)
    {
        var total = await query.LongCountAsync(cancellationToken);
        var page = request.Page;
        if (request.ClampToLastPage && total > 0 && ((long)page - 1) * request.PageSize >= total)
        {
            page = (int)((total + request.PageSize - 1) / request.PageSize);
        }
        var effective = request with { Page = page };
        var items = total == 0 ? [] : await query.Skip(effective.Offset).Take(request.PageSize).ToListAsync(cancellationToken);
        return new Paged<T>(items, page, request.PageSize, total);
    }
}
