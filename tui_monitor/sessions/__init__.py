"""Real agents' own files, read as they are: Claude Code transcripts, Codex rollouts, ...

One module per agent family turns its files' lines into the records of `records.py`; what
monitoring needs (usage, models, times, errors, tool names, cwd, branch), never prompt text,
code or tool output. Headless: nothing here imports the UI.
"""
