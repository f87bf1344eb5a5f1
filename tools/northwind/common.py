"""Shared by the Northwind generators: the observation end, the CSV format, timestamps and
the 1997 holiday backlog."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
OBS_END = dt.date(1998, 6, 30)


def at(day: dt.date, seconds: float) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(seconds=round(float(seconds)))


def in_backlog(day: dt.date) -> bool:
    """The 1997 holiday season, when Northwind's warehouse ran a delivery backlog."""
    return dt.date(1997, 11, 17) <= day <= dt.date(1998, 1, 9)


def write_csv(frame: pl.DataFrame, path: Path) -> None:
    """Write atomically (a temporary file renamed), dates ISO, floats with two decimals."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    frame.write_csv(tmp, datetime_format=DATETIME_FORMAT, date_format="%Y-%m-%d", float_precision=2)
    tmp.replace(path)
