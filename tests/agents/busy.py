"""Burns one core until killed."""

from _common import ready

ready("busy")
n = 0
while True:
    n = (n + 1) % 1_000_003
