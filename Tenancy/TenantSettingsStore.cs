using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Tenancy;

/// <summary>
/// The <see cref="ITenantSettingsStore"/> over configuration. Loads and validates eagerly in its constructor, so
/// resolving it is what makes a bad configuration fail the process at startup. When <c>TENANT_CONFIG_FILE</c> is
/// set it watches the file's directory, or the directory it names (editors and Kubernetes replace files by rename, which
/// a watch on the file alone would miss), debounces bursts of events, and swaps the snapshot only when a reload succeeds.
/// </summary>
internal sealed class TenantSettingsStore : ITenantSettingsStore, IDisposable
{
    internal static readonly TimeSpan DefaultDebounce = TimeSpan.FromMilliseconds(250);

    private readonly IConfiguration _configuration;
    private readonly ILogger _logger;
    private readonly string? _filePath;
    private readonly Lock _reloadGate = new();
    private readonly FileSystemWatcher? _watcher;
    private readonly ITimer? _debounceTimer;
    private readonly TimeSpan _debounce;
    private volatile TenantSettingsSnapshot _current;
    // What the last reload attempt read (null: file missing). Identical contents are not re-applied, so unrelated
    // events in a shared directory neither churn snapshots nor repeat warnings.
    private string? _lastAttemptedText;
    private bool _disposed;

    public TenantSettingsStore(IConfiguration configuration, ILogger<TenantSettingsStore> logger, TimeProvider timeProvider)
        : this(configuration, logger, timeProvider, DefaultDebounce)
    {
    }

