"""The search space: defaults fitted to the data, --space files checked, points to configs."""

from __future__ import annotations

import pytest

from lstm_forecast import search_space
from lstm_forecast.errors import ConfigError
from lstm_forecast.search_space import Choice, Range
from lstm_forecast.settings import TrainConfig

BASE = TrainConfig(features=["Open", "Volume"])


def defaults(**kw) -> search_space.Space:
    args = dict(features=["Open", "Volume"], dated=True, positive=True, max_lookback=100) | kw
    return search_space.default_space(BASE, **args)


def merged(tmp_path, text: str) -> search_space.Space:
    path = tmp_path / "space.toml"
    path.write_text(text)
    return search_space.merge(defaults(), search_space.read_space(path), BASE, str(path))


def fails(tmp_path, text: str, *words: str) -> str:
    with pytest.raises(ConfigError) as info:
        merged(tmp_path, text)
    message = str(info.value)
    assert "space.toml" in message
    for word in words:
        assert word in message, message
    return message


def test_defaults_fit_the_data():
    space = defaults(max_lookback=40)
    assert space["lookback"] == Range(8, 40, log=True)
    assert space["transform"] == Choice(("log-return", "diff", "none"))
    assert set(space["features"].values) == {"Open,Volume", "Open", "Volume", ""}
    assert space["features"].values[0] == "Open,Volume"
    assert space["date_features"] == Choice((False, True))
    plain = defaults(features=[], dated=False, positive=False)
    assert plain["transform"] == Choice(("diff", "none"))
    assert plain["features"] == Choice(("",)) and plain["date_features"] == Choice((False,))


def test_a_file_fixes_narrows_and_widens(tmp_path):
    space = merged(
        tmp_path,
        "layers = 1\n[lr]\nlow = 1e-4\n[hidden]\nchoices = [8, 16]\n[chunk]\nlow = 4\nhigh = 64\n"
        '[features]\nchoices = ["", "Volume, Open"]\n',
    )
    assert space["layers"] == Choice((1,))
    assert space["lr"] == Range(1e-4, 1e-2, log=True)  # the default's other bound and scale
    assert space["hidden"] == Choice((8, 16))
    assert space["chunk"] == Range(4, 64)  # a default choice became a range
    assert space["features"] == Choice(("", "Volume,Open"))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("lookbak = 10\n", ["unknown parameter 'lookbak'", "lookback"]),
        ("[lookback]\nhihg = 10\n", ["[lookback] has no setting 'hihg'"]),
        ("[lookback]\nlow = 10.5\n", ["[lookback]", "10.5 is not a int"]),
        ("[lookback]\nlow = 90\nhigh = 20\n", ["low 90 is above high 20"]),
        ("[lr]\nlow = 0.0\n", ["log range needs low above 0"]),
        ("[dropout]\nhigh = 1.0\n", ["[dropout] 1.0", "--dropout must be in [0, 1)"]),
        ("[hidden]\nlow = 8\n", ["a range needs both low and high"]),
        ('[transform]\nchoices = ["log", "diff"]\n', ["'log' is not one of"]),
        ('features = "Close"\n', ["'Close' is not among --features (Open, Volume)"]),
        ("[date_features]\nlow = 0\nhigh = 1\n", ["takes choices, not a range"]),
        ("[layers]\nchoices = []\n", ["non-empty list"]),
        ("[layers]\nchoices = [1]\nlow = 1\n", ["either choices or low/high"]),
        ("layers = true\n", ["True is not a int"]),
        ("[lookback]\nlog = true\nstep = 2\n", ["cannot go with log"]),
    ],
)
def test_mistakes_are_errors_naming_them(tmp_path, text, words):
    fails(tmp_path, text, *words)


def test_a_file_that_is_not_toml_is_an_error(tmp_path):
    fails(tmp_path, "lookback = [\n", "not a valid TOML file")
    with pytest.raises(ConfigError, match="no such space file"):
        search_space.read_space(tmp_path / "missing.toml")


class Drawn:
    """A stand-in for an Optuna trial: the lowest value of every searched parameter."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def suggest_int(self, name, low, high, *, step=1, log=False):
        self.asked.append(name)
        return low

    def suggest_float(self, name, low, high, *, step=None, log=False):
        self.asked.append(name)
        return low

    def suggest_categorical(self, name, choices):
        self.asked.append(name)
        return choices[-1]


def test_a_point_becomes_the_config_trained_with_its_seed(tmp_path):
    space = merged(tmp_path, "layers = 2\n")
    trial = Drawn()
    point = search_space.suggest(trial, space)
    assert "layers" not in trial.asked and point["layers"] == 2  # fixed: not searched
    config = search_space.config_for(BASE, point, seed=17)
    assert config.seed == 17 and config.lookback == 8 and config.lr == 3e-4
    assert config.features == [] and config.hidden == 128 and config.transform == "none"
    assert config.epochs == BASE.epochs and config.quantiles == BASE.quantiles
