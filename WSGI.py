"""Run the service as the original did (`python WSGI.py`): same as `python -m catfacts`."""

from catfacts.cli import main

if __name__ == "__main__":
    main()
