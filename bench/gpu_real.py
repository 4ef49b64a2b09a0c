"""Check the NVML gateway against a real NVIDIA GPU (run on a machine that has one).

    python bench/gpu_real.py --out DIR [--load-gib 8] [--load-s 45]

What it does, each step printed as one line of JSON so the run can be compared by eye:
1. `nvidia-smi`'s own reading of every GPU (the reference);
2. our `GpuCollector.sample()` on the idle GPU, and the time one sample takes (median of 20);
3. starts a real GPU load (`torch`: LOAD_GIB allocated, matrix products in a loop) whose
   command line says `tui-monitor-gpu-load`, waits for its ready line, then samples again and
   compares the load's memory as NVML lists it with `nvidia-smi --query-compute-apps`;
4. `tui-monitor status --json` with an `[[agents]]` rule for the load: the agent's GPU memory;
5. the dashboard on a live in-process recorder, saved as an SVG (DIR/dashboard-gpu.svg).
Nothing here runs in `make test`: this machine has no GPU. Results go in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tui_monitor.collect.gpu import GpuCollector  # noqa: E402

SMI_FIELDS = (
    "index,name,uuid,driver_version,memory.used,memory.total,utilization.gpu,"
    "utilization.memory,temperature.gpu,power.draw,power.limit"
)
LOAD = """
import sys, time, torch
x = torch.empty(int(float(sys.argv[1]) * 2**30), dtype=torch.uint8, device="cuda")
a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
print("ready", flush=True)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    for _ in range(20):
        a = (a @ a).clamp_(-1, 1)
    torch.cuda.synchronize()
"""


ENTRY = "from tui_monitor.cli import main; main()"


def show(step: str, value: object) -> None:
    print(json.dumps({"step": step, "value": value}, default=str), flush=True)


def smi(query: str, fields: str) -> list[list[str]]:
    try:
        out = subprocess.run(
            ["nvidia-smi", f"--query-{query}={fields}", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        ).stdout
    except FileNotFoundError:
        return [["nvidia-smi not found"]]
    return [[c.strip() for c in line.split(",")] for line in out.splitlines() if line.strip()]


def ours(collector: GpuCollector) -> dict[str, object]:
    status = collector.sample()
    return status.model_dump(mode="json")


def timed(collector: GpuCollector, n: int = 20) -> float:
    spans = []
    for _ in range(n):
        t0 = time.perf_counter()
        collector.sample()
        spans.append(time.perf_counter() - t0)
    return statistics.median(spans) * 1000.0


async def screenshot(out: Path, config: Path, db: Path) -> str:
    from tui_monitor.config import load_settings
    from tui_monitor.source import LiveSource
    from tui_monitor.ui.app import make_app

    settings = load_settings(config)
    app = make_app(settings, LiveSource(settings, db))
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):  # up to ~10 s for a few ticks to land
            await pilot.pause(0.1)
            if app.screen.query("AgentTable"):
                break
        await pilot.pause(4.0)  # four ticks: the GPU card's sparkline has points
        return app.save_screenshot(filename="dashboard-gpu.svg", path=str(out))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--load-gib", type=float, default=8.0)
    parser.add_argument("--load-s", type=float, default=45.0)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    show("nvidia-smi idle", smi("gpu", SMI_FIELDS))
    collector = GpuCollector(timeout=2.0)
    t0 = time.perf_counter()
    show("ours idle (first sample, opens NVML)", ours(collector))
    show("first sample ms", round((time.perf_counter() - t0) * 1000.0, 1))
    show("sample ms (median of 20)", round(timed(collector), 2))

    load = subprocess.Popen(
        [sys.executable, "-c", LOAD, str(args.load_gib), str(args.load_s), "tui-monitor-gpu-load"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert load.stdout is not None
        line = load.stdout.readline().strip()
        show("load", {"pid": load.pid, "said": line})
        time.sleep(3.0)  # let utilization (a sampled average) see the products
        show("nvidia-smi loaded", smi("gpu", SMI_FIELDS))
        show("nvidia-smi apps", smi("compute-apps", "pid,used_memory"))
        loaded = ours(collector)
        show("ours loaded", loaded)
        mem = loaded.get("process_memory") or {}
        show("ours load pid MiB", (mem.get(str(load.pid)) or 0) / 2**20)
        show("sample ms under load (median of 20)", round(timed(collector), 2))

        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "config.toml"
            config.write_text(
                '[[agents]]\nname = "gpu-load"\ncmdline = "tui-monitor-gpu-load"\n',
                encoding="utf-8",
            )
            env = dict(os.environ, XDG_DATA_HOME=tmp, XDG_RUNTIME_DIR=tmp)
            status = subprocess.run(
                [sys.executable, "-c", ENTRY, "--config", str(config), "status", "--json"],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )
            show("status rc", status.returncode)
            if status.returncode == 0:
                snap = json.loads(status.stdout)
                show("status gpu", snap.get("gpu"))
                keep = ("name", "status", "pid", "procs", "gpu_memory_used", "cpu_utilization")
                show(
                    "status agent gpu-load",
                    [
                        {k: a.get(k) for k in keep}
                        for a in snap.get("agents", [])
                        if a.get("name") == "gpu-load"
                    ],
                )
            else:
                show("status stderr", status.stderr[-2000:])
            os.environ["XDG_DATA_HOME"] = tmp
            os.environ["XDG_RUNTIME_DIR"] = tmp
            svg = asyncio.run(screenshot(args.out, config, Path(tmp) / "h.db"))
            show("screenshot", svg)
    finally:
        load.terminate()
        load.wait(timeout=30)
    collector.close()
    show("after close", ours(GpuCollector(timeout=2.0)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
