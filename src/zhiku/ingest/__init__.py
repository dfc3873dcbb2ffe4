"""Ingest: files and pasted text → Documents (loaders) → Chunks (chunkers)."""
