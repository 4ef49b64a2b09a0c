"""The NVML gateway against fake GPUs: NVML has no GPU here, so its functions are faked."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml
import pytest

from tui_monitor.collect import gpu as gpu_mod
from tui_monitor.collect.gpu import GpuCollector
from tui_monitor.models import GpuSample

GIB = 2**30


@dataclass
class FakeGpu:
    """One fake device; `fail` maps an NVML function name to the error code it raises."""

    name: str | bytes = "NVIDIA H100 80GB HBM3"
    uuid: str | bytes = "GPU-00000000-0000-0000-0000-000000000000"
    util: tuple[int, int] = (87, 41)
    memory: tuple[int, int] = (20 * GIB, 80 * GIB)
    temp: int = 61
    power_mw: int = 312_500
    limit_mw: int = 700_000
    compute: list[tuple[int, int | None]] = field(default_factory=list)
    graphics: list[tuple[int, int | None]] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)
    hang: dict[str, threading.Event] = field(default_factory=dict)
    calls: Counter[str] = field(default_factory=Counter)

    def call(self, fn: str, value: Any) -> Any:
        self.calls[fn] += 1
        if fn in self.hang:
            self.hang[fn].wait()
        if fn in self.fail:
            raise pynvml.NVMLError(self.fail[fn])
        return value


@dataclass
class FakeNvml:
    gpus: list[FakeGpu]
    driver: str | bytes = "550.54.15"
    calls: Counter[str] = field(default_factory=Counter)
    init_error: int | None = None
    init_hang: threading.Event | None = None


def _procs(rows: list[tuple[int, int | None]]) -> list[SimpleNamespace]:
    return [SimpleNamespace(pid=pid, usedGpuMemory=mem) for pid, mem in rows]


def install(monkeypatch: pytest.MonkeyPatch, nvml: FakeNvml) -> FakeNvml:
    """Replace the real binding's functions with ones that read `nvml`."""

    def init() -> None:
        nvml.calls["nvmlInit"] += 1
        if nvml.init_hang is not None:
            nvml.init_hang.wait()
        if nvml.init_error is not None:
            raise pynvml.NVMLError(nvml.init_error)

    def handle(index: int) -> FakeGpu:
        g = nvml.gpus[index]
        g.call("nvmlDeviceGetHandleByIndex", None)
        return g

    def per_gpu(fn: str, value: Any) -> Any:
        return lambda g, *args: g.call(fn, value(g))

    fakes: dict[str, Any] = {
        "nvmlInit": init,
        "nvmlShutdown": lambda: nvml.calls.update(["nvmlShutdown"]),
        "nvmlDeviceGetCount": lambda: len(nvml.gpus),
        "nvmlSystemGetDriverVersion": lambda: nvml.driver,
        "nvmlDeviceGetHandleByIndex": handle,
        "nvmlDeviceGetName": per_gpu("name", lambda g: g.name),
        "nvmlDeviceGetUUID": per_gpu("uuid", lambda g: g.uuid),
        "nvmlDeviceGetUtilizationRates": per_gpu(
            "util", lambda g: SimpleNamespace(gpu=g.util[0], memory=g.util[1])
        ),
        "nvmlDeviceGetMemoryInfo": per_gpu(
            "memory", lambda g: SimpleNamespace(used=g.memory[0], total=g.memory[1])
        ),
        "nvmlDeviceGetTemperature": per_gpu("temp", lambda g: g.temp),
        "nvmlDeviceGetPowerUsage": per_gpu("power", lambda g: g.power_mw),
        "nvmlDeviceGetEnforcedPowerLimit": per_gpu("limit", lambda g: g.limit_mw),
        "nvmlDeviceGetComputeRunningProcesses": per_gpu("compute", lambda g: _procs(g.compute)),
        "nvmlDeviceGetGraphicsRunningProcesses": per_gpu("graphics", lambda g: _procs(g.graphics)),
    }
    for name, fn in fakes.items():
        monkeypatch.setattr(pynvml, name, fn)
    return nvml


def complete(sample: GpuSample) -> bool:
    """Every field read and no error."""
    values = sample.model_dump()
    return values.pop("error") is None and None not in values.values()


def test_absent_library_is_unavailable_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    status = GpuCollector().sample()
    assert status.available is False
    assert status.reason == "pynvml is not installed"
    assert status.gpus == ()


