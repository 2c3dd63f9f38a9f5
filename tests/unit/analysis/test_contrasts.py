"""Contrast selection: levels, filters, per-level filters and missing subjects."""

import pandas as pd
import pytest

from retrogait.analysis.contrasts import Contrast, select_levels, subject_level_pairs


@pytest.fixture
def rows():
    recs = []
    for subject in ("S1", "S2", "S3"):
        for direction, speed in (("FW", 0.6), ("FW", 1.2), ("BW", 0.6), ("BW", 1.0)):
            if subject == "S3" and direction == "BW":
                continue  # S3 never walked backward
            for cycle in range(2):
                recs.append({"subject": subject, "direction": direction, "speed_mps": speed,
                             "condition": f"{direction}_{speed}", "value": 10.0 * (direction == "BW") + speed + cycle})
    return pd.DataFrame(recs)


def test_matched_speed_contrast_selects_both_directions_at_0_6(rows):
    c = Contrast.from_config({"id": "m", "factor": "direction", "levels": ["BW", "FW"], "filter": {"speed_mps": 0.6}})
    sel = select_levels(rows, c)
    assert set(sel["speed_mps"]) == {0.6}
    assert set(sel.loc[sel["level"] == "a", "direction"]) == {"BW"}


def test_level_filters_pick_each_direction_at_its_own_speed(rows):
    c = Contrast.from_config({"id": "x", "factor": "direction", "levels": ["BW", "FW"],
                              "level_filters": {"BW": {"speed_mps": 1.0}, "FW": {"speed_mps": 1.2}}})
    sel = select_levels(rows, c)
    assert set(sel.loc[sel["level"] == "a", "speed_mps"]) == {1.0}
    assert set(sel.loc[sel["level"] == "b", "speed_mps"]) == {1.2}


def test_subject_means_pool_cycles_and_missing_subjects_are_reported(rows):
    c = Contrast.from_config({"id": "m", "factor": "direction", "levels": ["BW", "FW"], "filter": {"speed_mps": 0.6}})
    pairs, missing = subject_level_pairs(select_levels(rows, c))
    assert missing == ["S3"]
    assert list(pairs["subject"]) == ["S1", "S2"]
    assert pairs["a"].tolist() == pytest.approx([11.1, 11.1]) and pairs["b"].tolist() == pytest.approx([1.1, 1.1])
    assert pairs["n_a"].tolist() == [2, 2]


def test_speed_as_factor(rows):
    c = Contrast.from_config({"id": "s", "factor": "speed_mps", "levels": [1.0, 0.6], "filter": {"direction": "BW"}})
    sel = select_levels(rows, c)
    assert set(sel["direction"]) == {"BW"} and set(sel["level_value"]) == {"1.0", "0.6"}


def test_describe_is_readable():
    c = Contrast.from_config({"id": "m", "factor": "direction", "levels": ["BW", "FW"], "filter": {"speed_mps": 0.6},
                              "covariates": ["speed_mps"]})
    assert c.describe() == "direction: BW - FW; where speed_mps = 0.6; covariates: speed_mps"
