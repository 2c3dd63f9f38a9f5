"""Stages 6-7, figures and report: what a reader sees.

Takes the run's tables and gives the figures (waveforms by condition,
SPM1D clusters, paired subject plots, QC overview, forest plots) and one
self-contained HTML report (:mod:`~retrogait.report.sections` builds its
sections from the tables, :mod:`~retrogait.report.render` renders them with
Jinja2, :mod:`~retrogait.report.references` holds every citation).
"""

from retrogait._lazy import lazy_exports

_EXPORTS = {
    "plot_waveforms": "figures", "plot_paired": "figures", "plot_qc": "figures", "save": "figures",
    "plot_contrast_waveforms": "spm_figures", "plot_forest": "forest",
    "build_sections": "sections", "render_report": "render", "software_versions": "render",
    "bibliography": "references", "REFERENCES": "references",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
