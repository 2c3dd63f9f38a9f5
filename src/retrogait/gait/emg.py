"""Surface EMG: linear envelopes, channel quality, amplitude normalisation, co-contraction.

Processing follows docs/methods.md §5:

* :func:`emg_form` -- whether a channel holds raw EMG (bipolar about its
  median, broadband), rectified EMG (one-sided, broadband) or an envelope
  (smooth), so that an envelope is never band-passed (docs/methods.md §5.2).
* :func:`linear_envelope` -- for raw EMG: remove the mean, zero-lag Butterworth
  band-pass (default 20-450 Hz), full-wave rectification, zero-lag low-pass
  (default 6 Hz); for rectified EMG or an envelope: the low-pass only
  (docs/methods.md §5.2-5.3).
* :func:`channel_quality` -- one trial's metrics of a channel: saturation
  (clipped at the ADC rails), mains hum, the envelope's dynamic range.
  :func:`channel_repeatability` -- cycle-to-cycle repeatability of the
  envelope. :func:`subject_channel_quality` -- ONE decision per subject and
  channel from all its trials (flat = no dynamic range or no repeatable
  pattern; saturated; mains hum), so that a quiet condition does not lose its
  channels more often than a loud one (docs/methods.md §5.2).
  :func:`muscles_excluded` -- muscles excluded for every subject of a dataset.
  Every criterion is scale-free, so it works whatever the amplifier gain.
* :func:`normalisation_reference` and :func:`normalise` -- ONE amplitude
  reference per subject, side and muscle spanning all conditions, never per
  trial or per condition (CEDE rule, Besomi et al. 2020; docs/methods.md §5.4).
* :func:`co_contraction` and :func:`co_contraction_curve` -- Rudolph et al.
  (2000) and Falconer & Winter (1985) indices (docs/methods.md §5.6).

Units: raw EMG and envelopes in V; normalised envelopes in ``%ref``
(percent of the subject's reference); the Rudolph index has the unit of the
normalised envelopes, the Falconer & Winter index is a percentage.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from retrogait._lazy import lazy_module
from retrogait.config import dataclass_options
from retrogait.errors import ConfigError

# imported on first use (a job that only reads measures does not pay for scipy.signal)
integrate = lazy_module("scipy.integrate")
ndimage = lazy_module("scipy.ndimage")
signal = lazy_module("scipy.signal")

__all__ = [
    "EnvelopeParams",
    "QualityParams",
    "ChannelQuality",
    "EMG_FORMS",
    "emg_form",
    "design_filters",
    "linear_envelope",
    "channel_quality",
    "channel_repeatability",
    "QUALITY_COLUMNS",
    "subject_channel_quality",
    "muscles_excluded",
    "NORMALISATION_METHODS",
    "normalisation_reference",
    "normalise",
    "CO_CONTRACTION_METHODS",
    "co_contraction",
    "co_contraction_curve",
]


# --------------------------------------------------------------------------
# configuration helpers

def _build(cls: type, mapping: Mapping[str, Any] | None):
    kwargs = dataclass_options(cls, mapping)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{getattr(cls, '_section', cls.__name__)}: {exc}") from exc


def _positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return v


def _order(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= int(value) <= 8:
        raise ValueError(f"{name} must be an integer from 1 to 8, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------
# linear envelope

@dataclass(frozen=True)
class EnvelopeParams:
    """Parameters of the linear envelope (docs/methods.md §5.2-5.3).

    Parameters
    ----------
    band_hz
        Band-pass corners [Hz]. Default 20-450 Hz: SENIAM recommends a
        10-20 Hz high-pass and a low-pass near 500 Hz, ISEK 5-500 Hz; 20-450 Hz
        is the common hardware band (e.g. Delsys Trigno) and the 20 Hz corner
        suppresses movement artefact (De Luca et al. 2010, J Biomech 43:1573)
        (docs/methods.md §5.2).
    band_order
        Order passed to :func:`scipy.signal.butter` for the band-pass
        (default 4, as biomechZoo ``emgprocess_data``). A band-pass design of
        order N has N poles per skirt (scipy and MATLAB return a 2N-order
        filter), so each skirt rolls off at N x 20 dB/decade per pass.
    lowpass_hz
        Envelope low-pass cut-off [Hz]. Default 6 Hz, the pyCGM2 default;
        docs/methods.md §5.3 allows 4-10 Hz and asks for the same cut-off for every
        condition and muscle.
    lowpass_order
        Butterworth order of the envelope low-pass (default 2).
    remove_mean
        Subtract the mean before filtering (docs/methods.md §5.2).
    clip_negative
        Set envelope values below zero to zero. A Butterworth low-pass
        undershoots after sharp bursts (and after clipped samples), giving
        small negative "amplitudes" that have no meaning and break ratio
        indices such as Rudolph's co-contraction index. Clipping at zero keeps
        the envelope positively homogeneous (``envelope(c*x) = |c|*envelope(x)``).

    Notes
    -----
    Both filters are applied forwards and backwards
    (:func:`scipy.signal.sosfiltfilt`): zero phase lag, the magnitude
    response is squared, so the effective order doubles and the response at
    each nominal cut-off is -6 dB (amplitude 0.5) instead of -3 dB
    (docs/methods.md §5.2: "filtfilt doubles the effective order; report it").
    No cut-off correction for the double pass is applied.
    """

    _section: ClassVar[str] = "emg.envelope"

    band_hz: tuple[float, float] = (20.0, 450.0)
    band_order: int = 4
    lowpass_hz: float = 6.0
    lowpass_order: int = 2
    remove_mean: bool = True
    clip_negative: bool = True

    def __post_init__(self) -> None:
        band = self.band_hz
        if isinstance(band, (str, bytes)) or not hasattr(band, "__len__") or len(band) != 2:
            raise ValueError(f"band_hz must be two frequencies [low, high] in Hz, got {band!r}")
        lo, hi = _positive("band_hz[0]", band[0]), _positive("band_hz[1]", band[1])
        if not lo < hi:
            raise ValueError(f"band_hz must be increasing (low < high), got {list(band)!r}")
        object.__setattr__(self, "band_hz", (lo, hi))
        object.__setattr__(self, "band_order", _order("band_order", self.band_order))
        object.__setattr__(self, "lowpass_hz", _positive("lowpass_hz", self.lowpass_hz))
        object.__setattr__(self, "lowpass_order", _order("lowpass_order", self.lowpass_order))
        for name in ("remove_mean", "clip_negative"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false, got {getattr(self, name)!r}")

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None) -> "EnvelopeParams":
        """Build from the ``emg.envelope`` config section; unknown keys raise :class:`ConfigError`."""
        return _build(cls, mapping)

    def describe(self) -> str:
        """One-line description for the report."""
        lo, hi = self.band_hz
        return (f"mean removed: {self.remove_mean}; band-pass {lo:g}-{hi:g} Hz Butterworth order "
                f"{self.band_order} (zero-lag, applied forwards and backwards: effective order doubled, "
                f"-6 dB at the cut-offs); full-wave rectification; low-pass {self.lowpass_hz:g} Hz "
                f"Butterworth order {self.lowpass_order} (zero-lag, effective order "
                f"{2 * self.lowpass_order}); negative undershoot clipped: {self.clip_negative} "
                "(docs/methods.md §5.2-5.3)")


def design_filters(rate_hz: float, *, params: EnvelopeParams = EnvelopeParams()) -> tuple[np.ndarray, np.ndarray]:
    """Second-order sections of the envelope's band-pass and low-pass filters.

    Butterworth designs (:func:`scipy.signal.butter`, ``output="sos"``) as
    described in :class:`EnvelopeParams` (docs/methods.md §5.2-5.3). They are meant
    for :func:`scipy.signal.sosfiltfilt` (zero lag, squared magnitude).

    Parameters
    ----------
    rate_hz
        EMG sampling rate [Hz].
    params
        Envelope parameters.

    Returns
    -------
    band_sos, lowpass_sos
        Second-order sections of the band-pass and of the envelope low-pass.

    Raises
    ------
    ValueError
        If the sampling rate is not positive, or a cut-off is not below the
        Nyquist frequency. Surface EMG needs at least 1000 Hz sampling for a
        450-500 Hz band (biomechZoo refuses < 1000 Hz; docs/methods.md §5.2).
    """
    rate = _positive("rate_hz", rate_hz)
    nyquist = rate / 2.0
    lo, hi = params.band_hz
    if hi >= nyquist:
        raise ValueError(
            f"EMG sampled at {rate:g} Hz: the upper band-pass edge {hi:g} Hz must be below the Nyquist "
            f"frequency ({nyquist:g} Hz). Surface EMG for a 20-450 Hz band needs >= 1000 Hz sampling "
            "(biomechZoo refuses < 1000 Hz; docs/methods.md §5.2); lower emg.envelope.band_hz only knowingly.")
    if params.lowpass_hz >= nyquist:
        raise ValueError(f"envelope low-pass {params.lowpass_hz:g} Hz must be below the Nyquist frequency "
                         f"({nyquist:g} Hz) of EMG sampled at {rate:g} Hz")
    band, low = _butter_sos(rate, float(lo), float(hi), int(params.band_order), float(params.lowpass_hz),
                            int(params.lowpass_order))
    return band.copy(), low.copy()


@functools.lru_cache(maxsize=64)
def _butter_sos(rate: float, lo: float, hi: float, band_order: int, lowpass_hz: float,
                lowpass_order: int) -> tuple[np.ndarray, np.ndarray]:
    """Butterworth designs, cached: every channel of a dataset shares its rate and parameters."""
    band = signal.butter(band_order, [lo, hi], btype="bandpass", fs=rate, output="sos")
    low = signal.butter(lowpass_order, lowpass_hz, btype="lowpass", fs=rate, output="sos")
    return band, low


def _padlen(sos: np.ndarray) -> int:
    # the default padding of scipy.signal.sosfiltfilt
    return 3 * (2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum())))


def _nan_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) index pairs of the runs of True in ``mask`` (stop exclusive)."""
    if not mask.any():
        return []
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _as_signal(x: Any, name: str = "x") -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a one-dimensional signal, got shape {arr.shape}")
    return arr


