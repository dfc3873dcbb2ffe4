"""Training: fitting zhiku's learned parts on question-article pairs (query adapter)."""
