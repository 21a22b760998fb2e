import math
import statistics
import sys

import pytest

from bridge.demo.analysis import (
    PDF_NEEDS_FPDF,
    DataError,
    ReportUnavailable,
    analyze,
    markdown_report,
    pdf_report,
    transform,
    validate,
)


def test_validate_keeps_finite_numbers_and_reports_the_rest() -> None:
    result = validate([1, "2.5", None, "x", float("inf"), True, 4])
    assert result["data"] == [1.0, 2.5, 4.0]
    assert [e["index"] for e in result["errors"]] == [2, 3, 4, 5]
    assert result["valid"] is False
    assert (result["count"], result["rejected"]) == (3, 4)


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("normalized", [0.0, 1 / 6, 1.0]),
        ("scaled", [-0.2, 0.0, 1.0]),
        ("sorted", [-1.0, 0.0, 5.0]),
    ],
)
def test_transforms(how: str, expected: list[float]) -> None:
    data = [-1.0, 0.0, 5.0] if how != "sorted" else [5.0, -1.0, 0.0]
    assert transform(data, how) == pytest.approx(expected)  # type: ignore[arg-type]


def test_standardized_has_zero_mean_and_unit_population_std() -> None:
    z = transform([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], "standardized")
    assert statistics.fmean(z) == pytest.approx(0.0, abs=1e-12)
    assert statistics.pstdev(z) == pytest.approx(1.0)


def test_constant_data_normalizes_to_zeros_and_empty_data_is_an_error() -> None:
    assert transform([3.0, 3.0], "normalized") == [0.0, 0.0]
    with pytest.raises(DataError, match="needs at least 1 value"):
        transform([], "normalized")


def test_analyze_computes_population_statistics() -> None:
    result = analyze([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], ["mean", "median", "std", "variance", "count", "sum"])
    assert result["metrics"] == {
        "mean": 5.0,
        "median": 4.5,
        "std": 2.0,
        "variance": 4.0,
        "count": 8,
        "sum": 40.0,
    }


def test_reports_render_the_metrics() -> None:
    analysis = {"metrics": {"mean": 2.5, "std": math.sqrt(1.25)}, "count": 4}
    assert "| mean | 2.5 |" in markdown_report(analysis, "T")
    pdf = pdf_report(analysis, "Quarterly")
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    with pytest.raises(DataError, match="no metrics"):
        pdf_report({}, "T")


def test_a_pdf_report_without_fpdf2_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fpdf", None)  # what an install without the demo extra sees
    with pytest.raises(ReportUnavailable) as unavailable:
        pdf_report({"metrics": {"mean": 2.5}}, "T")
    assert str(unavailable.value) == PDF_NEEDS_FPDF == "PDF reports need fpdf2: pip install 'mcp-rest-bridge[demo]'"
    with pytest.raises(DataError, match="no metrics"):  # the data is still checked first
        pdf_report({}, "T")
