"""Operating sgrevert: the dashboard, the alarms on sgrevert's metrics, and the Security Hub
settings and grants (only when `security_hub` is true)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.security_hub import IMPORT, UPDATE
from infra.settings import Settings, SettingsError
from sgrevert import metrics
from sgrevert.risk import Risk
from sgrevert.settings import DetectSettings, RespondSettings
from tests.infra.conftest import (
    DIRECT_OVERRIDES,
    Synthesized,
    actions,
    function,
    function_role,
    only,
    resources,
    role_statements,
    synthesize,
    under,
)
from tests.infra.test_settings import MINIMAL

TOPIC = DIRECT_OVERRIDES["alarm_topic_arn"]
SECURITY_HUB = {
    **DIRECT_OVERRIDES,
    "security_hub": "true",
    "security_hub_at_or_above": "critical",
    "lake_lag_alarm_minutes": "45",
    "undecided_critical_alarm_minutes": "120",
}


@pytest.fixture(scope="module")
def security_hub(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(tmp_path_factory.mktemp("security-hub"), **SECURITY_HUB)


@pytest.fixture(scope="module")
def security_hub_template(security_hub: Synthesized) -> dict[str, Any]:
    return security_hub.template("sgrevert")


def _alarm(template: dict[str, Any], name: str) -> dict[str, Any]:
    _, alarm = only(under(template, f"Operations/{name}"), "AWS::CloudWatch::Alarm")
    return dict(alarm["Properties"])


def _dimensions(alarm: dict[str, Any]) -> dict[str, str]:
    return {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}


def _dashboard(template: dict[str, Any]) -> dict[str, Any]:
    _, dashboard = only(template, "AWS::CloudWatch::Dashboard")
    body = dashboard["Properties"]["DashboardBody"]
    # The body is JSON text joined around the alarms' ARNs (GetAtt) and the region (Ref)
    text = "".join(
        part
        if isinstance(part, str)
        else part["Fn::GetAtt"][0]
        if "Fn::GetAtt" in part
        else f"<{part['Ref']}>"
        for part in body["Fn::Join"][1]
    )
    return {"name": dashboard["Properties"]["DashboardName"], **json.loads(text)}


def _graphed(widget: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """Each metric line of a graph: its name and its dimensions."""
    lines = []
    for line in widget["properties"].get("metrics", []):
        values = [v for v in line if not isinstance(v, dict)]
        namespace, name, *pairs = values
        assert namespace == metrics.NAMESPACE
        lines.append((name, dict(zip(pairs[::2], pairs[1::2], strict=True))))
    return lines


# -- alarms ------------------------------------------------------------------------------------


def test_detection_lag_alarms_one_per_path_on_the_p90(app_template: dict[str, Any]) -> None:
    # Given the shipped settings (both paths, a 10-minute schedule)
    lake = _alarm(app_template, "LakeDetectionLag")
    eventbridge = _alarm(app_template, "EventBridgeDetectionLag")

    # Then each watches its own path's p90 for 3 periods in a row, over its own threshold
    for alarm, path, threshold, period in (
        (lake, "lake", 30 * 60, 600),
        (eventbridge, "eventbridge", 5 * 60, 300),
    ):
        assert (alarm["Namespace"], alarm["MetricName"]) == ("sgrevert", "DetectionLagSeconds")
        assert _dimensions(alarm) == {"path": path}
        assert alarm["ExtendedStatistic"] == "p90"
        assert (alarm["Threshold"], alarm["Period"]) == (threshold, period)
        assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 3
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_lag_thresholds_are_settings_and_only_running_paths_have_one(
    security_hub_template: dict[str, Any],
) -> None:
    # Given Lake alone, a 5-minute schedule and lake_lag_alarm_minutes 45
    lake = _alarm(security_hub_template, "LakeDetectionLag")

    assert (lake["Threshold"], lake["Period"]) == (45 * 60, 300)
    assert not under(security_hub_template, "Operations/EventBridgeDetectionLag")["Resources"]


def test_eventbridge_alone_has_no_lake_lag_alarm(eventbridge_template: dict[str, Any]) -> None:
    assert _alarm(eventbridge_template, "EventBridgeDetectionLag")["Threshold"] == 300
    assert not under(eventbridge_template, "Operations/LakeDetectionLag")["Resources"]


def test_revert_failures_and_late_expiries_alarm_on_the_first(
    app_template: dict[str, Any],
) -> None:
    for name, metric_name in (
        ("RevertFailures", "RevertsFailed"),
        ("LateExpiries", "LateExpiries"),
    ):
        alarm = _alarm(app_template, name)
        assert (alarm["Namespace"], alarm["MetricName"]) == ("sgrevert", metric_name)
        assert _dimensions(alarm) == {}
        assert (alarm["Statistic"], alarm["Threshold"], alarm["Period"]) == ("Sum", 1, 300)
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"


def test_an_undecided_critical_change_older_than_the_threshold(
    app_template: dict[str, Any], security_hub_template: dict[str, Any]
) -> None:
    shipped = _alarm(app_template, "UndecidedCritical")
    longer = _alarm(security_hub_template, "UndecidedCritical")

    assert (shipped["Namespace"], shipped["MetricName"]) == ("sgrevert", "OldestUndecidedSeconds")
    assert _dimensions(shipped) == {"risk": "critical"}
    # measured by each scheduled run: one period of the schedule
    assert (shipped["Statistic"], shipped["Period"]) == ("Maximum", 600)
    assert (shipped["Threshold"], longer["Threshold"]) == (60 * 60, 120 * 60)
    assert shipped["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"


def test_each_new_alarm_notifies_the_topic_when_set(
    app_template: dict[str, Any], direct_template: dict[str, Any]
) -> None:
    notified = under(direct_template, "Operations")
    silent = under(app_template, "Operations")

    alarms = resources(notified, "AWS::CloudWatch::Alarm").values()
    assert len(alarms) == 4  # Lake alone: one lag alarm
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [TOPIC]
        assert alarm["Properties"]["OKActions"] == [TOPIC]
    for alarm in resources(silent, "AWS::CloudWatch::Alarm").values():
        assert "AlarmActions" not in alarm["Properties"]


# -- the dashboard ---------------------------------------------------------------------------


def test_the_dashboard_shows_every_alarm_of_the_stack(app_template: dict[str, Any]) -> None:
    dashboard = _dashboard(app_template)

    assert dashboard["name"] == "sgrevert-operations"
    [status] = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    shown = set(status["properties"]["alarms"])
    assert shown == set(resources(app_template, "AWS::CloudWatch::Alarm"))


def test_the_dashboard_graphs_every_metric(app_template: dict[str, Any]) -> None:
    dashboard = _dashboard(app_template)
    graphs = {
        w["properties"]["title"]: _graphed(w)
        for w in dashboard["widgets"]
        if w["type"] == "metric" and "metrics" in w["properties"]
    }
    graphed = {name for lines in graphs.values() for name, _ in lines}

    assert graphed == {
        metrics.CHANGES_DETECTED,
        metrics.CHANGES_POSTED,
        metrics.CHANGES_IGNORED,
        metrics.CHANGES_HELD,
        metrics.DETECTION_LAG,
        metrics.CONTEXT_FAILURES,
        metrics.LATE_EXPIRIES,
        metrics.UNDECIDED_BACKLOG,
        metrics.OLDEST_UNDECIDED,
        metrics.DECISIONS,
        metrics.DECISION_LATENCY,
        metrics.REVERTS_SUCCEEDED,
        metrics.REVERTS_FAILED,
        metrics.SLACK_ERRORS,
        metrics.SECURITY_HUB_FAILURES,
    }
    # with the dimensions the functions write: each path and risk, each kind
    detected = {tuple(sorted(d.items())) for _, d in graphs["Changes detected, by path and risk"]}
    assert (("path", "eventbridge"), ("risk", "critical")) in detected
    assert (("path", "lake"), ("risk", "unrated")) in detected
    assert len(detected) == 10
    kinds = {d["kind"] for _, d in graphs["Decisions, by kind"]}
    assert kinds == metrics.KINDS


def test_the_dashboard_graphs_only_the_paths_that_run(direct_template: dict[str, Any]) -> None:
    dashboard = _dashboard(direct_template)
    [lag] = [
        w for w in dashboard["widgets"] if w["properties"].get("title", "").startswith("Detection")
    ]

    assert {d["path"] for _, d in _graphed(lag)} == {"lake"}


# -- Security Hub ----------------------------------------------------------------------------


def _runtime_env(template: dict[str, Any], name: str) -> dict[str, str]:
    _, resource = function(template, name)
    variables = resource["Properties"]["Environment"]["Variables"]
    return {k: v if isinstance(v, str) else "resolved" for k, v in variables.items()}


def _security_hub_env(template: dict[str, Any], name: str) -> dict[str, str]:
    return {k: v for k, v in _runtime_env(template, name).items() if k.startswith("SECURITY_HUB")}


def test_security_hub_is_off_by_default(app_template: dict[str, Any]) -> None:
    for name in ("revertsg-1", "revertsg-2"):
        env = _runtime_env(app_template, name)
        assert "SECURITY_HUB" not in env
        statements = role_statements(app_template, function_role(app_template, name))
        granted = {a for s in statements for a in actions(s)}
        assert not {a for a in granted if a.startswith("securityhub:")}


def test_with_security_hub_both_functions_get_the_settings_and_only_the_two_calls(
    security_hub_template: dict[str, Any],
) -> None:
    for name in ("revertsg-1", "revertsg-2"):
        env = _runtime_env(security_hub_template, name)
        assert (env["SECURITY_HUB"], env["SECURITY_HUB_AT_OR_ABOVE"]) == ("true", "critical")
        statements = role_statements(
            security_hub_template, function_role(security_hub_template, name)
        )
        found = {
            action: statement["Resource"]
            for statement in statements
            for action in actions(statement)
            if action.startswith("securityhub:")
        }
        assert set(found) == {IMPORT, UPDATE}
        # the default product of this account, and this account's hub, in this region
        product = "".join(
            p if isinstance(p, str) else f"<{p['Ref']}>" for p in found[IMPORT]["Fn::Join"][1]
        )
        hub = "".join(
            p if isinstance(p, str) else f"<{p['Ref']}>" for p in found[UPDATE]["Fn::Join"][1]
        )
        assert product == (
            "arn:<AWS::Partition>:securityhub:<AWS::Region>:<AWS::AccountId>:"
            "product/<AWS::AccountId>/default"
        )
        assert hub == "arn:<AWS::Partition>:securityhub:<AWS::Region>:<AWS::AccountId>:hub/default"


def test_the_functions_read_the_security_hub_settings_synth_sets(
    security_hub_template: dict[str, Any],
) -> None:
    """What synth puts in the environment is what each function accepts at cold start."""
    given = {"TABLE_NAME": "t", "SLACK_SECRET_ARN": "sgrevert/slack", "SLACK_CHANNEL_ID": "C0123"}
    detector = {**given, **_security_hub_env(security_hub_template, "revertsg-1")}
    responder = {**given, **_security_hub_env(security_hub_template, "revertsg-2")}
    detector["DETECTION"] = "eventbridge"  # what else the detector needs is not the point

    detect = DetectSettings.from_env(detector)
    respond = RespondSettings.from_env(responder)

    assert (detect.security_hub, detect.security_hub_at_or_above) == (True, Risk.CRITICAL)
    assert (respond.security_hub, respond.security_hub_at_or_above) == (True, Risk.CRITICAL)


def test_security_hub_adds_no_cdk_nag_acknowledgement(security_hub: Synthesized) -> None:
    report = json.loads((Path(security_hub.directory) / "validation-report.json").read_text())
    (plugin,) = [p for p in report["pluginReports"] if p["pluginName"] == "AwsSolutions"]

    assert plugin["violations"] == []
    suppressed = {
        v["ruleName"]
        for v in plugin.get("suppressedViolations", [])
        for c in v["violatingConstructs"]
        if "securityhub" in json.dumps(v).lower()
    }
    assert suppressed == set()


# -- settings ----------------------------------------------------------------------------------


def test_the_new_settings_default_to_security_hub_off_and_the_documented_thresholds() -> None:
    result = Settings.from_context(MINIMAL)

    assert (result.security_hub, result.security_hub_at_or_above) == (False, Risk.HIGH)
    assert result.lake_lag_alarm_minutes == 30
    assert result.eventbridge_lag_alarm_minutes == 5
    assert result.undecided_critical_alarm_minutes == 60


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("security_hub", "sometimes"),
        ("security_hub_at_or_above", "severe"),
        ("lake_lag_alarm_minutes", "0"),
        ("eventbridge_lag_alarm_minutes", "soon"),
        ("undecided_critical_alarm_minutes", "20000"),
    ],
)
def test_a_malformed_operations_setting_is_named(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=rf"{key}: '{value}' is malformed"):
        Settings.from_context({**MINIMAL, key: value})


def test_json_values_are_accepted() -> None:
    result = Settings.from_context(
        {
            **MINIMAL,
            "security_hub": True,
            "security_hub_at_or_above": "MEDIUM",
            "lake_lag_alarm_minutes": 40,
        }
    )

    assert (result.security_hub, result.security_hub_at_or_above) == (True, Risk.MEDIUM)
    assert result.lake_lag_alarm_minutes == 40
