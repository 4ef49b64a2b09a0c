"""Benchmark (not a test): how soon a hook's state is on the agent's row.

A real `tui-monitor record` (1 s interval, the default) takes Claude Code hook payloads on
`POST /hooks/claude-code`; for each of ROUNDS sessions the script posts UserPromptSubmit and
waits for `working`, then PermissionRequest and waits for `needs_input`, then Stop and waits
for `idle`, each time timing from the post to the first tick that carries the state on the
session's row (read from the recorder's live file, `<db>.live.json`, polled every 5 ms: what
attached dashboards and `status` read, written as the tick is published; a dashboard that
records itself gets the same tick on its screen in the same moment). The issue asks for
"within a second of the change".

Each post waits a random part of an interval after the tick that showed the last state, as
an agent's hooks fall anywhere between ticks; `--at-tick` posts at once instead, the worst
case for the wake's floor (a state change ticks at once, but never sooner than 0.25 s after
the last tick).

    .venv/bin/python bench/hooks.py [--rounds 20] [--interval 1.0] [--at-tick] [--write]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

from _common import command, machine, p90, publish

EXE = Path(sys.executable).parent / "tui-monitor"
STEPS = (
    ("UserPromptSubmit", {}, "working"),
    ("PermissionRequest", {"tool_name": "Bash"}, "needs_input"),
    ("Stop", {}, "idle"),
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--at-tick", action="store_true", help="post right after a tick")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="tm-hooks-") as d:
        tmp = Path(d)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cfg = tmp / "config.toml"
        cfg.write_text(
            f"interval = {args.interval}\n[presets]\nenabled = false\n[gpu]\nenabled = false\n"
            f'[sessions]\nenabled = false\n[ingest]\nsocket = "{tmp}/ingest.sock"\n'
            f'[otlp]\nlisten = "127.0.0.1:{port}"\n'
        )
        db = tmp / "h.db"
        env = {"TUI_MONITOR_CONFIG": str(cfg), "PATH": "/usr/bin:/bin", "HOME": str(tmp),
               "XDG_DATA_HOME": str(tmp / "data")}  # fmt: skip
        proc = subprocess.Popen([str(EXE), "record", "--db", str(db)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        live = db.with_name(db.name + ".live.json")
        token_file = tmp / "otlp.token"
        deadline = time.monotonic() + 30
        while not (live.exists() and token_file.exists()):
            if time.monotonic() > deadline:
                sys.exit("the recorder did not start")
            time.sleep(0.05)
        token = token_file.read_text().strip()

        def post(sid: str, event: str, extra: dict[str, str]) -> None:
            body = {"session_id": sid, "cwd": str(tmp), "hook_event_name": event, **extra}
            req = urllib.request.Request(
                f"http://127.0.0.1:{port}/hooks/claude-code", data=json.dumps(body).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
            )  # fmt: skip
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200

        def state(agent: str) -> str | None:
            try:
                doc = json.loads(live.read_text())
            except (OSError, ValueError):
                return None
            session = (doc["agents"].get(agent) or {}).get("session") or {}
            return session.get("state")

        took: dict[str, list[float]] = {want: [] for _, _, want in STEPS}
        pause = random.Random(15)
        try:
            for _ in range(args.rounds):
                sid = str(uuid.uuid4())
                agent = f"claude:{sid.replace('-', '')[:8]}"
                post(sid, "SessionStart", {"source": "startup"})
                for event, extra, want in STEPS:
                    if not args.at_tick:
                        time.sleep(pause.uniform(0.0, args.interval))
                    t0 = time.monotonic()
                    post(sid, event, extra)
                    while state(agent) != want:
                        if time.monotonic() - t0 > 30:
                            sys.exit(f"{want} never shown for {agent}")
                        time.sleep(0.005)
                    took[want].append(time.monotonic() - t0)
        finally:
            proc.terminate()
            proc.wait(30)
    rows = "".join(
        f"| {want} | {len(v)} | {statistics.median(v) * 1000:.0f} | {p90(v) * 1000:.0f} | "
        f"{max(v) * 1000:.0f} |\n"
        for want, v in took.items()
    )
    text = (
        f"## hooks: from a hook's post to the tick carrying its state ({args.interval:g} s "
        f"interval, {'posted right after a tick' if args.at_tick else 'posted between ticks'})"
        "\n\n"
        f"Machine: {machine()}\n\nCommand: `{command()}`\n\n"
        "| state | posts | median ms | p90 ms | max ms |\n|---|---|---|---|---|\n" + rows
    )
    publish(text, args.write)


if __name__ == "__main__":
    main()
