"""syncsafe's benchmark suites: each primitive measured beside its baseline or peer."""
