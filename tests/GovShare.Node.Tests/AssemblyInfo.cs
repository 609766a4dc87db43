// The node runs on Linux (Debian in CI, containers in production); file modes are part of what is tested.
[assembly: System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
