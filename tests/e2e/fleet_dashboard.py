"""The real dashboard (`MonitorApp` as the CLI builds it, in a real terminal) on scripted
fleet snapshots: `claude` here, on gpu1 and on gpu2, with fixed CPU figures, so which row
the cursor lands on is certain (no real recorder gives three same-named agents in a known
order). The real FleetSource over a real sshd is tests/e2e/test_fleet_sshd_tmux.py.
argv: SSH_PROGRAM (the `[fleet] ssh`)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fleet_snaps import build_fleet_app, fleet_settings, two_hosts

if __name__ == "__main__":
    app, _ = build_fleet_app([two_hosts(1)], fleet_settings(ssh=sys.argv[1]))
    app.run()
