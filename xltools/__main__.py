from xltools.console import run

run()
