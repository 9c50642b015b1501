"""The supervise_app fixture plugin authors test with: a real application, a fresh organisation per test."""

from __future__ import annotations

from supervise.pytest_plugin import SuperviseApp

ALLIANCE = ["rapport", "trust", "warmth", "understood", "collaboration", "respect", "empowerment", "flexibility"]


def test_a_review_is_scored_and_read_back_through_the_series(supervise_app: SuperviseApp) -> None:
    first = supervise_app.review("alliance", {"items": dict.fromkeys(ALLIANCE, 6)})
    second = supervise_app.review("alliance", {"items": dict.fromkeys(ALLIANCE, 2)})
    assert first["state"] == "submitted"
    assert first["reviewer_id"] == supervise_app.supervisor.id
    assert second["result"]["scores"]["total"] == 2.0
    series = supervise_app.supervisor.get(
        f"/v1/aggregates/therapists/{supervise_app.clinician.id}/series", params={"rubric": "alliance"}
    )
    assert series.status_code == 200, series.text
    body = series.json()
    assert body["version_chosen"] == "latest"
    total = next(m for m in body["measures"] if m["key"] == "total")
    assert [b["n"] for b in total["buckets"]] == [2]  # both sessions fall in January 2026
    assert total["buckets"][0]["mean"] == 4.0


def test_each_test_gets_its_own_organisation(supervise_app: SuperviseApp) -> None:
    assert supervise_app.supervisor.get("/v1/reviews").json()["items"] == []
    assert supervise_app.sessions == 0


def test_a_client_rating_goes_through_the_clinic_system(supervise_app: SuperviseApp) -> None:
    rating = supervise_app.client_rating(
        "srs", {"items": {"relationship": 9, "goals_topics": 9, "approach": 9, "overall": 2.5}}
    )
    flags = supervise_app.clinician.get("/v1/aggregates/flags").json()["items"]
    assert rating["id"]
    assert "total_below_36" in [flag["code"] for flag in flags]  # 29.5 < 36: the PCOMS cutoff
