using Microsoft.AspNetCore.Mvc.ModelBinding;
using Web.Services;

namespace Web.Pages;

internal static class PageErrors
{
    /// <summary>Shows a domain refusal next to the form field it names (<paramref name="prefix"/> + the field in PascalCase).</summary>
    public static void AddRefusal(this ModelStateDictionary modelState, string prefix, InvalidRequestException refusal) =>
        modelState.AddModelError(prefix + "." + char.ToUpperInvariant(refusal.Field[0]) + refusal.Field[1..], refusal.Message);
}
