"""Rule and preset matching on hand-built ProcFacts (no processes needed)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tui_monitor.collect.rules import PRESETS, Matcher, ProcFacts, build_matchers
from tui_monitor.config import AgentRule, PresetSettings, Settings


def facts(
    *argv: str,
    name: str | None = None,
    cwd: str | None = "/home/dev",
    user: str | None = "dev",
    pid: int = 4321,
) -> ProcFacts:
    comm = name if name is not None else (os.path.basename(argv[0])[:15] if argv else "")
    return ProcFacts(pid=pid, name=comm, argv=argv, cwd=lambda: cwd, user=lambda: user)


def first_match(f: ProcFacts, settings: Settings | None = None) -> str | None:
    """The agent base name the collector would give: the first matcher that matches."""
    for m in build_matchers(settings or Settings()):
        if (m.rule is None or m.rule.pidfile is None) and m.matches(f):
            return m.name
    return None


def config_matcher(**kw: object) -> Matcher:
    rule = AgentRule(name="r", **kw)  # type: ignore[arg-type]
    (matcher,) = build_matchers(Settings(agents=[rule], presets=PresetSettings(enabled=False)))
    return matcher


# -- presets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"), "claude"),
        (("/usr/bin/node", "--no-warnings", "/opt/n/@anthropic-ai/claude-code/cli.js"), "claude"),
        (("claude",), "claude"),
        (("/home/dev/.local/bin/claude", "--resume"), "claude"),
        (("node", "/home/dev/.npm-global/bin/claude"), "claude"),
        (("python3", "-m", "vllm.entrypoints.openai.api_server", "--model", "m"), "vllm"),
        (("/usr/bin/python3.12", "-u", "-m", "vllm.entrypoints.openai.api_server"), "vllm"),
        (("vllm", "serve", "meta-llama/Llama-3-8B"), "vllm"),
        (("/usr/local/bin/ollama", "serve"), "ollama"),
        (("ollama", "runner", "--model", "/x/blobs/sha256-1"), "ollama"),
        (("llama-server", "-m", "x.gguf"), "llama-server"),
        (
            ("/opt/llama.cpp/build/bin/llama-server", "-m", "x.gguf", "--port", "8080"),
            "llama-server",
        ),
        (("codex",), "codex"),
        (("node", "/usr/lib/node_modules/@openai/codex/bin/codex.js", "exec"), "codex"),
        (("aider",), "aider"),
        (("python3", "-m", "aider", "--model", "sonnet"), "aider"),
        (("/usr/bin/python3", "/home/dev/.local/bin/aider"), "aider"),
        (("gemini",), "gemini"),
        (("node", "/usr/local/lib/node_modules/@google/gemini-cli/dist/index.js"), "gemini"),
        (("opencode",), "opencode"),
        (("bun", "/home/dev/.bun/install/global/node_modules/opencode-ai/bin/x"), "opencode"),
        (("goose", "session"), "goose"),
        (("cursor-agent",), "cursor-agent"),
        (("python3", "-m", "sglang.launch_server", "--model-path", "m"), "sglang"),
    ],
)
def test_preset_matches(argv: tuple[str, ...], expected: str) -> None:
    assert first_match(facts(*argv)) == expected


@pytest.mark.parametrize(
    "argv",
    [
        ("grep", "claude"),
        ("vim", "claude.md"),
        ("python3", "script.py"),
        ("python3", "script.py", "-m", "vllm"),
        ("python3", "-m", "pytest", "-k", "ollama"),
        ("node", "server.js", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"),
        ("bash", "-c", "claude"),
        ("less", "/var/log/ollama.log"),
        ("tail", "-f", "/srv/vllm/out.log"),
        ("/usr/bin/claude-monitor",),
        ("python3",),
        ("node", "-e", "1"),
    ],
)
def test_preset_negatives(argv: tuple[str, ...]) -> None:
    assert first_match(facts(*argv)) is None


def test_preset_falls_back_to_process_name_without_argv() -> None:
    # A zombie, or a process whose cmdline could not be read: only the kernel name is left.
    assert first_match(facts(name="ollama")) == "ollama"
    assert first_match(facts(name="bash")) is None


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("python3", "-X", "faulthandler", "-m", "vllm.entrypoints.openai.api_server"), "vllm"),
        (
            (
                "node",
                "--require",
                "/opt/otel/register.js",
                "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js",
            ),
            "claude",
        ),
    ],
)
def test_preset_sees_past_interpreter_option_values(argv: tuple[str, ...], expected: str) -> None:
    assert first_match(facts(*argv)) == expected


def test_presets_disabled() -> None:
    settings = Settings(presets=PresetSettings(enabled=False))
    assert build_matchers(settings) == []
    assert first_match(facts("claude"), settings) is None


def test_preset_excluded() -> None:
    settings = Settings(presets=PresetSettings(exclude=["ollama"]))
    names = [m.name for m in build_matchers(settings)]
    assert "ollama" not in names
    assert len(names) == len(PRESETS) - 1
    assert first_match(facts("ollama", "serve"), settings) is None
    assert first_match(facts("claude"), settings) == "claude"


def test_config_rules_win_over_presets() -> None:
    mine = AgentRule(name="local-llm", kind="inference", cmdline=r"ollama serve")
    settings = Settings(agents=[mine])
    matchers = build_matchers(settings)
    assert matchers[0].name == "local-llm" and matchers[0].source == "config"
    assert {m.source for m in matchers[1:]} == {"preset"}
    assert first_match(facts("/usr/local/bin/ollama", "serve"), settings) == "local-llm"
    # Processes the rule does not match still fall through to the presets.
    assert first_match(facts("ollama", "runner"), settings) == "ollama"


def test_preset_kinds() -> None:
    kinds = {p.name: p.kind for p in PRESETS}
    assert kinds["claude"] == "coding"
    assert kinds["ollama"] == kinds["vllm"] == kinds["llama-server"] == "inference"


# -- config rules -------------------------------------------------------------------------


def test_process_rule_matches_comm_or_argv0_basename() -> None:
    m = config_matcher(process="planner")
    assert m.matches(facts("/srv/bin/planner", "--x"))
    assert m.matches(facts("python3", "x.py", name="planner"))  # renamed via prctl/comm
    assert not m.matches(facts("planner2"))
    assert not m.matches(facts("python3", "planner"))


def test_cmdline_rule_searches_joined_argv() -> None:
    m = config_matcher(cmdline=r"python .* -m planner\b")
    assert m.matches(facts("python", "-u", "-X", "dev", "-m", "planner", "--fast"))
    assert not m.matches(facts("python", "-m", "planner2"))
    assert not m.matches(facts("python", "-m", "planner"))  # nothing between the two
    assert config_matcher(cmdline="a b").matches(facts("x", "a", "b"))  # joined with spaces


@pytest.mark.parametrize(
    ("prefix", "cwd", "expected"),
    [
        ("/srv/app", "/srv/app", True),
        ("/srv/app", "/srv/app/sub/dir", True),
        ("/srv/app/", "/srv/app/sub", True),
        ("/srv/app", "/srv/application", False),
        ("/srv/app", "/srv", False),
        ("/", "/anything", True),
        ("/srv/app", None, False),  # cwd unreadable
    ],
)
def test_cwd_rule_is_a_path_prefix(prefix: str, cwd: str | None, expected: bool) -> None:
    assert config_matcher(cwd=prefix).matches(facts("x", cwd=cwd)) is expected


def test_all_given_conditions_must_hold() -> None:
    m = config_matcher(process="worker", cmdline="--queue high", cwd="/srv", user="svc")
    good = facts("worker", "--queue", "high", cwd="/srv/w", user="svc")
    assert m.matches(good)
    assert not m.matches(facts("worker", "--queue", "low", cwd="/srv/w", user="svc"))
    assert not m.matches(facts("worker", "--queue", "high", cwd="/tmp", user="svc"))
    assert not m.matches(facts("worker", "--queue", "high", cwd="/srv/w", user="root"))
    assert not m.matches(facts("other", "--queue", "high", cwd="/srv/w", user="svc"))
    assert not m.matches(facts("worker", "--queue", "high", cwd="/srv/w", user=None))


def test_expensive_facts_are_not_read_when_not_needed() -> None:
    def boom() -> str | None:
        raise AssertionError("read although no rule needs it")

    f = ProcFacts(pid=1, name="x", argv=("x", "--tag", "t"), cwd=boom, user=boom)
    assert config_matcher(cmdline="--tag t").matches(f)
    assert not config_matcher(cmdline="nope", cwd="/srv").matches(f)  # regex fails first
    for m in build_matchers(Settings()):
        m.matches(f)  # presets look at argv and the name only


def test_pidfile_rule(tmp_path: Path) -> None:
    path = tmp_path / "a.pid"
    m = config_matcher(pidfile=path)
    assert m.pidfile_pid() is None  # missing
    for garbage in ("", "abc", "-5", "12 34", "1.5"):
        path.write_text(garbage)
        assert m.pidfile_pid() is None, garbage
    path.write_text("4321\n")
    assert m.pidfile_pid() == 4321
    assert m.matches(facts("anything"), m.pidfile_pid())
    assert not m.matches(facts("anything", pid=99), m.pidfile_pid())
    assert not m.matches(facts("anything"), None)
    path.write_bytes(b"\xff\xfe" * 10_000)
    assert m.pidfile_pid() is None  # binary junk is not a pid and does not raise


def test_pidfile_rule_with_extra_condition(tmp_path: Path) -> None:
    path = tmp_path / "a.pid"
    path.write_text("4321")
    m = config_matcher(pidfile=path, process="svc")
    assert m.matches(facts("svc"), 4321)
    assert not m.matches(facts("other"), 4321)


def test_rule_order_is_config_order() -> None:
    rules = [AgentRule(name=n, cmdline="worker") for n in ("b", "a", "c")]
    settings = Settings(agents=rules, presets=PresetSettings(enabled=False))
    assert [m.name for m in build_matchers(settings)] == ["b", "a", "c"]
    assert first_match(facts("worker"), settings) == "b"


def test_a_rule_that_only_sets_a_heartbeat_timeout_matches_no_process() -> None:
    """An agent that only reports in can still get its own stale timeout."""
    settings = Settings.model_validate(
        {"presets": {"enabled": False}, "agents": [{"name": "bot", "heartbeat_timeout": 5}]}
    )
    assert settings.agents[0].heartbeat_timeout == 5
    assert build_matchers(settings) == []
