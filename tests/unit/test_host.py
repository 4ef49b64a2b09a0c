"""HostCollector against the real psutil of this machine; fakes only for exact edge cases."""

from __future__ import annotations

import socket
import time
from typing import Any, NamedTuple

import psutil
import pytest

from tui_monitor.collect.host import HostCollector


class FakeClock:
    """A clock the test moves by hand, so rates are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Nic(NamedTuple):
    """The fields of psutil's snetio that the collector reads."""

    bytes_sent: int
    bytes_recv: int


class Disk(NamedTuple):
    """The fields of psutil's sdiskio that the collector reads."""

    read_bytes: int
    write_bytes: int


def _nic(rx: int, tx: int) -> Nic:
    return Nic(bytes_sent=tx, bytes_recv=rx)


def _disk(read: int, write: int) -> Disk:
    return Disk(read_bytes=read, write_bytes=write)


def _burn(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_first_sample_has_no_rates() -> None:
    s = HostCollector().sample()
    assert s.cpu_utilization is None
    assert s.cpu_per_core is None
    assert (s.disk_read_bps, s.disk_write_bps, s.net_rx_bps, s.net_tx_bps) == (None,) * 4
    assert s.cpu_count >= 1
    assert s.boot_time > 0
    assert s.hostname


def test_second_sample_measures_real_cpu_work() -> None:
    collector = HostCollector()
    collector.sample()
    _burn(0.3)
    s = collector.sample()
    assert s.cpu_utilization is not None
    assert 0 < s.cpu_utilization <= 100
    assert s.cpu_per_core is not None
    assert len(s.cpu_per_core) == s.cpu_count
    assert all(0 <= c <= 100 for c in s.cpu_per_core)


def test_memory_figures_are_sane() -> None:
    s = HostCollector().sample()
    assert 0 < s.ram_used <= s.ram_total
    assert 0 <= s.ram_available <= s.ram_total
    assert s.ram_used == s.ram_total - s.ram_available
    assert 0 <= s.swap_used <= max(s.swap_total, s.swap_used)
    assert min(s.load_1, s.load_5, s.load_15) >= 0


def test_same_clock_tick_keeps_previous_cpu_figure(monkeypatch: pytest.MonkeyPatch) -> None:
    collector = HostCollector()
    collector.sample()
    _burn(0.1)
    first = collector.sample()
    frozen = psutil.cpu_times(percpu=True)
    monkeypatch.setattr(psutil, "cpu_times", lambda percpu=False: frozen)
    third = collector.sample()  # baseline becomes `frozen`
    again = collector.sample()  # no CPU time passed at all
    assert first.cpu_utilization is not None
    assert again.cpu_utilization is not None
    assert (again.cpu_utilization, again.cpu_per_core) == (
        third.cpu_utilization,
        third.cpu_per_core,
    )


def test_loopback_is_not_network(monkeypatch: pytest.MonkeyPatch) -> None:
    nics: dict[str, Nic] = {"lo": _nic(0, 0), "eth0": _nic(1_000, 2_000)}
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False: dict(nics))
    clock = FakeClock()
    collector = HostCollector(clock=clock)
    collector.sample()
    nics["lo"] = _nic(10_000_000, 10_000_000)
    nics["eth0"] = _nic(5_000, 4_000)
    clock.now += 2.0
    s = collector.sample()
    assert s.net_rx_bps == pytest.approx(2_000.0)
    assert s.net_tx_bps == pytest.approx(1_000.0)


def test_counters_going_backwards_give_none(monkeypatch: pytest.MonkeyPatch) -> None:
    state: dict[str, Any] = {"net": {"eth0": _nic(5_000, 5_000)}, "disk": _disk(9_000, 9_000)}
    monkeypatch.setattr(psutil, "net_io_counters", lambda pernic=False: state["net"])
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False: state["disk"])
    clock = FakeClock()
    collector = HostCollector(clock=clock)
    collector.sample()
    state["net"] = {"eth0": _nic(100, 6_000)}  # interface reset: rx went backwards
    state["disk"] = _disk(10_000, 1_000)  # a disk vanished: write total went backwards
    clock.now += 1.0
    s = collector.sample()
    assert (s.net_rx_bps, s.net_tx_bps) == (None, None)
    assert (s.disk_read_bps, s.disk_write_bps) == (None, None)
    # The next tick measures from the new baseline again.
    state["net"] = {"eth0": _nic(600, 6_100)}
    state["disk"] = _disk(10_400, 1_200)
    clock.now += 1.0
    s = collector.sample()
    assert (s.net_rx_bps, s.net_tx_bps) == (500.0, 100.0)
    assert (s.disk_read_bps, s.disk_write_bps) == (400.0, 200.0)


def test_no_time_passed_keeps_previous_rates(monkeypatch: pytest.MonkeyPatch) -> None:
    state: dict[str, Any] = {"disk": _disk(0, 0)}
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False: state["disk"])
    clock = FakeClock()
    collector = HostCollector(clock=clock)
    collector.sample()
    state["disk"] = _disk(1_000, 0)
    clock.now += 1.0
    assert collector.sample().disk_read_bps == 1_000.0
    state["disk"] = _disk(1_500, 0)
    assert collector.sample().disk_read_bps == 1_000.0  # same clock reading: no division
    clock.now += 1.0
    assert collector.sample().disk_read_bps == 500.0


def test_missing_disk_source_gives_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(psutil, "disk_io_counters", lambda perdisk=False: None)
    clock = FakeClock()
    collector = HostCollector(clock=clock)
    collector.sample()
    clock.now += 1.0
    s = collector.sample()
    assert (s.disk_read_bps, s.disk_write_bps) == (None, None)


def test_raising_sources_give_none(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> Any:
        raise RuntimeError("couldn't find /proc/diskstats")

    for source in ("disk_io_counters", "net_io_counters", "cpu_times"):
        monkeypatch.setattr(psutil, source, boom)
    clock = FakeClock()
    collector = HostCollector(clock=clock)
    collector.sample()
    clock.now += 1.0
    s = collector.sample()
    assert (s.disk_read_bps, s.disk_write_bps, s.net_rx_bps, s.net_tx_bps) == (None,) * 4
    assert (s.cpu_utilization, s.cpu_per_core) == (None, None)
    assert s.ram_total > 0


def test_hostname_escape_sequence_is_shown_escaped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "evil\x1b[31mhost")
    s = HostCollector().sample()
    assert s.hostname == "evil\\x1b[31mhost"
    assert "\x1b" not in s.hostname
