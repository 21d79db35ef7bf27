"""Watching what happens: each call's timeline (`timeline.py`), and what the service tells its
operator: metrics (`metrics.py`) and health (`health.py`)."""
