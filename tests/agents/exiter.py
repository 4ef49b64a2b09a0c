"""Says READY, sleeps for the seconds given as its first argument (default 1), exits 3."""

import sys
import time

from _common import positional, ready

args = positional()
ready("exiter")
time.sleep(float(args[0]) if args else 1.0)
sys.exit(3)
