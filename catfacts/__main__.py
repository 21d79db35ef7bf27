from catfacts.console import run

run()
