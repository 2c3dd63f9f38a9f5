"""Stage 1, acquire: what a dataset is and getting its bytes.

Takes the dataset manifest (``config/datasets.yaml``: every file's URL at a
fixed commit, size and sha256, or an archive's members) and gives verified
raw files under ``data/raw/<dataset>/`` with a provenance record each, from
the network, a ``file://`` URL or a local mirror; members of a remote ZIP
archive are read with HTTP range requests.

Modules: :mod:`~retrogait.acquire.manifest` (the manifest and its file
records), :mod:`~retrogait.acquire.fetch` (checksum-verified downloads and
mirror copies), :mod:`~retrogait.acquire.archive` (ranged ZIP member fetch),
:mod:`~retrogait.acquire.refetch` (forget a subject's raw files so the next
run fetches them again).
"""

from retrogait._lazy import lazy_exports

_EXPORTS = {
    "RawFile": "manifest", "DatasetSpec": "manifest", "load_manifest": "manifest",
    "fetch_files": "fetch", "resolve_mirror": "fetch", "MIRROR_ENV": "fetch",
    "fetch_members": "archive", "read_index": "archive",
    "forget_subject": "refetch", "refetch_hint": "refetch",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
