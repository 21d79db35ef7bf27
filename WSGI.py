"""Run the service as the original did (`python WSGI.py`): the same as `python -m catfacts`."""

from catfacts.cli import run

if __name__ == "__main__":
    run()
