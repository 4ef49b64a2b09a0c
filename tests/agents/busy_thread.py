"""Burns one core in a worker thread while its main thread sleeps, as node, tokio or a Python
server does: /proc/PID/stat shows the main thread (state S) though the process is busy."""

import threading
import time

from _common import ready


def burn() -> None:
    n = 0
    while True:
        n = (n + 1) % 1_000_003


threading.Thread(target=burn, daemon=True).start()
ready("busy_thread")
while True:
    time.sleep(3600)
