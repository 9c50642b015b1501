"""Rollups stay exact while submissions and consent changes of one therapist's sessions overlap (on PostgreSQL
they truly run at once: every writer of the rollups queues on the organisation's chain lock first)."""

from __future__ import annotations

import asyncio

from supervise.cli import _verify_rollups
from supervise.config import Settings
from tests.aggregates.test_series import session
from tests.reviews.support import RUBRIC, full, make_team
from tests.reviews.test_concurrency import together
from tests.support import Org


def test_submissions_racing_consent_withdrawals_keep_the_rollups_exact(org: Org, settings: Settings) -> None:
    team = make_team(org)
    recordings = [session(team, 10 + n, f"2026-06-{n + 1:02d}") for n in range(6)]
    drafts = []
    for recording in recordings:
        made = team.supervisor.api.post("/v1/reviews", json={"recording_id": recording, "rubric_key": RUBRIC})
        assert made.status_code == 201, made.text
        url = f"/v1/reviews/{made.json()['id']}"
        assert (
            team.supervisor.api.patch(url, json={"responses": full(4)}, headers={"If-Match": '"1"'}).status_code == 200
        )
        drafts.append(url)
    withdrawn = recordings[::2]
    etags = {r: team.therapist.api.get(f"/v1/recordings/{r}").headers["etag"] for r in withdrawn}

    def act(index: int) -> object:
        if index < len(drafts):
            return team.supervisor.api.post(f"{drafts[index]}/submit")
        recording = withdrawn[index - len(drafts)]
        return team.therapist.api.patch(
            f"/v1/recordings/{recording}", json={"withdraw_consent": True}, headers={"If-Match": etags[recording]}
        )

    answers = together(len(drafts) + len(withdrawn), act)
    codes = [a.status_code for a in answers]  # type: ignore[attr-defined]
    # a withdrawal that came first hides the session from its reviewer (404) or stops the work (409)
    assert all(code in (200, 404, 409) for code in codes[: len(drafts)]), codes
    assert codes[len(drafts) :] == [200] * len(withdrawn), codes
    assert asyncio.run(_verify_rollups(settings))[1] == []
    submitted_kept = sum(
        1 for index, code in enumerate(codes[: len(drafts)]) if code == 200 and recordings[index] not in withdrawn
    )
    assert submitted_kept == 3  # consent held for these: nothing refused them
    series = team.supervisor.api.get(
        f"/v1/aggregates/therapists/{team.therapist.id}/series", params={"rubric": RUBRIC, "bucket": "all"}
    ).json()
    rapport = next(m for m in series["measures"] if m["key"] == "rapport")["buckets"]
    assert [b["n"] for b in rapport] == [3]
