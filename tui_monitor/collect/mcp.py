"""Which command lines start an MCP server, and what to call the server.

An MCP client starts a stdio server as a child process from the `command` and `args` of its
config, without a shell: Claude Code's `.mcp.json` / `claude mcp add NAME -- CMD ARGS`
(Anthropic's Claude Code MCP docs; the MCP TypeScript SDK's `StdioClientTransport` spawns
`command` with `args` through cross-spawn), Codex's `[mcp_servers.NAME] command = ...,
args = [...]` in `~/.codex/config.toml` (codex-rs `mcp-client`: `new_stdio_client(program,
args, env)`). What those configs hold, as the servers' READMEs and the clients' docs show:

- a package runner: `npx -y @modelcontextprotocol/server-filesystem DIR`, `npx -y
  @upstash/context7-mcp`, `uvx mcp-server-git --repository DIR`, `uvx --from PKG==V BIN`,
  `pnpm dlx`, `bunx`, `pipx run`, `uv run --directory DIR server.py`;
- an installed program: `github-mcp-server stdio`, `mcp-server-fetch`, `context7-mcp`;
- an interpreter and a script or module: `node .../weather-mcp/dist/index.js`, `python -m
  mcp_server_git`, `python .../bin/mcp-server-time` (an entry-point script);
- a container: `docker run -i --rm -e TOKEN ghcr.io/github/github-mcp-server`, `docker run
  -i --rm mcp/fetch` (Docker Hub's `mcp/` namespace);
- a tool's own subcommand: `codex mcp-server`, `claude mcp serve`, `serena start-mcp-server`,
  `gitnexus mcp` (issue threads: openai/codex wrappers, abhigyanpatwari/GitNexus#1546).

What runs is not always what was configured. npm's `npx` retitles itself `npm exec PKG ARGS`
(one argument holding spaces, the rest of argv zeroed: psutil then reads one long argument
and empty ones) and runs the package's bin through `sh -c 'BIN' ARGS`, which runs `node
.../node_modules/.bin/BIN ARGS` (seen here with npm 11; the same chain is reported in
ihor-sokoliuk/mcp-searxng#60 and anthropics/claude-code#27707). `uvx` starts `uv`, which
starts the tool's Python. So a server is recognised on whichever process of its chain names
it, and `mcp_servers.py` widens it to the launchers above it.

Names follow conventions, so the rules are conventions too (the MCP servers repository and
the packages above): `mcp-server-X`, `mcp_server_X`, `X-mcp-server`, `X-mcp`, `mcp-X`,
`@modelcontextprotocol/server-X`, `@scope/mcp`. Anything else needs `[mcp] patterns`.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Sequence

from ..config import McpSettings

Argv = Sequence[str]

_NAME_RULES = (
    re.compile(r"mcp[-_.]?server[-_.](.+)"),  # mcp-server-git, mcp_server_fetch
    re.compile(r"(.+?)[-_.]mcp[-_.]?server"),  # github-mcp-server, notion-mcp-server
    re.compile(r"(.+?)[-_.]mcp"),  # context7-mcp, chrome-devtools-mcp
    re.compile(r"mcp[-_.](.+)"),  # mcp-remote, mcp-atlassian
)
_BARE = frozenset({"mcp", "mcp-server", "mcp_server", "server"})
"""A package named only this is named by its scope: `@playwright/mcp`, `@sentry/mcp-server`."""
_EXTENSIONS = (".js", ".mjs", ".cjs", ".ts", ".py", ".pyz", ".jar", ".exe", ".sh", ".cmd")
_GENERIC = frozenset(
    {
        "",
        ".",
        "..",
        ".bin",
        "__main__",
        "app",
        "bin",
        "build",
        "cjs",
        "cli",
        "dist",
        "esm",
        "index",
        "lib",
        "main",
        "node_modules",
        "out",
        "release",
        "run",
        "scripts",
        "server",
        "site-packages",
        "dist-packages",
        "src",
        "start",
        "target",
    }
)
"""Script and folder names that say nothing about the package: look one folder further up."""

_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh"})
_RUNNERS = frozenset({"npx", "pnpx", "bunx", "uvx"})
"""Run a package's program: `npx [opts] PKG [args]`."""
_SUBRUNNERS = {
    "npm": frozenset({"exec", "x"}),
    "pnpm": frozenset({"dlx", "exec"}),
    "yarn": frozenset({"dlx", "exec"}),
    "bun": frozenset({"x"}),
    "pipx": frozenset({"run"}),
}
"""The same through a subcommand: `npm exec PKG`, `pnpm dlx PKG`, `pipx run PKG`."""
_RUNNER_SCRIPTS = {
    "npx": "npx",
    "npx-cli.js": "npx",
    "npm": "npm",
    "npm-cli.js": "npm",
    "pnpm": "pnpm",
    "pnpm.cjs": "pnpm",
    "pnpx": "pnpx",
    "yarn": "yarn",
    "yarn.js": "yarn",
    "yarn.cjs": "yarn",
}
"""Runners that are node scripts: `node /usr/lib/node_modules/npm/bin/npx-cli.js -y PKG`."""
_PACKAGE_OPTIONS = frozenset({"-p", "--package", "--from", "--spec", "--with"})
"""Runner options whose value is a package: `npx -p PKG BIN`, `uvx --from PKG BIN`."""
_RUNNER_VALUES = frozenset(
    {
        "-c",
        "--call",
        "--cache",
        "--registry",
        "--userconfig",
        "--workspace",
        "-w",
        "--python",
        "--index",
        "--index-url",
        "--extra-index-url",
        "--directory",
        "--project",
        "--env-file",
        "--pip-args",
        "--with-requirements",
        "-C",
        "--dir",
    }
)
"""Runner options followed by a value that is not the package."""
_DIRECTORY_OPTIONS = frozenset({"--directory", "--project", "-C", "--dir"})
_INTERPRETER = re.compile(r"^(node|nodejs|bun|deno|python[0-9.]*|pypy[0-9.]*|java)$")
_INTERPRETER_VALUES = frozenset(
    {
        "-X",
        "-W",
        "-r",
        "--require",
        "--import",
        "--loader",
        "--experimental-loader",
        "--env-file",
        "--conditions",
        "--title",
        "-cp",
        "-classpath",
        "--class-path",
        "--config",
        "--import-map",
    }
)
_CODE_OPTIONS = frozenset({"-c", "-e", "--eval", "-p", "--print"})
_CONTAINERS = frozenset({"docker", "podman", "nerdctl"})
_CONTAINER_FLAGS = frozenset(
    {
        "--rm",
        "--init",
        "--interactive",
        "--tty",
        "--detach",
        "--privileged",
        "--read-only",
        "--publish-all",
        "--quiet",
        "--no-healthcheck",
        "--oom-kill-disable",
    }
)
"""`docker run` options that take no value (every other one takes the next argument)."""
_SHORT_FLAGS = re.compile(r"^-[itdqP]+$")
_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:@-]*$")
_SERVE_WORDS = frozenset({"mcp-server", "start-mcp-server", "mcp-serve", "serve-mcp", "mcp-stdio"})
_AFTER_MCP = frozenset({"serve", "server", "start", "stdio", "run"})


