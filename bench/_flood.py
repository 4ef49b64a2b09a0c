"""One flood client for bench/ingest.py: events over the ingest socket until a deadline.

    python bench/_flood.py SOCKET AGENT SECONDS [BATCH] [MARKER]

Connects, prints `READY`, waits for a line on stdin (so that all clients start together),
then sends batches of BATCH event lines (default 500) and reads all of a batch's replies
before sending the next (pipelined, as a buffering agent library would; the server's
back-pressure reaches us as a slow reply). Lines are realistic small events, about 170 bytes:
agent, level, kind, a message with a counter, a small data object. At the deadline it prints
its totals as one JSON line. Standard library only; MARKER is ignored (it is there so that
`pgrep -af` finds the process).
"""

from __future__ import annotations

import json
import resource
import socket
import sys
import time

LEVELS = (b"info",) * 8 + (b"debug", b"warning")
KINDS = (b"step", b"tool_call", b"llm_call", b"step", b"message")


def lines(agent: bytes, start: int, n: int, ts: float) -> bytes:
    """`n` event lines numbered from `start`, built with byte formatting (cheap: the clients
    share the box with the server being measured)."""
    out = []
    stamp = b"%.3f" % ts
    for i in range(start, start + n):
        level = LEVELS[i % len(LEVELS)]
        kind = KINDS[i % len(KINDS)]
        out.append(
            b'{"v":1,"type":"event","agent":"%s","ts":%s,"level":"%s","kind":"%s",'
            b'"message":"step %d of the plan done","data":{"i":%d,"ms":%d.%d,"ok":true}}\n'
            % (agent, stamp, level, kind, i, i, i % 97, i % 10)
        )
    return b"".join(out)


def main() -> None:
    path, agent, seconds = sys.argv[1], sys.argv[2].encode(), float(sys.argv[3])
    batch = int(sys.argv[4]) if len(sys.argv) > 4 else 500
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    print("READY", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    deadline = t0 + seconds
    sent = ok = rejected = 0
    nbytes = 0
    first_error = ""
    per_second: list[int] = []
    rtt_max = 0.0
    rtts: list[float] = []
    buf = b""
    while True:
        now = time.perf_counter()
        if now >= deadline:
            break
        data = lines(agent, sent, batch, time.time())
        sock.sendall(data)
        nbytes += len(data)
        sent += batch
        got = 0
        while got < batch:
            chunk = sock.recv(65536)
            if not chunk:
                raise SystemExit(f"{agent.decode()}: the server closed the connection")
            buf += chunk
            cut = buf.rfind(b"\n") + 1
            done, buf = buf[:cut], buf[cut:]
            n = done.count(b"\n")
            good = done.count(b'{"ok":true}')
            ok += good
            if good < n:
                rejected += n - good
                if not first_error:
                    bad = [x for x in done.split(b"\n") if x and x != b'{"ok":true}']
                    first_error = bad[0].decode(errors="replace")[:200]
            got += n
        rtt = time.perf_counter() - now
        rtts.append(rtt)
        rtt_max = max(rtt_max, rtt)
        second = int(time.perf_counter() - t0)
        while len(per_second) <= second:
            per_second.append(0)
        per_second[second] += got
    wall = time.perf_counter() - t0
    sock.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    rtts.sort()
    print(
        json.dumps(
            {
                "agent": agent.decode(),
                "sent": sent,
                "ok": ok,
                "rejected": rejected,
                "first_error": first_error,
                "bytes": nbytes,
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "batches": len(rtts),
                "rtt_median": rtts[len(rtts) // 2] if rtts else 0.0,
                "rtt_max": rtt_max,
                "per_second": per_second,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
