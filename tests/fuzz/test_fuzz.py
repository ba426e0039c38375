"""A seeded, bounded fuzz of every RPC over gRPC (messages and raw bytes) and over HTTP/JSON
through Envoy: no INTERNAL, UNKNOWN, 5xx or hang, and every error a catalogue reason (issue
#14). IBKR_FUZZ_SEED and IBKR_FUZZ_CASES change the run; bench/fuzz.py runs a long one."""

from __future__ import annotations

import os

from ibkr_grpc.domain.identity import Role
from tests.edge.conftest import Edge
from tests.fuzz.messages import all_methods
from tests.fuzz.runner import Target, run_cases
from tests.server.conftest import mint

SEED = int(os.environ.get("IBKR_FUZZ_SEED", "14"))
CASES = int(os.environ.get("IBKR_FUZZ_CASES", "300"))


def fuzz_target(edge: Edge) -> Target:
    admin = mint(Role.ADMIN, "fuzz-admin")
    expired_or_forged = admin[:-4] + "AAAA"
    return Target(
        grpc_address=f"127.0.0.1:{edge.server.application.port}",
        http_base=edge.base_url,
        tokens=(admin, admin, admin, admin, admin, admin, None, expired_or_forged),
    )


async def test_every_rpc_answers_fuzzed_input_with_a_catalogue_status(edge: Edge) -> None:
    methods = all_methods()
    tally = await run_cases(methods, fuzz_target(edge), seed=SEED, cases=CASES)

    failures = "\n".join(
        f"case {o.case} {o.transport} {o.method}: {o.detail}" for o in tally.failures[:20]
    )
    assert not tally.failures, f"seed {SEED}, {len(tally.failures)} failures:\n{failures}"
    names = {method.name for method in methods}
    assert tally.covered("grpc") == names
    assert tally.covered("grpc-bytes") == names
    assert tally.covered("http") == {m.name for m in methods if m.http_rule is not None} == names
    kinds = tally.count("kind")
    assert kinds["refused"] > 0
    assert kinds["answered"] > 0, "some fuzzed requests should be valid ones"
