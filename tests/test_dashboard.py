"""The example dashboard (``examples/dashboard``), as a supervisor uses it: the page served from its own origin,
the API on another with CORS configured, driven in headless Chromium with the network closed."""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.browser import ARTIFACTS, offline_page
from tests.reviews.support import ITEMS
from tests.rubrics.test_template_install import free_port
from tests.test_serve import call, environment, new_org, serving

DASHBOARD = Path(__file__).resolve().parents[1] / "examples" / "dashboard"
SCREENSHOT = ARTIFACTS / "dashboard.png"
ROLES = ("supervisor", "peer", "self", "client")

pytestmark = pytest.mark.slow


@contextmanager
def static_site(directory: Path, port: int) -> Iterator[None]:
    """``directory`` served on ``localhost:port`` (another origin than the API's 127.0.0.1), until the block ends."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), functools.partial(Quiet, directory=str(directory)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


class Clinic:
    """A supervisor with two supervisees: one reviewed over four months by every role, one reviewed once."""

    def __init__(self, port: int, admin_key: str) -> None:
        self.port, self.admin = port, admin_key
        self.supervisor = self.person("Dr Sam Reyes", "supervisor", "clinician")
        self.therapist = self.person("Jo Park", "clinician")
        self.newcomer = self.person("Noor Haddad", "clinician")
        self.peer = self.person("Lee Chen", "clinician")
        for supervisee in (self.therapist, self.newcomer):
            self.ok(
                "POST",
                "/v1/supervision-links",
                self.admin,
                supervisor_id=self.supervisor[0],
                supervisee_id=supervisee[0],
            )

    def ok(self, method: str, path: str, key: str, **body: Any) -> Any:
        status, answer = call(self.port, method, path, key, body if method != "GET" else None)
        assert status in (200, 201), (method, path, answer)
        return answer

    def person(self, name: str, *roles: str) -> tuple[str, str]:
        email = f"{name.split()[-1].lower()}@riverside.example"
        member = self.ok("POST", "/v1/members", self.admin, name=name, email=email, roles=list(roles))
        key = self.ok("POST", f"/v1/members/{member['id']}/api-keys", self.admin, name="dashboard")
        return member["id"], key["secret"]

    def recording(self, therapist: tuple[str, str], number: int, occurred_at: str) -> str:
        if number == 1:
            self.case = self.ok(
                "POST", "/v1/cases", self.admin, therapist_id=therapist[0], external_ref=f"C-{therapist[0][-6:]}"
            )
        media = {
            "uri": f"s3://riverside/{therapist[0]}/{number}.mp4",
            "sha256": hashlib.sha256(occurred_at.encode()).hexdigest(),
        }
        made = self.ok(
            "POST",
            "/v1/recordings",
            self.admin,
            case_id=self.case["id"],
            occurred_at=occurred_at,
            session_number=number,
            duration_ms=50 * 60_000,
            medium="video",
            media=media,
            consent={"scope": "supervision", "expires_at": None},
        )
        return str(made["id"])

    def review(
        self, recording: str, reviewer: tuple[str, str], role: str, value: int, notes: Sequence[dict[str, Any]] = ()
    ) -> None:
        if role == "supervisor":
            started = self.ok("POST", "/v1/reviews", reviewer[1], recording_id=recording, rubric_key="alliance")
        else:
            asked = self.ok(
                "POST",
                "/v1/review-requests",
                self.supervisor[1],
                recording_id=recording,
                reviewer_id=reviewer[0],
                role=role,
                rubric_key="alliance",
            )
            started = self.ok("POST", "/v1/reviews", reviewer[1], request_id=asked["id"])
        url = f"/v1/reviews/{started['id']}"
        items = dict.fromkeys(ITEMS, value) | ({"trust": 2} if value <= 3 else {})
        status, saved = call(
            self.port,
            "PATCH",
            url,
            reviewer[1],
            {"responses": {"items": items}},
            **{"If-Match": f'"{started["version"]}"'},
        )
        assert status == 200, saved
        for note in notes:
            self.ok("POST", f"{url}/annotations", reviewer[1], **note)
        self.ok("POST", f"{url}/submit", reviewer[1])

    def seed(self) -> None:
        notes = [
            {"start_ms": 31 * 60_000, "end_ms": 32 * 60_000 + 30_000, "kind": "rupture", "text": "Client goes quiet."},
            {"start_ms": 33 * 60_000, "kind": "repair", "text": "Therapist names the silence.", "item_key": "trust"},
        ]
        # three sessions a month: enough ratings by the supervisor and by the therapist for a confidence interval
        for month, (supervisor, peer, own) in enumerate([(4, 3, 3), (5, 4, 4), (5, 5, 4), (6, 6, 5)], start=8):
            for week, day in enumerate((3, 13, 23)):
                number = 3 * (month - 8) + week + 1
                recording = self.recording(self.therapist, number, f"2026-{month:02}-{day:02}T10:00:00Z")
                notes_here = notes if number == 12 else []
                self.review(recording, self.supervisor, "supervisor", supervisor + week % 2, notes_here)
                self.review(recording, self.therapist, "self", own + week // 2)
                if week == 0:
                    self.review(recording, self.peer, "peer", peer)
        self.review(self.recording(self.newcomer, 1, "2026-11-10T10:00:00Z"), self.supervisor, "supervisor", 5)

    def series(self, role: str) -> list[dict[str, Any]]:
        answer = self.ok(
            "GET",
            f"/v1/aggregates/therapists/{self.therapist[0]}/series?rubric=alliance&role={role}&bucket=month",
            self.supervisor[1],
        )
        [total] = [m for m in answer["measures"] if m["kind"] == "score" and m["key"] == "total"]
        return [b for b in total["buckets"] if b["mean"] is not None]


def test_a_supervisor_sees_the_alliance_of_their_team_from_another_origin(tmp_path: Path) -> None:
    page_port = free_port()
    page_origin = f"http://localhost:{page_port}"
    env = environment(f"sqlite+aiosqlite:///{tmp_path / 'dashboard.db'}", SUPERVISE_CORS_ORIGINS=page_origin)
    admin_key = new_org(env)
    with serving(env) as api_port, static_site(DASHBOARD, page_port), offline_page((1200, 900)) as (page, seen):
        clinic = Clinic(api_port, admin_key)
        clinic.seed()
        page.goto(f"{page_origin}/index.html?api=http://127.0.0.1:{api_port}", timeout=30_000)
        page.fill("#token", clinic.supervisor[1])
        page.click("#sign-in button[type=submit]")
        page.wait_for_selector("#team tbody tr", timeout=30_000)
        page.wait_for_selector("#reviews .review", timeout=30_000)
        page.wait_for_selector("#series circle.point", timeout=30_000)
        page.wait_for_function("document.querySelectorAll('#series circle.point').length >= 12", timeout=30_000)
        points = page.eval_on_selector_all(
            "#series circle.point",
            "ps => ps.map(p => [p.dataset.role, p.dataset.start, Number(p.dataset.mean), Number(p.dataset.n)])",
        )
        bands = page.eval_on_selector_all("#series polygon[data-band]", "ps => ps.map(p => p.dataset.band)")
        who = page.text_content("#who") or ""
        supervisees = page.eval_on_selector_all("#supervisee option", "os => os.map(o => o.textContent)")
        team = page.eval_on_selector_all(
            "#team tbody tr",
            "rows => rows.map(r => [r.dataset.therapist, r.querySelectorAll('td.suppressed').length,"
            " [...r.querySelectorAll('td[data-mean]')].map(c => Number(c.dataset.mean))])",
        )
        times = page.eval_on_selector_all("#reviews .time", "ts => ts.map(t => t.textContent)")
        flags = page.eval_on_selector_all("#flags li[data-flag]", "fs => fs.map(f => f.dataset.flag)")
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)
        print(f"dashboard screenshot: {SCREENSHOT}")
        errors_when_allowed = list(seen.errors)
        # the same page from an origin the API does not list: the browser withholds every answer
        page.evaluate("sessionStorage.clear()")
        page.goto(f"http://127.0.0.1:{page_port}/index.html?api=http://127.0.0.1:{api_port}", timeout=30_000)
        page.fill("#token", clinic.supervisor[1])
        page.click("#sign-in button[type=submit]")
        page.wait_for_function("document.getElementById('status').textContent !== ''", timeout=30_000)
        refused = page.text_content("#status") or ""
        board_hidden = page.eval_on_selector("#board", "b => b.hidden")
        expected = sorted((role, b["start"], b["mean"], b["n"]) for role in ROLES for b in clinic.series(role))
        direct_team = clinic.ok("GET", "/v1/aggregates/team?rubric=alliance", clinic.supervisor[1])

    assert seen.refused == [], "the page asked for something outside the machine"
    assert "Failed to fetch" in refused and board_hidden
    assert errors_when_allowed == []
    assert any("CORS policy" in e for e in seen.errors)
    assert who.startswith("Dr Sam Reyes")
    assert sorted(supervisees) == ["Jo Park", "Noor Haddad"]
    assert sorted((role, start, mean, n) for role, start, mean, n in points) == expected
    assert {role for role, *_ in expected} == {"supervisor", "peer", "self"}
    assert set(bands) == {"supervisor", "self"}  # three ratings a month: a band; the peer's one: none
    rows = {therapist: (suppressed, means) for therapist, suppressed, means in team}
    by_api = {row["therapist_id"]: row["cells"] for row in direct_team["therapists"]}
    assert rows[clinic.therapist[0]] == (0, [c["mean"] for c in by_api[clinic.therapist[0]]])
    assert rows[clinic.newcomer[0]][0] == len(by_api[clinic.newcomer[0]]) > 0  # one review: every cell withheld
    assert all(c["suppressed"] for c in by_api[clinic.newcomer[0]])
    assert "31:00\u201332:30" in times and "33:00" in times
    assert "item_strained" in flags
