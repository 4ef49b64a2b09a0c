"""Allocates and touches ~200 MiB (so it is resident, not just reserved), then sleeps."""

from _common import positional, ready, sleep_forever

args = positional()
mib = int(args[0]) if args else 200
block = bytearray(mib * 1024 * 1024)
for i in range(0, len(block), 4096):
    block[i] = 1
ready("alloc", len(block))
sleep_forever()
