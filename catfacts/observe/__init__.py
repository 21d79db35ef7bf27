"""What the service tells its operator: metrics (`metrics.py`) and health (`health.py`)."""
