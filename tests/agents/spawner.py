"""Spawns two sleeping child pythons (which carry our argv, tag included), then READY.

On SIGTERM it kills and reaps its children before exiting, so no orphan is left for init.
"""

import signal
import subprocess
import sys

from _common import ready, sleep_forever

CHILD = "import sys, time; print('up', flush=True); time.sleep(3600)"
children = [
    subprocess.Popen([sys.executable, "-c", CHILD, *sys.argv[1:]], stdout=subprocess.PIPE)
    for _ in range(2)
]
for child in children:
    assert child.stdout is not None
    child.stdout.readline()  # the child is running its sleep once it has said "up"


def _stop(signum: int, frame: object) -> None:
    for child in children:
        child.kill()
    for child in children:
        child.wait()
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)
ready("spawner", *(c.pid for c in children))
sleep_forever()
