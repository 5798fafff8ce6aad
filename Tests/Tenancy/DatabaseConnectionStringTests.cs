using Npgsql;
using Tenancy;

namespace Tests.Tenancy;

/// <summary>Conversions are checked by parsing the result with Npgsql itself, which the library does not reference.</summary>
public sealed class DatabaseConnectionStringTests
{
    private static NpgsqlConnectionStringBuilder Convert(string url) => new(DatabaseConnectionString.FromUrl(url));

    [Fact]
    public void Converts_a_full_postgresql_url()
    {
        var b = Convert("postgresql://app:secret@db.internal:6543/tenant_a?sslmode=require");

        Assert.Equal("db.internal", b.Host);
        Assert.Equal(6543, b.Port);
        Assert.Equal("tenant_a", b.Database);
        Assert.Equal("app", b.Username);
        Assert.Equal("secret", b.Password);
        Assert.Equal(SslMode.Require, b.SslMode);
    }

    [Fact]
    public void Accepts_the_postgres_scheme()
    {
        var b = Convert("postgres://app:secret@localhost/db");

        Assert.Equal("localhost", b.Host);
        Assert.Equal("db", b.Database);
    }

    [Fact]
    public void Leaves_the_port_out_when_the_url_has_none()
    {
        Assert.DoesNotContain("Port", DatabaseConnectionString.FromUrl("postgresql://u:p@db/app"), StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Percent_decodes_user_and_password_and_keeps_special_characters_in_one_value()
    {
        var b = Convert("postgresql://us%40er:p%40ss%3Bw%3Dord%22%27%2F@db:5432/app");

        Assert.Equal("us@er", b.Username);
        Assert.Equal("p@ss;w=ord\"'/", b.Password);
        Assert.Equal("db", b.Host);
    }

    [Fact]
    public void Keeps_a_raw_slash_in_the_password_out_of_the_database_name()
    {
        var b = Convert("postgresql://u:pa/ss@db/app");

        Assert.Equal("pa/ss", b.Password);
        Assert.Equal("app", b.Database);
    }

    [Fact]
    public void Converts_an_IPv6_host()
    {
        var b = Convert("postgresql://u:p@[::1]:5433/app");

        Assert.Equal("::1", b.Host);
        Assert.Equal(5433, b.Port);
    }

    [Fact]
    public void Converts_several_hosts_to_the_multi_host_form()
    {
        var b = Convert("postgresql://u:p@db1:5432,db2:5433/app?target_session_attrs=primary");

        Assert.Equal("db1:5432,db2:5433", b.Host);
        Assert.Equal("primary", b.TargetSessionAttributes);
    }

    [Theory]
    [InlineData("disable", SslMode.Disable)]
    [InlineData("prefer", SslMode.Prefer)]
    [InlineData("verify-ca", SslMode.VerifyCA)]
    [InlineData("verify-full", SslMode.VerifyFull)]
    public void Maps_libpq_sslmode_values(string sslmode, SslMode expected)
    {
        Assert.Equal(expected, Convert($"postgresql://u:p@db/app?sslmode={sslmode}").SslMode);
    }

    [Fact]
    public void Maps_the_Prisma_schema_parameter_to_the_search_path()
    {
        Assert.Equal("public", Convert("postgresql://u:p@db/app?schema=public").SearchPath);
    }

    [Fact]
    public void Returns_a_key_value_connection_string_unchanged()
    {
        const string ConnectionString = "Host=db;Port=5432;Database=app;Username=u;Password=p";

        Assert.Equal(ConnectionString, DatabaseConnectionString.FromUrl(ConnectionString));
    }

    [Theory]
    [InlineData("mysql://u:p@db/app", "scheme 'mysql'")]
    [InlineData("postgresql://u:p@/app", "no host")]
    [InlineData("postgresql://u:p@db:0/app", "port '0'")]
    [InlineData("postgresql://u:p@db:70000/app", "port '70000'")]
    [InlineData("postgresql://u:p@db/app?sslmode=sometimes", "sslmode 'sometimes'")]
    [InlineData("postgresql://u:p@db/app?pgbouncer=true", "query parameter 'pgbouncer'")]
    [InlineData("postgresql://u:p@[::1/app", "closing ']'")]
    [InlineData("", "empty")]
    [InlineData("localhost", "neither a postgresql:// URL nor a key=value connection string")]
    [InlineData("Host=db;Password=\"unterminated", "not a well-formed key=value connection string")]
    public void Refuses_what_it_cannot_convert_saying_why(string value, string problem)
    {
        var thrown = Assert.Throws<FormatException>(() => DatabaseConnectionString.FromUrl(value));

        Assert.Contains(problem, thrown.Message, StringComparison.Ordinal);
    }
}
