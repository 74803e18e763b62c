"""Fault tests: a private stack (real Rasa, action server and gateway) that the tests may kill
and restart, and residents who keep asking through ``/api/chat`` meanwhile."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.faults.residents import QUESTIONS, Residents, health, wait_until


@pytest.fixture(scope="package")
def fault_stack(stack_factory, tmp_path_factory):  # type: ignore[no-untyped-def]
    """A Rasa server, action server and gateway of the fault tests' own (stopped when the
    fault tests are done, not at the end of the session: a Rasa server holds ~1.3 GB)."""
    running = stack_factory(tmp_path_factory.mktemp("fault-stack"))
    yield running
    running.stop()


@pytest.fixture(scope="package")
def expected_entries(retriever) -> dict[str, str]:  # type: ignore[no-untyped-def]
    entries = {q: retriever.answer(q, "ja").entry_id for q in QUESTIONS}
    assert all(entries.values()), entries
    return entries


@pytest.fixture
def residents(fault_stack) -> Callable[..., Residents]:  # type: ignore[no-untyped-def]
    """``residents(count)``: a ``Residents`` load on the fault stack's gateway."""
    return lambda count=3: Residents(fault_stack.gateway_url, count)


@pytest.fixture
def all_up(fault_stack) -> Iterator[None]:  # type: ignore[no-untyped-def]
    """Each test starts (and must leave) the stack with every component up."""
    def up() -> bool:
        status = health(fault_stack)
        return status["rasa"] == status["action_server"] == "up"

    wait_until(up, "Rasa and the action server up")
    yield
