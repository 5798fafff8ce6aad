using Domain.Infrastructure;
using Domain.Jobs;
using Domain.Model;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace Web.Services;

/// <summary>
/// Testmo uploads: streamed straight into a large object of the tenant database (never whole in memory) in the
/// same transaction as the import's row and its <c>import</c> job (in the outbox), so an aborted or oversized upload
/// leaves nothing behind and an accepted one always gets its job; the relay queues it for the worker, which streams
/// the file back out.
/// </summary>
internal sealed class ImportService(TenantDbContext db, JobOutbox outbox, TimeProvider time)
{
    public async Task<Import> UploadAsync(Stream content, string fileName, long? projectId, long userId, long maxBytes, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(fileName))
        {
            throw new InvalidRequestException("fileName", "The upload needs a file name.");
        }
        if (projectId is { } id && !await db.Projects.AnyAsync(p => p.Id == id, cancellationToken))
        {
            throw new InvalidRequestException("projectId", $"Project {id} does not exist.");
        }

        var connection = (NpgsqlConnection)db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await db.Database.UseTransactionAsync(transaction, cancellationToken);
            (uint Oid, long Size) upload;
            try
            {
                upload = await LargeObjects.WriteAsync(connection, transaction, content, maxBytes, cancellationToken);
            }
            catch (UploadTooLargeException e)
            {
                throw new InvalidRequestException("file", e.Message);
            }
            if (upload.Size == 0)
            {
                throw new InvalidRequestException("file", "The uploaded file is empty.");
            }
            var import = new Import
            {
                FileName = Path.GetFileName(fileName.Trim()),
                SizeBytes = upload.Size,
                UploadOid = upload.Oid,
                ProjectId = projectId,
                Status = ImportStatus.Pending,
                CreatedById = userId,
                CreatedAt = time.GetUtcNow(),
            };
            db.Imports.Add(import);
            await db.SaveChangesAsync(cancellationToken);
            // The job goes into the outbox in this same transaction (rule 8): the upload is accepted while Valkey is
            // down, and its import job reaches the queue once Valkey answers, never without its row and file.
            outbox.Add(Jobs.Import, new ImportPayload(import.Id));
            await db.SaveChangesAsync(cancellationToken);
            await transaction.CommitAsync(cancellationToken);
            await db.Database.UseTransactionAsync(null, cancellationToken);
            await outbox.CommittedAsync();
            return import;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }
}
