"""The parsing forwarder's CPU knob (``FORWARD_BURN_US``) spends what it is told, in CPU time."""

from __future__ import annotations

import time

from bench.forward import burn


def test_burn_spends_the_cpu_time_it_is_given() -> None:
    started = time.thread_time()
    burn(0.02)
    spent = time.thread_time() - started
    assert 0.02 <= spent < 0.5  # at least what was asked; the bound only catches a runaway loop


def test_no_burn_spends_nothing_measurable() -> None:
    started = time.thread_time()
    for _ in range(1000):
        burn(0.0)
    assert time.thread_time() - started < 0.02
