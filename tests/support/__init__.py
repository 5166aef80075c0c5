"""Helpers shared by the toolkit's tests (on sys.path via pytest's pythonpath)."""
