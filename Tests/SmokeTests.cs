using Tenancy;

namespace Tests;

public sealed class SmokeTests
{
    [Fact]
    public void Tenant_id_maps_to_variable_form()
    {
        Assert.Equal("TENANT_A", TenantId.Parse("tenant-a").VariableForm);
    }
}
