"""The one NVML gateway: GPU readings that can neither hang nor crash a tick.

NVML is optional (no binding, no driver, no GPU) and its calls can block for seconds on a
wedged driver or a GPU falling off the bus. So every call runs on a daemon thread under a
timeout, one GPU per thread, and every failure becomes a reason string instead of an
exception. Functions are looked up on the `pynvml` module at call time so tests can fake them.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any, Generic, TypeVar

from tui_monitor import safe
from tui_monitor.models import GpuSample, GpuStatus

RETRY_INIT_S = 60.0
"""Seconds between attempts to open NVML after a failure, so a driver loaded later is found."""

NOT_RESPONDING = "NVML not responding"

NVML_LIBRARY = "libnvidia-ml.so.1"
"""The driver library pynvml loads on Linux."""
NO_DRIVER = f"no driver ({NVML_LIBRARY} not found)"

T = TypeVar("T")
_Read = tuple[GpuSample, dict[int, int]]


class _Job(Generic[T]):
    """One call on a daemon thread: a stuck call strands only its thread, never the caller."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self.result: T | None = None
        self.error: BaseException | None = None
        self._fn = fn
        self._done = threading.Event()
        threading.Thread(target=self._run, name="tui-monitor-nvml", daemon=True).start()

    def _run(self) -> None:
        try:
            self.result = self._fn()
        except BaseException as exc:  # handed to the caller; a thread has nowhere to raise
            self.error = exc
        finally:
            self._done.set()

    def wait(self, deadline: float) -> bool:
        """True when the call has finished by `deadline` (a `time.monotonic` value)."""
        return self._done.wait(max(0.0, deadline - time.monotonic()))

    @property
    def done(self) -> bool:
        return self._done.is_set()


class _Unavailable(Exception):
    """NVML cannot be opened here, for a reason known before calling it."""


def _reason(exc: BaseException | None) -> str:
    """Short text for a failure; NVML's own message where it has one."""
    if isinstance(exc, _Unavailable):
        return str(exc)
    nvml: Any = sys.modules.get("pynvml")  # this may run when the binding is absent
    if nvml is not None and isinstance(exc, nvml.NVMLError):
        if exc.value == nvml.NVML_ERROR_GPU_IS_LOST:
            return "lost"
        if exc.value == nvml.NVML_ERROR_LIBRARY_NOT_FOUND and sys.platform.startswith("linux"):
            return NO_DRIVER
        return safe.name(f"NVML: {exc}")
    return safe.name(f"{type(exc).__name__}: {exc}")


def _get(fn: Callable[..., Any], *args: Any) -> Any:
    """One optional field: None when the device does not support it or the call fails."""
    import pynvml  # type: ignore[import-untyped]  # nvidia-ml-py ships no type hints

    try:
        return fn(*args)
    except pynvml.NVMLError as exc:
        if exc.value == pynvml.NVML_ERROR_GPU_IS_LOST:
            raise  # the whole GPU is gone, not just this field
        return None


def _driver_missing() -> bool:
    """Whether the driver library cannot be loaded (Linux; elsewhere pynvml finds out).

    Asked before importing pynvml: on a machine with no NVIDIA driver the binding would cost
    about 3 MB and 25 ms for nothing. Once pynvml is imported (a GPU seen earlier, or a test's
    fakes) nvmlInit says so itself.
    """
    if "pynvml" in sys.modules or not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        ctypes.CDLL(NVML_LIBRARY)  # pynvml loads this same file; it stays loaded
    except OSError:
        return True
    return False


def _open() -> tuple[str | None, int]:
    """nvmlInit, then what stays fixed while NVML is open: driver version and GPU count."""
    if _driver_missing():
        raise _Unavailable(NO_DRIVER)
    try:
        import pynvml
    except ImportError:
        raise _Unavailable("pynvml is not installed") from None

    pynvml.nvmlInit()
    try:
        count = int(pynvml.nvmlDeviceGetCount())
        driver = _get(pynvml.nvmlSystemGetDriverVersion)
    except BaseException:
        _get(pynvml.nvmlShutdown)  # balance nvmlInit's reference count
        raise
    return (None if driver is None else safe.name(driver)), count