def test_real_module_without_a_gpu_reports_why() -> None:
    """Not faked: CI machines have no driver, so NVML itself must say why."""
    collector = GpuCollector(timeout=10.0)
    try:
        status = collector.sample()
    finally:
        collector.close()
    if status.available:  # a developer machine with a working GPU
        assert status.gpus
    else:
        assert status.reason
        assert status.reason == gpu_mod.NO_DRIVER or "NVML" in status.reason


PROBE = """
import sys
from tui_monitor.collect import gpu
gpu.NVML_LIBRARY = sys.argv[1]
collector = gpu.GpuCollector(timeout=10.0)
status = collector.sample()
collector.close()
print(status.available, "pynvml" in sys.modules, status.reason, sep="|")
"""


def _probe(library: str) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, library], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().split("|")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the probe is Linux only")
def test_no_driver_library_means_no_binding_loaded() -> None:
    """Without the driver library the binding is never imported (it costs ~3 MB for
    nothing), and the reason says what is missing."""
    assert _probe("libtui-monitor-absent.so.1") == ["False", "False", gpu_mod.NO_DRIVER]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the probe is Linux only")
def test_a_loadable_library_goes_on_to_nvml() -> None:
    """The probe only decides whether to import pynvml; NVML itself has the last word."""
    available, imported, reason = _probe("libc.so.6")
    assert imported == "True"
    assert available == "True" or reason == gpu_mod.NO_DRIVER or reason.startswith("NVML")


def test_two_gpus_all_fields_and_process_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(
        monkeypatch,
        FakeNvml(
            gpus=[
                FakeGpu(compute=[(100, 4 * GIB), (200, GIB)], graphics=[(200, GIB), (300, None)]),
                FakeGpu(
                    name=b"Tesla T4",
                    uuid=b"GPU-1",
                    util=(5, 1),
                    memory=(GIB, 16 * GIB),
                    temp=40,
                    power_mw=27_000,
                    limit_mw=70_000,
                    compute=[(100, 2 * GIB)],
                    graphics=[(400, 512)],
                ),
            ],
            driver=b"535.104.05",
        ),
    )
    collector = GpuCollector()
    status = collector.sample()
    assert status.available is True
    assert status.reason is None
    assert status.driver_version == "535.104.05"
    first, second = status.gpus
    assert first == GpuSample(
        index=0,
        uuid="GPU-00000000-0000-0000-0000-000000000000",
        name="NVIDIA H100 80GB HBM3",
        gpu_utilization=87.0,
        memory_utilization=41.0,
        gpu_memory_used=20 * GIB,
        gpu_memory_total=80 * GIB,
        gpu_temperature=61.0,
        power_w=312.5,
        power_limit_w=700.0,
    )
    assert (second.index, second.name, second.uuid) == (1, "Tesla T4", "GPU-1")
    assert (second.power_w, second.power_limit_w, second.gpu_temperature) == (27.0, 70.0, 40.0)
    # Summed across GPUs; a C+G process (200) counted once per GPU; unknown memory skipped.
    assert status.process_memory == {100: 6 * GIB, 200: GIB, 400: 512}
    collector.close()
    assert nvml.calls["nvmlInit"] == 1
    assert nvml.calls["nvmlShutdown"] == 1


def test_unsupported_fields_are_none_only_for_those(monkeypatch: pytest.MonkeyPatch) -> None:
    unsupported = pynvml.NVML_ERROR_NOT_SUPPORTED
    install(
        monkeypatch,
        FakeNvml(
            gpus=[
                FakeGpu(
                    fail={"power": unsupported, "limit": unsupported, "temp": unsupported},
                    compute=[(7, GIB)],
                ),
                FakeGpu(fail={"util": pynvml.NVML_ERROR_UNKNOWN, "graphics": unsupported}),
            ]
        ),
    )
    first, second = GpuCollector().sample().gpus
    assert (first.power_w, first.power_limit_w, first.gpu_temperature) == (None, None, None)
    assert first.gpu_utilization == 87.0
    assert first.gpu_memory_total == 80 * GIB
    assert first.error is None
    assert (second.gpu_utilization, second.memory_utilization) == (None, None)
    assert second.power_w == 312.5
    assert second.error is None


