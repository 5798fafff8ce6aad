using Domain.Jobs;
using Queue;
using Workers.Infrastructure;

namespace Workers.Handlers;

/// <summary>
/// <c>import</c>: streams the stored Testmo export of an <c>imports</c> row into the tenant database (see
/// <see cref="TestmoImporter"/> for the transaction and progress, <see cref="TestmoExportReader"/> for the supported
/// format). A file that cannot be imported fails the job at once, naming where the fault is.
/// </summary>
public sealed class TestmoImportHandler(JobDatabase database, TimeProvider time) : IJobHandler
{
    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        var payload = context.GetPayload<ImportPayload>();
        // Checks the tenant marker before anything of this database is read or written.
        await database.ContextAsync(cancellationToken);
        var importer = new TestmoImporter(database.DataSource, time);
        try
        {
            await importer.RunAsync(payload.ImportId, progress => context.ReportProgressAsync(new
            {
                importId = progress.ImportId,
                percent = progress.Percent,
                bytesRead = progress.BytesRead,
                totalBytes = progress.TotalBytes,
                cases = progress.Cases,
                runs = progress.Runs,
                results = progress.Results,
            }), cancellationToken);
        }
        catch (TestmoFormatException e)
        {
            throw new PermanentJobFailureException(e.Message, e);
        }
    }
}
