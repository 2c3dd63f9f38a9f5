"""A validated run: config + manifest + adapters, resolved before anything runs.

The Snakemake workflow builds one :class:`Run` at parse time
(``workflow/rules/common.smk``) so that a typo in ``config.yaml`` or the
manifest, an unknown dataset id, a path outside the project, an unsafe
subject id, a contrast that matches no dataset or an adapter that cannot
plan its files stops the run with a clear message before any job starts.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from retrogait.ingest.adapters import Adapter, make_adapter
from retrogait.config import check_id, load_config, project_path
from retrogait.errors import ConfigError
from retrogait.acquire.manifest import DatasetSpec, RawFile, load_manifest

__all__ = ["Run", "load_run", "CONFIG_SCHEMA", "MANIFEST_SCHEMA", "CLAIMS_SCHEMA", "PROVENANCE"]

CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"
MANIFEST_SCHEMA = "workflow/schemas/datasets.schema.yaml"
CLAIMS_SCHEMA = "workflow/schemas/claims.schema.yaml"
#: Provenance record of one fetched subject (the fetch rule's output), relative to the working directory.
PROVENANCE = "data/raw/{dataset}/.provenance/{subject}.json"

#: Values a contrast level or filter may take, per trial column with a closed set of values.
_DOMAINS = {"direction": ("FW", "BW"), "surface": ("overground", "treadmill")}


@dataclass
class Run:
    """Everything a run needs to know before it starts."""

    root: Path
    config: dict[str, Any]
    manifest: dict[str, DatasetSpec]

    @property
    def datasets(self) -> list[str]:
        return list(self.config["datasets"])

    @property
    def external_folders(self) -> tuple[str, ...]:
        """Folders outside the project that config paths may point into (config key ``external_folders``)."""
        return tuple(self.config.get("external_folders") or ())

    def path(self, value: str | os.PathLike, *, key: str) -> Path:
        """A path named by config key ``key``, resolved and confined to the project
        (:func:`retrogait.config.project_path`)."""
        return project_path(value, root=self.root, key=key, allowed=self.external_folders)

    def spec(self, dataset: str) -> DatasetSpec:
        return self.manifest[dataset]

    def adapter(self, dataset: str) -> Adapter:
        return self._adapters[dataset]

    def _make_adapter(self, dataset: str) -> Adapter:
        opts = self.config.get("dataset_options", {})
        return make_adapter(self.manifest[dataset], options=opts.get(dataset), root=self.root,
                            external_folders=self.external_folders)

    @cached_property
    def _adapters(self) -> dict[str, Adapter]:
        return {d: self._make_adapter(d) for d in self.datasets}

    @cached_property
    def plan(self) -> dict[str, dict[str, list[RawFile]]]:
        """``{dataset: {subject: [RawFile, ...]}}`` for every dataset of the run.

        Subject ids become folder names (``data/processed/<dataset>/subjects/<subject>/``),
        so each must be a safe identifier (:data:`retrogait.config.SAFE_ID`).
        """
        out = {}
        for d in self.datasets:
            plan = self.adapter(d).plan()
            if not plan:
                raise ConfigError(f"dataset '{d}' has no subjects to analyse")
            for subject, files in plan.items():
                first = files[0].path if files else "?"
                check_id(subject, what=f"dataset '{d}': subject id (of file {first})")
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
        return load_claims(self.path(path, key="claims"), self.root / CLAIMS_SCHEMA, contrasts=st["contrasts"],
                           sesoi=st.get("sesoi", {}))

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
        return read_literature(self.path(path, key="meta_analysis.literature")) if path else None

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

    # -- declared identity of raw files ---------------------------------------
    def pinned_lock(self, dataset: str) -> Path | None:
        """The pinned members lock of an archive dataset (manifest ``archive.lock``), resolved, or None."""
        archive = self.spec(dataset).archive
        lock = archive.get("lock") if archive else None
        return self.path(lock, key=f"datasets.{dataset}.archive.lock") if lock else None

    @cached_property
    def _pinned_entries(self) -> dict[str, dict[str, Any]]:
        out = {}
        for d in self.datasets:
            path = self.pinned_lock(d)
            entries: dict[str, Any] = {}
            if path is not None and path.is_file():
                try:
                    entries = json.loads(path.read_text(encoding="utf-8")).get("members", {})
                except (OSError, ValueError, AttributeError):
                    entries = {"__unreadable__": str(path)}  # fetch reports it; the identity still changes
            out[d] = entries if isinstance(entries, dict) else {}
        return out

    def identity(self, dataset: str, subject: str) -> str:
        """sha256 of what the manifest declares about one subject's raw files.

        It covers every planned file's path, archive member, URL, size and
        sha256, the archive's URL, name and size and the pinned lock's
        entries for those members. The fetch rule takes it as a parameter
        and the provenance record stores it, so editing a declaration
        refetches the files and ingest refuses raw files fetched for another
        declaration.
        """
        spec = self.spec(dataset)
        files = self.plan[dataset][subject]
        decl: dict[str, Any] = {
            "dataset": dataset, "subject": subject,
            "files": [{"path": f.path, "member": f.member, "url": f.url, "size": f.size, "sha256": f.sha256}
                      for f in files]}
        if spec.archive:
            decl["archive"] = {k: spec.archive.get(k) for k in ("url", "name", "size", "lock")}
            pinned = self._pinned_entries.get(dataset, {})
            decl["pinned"] = {f.path: pinned.get(f.path) for f in files if f.path in pinned}
        text = json.dumps(decl, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    # -- contrasts against the planned design ------------------------------------
    def _design(self, dataset: str, adapter: Adapter | None = None):
        design = (adapter or self.adapter(dataset)).design()
        return None if design is None else design.assign(dataset=dataset)

    @cached_property
    def designs(self) -> dict[str, Any]:
        """``{dataset: planned trials}`` (:meth:`retrogait.ingest.adapters.base.Adapter.design`; None: unknown)."""
        return {d: self._design(d) for d in self.datasets}

    @cached_property
    def contrast_notes(self) -> dict[str, str]:
        """Contrasts that match no dataset of the run but were declared for others, with the reason.

        ``{contrast id: sentence}`` for the report's summary. A contrast that
        matches no dataset of the run and no other declared dataset is an
        error instead (:meth:`check_contrasts`).
        """
        from retrogait.analysis.contrasts import Contrast

        notes = {}
        for i, cfg in enumerate(self.config["stats"]["contrasts"]):
            key = f"stats.contrasts[{i}] (id '{cfg['id']}')"
            _check_contrast_values(cfg, key=key, dataset_ids=list(self.manifest))
            c = Contrast.from_config(cfg)
            designs = self.designs
            if any(design is None or _applies(design, c) for design in designs.values()):
                continue
            wanted = c.filter.get("dataset")
            declared = ([wanted] if isinstance(wanted, str) else list(wanted)) if wanted is not None else None
            if declared is not None and not set(declared) & set(self.datasets):
                notes[c.id] = (f"declared for dataset(s) {', '.join(map(str, declared))} (filter dataset), "
                               f"none of which is in this run ({', '.join(self.datasets)})")
                continue
            others = [d for d in self.manifest if d not in self.datasets
                      and (declared is None or d in declared) and self._other_applies(d, c)]
            if others:
                notes[c.id] = (f"no dataset of this run has both levels ({_present(designs, c)}); it applies to "
                               f"{', '.join(others)}, declared in the manifest but not in this run")
                continue
            raise ConfigError(
                f"config key {key}: {c.describe()} matches no dataset: no subject has trials at both levels "
                f"{list(c.levels)}. Levels present: {_present(designs, c)}. Fix the levels or filters, or "
                "remove the contrast.")
        return notes

    def _other_applies(self, dataset: str, contrast) -> bool:
        """Does ``contrast`` match a manifest dataset outside the run? (False when its design is unknown.)"""
        if dataset not in self._other_designs:      # planned once, however many contrasts ask
            try:
                self._other_designs[dataset] = self._design(dataset, self._make_adapter(dataset))
            except Exception:  # noqa: BLE001 - a broken entry of a dataset not in the run must not stop this run
                self._other_designs[dataset] = None
        design = self._other_designs[dataset]
        return design is not None and _applies(design, contrast)

    @cached_property
    def _other_designs(self) -> dict[str, Any]:
        """``{dataset outside the run: planned trials or None}``, filled by :meth:`_other_applies`."""
        return {}

    def check_contrasts(self) -> None:
        """Every configured contrast names valid levels and matches a dataset; raise :class:`ConfigError` if not."""
        self.contrast_notes  # noqa: B018 - raises on a contrast that matches nothing


def _check_contrast_values(cfg: Mapping[str, Any], *, key: str, dataset_ids: list[str]) -> None:
    """Levels and filter values must be values their column can take (``[bw, fw]`` is refused)."""
    factor = cfg.get("factor", "direction")

    def check(column: str, value: Any, where: str) -> None:
        if column in _DOMAINS and str(value) not in _DOMAINS[column]:
            raise ConfigError(f"config key {key}.{where}: {value!r} is not a {column} value; "
                              f"{column} is one of {list(_DOMAINS[column])} (case matters)")
        if column == "speed_mps":
            try:
                ok = not isinstance(value, bool) and math.isfinite(float(value)) and float(value) > 0
            except (TypeError, ValueError):
                ok = False
            if not ok:
                raise ConfigError(f"config key {key}.{where}: {value!r} is not a speed in m/s (a number > 0)")
        if column == "dataset" and str(value) not in dataset_ids:
            raise ConfigError(f"config key {key}.{where}: {value!r} is not a dataset of the manifest "
                              f"({', '.join(dataset_ids)})")

    levels = list(cfg["levels"])
    for j, level in enumerate(levels):
        check(factor, level, f"levels[{j}]")
    if str(levels[0]) == str(levels[1]):
        raise ConfigError(f"config key {key}.levels: the two levels are the same ({levels[0]!r})")

    def check_filter(flt: Mapping[str, Any], where: str) -> None:
        for column, want in flt.items():
            values = want if isinstance(want, list) else [want]
            for v in values:
                check(column, v, f"{where}.{column}")

    check_filter(cfg.get("filter") or {}, "filter")
    for lvl, flt in (cfg.get("level_filters") or {}).items():
        if str(lvl) not in [str(x) for x in levels]:
            raise ConfigError(f"config key {key}.level_filters: {lvl!r} is not one of the levels {levels}")
        check_filter(flt, f"level_filters.{lvl}")


def _applies(design, contrast) -> bool:
    """Does some subject of ``design`` (planned trials) have trials at both levels of ``contrast``?"""
    from retrogait.analysis.contrasts import select_levels

    if design.empty:
        return False
    sel = select_levels(design, contrast)
    if sel.empty:
        return False
    return bool((sel.groupby("subject")["level"].nunique() == 2).any())


def _present(designs: Mapping[str, Any], contrast) -> str:
    """The levels the run's datasets have, e.g. ``gt23: direction BW (speed_mps 0.6, 0.8, 1.0), FW (...)``."""
    columns = [contrast.factor]
    for flt in [contrast.filter, *contrast.level_filters.values()]:
        columns += [c for c in flt if c not in columns and c != "dataset"]
    parts = []
    for d, design in designs.items():
        if design is None or design.empty:
            parts.append(f"{d}: unknown")
            continue
        levels = []
        for value, grp in design.groupby(contrast.factor, sort=True, dropna=False):
            extra = [f"{c} {', '.join(_fmt(v) for v in sorted(set(grp[c].dropna()))) or 'not controlled'}"
                     for c in columns[1:] if c in grp.columns]
            levels.append(f"{_fmt(value)}" + (f" ({'; '.join(extra)})" if extra else ""))
        parts.append(f"{d}: {contrast.factor} " + ", ".join(levels))
    return "; ".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "not controlled" if math.isnan(value) else f"{value:g}"
    return str(value)


