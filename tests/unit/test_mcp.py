"""Recognising MCP servers by their command lines (collect/mcp.py), finding them in a tree
(collect/mcp_servers.py), and the `[mcp]` settings.

The command lines are the shapes MCP clients' configs and servers' READMEs give (Claude
Code's `.mcp.json` and `claude mcp add`, Codex's `[mcp_servers.X]`, the reference servers'
`npx`/`uvx`/`docker` lines), and what those become once running: npm's `npx` retitles itself
`npm exec ...` and runs `sh -c BIN`, then `node .../.bin/BIN` (seen with npm 11 here).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tui_monitor.collect.mcp import McpMatcher, is_launcher, normalise, server_name
from tui_monitor.collect.mcp_servers import Found, find_servers
from tui_monitor.config import McpSettings, load_settings
from tui_monitor.errors import ConfigError

BUILTIN = McpMatcher(McpSettings())

SERVERS: list[tuple[list[str], str]] = [
    # Claude Code / Codex config lines, as configured
    (["npx", "-y", "@modelcontextprotocol/server-filesystem", "/home/u/src"], "filesystem"),
    (["npx", "--yes", "@modelcontextprotocol/server-memory@2025.4.25"], "memory"),
    (["npx", "-y", "@upstash/context7-mcp@latest"], "context7"),
    (["npx", "@playwright/mcp@latest", "--headless"], "playwright"),
    (["npx", "-y", "mcp-remote", "https://example.com/mcp"], "remote"),
    (["npx", "-p", "@acme/tickets-mcp", "tickets"], "tickets"),
    (["bunx", "chrome-devtools-mcp@latest"], "chrome-devtools"),
    (["pnpm", "dlx", "@sentry/mcp-server"], "sentry"),
    (["uvx", "mcp-server-git", "--repository", "/home/u/src"], "git"),
    (["uvx", "--from", "mcp-server-git==2026.1.14", "mcp-server-git"], "git"),
    (["uvx", "awslabs.aws-documentation-mcp-server@latest"], "awslabs.aws-documentation"),
    (["uvx", "--from", "git+https://github.com/oraios/serena", "serena", "start-mcp-server"],
     "serena"),
    (["uv", "--directory", "/home/u/weather-mcp", "run", "server.py"], "weather"),
    (["uv", "run", "--with", "mcp", "mcp", "run", "/srv/notes/server.py"], "notes"),
    (["pipx", "run", "mcp-server-fetch"], "fetch"),
    (["python3", "-m", "mcp_server_fetch"], "fetch"),
    (["python", "-X", "utf8", "-m", "mcp_server_time.server"], "time"),
    (["github-mcp-server", "stdio"], "github"),
    (["/usr/local/bin/mcp-server-sqlite", "--db-path", "x.db"], "sqlite"),
    (["codex", "mcp-server"], "codex"),
    (["claude", "mcp", "serve"], "claude"),
    (["gitnexus", "mcp"], "gitnexus"),
    (["docker", "run", "-i", "--rm", "-e", "GITHUB_PERSONAL_ACCESS_TOKEN",
      "ghcr.io/github/github-mcp-server"], "github"),
    (["docker", "run", "-i", "--rm", "mcp/fetch"], "fetch"),
    (["docker", "run", "-it", "--rm", "-v", "/a:/b", "--name", "x", "--env=A=1",
      "ghcr.io/sooperset/mcp-atlassian:latest"], "atlassian"),
    (["podman", "container", "run", "-i", "--rm", "mcp/playwright@sha256:abc"], "playwright"),
    (["docker", "mcp", "gateway", "run"], "docker-gateway"),
    # what runs: npx retitled (one argument, the rest zeroed), sh -c, node on the bin
    (["npm exec @modelcontextprotocol/server-filesystem /tmp", "", "", ""], "filesystem"),
    (["sh", "-c", "'mcp-server-filesystem' /tmp"], "filesystem"),
    (["node", "/root/.npm/_npx/cd1f9e9a/node_modules/.bin/mcp-server-filesystem", "/tmp"],
     "filesystem"),
    (["node", "/usr/lib/node_modules/npm/bin/npx-cli.js", "-y",
      "@modelcontextprotocol/server-memory"], "memory"),
    (["node", "/usr/lib/node_modules/@modelcontextprotocol/server-github/dist/index.js"],
     "github"),
    (["node", "--enable-source-maps", "/home/u/code/weather-mcp/build/index.js"], "weather"),
    (["node", "./node_modules/.bin/../gitnexus/dist/cli/index.js", "mcp"], "gitnexus"),
    (["uv", "tool", "uvx", "mcp-server-git"], "git"),
    (["/home/u/.cache/uv/archive-v0/x/bin/python",
      "/home/u/.cache/uv/archive-v0/x/bin/mcp-server-git"], "git"),
    (["/usr/bin/python3", "/usr/lib/python3/site-packages/mcp_server_time/__main__.py"], "time"),
    (["env", "DEBUG=1", "-u", "HOME", "mcp-server-fetch"], "fetch"),
    (["java", "-jar", "/opt/tools/jira-mcp-server.jar"], "jira"),
    (["deno", "run", "-A", "jsr:@acme/notes-mcp"], "notes"),
]  # fmt: skip

NOT_SERVERS: list[list[str]] = [
    ["claude"],  # Claude Code retitles itself
    ["node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"],
    ["claude", "mcp", "list"],  # managing servers is not serving
    ["codex", "exec", "fix the tests"],
    ["git", "status"],
    ["rg", "--files", "/home/u/mcp-server-git"],  # a path argument names nothing
    ["bash", "-c", "-l", "pytest -q"],
    ["bash", "-c", "echo 'unbalanced"],
    ["python3", "tests/agents/idle.py"],
    ["python3", "-c", "print('mcp-server-x')"],  # inline code
    ["node", "index.js"],
    ["node", "/home/u/projects/app/dist/index.js"],
    ["npx", "-y", "@modelcontextprotocol/inspector"],  # a debugging UI, not a server
    ["npx", "-y", "prettier", "--write", "."],
    ["docker", "run", "--rm", "-e", "MCP_URL=x", "postgres:16"],
    ["docker", "ps"],
    ["uv", "pip", "install", "mcp-server-git"],
    ["mcp"],
    [],
    ["", "", ""],
]


@pytest.mark.parametrize(("argv", "name"), SERVERS)
def test_a_server_is_named_by_its_conventions(argv: list[str], name: str) -> None:
    assert BUILTIN.name(argv) == name


@pytest.mark.parametrize("argv", NOT_SERVERS)
def test_other_command_lines_are_no_server(argv: list[str]) -> None:
    assert BUILTIN.name(argv) is None


def test_names_from_packages_programs_and_modules() -> None:
    assert server_name("@modelcontextprotocol/server-everything@1.0.0") == "everything"
    assert server_name("mcp_server_git") == "git"
    assert server_name("Notion-MCP-Server") == "notion"
    assert server_name("npm:@browsermcp/mcp") == "browsermcp"
    assert server_name("git+https://github.com/acme/search-mcp.git") == "search"
    assert server_name("mcp-server-fetch[extras]>=1.0") == "fetch"
    for nothing in ("", "mcp", "server", "@modelcontextprotocol/sdk", "a/mcp-server-x", "mcpx"):
        assert server_name(nothing) is None, nothing


def test_a_retitled_command_line_is_split_back() -> None:
    # What psutil reads for a process that set its title: one argument, then empty ones.
    assert normalise(["npm exec pkg /tmp", "", ""]) == ("npm", "exec", "pkg", "/tmp")
    assert normalise(["python3", "x.py", ""]) == ("python3", "x.py")
    assert normalise(["/opt/My App/bin/tool"]) == ("/opt/My", "App/bin/tool")  # a known cost
    assert BUILTIN.name([], "mcp-server-x") == "x"  # no argv (another user's): the name


def test_launchers_are_the_processes_a_server_takes_in() -> None:
    for argv in (
        ["npm exec /tmp/pkg /tmp", ""],
        ["sh", "-c", "'mcp-server-x' /tmp"],
        ["npx", "-y", "pkg"],
        ["uv", "tool", "uvx", "pkg"],
        ["uvx", "pkg"],
        ["node", "/usr/lib/node_modules/npm/bin/npx-cli.js", "pkg"],
        ["pipx", "run", "pkg"],
        ["env", "A=1", "bash", "-c", "x"],
    ):
        assert is_launcher(argv), argv
    for argv in (["node", "x.js"], ["npm", "test"], ["uv", "pip", "list"], ["python3"], []):
        assert not is_launcher(argv), argv


def test_patterns_name_servers_before_the_conventions() -> None:
    m = McpMatcher(
        McpSettings(
            patterns=[
                r"^node /srv/tools/(?P<name>[a-z]+)-tool[.]js",
                r"--serve-tools=(\w+)",
                r"^ruby .*toolbox",
                r"mcp-server-git",  # shadows the built-in name
            ]
        )
    )
    assert m.name(["node", "/srv/tools/search-tool.js", "--port", "0"]) == "search"
    assert m.name(["agentd", "--serve-tools=tickets"]) == "tickets"
    assert m.name(["ruby", "/opt/toolbox/main.rb"]) == "ruby"  # no group: the program
    assert m.name(["uvx", "mcp-server-git"]) == "uvx"
    assert m.name(["uvx", "mcp-server-fetch"]) == "fetch"  # the conventions still apply
    off = McpMatcher(McpSettings(builtin=False, patterns=[r"(?P<name>search)-tool"]))
    assert off.name(["uvx", "mcp-server-fetch"]) is None
    assert off.name(["node", "/srv/tools/search-tool.js"]) == "search"


def test_hostile_and_huge_command_lines_are_answered() -> None:
    raw = BUILTIN.name(["mcp-server-evil\x1b]0;x\x07\u202e"])
    assert raw is not None and raw.startswith("evil\x1b")  # raw here: cleaned when shown
    huge = ["node", "/x/" + "a" * 1_000_000 + "-mcp/dist/index.js", "-" * 100_000]
    assert BUILTIN.name(huge) == "a" * 1_000_000
    assert BUILTIN.name(["sh", "-c", "sh -c 'sh -c \"sh -c mcp-server-x\"'"]) is None  # depth


# -- finding servers in a tree ------------------------------------------------------------


def tree(
    links: dict[int, int], names: dict[int, str], launchers: set[int] = frozenset()
) -> list[Found]:
    """find_servers over `links` (pid -> parent; pid 1 is the agent's root)."""
    pids = [1, *sorted(links)]
    return find_servers(pids, links, names.get, lambda p: p in launchers)


def test_a_server_takes_in_the_launchers_above_it_and_everything_below() -> None:
    # claude(1) -> npm exec(10) -> sh(11) -> node(12) -> worker(13); uv(20) -> python(21)
    links = {10: 1, 11: 10, 12: 11, 13: 12, 20: 1, 21: 20, 30: 1}
    names = {12: "filesystem", 13: "filesystem", 21: "git"}
    found = tree(links, names, launchers={10, 11, 20})
    assert found == [Found(10, "filesystem", (10, 11, 12, 13)), Found(20, "git", (20, 21))]


def test_a_launcher_starting_several_things_stays_the_agents() -> None:
    # bash(10) runs two servers and a build: neither server takes bash in.
    found = tree({10: 1, 11: 10, 12: 10, 13: 10}, {11: "a", 12: "b"}, launchers={10})
    assert found == [Found(11, "a", (11,)), Found(12, "b", (12,))]


def test_the_agent_root_and_non_launchers_are_never_taken_in() -> None:
    assert tree({10: 1}, {1: "x", 10: "fs"}, launchers={1}) == [Found(10, "fs", (10,))]
    # a server's parent that is no launcher (a worker pool) keeps the server to itself
    assert tree({10: 1, 11: 10}, {11: "fs"}) == [Found(11, "fs", (11,))]


def test_a_damaged_parent_map_never_loops() -> None:
    links = {10: 11, 11: 10, 12: 12}  # a loop, and a process its own parent
    found = find_servers([1, 10, 11, 12], links, {12: "x"}.get, lambda p: True)
    assert [f.pid for f in found] == [12]


# -- settings -------------------------------------------------------------------------------


def test_mcp_settings_from_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[mcp]\nbuiltin = false\npatterns = ["(?P<name>tickets)-tool"]\n')
    s = load_settings(config)
    assert (s.mcp.enabled, s.mcp.builtin, s.mcp.patterns) == (
        True,
        False,
        ["(?P<name>tickets)-tool"],
    )
    monkeypatch.setenv("TUI_MONITOR_MCP__ENABLED", "false")
    assert load_settings(config).mcp.enabled is False


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        ('patterns = ["(unclosed"]', "invalid regular expression"),
        ('patterns = [""]', "must be 1-1000 characters"),
        ("patterns = [" + ", ".join(['"x"'] * 65) + "]", "at most 64"),
        ("patterns = 3", "valid list"),
        ("bogus = 1", "unknown key"),
    ],
)
def test_bad_mcp_settings_name_the_key(tmp_path: Path, toml: str, says: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(f"[mcp]\n{toml}\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert "mcp." in str(err.value) and says in str(err.value), str(err.value)
