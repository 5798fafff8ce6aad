using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Domain.Infrastructure.Migrations
{
    /// <summary>
    /// PostgreSQL full-text search kept by the database itself: a weighted <c>search_vector</c> on test_cases,
    /// test_runs and external_issues, filled by a trigger on every insert and on updates of the searched columns
    /// (so whatever writes a row, EF, the Testmo import's set-based INSERT or plain SQL, leaves it searchable),
    /// and a GIN index on each. The text search configuration is the single row of <c>search_settings</c>;
    /// <c>search_set_language(regconfig)</c> changes it and rebuilds every vector in the same transaction. The columns
    /// are not in the EF model: nothing in .NET writes them, and reading them back after every insert would be waste.
    /// </summary>
    public partial class SearchVectors : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE TABLE search_settings (
                    id integer PRIMARY KEY CONSTRAINT ck_search_settings_single_row CHECK (id = 1),
                    language regconfig NOT NULL);
                INSERT INTO search_settings (id, language) VALUES (1, 'english');

                CREATE FUNCTION search_language() RETURNS regconfig
                LANGUAGE sql STABLE PARALLEL SAFE
                AS $$ SELECT language FROM search_settings WHERE id = 1 $$;

                -- Titles weigh most (A), descriptions next (B); references and statuses are matched without stemming.
                CREATE FUNCTION test_case_search_vector(language regconfig, title text, description text, external_ref text) RETURNS tsvector
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT setweight(to_tsvector(language, coalesce(title, '')), 'A')
                          || setweight(to_tsvector(language, coalesce(description, '')), 'B')
                          || setweight(to_tsvector('simple', coalesce(external_ref, '')), 'C') $$;

                CREATE FUNCTION test_run_search_vector(language regconfig, name text, external_ref text) RETURNS tsvector
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT setweight(to_tsvector(language, coalesce(name, '')), 'A')
                          || setweight(to_tsvector('simple', coalesce(external_ref, '')), 'C') $$;

                CREATE FUNCTION external_issue_search_vector(language regconfig, key text, title text, status text) RETURNS tsvector
                LANGUAGE sql IMMUTABLE PARALLEL SAFE
                AS $$ SELECT setweight(to_tsvector('simple', coalesce(key, '')), 'A')
                          || setweight(to_tsvector(language, coalesce(title, '')), 'A')
                          || setweight(to_tsvector('simple', coalesce(status, '')), 'C') $$;

                ALTER TABLE test_cases ADD COLUMN search_vector tsvector;
                ALTER TABLE test_runs ADD COLUMN search_vector tsvector;
                ALTER TABLE external_issues ADD COLUMN search_vector tsvector;
                UPDATE test_cases SET search_vector = test_case_search_vector('english', title, description, external_ref);
                UPDATE test_runs SET search_vector = test_run_search_vector('english', name, external_ref);
                UPDATE external_issues SET search_vector = external_issue_search_vector('english', key, title, status);

                CREATE FUNCTION test_cases_search_vector_trigger() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN NEW.search_vector := test_case_search_vector(search_language(), NEW.title, NEW.description, NEW.external_ref); RETURN NEW; END $$;
                CREATE FUNCTION test_runs_search_vector_trigger() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN NEW.search_vector := test_run_search_vector(search_language(), NEW.name, NEW.external_ref); RETURN NEW; END $$;
                CREATE FUNCTION external_issues_search_vector_trigger() RETURNS trigger LANGUAGE plpgsql
                AS $$ BEGIN NEW.search_vector := external_issue_search_vector(search_language(), NEW.key, NEW.title, NEW.status); RETURN NEW; END $$;

                CREATE TRIGGER tr_test_cases_search_vector BEFORE INSERT OR UPDATE OF title, description, external_ref ON test_cases
                    FOR EACH ROW EXECUTE FUNCTION test_cases_search_vector_trigger();
                CREATE TRIGGER tr_test_runs_search_vector BEFORE INSERT OR UPDATE OF name, external_ref ON test_runs
                    FOR EACH ROW EXECUTE FUNCTION test_runs_search_vector_trigger();
                CREATE TRIGGER tr_external_issues_search_vector BEFORE INSERT OR UPDATE OF key, title, status ON external_issues
                    FOR EACH ROW EXECUTE FUNCTION external_issues_search_vector_trigger();

                CREATE INDEX ix_test_cases_search_vector ON test_cases USING gin (search_vector);
                CREATE INDEX ix_test_runs_search_vector ON test_runs USING gin (search_vector);
                CREATE INDEX ix_external_issues_search_vector ON external_issues USING gin (search_vector);

                -- Writers wait while the vectors are rebuilt, so no row keeps a vector of the old language.
                CREATE FUNCTION search_set_language(wanted regconfig) RETURNS boolean LANGUAGE plpgsql
                AS $$
                BEGIN
                    IF (SELECT language FROM search_settings WHERE id = 1) = wanted THEN
                        RETURN false;
                    END IF;
                    LOCK TABLE test_cases, test_runs, external_issues IN EXCLUSIVE MODE;
                    UPDATE search_settings SET language = wanted WHERE id = 1;
                    UPDATE test_cases SET search_vector = test_case_search_vector(wanted, title, description, external_ref);
                    UPDATE test_runs SET search_vector = test_run_search_vector(wanted, name, external_ref);
                    UPDATE external_issues SET search_vector = external_issue_search_vector(wanted, key, title, status);
                    RETURN true;
                END $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP FUNCTION search_set_language(regconfig);
                DROP TRIGGER tr_test_cases_search_vector ON test_cases;
                DROP TRIGGER tr_test_runs_search_vector ON test_runs;
                DROP TRIGGER tr_external_issues_search_vector ON external_issues;
                DROP FUNCTION test_cases_search_vector_trigger();
                DROP FUNCTION test_runs_search_vector_trigger();
                DROP FUNCTION external_issues_search_vector_trigger();
                ALTER TABLE test_cases DROP COLUMN search_vector;
                ALTER TABLE test_runs DROP COLUMN search_vector;
                ALTER TABLE external_issues DROP COLUMN search_vector;
                DROP FUNCTION test_case_search_vector(regconfig, text, text, text);
                DROP FUNCTION test_run_search_vector(regconfig, text, text);
                DROP FUNCTION external_issue_search_vector(regconfig, text, text, text);
                DROP FUNCTION search_language();
                DROP TABLE search_settings;
                """);
        }
    }
}