def test_gpu_lost_mid_run_keeps_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch, FakeNvml(gpus=[FakeGpu(compute=[(1, GIB)]), FakeGpu()]))
    collector = GpuCollector()
    assert all(complete(g) for g in collector.sample().gpus)

    nvml.gpus[0].fail["memory"] = pynvml.NVML_ERROR_GPU_IS_LOST
    status = collector.sample()
    lost, other = status.gpus
    assert lost == GpuSample(index=0, error="lost")
    assert complete(other)
    assert status.available is True
    assert status.process_memory == {}

    nvml.gpus[0].fail = {"nvmlDeviceGetHandleByIndex": pynvml.NVML_ERROR_UNKNOWN}
    broken, other = collector.sample().gpus
    assert broken.error == "NVML: Unknown Error"
    assert complete(other)


def test_unexpected_exception_in_one_gpu_keeps_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install(monkeypatch, FakeNvml(gpus=[FakeGpu(), FakeGpu()]))
    monkeypatch.setattr(pynvml, "nvmlDeviceGetTemperature", lambda g, kind: 1 / 0)
    status = GpuCollector().sample()
    assert all(g.error == "ZeroDivisionError: division by zero" for g in status.gpus)


def test_hung_call_is_bounded_and_not_piled_up(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    nvml = install(
        monkeypatch,
        FakeNvml(gpus=[FakeGpu(hang={"util": release}, compute=[(5, GIB)]), FakeGpu()]),
    )
    stuck = nvml.gpus[0]
    collector = GpuCollector(timeout=0.3)
    try:
        for _ in range(3):
            started = time.monotonic()
            status = collector.sample()
            elapsed = time.monotonic() - started
            assert elapsed < 3.0  # a correctness bound on a hang, not a benchmark
            hung, other = status.gpus
            assert hung == GpuSample(index=0, error="not responding (NVML call > 0.3 s)")
            assert complete(other)
            assert status.process_memory == {}
        # The stuck call was started once; later ticks skipped the GPU instead of adding threads.
        assert stuck.calls["nvmlDeviceGetHandleByIndex"] == 1
        assert stuck.calls["util"] == 1
        assert nvml.gpus[1].calls["nvmlDeviceGetHandleByIndex"] == 3
    finally:
        release.set()
    deadline = time.monotonic() + 5.0
    while not complete((status := collector.sample()).gpus[0]):
        assert time.monotonic() < deadline, status
        time.sleep(0.01)
    assert status.process_memory == {5: GIB}


def test_hung_init_reports_not_responding_once(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    nvml = install(monkeypatch, FakeNvml(gpus=[FakeGpu()], init_hang=release))
    collector = GpuCollector(timeout=0.2)
    try:
        for _ in range(2):
            status = collector.sample()
            assert (status.available, status.reason) == (False, "NVML not responding")
        assert nvml.calls["nvmlInit"] == 1
    finally:
        release.set()
    deadline = time.monotonic() + 5.0
    while not (status := collector.sample()).available:
        assert time.monotonic() < deadline, status
    assert nvml.calls["nvmlInit"] == 1
    assert complete(status.gpus[0])


def test_init_failure_is_retried_only_after_a_while(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(
        monkeypatch, FakeNvml(gpus=[FakeGpu()], init_error=pynvml.NVML_ERROR_DRIVER_NOT_LOADED)
    )
    collector = GpuCollector()
    for _ in range(3):
        status = collector.sample()
        assert (status.available, status.reason) == (False, "NVML: Driver Not Loaded")
    assert nvml.calls["nvmlInit"] == 1

    nvml.init_error = None  # the driver gets loaded
    monkeypatch.setattr(gpu_mod, "RETRY_INIT_S", 0.0)
    assert collector.sample().available is True
    assert nvml.calls["nvmlInit"] == 2


def test_disabled_touches_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    nvml = install(monkeypatch, FakeNvml(gpus=[FakeGpu()]))
    collector = GpuCollector(enabled=False)
    status = collector.sample()
    assert (status.available, status.reason) == (False, "disabled in config")
    collector.close()
    assert nvml.calls == Counter()


def test_driver_text_is_sanitised(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, FakeNvml(gpus=[FakeGpu(name="evil\x1b[2J\u202e")], driver="1\x07"))
    status = GpuCollector().sample()
    assert status.gpus[0].name == "evil\\x1b[2J\\u202e"
    assert status.driver_version == "1\\x07"


def test_close_never_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    GpuCollector().close()  # never opened
    install(monkeypatch, FakeNvml(gpus=[FakeGpu()]))

    def shutdown() -> None:
        raise pynvml.NVMLError(pynvml.NVML_ERROR_UNINITIALIZED)

    monkeypatch.setattr(pynvml, "nvmlShutdown", shutdown)
    collector = GpuCollector()
    assert collector.sample().available
    collector.close()
