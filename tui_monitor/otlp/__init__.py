"""The OTLP/HTTP receiver: agents' own telemetry (Claude Code, Codex, Gemini CLI) into the
session book, so it is recorded like what their files say (README, "OTLP")."""
