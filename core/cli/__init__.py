"""The `ssmkit` command line."""
