"""The dashboard check itself: it finds the names a query selects, and it can fail."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.promql import dashboard_metric_names, exposed_names, metric_names


def test_names_skip_functions_labels_and_numbers() -> None:
    expr = (
        'histogram_quantile(0.95, sum by (le, route) (rate(a_bucket{status=~"5..", x="b_c"}[5m])))'
        " / clamp_min(sum(rate(b_total[5m])), 1e-9) or on (job) c offset 5m"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c"}


def test_an_unexported_name_is_caught(tmp_path: Path) -> None:
    dashboard = {
        "panels": [
            {"targets": [{"expr": "rate(edgewright_http_requests_total[5m])"}]},
            {"panels": [{"targets": [{"expr": "edgewright_not_a_metric"}]}]},
        ]
    }
    path = tmp_path / "dashboard.json"
    path.write_text(json.dumps(dashboard))
    text = (
        "# HELP edgewright_http_requests_total x\n# TYPE edgewright_http_requests_total counter\n"
        'edgewright_http_requests_total{route="/x"} 1.0\n'
    )
    missing = dashboard_metric_names(path) - exposed_names([text])
    assert missing == {"edgewright_not_a_metric"}