def load_run(config: Mapping[str, Any], *, root: str | os.PathLike = ".", eager: bool = True) -> Run:
    """Validate ``config`` and the manifest it names; fail early with clear messages.

    With ``eager`` (the workflow's parse time) the adapters' plans, subject
    ids, the contrasts against the planned design, the claims file and the
    literature table are checked now, before any job runs. A job passes
    ``eager=False``: the run was checked at parse time, and each of these is
    then built only if the job uses it (the claims check alone imports the
    whole statistics stack, seconds per job). Paths named by the config are
    confined to the project (or to ``external_folders``) in both cases.
    """
    root = Path(root)
    cfg = load_config(config, root / CONFIG_SCHEMA, source="config (config/config.yaml + --config)")
    external = tuple(cfg.get("external_folders") or ())
    manifest_path = project_path(cfg["manifest"], root=root, key="manifest", allowed=external)
    manifest = load_manifest(manifest_path, root / MANIFEST_SCHEMA)
    unknown = [d for d in cfg["datasets"] if d not in manifest]
    if unknown:
        raise ConfigError(f"config key 'datasets' names unknown dataset(s) {unknown}; "
                          f"the manifest {cfg['manifest']} declares: {sorted(manifest)}")
    run = Run(root=root, config=cfg, manifest=manifest)
    if not eager:
        return run
    run.plan  # noqa: B018 - adapters validate their options and files now
    for d in run.datasets:
        run.pinned_lock(d)  # confined to the project
    run.check_contrasts()
    run.claims  # noqa: B018 - claims refer to known measures and contrasts
    run.literature  # noqa: B018 - the literature table is well formed
    return run
