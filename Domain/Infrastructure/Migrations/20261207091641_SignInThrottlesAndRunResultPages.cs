using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Domain.Infrastructure.Migrations
{
    /// <inheritdoc />
    public partial class SignInThrottlesAndRunResultPages : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_test_results_run_id",
                table: "test_results");

            migrationBuilder.CreateTable(
                name: "sign_in_throttles",
                columns: table => new
                {
                    subject = table.Column<string>(type: "character varying(400)", maxLength: 400, nullable: false),
                    failures = table.Column<int>(type: "integer", nullable: false),
                    last_failure_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    locked_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_sign_in_throttles", x => x.subject);
                });

            migrationBuilder.CreateIndex(
                name: "IX_test_results_run_id_id",
                table: "test_results",
                columns: new[] { "run_id", "id" });

            migrationBuilder.CreateIndex(
                name: "IX_sign_in_throttles_last_failure_at",
                table: "sign_in_throttles",
                column: "last_failure_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "sign_in_throttles");

            migrationBuilder.DropIndex(
                name: "IX_test_results_run_id_id",
                table: "test_results");

            migrationBuilder.CreateIndex(
                name: "IX_test_results_run_id",
                table: "test_results",
                column: "run_id");
        }
    }
}
