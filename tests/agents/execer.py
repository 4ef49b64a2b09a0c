"""Says READY, then on SIGUSR1 replaces itself (same pid) with another program.

The program is given base64-encoded JSON after `--exec-b64`, so its arguments (a second tag)
do not appear in this process's own command line before the exec.
"""

import base64
import json
import os
import signal
import sys

from _common import option, ready, sleep_forever

encoded = option("--exec-b64")
assert encoded is not None, "usage: execer.py --exec-b64 <base64 json argv>"
target: list[str] = json.loads(base64.b64decode(encoded))


def _exec(signum: int, frame: object) -> None:
    sys.stdout.flush()
    os.execv(target[0], target)


signal.signal(signal.SIGUSR1, _exec)
ready("execer")
sleep_forever()
