"""Check the rubric against supervise's contract, against examples worked by hand, and in a real server."""

from __future__ import annotations

from my_rubric import MY_RUBRIC, supervise_rubrics

from supervise.pytest_plugin import SuperviseApp
from supervise.rubrics import Responses
from supervise.testing import check_rubric


def test_keeps_the_contract() -> None:
    for rubric in supervise_rubrics():
        check_rubric(rubric)


def test_hand_worked_example() -> None:
    result = MY_RUBRIC.run_scoring(Responses(items={"agenda": 4, "summary": 2, "empathy": 1, "repair": 0}))
    assert result.scores == {"structure": 3.0, "relationship": 0.5, "total": 7.0, "top_marks": 1.0}
    assert [flag.code for flag in result.flags] == ["below_standard"]  # 7 < 8


def test_a_supervisor_scores_a_session_and_sees_the_flag(supervise_app: SuperviseApp) -> None:
    """supervise_app (from supervise's pytest plugin) is the real server, in process, with this plugin loaded."""
    review = supervise_app.review("my-rubric", {"items": {"agenda": 4, "summary": 2, "empathy": 1, "repair": 0}})
    assert review["result"]["scores"]["total"] == 7.0

    clinician = supervise_app.clinician.id
    flags = supervise_app.supervisor.get("/v1/aggregates/flags", params={"therapist_id": clinician}).json()
    assert [flag["code"] for flag in flags["items"]] == ["below_standard"]

    supervise_app.review("my-rubric", {"items": {"agenda": 4, "summary": 4, "empathy": 4, "repair": 3}})
    series = supervise_app.supervisor.get(
        f"/v1/aggregates/therapists/{clinician}/series", params={"rubric": "my-rubric", "bucket": "all"}
    ).json()
    total = next(measure for measure in series["measures"] if measure["key"] == "total")
    assert total["buckets"][0]["n"] == 2
    assert total["buckets"][0]["mean"] == 11.0  # (7 + 15) / 2
