"""Strict JSON: one cleaner (:func:`caitlab._json.json_safe`) for every file caitlab writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from caitlab._json import json_safe
from caitlab.sweep import RunStore


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"non-finite {constant} in strict JSON")

    return json.loads(text, parse_constant=refuse)


def test_non_finite_numbers_of_every_kind_become_null():
    data = {
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "f32": np.float32("-inf"),
        "half": np.float16(0.5),
        "int": np.int64(3),
        "flag": np.bool_(True),
        "array": np.array([1.0, np.nan, np.inf]),
        "matrix": np.array([[1, 2], [3, 4]], dtype=np.int32),
        "tuple": (1.5, float("nan")),
        "nested": [{"x": np.float32("nan"), "y": "text", "z": None}],
        np.int64(7): "numpy key",
        Path("a"): "path key",
    }
    clean = json_safe(data)
    text = json.dumps(clean, allow_nan=False)  # would raise on NaN, inf or a numpy type
    assert _strict(text) == {
        "nan": None,
        "inf": None,
        "f32": None,
        "half": 0.5,
        "int": 3,
        "flag": True,
        "array": [1.0, None, None],
        "matrix": [[1, 2], [3, 4]],
        "tuple": [1.5, None],
        "nested": [{"x": None, "y": "text", "z": None}],
        "7": "numpy key",
        "a": "path key",
    }
    assert type(clean["half"]) is float and type(clean["int"]) is int
    assert type(clean["flag"]) is bool


def test_finite_numbers_and_keys_are_written_as_before():
    data = {"a": 1, "b": 2.5, "c": [True, None, "x"], 1: "int key", 0.5: "float key"}
    assert json.dumps(json_safe(data)) == json.dumps(data)


@pytest.mark.parametrize("value", [np.float32("nan"), np.array([np.nan, 1.0]), float("inf")])
def test_a_sweep_failure_record_is_strict_json_with_numpy_values(tmp_path, value):
    store = RunStore(tmp_path)
    store.save_failure("k", {"x": value}, {"x": value}, "did not converge")
    record = _strict((tmp_path / "failed" / "k.json").read_text())
    expected = json_safe(value)
    assert expected is None or expected == [None, 1.0]
    assert record["values"]["x"] == expected and record["input"]["x"] == expected
    assert store.failed("k") == "did not converge"