def normalise(argv: Argv) -> tuple[str, ...]:
    """argv as it was meant: a retitled process (`npm exec PKG ARGS` in one argument, the
    rest of its argument area zeroed) split back into words."""
    args = list(argv)
    while args and not args[-1]:
        args.pop()
    if len(args) == 1 and " " in args[0].strip():
        return tuple(args[0].split())
    return tuple(args)


def _program(path: str) -> str:
    base = posixpath.basename(path.replace("\\", "/")).lower()
    for ext in (".exe", ".cmd"):
        base = base.removesuffix(ext)
    return base


def _stem(name: str) -> str:
    for ext in _EXTENSIONS:
        if name.endswith(ext):
            return name[: -len(ext)]
    return name


def server_name(token: str) -> str | None:
    """The server a package, program, module or image name stands for, by convention, or
    None: `@modelcontextprotocol/server-git@1.2` -> git, `context7-mcp` -> context7."""
    t = token.strip().lower()
    for prefix in ("npm:", "jsr:", "pypi:"):
        t = t.removeprefix(prefix)
    if "://" in t or t.startswith("git+"):
        t = _stem(t.rstrip("/").rsplit("/", 1)[-1]).removesuffix(".git")
    scope = ""
    if t.startswith("@") and "/" in t:
        scope, t = t[1:].split("/", 1)
    t = re.split(r"[@=<>!~]", t, maxsplit=1)[0]  # a version or a pip specifier
    t = re.sub(r"\[[^\[\]]*\]$", "", t)  # pip extras: `pkg[cli]`
    if "/" in t:
        return None  # a path, not a name
    name = _stem(t)
    if scope == "modelcontextprotocol" and name.startswith("server-") and len(name) > 7:
        return name[7:]
    if name in _BARE:
        return scope or None
    for rule in _NAME_RULES:
        found = rule.fullmatch(name)
        if found:
            return found.group(1)
    return None


