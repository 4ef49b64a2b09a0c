"""A stand-in for an interactive agent that `tui-monitor run` starts (tests/e2e/test_run_tmux.py).

Writes its argv, its environment and its terminal to `--env-out FILE` (JSON), says READY, then
answers every line typed at it with `GOT <line>`; `exit N` exits with N. SIGUSR1 prints
`SIGNAL USR1`; SIGTERM prints `SIGNAL TERM` and exits 143, as a shell reports a TERM death.
With `--otlp`, it first posts an empty OTLP/JSON logs request to the endpoint and with the
headers its environment names (as Claude Code would) and prints `OTLP <status>`.
"""

import json
import os
import signal
import sys
import urllib.error
import urllib.request

from _common import option, ready


def _tty() -> str | None:
    try:
        return os.ttyname(0)
    except OSError:
        return None


def _post() -> int:
    endpoint = os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    name, _, value = os.environ["OTEL_EXPORTER_OTLP_HEADERS"].partition("=")
    request = urllib.request.Request(
        f"{endpoint}/v1/logs",
        data=b'{"resourceLogs":[]}',
        headers={"Content-Type": "application/json", name: value},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return int(reply.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


out = option("--env-out")
if out is not None:
    with open(out + ".tmp", "w") as f:
        json.dump({"argv": sys.argv, "env": dict(os.environ), "tty": _tty(), "pid": os.getpid()}, f)
    os.replace(out + ".tmp", out)


def _on_signal(signum: int, frame: object) -> None:
    print(f"SIGNAL {signal.Signals(signum).name[3:]}", flush=True)
    if signum == signal.SIGTERM:
        sys.exit(128 + signum)


signal.signal(signal.SIGUSR1, _on_signal)
signal.signal(signal.SIGTERM, _on_signal)
if "--otlp" in sys.argv:
    print(f"OTLP {_post()}", flush=True)
ready("standin", f"tty={_tty()}")
for line in sys.stdin:
    text = line.rstrip("\n")
    if text.startswith("exit "):
        sys.exit(int(text.split()[1]))
    print(f"GOT {text}", flush=True)
