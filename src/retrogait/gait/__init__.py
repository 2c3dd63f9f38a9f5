"""Stages 3-4, gait: cycles and the per-cycle measures.

Takes canonical trials and gives, per subject: gait events (force first, a
direction-aware kinematic fallback), QC'd cycles, time-normalised
waveforms, EMG linear envelopes normalised to one reference per subject and
muscle, knee-load curves (patellofemoral force and stress, adduction
moment), and the discrete measures of every cycle with their units
(:mod:`~retrogait.gait.catalog` says what each measure is).

Modules: events, emg, kneeload, plausibility (per-cycle and per-trial
rules), cycles (the per-subject chain), catalog and measures.
"""

from retrogait._lazy import lazy_exports

_EXPORTS = {
    "find_cycles": "events", "EventParams": "events",
    "linear_envelope": "emg", "EnvelopeParams": "emg",
    "PFJModel": "kneeload", "pfj_load": "kneeload",
    "CycleSettings": "cycles", "process_subject": "cycles", "time_normalise": "cycles",
    "Measure": "catalog", "MEASURES": "catalog", "describe": "catalog",
    "subject_measures": "measures", "subject_means": "measures",
    "check_cycle": "plausibility", "check_trial_scale": "plausibility", "flag_cycle": "plausibility",
    "flag_counts": "plausibility", "TIES": "catalog",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
