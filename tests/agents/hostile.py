"""An agent whose process name and argv are attacker-controlled text.

It renames itself by writing to /proc/self/comm (`--comm VALUE`, default a string with an
escape sequence and Rich markup); the test starts it with a hostile argv[0] and arguments.
"""

from _common import option, ready, sleep_forever

COMM = "\x1b[31m[/]x"

comm = option("--comm", COMM)
assert comm is not None
try:
    with open("/proc/self/comm", "w") as f:
        f.write(comm)
except OSError:
    pass  # not Linux: the argv part of the test still applies
ready("hostile")
sleep_forever()
