"""`tui-monitor demo`: a real fleet of demo agent processes to watch (agent.py, fleet.py).

Nothing is imported here: `python -m tui_monitor.demo.agent` must stay standard-library only.
"""
