"""The units `make test`'s two workers share out (tests/conftest.py)."""

from __future__ import annotations

import pytest

from tests.conftest import OWN_SERVERS, numbered, unit_of_work


def test_tests_sharing_a_session_fixture_form_one_unit_and_the_rest_go_alone() -> None:
    assert unit_of_work("tests/integration/test_card.py::test_x") == "integration"
    assert unit_of_work("tests/integration/test_probe.py::test_y[a/b]") == "integration"
    assert unit_of_work("tests/quantize/test_cli.py::test_z[w4a16/gptq]") == "quantize"
    faults = "tests/integration/test_faults.py"
    assert unit_of_work(f"{faults}::test_engine_killed_under_16_streams") == faults
    for alone in ("tests/safety/test_guard.py::test_a[x/y]", "tests/test_lock.py::test_b"):
        assert unit_of_work(alone) == alone


def test_repeated_node_ids_are_numbered_apart_in_order() -> None:
    ids = ["t.py::fuzz", "t.py::fuzz", "t.py::other", "t.py::fuzz"]
    assert numbered(ids) == ["t.py::fuzz", "t.py::fuzz#1", "t.py::other", "t.py::fuzz#2"]


def test_files_outside_the_integration_unit_never_use_its_shared_server(
    request: pytest.FixtureRequest,
) -> None:
    """A test on the session's server in an OWN_SERVERS file would start a second one on the
    other worker, and one that stops it would stop that worker's."""
    own = [it for it in request.session.items if unit_of_work(it.nodeid).endswith(".py")]
    shared = {"server", "base_url"}
    on_shared = [it.nodeid for it in own if shared & set(getattr(it, "fixturenames", ()))]
    assert not on_shared
    stops = [it.nodeid for it in request.session.items if it.get_closest_marker("stops_server")]
    assert all(unit_of_work(n) == "integration" for n in stops), stops
    assert all(f.startswith("integration/test_") for f in OWN_SERVERS)
