using Tenancy;

namespace Tests.Tenancy;

public sealed class TenantSettingsTests
{
    [Fact]
    public void ToString_hides_the_database_password_and_the_signing_key()
    {
        var settings = new TenantSettings("postgresql://u:db-secret@db/app", "http://es:9200", "idx", "https://a.example", "signing-secret");

        var text = settings.ToString();

        Assert.DoesNotContain("db-secret", text, StringComparison.Ordinal);
        Assert.DoesNotContain("signing-secret", text, StringComparison.Ordinal);
        Assert.Contains("https://a.example", text, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_does_not_throw_for_an_invalid_database_url()
    {
        Assert.Contains("BaseUrl", new TenantSettings("not a url").ToString(), StringComparison.Ordinal);
    }
}
