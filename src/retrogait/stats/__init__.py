"""Statistics for retrogait: paired effects, mixed models, TOST, SPM1D, meta-analysis.

Every public function returns a tidy pandas DataFrame (one row per test or
term, stable snake_case columns) or, for :func:`spm_paired`, an
:class:`SPMResult` holding such tables. Effects are always ``a − b`` (first
level minus reference). Nothing here imports snakemake.
"""

from retrogait.stats.claims import EXPECTED, VERDICTS, adjusted_interval, constant_difference_interval, score_claims, verdict
from retrogait.stats.equivalence import tost_paired
from retrogait.stats.meta import POOLED_LABEL, effect_from_paired, random_effects, smd_from_summary
from retrogait.stats.mixed import mixed_model
from retrogait.stats.multiplicity import holm, sidak_alpha
from retrogait.stats.paired import cohens_dz_ci, hedges_correction, hedges_correction_approx, paired_summary
from retrogait.stats.waveforms import SPMResult, spm_family, spm_paired

__all__ = [
    "paired_summary", "cohens_dz_ci", "hedges_correction", "hedges_correction_approx",
    "holm", "sidak_alpha",
    "mixed_model",
    "tost_paired",
    "SPMResult", "spm_paired", "spm_family",
    "smd_from_summary", "random_effects", "effect_from_paired", "POOLED_LABEL",
    "verdict", "adjusted_interval", "constant_difference_interval", "score_claims", "EXPECTED", "VERDICTS",
]
