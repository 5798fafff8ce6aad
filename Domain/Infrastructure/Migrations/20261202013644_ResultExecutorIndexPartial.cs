using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Domain.Infrastructure.Migrations
{
    /// <summary>
    /// The executor index of test_results keeps only results that have an executor: the index serves the user's
    /// ON DELETE SET NULL (always a value), and imported results, which have none, no longer pay for an entry each.
    /// </summary>
    public partial class ResultExecutorIndexPartial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_test_results_executed_by_id",
                table: "test_results");

            migrationBuilder.CreateIndex(
                name: "IX_test_results_executed_by_id",
                table: "test_results",
                column: "executed_by_id",
                filter: "executed_by_id IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_test_results_executed_by_id",
                table: "test_results");

            migrationBuilder.CreateIndex(
                name: "IX_test_results_executed_by_id",
                table: "test_results",
                column: "executed_by_id");
        }
    }
}
