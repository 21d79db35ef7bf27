"""Watching what happens, recording only: each call's timeline (`timeline.py`) and the service's
metrics (`metrics.py`). The views that show them to an operator are the web layer's
(`web/operator.py`, with the readiness checks in `web/health.py`)."""
