"""Ingest: how agents report in (Unix socket, JSONL spool files)."""
