"""pytest fixtures to test a bot against the built-in simulator, no account or network.

Installed with the package and loaded by pytest on its own (the ``pytest11`` entry point):

.. code-block:: python

    async def test_my_bot_buys(kiwoom_client, kiwoom_sim):
        await my_bot.run_once(kiwoom_client)
        assert [o.code for o in kiwoom_sim.orders] == ["005930"]

- ``kiwoom_sim``: a started :class:`~kiwoom_async.testing.Simulator` on 127.0.0.1, a free
  port, closed after the test. Knobs from the ``kiwoom_sim`` marker
  (``@pytest.mark.kiwoom_sim(rate_limit=5, pages=3)``) or by overriding the
  ``kiwoom_sim_options`` fixture (a dict of :class:`~kiwoom_async.testing.SimConfig` fields).
- ``kiwoom_client``: a :class:`~kiwoom_async.Kiwoom` connected to that simulator (mock env,
  test keys, no client-side rate limit unless the options set one), closed after the test.
  Options from the ``kiwoom_client`` marker or the ``kiwoom_client_options`` fixture.

The fixtures are coroutines run by pytest-asyncio (``pip install pytest-asyncio``, with
``asyncio_mode = "auto"`` or ``@pytest.mark.asyncio`` on the tests); nothing starts unless a
test asks for a fixture, so loading the plugin costs a test session nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .kiwoom import Kiwoom
    from .testing import Simulator

try:
    import pytest_asyncio
except ImportError:  # the fixtures then explain what is missing
    pytest_asyncio = None  # type: ignore[assignment]

__all__ = [
    "kiwoom_client",
    "kiwoom_client_options",
    "kiwoom_sim",
    "kiwoom_sim_options",
    "pytest_configure",
]

TEST_APPKEY = "test-appkey"
TEST_SECRETKEY = "test-secretkey"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "kiwoom_sim(**knobs): SimConfig knobs of the kiwoom_sim fixture's simulator"
    )
    config.addinivalue_line(
        "markers", "kiwoom_client(**options): Kiwoom options of the kiwoom_client fixture"
    )


@pytest.fixture
def kiwoom_sim_options() -> dict[str, Any]:
    """Simulator knobs for ``kiwoom_sim``; override this fixture to change them for a module
    or a whole suite. The ``kiwoom_sim`` marker's keywords go on top."""
    return {}


@pytest.fixture
def kiwoom_client_options() -> dict[str, Any]:
    """Options for the ``kiwoom_client`` client (``requests_per_second``, ``timeout``...)."""
    return {}


def _marker_kwargs(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    marker = request.node.get_closest_marker(name)
    if marker is None:
        return {}
    if marker.args:
        raise pytest.UsageError(f"@pytest.mark.{name} takes keyword arguments only")
    return dict(marker.kwargs)


def _fixture(function: Any) -> Any:
    """An async fixture through pytest-asyncio, or, without it, one that says what is
    missing when a test asks for it."""
    if pytest_asyncio is not None:
        return pytest_asyncio.fixture(function)

    def missing() -> None:
        raise pytest.UsageError(f"the {function.__name__} fixture needs pytest-asyncio")

    missing.__name__ = function.__name__
    return pytest.fixture(missing)


@_fixture
async def kiwoom_sim(
    request: pytest.FixtureRequest, kiwoom_sim_options: dict[str, Any]
) -> AsyncIterator[Simulator]:
    """A started simulator on 127.0.0.1 (any free port), closed after the test."""
    from .testing import Simulator

    knobs = {**kiwoom_sim_options, **_marker_kwargs(request, "kiwoom_sim")}
    async with Simulator(**knobs) as sim:
        yield sim


@_fixture
async def kiwoom_client(
    request: pytest.FixtureRequest, kiwoom_sim: Simulator, kiwoom_client_options: dict[str, Any]
) -> AsyncIterator[Kiwoom]:
    """A client connected to ``kiwoom_sim``, closed after the test."""
    from .kiwoom import Kiwoom

    options: dict[str, Any] = {"requests_per_second": None}
    options.update(kiwoom_client_options)
    options.update(_marker_kwargs(request, "kiwoom_client"))
    async with Kiwoom(
        TEST_APPKEY,
        TEST_SECRETKEY,
        env="mock",
        base_url=kiwoom_sim.base_url,
        ws_url=kiwoom_sim.ws_url,
        **options,
    ) as client:
        yield client
