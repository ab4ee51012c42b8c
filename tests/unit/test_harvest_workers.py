"""The harvest's parsing workers leave Ctrl-C to the command (analytics.harvest): a worker that gets SIGINT, as every
process of a terminal's group does, neither dies nor prints a traceback; the command stops the harvest itself."""

from __future__ import annotations

import os
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context

import pytest

from analytics.harvest import leave_interrupts_to_the_command


def interrupted_then_alive() -> str:
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, as the terminal sends it to the worker too
    return "alive"


def test_a_worker_set_up_as_the_harvest_does_outlives_ctrl_c():
    with ProcessPoolExecutor(1, mp_context=get_context("fork"), initializer=leave_interrupts_to_the_command) as pool:
        assert pool.submit(interrupted_then_alive).result(timeout=60) == "alive"


def test_without_it_the_worker_is_interrupted():  # what the set-up prevents: the check above can fail
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        with pytest.raises((KeyboardInterrupt, BrokenProcessPool)):
            pool.submit(interrupted_then_alive).result(timeout=60)