    internal TenantSettingsStore(IConfiguration configuration, ILogger logger, TimeProvider timeProvider, TimeSpan debounce)
    {
        _configuration = configuration;
        _logger = logger;
        _debounce = debounce;
        IsMultiTenant = TenancyKeys.IsMultiTenant(configuration);
        TenantSettingsSources.RefuseUnmappedVariables(configuration);
        if (!IsMultiTenant)
        {
            InstanceTenant = ReadInstanceTenant(configuration);
            if (InstanceTenant is null)
            {
                RefuseTenantsWithoutMode(configuration);
            }
            _current = InstanceTenant is { } instance ? LoadInstance(configuration, instance) : TenantSettingsSnapshot.Empty;
            if (InstanceTenant is null)
            {
                TenancyLog.SingleTenantMode(logger);
            }
            else
            {
                TenancyLog.Loaded(logger, _current.Tenants.Count, _current.Source);
            }
            return;
        }

        var configuredFile = configuration[TenancyKeys.ConfigFile];
        if (!string.IsNullOrWhiteSpace(configuredFile))
        {
            _filePath = Path.GetFullPath(configuredFile.Trim());
        }

        SettingsLocation? files = null;
        if (_filePath is not null)
        {
            files = ReadConfigFileAtStartup(_filePath);
            _lastAttemptedText = files.Fingerprint;
        }
        _current = TenantSettingsSources.Load(configuration, files);
        TenancyLog.Loaded(logger, _current.Tenants.Count, _current.Source);

        if (_filePath is not null)
        {
            _debounceTimer = timeProvider.CreateTimer(_ => Reload(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _watcher = Watch(_filePath);
        }
    }

    public bool IsMultiTenant { get; }

    public TenantId? InstanceTenant { get; }

    public TenantSettingsSnapshot Current => _current;

    public event EventHandler<TenantSettingsChangedEventArgs>? Changed;

    public TenantSettings Get(TenantId tenant) =>
        _current.Tenants.TryGetValue(tenant, out var settings) ? settings : throw new TenantNotFoundException(tenant.Value ?? string.Empty);

    public void Dispose()
    {
        lock (_reloadGate)
        {
            _disposed = true;
        }
        _watcher?.Dispose();
        _debounceTimer?.Dispose();
    }

    /// <summary>Re-reads every source now; on success swaps the snapshot and raises <see cref="Changed"/>.</summary>
    internal void Reload()
    {
        lock (_reloadGate)
        {
            if (_disposed || _filePath is null)
            {
                return;
            }
            var previous = _current;
            SettingsLocation? files;
            try
            {
                files = File.Exists(_filePath) || Directory.Exists(_filePath) ? TenantSettingsSources.ReadLocation(_filePath) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Likely mid-replace; the writer's next event brings us back here.
                TenancyLog.ReloadFailed(_logger, _filePath, $"the file could not be read: {e.Message}", previous.Tenants.Count);
                _lastAttemptedText = null;
                return;
            }
            catch (TenantConfigurationException e)
            {
                TenancyLog.ReloadFailed(_logger, _filePath, e.Message, previous.Tenants.Count);
                _lastAttemptedText = null;
                return;
            }
            if (files?.Fingerprint == _lastAttemptedText)
            {
                return;
            }
            _lastAttemptedText = files?.Fingerprint;
            if (files is null)
            {
                TenancyLog.ReloadFailed(_logger, _filePath, "the file does not exist.", previous.Tenants.Count);
                return;
            }

            TenantSettingsSnapshot next;
            try
            {
                next = TenantSettingsSources.Load(_configuration, files);
            }
            catch (TenantConfigurationException e)
            {
                TenancyLog.ReloadFailed(_logger, _filePath, e.Message, previous.Tenants.Count);
                return;
            }

            var added = next.Tenants.Keys.Where(t => !previous.Tenants.ContainsKey(t)).OrderBy(t => t.Value, StringComparer.Ordinal).ToArray();
            var removed = previous.Tenants.Keys.Where(t => !next.Tenants.ContainsKey(t)).OrderBy(t => t.Value, StringComparer.Ordinal).ToArray();
            var changed = next.Tenants
                .Where(pair => previous.Tenants.TryGetValue(pair.Key, out var before) && before != pair.Value)
                .Select(pair => pair.Key).OrderBy(t => t.Value, StringComparer.Ordinal).ToArray();
            if (added.Length == 0 && removed.Length == 0 && changed.Length == 0)
            {
                return;
            }

            _current = next;
            TenancyLog.Reloaded(_logger, next.Tenants.Count, next.Source, Join(added), Join(removed), Join(changed));
            // Raised inside the gate so consumers see changes in the order they were applied.
            try
            {
                Changed?.Invoke(this, new TenantSettingsChangedEventArgs(previous, next, added, removed, changed));
            }
            catch (Exception e)
            {
                TenancyLog.ChangedHandlerFailed(_logger, e);
            }
        }
    }

    private static TenantId? ReadInstanceTenant(IConfiguration configuration)
    {
        var value = configuration[TenancyKeys.InstanceTenant];
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }
        return TenantId.TryParse(value.Trim(), out var tenant, out var error)
            ? tenant
            : throw new TenantConfigurationException(TenancyKeys.InstanceTenant, null, null, error);
    }

    // A tenant's own instance knows only itself: its database is the service's database, the rest comes from
    // that tenant's individual variables. Other tenants' variables, if any, are deliberately not read.
    private static TenantSettingsSnapshot LoadInstance(IConfiguration configuration, TenantId tenant)
    {
        string? Field(TenantField field)
        {
            var value = configuration[TenancyKeys.VariablePrefix + tenant.VariableForm + field.VariableSuffix];
            return string.IsNullOrWhiteSpace(value) ? null : value.Trim();
        }

        var databaseUrl = Field(TenantField.DatabaseUrl)
            ?? configuration[TenancyKeys.SingleTenantConnectionString]
            ?? configuration[TenancyKeys.SingleTenantDatabaseUrl];
        var settings = new TenantSettings(
            string.IsNullOrWhiteSpace(databaseUrl) ? string.Empty : databaseUrl.Trim(),
            Field(TenantField.ElasticsearchNode),
            Field(TenantField.ElasticsearchIndex),
            Field(TenantField.BaseUrl),
            Field(TenantField.SigningKey),
            Field(TenantField.TimeZone),
            Field(TenantField.SearchLanguage));
        TenantSettingsSources.ValidateSearchLanguage(settings.SearchLanguage,
            TenancyKeys.VariablePrefix + tenant.VariableForm + TenantField.SearchLanguage.VariableSuffix, tenant.Value);
        return new TenantSettingsSnapshot(
            new Dictionary<TenantId, TenantSettings> { [tenant] = settings },
            $"{TenancyKeys.InstanceTenant} ({tenant}) with {TenancyKeys.VariablePrefix}{tenant.VariableForm}_* variables");
    }

    /// <summary>
    /// <c>MULTI_TENANT_MODE</c> unset or empty while tenant settings are present: a worker would run single-tenant and
    /// ignore them, half on. <c>false</c> said explicitly keeps them ignored (and a tenant's own instance reads its own).
    /// </summary>
    private static void RefuseTenantsWithoutMode(IConfiguration configuration)
    {
        if (!string.IsNullOrWhiteSpace(configuration[TenancyKeys.MultiTenantMode]))
        {
            return;
        }
        var present = new List<string>();
        if (!string.IsNullOrWhiteSpace(configuration[TenancyKeys.ConfigFile]))
        {
            present.Add(TenancyKeys.ConfigFile);
        }
        if (!string.IsNullOrWhiteSpace(configuration[TenancyKeys.Configs]))
        {
            present.Add(TenancyKeys.Configs);
        }
        present.AddRange(configuration.GetChildren()
            .Where(c => c.Key.StartsWith(TenancyKeys.VariablePrefix, StringComparison.Ordinal) && c.Key is not TenancyKeys.ConfigFile and not TenancyKeys.Configs && !string.IsNullOrWhiteSpace(c.Value))
            .Select(c => c.Key).Order(StringComparer.Ordinal).Take(3));
        if (present.Count > 0)
        {
            throw new TenantConfigurationException(TenancyKeys.MultiTenantMode, null, null,
                $"is not set, but tenant settings are ({string.Join(", ", present)}): set {TenancyKeys.MultiTenantMode}=true to serve those tenants, " +
                $"or {TenancyKeys.MultiTenantMode}=false to run single-tenant and ignore them.");
        }
    }

    private static SettingsLocation ReadConfigFileAtStartup(string path)
    {
        try
        {
            return TenantSettingsSources.ReadLocation(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var problem = e is FileNotFoundException or DirectoryNotFoundException ? "the file does not exist." : $"the file could not be read: {e.Message}";
            throw new TenantConfigurationException(TenancyKeys.FileSource(path), null, null, problem, e);
        }
    }

    private FileSystemWatcher Watch(string path)
    {
        // A directory is watched itself (Kubernetes swaps its '..data' link inside it); a file through its directory.
        var watcher = new FileSystemWatcher(Directory.Exists(path) ? path : Path.GetDirectoryName(path)!)
        {
            IncludeSubdirectories = false,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
        };
        // Any event in the directory schedules a re-read: a Kubernetes ConfigMap swaps a '..data' symlink rather
        // than touching the file's own name. Unchanged text is skipped in Reload, so this costs one read.
        watcher.Changed += (_, _) => ScheduleReload();
        watcher.Created += (_, _) => ScheduleReload();
        watcher.Deleted += (_, _) => ScheduleReload();
        watcher.Renamed += (_, _) => ScheduleReload();
        watcher.Error += (_, e) =>
        {
            TenancyLog.WatcherFailed(_logger, path, e.GetException());
            ScheduleReload();
        };
        watcher.EnableRaisingEvents = true;
        return watcher;
    }

    // Restarting the timer on every event coalesces a burst (truncate, write, rename) into one read after it settles.
    private void ScheduleReload() => _debounceTimer?.Change(_debounce, Timeout.InfiniteTimeSpan);

    private static string Join(TenantId[] tenants) => tenants.Length == 0 ? "none" : string.Join(", ", tenants);
}
