"""In-memory fakes of the store's areas, for use-case tests at unit speed (tests/unit).

They follow the SQL repositories' rules, not their statements; the integration tier tests
the SQL itself. See docs/architecture.md, "Fakes for the narrow ports".
"""

from tests.fakes.store import FakeStore, FakeUnit

__all__ = ["FakeStore", "FakeUnit"]
