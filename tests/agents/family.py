"""A root with two children, each with a child of its own; READY lists every pid.

Nobody here handles SIGTERM (the default: end at once), so the root ending leaves its
children running: only a signal sent to the whole tree ends them all. `--ignore` NAME makes
the root ignore that signal (a root that will not end).
"""

import signal
import subprocess
import sys

from _common import option, ready, sleep_forever

LEVEL = option("--level", "0")
ignored = option("--ignore")
below: list[str] = []
if LEVEL in ("0", "1"):
    rest = [a for a in sys.argv[1:] if a not in ("--ignore", ignored)]  # children end on it
    args = [*rest, "--level", str(int(LEVEL) + 1)] if "--level" not in rest else rest
    if "--level" in rest:
        args[args.index("--level") + 1] = str(int(LEVEL) + 1)
    for _ in range(2 if LEVEL == "0" else 1):
        child = subprocess.Popen([sys.executable, __file__, *args], stdout=subprocess.PIPE)
        assert child.stdout is not None
        words = child.stdout.readline().decode().split()  # READY <pid> family <its pids...>
        below.extend([words[1], *words[3:]])
if ignored is not None:  # only now: an ignored signal stays ignored in children exec'd after
    signal.signal(getattr(signal, f"SIG{ignored}"), signal.SIG_IGN)
ready("family", *below)
sleep_forever()
