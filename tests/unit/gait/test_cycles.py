"""Time normalisation to 101 nodes: known answers and honest gaps."""

import numpy as np
import pytest

from retrogait.gait.cycles import node_columns, time_normalise


def test_linear_signal_is_reproduced_exactly():
    t = np.arange(0, 2.0001, 0.01)
    y = 3.0 * t + 1.0
    out = time_normalise(t, y, 0.5, 1.5)
    np.testing.assert_allclose(out, 3.0 * np.linspace(0.5, 1.5, 101) + 1.0)


def test_sine_cycle_nodes_match_the_analytic_curve():
    t = np.arange(0, 1.0001, 0.001)
    y = np.sin(2 * np.pi * t)
    out = time_normalise(t, y, 0.0, 1.0)
    np.testing.assert_allclose(out, np.sin(2 * np.pi * np.linspace(0, 1, 101)), atol=1e-5)
    assert out.shape == (101,)


def test_node_columns_are_percent_labels():
    cols = node_columns(101)
    assert cols[0] == "pct_000" and cols[50] == "pct_050" and cols[-1] == "pct_100" and len(cols) == 101


def test_gap_in_data_gives_nan_nodes_not_invented_values():
    t = np.arange(0, 1.0001, 0.01)
    y = t.copy()
    y[40:60] = np.nan  # 0.2 s gap
    out = time_normalise(t, y, 0.0, 1.0)
    assert np.isnan(out[45:55]).all()
    assert np.isfinite(out[:38]).all() and np.isfinite(out[62:]).all()


def test_window_beyond_the_data_is_nan():
    t = np.arange(0, 1.0001, 0.01)
    out = time_normalise(t, t, 0.5, 1.5)
    assert np.isfinite(out[:50]).all() and np.isnan(out[60:]).all()


def test_single_missing_sample_is_bridged():
    t = np.arange(0, 1.0001, 0.01)
    y = t.copy()
    y[50] = np.nan
    np.testing.assert_allclose(time_normalise(t, y, 0.0, 1.0), np.linspace(0, 1, 101), atol=1e-12)


def test_bad_window_is_an_error():
    with pytest.raises(ValueError, match="must be after"):
        time_normalise(np.arange(3.0), np.arange(3.0), 1.0, 1.0)
