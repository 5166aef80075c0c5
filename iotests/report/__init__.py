"""Presenting results: the live console, TAP, JUnit XML and JSON."""
