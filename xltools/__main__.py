from xltools.cli import run

run()
