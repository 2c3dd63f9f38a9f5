"""A validated run: config + manifest + adapters, resolved before anything runs.

The Snakemake workflow builds one :class:`Run` at parse time
(``workflow/rules/common.smk``) so that a typo in ``config.yaml`` or the
manifest, an unknown dataset id or an adapter that cannot plan its files
stops the run with a clear message before any job starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from retrogait.ingest.adapters import Adapter, make_adapter
from retrogait.config import load_config
from retrogait.errors import ConfigError
from retrogait.acquire.manifest import DatasetSpec, RawFile, load_manifest

__all__ = ["Run", "load_run", "CONFIG_SCHEMA", "MANIFEST_SCHEMA", "CLAIMS_SCHEMA", "PROVENANCE"]

CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"
MANIFEST_SCHEMA = "workflow/schemas/datasets.schema.yaml"
CLAIMS_SCHEMA = "workflow/schemas/claims.schema.yaml"
#: Provenance record of one fetched subject (the fetch rule's output), relative to the working directory.
PROVENANCE = "data/raw/{dataset}/.provenance/{subject}.json"


@dataclass
class Run:
    """Everything a run needs to know before it starts."""

    root: Path
    config: dict[str, Any]
    manifest: dict[str, DatasetSpec]

    @property
    def datasets(self) -> list[str]:
        return list(self.config["datasets"])

    def spec(self, dataset: str) -> DatasetSpec:
        return self.manifest[dataset]

    def adapter(self, dataset: str) -> Adapter:
        return self._adapters[dataset]

    @cached_property
    def _adapters(self) -> dict[str, Adapter]:
        opts = self.config.get("dataset_options", {})
        return {d: make_adapter(self.manifest[d], options=opts.get(d), root=self.root) for d in self.datasets}

    @cached_property
    def plan(self) -> dict[str, dict[str, list[RawFile]]]:
        """``{dataset: {subject: [RawFile, ...]}}`` for every dataset of the run."""
        out = {}
        for d in self.datasets:
            plan = self.adapter(d).plan()
            if not plan:
                raise ConfigError(f"dataset '{d}' has no subjects to analyse")
            out[d] = plan
        return out

    @cached_property
    def claims(self):
        """The claims scorecard (:class:`retrogait.analysis.claims.Claims`), or None when not configured."""
        from retrogait.analysis.claims import load_claims

        path = self.config.get("claims")
        if not path:
            return None
        st = self.config["stats"]
        return load_claims(self.root / path, self.root / CLAIMS_SCHEMA,
                           contrast_ids=[c["id"] for c in st["contrasts"]], sesoi=st.get("sesoi", {}))

    @cached_property
    def literature(self):
        """The published summary table (:func:`retrogait.analysis.literature.read_literature`), or None.

        Raises :class:`ConfigError` when ``meta_analysis.contrasts`` names a
        contrast that is not configured.
        """
        from retrogait.analysis.literature import read_literature

        meta = self.config.get("meta_analysis", {})
        known = [c["id"] for c in self.config["stats"]["contrasts"]]
        unknown = [c for c in meta.get("contrasts", []) if c not in known]
        if unknown:
            raise ConfigError(f"config key 'meta_analysis.contrasts' names unknown contrast(s) {unknown}; "
                              f"stats.contrasts declares: {known}")
        path = meta.get("literature")
        return read_literature(self.root / path) if path else None

    def source_problem(self, *, workdir: str | os.PathLike = ".", environ: Mapping[str, str] = os.environ,
                       probe=None) -> str | None:
        """Check, before any job, that every file the run still has to fetch can be obtained.

        A subject whose provenance record (:data:`PROVENANCE`) exists is
        fetched already. For the others the mirror (when one is set) must
        hold the files, or else the datasets' hosts must answer
        (:func:`retrogait.acquire.preflight.check_sources`).

        Parameters
        ----------
        workdir : path, keyword-only
            The run's working directory (where ``data/raw`` is).
        environ : mapping, keyword-only
            Environment (``RETROGAIT_MIRROR``).
        probe : callable, keyword-only
            Replaces :func:`retrogait.acquire.preflight.probe_hosts` (tests).

        Returns
        -------
        str or None
            None when every dataset can be obtained; otherwise one short
            message naming each dataset that cannot, why, and the ways
            forward: a mirror, and ``DATASETS=`` with the declared datasets
            that can be obtained now.
        """
        from retrogait.acquire.fetch import resolve_mirror
        from retrogait.acquire.preflight import check_sources, probe_hosts, unavailable_message
        from retrogait.errors import FetchError, RetrogaitError

        try:
            mirror = resolve_mirror(self.config.get("mirror"), environ=environ)
        except FetchError as exc:
            return f"retrogait: stopped before any job: {exc}"
        kw = {"mirror": mirror, "probe": probe or probe_hosts}
        status = check_sources({d: self.manifest[d] for d in self.datasets},
                               {d: self._missing_files(d, self.plan[d], workdir) for d in self.datasets}, **kw)
        failed = [s for s in status.values() if not s.ok]
        if not failed:
            return None
        others, needed = {}, {}
        opts = self.config.get("dataset_options", {})
        for d, spec in self.manifest.items():
            if d in status:
                continue
            try:
                plan = make_adapter(spec, options=opts.get(d), root=self.root).plan()
            except (RetrogaitError, OSError, ValueError):  # a dataset that cannot even plan is not offered
                continue
            others[d], needed[d] = spec, self._missing_files(d, plan, workdir)
        status.update(check_sources(others, needed, **kw) if others else {})
        obtainable = [d for d in self.manifest if d in status and status[d].ok]
        return unavailable_message(failed, obtainable=obtainable, mirror=mirror)

    @staticmethod
    def _missing_files(dataset: str, plan: Mapping[str, list[RawFile]], workdir: str | os.PathLike) -> list[RawFile]:
        return [f for subject, files in plan.items()
                if not (Path(workdir) / PROVENANCE.format(dataset=dataset, subject=subject)).exists()
                for f in files]

    def subjects(self, dataset: str) -> list[str]:
        return sorted(self.plan[dataset])

    def pairs(self) -> list[tuple[str, str]]:
        """(dataset, subject) units of parallelism."""
        return [(d, s) for d in self.datasets for s in self.subjects(d)]


def load_run(config: Mapping[str, Any], *, root: str | os.PathLike = ".", eager: bool = True) -> Run:
    """Validate ``config`` and the manifest it names; fail early with clear messages.

    With ``eager`` (the workflow's parse time) the adapters' plans, the
    claims file and the literature table are checked now, before any job
    runs. A job passes ``eager=False``: the run was checked at parse time,
    and each of these is then built only if the job uses it (the claims
    check alone imports the whole statistics stack, seconds per job).
    """
    root = Path(root)
    cfg = load_config(config, root / CONFIG_SCHEMA, source="config (config/config.yaml + --config)")
    manifest = load_manifest(root / cfg["manifest"], root / MANIFEST_SCHEMA)
    unknown = [d for d in cfg["datasets"] if d not in manifest]
    if unknown:
        raise ConfigError(f"config key 'datasets' names unknown dataset(s) {unknown}; "
                          f"the manifest {cfg['manifest']} declares: {sorted(manifest)}")
    run = Run(root=root, config=cfg, manifest=manifest)
    if not eager:
        return run
    run.plan  # noqa: B018 - adapters validate their options and files now
    run.claims  # noqa: B018 - claims refer to known measures and contrasts
    run.literature  # noqa: B018 - the literature table is well formed
    return run
