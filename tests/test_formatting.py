"""The one number formatter and the one JSON sanitiser (l2phase.theory.formatting)."""

import json
import math

import numpy as np
import pytest

from l2phase.cli import main
from l2phase.theory.formatting import format_number, json_ready


@pytest.mark.parametrize("x, spec, want", [
    (0.39685026299204984, ".6f", "0.396850"),
    (np.float32(0.5), ".3g", "0.5"),
    (float("nan"), ".6f", "-"),
    (-math.inf, ".4g", "-"),
    (None, ".4g", "-"),
    (7, ".4g", "7"),
    (np.int64(7), ".2f", "7.00"),       # a fixed point asks for decimals, even for an integer
    (3, "+.1f", "+3.0"),
    (True, ".4g", "True"),
    ("first order", ".4g", "first order"),
])
def test_format_number(x, spec, want):
    assert format_number(x, spec) == want


def test_json_ready_strict_and_bit_exact():
    obj = {1: (np.float64(0.1), np.int32(2), np.bool_(True)), "a": np.array([[1.5, np.nan], [np.inf, -0.0]])}
    strict = json_ready(obj)
    assert strict == {"1": [0.1, 2, True], "a": [[1.5, None], [None, -0.0]]}
    json.dumps(strict, allow_nan=False)  # strict JSON: no NaN/Infinity tokens
    kept = json_ready(obj, keep_nonfinite=True)
    back = json.loads(json.dumps(kept))
    assert math.isnan(back["a"][0][1]) and back["a"][1][0] == math.inf and math.copysign(1, back["a"][1][1]) < 0
    with pytest.raises(TypeError, match="not JSON serialisable: object"):
        json_ready({"x": object()})


def test_theory_command_output_goes_through_them(capsys):
    # the text output shows what the shared formatter makes of the JSON numbers
    assert main(["theory", "--depth", "2", "--a", "1", "--c", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert main(["theory", "--depth", "2", "--a", "1", "--c", "1"]) == 0
    text = capsys.readouterr().out
    assert format_number(out["gamma_c"], ".6f") == "0.396850" and "0.396850" in text
    assert format_number(out["latent_heat"], ".6f") in text
