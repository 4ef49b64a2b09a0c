"""The writer's SQL: inserts per table, the JSON-array bulk inserts, upserts of ids."""

from __future__ import annotations

INSERT = {
    "ticks": "INSERT INTO ticks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "ingest_stats": "INSERT INTO ingest_stats VALUES (?, ?)",
    "host_samples": f"INSERT INTO host_samples VALUES ({', '.join('?' * 18)})",
    "gpu_samples": f"INSERT INTO gpu_samples VALUES ({', '.join('?' * 12)})",
    "agent_samples": f"INSERT INTO agent_samples VALUES ({', '.join('?' * 14)})",
    "task_states": "INSERT INTO task_states (tick, ts, board, key, card) VALUES (?, ?, ?, ?, ?)",
}


def from_json(verb: str, table: str, columns: str) -> tuple[str, str]:
    """Inserts of many rows handed over as one JSON array of arrays, and of one row."""
    names = [c.strip() for c in columns.split(",")]
    picks = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(names)))
    into = f"{verb} INTO {table} ({', '.join(names)})"
    return (
        f"{into} SELECT {picks} FROM json_each(?)",
        f"{into} VALUES ({', '.join('?' * len(names))})",
    )


BULK = {
    "events": from_json("INSERT", "events", "ts, agent, kind, level, message, data"),
    "errors": from_json("INSERT", "errors", "ts, agent, error_type, message, stack"),
    # a request_id seen before (a client re-sending after a reconnect) is counted once
    "usage": from_json(
        "INSERT OR IGNORE",
        "usage",
        "ts, agent, model, input_tokens, output_tokens, cache_read_tokens, "
        "cache_write_tokens, cost_usd, request_id, cost_source, tick, cache_write_1h_tokens, "
        "session",
    ),
}
# A session as it grows: its span only widens, models add up in order of first use
# (`tm_models`, the writer's own SQL function), what it says last of cwd, branch and version
# wins unless it says nothing; the agent name its usage is recorded under never changes.
SESSION = (
    "INSERT INTO sessions (family, session_id, agent, cwd, git_branch, version, models, "
    "first_ts, last_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (family, session_id) DO UPDATE SET "
    "cwd = coalesce(excluded.cwd, cwd), git_branch = coalesce(excluded.git_branch, git_branch), "
    "version = coalesce(excluded.version, version), "
    "models = tm_models(models, excluded.models), "
    "first_ts = coalesce(min(first_ts, excluded.first_ts), first_ts, excluded.first_ts), "
    "last_ts = coalesce(max(last_ts, excluded.last_ts), last_ts, excluded.last_ts)"
)
NEW_AGENT = (
    "INSERT INTO agents (name, kind, source, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET kind = excluded.kind RETURNING id"
)
NEW_RUN = (
    "INSERT INTO agent_runs (agent, pid, create_time, process, cmdline, cwd, user) "
    "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (agent, pid, create_time) "
    "DO UPDATE SET cmdline = excluded.cmdline RETURNING id"
)
# kind and source as last seen: a register may change an agent's kind
SEEN = "UPDATE agents SET last_seen = max(last_seen, ?), kind = ?, source = ? WHERE id = ?"
FIND_REPORT = (
    "SELECT id FROM reports WHERE coalesce(reported, '') = ? AND coalesce(task, '') = ? "
    "AND coalesce(metrics, '') = ?"
)
NEW_REPORT = (
    "INSERT INTO reports (reported, task, metrics, last_ts) VALUES (?, ?, ?, ?) RETURNING id"
)
USED_REPORT = "UPDATE reports SET last_ts = max(last_ts, ?) WHERE id = ?"
FIND_PROCSET = "SELECT id FROM procsets WHERE tree = ?"
NEW_PROCSET = "INSERT INTO procsets (tree, last_ts) VALUES (?, ?) RETURNING id"
USED_PROCSET = "UPDATE procsets SET last_ts = max(last_ts, ?) WHERE id = ?"
ROLLUP = (
    "INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (series, res, bucket) "
    "DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum, "
    "min = min(min, excluded.min), max = max(max, excluded.max)"
)