def _fill_gaps(x: np.ndarray, rate: float, max_gap_s: float) -> np.ndarray:
    bad = ~np.isfinite(x)
    if not bad.any():
        return x
    runs = _nan_runs(bad)
    if bad.all():
        raise ValueError(f"EMG signal has no finite sample ({x.size} samples, all NaN/inf)")
    too_long = [(a, b) for a, b in runs if (b - a) / rate > max_gap_s]
    if too_long:
        a, b = too_long[0]
        more = f" and {len(too_long) - 1} more gap(s)" if len(too_long) > 1 else ""
        raise ValueError(
            f"EMG signal has non-finite samples {a}-{b - 1} (t = {a / rate:.4f}-{(b - 1) / rate:.4f} s from the "
            f"first sample, {b - a} samples){more}; gaps up to max_gap_s={max_gap_s:g} s are interpolated, "
            "longer ones must be cut out before computing the envelope")
    idx = np.arange(x.size)
    out = x.copy()
    out[bad] = np.interp(idx[bad], idx[~bad], x[~bad])  # linear inside, nearest value at the edges
    return out


#: What an EMG column can hold (:func:`emg_form`).
EMG_FORMS = ("raw", "rectified", "envelope")


def linear_envelope(x: np.ndarray, rate_hz: float, *, params: EnvelopeParams = EnvelopeParams(),
                    max_gap_s: float = 0.0, form: str = "raw") -> np.ndarray:
    """Linear envelope of a surface EMG signal (docs/methods.md §5.2-5.3).

    Raw EMG (``form="raw"``): remove the mean; zero-lag Butterworth
    band-pass; full-wave rectification (absolute value); zero-lag
    Butterworth low-pass; optional clipping of the low-pass undershoot at
    zero. This is the classical linear envelope (Winter; Visual3D: rectify =
    abs, then low-pass), with the SENIAM/ISEK band-pass and the pyCGM2 6 Hz
    default (see :class:`EnvelopeParams` for the references). Both filters run
    forwards and backwards, doubling the effective order.

    Already rectified EMG or an envelope (``form="rectified"`` /
    ``"envelope"``, see :func:`emg_form`): the same low-pass only, without
    mean removal or band-pass. Band-passing a rectified signal or an envelope
    would remove the very amplitude information it carries (its content lies
    below 20 Hz); the low-pass gives every condition and dataset the same
    cut-off (an envelope already smoother than it passes almost unchanged).

    Parameters
    ----------
    x
        EMG [V], one channel, uniformly sampled.
    rate_hz
        Sampling rate [Hz].
    params
        Filter parameters.
    max_gap_s
        Longest run of non-finite samples [s] that is filled by linear
        interpolation (nearest value at the signal's ends) before filtering;
        the filled samples then carry no activity. Default 0: any NaN raises.
    form
        One of :data:`EMG_FORMS`.

    Returns
    -------
    numpy.ndarray
        Envelope [V] (same unit as ``x``), same length as ``x``. The operation
        is positively homogeneous: ``envelope(c*x) == |c|*envelope(x)``.

    Raises
    ------
    ValueError
        If ``x`` is not one-dimensional, is too short for the zero-lag
        filters, holds a non-finite gap longer than ``max_gap_s`` (the message
        names the samples), a cut-off is not below the Nyquist frequency, or
        ``form`` is unknown.
    """
    return _envelope(x, rate_hz, params, max_gap_s, form)[1]


