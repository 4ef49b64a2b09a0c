"""Send COUNT events over the ingest socket as fast as the server takes them.

Usage: flood.py SOCKET AGENT COUNT. Lines go out in batches and every reply is read, so the
server's back-pressure reaches us; prints `DONE <ok> <rejected>` at the end.
"""

from __future__ import annotations

import json
import socket
import sys

BATCH = 500


def main() -> None:
    path, agent, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    replies = sock.makefile("rb")
    print("READY", flush=True)
    ok = rejected = 0
    for start in range(0, count, BATCH):
        n = min(BATCH, count - start)
        lines = [
            json.dumps({"v": 1, "type": "event", "agent": agent, "message": f"{agent} {start + i}"})
            for i in range(n)
        ]
        sock.sendall(("\n".join(lines) + "\n").encode())
        for _ in range(n):
            reply = json.loads(replies.readline())
            if reply.get("ok"):
                ok += 1
            else:
                rejected += 1
    sock.close()
    print("DONE", ok, rejected, flush=True)


if __name__ == "__main__":
    main()
