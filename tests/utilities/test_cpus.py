"""Threads are capped at the CPUs a process may use, with a one-line warning."""

import io
import os

from segpipe.utilities.cpus import available_cpus, cap_threads


def test_available_cpus_is_the_affinity_mask():
    assert available_cpus() == len(os.sched_getaffinity(0))


def test_more_threads_than_cpus_are_capped_with_a_warning(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    stream = io.StringIO()
    assert cap_threads(8, what="segpipe train", stream=stream) == 2
    assert stream.getvalue().count("\n") == 1 and "8 threads asked for" in stream.getvalue()
    quiet = io.StringIO()
    assert cap_threads(2, what="x", stream=quiet) == 2 and cap_threads(1, what="x", stream=quiet) == 1
    assert quiet.getvalue() == ""


def test_every_command_caps_its_threads(monkeypatch, capsys):
    from segpipe.cli import main

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    seen = {}

    def handler(args):
        seen["threads"] = args.threads
        return 0

    monkeypatch.setattr("segpipe.cli.evaluate_cmd.run", handler)
    status = main(["evaluate", "--config", "c.yaml", "--manifest", "m.json", "--predictions", "p", "--out", "o.csv",
                   "--threads", "8"])
    assert status == 0 and seen["threads"] == 2
    assert "segpipe evaluate: warning: 8 threads asked for" in capsys.readouterr().err
