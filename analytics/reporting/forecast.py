"""The operator's storage forecast: a straight line through the monthly stored volume, with a prediction band.

Model: ordinary least squares of stored GB on the month index, fitted on every month of history; the band is the
95 % prediction interval of that regression, value ± 1.96 · s · sqrt(1 + 1/n + (x − x̄)² / Sxx), where s is the
standard deviation of the residuals (n − 2 degrees of freedom). It widens with the distance from the history. With
fewer than three months there is no band; the forecast never goes below zero.
"""

from __future__ import annotations

import math
from datetime import date

import polars as pl

Z95 = 1.96


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def linear_forecast(months: list[date], values: list[float], horizon: int = 12) -> pl.DataFrame:
    """History rows (kind 'history') then `horizon` rows (kind 'forecast') with low/high bounds."""
    schema = {"month": pl.Date, "kind": pl.String, "stored_gb": pl.Float64, "low": pl.Float64, "high": pl.Float64}
    rows = [
        {"month": m, "kind": "history", "stored_gb": v, "low": None, "high": None}
        for m, v in zip(months, values, strict=True)
    ]
    n = len(values)
    if n < 2:
        return pl.DataFrame(rows, schema=schema)
    xs = list(range(n))
    x_mean, y_mean = sum(xs) / n, sum(values) / n
    sxx = sum((x - x_mean) ** 2 for x in xs)
    slope = sum((x - x_mean) * (y - y_mean) for x, y in zip(xs, values, strict=True)) / sxx
    intercept = y_mean - slope * x_mean
    residual_sd = (
        math.sqrt(sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, values, strict=True)) / (n - 2))
        if n > 2
        else None
    )
    for step in range(1, horizon + 1):
        x = n - 1 + step
        value = max(intercept + slope * x, 0.0)
        half = Z95 * residual_sd * math.sqrt(1 + 1 / n + (x - x_mean) ** 2 / sxx) if residual_sd is not None else None
        rows.append(
            {
                "month": _add_months(months[-1], step),
                "kind": "forecast",
                "stored_gb": value,
                "low": max(value - half, 0.0) if half is not None else None,
                "high": value + half if half is not None else None,
            }
        )
    return pl.DataFrame(rows, schema=schema)
