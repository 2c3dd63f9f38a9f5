"""Stage 2, ingest: each dataset's own format into canonical trials.

Takes one subject's verified raw files and gives canonical trials
(:class:`~retrogait.ingest.trial.Trial`: metadata such as direction, speed,
surface, mass and source checksums, and streams with explicit units and
rates), written as parquet tables under
``data/processed/<dataset>/subjects/<subject>/``. Each format is an adapter
registered by name (:mod:`retrogait.ingest.adapters`: ``c3d``, ``gt23``);
:mod:`~retrogait.ingest.units` converts every stream to SI on the way in.
"""

from retrogait._lazy import lazy_exports

_EXPORTS = {
    "Trial": "trial", "TrialMeta": "trial", "Stream": "trial", "read_subject": "trial",
    "write_subject": "trial",
    "Adapter": "adapters", "register": "adapters", "get_adapter": "adapters", "make_adapter": "adapters",
    "G": "units", "to_si": "units", "conversion_to_si": "units",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
