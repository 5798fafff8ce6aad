using Tenancy;

namespace Tests.Tenancy;

public sealed class TenantIdTests
{
    [Theory]
    [InlineData("ab")]
    [InlineData("tenant-a")]
    [InlineData("t1")]
    [InlineData("42")]
    [InlineData("a-b-c")]
    [InlineData("acme-2024-eu")]
    [InlineData("abcdefghijabcdefghijabcdefghijabcdefghij")] // 40 characters
    public void Accepts_ids_that_follow_the_rule(string value)
    {
        Assert.True(TenantId.TryParse(value, out var id, out var error), error);
        Assert.Equal(value, id.Value);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("")]
    [InlineData("Tenant-A")]
    [InlineData("tenant_a")]
    [InlineData("-tenant")]
    [InlineData("tenant-")]
    [InlineData("tenant--a")]
    [InlineData("tenant a")]
    [InlineData("tenant.a")]
    [InlineData("ténant")]
    [InlineData("abcdefghijabcdefghijabcdefghijabcdefghijk")] // 41 characters
    public void Refuses_ids_that_break_the_rule_naming_the_id(string value)
    {
        Assert.False(TenantId.TryParse(value, out _, out var error));
        Assert.Contains($"'{value}'", error, StringComparison.Ordinal);
        var thrown = Assert.Throws<FormatException>(() => TenantId.Parse(value));
        Assert.Contains($"'{value}'", thrown.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tenant-a", "TENANT_A")]
    [InlineData("ab", "AB")]
    [InlineData("acme-2024-eu", "ACME_2024_EU")]
    public void Maps_to_variable_form_and_back(string value, string variableForm)
    {
        Assert.Equal(variableForm, TenantId.Parse(value).VariableForm);
        Assert.Equal(TenantId.Parse(value), TenantId.FromVariableForm(variableForm));
    }

    [Theory]
    [InlineData("tenant-a")]
    [InlineData("x1-y2-z3")]
    [InlineData("99-bottles")]
    public void Round_trips_through_variable_form(string value)
    {
        var id = TenantId.Parse(value);
        Assert.Equal(id, TenantId.FromVariableForm(id.VariableForm));
    }

    [Theory]
    [InlineData("tenant_a")]
    [InlineData("TENANT-A")]
    [InlineData("TENANT__A")]
    [InlineData("_TENANT")]
    [InlineData("TENANT_")]
    [InlineData("A")]
    [InlineData("")]
    [InlineData("TENANT A")]
    public void FromVariableForm_refuses_names_that_are_not_an_exact_variable_form(string variableForm)
    {
        var thrown = Assert.Throws<FormatException>(() => TenantId.FromVariableForm(variableForm));
        Assert.Contains($"'{variableForm}'", thrown.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_default_id_has_an_empty_variable_form_instead_of_throwing()
    {
        Assert.Equal(string.Empty, default(TenantId).VariableForm);
    }
}