def _envelope(x: np.ndarray, rate_hz: float, params: EnvelopeParams, max_gap_s: float,
              form: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`linear_envelope` and the rectified signal it low-passed (band-passed first for raw EMG)."""
    x = _as_signal(x)
    rate = _positive("rate_hz", rate_hz)
    if form not in EMG_FORMS:
        raise ValueError(f"form must be one of {EMG_FORMS}, got {form!r}")
    if not (math.isfinite(max_gap_s) and max_gap_s >= 0):
        raise ValueError(f"max_gap_s must be >= 0, got {max_gap_s!r}")
    if form == "raw":
        band, low = design_filters(rate, params=params)
        need = max(_padlen(band), _padlen(low)) + 1
    else:
        low = _lowpass_sos(rate, params)
        band, need = None, _padlen(low) + 1
    if x.size < need:
        raise ValueError(f"EMG signal too short for the zero-lag filters: {x.size} samples "
                         f"({x.size / rate:.3f} s), need at least {need}")
    x = _fill_gaps(x, rate, max_gap_s)
    if band is not None:
        if params.remove_mean:
            x = x - x.mean()
        rectified = np.abs(signal.sosfiltfilt(band, x))
    else:
        rectified = np.abs(x)
    env = signal.sosfiltfilt(low, rectified)
    if params.clip_negative:
        env = np.maximum(env, 0.0)
    return rectified, env


def _lowpass_sos(rate: float, params: EnvelopeParams) -> np.ndarray:
    """The envelope low-pass alone (for rectified EMG and envelopes: no band-pass, no Nyquist limit of it)."""
    if params.lowpass_hz >= rate / 2.0:
        raise ValueError(f"envelope low-pass {params.lowpass_hz:g} Hz must be below the Nyquist frequency "
                         f"({rate / 2.0:g} Hz) of EMG sampled at {rate:g} Hz")
    return _butter_low(rate, float(params.lowpass_hz), int(params.lowpass_order)).copy()


@functools.lru_cache(maxsize=64)
def _butter_low(rate: float, lowpass_hz: float, order: int) -> np.ndarray:
    return signal.butter(order, lowpass_hz, btype="lowpass", fs=rate, output="sos")


# --------------------------------------------------------------------------
# channel quality

@dataclass(frozen=True)
class QualityParams:
    """Thresholds of the EMG channel QC (config section ``emg.quality``); every criterion is scale-free.

    A channel is judged once per subject from all its trials
    (:func:`subject_channel_quality`); :func:`channel_quality` gives one
    trial's metrics. Values were checked on the real biomechZoo ESMAC
    recordings (../shared/fixtures) and on the GT23 replica
    (tests/replica_gt23.py): unconnected spare channels and the low-amplitude
    left ESMAC channels (std ~4e-4 V, like the spares) have an envelope p95/p5
    of 1.5-4.5; channels with muscle activity have p95/p5 of 3.2-190
    (gaitalytics test_small.c3d: all 14 EMG channels pass).

    Parameters
    ----------
    padding_min_samples
        Leading and trailing runs of one repeated value at least this long are
        exporter padding (Vicon writes 0 V outside the analysed range) and are
        left out of every metric.
    edge_trim_s
        Envelope samples this close to either end [s] are left out of the
        dynamic range (filter start-up transients).
    min_dynamic_range
        ``flat`` when the envelope's ``p_high/p_low`` percentile ratio is
        below this in every trial of the subject (default 4): the envelope
        never rises clearly above its floor, i.e. no activity above the
        noise. On the ESMAC files, noise-only channels reach at most 3.9 and
        channels whose cycles repeat a pattern at least 4.4.
    dynamic_range_percentiles
        Percentiles (low, high) of that ratio (default 5 and 95).
    dynamic_range_window_s
        The ratio is taken on a moving-average envelope: a boxcar of this
        length (default 0.1 s) over the rectified (raw EMG: band-passed and
        rectified) signal. A boxcar of a non-negative signal never
        undershoots, whereas the clipped undershoot of the Butterworth
        envelope after a spike would put the floor at zero.
    min_repeatability
        ``flat`` when the envelope's cycle-to-cycle repeatability (median
        leave-one-out correlation of each cycle's time-normalised envelope
        with the mean of the trial's other cycles, averaged over trials
        weighted by cycles; :func:`channel_repeatability`) is below this
        (default 0.3): no activation pattern tied to the gait cycle. Noise
        envelopes give about 0 +/- 0.2; muscles with a pattern 0.6-0.95.
    min_repeatability_cycles
        Trials with fewer kept cycles do not enter the repeatability
        (default 5: with 3-4 cycles the leave-one-out correlation of a noise
        envelope spreads over -0.9..0.8 on the ESMAC files); with none,
        repeatability is not assessed and flatness rests on the dynamic range.
    max_floor_ratio
        The channel is excluded when its envelope floor (the low percentile)
        differs more than this factor between the subject's trials (default
        10): a changed gain or electrode, which makes amplitudes incomparable
        across conditions (one ESMAC channel jumps about 100-fold between its
        two trials; the GT23 replica's floors differ at most 2-fold).
    rail_tolerance
        A sample is "at a rail" when within this fraction of the channel's
        peak-to-peak range of its maximum or minimum (default 0.001 = 0.1 %).
        Rectified EMG and envelopes are one-sided: only the maximum is a rail.
    max_rail_fraction
        ``saturated`` when at least this fraction of samples of a trial is at
        a rail (default 0.005). Clipped ESMAC channels sit exactly at
        +/-1.25 V for 0.6-50 % of samples; unclipped ones have 1-3 samples
        (< 0.2 %) at their extremes.
    min_rail_samples
        ... and at least this many samples (default 5), so that short signals
        are not flagged by their single maximum and minimum.
    mains_hz
        Mains fundamentals tested (default 50 and 60 Hz); harmonics inside
        the envelope band are included.
    mains_halfwidth_hz
        Half-width of each mains line [Hz] (default 1).
    max_mains_fraction
        ``mains_hum`` when, in a trial, the power of the mains lines above the
        local spectral floor exceeds this fraction of the band power (default
        0.10). Raw EMG only.
    psd_resolution_hz
        Frequency resolution of the Welch spectra (default 0.5 Hz: segments
        of ``rate/0.5`` samples, Hann window, 50 % overlap; shorter signals use
        one segment of their own length).
    form_split_hz
        :func:`emg_form`: the share of the signal's variance above this
        frequency (default 20 Hz, the band-pass corner) tells broadband EMG
        from a smooth envelope.
    envelope_max_hf_fraction
        ... a channel with less than this share above ``form_split_hz``
        (default 0.05) is an envelope: raw surface EMG has almost all its power
        at 20-450 Hz, a linear envelope (4-10 Hz low-pass) almost none.
    rectified_max_symmetry
        ... a broadband channel whose ``(median - p0.5) / (p99.5 - p0.5)`` is
        below this (default 0.25) is one-sided: rectified. Raw EMG is bipolar
        about its median (about 0.5).
    """

    _section: ClassVar[str] = "emg.quality"

    padding_min_samples: int = 10
    edge_trim_s: float = 0.1
    min_dynamic_range: float = 4.0
    dynamic_range_percentiles: tuple[float, float] = (5.0, 95.0)
    dynamic_range_window_s: float = 0.1
    min_repeatability: float = 0.3
    min_repeatability_cycles: int = 5
    max_floor_ratio: float = 10.0
    rail_tolerance: float = 0.001
    max_rail_fraction: float = 0.005
    min_rail_samples: int = 5
    mains_hz: tuple[float, ...] = (50.0, 60.0)
    mains_halfwidth_hz: float = 1.0
    max_mains_fraction: float = 0.10
    psd_resolution_hz: float = 0.5
    form_split_hz: float = 20.0
    envelope_max_hf_fraction: float = 0.05
    rectified_max_symmetry: float = 0.25

    def __post_init__(self) -> None:
        for name in ("padding_min_samples", "min_rail_samples", "min_repeatability_cycles"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if not (isinstance(self.edge_trim_s, (int, float)) and self.edge_trim_s >= 0):
            raise ValueError(f"edge_trim_s must be >= 0, got {self.edge_trim_s!r}")
        _positive("min_dynamic_range", self.min_dynamic_range)
        if not (isinstance(self.max_floor_ratio, (int, float)) and self.max_floor_ratio > 1):
            raise ValueError(f"max_floor_ratio must be a number > 1, got {self.max_floor_ratio!r}")
        pl, ph = self.dynamic_range_percentiles
        if not 0 <= pl < ph <= 100:
            raise ValueError(f"dynamic_range_percentiles must satisfy 0 <= low < high <= 100, got "
                             f"{self.dynamic_range_percentiles!r}")
        object.__setattr__(self, "dynamic_range_percentiles", (float(pl), float(ph)))
        r = self.min_repeatability
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not -1 <= r < 1:
            raise ValueError(f"min_repeatability is a correlation and must be in [-1, 1), got {r!r}")
        for name in ("rail_tolerance", "max_rail_fraction", "max_mains_fraction", "envelope_max_hf_fraction",
                     "rectified_max_symmetry"):
            v = _positive(name, getattr(self, name))
            if v >= 1:
                raise ValueError(f"{name} is a fraction and must be < 1, got {v!r}")
        mains = tuple(_positive("mains_hz", f) for f in self.mains_hz)
        if not mains:
            raise ValueError("mains_hz must list at least one frequency")
        object.__setattr__(self, "mains_hz", mains)
        _positive("mains_halfwidth_hz", self.mains_halfwidth_hz)
        _positive("psd_resolution_hz", self.psd_resolution_hz)
        _positive("form_split_hz", self.form_split_hz)
        _positive("dynamic_range_window_s", self.dynamic_range_window_s)

    @classmethod
    def from_config(cls, mapping: Mapping[str, Any] | None) -> "QualityParams":
        """Build from an ``emg.quality`` config mapping; unknown keys raise :class:`ConfigError`."""
        mapping = dict(mapping or {})
        for key in ("dynamic_range_percentiles", "mains_hz"):
            if isinstance(mapping.get(key), list):
                mapping[key] = tuple(mapping[key])
        return _build(cls, mapping)


@dataclass
class ChannelQuality:
    """Result of :func:`channel_quality` (one trial).

    ``form`` is what the channel holds (:data:`EMG_FORMS`); ``reason`` is
    empty for a usable channel, otherwise it lists every failed criterion
    with its value and threshold. ``metrics`` holds the numbers behind the
    flags (see :func:`channel_quality`). ``flat`` here is the trial's own
    dynamic-range verdict; the decision that counts is the subject's
    (:func:`subject_channel_quality`).
    """

    flat: bool
    saturated: bool
    mains_hum: bool
    reason: str
    metrics: dict[str, float] = field(default_factory=dict)
    form: str = "raw"
    #: ``(start, stop)`` indices of the analysed stretch of the input: the
    #: longest finite run without leading/trailing exporter padding.
    core: tuple[int, int] = (0, 0)
    #: The linear envelope of that stretch (V), None when it is constant.
    envelope: np.ndarray | None = field(default=None, repr=False)
    #: The moving-average envelope behind ``dynamic_range`` (edge-trimmed), None when constant.
    dr_envelope: np.ndarray | None = field(default=None, repr=False)

    @property
    def usable(self) -> bool:
        """True when no criterion failed."""
        return not (self.flat or self.saturated or self.mains_hum)


def _strip_padding(x: np.ndarray, min_run: int) -> tuple[np.ndarray, int]:
    """Drop leading/trailing runs (>= min_run samples) of one repeated value."""
    n = x.size
    change = np.flatnonzero(np.diff(x) != 0)
    if change.size == 0:
        return x[:0], n
    start = int(change[0]) + 1 if change[0] + 1 >= min_run else 0
    tail = n - 1 - int(change[-1])  # length of the last constant run
    stop = int(change[-1]) + 1 if tail >= min_run else n
    return x[start:stop], n - (stop - start)


def _longest_finite_run(x: np.ndarray) -> np.ndarray:
    a, b = _longest_finite_span(x)
    return x[a:b]


def _longest_finite_span(x: np.ndarray) -> tuple[int, int]:
    runs = _nan_runs(np.isfinite(x))
    if not runs:
        return 0, 0
    return max(runs, key=lambda r: r[1] - r[0])


def _core_span(x: np.ndarray, min_run: int) -> tuple[int, int]:
    """Indices of the longest finite run without its leading/trailing padding (see :func:`_strip_padding`)."""
    a, b = _longest_finite_span(x)
    run = x[a:b]
    core, _ = _strip_padding(run, min_run)
    if core.size == 0:
        return a, a
    change = np.flatnonzero(np.diff(run) != 0)
    start = int(change[0]) + 1 if change[0] + 1 >= min_run else 0
    return a + start, a + start + core.size


def _mains_fraction(f: np.ndarray, p: np.ndarray, band: tuple[float, float], base_hz: float,
                    halfwidth: float, band_power: float) -> float:
    """Power of the mains lines above the local floor, as a fraction of the band power."""
    lo, hi = band
    excess = 0.0
    k = 1
    while k * base_hz <= hi:
        h = k * base_hz
        k += 1
        if h < lo:
            continue
        line = np.abs(f - h) <= halfwidth
        ring = (np.abs(f - h) >= 3 * halfwidth) & (np.abs(f - h) <= 3 * halfwidth + 8.0)
        if not line.any():
            continue
        floor = float(np.median(p[ring])) if ring.any() else 0.0
        excess += max(float(p[line].sum()) - floor * int(line.sum()), 0.0)
    return excess / band_power if band_power > 0 else 0.0


def _welch(x: np.ndarray, rate: float, params: QualityParams) -> tuple[np.ndarray, np.ndarray]:
    nper = min(x.size, int(round(rate / params.psd_resolution_hz)))
    return signal.welch(x - x.mean(), fs=rate, window="hann", nperseg=nper, detrend="constant")


def emg_form(x: np.ndarray, rate_hz: float, *, params: QualityParams = QualityParams()) -> tuple[str, dict[str, float]]:
    """What an EMG column holds: ``"raw"``, ``"rectified"`` or ``"envelope"`` (docs/methods.md §5.2).

    Raw surface EMG is broadband (almost all its power at 20-450 Hz) and
    bipolar about its median; full-wave rectified EMG is broadband and
    one-sided (it piles up just above zero); a linear envelope is smooth
    (low-passed at 4-10 Hz) whatever its distribution. So:

    * a signed channel (0.1th percentile below -5 % of the 0.1-99.9th
      percentile range) is ``"raw"``: rectified EMG and envelopes are >= 0;
    * else, share of the variance above ``form_split_hz`` below
      ``envelope_max_hf_fraction``: ``"envelope"``;
    * else ``(median - p0.5) / (p99.5 - p0.5)`` below
      ``rectified_max_symmetry``: ``"rectified"``;
    * else ``"raw"`` (raw EMG on a DC offset).

    The measures are scale-free. A constant or empty channel is reported as
    ``"raw"`` (nothing to tell; the QC calls it flat).

    Returns
    -------
    form, metrics
        ``metrics``: ``hf_fraction``, ``symmetry`` and ``non_negative`` (1/0).
    """
    raw = _as_signal(x)
    rate = _positive("rate_hz", rate_hz)
    core, _ = _strip_padding(_longest_finite_run(raw), params.padding_min_samples)
    form, metrics, _ = _form_of_core(core, rate, params)
    return form, metrics


def _form_of_core(core: np.ndarray, rate: float, params: QualityParams
                  ) -> tuple[str, dict[str, float], tuple[np.ndarray, np.ndarray] | None]:
    """:func:`emg_form` of the analysed stretch, and the Welch spectrum it used (None: too short or constant)."""
    if core.size < 16 or np.ptp(core) == 0:
        return "raw", {"hf_fraction": math.nan, "symmetry": math.nan, "non_negative": math.nan}, None
    f, p = _welch(core, rate, params)
    total = float(p[1:].sum())
    hf = float(p[f > params.form_split_hz].sum()) / total if total > 0 else math.nan
    p_min, lo, med, hi, p_max = np.percentile(core, [0.1, 0.5, 50.0, 99.5, 99.9])
    sym = float((med - lo) / (hi - lo)) if hi > lo else math.nan
    # rectified EMG and envelopes are >= 0 (an envelope may undershoot slightly after a low-pass)
    non_negative = bool(p_min >= -0.05 * (p_max - p_min))
    metrics = {"hf_fraction": hf, "symmetry": sym, "non_negative": float(non_negative)}
    if non_negative and math.isfinite(hf) and hf < params.envelope_max_hf_fraction:
        return "envelope", metrics, (f, p)
    if non_negative and math.isfinite(sym) and sym < params.rectified_max_symmetry:
        return "rectified", metrics, (f, p)
    return "raw", metrics, (f, p)


def channel_quality(x: np.ndarray, rate_hz: float, *, params: QualityParams = QualityParams(),
                    envelope: EnvelopeParams = EnvelopeParams(), form: str | None = None) -> ChannelQuality:
    """One trial's quality metrics of an EMG channel (docs/methods.md §5.2).

    Criteria (thresholds in :class:`QualityParams`):

    flat
        The channel is constant or empty; or its envelope never rises
        clearly above its floor (p95/p5 of the moving-average envelope below
        ``min_dynamic_range``). Scale-free: in the ESMAC files the left
        channels have the same ~4e-4 V standard deviation as unconnected spare
        channels while right channels have 0.02-0.12 V, so no absolute voltage
        threshold separates them across recordings. The spectrum is NOT a
        flatness criterion: a noise-like median frequency does not mean "no
        activity" when the envelope shows a clear activation pattern.
    saturated
        At least ``max_rail_fraction`` (and ``min_rail_samples``) of the
        samples lie within ``rail_tolerance`` x range of the maximum or the
        minimum (of the maximum only for rectified EMG and envelopes):
        repeated, equal extreme values of a clipping ADC (ESMAC channels clip
        at +/-1.25 V).
    mains_hum
        Raw EMG only: the 50/60 Hz lines and their harmonics inside the band,
        measured on a Welch spectrum as power above the local spectral floor
        (median of the bins from 3 half-widths to 3 half-widths + 8 Hz away
        from the line), hold more than ``max_mains_fraction`` of the band
        power. docs/methods.md §5.2 recommends a notch filter only when
        contamination is demonstrated; this is that demonstration.

    Non-finite samples: metrics use the longest finite stretch; leading and
    trailing padding (runs of one repeated value) are left out.

    Parameters
    ----------
    x
        EMG [V] of one channel.
    rate_hz
        Sampling rate [Hz].
    params
        Thresholds.
    envelope
        Envelope parameters (the band also bounds the spectral metrics).
    form
        What the channel holds (:data:`EMG_FORMS`); detected with
        :func:`emg_form` when None.

    Returns
    -------
    ChannelQuality
        ``metrics`` keys: ``n_samples``, ``padding_samples``, ``nan_samples``,
        ``std_v``, ``hf_fraction``, ``symmetry``, ``non_negative``,
        ``dynamic_range`` (p95/p5 of the moving-average envelope),
        ``median_frequency_hz`` (raw EMG; reported, not a criterion),
        ``rail_fraction``, ``rail_low_v``, ``rail_high_v``, ``mains_fraction``,
        ``mains_fraction_<f>hz`` per mains frequency, ``psd_resolution_hz``.
    """
    raw = _as_signal(x)
    rate = _positive("rate_hz", rate_hz)
    finite = _longest_finite_run(raw)
    core, padded = _strip_padding(finite, params.padding_min_samples)
    # the spectrum that tells the form is the one the mains and median-frequency metrics read (same stretch)
    detected, form_metrics, spectrum = _form_of_core(core, rate, params)
    form = detected if form is None else form
    if form not in EMG_FORMS:
        raise ValueError(f"form must be one of {EMG_FORMS}, got {form!r}")
    if form == "raw":
        band, _ = design_filters(rate, params=envelope)  # checks the Nyquist limit
    else:
        band = _lowpass_sos(rate, envelope)
    metrics: dict[str, float] = {"n_samples": float(raw.size), "nan_samples": float((~np.isfinite(raw)).sum()),
                                 **form_metrics}
    metrics["padding_samples"] = float(padded)
    span = _core_span(raw, params.padding_min_samples)

    if core.size == 0 or np.ptp(core) == 0:
        what = "no finite samples" if finite.size == 0 else "the signal is constant"
        metrics["std_v"] = 0.0
        return ChannelQuality(flat=True, saturated=False, mains_hum=False,
                              reason=f"flat: {what}", metrics=metrics, form=form, core=span)
    need = 2 * max(_padlen(band), 1) + 1
    if core.size < need:
        raise ValueError(f"EMG channel too short to judge its quality: {core.size} usable samples, "
                         f"need at least {need}")
    metrics["std_v"] = float(np.std(core))
    reasons: list[str] = []

    # saturation: repeated values at the extremes (one-sided signals: the maximum only)
    hi_v, lo_v = float(core.max()), float(core.min())
    tol = params.rail_tolerance * (hi_v - lo_v)
    n_rail = int((core >= hi_v - tol).sum() + ((core <= lo_v + tol).sum() if form == "raw" else 0))
    rail_fraction = n_rail / core.size
    metrics.update(rail_fraction=rail_fraction, rail_low_v=lo_v, rail_high_v=hi_v, rail_samples=float(n_rail))
    saturated = rail_fraction >= params.max_rail_fraction and n_rail >= params.min_rail_samples

    # spectrum of raw EMG: median frequency (reported) and mains lines
    mains_hum = False
    lo, hi = envelope.band_hz
    if form == "raw":
        f, p = spectrum  # set: the core here is long enough for the filters and not constant
        metrics["psd_resolution_hz"] = float(f[1] - f[0])
        in_band = (f >= lo) & (f <= hi)
        band_power = float(p[in_band].sum())
        if band_power > 0:
            cum = np.cumsum(p[in_band])
            mdf = float(f[in_band][np.searchsorted(cum, cum[-1] / 2.0)])
        else:
            mdf = float("nan")
        metrics["median_frequency_hz"] = mdf
        fractions = {base: _mains_fraction(f, p, envelope.band_hz, base, params.mains_halfwidth_hz, band_power)
                     for base in params.mains_hz}
        for base, frac in fractions.items():
            metrics[f"mains_fraction_{base:g}hz"] = frac
        worst = max(fractions, key=fractions.get)
        metrics["mains_fraction"] = fractions[worst]
        mains_hum = fractions[worst] > params.max_mains_fraction
    else:
        metrics.update(median_frequency_hz=math.nan, mains_fraction=math.nan, psd_resolution_hz=math.nan)

    # dynamic range of the moving-average envelope (a boxcar of the rectified signal never undershoots,
    # unlike the Butterworth envelope whose clipped undershoot after a spike would give a zero floor)
    rectified, full_env = _envelope(core, rate, envelope, 0.0, form)
    if form != "raw":
        rect = np.abs(core)
    elif envelope.remove_mean:  # the envelope's band-passed signal is this one: filtered once, not twice
        rect = rectified
    else:
        rect = np.abs(signal.sosfiltfilt(band, core - core.mean()))
    win = max(1, int(round(params.dynamic_range_window_s * rate)))
    mav = ndimage.uniform_filter1d(rect, size=win, mode="nearest")
    trim = int(round(params.edge_trim_s * rate))
    env = mav[trim:mav.size - trim] if mav.size - 2 * trim >= 10 else mav
    p_lo, p_hi = np.percentile(env, params.dynamic_range_percentiles)
    dyn = float(p_hi / p_lo) if p_lo > 0 else float("inf")
    metrics["dynamic_range"] = dyn

    flat = dyn < params.min_dynamic_range
    if flat:
        pl, ph = params.dynamic_range_percentiles
        reasons.append(f"flat: envelope p{ph:g}/p{pl:g} = {dyn:.2f} < {params.min_dynamic_range:g} "
                       "(no activity above the noise floor)")
    if saturated:
        reasons.append(f"saturated: {100 * rail_fraction:.2f} % of samples ({n_rail}) within "
                       f"{100 * params.rail_tolerance:g} % of the range of the extremes "
                       f"[{lo_v:.4g}, {hi_v:.4g}] V (limit {100 * params.max_rail_fraction:g} %)")
    if mains_hum:
        reasons.append(f"mains hum: the {worst:g} Hz lines and harmonics hold "
                       f"{100 * fractions[worst]:.1f} % of the {lo:g}-{hi:g} Hz power "
                       f"(limit {100 * params.max_mains_fraction:g} %)")
    return ChannelQuality(flat=bool(flat), saturated=bool(saturated), mains_hum=bool(mains_hum),
                          reason="; ".join(reasons), metrics=metrics, form=form, core=span, envelope=full_env,
                          dr_envelope=env)


def channel_repeatability(curves: np.ndarray) -> float:
    """Cycle-to-cycle repeatability of one channel's envelope in one trial.

    For each cycle, the Pearson correlation of its time-normalised envelope
    with the mean envelope of the other cycles (leave-one-out); the result is
    the median over cycles. A muscle activated in a pattern tied to the gait
    cycle gives 0.6-0.95; a noise floor's envelope about 0 (+/- 0.2).
    Scale-free. NaN with fewer than 3 cycles or constant curves.

    Parameters
    ----------
    curves
        Array ``(n_cycles, n_nodes)`` of envelopes (any unit), NaN-free rows.
    """
    c = np.asarray(curves, dtype=float)
    if c.ndim != 2:
        raise ValueError(f"curves must be a 2-D array (cycles x nodes), got shape {c.shape}")
    c = c[np.isfinite(c).all(axis=1)]
    n = c.shape[0]
    if n < 3:
        return math.nan
    total = c.sum(axis=0)
    r = []
    for i in range(n):
        other = (total - c[i]) / (n - 1)
        if np.ptp(c[i]) == 0 or np.ptp(other) == 0:
            continue
        r.append(float(np.corrcoef(c[i], other)[0, 1]))
    return float(np.median(r)) if r else math.nan


#: Columns of :func:`subject_channel_quality` (the ``emg_quality`` table).
QUALITY_COLUMNS = ["dataset", "subject", "side", "muscle", "channel", "form", "status", "flat", "saturated",
                   "mains_hum", "dynamic_range", "repeatability", "floor_ratio", "rail_fraction", "mains_fraction",
                   "median_frequency_hz", "n_trials", "n_cycles", "reason", "detail"]


def subject_channel_quality(trials: pd.DataFrame, envelopes: Mapping[str, Sequence[np.ndarray]],
                            curves: Mapping[str, Sequence[np.ndarray]], *,
                            params: QualityParams = QualityParams()) -> pd.DataFrame:
    """ONE QC decision per subject and EMG channel, from all its trials (docs/methods.md §5.2).

    Deciding per trial excludes a channel more often in the condition where
    the muscle is quiet (its envelope then shows less dynamic range), which
    biases the contrast. Here every criterion is judged once per subject and
    channel, and the channel is used or excluded in every trial alike:

    * ``flat``: the envelope's p95/p5 is below ``min_dynamic_range`` in
      EVERY trial (the largest over trials counts: a quiet condition cannot
      exclude a channel that shows activity elsewhere), or the cycle-to-cycle
      repeatability (:func:`channel_repeatability`, per trial with at least
      ``min_repeatability_cycles`` cycles, averaged weighted by cycles) is
      below ``min_repeatability``; or the channel is constant/empty in every
      trial.
    * the envelope's floor (p5) differs more than ``max_floor_ratio``-fold
      between trials: the gain or the electrode changed, so amplitudes (one
      reference per subject across conditions, §5.4) are not comparable.
    * ``saturated`` / ``mains_hum``: in any trial (a clipped or humming
      recording in one condition would bias that condition either way).
    * the channel holds different forms in different trials (raw in one,
      envelope in another), or cannot be processed in a trial (e.g. a rate
      too low for raw EMG): excluded.

    Parameters
    ----------
    trials
        One row per trial and channel: ``dataset``, ``subject``, ``trial``,
        ``side``, ``muscle``, ``channel``, ``form``, ``problem`` (text of a
        trial-level problem that prevents processing, else empty),
        ``constant`` (bool), ``saturated``, ``mains_hum`` (bool),
        ``rail_fraction``, ``mains_fraction``, ``median_frequency_hz``,
        ``n_samples``, ``reason`` (the trial's :class:`ChannelQuality` reason).
    envelopes
        Channel -> the trials' envelopes (edge-trimmed, one array per trial),
        for the dynamic range and the floor.
    curves
        Channel -> per trial, the ``(n_cycles, n_nodes)`` array of its kept
        cycles' envelopes, for the repeatability.
    params
        Thresholds.

    Returns
    -------
    pandas.DataFrame
        One row per channel, columns :data:`QUALITY_COLUMNS`: ``status``
        (``used``/``excluded``), the flags, pooled metrics, ``n_trials``,
        ``n_cycles``, ``reason`` (every failed criterion with value and
        threshold) and ``detail`` (per-trial metrics).
    """
    if trials.empty:
        return pd.DataFrame(columns=QUALITY_COLUMNS)
    rows = []
    pl, ph = params.dynamic_range_percentiles
    for channel, grp in trials.groupby("channel", sort=True):
        first = grp.iloc[0]
        reasons: list[str] = []
        forms = sorted(set(grp["form"]))
        problems = grp[grp["problem"].fillna("") != ""]
        if len(problems):
            reasons.append("; ".join(f"{r.trial}: {r.problem}" for r in problems.itertuples(index=False)))
        if len(forms) > 1:
            reasons.append("form differs between trials (" + ", ".join(
                f"{r.trial}: {r.form}" for r in grp.itertuples(index=False)) + ")")
        per_trial = [np.percentile(e, params.dynamic_range_percentiles) for e in envelopes.get(channel, [])
                     if e.size]
        dyns = [float(hi / lo) if lo > 0 else (math.inf if hi > 0 else math.nan) for lo, hi in per_trial]
        dyn = max((d for d in dyns if not math.isnan(d)), default=math.nan)
        floors = [float(lo) for lo, _ in per_trial if lo > 0]
        floor_ratio = max(floors) / min(floors) if len(floors) >= 2 else math.nan
        per_trial_rep, weights = [], []
        for c in curves.get(channel, []):
            c = np.asarray(c, dtype=float)
            if c.ndim == 2 and c.shape[0] >= params.min_repeatability_cycles:
                rep = channel_repeatability(c)
                if math.isfinite(rep):
                    per_trial_rep.append(rep)
                    weights.append(c.shape[0])
        rep = float(np.average(per_trial_rep, weights=weights)) if per_trial_rep else math.nan
        n_cycles = int(sum(np.asarray(c).shape[0] for c in curves.get(channel, []) if np.asarray(c).ndim == 2))
        flat_reasons = []
        if grp["constant"].all():
            flat_reasons.append("constant or empty in every trial")
        elif math.isfinite(dyn) and dyn < params.min_dynamic_range:
            flat_reasons.append(f"envelope p{ph:g}/p{pl:g} = {dyn:.2f} < {params.min_dynamic_range:g} in every trial "
                                "(no activity above the noise floor)")
        elif math.isfinite(rep) and rep < params.min_repeatability:
            flat_reasons.append(f"cycle-to-cycle repeatability r = {rep:.2f} < {params.min_repeatability:g} "
                                "(no activation pattern tied to the gait cycle)")
        flat = bool(flat_reasons)
        if flat:
            reasons.append("flat: " + "; ".join(flat_reasons))
        if math.isfinite(floor_ratio) and floor_ratio > params.max_floor_ratio:
            reasons.append(f"envelope floor (p{pl:g}) differs {floor_ratio:.1f}-fold between trials (limit "
                           f"{params.max_floor_ratio:g}): gain or electrode changed, amplitudes are not comparable "
                           "across conditions")
        saturated = bool(grp["saturated"].any())
        if saturated:
            bad = grp[grp["saturated"]]
            reasons.append("saturated in " + ", ".join(f"{r.trial} ({100 * r.rail_fraction:.2f} % of samples at the "
                                                        f"rails, limit {100 * params.max_rail_fraction:g} %)"
                                                        for r in bad.itertuples(index=False)))
        hum = bool(grp["mains_hum"].any())
        if hum:
            bad = grp[grp["mains_hum"]]
            reasons.append("mains hum in " + ", ".join(f"{r.trial} ({100 * r.mains_fraction:.1f} % of the band "
                                                       f"power, limit {100 * params.max_mains_fraction:g} %)"
                                                       for r in bad.itertuples(index=False)))
        if not per_trial_rep and not flat:
            note = f"repeatability not assessed (no trial with {params.min_repeatability_cycles}+ cycles)"
        else:
            note = ""
        detail = "; ".join(
            f"{r.trial}: {r.form}" + (f", rails {100 * r.rail_fraction:.2f} %" if math.isfinite(r.rail_fraction) else "")
            + (f", mains {100 * r.mains_fraction:.1f} %" if math.isfinite(r.mains_fraction) else "")
            + (f", {r.reason}" if r.reason else "")
            for r in grp.itertuples(index=False)) + (f"; {note}" if note else "")
        rows.append({
            "dataset": first["dataset"], "subject": first["subject"], "side": first["side"],
            "muscle": first["muscle"], "channel": channel, "form": forms[0] if len(forms) == 1 else "mixed",
            "status": "excluded" if reasons else "used", "flat": flat, "saturated": saturated, "mains_hum": hum,
            "dynamic_range": dyn, "repeatability": rep, "floor_ratio": floor_ratio,
            "rail_fraction": float(np.nanmax(grp["rail_fraction"])) if grp["rail_fraction"].notna().any() else math.nan,
            "mains_fraction": float(np.nanmax(grp["mains_fraction"])) if grp["mains_fraction"].notna().any()
            else math.nan,
            "median_frequency_hz": float(np.nanmedian(grp["median_frequency_hz"]))
            if grp["median_frequency_hz"].notna().any() else math.nan,
            "n_trials": int(len(grp)), "n_cycles": n_cycles, "reason": "; ".join(reasons), "detail": detail})
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS)


_REASON_CATEGORIES = (("flat", "flat"), ("saturated", "saturated"), ("mains hum", "mains hum"),
                      ("envelope floor", "gain changed"), ("form differs", "form differs"))


def _reason_category(reason: str) -> str:
    """The first criterion of a :func:`subject_channel_quality` reason, as a short category."""
    first = reason.split("; ")[0] if reason else ""
    return next((cat for prefix, cat in _REASON_CATEGORIES if first.startswith(prefix)),
                "not processable" if first else "unspecified")


def muscles_excluded(quality: pd.DataFrame) -> pd.DataFrame:
    """Per dataset and muscle: how many subjects have a usable channel of it (docs/methods.md §5.2).

    A muscle whose channels are excluded for every subject (``n_used == 0``)
    cannot be tested in that dataset: a claim that needs it is "not testable:
    all channels excluded by QC" with the reasons given here.

    Parameters
    ----------
    quality
        The ``emg_quality`` table (:func:`subject_channel_quality`), one or
        several datasets.

    Returns
    -------
    pandas.DataFrame
        ``dataset``, ``muscle``, ``n_subjects`` (subjects with a channel of
        it), ``n_used`` (subjects with at least one used channel, either
        side), ``all_excluded`` (bool) and ``reasons`` (the first failed
        criterion of each excluded channel, as a category: flat, saturated,
        mains hum, gain changed, form differs, not processable; with counts).
    """
    cols = ["dataset", "muscle", "n_subjects", "n_used", "all_excluded", "reasons"]
    if quality is None or quality.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for (dataset, muscle), grp in quality.groupby(["dataset", "muscle"], sort=True):
        used = grp.loc[grp["status"] == "used", "subject"].nunique()
        bad = grp.loc[grp["status"] != "used", "reason"].fillna("").map(_reason_category)
        counts = bad.value_counts()
        rows.append({"dataset": dataset, "muscle": muscle, "n_subjects": int(grp["subject"].nunique()),
                     "n_used": int(used), "all_excluded": bool(used == 0),
                     "reasons": ", ".join(f"{k} ({v} channels)" for k, v in sorted(counts.items()))})
    return pd.DataFrame(rows, columns=cols)


# --------------------------------------------------------------------------
# amplitude normalisation (one reference per subject, side and muscle)

#: Reference methods of :func:`normalisation_reference` (docs/methods.md §5.4).
NORMALISATION_METHODS: dict[str, str] = {
    "max_all_conditions": "largest peak of the condition-mean envelopes, over all conditions "
                          "(one reference spanning all conditions, not an ensemble of pooled cycles; "
                          "CEDE option 4, docs/methods.md §5.4 (iii))",
    "reference_condition_peak": "peak of the mean envelope in one named reference condition "
                                "(e.g. FW at a fixed speed; docs/methods.md §5.4 (ii))",
    "mvc": "maximal voluntary contraction amplitude per muscle from a table (CEDE options 1-2, "
           "docs/methods.md §5.4 (i))",
}

_ID = ["subject", "side", "muscle"]
_VALUE_COL = re.compile(r"^(pct|node)_\d{3}$")
# columns whose presence in a reference table means per-trial/per-condition references
_FORBIDDEN_REF_COLS = ("condition", "trial", "cycle", "direction")


def _value_columns(curves: pd.DataFrame) -> list[str]:
    cols = [c for c in curves.columns if isinstance(c, str) and _VALUE_COL.match(c)]
    if not cols:
        raise ValueError("curves need value columns pct_000 ... pct_100 (or node_000 ...); none found in "
                         f"{list(curves.columns)[:12]}")
    if len({c.split('_')[0] for c in cols}) > 1:
        raise ValueError("curves mix pct_### and node_### value columns")
    return cols


def _require(frame: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}; it has {list(frame.columns)[:15]}")


def _keys(curves: pd.DataFrame) -> list[str]:
    return (["dataset"] if "dataset" in curves.columns else []) + _ID


def _label(key: tuple, names: list[str]) -> str:
    return " ".join(f"{n}={v}" for n, v in zip(names, key))


def normalisation_reference(curves: pd.DataFrame, *, method: str, reference_condition: str | None = None,
                            mvc: pd.DataFrame | None = None) -> pd.DataFrame:
    """One amplitude reference per subject, side and muscle, spanning all conditions.

    The CEDE rule (Besomi et al. 2020, J Electromyogr Kinesiol 53:102438;
    https://cede.isek.org/definition/4; docs/methods.md §5.4): peak/mean
    normalisation "cannot use a separate maximum value for each task as this
    would remove any task difference in the amplitude". The reference is
    therefore computed once per subject, side and muscle (and dataset, when a
    ``dataset`` column is present) and applied to every condition and trial.

    Methods (``NORMALISATION_METHODS``):

    ``"max_all_conditions"``
        For each condition, average the envelope over all its cycles (node by
        node, NaN nodes skipped), take the peak of that mean curve; the reference is the largest
        of these peaks. Unit of the normalised data: % of the largest
        condition-mean peak.
    ``"reference_condition_peak"``
        Peak of the mean envelope in ``reference_condition`` (e.g. FW walking
        at a fixed speed: normalised data read as "% FW peak").
    ``"mvc"``
        ``mvc_v`` from the table ``mvc`` (columns ``subject``, ``side``,
        ``muscle``, ``mvc_v``; one row each): "% MVC".

    Parameters
    ----------
    curves
        One row per cycle: ``subject``, ``condition``, ``side``, ``muscle``
        and value columns ``pct_000`` ... ``pct_100`` holding the envelope
        [V]. Other columns are ignored.
    method
        One of :data:`NORMALISATION_METHODS`.
    reference_condition
        Condition label; required by, and only allowed with,
        ``"reference_condition_peak"``.
    mvc
        MVC table; required by, and only allowed with, ``"mvc"``.

    Returns
    -------
    pandas.DataFrame
        Columns ``[dataset,] subject, side, muscle, reference, method, detail``:
        ``reference`` in V (the unit of the curves), ``detail`` how it was
        obtained (which condition gave the maximum, condition peaks).

    Raises
    ------
    ValueError
        Unknown method, missing columns, a subject lacking the reference
        condition or an MVC row (the message names them), or a reference that
        is not a positive finite number.
    """
    if method not in NORMALISATION_METHODS:
        raise ValueError(f"unknown EMG normalisation method {method!r}; use one of {list(NORMALISATION_METHODS)}")
    if reference_condition is not None and method != "reference_condition_peak":
        raise ValueError(f"reference_condition={reference_condition!r} is only used with "
                         "method='reference_condition_peak'")
    if mvc is not None and method != "mvc":
        raise ValueError("an MVC table is only used with method='mvc'")
    if not isinstance(curves, pd.DataFrame):
        raise ValueError(f"curves must be a pandas DataFrame, got {type(curves).__name__}")
    _require(curves, _ID + ["condition"], "EMG curves table")
    cols = _value_columns(curves)
    keys = _keys(curves)
    out_cols = keys + ["reference", "method", "detail"]
    if curves.empty:
        return pd.DataFrame(columns=out_cols)
    values = curves[cols].apply(pd.to_numeric, errors="raise").to_numpy(dtype=float)
    if (values[np.isfinite(values)] < 0).any():
        raise ValueError("EMG envelope curves hold negative values; an envelope is >= 0 "
                         "(use linear_envelope with clip_negative=True)")

    rows: list[dict[str, Any]] = []
    if method == "mvc":
        if mvc is None:
            raise ValueError("method='mvc' needs the mvc table (subject, side, muscle, mvc_v)")
        _require(mvc, _ID + ["mvc_v"], "MVC table")
        dup = mvc.duplicated(_ID, keep=False)
        if dup.any():
            raise ValueError("MVC table has several rows for " +
                             ", ".join(sorted({_label(k, _ID) for k in mvc.loc[dup, _ID].itertuples(index=False)})))
        table = {tuple(r[:3]): r[3] for r in mvc[_ID + ["mvc_v"]].itertuples(index=False)}
        missing = []
        for key, _ in curves.groupby(keys, sort=True):
            ident = tuple(key[-3:])
            if ident not in table:
                missing.append(_label(key, keys))
                continue
            rows.append({**dict(zip(keys, key)), "reference": table[ident], "method": method,
                         "detail": "MVC amplitude from the MVC table"})
        if missing:
            raise ValueError(f"no MVC value for {len(missing)} subject/side/muscle: {', '.join(missing)}")
    else:
        frame = pd.DataFrame(values, columns=cols, index=curves.index)
        frame[keys + ["condition"]] = curves[keys + ["condition"]]
        mean_curves = frame.groupby(keys + ["condition"], sort=True)[cols].mean()
        peaks = mean_curves.max(axis=1, skipna=True)
        if method == "reference_condition_peak":
            if reference_condition is None:
                raise ValueError("method='reference_condition_peak' needs reference_condition "
                                 "(e.g. the FW condition at the reference speed)")
            missing = []
            for key, grp in peaks.groupby(level=list(range(len(keys))), sort=True):
                conds = grp.index.get_level_values("condition")
                if reference_condition not in set(conds):
                    missing.append(f"{_label(key, keys)} (has {sorted(map(str, set(conds)))})")
                    continue
                ref = float(grp.loc[tuple(key) + (reference_condition,)])
                rows.append({**dict(zip(keys, key)), "reference": ref, "method": method,
                             "detail": f"peak of the mean envelope in condition {reference_condition}"})
            if missing:
                raise ValueError(f"reference condition {reference_condition!r} missing for "
                                 f"{len(missing)} subject/side/muscle: {'; '.join(missing)}")
        else:
            for key, grp in peaks.groupby(level=list(range(len(keys))), sort=True):
                grp = grp.droplevel(list(range(len(keys))))
                best = grp.idxmax() if grp.notna().any() else None
                listing = ", ".join(f"{c}={v:.4g}" for c, v in grp.items())
                rows.append({**dict(zip(keys, key)),
                             "reference": float(grp.max()) if best is not None else float("nan"),
                             "method": method,
                             "detail": f"max over conditions of the condition-mean peak, from {best} "
                                       f"(peaks: {listing})"})
    out = pd.DataFrame(rows, columns=out_cols)
    bad = ~(np.isfinite(out["reference"].astype(float)) & (out["reference"].astype(float) > 0))
    if bad.any():
        raise ValueError("EMG reference is not a positive number for " +
                         ", ".join(f"{_label(tuple(r[:len(keys)]), keys)} (reference {r[len(keys)]!r})"
                                   for r in out.loc[bad, keys + ["reference"]].itertuples(index=False)))
    return out


def normalise(curves: pd.DataFrame, references: pd.DataFrame) -> pd.DataFrame:
    """Express envelope curves in percent of their subject's reference (unit ``%ref``).

    ``value_% = 100 * value_V / reference_V`` with one reference per subject,
    side and muscle (from :func:`normalisation_reference`), so ratios
    between conditions are unchanged (docs/methods.md §5.4).

    Parameters
    ----------
    curves
        Envelope curves [V]: ``subject``, ``side``, ``muscle``, value columns
        ``pct_000`` ...; other columns are kept. A ``unit`` column, if present,
        must be ``"V"`` (guards against normalising twice) and becomes ``"%ref"``.
    references
        Output of :func:`normalisation_reference`. A table with a
        ``condition``, ``trial``, ``cycle`` or ``direction`` column, or with
        several rows per subject, side and muscle, is refused: per-trial or
        per-condition references would remove the amplitude differences
        between conditions (CEDE; docs/methods.md §5.4).

    Returns
    -------
    pandas.DataFrame
        A copy of ``curves`` with the value columns in %ref and ``unit``
        set to ``"%ref"``.
    """
    if not isinstance(curves, pd.DataFrame) or not isinstance(references, pd.DataFrame):
        raise ValueError("curves and references must be pandas DataFrames")
    _require(curves, _ID, "EMG curves table")
    _require(references, _ID + ["reference"], "EMG reference table")
    forbidden = [c for c in _FORBIDDEN_REF_COLS if c in references.columns]
    if forbidden:
        raise ValueError(f"EMG reference table has column(s) {forbidden}: references must be one per subject, "
                         "side and muscle across all conditions, never per trial or condition (CEDE; docs/methods.md §5.4)")
    keys = ["dataset"] + _ID if "dataset" in curves.columns and "dataset" in references.columns else list(_ID)
    dup = references.duplicated(keys, keep=False)
    if dup.any():
        raise ValueError("EMG reference table has several references for " + ", ".join(
            sorted({_label(tuple(k), keys) for k in references.loc[dup, keys].itertuples(index=False)})) +
            "; there must be one per subject, side and muscle (CEDE; docs/methods.md §5.4)")
    if "unit" in curves.columns:
        units = set(curves["unit"].dropna().astype(str))
        if units - {"V"}:
            raise ValueError(f"EMG curves must be envelopes in V before normalisation, found unit(s) {sorted(units)}")
    cols = _value_columns(curves)
    ref = references[keys + ["reference"]].rename(columns={"reference": "__reference__"})
    merged = curves.merge(ref, on=keys, how="left", validate="many_to_one")
    merged.index = curves.index
    lacking = merged["__reference__"].isna()
    if lacking.any():
        missing = sorted({_label(tuple(k), keys) for k in merged.loc[lacking, keys].itertuples(index=False)})
        raise ValueError(f"no EMG reference for {len(missing)} subject/side/muscle: {', '.join(missing)}")
    r = merged["__reference__"].to_numpy(dtype=float)
    if not (np.isfinite(r) & (r > 0)).all():
        raise ValueError("EMG references must be positive finite numbers")
    scaled = pd.DataFrame(100.0 * curves[cols].to_numpy(dtype=float) / r[:, None], columns=cols, index=curves.index)
    out = pd.concat([curves.drop(columns=cols), scaled], axis=1)[list(curves.columns)]
    out = out.assign(unit="%ref")
    return out


# --------------------------------------------------------------------------
# co-contraction

#: Co-contraction indices (docs/methods.md §5.6).
CO_CONTRACTION_METHODS: dict[str, str] = {
    "rudolph": "Rudolph et al. 2000 (KSSTA 8:262): mean over the window of (low/high)*(low+high); "
               "unit of the normalised envelopes",
    "falconer_winter": "Falconer & Winter 1985 (Electromyogr Clin Neurophysiol 25:135): "
                       "100*2*integral(min)/integral(a+b); percent",
}


def _pair(a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"co-contraction needs two 1-D envelopes of equal length, got shapes {a.shape} and {b.shape}")
    if a.size < 2:
        raise ValueError("co-contraction needs at least 2 samples")
    for name, v in (("a", a), ("b", b)):
        if not np.isfinite(v).all():
            raise ValueError(f"envelope {name} has {int((~np.isfinite(v)).sum())} non-finite sample(s)")
        if (v < 0).any():
            raise ValueError(f"envelope {name} has negative values (min {v.min():.4g}); co-contraction needs "
                             "non-negative normalised envelopes")
    return a, b


def _check_method(method: str) -> None:
    if method not in CO_CONTRACTION_METHODS:
        raise ValueError(f"unknown co-contraction method {method!r}; use one of {list(CO_CONTRACTION_METHODS)}")


def co_contraction_curve(a: np.ndarray, b: np.ndarray, *, method: str = "rudolph") -> np.ndarray:
    """Pointwise co-contraction of two normalised envelopes (docs/methods.md §5.6).

    ``"rudolph"`` (Rudolph et al. 2000, KSSTA 8:262, as in biomechZoo
    ``cocontraction_line``): ``(low/high)*(low+high)`` with low/high the
    smaller/larger envelope at each sample; 0 where both are 0 (the limit of
    the formula). Unit: that of the envelopes (e.g. %ref, %MVC).

    ``"falconer_winter"`` (Falconer & Winter 1985): ``100*2*low/(low+high)``,
    percent; NaN where both envelopes are 0 (no limit exists).

    Both envelopes must use one common normalisation across conditions
    (docs/methods.md §5.4), otherwise the Rudolph magnitude is meaningless.
    """
    _check_method(method)
    a, b = _pair(a, b)
    low, high = np.minimum(a, b), np.maximum(a, b)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "rudolph":
            return np.where(high > 0, low / np.where(high > 0, high, 1.0) * (low + high), 0.0)
        total = low + high
        return np.where(total > 0, 200.0 * low / np.where(total > 0, total, 1.0), np.nan)


def co_contraction(a: np.ndarray, b: np.ndarray, *, method: str = "rudolph") -> float:
    """Co-contraction index of two normalised envelopes over a window (docs/methods.md §5.6).

    Parameters
    ----------
    a, b
        Non-negative envelopes of the two muscles (e.g. quadriceps and
        hamstrings) over the window, equally spaced in time (e.g. the 101-node
        stance curves), normalised with one reference per subject and muscle
        across conditions (docs/methods.md §5.4).
    method
        ``"rudolph"``: mean over the window of the pointwise Rudolph index
        ``(low/high)*(low+high)`` (Rudolph et al. 2000, KSSTA 8:262-269; same
        index in Rudolph et al. 2001; biomechZoo ``cocontraction_line``
        averages it). Unit: that of the envelopes (%ref, %MVC).
        ``"falconer_winter"``: ``100 * 2 * integral(min(a, b)) / integral(a + b)``
        (Falconer & Winter 1985, Electromyogr Clin Neurophysiol 25:135-149),
        trapezoidal integrals over the equally spaced samples; percent, from 0
        (no overlap) to 100 (identical envelopes).

    Returns
    -------
    float
        The index.

    Raises
    ------
    ValueError
        Unknown method, unequal lengths, non-finite or negative samples, or
        (Falconer & Winter) both envelopes zero over the whole window.
    """
    _check_method(method)
    a, b = _pair(a, b)
    if method == "rudolph":
        return float(np.mean(co_contraction_curve(a, b, method="rudolph")))
    common = integrate.trapezoid(np.minimum(a, b))
    total = integrate.trapezoid(a + b)
    if total <= 0:
        raise ValueError("Falconer & Winter co-contraction is undefined: both envelopes are zero over the window")
    return float(200.0 * common / total)
