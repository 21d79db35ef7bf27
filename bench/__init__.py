"""`make bench`: measured figures for the README, printed as tables.

Everything runs on loopback: an emulator with the latency each table names, the service under
gunicorn as users run it, and callers in this process. Figures are medians of repeated runs.
"""
