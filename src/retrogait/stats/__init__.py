"""Statistics for retrogait: paired effects, mixed models, TOST, SPM1D, meta-analysis.

Every public function returns a tidy pandas DataFrame (one row per test or
term, stable snake_case columns) or, for :func:`spm_paired`, an
:class:`SPMResult` holding such tables. Effects are always ``a − b`` (first
level minus reference). Nothing here imports snakemake.
"""

from retrogait._lazy import lazy_exports

# Public names -> defining module, imported on first use: the workflow's
# parse time validates claims with retrogait.stats.claims and must not pay
# for statsmodels and scipy.stats (see retrogait._lazy).
_EXPORTS = {
    "verdict": "claims", "adjusted_interval": "claims", "score_claims": "claims", "EXPECTED": "claims",
    "VERDICTS": "claims", "constant_difference_interval": "claims",
    "tost_paired": "equivalence",
    "POOLED_LABEL": "meta", "effect_from_paired": "meta", "random_effects": "meta", "smd_from_summary": "meta",
    "mixed_model": "mixed",
    "holm": "multiplicity", "sidak_alpha": "multiplicity",
    "cohens_dz_ci": "paired", "hedges_correction": "paired", "hedges_correction_approx": "paired",
    "paired_summary": "paired",
    "SPMResult": "waveforms", "spm_family": "waveforms", "spm_paired": "waveforms",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = [
    "paired_summary", "cohens_dz_ci", "hedges_correction", "hedges_correction_approx",
    "holm", "sidak_alpha",
    "mixed_model",
    "tost_paired",
    "SPMResult", "spm_paired", "spm_family",
    "smd_from_summary", "random_effects", "effect_from_paired", "POOLED_LABEL",
    "verdict", "adjusted_interval", "constant_difference_interval", "score_claims", "EXPECTED", "VERDICTS",
]
