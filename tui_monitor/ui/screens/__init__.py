"""Screens: the dashboard, the agent screen and help."""
