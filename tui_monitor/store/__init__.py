"""SQLite history: schema, the single writer, queries, rollups and retention."""
