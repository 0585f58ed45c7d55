# SPDX-License-Identifier: Apache-2.0
"""Truthful state through the SDK: a box whose main process exits stops with the reason and
its status; an execution on it is refused with that reason; a health check reports
unhealthy and healthy; what opening a home had to fix comes back as notices."""
import os
import time

import pytest

import boxlite
from conftest import box_options, run


def wait_for(predicate, what, seconds=120):
    """Polls a condition that a real event makes true (no timing is asserted)."""
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {seconds} s")


def test_main_process_exit_is_the_stop_reason(runtime, rootfs):
    box = runtime.create(box_options(rootfs, auto_remove=False,
                                     cmd=["sh", "-c", "echo from-main; sleep 1; exit 3"]))
    try:
        run(box.start())
        wait_for(lambda: box.state == "stopped", "the box stops when its main process exits")
        assert box.stop_reason == "main process exited with status 3"
        assert box.exit_code == 3
        assert box.status == "stopped (main process exited with status 3)"
        assert "from-main" in box.console()
        with pytest.raises(boxlite.InvalidState) as e:
            run(box.exec("true"))
        assert "main process exited with status 3" in str(e.value)
        run(box.start())  # an explicit start brings it back (and the main process)
        assert box.state in ("running", "stopped")
    finally:
        box.close()
        runtime.remove(box.id, force=True)


def test_restart_policy_reruns_the_main_process_without_the_sdk(runtime, rootfs, tmp_path):
    """restart="on-failure:2" through the options: the box's agent runs the main process
    again (nothing of this process takes part), twice, then the box stops with its status
    and counts the restarts."""
    runs = tmp_path / "runs"
    runs.mkdir()
    box = runtime.create(box_options(rootfs, auto_remove=False, restart="on-failure:2",
                                     volumes=[(str(runs), "/runs")],
                                     cmd=["sh", "-c", "echo run >> /runs/count; exit 1"]))
    try:
        run(box.start())
        wait_for(lambda: box.state == "stopped", "the box stops once the restarts are spent",
                 seconds=120)
        assert (runs / "count").read_text().count("run") == 3
        assert box.exit_code == 1
        assert box.info()["restart_count"] == 2
        assert box.info()["restart"] == "on-failure"
    finally:
        box.close()
        runtime.remove(box.id, force=True)


def test_health_check_reports_unhealthy_then_healthy(runtime, rootfs):
    hc = {"test": ["CMD-SHELL", "test -e /tmp/ok"], "interval_ms": 300, "retries": 1}
    box = runtime.create(box_options(rootfs, auto_remove=False, healthcheck=hc))
    try:
        run(box.start())
        wait_for(lambda: box.health == "unhealthy", "a failing check makes it unhealthy")
        assert box.status == "running (unhealthy)"
        run(box.exec("touch", "/tmp/ok"))
        wait_for(lambda: box.health == "healthy", "a passing check makes it healthy")
        assert box.info()["health"]["failing_streak"] == 0
    finally:
        box.close()
        runtime.remove(box.id, force=True)


def test_notices_say_what_opening_the_home_fixed(tmp_path):
    home = str(tmp_path / "home")
    with boxlite.Boxlite(home) as rt:
        assert rt.notices() == []
    os.chmod(home, 0o755)
    with boxlite.Boxlite(home) as rt:
        notes = rt.notices()
        assert any("(0755): now 0700" in n for n in notes), notes
        assert rt.notices() == []
    assert os.stat(home).st_mode & 0o777 == 0o700
