"""Starts one command as its child, as an MCP client starts a stdio server (its stdin and
stdout are pipes), waits for the child's first line, then says `READY <pid> client <child>`.

The command is base64-encoded JSON after `--run-b64` (so its words are not in our argv). On
SIGTERM it kills the child's whole process group and exits.
"""

import base64
import contextlib
import json
import os
import signal
import subprocess
import sys

from _common import option, ready, sleep_forever

encoded = option("--run-b64")
assert encoded is not None, "usage: client.py --run-b64 <base64 json argv>"
child = subprocess.Popen(
    json.loads(base64.b64decode(encoded)),
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    process_group=0,
)
assert child.stdout is not None
child.stdout.readline()


def _stop(signum: int, frame: object) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)
ready("client", child.pid)
sleep_forever()
