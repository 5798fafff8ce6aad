// The topology is declared in the AppHost issue; until then this host only proves the project builds.
Console.WriteLine("AppHost: topology not declared yet.");
