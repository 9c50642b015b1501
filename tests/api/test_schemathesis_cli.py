"""The schemathesis command line against ``supervise serve`` as deployed (issue 15): two workers on PostgreSQL
sharing Redis, every check, every phase (examples, coverage, fuzzing and the stateful walk along the document's
links), bounded in examples, as two organisations' admins.

The keys reach schemathesis in a Web Fuzzing Commons auth file, each organisation a peer, so beside the
conformance checks ``object_level_authorization`` replays what one organisation read as the other and fails if
the other gets it. The in-process tests in ``test_schemathesis.py`` cover more examples; this one proves the
same of the real server, its workers and its transport.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_serve import SUPERVISE, environment, new_org, redis_url, serving

SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")

# The same relaxation as the in-process run (test_schemathesis.CONFIG): a request valid by the document may
# break a rule the document cannot express (422), or name what the caller may not see (404) or change (409);
# a generated If-Match is rightly stale (412). List operations also take an opaque signed cursor, which no
# schema can describe: a generated one is rightly refused with 400 (pagination and cursor tampering are tested
# in tests/test_http.py).
# A PATCH without If-Match is answered 428 Precondition Required (RFC 6585), the status made for it. Like the
# in-process run, health checks do not stop the run: "too much filtered" only says that valid bodies are hard
# to generate for an operation (POST /v1/recordings has instants, patterns and nested objects).
CONFIG = """\
suppress-health-check = ["filter_too_much"]

[checks.missing_required_header]
expected-statuses = ["400", "401", "403", "406", "415", "422", "428"]

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "304", "401", "403", "404", "409", "412", "422"]

[[operations]]
include-operation-id-regex = "^list"
checks.positive_data_acceptance.expected-statuses = ["2xx", "304", "400", "401", "403", "404", "409", "412", "422"]

[auth.wfc]
path = "{wfc}"
peers = ["clinic-a", "clinic-b"]
"""


@pytest.mark.slow
@pytest.mark.backends("postgresql")
def test_the_command_line_finds_nothing_against_two_workers(database_url: str, tmp_path: Path) -> None:
    unlimited = "100000000/minute"  # schemathesis sends as fast as it can; the limits are tested elsewhere
    env = environment(
        database_url,
        SUPERVISE_REDIS_URL=redis_url(),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
        SUPERVISE_RATE_LIMIT_PER_KEY=unlimited,
        SUPERVISE_RATE_LIMIT_PER_ORGANISATION=unlimited,
        SUPERVISE_RATE_LIMIT_PER_ADDRESS=unlimited,
        SUPERVISE_RATE_LIMIT_PER_FORM_TOKEN=unlimited,
    )
    peers = {name: new_org(env) for name in ("clinic-a", "clinic-b")}
    wfc = tmp_path / "auth.json"
    wfc.write_text(
        json.dumps(
            {
                "auth": [
                    {"name": name, "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {key}"}]}
                    for name, key in peers.items()
                ]
            }
        )
    )
    config = tmp_path / "schemathesis.toml"
    config.write_text(CONFIG.format(wfc=wfc))
    with serving(env, SUPERVISE, "serve", "--workers", "2") as port:
        done = subprocess.run(
            [
                SCHEMATHESIS,
                "--config-file",
                str(config),
                "run",
                f"http://127.0.0.1:{port}/schema/openapi.json",
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-examples",
                "10",
                "--seed",
                "15",
                # One thread. CPython 3.11's AST constructor keeps its recursion depth per interpreter, not per
                # thread, and hypothesis parses lambdas' source from both of schemathesis's threads: on 3.11.7 that
                # raised "SystemError: AST constructor recursion depth mismatch" now and then (seen in this test).
                "--workers",
                "1",
                "--request-timeout",
                "30",
                "--no-color",
            ],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    assert done.returncode == 0, done.stdout[-8000:] + done.stderr[-2000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", done.stdout)
    assert selected is not None, done.stdout[-3000:]
    assert len(set(selected.groups())) == 1, selected.group(0)  # every operation of the document was tested
    assert re.search(r"✅ Stateful", done.stdout), done.stdout[-3000:]
