"""`python -m catfacts`: the `catfacts` command, which serves when given no command."""

from catfacts.cli import run

if __name__ == "__main__":
    run()
