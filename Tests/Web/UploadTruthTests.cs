using System.Net;
using System.Net.Http.Headers;

namespace Tests.Web;

/// <summary>Uploads tell the truth about what they received (issue 12, item 4).</summary>
public sealed class UploadTruthTests(TwoTenantWebs webs) : IClassFixture<TwoTenantWebs>
{
    [Fact]
    public async Task A_body_declared_multipart_that_is_not_answers_400_naming_the_problem_and_stores_nothing()
    {
        using var admin = await webs.WebA.AdminAsync();
        var before = await webs.WebA.ScalarAsync("SELECT count(*) FROM imports");
        using var content = new ByteArrayContent("""{"cases":[]}"""u8.ToArray());
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("multipart/form-data; boundary=----not-there");

        using var response = await admin.PostAsync(new Uri("/api/imports", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(["file"], await WebApi.ProblemFieldsAsync(response));
        Assert.Contains("multipart", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(before, await webs.WebA.ScalarAsync("SELECT count(*) FROM imports"));
    }
}
