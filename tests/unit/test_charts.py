"""The dashboards' figure builders (dashboards/charts.py): traces per group, French labels, withheld cells."""

from __future__ import annotations

from datetime import date

import polars as pl

from dashboards import charts

VOLUMES = pl.DataFrame(
    {
        "month": [date(2012, 1, 1), date(2012, 2, 1), date(2012, 1, 1), date(2012, 2, 1)],
        "dimension": ["MR", "MR", "CT", "CT"],
        "studies": [12, 15, 30, None],
    }
)


def test_bars_are_a_stacked_trace_per_group_in_order_of_appearance():
    fig = charts.bar(
        VOLUMES, "month", "studies", "dimension", {"month": "mois", "studies": "examens", "dimension": "modalité"}
    )
    assert [t.name for t in fig.data] == ["MR", "CT"] and fig.layout.barmode == "relative"
    assert list(fig.data[0].y) == [12, 15] and list(fig.data[1].y) == [30, None]
    assert fig.data[0].hovertemplate == "MR<br>mois = %{x}<br>examens = %{y}<extra></extra>"
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("mois", "examens")
    assert fig.layout.legend.title.text == "modalité" and fig.layout.showlegend
    # months named the French way, in calendar order, as the month pickers name them
    assert fig.layout.xaxis.type == "category" and list(fig.layout.xaxis.categoryarray) == ["janv. 2012", "févr. 2012"]


def test_codes_on_the_x_axis_are_categories_and_horizontal_bars_put_the_values_on_x():
    per_dep = pl.DataFrame({"departement": ["75", "93"], "studies": [5, 7]})
    fig = charts.bar(per_dep, "departement", "studies")
    assert fig.layout.xaxis.type == "category" and len(fig.data) == 1 and not fig.layout.showlegend
    rates = pl.DataFrame({"rate": [0.01, 0.2], "event": ["Récupération", "Partage"]})
    fig = charts.bar(rates, "rate", "event", orientation="h")
    assert fig.data[0].orientation == "h" and list(fig.data[0].x) == [0.01, 0.2]
    assert fig.layout.yaxis.type == "category"


def test_a_line_without_groups_is_one_trace_with_markers():
    fig = charts.line(VOLUMES.filter(pl.col("dimension") == "MR"), "month", "studies", labels={"studies": "examens"})
    assert len(fig.data) == 1 and fig.data[0].mode == "lines+markers" and list(fig.data[0].y) == [12, 15]
    assert fig.data[0].hovertemplate == "month = %{x}<br>examens = %{y}<extra></extra>"


def test_heatmap_sums_cells_keeps_withheld_ones_empty_and_names_months_in_french():
    frame = pl.DataFrame(
        {
            "month": [date(2012, 2, 1), date(2012, 1, 1), date(2012, 1, 1), date(2012, 1, 1), date(2012, 2, 1)],
            "site": ["B", "B", "A", "A", "A"],
            "studies": [None, 4, 3, 2, None],
        }
    )
    fig = charts.heatmap(frame, "month", "site", "studies", {"x": "mois", "y": "site", "color": "examens"})
    trace = fig.data[0]
    assert list(trace.x) == ["janv. 2012", "févr. 2012"] and list(trace.y) == ["A", "B"]
    assert [list(row) for row in trace.z] == [[5, None], [4, None]]  # A's January summed; withheld cells empty
    assert fig.layout.yaxis.autorange == "reversed" and trace.texttemplate == "%{z}"
    assert "examens = %{z}" in trace.hovertemplate


def test_large_heatmaps_name_their_rows_in_the_hover_only_and_write_no_cell_text():
    sites = pl.DataFrame(
        {
            "hour": [h for _ in range(60) for h in range(8)],
            "site": [f"S{i:02d}" for i in range(60) for _ in range(8)],
            "studies": [1] * 480,
        }
    )
    fig = charts.heatmap(sites, "hour", "site", "studies")
    assert not fig.layout.yaxis.showticklabels and fig.data[0].texttemplate is None
    assert list(fig.data[0].x) == list(range(8)) and len(fig.data[0].z) == 60


def test_heatmap_takes_any_column_type_and_names_its_axes_after_the_columns_by_default():
    from datetime import datetime

    frame = pl.DataFrame(
        {
            "at": [datetime(2012, 1, 1, 8), datetime(2012, 1, 1, 9)],
            "site": ["at", "B"],
            "flag": [True, False],
            "studies": [1, 2],
        }
    )
    fig = charts.heatmap(frame, "at", "site", "studies")  # a Datetime axis, a y value equal to the x column's name
    assert list(fig.data[0].y) == ["B", "at"] and [list(row) for row in fig.data[0].z] == [[None, 2], [1, None]]
    assert (fig.layout.xaxis.title.text, fig.layout.yaxis.title.text) == ("at", "site")
    fig = charts.heatmap(frame, "flag", "site", "studies")
    assert list(fig.data[0].x) == [False, True] and [list(row) for row in fig.data[0].z] == [[2, None], [None, 1]]