def _read(index: int) -> _Read:
    """One GPU and its processes' memory; the handle and name must work, the rest may not."""
    import pynvml as nvml

    try:
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        name = safe.name(nvml.nvmlDeviceGetName(handle))
        uuid = _get(nvml.nvmlDeviceGetUUID, handle)
        rates = _get(nvml.nvmlDeviceGetUtilizationRates, handle)
        memory = _get(nvml.nvmlDeviceGetMemoryInfo, handle)
        temp = _get(nvml.nvmlDeviceGetTemperature, handle, nvml.NVML_TEMPERATURE_GPU)
        power = _get(nvml.nvmlDeviceGetPowerUsage, handle)
        limit = _get(nvml.nvmlDeviceGetEnforcedPowerLimit, handle)
        used: dict[int, int] = {}
        for listing in (
            nvml.nvmlDeviceGetComputeRunningProcesses,
            nvml.nvmlDeviceGetGraphicsRunningProcesses,
        ):
            for proc in _get(listing, handle) or ():
                mem = proc.usedGpuMemory  # None where the driver cannot tell (e.g. WDDM)
                if isinstance(mem, int):
                    # A process in both lists (C+G) reports the same figure in each.
                    used[int(proc.pid)] = max(used.get(int(proc.pid), 0), mem)
    except nvml.NVMLError as exc:
        return GpuSample(index=index, error=_reason(exc)), {}
    sample = GpuSample(
        index=index,
        uuid=None if uuid is None else safe.name(uuid),
        name=name,
        gpu_utilization=None if rates is None else float(rates.gpu),
        memory_utilization=None if rates is None else float(rates.memory),
        gpu_memory_used=None if memory is None else int(memory.used),
        gpu_memory_total=None if memory is None else int(memory.total),
        gpu_temperature=None if temp is None else float(temp),
        power_w=None if power is None else power / 1000.0,
        power_limit_w=None if limit is None else limit / 1000.0,
    )
    return sample, used


class GpuCollector:
    """Reads every GPU once per tick, from a worker thread; one instance per sampler."""

    def __init__(self, timeout: float = 2.0, enabled: bool = True) -> None:
        self.timeout = timeout
        self.enabled = enabled
        self._lock = threading.Lock()
        self._ready = False
        self._driver: str | None = None
        self._count = 0
        self._init: _Job[tuple[str | None, int]] | None = None
        self._failed: tuple[float, str] | None = None  # (monotonic time, reason)
        self._reads: dict[int, _Job[_Read]] = {}  # only calls still stuck stay here

    def sample(self) -> GpuStatus:
        """This tick's GPUs, or why there are none; returns within about `timeout` seconds."""
        with self._lock:
            try:
                return self._sample()
            except Exception as exc:  # a bug here must not take the dashboard down
                return GpuStatus(available=False, reason=_reason(exc))

    def close(self) -> None:
        """Shut NVML down, unless a call is still stuck in it (exit frees it then)."""
        with self._lock:
            try:
                if self._ready and not self._reads:
                    _Job(_shutdown).wait(time.monotonic() + self.timeout)
            except Exception:
                pass
            self._ready = False

    def _sample(self) -> GpuStatus:
        if not self.enabled:
            return GpuStatus(available=False, reason="disabled in config")
        why = self._start()
        if why is not None:
            return GpuStatus(available=False, reason=why)
        if self._count == 0:
            return GpuStatus(available=False, reason="NVML found no GPUs")
        deadline = time.monotonic() + self.timeout
        # A GPU whose stuck call has returned is read afresh; one still stuck gets no new thread.
        self._reads = {i: job for i, job in self._reads.items() if not job.done}
        fresh = {i: _Job(partial(_read, i)) for i in range(self._count) if i not in self._reads}
        self._reads.update(fresh)
        gpus: list[GpuSample] = []
        process_memory: dict[int, int] = {}
        for i in range(self._count):
            job = self._reads[i]
            if i not in fresh or not job.wait(deadline):
                late = f"not responding (NVML call > {self.timeout:.1f} s)"
                gpus.append(GpuSample(index=i, error=late))
                continue
            del self._reads[i]
            if job.result is None:
                gpus.append(GpuSample(index=i, error=_reason(job.error)))
                continue
            gpu, used = job.result
            gpus.append(gpu)
            for pid, mem in used.items():
                process_memory[pid] = process_memory.get(pid, 0) + mem
        return GpuStatus(
            available=True,
            driver_version=self._driver,
            gpus=tuple(gpus),
            process_memory=process_memory,
        )

    def _start(self) -> str | None:
        """Open NVML if needed; None when open, else why not (retried every RETRY_INIT_S)."""
        if self._ready:
            return None
        if self._init is None:
            if self._failed and time.monotonic() - self._failed[0] < RETRY_INIT_S:
                return self._failed[1]
            self._init = _Job(_open)  # the library probe and the import, too, may block
        job = self._init
        if not job.wait(time.monotonic() + self.timeout):
            return NOT_RESPONDING  # keep waiting on the same call; start no other
        self._init = None
        if job.result is None:
            self._failed = (time.monotonic(), _reason(job.error))
            return self._failed[1]
        self._failed = None
        self._ready = True
        self._driver, self._count = job.result
        return None


def _shutdown() -> None:
    import pynvml

    pynvml.nvmlShutdown()
