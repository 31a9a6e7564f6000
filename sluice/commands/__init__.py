"""One module per `sluice` subcommand; each defines `register(subparsers)`.

`sluice.cli` discovers the modules here, so adding a subcommand touches no other file.
"""