def _path_names(path: str) -> tuple[str | None, str]:
    """(the server a script path names, the package it belongs to): the script's own name,
    else the nearest folder above it that says something (`.../weather-mcp/dist/index.js`)."""
    parts = posixpath.normpath(path.replace("\\", "/")).split("/")
    stem = _stem(parts[-1].lower())
    package = stem
    if stem not in _GENERIC:
        found = server_name(stem)
        if found is not None:
            return found, stem
    else:
        package = ""
    for i in range(len(parts) - 2, -1, -1):
        folder = parts[i].lower()
        if folder in _GENERIC or folder.startswith("python3"):
            continue
        scoped = f"{parts[i - 1]}/{folder}" if i > 0 and parts[i - 1].startswith("@") else folder
        return server_name(scoped), package or folder
    return None, package


def serves_mcp(args: Argv) -> bool:
    """Whether arguments ask a tool to be an MCP server: `mcp-server`, `mcp serve`, `mcp`."""
    for i, arg in enumerate(args):
        word = arg.lower()
        if word in _SERVE_WORDS:
            return True
        if word == "mcp" and (i + 1 == len(args) or args[i + 1].lower() in _AFTER_MCP):
            return True
    return False


def _unwrap(argv: Argv) -> tuple[str, tuple[str, ...]]:
    """(the program that really runs, its arguments): through `env VAR=x` and through node
    running a runner's script."""
    args = tuple(argv)
    while args:
        program = _program(args[0])
        rest = args[1:]
        if program == "env":
            i = 0
            while i < len(rest) and ("=" in rest[i] or rest[i].startswith("-")):
                i += 2 if rest[i] in ("-u", "--unset", "-C", "--chdir") else 1
            args = rest[i:]
            continue
        if program in ("node", "nodejs") and rest:
            script = next((a for a in rest if not a.startswith("-")), "")
            runner = _RUNNER_SCRIPTS.get(_program(script))
            if runner is not None:
                return runner, rest[rest.index(script) + 1 :]
        return program, rest
    return "", ()


def is_launcher(argv: Argv) -> bool:
    """Whether a process only starts another one (a shell, a package runner): an MCP server
    found below it takes it in (`npm exec` -> `sh -c` -> `node`)."""
    program, args = _unwrap(normalise(argv))
    if program in _SHELLS or program in _RUNNERS:
        return True
    if program in _SUBRUNNERS:
        return bool(args) and args[0] in _SUBRUNNERS[program]
    return program == "uv" and any(a in ("run", "tool") for a in args)


def _runner(args: Argv, depth: int) -> str | None:
    """`npx`/`uvx`/`uv run`/`npm exec`/... arguments: the package named, else what runs
    (`uv run python -m mcp_server_x`; `uvx --from git+URL serena start-mcp-server`)."""
    packages: list[str] = []
    folders: list[str] = []
    command: tuple[str, ...] = ()
    i = 0
    while i < len(args):
        arg = args[i]
        key, eq, value = arg.partition("=")
        if key in _PACKAGE_OPTIONS or key in _RUNNER_VALUES:
            if not eq:
                value = args[i + 1] if i + 1 < len(args) else ""
                i += 1
            if key in _PACKAGE_OPTIONS:
                packages.append(value)
            elif key in _DIRECTORY_OPTIONS:
                folders.append(value)
        elif not arg.startswith("-"):
            command = tuple(args[i:])
            break
        i += 1
    for package in packages:
        found = server_name(package)
        if found is not None:
            return found
    if command:
        first = command[0]
        if "/" in first and not first.startswith("@"):  # a path: `npm exec ./pkg`, `uv run x.py`
            found, package = _path_names(first)
            if found is None and package and serves_mcp(command[1:]):
                found = package
        else:
            found = server_name(first) or _builtin(command, depth + 1)
        if found is not None:
            return found
    for folder in folders:  # `uv run --directory .../weather-mcp server.py`
        found = _path_names(folder.rstrip("/") + "/index")[0]
        if found is not None:
            return found
    if packages and command and serves_mcp(command[1:]):
        return command[0].lower()
    return None


def _interpreted(program: str, args: Argv, depth: int) -> str | None:
    """`node SCRIPT`, `python -m MODULE`, `java -jar JAR`, `deno run SPEC`, ..."""
    if args and args[0] == "run" and program in ("deno", "bun"):
        args = args[1:]
    it = iter(enumerate(args))
    for i, arg in it:
        if arg == "-m" and program.startswith(("python", "pypy")):
            module = args[i + 1] if i + 1 < len(args) else ""
            top = module.split(".")[0]
            if top in ("mcp", "fastmcp"):  # the SDK's own CLI: `python -m mcp run server.py`
                return _builtin((top, *args[i + 2 :]), depth + 1)
            found = server_name(top)
            if found is None and serves_mcp(args[i + 2 :]):
                found = top.lower()
            return found
        if arg == "-jar":
            return _path_names(args[i + 1])[0] if i + 1 < len(args) else None
        if arg in _CODE_OPTIONS:
            return None  # inline code: nothing names it
        if arg in _INTERPRETER_VALUES:
            next(it, None)
            continue
        if arg.startswith("-"):
            continue
        if arg.startswith(("npm:", "jsr:")):
            return server_name(arg)
        found, package = _path_names(arg)
        if found is None and package and serves_mcp(args[i + 1 :]):
            found = package
        return found
    return None


