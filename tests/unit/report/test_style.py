"""One colour per condition in every figure (retrogait.report.style)."""

from __future__ import annotations

import pytest

from retrogait.report.style import BACKWARD, FORWARD, condition_colours, direction_of, level_colours


@pytest.mark.parametrize("name, expected", [("FW", "FW"), ("BW_0.6", "BW"), ("walk_backward_1", "BW"),
                                            ("forward", "FW"), ("turn", None), ("straight", None),
                                            ("FW_vs_BW", None), ("bwd", "BW"), ("1.0", None)])
def test_direction_of_names(name, expected):
    assert direction_of(name) == expected


def test_directions_keep_their_hue_and_faster_is_darker():
    c = condition_colours(["FW_1.2", "BW_0.6", "FW_0.6", "BW_1.0", "BW_0.8"])
    assert len(set(c.values())) == 5
    from matplotlib.colors import to_rgb

    def lum(h):
        r, g, b = to_rgb(h)
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    assert lum(c["FW_1.2"]) < lum(c["FW_0.6"])
    assert lum(c["BW_1.0"]) < lum(c["BW_0.8"]) < lum(c["BW_0.6"])
    assert condition_colours(["FW", "BW"]) == {"FW": FORWARD, "BW": BACKWARD}
    assert condition_colours(["FW_1.2"]) == {"FW_1.2": FORWARD}


def test_the_same_names_get_the_same_colours_whatever_the_order():
    names = ["turn", "straight", "FW_1.2", "BW_0.6"]
    assert condition_colours(names) == condition_colours(list(reversed(names))) == condition_colours(names * 2)
    others = condition_colours(["turn", "straight"])
    assert FORWARD not in others.values() and BACKWARD not in others.values()
    assert len(set(others.values())) == 2


def test_levels_match_the_dataset_conditions():
    conditions = ["straight", "turn", "stairs"]
    table = condition_colours(conditions)
    assert level_colours(["turn", "straight"], conditions) == [table["turn"], table["straight"]]
    assert level_colours(["BW", "FW"], ["BW_0.6", "FW_0.6"]) == [BACKWARD, FORWARD]
    speed = level_colours([1.0, 0.6], ["BW_0.6", "BW_1.0"])
    assert len(set(speed)) == 2 and not set(speed) & {FORWARD, BACKWARD}
