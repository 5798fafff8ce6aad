namespace Dashboard.Resources;

/// <summary>Reads resource states and console output from the AppHost's loopback resource API.</summary>
internal sealed class ResourceClient;