def _image_name(image: str) -> str | None:
    """`ghcr.io/github/github-mcp-server:v1` -> github; `mcp/fetch` -> fetch."""
    image = image.split("@", 1)[0]
    parts = image.split("/")
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]  # a registry
    parts[-1] = parts[-1].split(":", 1)[0]  # a tag
    if len(parts) == 2 and parts[0] == "mcp":
        return parts[1]
    return server_name(parts[-1]) or (server_name(parts[-2]) if len(parts) > 1 else None)


def _container(args: tuple[str, ...]) -> str | None:
    """`docker run [options] IMAGE [args]`; `docker mcp gateway run` (Docker's MCP gateway)."""
    if args[:1] == ("mcp",):
        return "docker-gateway" if "gateway" in args[1:3] else None
    if args[:2] == ("container", "run"):
        args = args[1:]
    if args[:1] != ("run",):
        return None
    i = 1
    while i < len(args):
        arg = args[i]
        if arg.startswith("-"):
            flag = "=" in arg or arg in _CONTAINER_FLAGS or _SHORT_FLAGS.match(arg) is not None
            i += 1 if flag else 2
            continue
        return _image_name(arg) if _IMAGE.match(arg) else None
    return None


def _builtin(argv: Argv, depth: int = 0) -> str | None:
    if depth > 3:
        return None  # runners running runners: a command line built to make us loop
    program, args = _unwrap(argv)
    if not program:
        return None
    if program in _SHELLS:
        # `sh -c 'BIN' ARGS`, as npm exec runs a package's program: the command it runs.
        if len(args) > 1 and args[0] == "-c":
            try:
                words = shlex.split(args[1])
            except ValueError:
                words = args[1].split()
            return _builtin(words, depth + 1)
        return None
    if program in _RUNNERS:
        return _runner(args, depth)
    if program in _SUBRUNNERS:
        return _runner(args[1:], depth) if args and args[0] in _SUBRUNNERS[program] else None
    if program == "uv":
        while args and args[0].startswith("-"):  # uv's global options: `uv --directory D run`
            takes_value = args[0] in _RUNNER_VALUES
            if args[0] in _DIRECTORY_OPTIONS and len(args) > 1:
                found = _path_names(args[1].rstrip("/") + "/index")[0]
                if found is not None:
                    return found
            args = args[2:] if takes_value else args[1:]
        if args[:2] in (("tool", "run"), ("tool", "uvx")):  # `uvx X` runs `uv tool uvx X`
            return _runner(args[2:], depth)
        return _runner(args[1:], depth) if args[:1] == ("run",) else None
    if program in _CONTAINERS:
        return _container(args)
    if program in ("mcp", "fastmcp"):  # the SDK's CLI: `mcp run server.py`, `fastmcp run x.py`
        script = next((a for a in args[1:] if not a.startswith("-")), "")
        if args[:1] in (("run",), ("dev",)) and script:
            return _path_names(script.split(":")[0])[1] or program
        return None
    if _INTERPRETER.match(program):
        return _interpreted(program, args, depth)
    found = server_name(program)
    if found is None and serves_mcp(args):
        found = program
    return found


class McpMatcher:
    """Tells MCP servers from other processes by their command line: `[mcp] patterns` first,
    then the built-in conventions (unless `[mcp] builtin = false`)."""

    def __init__(self, settings: McpSettings) -> None:
        self.builtin = settings.builtin
        self.patterns = tuple(re.compile(p) for p in settings.patterns)

    def name(self, argv: Argv, comm: str = "") -> str | None:
        """What the server this process starts serves (its name, raw: clean it to show it),
        or None when it is not recognised as an MCP server.

        Args:
            argv: its command line as psutil reads it (a retitled one is split back).
            comm: its process name, used when argv cannot be read.
        """
        words = normalise(argv) or ((comm,) if comm else ())
        if not words:
            return None
        if self.patterns:
            line = " ".join(words)
            for pattern in self.patterns:
                found = pattern.search(line)
                if found:
                    named = found.groupdict().get("name") or next(
                        (g for g in found.groups() if g), None
                    )
                    return named or _program(words[0]) or "mcp"
        return _builtin(words) if self.builtin else None
