"""Unit conversion: known factors, normalisation of spellings, moments per kg."""

import numpy as np
import pytest

from retrogait.ingest.units import G, conversion_to_si, moment_to_per_kg, normalise_unit, to_si


@pytest.mark.parametrize("raw, canonical", [
    ("Nmm", "N.mm"), ("N·mm/kg", "N.mm/kg"), ("Nmm/kg", "N.mm/kg"), ("N.m/kg", "N.m/kg"),
    ("mm", "mm"), ("degrees", "deg"), ("mV", "mV"), ("µV", "uV"), (" V ", "V")])
def test_spellings_are_normalised(raw, canonical):
    assert normalise_unit(raw) == canonical


def test_unknown_unit_is_an_error_listing_known_units():
    with pytest.raises(ValueError, match="unknown unit 'furlong'"):
        normalise_unit("furlong")


def test_plug_in_gait_moment_n_mm_per_kg_to_n_m_per_kg():
    # Plug-in Gait reports 500 N.mm/kg for a 0.5 N.m/kg knee extensor moment
    values, unit = to_si(np.array([500.0, -250.0]), "Nmm/kg")
    assert unit == "N.m/kg"
    np.testing.assert_allclose(values, [0.5, -0.25])


def test_absolute_moment_is_divided_by_body_mass():
    np.testing.assert_allclose(moment_to_per_kg(np.array([35000.0]), "N.mm", 70.0), [0.5])
    np.testing.assert_allclose(moment_to_per_kg(np.array([0.5]), "N.m/kg", None), [0.5])


def test_absolute_moment_without_mass_is_refused():
    with pytest.raises(ValueError, match="positive body mass"):
        moment_to_per_kg(np.array([1.0]), "N.m", float("nan"))


def test_lengths_angles_and_voltages():
    assert conversion_to_si("mm").factor == pytest.approx(1e-3)
    np.testing.assert_allclose(to_si(np.array([np.pi]), "rad")[0], [180.0])
    assert to_si(np.array([2.0]), "mV") == (pytest.approx(np.array([2e-3])), "V")


def test_gravity_constant_of_methods_md():
    assert G == 9.81
