"""Start-up without the cyclic garbage collector (the console script, `cli.main`, pauses it).

Importing the dashboard builds some 100,000 objects (modules, classes, pydantic schemas,
parsed CSS) and the cyclic collector, run by allocation counts, scans them again and again
while they are built: about 40 ms of CPU in a ~0.35 s import on the bench machine
(bench/RESULTS.md), none of it garbage. So `cli.main` pauses the collector; `resume` collects
once, freezes what survived out of its sight (`gc.freeze`: later collections do not rescan
start-up's modules and classes) and turns it back on. The dashboard resumes just after its
first screen, every other command before it starts its work.

Only the console script pauses: importing `tui_monitor` (tests, `tui_monitor.client` in an
agent) leaves the collector alone.
"""

from __future__ import annotations

import gc

_paused = False


def pause() -> None:
    """Turn the collector off for the imports (the console script's first step)."""
    global _paused
    if gc.isenabled():
        gc.disable()
        _paused = True


def resume() -> None:
    """Collect start-up's garbage, freeze the survivors, collect as usual from now on.
    Does nothing unless `pause` turned the collector off, or after the first call."""
    global _paused
    if not _paused:
        return
    _paused = False
    gc.collect()
    gc.freeze()
    gc.enable()
