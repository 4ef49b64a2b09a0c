"""Which process belongs to which agent rule: config `[[agents]]` rules and built-in presets."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import AgentRule, Settings


@dataclass(frozen=True, slots=True)
class Preset:
    """A well-known agent program, recognised by its program, script path or module."""

    name: str
    kind: str
    programs: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    script: str | None = None
    """Regex searched in the script path when an interpreter (node, python, ...) runs it."""


PRESETS: tuple[Preset, ...] = (
    Preset("claude", "coding", ("claude",), script=r"@anthropic-ai/claude-code/"),
    Preset("codex", "coding", ("codex",), script=r"@openai/codex/"),
    Preset("aider", "coding", ("aider",), ("aider",)),
    Preset("gemini", "coding", ("gemini",), script=r"@google/gemini-cli/"),
    Preset("opencode", "coding", ("opencode",), script=r"opencode-ai/"),
    Preset("goose", "coding", ("goose",)),
    Preset("cursor-agent", "coding", ("cursor-agent",)),
    Preset("ollama", "inference", ("ollama",)),
    Preset("vllm", "inference", ("vllm",), ("vllm",)),
    Preset("llama-server", "inference", ("llama-server",)),
    Preset("sglang", "inference", (), ("sglang",)),
)

# Interpreter options whose value is the next argument (python and node), and inline code.
_VALUE_OPTIONS = frozenset(
    {
        "-X",
        "-W",
        "--check-hash-based-pycs",
        "-r",
        "--require",
        "--import",
        "--loader",
        "--experimental-loader",
        "--env-file",
        "--conditions",
        "-C",
        "--title",
    }
)
_CODE_OPTIONS = frozenset({"-c", "-e", "--eval", "-p", "--print"})
_INTERPRETER = re.compile(r"^(node|nodejs|bun|deno|python[0-9.]*|pypy[0-9.]*)$")


@dataclass(frozen=True, slots=True)
class ProcFacts:
    """What matching needs to know about one process instance (read once per instance)."""

    pid: int
    name: str
    argv: tuple[str, ...]
    cwd: Callable[[], str | None] = field(compare=False)
    user: Callable[[], str | None] = field(compare=False)

    @property
    def cmdline(self) -> str:
        return " ".join(self.argv)


@dataclass(frozen=True, slots=True)
class Matcher:
    """One rule ready to test processes: its agent base name, kind and source."""

    name: str
    kind: str
    source: str
    rule: AgentRule | None = None
    preset: Preset | None = None
    _regex: re.Pattern[str] | None = None

    def pidfile_pid(self) -> int | None:
        """The pid a pidfile rule points at now, or None (missing or garbage file)."""
        if self.rule is None or self.rule.pidfile is None:
            return None
        try:
            text = Path(self.rule.pidfile).read_text(errors="replace")[:64].strip()
            return int(text) if text.isdigit() else None
        except OSError:
            return None

    def matches(self, facts: ProcFacts, pidfile_pid: int | None = None) -> bool:
        if self.preset is not None:
            return _preset_matches(self.preset, facts)
        rule = self.rule
        assert rule is not None
        if rule.pidfile is not None and facts.pid != pidfile_pid:
            return False
        if rule.process is not None and rule.process not in (facts.name, _program(facts.argv)):
            return False
        if self._regex is not None and not self._regex.search(facts.cmdline):
            return False
        if rule.cwd is not None and not _under(facts.cwd(), rule.cwd):
            return False
        return rule.user is None or facts.user() == rule.user


def _under(path: str | None, prefix: str) -> bool:
    if path is None:
        return False
    prefix = prefix.rstrip("/") or "/"
    return path == prefix or path.startswith(prefix if prefix == "/" else prefix + "/")


def _program(argv: Sequence[str]) -> str:
    return os.path.basename(argv[0]) if argv else ""


def _preset_matches(preset: Preset, facts: ProcFacts) -> bool:
    argv = facts.argv
    program = _program(argv) or facts.name
    if program in preset.programs:
        return True
    if not _INTERPRETER.match(program):
        return False
    # An interpreter: look at what it runs, e.g. `node .../claude-code/cli.js`, `python -m vllm`.
    args = iter(argv[1:])
    for arg in args:
        if arg == "-m":
            module = next(args, "").split(".")[0]
            return module in preset.modules
        if arg in _CODE_OPTIONS:
            return False  # inline code, no script
        if arg in _VALUE_OPTIONS:
            next(args, None)
            continue
        if arg.startswith("-"):
            continue
        if os.path.basename(arg) in preset.programs:
            return True
        return preset.script is not None and re.search(preset.script, arg) is not None
    return False


def build_matchers(settings: Settings) -> list[Matcher]:
    """Config rules first (they win over presets), then the enabled presets."""
    matchers = [
        Matcher(
            rule.name,
            rule.kind,
            "config",
            rule=rule,
            _regex=re.compile(rule.cmdline) if rule.cmdline else None,
        )
        for rule in settings.agents
        if rule.finds_processes  # a rule that only names a reporting agent matches nothing
    ]
    if settings.presets.enabled:
        excluded = set(settings.presets.exclude)
        matchers += [
            Matcher(p.name, p.kind, "preset", preset=p) for p in PRESETS if p.name not in excluded
        ]
    return matchers
