"""Touches MiB (first argument, default 128) of memory, then forks a child that keeps it
shared copy-on-write: RSS counts the buffer in both processes, PSS splits it between them.

Says `READY <pid> cow <child pid>`; on SIGTERM kills and reaps the child, then exits.
"""

import os
import signal
import sys

from _common import positional, ready, sleep_forever

args = positional()
mib = int(args[0]) if args else 128
block = bytearray(mib * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
child = os.fork()
if child == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sleep_forever()


def _stop(signum: int, frame: object) -> None:
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)
ready("cow", child)
sleep_forever()
