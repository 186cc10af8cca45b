from xltools.cli import cli

cli()
