"""Schemathesis against the app's own OpenAPI document, in process (ASGI transport).

Every operation is fuzzed with valid and invalid data, as the party that owns the world's
objects (api_world) and with their real ids as well as made-up ones, so requests reach the
use cases instead of stopping at 401 or 404. No answer may be a 5xx, and every answer must
match the document: status, content type, headers and body. Generation is derandomized (the
same cases each run) and bounded per operation.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from earnest.adapters.chain import Wallet
from earnest.api import create_app
from tests.integration.api_world import World, build_world, session_token

# Per operation and generation mode. EARNEST_FUZZ_EXAMPLES=500 digs deeper on a quiet
# machine; EARNEST_FUZZ_RANDOM=1 draws new cases instead of the same ones every run.
EXAMPLES = int(os.environ.get("EARNEST_FUZZ_EXAMPLES", "12"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Who calls each operation (default: the requester), and which of the world's ids fill its
# path: the owner's, so that the fuzzed bodies reach the use case behind the ownership check.
CALLER = {
    "POST /v1/assignments/{assignment_id}/submit": ("worker", {"assignment_id": "live"}),
    "POST /v1/answers": ("worker", {}),
    "POST /v1/suites": ("worker", {}),
    "GET /v1/assignments/{assignment_id}": ("worker", {"assignment_id": "rejected"}),
    "POST /v1/assignments/{assignment_id}/appeal": ("worker", {"assignment_id": "rejected"}),
    "POST /v1/assignments/{assignment_id}/review": ("requester", {"assignment_id": "held"}),
    "GET /v1/campaigns/{campaign_id}/reviews": ("requester", {"campaign_id": "held_campaign"}),
    "POST /v1/campaigns/{campaign_id}/peer-reviews": (
        "other_worker",
        {"campaign_id": "peer_campaign"},
    ),
    "POST /v1/peer-reviews/{review_id}": ("reviewer", {"review_id": "peer_review"}),
    "GET /v1/receipts/{receipt_id}": ("worker", {"receipt_id": "receipt"}),
    "POST /v1/api-keys/{key_id}/revoke": ("requester", {"key_id": "key"}),
    "POST /v1/appeals/{appeal_id}/vote": ("worker", {"appeal_id": "appeal"}),
    "GET /v1/operator/reconcile": ("operator", {}),
    "POST /v1/assignments/{assignment_id}/fetch": ("worker", {"assignment_id": "live"}),
    "POST /v1/assignments/{assignment_id}/release": ("worker", {"assignment_id": "rejected"}),
}
DEFAULT_IDS = {"campaign_id": "campaign", "appeal_id": "appeal"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # No rate limits: a long run (EARNEST_FUZZ_EXAMPLES) would otherwise fuzz mostly 429s.
    built = build_world(tmp_path / "world", rate_per_second=0, anonymous_rate_per_second=0)
    yield built
    built.market.close()


def test_every_operation_answers_as_documented_and_never_5xx(world: World) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(world.market))
    statuses: Counter[int] = Counter()
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        role, ids = CALLER.get(operation.label, ("requester", {}))
        names = {p.name for p in operation.path_parameters}
        keys = {name: ids.get(name, DEFAULT_IDS.get(name, "")) for name in names}
        # A parameter the world has no object for (a task id) is left to the fuzzer.
        real = {name: world.ids[key] for name, key in keys.items() if key in world.ids}
        cases = st.one_of(
            *(
                operation.as_strategy(mode, path_parameters=fixed)
                for mode in (
                    schemathesis.GenerationMode.POSITIVE,
                    schemathesis.GenerationMode.NEGATIVE,
                )
                for fixed in ({}, real)
            )
        )
        headers = world.headers(role)
        if operation.label == "DELETE /v1/auth/session":  # signs out: a throwaway session
            headers = {"authorization": f"Bearer {session_token(world.market, Wallet.generate())}"}
        try:
            _fuzz(cases, headers, statuses)
        except Exception as exc:  # report every operation's failures at once
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)
    print(f"schemathesis: {statuses.total()} cases, statuses {dict(sorted(statuses.items()))}")
    assert statuses.total() >= 25 * EXAMPLES and statuses[200] + statuses[201] >= 50


def _fuzz(
    cases: st.SearchStrategy[schemathesis.Case], headers: dict[str, str], statuses: Counter[int]
) -> None:
    @given(cases)
    @settings(
        max_examples=EXAMPLES * 2,
        deadline=None,
        derandomize=os.environ.get("EARNEST_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        response = case.call_and_validate(checks=CHECKS, headers=headers)
        statuses[response.status_code] += 1

    run()
