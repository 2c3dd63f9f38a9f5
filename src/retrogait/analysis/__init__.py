"""Stage 5, analysis: the statistics library applied to a run's tables.

Takes the combined measures, subject means and waveforms of every dataset
and the contrasts declared in config, and gives the run's result tables:
paired and mixed-model contrasts with multiplicity control
(:mod:`~retrogait.analysis.discrete`), SPM1D on waveforms
(:mod:`~retrogait.analysis.waveforms`), the meta-analysis with the
published literature (:mod:`~retrogait.analysis.literature`,
:mod:`~retrogait.analysis.meta`), the claims scorecard
(:mod:`~retrogait.analysis.claims`) and the balance of plausibility flags
between the levels of each contrast (:mod:`~retrogait.analysis.qc`). The
statistics themselves live in
:mod:`retrogait.stats`, which knows nothing of a run.
"""

from retrogait._lazy import lazy_exports

_EXPORTS = {
    "Contrast": "contrasts", "select_levels": "contrasts",
    "run_contrasts": "discrete",
    "spm_contrasts": "waveforms", "subject_curves": "waveforms",
    "read_literature": "literature", "literature_effects": "literature",
    "dataset_effects": "meta", "pool": "meta",
    "load_claims": "claims", "score": "claims",
    "plausibility_by_contrast": "qc",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
