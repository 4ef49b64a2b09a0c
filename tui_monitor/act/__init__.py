"""Acting on an agent's processes: its tmux pane (tmux.py), signals to its tree (signals.py),
and who may do either (policy.py). Headless: the UI asks, these do the work in a thread."""
