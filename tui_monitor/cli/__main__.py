"""`python -m tui_monitor.cli`: the console script."""

from . import main

raise SystemExit(main())
