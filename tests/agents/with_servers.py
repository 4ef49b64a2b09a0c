"""An agent that starts MCP servers as Claude Code and Codex do: children run from a command
line, each recognisable by its name. Python stands in for every server:

- `mcp-server-fake` (argv[0] given, as an installed `mcp-server-*` program shows): with
  `--busy` it burns a core, with `--mib N` it holds N MiB; `--name X` names it X instead;
- `sh -c '<dir>/mcp-server-chain; :'`: a launcher chain as `npx` makes (`sh -c BIN`), the
  server a symlink to python named `mcp-server-chain` (the `; :` keeps sh from exec'ing it);
- `plain-worker`: a child that is no MCP server (a `[mcp] patterns` rule can make it one).

Says `READY <pid> with_servers <fake pid> <sh pid> <chain pid> <plain pid>`; on SIGTERM kills
its children (and the chain's server) and exits.
"""

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import tempfile

from _common import option, ready, sleep_forever

busy = "--busy" in sys.argv
mib = int(option("--mib", "0") or 0)
name = option("--name", "mcp-server-fake") or "mcp-server-fake"
SERVER = (
    "import os, sys, time\n"
    "block = bytearray(int(sys.argv[1]) << 20)\n"
    "for i in range(0, len(block), 4096): block[i] = 1\n"
    "print('up', os.getpid(), flush=True)\n"
    "n = 0\n"
    "while sys.argv[2] == 'busy': n = (n + 1) % 1_000_003\n"
    "time.sleep(3600)\n"
)

fake = subprocess.Popen(
    [name, "-c", SERVER, str(mib), "busy" if busy else "idle"],
    executable=sys.executable,
    stdout=subprocess.PIPE,
)
folder = tempfile.mkdtemp(prefix="servers-")
chain_bin = os.path.join(folder, "mcp-server-chain")
os.symlink(sys.executable, chain_bin)
chain = subprocess.Popen(
    ["sh", "-c", f"{shlex.quote(chain_bin)} -c {shlex.quote(SERVER)} 0 idle; :"],
    stdout=subprocess.PIPE,
)
plain = subprocess.Popen(
    ["plain-worker", "-c", SERVER, "0", "idle"], executable=sys.executable, stdout=subprocess.PIPE
)
pids = []
for child in (fake, chain, plain):
    assert child.stdout is not None
    pids.append(int(child.stdout.readline().split()[1]))  # "up <pid>": the server runs


def _stop(signum: int, frame: object) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    for child in (fake, chain, plain):
        child.kill()
        child.wait()
    os.unlink(chain_bin)
    os.rmdir(folder)
    sys.exit(0)


signal.signal(signal.SIGTERM, _stop)
ready("with_servers", fake.pid, chain.pid, pids[1], plain.pid)
sleep_forever()
