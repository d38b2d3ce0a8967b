"""The on-disk cache of holidays and sessions: the same answers, nothing recomputed, never
trusted in a folder others may write, never failing a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstm_forecast import calendar_cache, calendar_inference, calendars

DATA = Path(__file__).parent / "data"
KEPT = (calendars._exchange, calendar_inference._holidays, calendars.library_facts)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache in a fresh temp folder, and no calendar kept in this process."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    for cached in (calendar_cache.folder, *KEPT):
        cached.cache_clear()
    yield tmp_path / f"lstm-forecast-{os.getuid()}" / "calendars"
    for cached in (calendar_cache.folder, *KEPT):
        cached.cache_clear()


def _forget() -> None:
    """A new process: the disk cache stays, the in-process ones go."""
    for cached in KEPT:
        cached.cache_clear()


def test_sessions_come_back_from_disk_as_built(cache, monkeypatch):
    built = calendars.resolve("XNYS", "2015-03-02", "2017-06-30")
    direct = calendars.xcals().get_calendar(
        "XNYS", start=pd.Timestamp(built.start), end=pd.Timestamp(built.end)
    )  # what the library builds on the span itself
    files = sorted(p.name for p in cache.iterdir())
    tag = calendar_cache.tag(calendars.library_version())
    assert tag.startswith(f"{calendars.library_version()}-pandas{pd.__version__}-tz")
    assert files == [f"library-{tag}.json", f"sessions-XNYS-2015-01-01-2022-12-31-{tag}.npz"]
    _forget()
    fail = lambda *a, **k: pytest.fail("the calendar was built again")  # noqa: E731
    monkeypatch.setattr(calendars.xcals(), "get_calendar", fail)
    again = calendars.resolve("XNYS", "2015-03-02", "2017-06-30")
    for field in ("code", "weekmask", "tz", "version", "start", "end"):
        assert getattr(again, field) == getattr(built, field)
    np.testing.assert_array_equal(again.sessions, built.sessions)
    np.testing.assert_array_equal(again.hours, built.hours)
    assert again.sessions[0] == np.datetime64("2015-03-02")  # cut to the span asked for
    np.testing.assert_array_equal(again.sessions, direct.sessions.values.astype("datetime64[D]"))
    np.testing.assert_array_equal(again.hours[:, 0], direct.opens_nanos)
    np.testing.assert_array_equal(again.hours[:, 3], direct.closes_nanos)
    assert np.datetime64("2015-07-03") not in again.sessions  # Independence Day observed
    _forget()
    later = calendars.resolve("XNYS", "2015-06-01", "2017-09-29")  # other days, the same years
    assert later.sessions[0] == np.datetime64("2015-06-01")
    np.testing.assert_array_equal(
        later.sessions[later.sessions <= built.end], built.sessions[built.sessions >= later.start]
    )


def test_holidays_are_kept_by_year_and_a_later_span_reads_them(cache, monkeypatch):
    first, last = np.datetime64("2014-06-02"), np.datetime64("2016-03-31")
    holidays, named, weekmask = calendar_inference._holidays("XLON", first, last)
    assert np.datetime64("2015-12-25") in holidays and weekmask == "1111100"
    _forget()
    monkeypatch.setattr(calendar_inference, "_rule_years", lambda *a: pytest.fail("recomputed"))
    again, named_again, _ = calendar_inference._holidays("XLON", first, last)
    np.testing.assert_array_equal(again, holidays)
    assert dict(named_again) == dict(named)
    later = np.datetime64("2015-01-05")
    inner = calendar_inference._holidays("XLON", later, last)[0]
    span = np.arange(later, last + 1)
    np.testing.assert_array_equal(np.isin(span, inner), np.isin(span, holidays))


def test_a_damaged_entry_is_computed_again(cache):
    built = calendars.resolve("XNYS", "2015-03-02", "2017-06-30")
    (entry,) = cache.glob("sessions-*")
    entry.write_bytes(b"PK\x03\x04 not a whole file")
    _forget()
    again = calendars.resolve("XNYS", "2015-03-02", "2017-06-30")
    np.testing.assert_array_equal(again.sessions, built.sessions)
    assert calendar_cache.read_arrays(entry.name) is not None  # written whole again
    entry.write_bytes(b"\x93NUMPY not an archive")  # an .npy where an .npz belongs
    _forget()
    np.testing.assert_array_equal(
        calendars.resolve("XNYS", "2015-03-02", "2017-06-30").sessions, built.sessions
    )
    tag = calendar_cache.tag(calendars.library_version())
    holidays = cache / f"holidays-XLON-{tag}.json"
    holidays.write_text(
        '{"weekmask": "1111100", "years": {"2015": {"ruled": ["not a date"], "names": ["x"],'
        ' "adhoc": []}}}'
    )
    days = calendar_inference._holidays(
        "XLON", np.datetime64("2015-01-02"), np.datetime64("2015-12-31")
    )
    assert np.datetime64("2015-12-25") in days[0]


LOAD = "import sys; from lstm_forecast import api; d = api.load_data(sys.argv[1]); " + (
    "print(d.exchange, 'exchange_calendars' in sys.modules)"
)


def test_a_run_whose_calendars_are_kept_does_not_import_the_library(cache):
    data = str(DATA / "goog_yahoo.csv")
    runs = [subprocess.run([sys.executable, "-c", LOAD, data], capture_output=True, text=True)]
    runs.append(subprocess.run([sys.executable, "-c", LOAD, data], capture_output=True, text=True))
    assert [r.stdout.split() for r in runs] == [["XNYS", "True"], ["XNYS", "False"]]
    tag = calendar_cache.tag(calendars.library_version())
    facts = cache / f"library-{tag}.json"
    lib = calendars.xcals()
    kept = calendars.library_facts()  # read back from what the first run wrote
    facts.unlink()
    _forget()
    for held in (kept, calendars.library_facts()):  # and asked of the library afresh
        assert held["names"] == {
            n.upper(): lib.resolve_alias(n) for n in lib.get_calendar_names(include_aliases=True)
        }
        assert held["aliases"] == {c: list(a) for c, a in lib.names_to_aliases().items()}
        for code, cls in lib.calendar_utils._default_calendar_factories.items():
            bounds = (cls.bound_min(), cls.bound_max())
            assert held["bounds"][code] == tuple(
                None if b is None else np.datetime64(b.date(), "D") for b in bounds
            )
    assert calendars.check_code("nasdaq") == "XNYS" and calendars.check_code("xlon") == "XLON"
    damaged = (
        "{not json",  # cut short
        '{"names": {"XNYS": "XNYS"}, "bounds": {}, "aliases": {}}',  # a calendar without bounds
        '{"names": {}, "bounds": {"XSHG": ["1990-12-03", "soon"]}, "aliases": {}}',  # not a day
        '{"names": {}, "bounds": {}, "aliases": {"XNYS": "NYSE"}}',  # not a list
    )
    first = lib.calendar_utils._default_calendar_factories["XSHG"].bound_min()
    for text in damaged:
        facts.write_text(text)
        _forget()
        assert calendars.library_bounds(
            "XSHG", np.datetime64("1980-01-01"), np.datetime64("2000-01-01")
        ) == (np.datetime64(first.date(), "D"), np.datetime64("2000-01-01"))
        assert calendars.check_code("nasdaq") == "XNYS"
        assert json.loads(facts.read_text())["names"]["NASDAQ"] == "XNYS"  # written whole again


def test_the_folder_is_private_whatever_the_umask_and_never_the_working_folder(
    cache, monkeypatch, tmp_path
):
    old = os.umask(0o002)
    try:
        assert calendar_cache.folder() == cache
    finally:
        os.umask(old)
    assert cache.stat().st_mode & 0o777 == cache.parent.stat().st_mode & 0o777 == 0o700
    monkeypatch.chdir(tmp_path)  # a run started in the temp folder itself (cron: cd /tmp)
    calendar_cache.folder.cache_clear()
    assert calendar_cache.folder() == cache
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("TMPDIR")
    monkeypatch.setattr(tempfile, "tempdir", str(elsewhere))  # as when no temp folder is usable
    calendar_cache.folder.cache_clear()
    assert calendar_cache.folder() is None


def test_a_folder_others_may_write_is_not_used(cache, monkeypatch):
    assert calendar_cache.folder() == cache
    cache.chmod(0o777)
    calendar_cache.folder.cache_clear()
    assert calendar_cache.folder() is None
    calendar_cache.write("x.json", b"{}")  # quietly not kept
    assert calendar_cache.read("x.json") is None and not (cache / "x.json").exists()
    _forget()
    built = calendars.resolve("XNYS", "2015-03-02", "2017-06-30")  # computed all the same
    assert len(built.sessions) > 500 and list(cache.iterdir()) == []
