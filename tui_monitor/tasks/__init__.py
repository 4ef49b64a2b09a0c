"""Task boards: directories of YAML task files (inbox/ -> assigned/<agent>/ -> done/<agent>/),
read safely (parse.py), walked into boards (scan.py), compared into events and history rows
(diff.py) and watched live (watch.py). Read-only: nothing here writes, moves or locks a file.
"""
