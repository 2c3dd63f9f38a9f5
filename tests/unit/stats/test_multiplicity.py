"""Holm and Šidák against hand-worked examples."""

from __future__ import annotations

import numpy as np
import pytest

from retrogait.stats import holm, sidak_alpha


def test_holm_hand_worked_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone max 0.06
    p = [0.01, 0.04, 0.03, 0.005]
    np.testing.assert_allclose(holm(p), [0.03, 0.06, 0.06, 0.02])


def test_holm_caps_at_one_and_keeps_order():
    np.testing.assert_allclose(holm([0.5, 0.2, 0.9]), [1.0, 0.6, 1.0])


def test_holm_nan_stays_nan_and_does_not_count_in_m():
    # m = 3 non-NaN tests: 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 -> 0.06
    out = holm([0.01, np.nan, 0.04, 0.03])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2, 3]], [0.03, 0.06, 0.06])
    assert np.isnan(holm([np.nan, np.nan])).all()


def test_holm_rejects_invalid_p():
    with pytest.raises(ValueError, match=r"\[0, 1\].*positions \[1\]"):
        holm([0.1, 1.2])
    with pytest.raises(ValueError, match="1-D"):
        holm([[0.1, 0.2]])


def test_sidak_alpha():
    assert sidak_alpha(0.05, 1) == pytest.approx(0.05)
    assert sidak_alpha(0.05, 4) == pytest.approx(1 - 0.95 ** 0.25)
    assert sidak_alpha(0.05, 4) == pytest.approx(0.0127414550985662)
    # Šidák is slightly less strict than Bonferroni
    assert 0.05 / 10 < sidak_alpha(0.05, 10) < 0.05
    with pytest.raises(ValueError, match="m must be an integer >= 1"):
        sidak_alpha(0.05, 0)
    with pytest.raises(ValueError, match="alpha"):
        sidak_alpha(1.0, 3)
