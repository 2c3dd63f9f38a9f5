"""Entry points of the workflow's stages.

Each function is what one Snakemake job does; the scripts in
``workflow/scripts/`` only translate ``snakemake.input/output/params`` into a
call of one of these. They take plain paths and the run config, so they are
testable without Snakemake.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from retrogait.errors import DataError
from retrogait.io import read_parquet, write_json
from retrogait.runconfig import load_run
from retrogait.ingest.trial import read_subject, write_subject

__all__ = [
    "fetch_subject",
    "ingest_subject",
    "cycles_subject",
    "combine_dataset",
    "stats_run",
    "spm_run",
    "qc_exclusions",
    "verify_raw_files",
    "figures_dataset",
    "spm_figures_dataset",
    "report_run",
]

log = logging.getLogger("retrogait.stages")

# Tables written by :func:`stats_run`, in order (documented in docs/tables.md).
STATS_TABLES = ("contrasts", "exclusions", "claims", "qc_plausibility", "qc_plausibility_contrasts")
# Tables written by :func:`spm_run`: a job of its own, so the figures (which need only these) are drawn
# while the mixed models are fitted.
SPM_TABLES = ("waveform_spm", "waveform_clusters")


def _spm_domains() -> dict[str, str]:
    """Waveforms tested by SPM1D and their domains: the library defaults plus PFJ force over stance
    (the compressive load the main question is about)."""
    from retrogait.analysis.waveforms import DEFAULT_DOMAINS

    return {**DEFAULT_DOMAINS, "pfj_force": "stance"}


def fetch_subject(config: Mapping[str, Any], *, dataset: str, subject: str, output: str | os.PathLike,
                  root: str | os.PathLike = ".", environ: Mapping[str, str] = os.environ) -> list[dict]:
    """Obtain one subject's raw files into ``data/raw/<dataset>/`` and record provenance.

    ``output`` is the provenance JSON, ``data/raw/<dataset>/.provenance/<subject>.json``;
    the files go next to it, in ``data/raw/<dataset>/``.
    """
    from retrogait.acquire.fetch import fetch_files, resolve_mirror

    run = load_run(config, root=root, eager=False)
    spec = run.spec(dataset)
    files = run.plan[dataset][subject]
    dest = Path(output).parent.parent
    fcfg = run.config["fetch"]
    mirror = resolve_mirror(run.config.get("mirror"), environ=environ)
    log.info("fetching %d file(s) of %s/%s into %s (%s)", len(files), dataset, subject, dest,
             f"mirror {mirror}" if mirror else "network")
    common = dict(mirror=mirror, retries=fcfg["retries"], backoff_s=fcfg["backoff_s"],
                  timeout_s=fcfg["timeout_s"], progress=fcfg["progress"], logger=log)
    if spec.archive:
        from retrogait.acquire.archive import fetch_members

        records = fetch_members(dataset, spec.archive["url"], spec.archive["name"], files, dest,
                                pinned_lock=run.pinned_lock(dataset), archive_size=spec.archive.get("size"),
                                parallel=fcfg["parallel"], allow_full_download=fcfg["allow_full_download"],
                                **common)
    else:
        records = fetch_files(dataset, files, dest, **common)
    # the declared identity this fetch satisfied: ingest refuses a record made for another declaration
    write_json({"dataset": dataset, "subject": subject, "identity": run.identity(dataset, subject),
                "files": records}, output)
    return records


def verify_raw_files(run, *, dataset: str, subject: str, provenance: str | os.PathLike) -> dict[str, str]:
    """Check one subject's raw files against the manifest and the fetch record, before anything reads them.

    * The provenance record was written for the manifest's current
      declaration of these files (:meth:`retrogait.runconfig.Run.identity`).
    * Every planned file is in the record and on disk, and its bytes match
      the size and sha256 the manifest declares (when declared) and the
      sha256 recorded at fetch time.

    Returns
    -------
    dict
        ``{path: sha256}`` of the planned files.

    Raises
    ------
    DataError
        Naming the dataset, subject and file, what differs, and how to
        refetch (:func:`retrogait.acquire.refetch.refetch_hint`).
    """
    import json

    from retrogait.acquire.refetch import refetch_hint
    from retrogait.io import sha256_file

    loc = dict(dataset=dataset, subject=subject)
    hint = refetch_hint(dataset, subject)
    try:
        record = json.loads(Path(provenance).read_text(encoding="utf-8"))
        fetched = {r["path"]: r for r in record["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        raise DataError(f"provenance record {provenance} is unreadable. {hint}", **loc) from None
    if record.get("identity") != run.identity(dataset, subject):
        raise DataError(f"the raw files were fetched for another declaration of this subject's files than the "
                        f"manifest's current one (URLs, sizes, checksums or archive; record {provenance}). "
                        f"Snakemake refetches them when the declaration changes unless --rerun-triggers "
                        f"leaves out params. {hint}", **loc)
    raw_dir = Path(provenance).parent.parent
    out = {}
    for f in run.plan[dataset][subject]:
        rec = fetched.get(f.path)
        target = raw_dir / f.path
        if rec is None:
            raise DataError(f"{f.path} is not in the provenance record {provenance}. {hint}", **loc, file=f.path)
        if not target.is_file():
            raise DataError(f"raw file {target} is missing. {hint}", **loc, file=f.path)
        size, sha = target.stat().st_size, sha256_file(target)
        if f.sha256 is not None and sha != f.sha256:
            raise DataError(f"raw file {f.path} does not match the manifest: sha256 {sha}, the manifest declares "
                            f"{f.sha256}. {hint}", **loc, file=f.path)
        if f.size is not None and size != f.size:
            raise DataError(f"raw file {f.path} does not match the manifest: {size} bytes, the manifest declares "
                            f"{f.size}. {hint}", **loc, file=f.path)
        if sha != rec.get("sha256"):
            raise DataError(f"raw file {f.path} changed after it was fetched: sha256 {sha}, fetched "
                            f"{rec.get('sha256')}. {hint}", **loc, file=f.path)
        out[f.path] = sha
    return out


def ingest_subject(config: Mapping[str, Any], *, dataset: str, subject: str,
                   provenance: str | os.PathLike, outputs: Sequence[str | os.PathLike],
                   root: str | os.PathLike = ".") -> None:
    """Read one subject's raw files with the dataset's adapter into canonical trials.

    The raw files are first checked against the manifest and the fetch
    record (:func:`verify_raw_files`); the checksums of the bytes the adapter
    actually read are compared with them again afterwards. An error while
    reading a raw file says how to refetch it.
    """
    from retrogait.acquire.refetch import refetch_hint

    run = load_run(config, root=root, eager=False)
    raw_dir = Path(provenance).parent.parent
    fetched = verify_raw_files(run, dataset=dataset, subject=subject, provenance=provenance)
    try:
        trials = run.adapter(dataset).read_subject(subject, raw_dir)
    except DataError as exc:
        raise exc.with_note(refetch_hint(dataset, subject)) from None
    if not trials:
        raise DataError("the adapter found no trials", dataset=dataset, subject=subject)
    for t in trials:
        for path, sha in zip(t.meta.source_files.split(";"), t.meta.source_sha256.split(";")):
            if path in fetched and fetched[path] != sha:
                raise t.error(f"{path} changed while it was read (sha256 {sha}, verified {fetched[path]}). "
                              f"{refetch_hint(dataset, subject)}")
        log.info("%s: %s, %s, %.1f kg, streams: %s%s", t.meta.trial, t.meta.condition, t.meta.direction,
                 t.meta.mass_kg, ", ".join(s for s in ("kinematics", "forces", "emg") if getattr(t, s) is not None),
                 f"; notes: {t.meta.notes}" if t.meta.notes else "")
        for fix in filter(None, t.meta.corrections.split(" | ")):
            # on the console (logs.logged) and in the report's QC section (trials.corrections)
            log.warning("%s/%s/%s: automatic correction: %s", dataset, subject, t.meta.trial, fix)
    folder = Path(outputs[0]).parent
    write_subject(trials, folder)
    missing = [str(p) for p in outputs if not Path(p).exists()]
    if missing:
        raise DataError(f"ingest did not write {missing}", dataset=dataset, subject=subject)


# units of table columns (identifier columns have none)
_CYCLE_UNITS = {"speed_mps": "m/s", "fs_s": "s", "fo_s": "s", "next_fs_s": "s", "stance_time_s": "s",
                "stride_time_s": "s", "stance_pct": "%", "foot_angle_contact_deg": "deg"}
_UNITS = {
    "cycles": _CYCLE_UNITS,
    "events_used": {"speed_mps": "m/s", "time_s": "s"},
    "waveforms": {"speed_mps": "m/s"},
    "emg_quality": {"speed_mps": "m/s"},
    "emg_references": {"reference": "V"},
    "trial_notes": {"speed_mps": "m/s"},
    "measures": {"speed_mps": "m/s"},
    "subject_means": {"speed_mps": "m/s"},
    "qc_plausibility": {"speed_mps": "m/s", "pct_flagged": "%"},
    "qc_plausibility_contrasts": {"pct_a": "%", "pct_b": "%"},
    "trials": {"speed_mps": "m/s", "mass_kg": "kg", "height_m": "m", "kinematics_rate_hz": "Hz",
               "forces_rate_hz": "Hz", "emg_rate_hz": "Hz"},
}


def _write_table(df, path: str | os.PathLike, kind: str) -> None:
    from retrogait.io import write_parquet

    units = {k: v for k, v in _UNITS.get(kind, {}).items() if k in df.columns}
    write_parquet(df, path, units=units)


def _write_report_table(df, path: str | os.PathLike, kind: str) -> None:
    """A report table: parquet (with units, :func:`_write_table`) and the same table as CSV beside it."""
    from retrogait.io import write_text

    _write_table(df, path, kind)
    write_text(df.to_csv(index=False, float_format="%.6g", lineterminator="\n"), Path(path).with_suffix(".csv"))


def _named(paths: Sequence[str | os.PathLike]) -> dict[str, Path]:
    """Map output paths to their name without extension: ``.../cycles.parquet`` -> ``cycles``."""
    return {Path(p).stem: Path(p) for p in paths}


def cycles_subject(config: Mapping[str, Any], *, subject_dir: str | os.PathLike,
                   outputs: Sequence[str | os.PathLike]) -> None:
    """Events, cycles, EMG envelopes, time-normalised waveforms and per-cycle measures of one subject.

    ``outputs`` are the tables to write, named by their file names
    (``cycles.parquet``, ``waveforms.parquet``, ...; every table of
    :func:`retrogait.gait.cycles.process_subject`). With ``measures.parquet``
    among them, the per-cycle measures (:func:`retrogait.gait.measures.subject_measures`)
    are computed in the same process from the tables just made: one job per
    subject instead of two, without reading the subject's signals a second
    time (the measures depend on nothing the cycles do not).
    """
    from retrogait.gait.cycles import CycleSettings, process_subject

    settings = CycleSettings.from_config(config)
    trials = read_subject(subject_dir)
    tables = process_subject(trials, settings=settings)
    out = _named(outputs)
    for name, path in out.items():
        if name != "measures":
            _write_table(tables[name], path, name)
    c = tables["cycles"]
    log.info("%d cycles kept, %d rejected", int((c["qc_status"] == "kept").sum()), int((c["qc_status"] != "kept").sum()))
    if "measures" in out:
        from retrogait.gait.measures import subject_measures

        table = subject_measures(trials, tables["cycles"], tables["waveforms"], pfj=settings.pfj, nodes=settings.nodes)
        _write_table(table, out["measures"], "measures")
        log.info("%d measure values, %d rejected by plausibility rules", len(table),
                 int((table["qc_status"] != "kept").sum()))


def combine_dataset(*, inputs: Mapping[str, Sequence[str | os.PathLike]],
                    outputs: Sequence[str | os.PathLike]) -> None:
    """Concatenate one dataset's per-subject tables; add trial QC counts and subject means."""
    import pandas as pd

    from retrogait.gait.measures import subject_means

    def concat(name):
        parts = [read_parquet(p)[0] for p in inputs[name]]
        rows = [p for p in parts if len(p)]
        if rows:
            return pd.concat(rows, ignore_index=True)
        # no subject has a row (e.g. every file EMG-only): keep the columns
        shaped = [p for p in parts if len(p.columns)]
        return pd.concat(shaped, ignore_index=True) if shaped else pd.DataFrame()

    tables = {name: concat(name) for name in inputs}
    notes = tables.pop("trial_notes")
    trials = tables["trials"]
    _warn_unfound_labels(trials)
    if len(notes):
        keys = ["subject", "trial"]
        counts = [c for c in notes.columns if c.startswith("n_contacts_")] + \
            [c for c in ("qc_exclusion",) if c in notes.columns]
        trials = trials.merge(notes[keys + ["n_cycles_kept", "n_cycles_rejected", *counts, "event_methods", "notes"]]
                              .rename(columns={"notes": "cycle_notes"}), on=keys, how="left")
    tables["trials"] = trials
    tables["subject_means"] = subject_means(tables["measures"])
    for name, path in _named(outputs).items():
        _write_table(tables[name], path, name)


def _warn_unfound_labels(trials) -> None:
    """Console warning for each mapped EMG label, model output or marker found in no file of a dataset.

    One missing file is a QC row; a label missing from every file is almost
    always a typo in the channel map, and that muscle or signal is then not
    analysed at all.
    """
    import difflib

    from retrogait.logs import console_warning

    if trials.empty:
        return

    def split(value) -> list[str]:
        return [x for x in str(value or "").split(", ") if x] if isinstance(value, str) else []

    kinds = (("missing_emg", "EMG channel", "that muscle is not analysed"),
             ("missing_outputs", "model output", "that variable is not analysed"),
             ("missing_markers", "marker", "it is not used for events"))
    for dataset, rows in trials.groupby("dataset", sort=True):
        for column, what, consequence in kinds:
            if column not in rows.columns:
                continue
            per_trial = [set(split(v)) for v in rows[column]]
            never = sorted(set.intersection(*per_trial)) if per_trial else []
            pool = "unmapped_analogs" if column == "missing_emg" else None
            unmapped = sorted({x for v in rows[pool] for x in split(v)}) if pool in rows.columns else []
            for label in never:
                close = difflib.get_close_matches(label, unmapped, n=2, cutoff=0.6)
                hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else
                        (f"; analog labels not mapped: {', '.join(unmapped[:8])}" if unmapped else
                         "; check the labels with python -m retrogait.ingest.inspect"))
                console_warning(log, f"dataset '{dataset}': {what} '{label}' of the channel map is in none of its "
                                     f"{len(rows)} file(s), so {consequence}{hint}")


def spm_run(config: Mapping[str, Any], *, waveforms: Sequence[str | os.PathLike],
            outputs: Sequence[str | os.PathLike], root: str | os.PathLike = ".") -> None:
    """SPM1D paired tests of every configured contrast without covariates on the subject-mean waveforms
    (:func:`retrogait.analysis.waveforms.spm_contrasts`): the tables :data:`SPM_TABLES`."""
    from retrogait.analysis.contrasts import Contrast

    run = load_run(config, root=root, eager=False)
    st = run.config["stats"]
    spm, clusters = _spm(waveforms, [Contrast.from_config(c) for c in st["contrasts"]], alpha=st["alpha"])
    tables = {"waveform_spm": spm, "waveform_clusters": clusters}
    for name, path in _named(outputs).items():
        _write_report_table(tables[name], path, name)


def stats_run(config: Mapping[str, Any], *, measures: Sequence[str | os.PathLike],
              outputs: Sequence[str | os.PathLike], workers: int = 1,
              root: str | os.PathLike = ".", emg_quality: Sequence[str | os.PathLike] = ()) -> None:
    """All configured contrasts on all datasets: paired tests, mixed models, Holm, TOST, claims, and the
    plausibility flags per condition and their balance between the levels of each contrast (SPM1D on the
    waveforms is :func:`spm_run`).

    The exclusions table lists, besides the subjects a paired test left out
    for lacking a level, every subject that quality control left without a
    value of a tested measure (:func:`qc_exclusions`).
    """
    import pandas as pd

    from retrogait.analysis.discrete import run_contrasts
    from retrogait.analysis.contrasts import Contrast

    from retrogait.analysis.claims import SCORECARD_COLUMNS, score
    from retrogait.analysis.qc import plausibility_by_contrast
    from retrogait.gait.plausibility import flag_counts

    run = load_run(config, root=root, eager=False)
    table = pd.concat([read_parquet(p)[0] for p in measures], ignore_index=True)
    st = run.config["stats"]
    contrasts = [Contrast.from_config(c) for c in st["contrasts"]]
    results, exclusions = run_contrasts(table, contrasts, alpha=st["alpha"], n_boot=st["bootstrap"]["n"],
                                        seed=st["bootstrap"]["seed"], only=st.get("measures"), workers=workers,
                                        sesoi=st.get("sesoi", {}),
                                        crosscheck=bool(st.get("statsmodels_crosscheck", False)))
    quality = [read_parquet(p)[0] for p in emg_quality]
    quality = pd.concat([q for q in quality if len(q)], ignore_index=True) if any(len(q) for q in quality) \
        else pd.DataFrame()
    extra = qc_exclusions(table, results, exclusions, contrasts, quality=quality, only=st.get("measures"))
    if len(extra):
        exclusions = pd.concat([exclusions, extra], ignore_index=True).sort_values(
            ["contrast", "dataset", "measure", "subject"], kind="stable", ignore_index=True)
    from retrogait.gait.emg import muscles_excluded

    claims = (score(run.claims, results, excluded_muscles=muscles_excluded(quality)) if run.claims is not None
              else pd.DataFrame(columns=SCORECARD_COLUMNS))
    flags = flag_counts(table)
    flag_balance = plausibility_by_contrast(table, contrasts)
    for note in flag_balance.loc[flag_balance["warning"], "note"] if len(flag_balance) else []:
        log.warning(note)
    tables = {"contrasts": results, "exclusions": exclusions, "claims": claims, "qc_plausibility": flags,
              "qc_plausibility_contrasts": flag_balance}
    for name, path in _named(outputs).items():
        _write_report_table(tables[name], path, name)


def qc_exclusions(measures, results, exclusions, contrasts, *, quality=None, only=None):
    """Subjects that quality control left without any kept value of a tested measure, with the reason.

    For every test that ran (a row of ``results``: contrast x dataset x
    measure), a subject of the dataset that has trials at a level of the
    contrast but no kept value of the measure at either level, and is not
    already in ``exclusions``, gets a row: ``missing_level = "both"``,
    ``excluded_from = "every test of this measure"`` and the reason (the QC
    reason of its cycles' values, or, for an EMG measure, the channels of
    the muscle excluded by channel QC in every trial). So no subject leaves
    a test without a row in the exclusions table.

    Returns
    -------
    pandas.DataFrame
        Columns of the exclusions table (``contrast``, ``dataset``,
        ``measure``, ``subject``, ``missing_level``, ``excluded_from``,
        ``reason``); empty when nobody is excluded this way.
    """
    import pandas as pd

    from retrogait.analysis.contrasts import select_levels

    cols = ["contrast", "dataset", "measure", "subject", "missing_level", "excluded_from", "reason"]
    if results.empty or measures.empty:
        return pd.DataFrame(columns=cols)
    if only:
        measures = measures[measures["measure"].isin(list(only))]
    already = set(zip(exclusions["contrast"], exclusions["dataset"], exclusions["measure"], exclusions["subject"])) \
        if len(exclusions) else set()
    by_id = {c.id: c for c in contrasts}
    rows = []
    for (cid, dataset), tested in results.groupby(["contrast", "dataset"], sort=True):
        c = by_id.get(cid)
        if c is None:
            continue
        data = select_levels(measures[measures["dataset"] == dataset], c)
        if data.empty:
            continue
        subjects = sorted(set(data["subject"].astype(str)))
        for measure in sorted(set(tested["measure"])):
            m = data[data["measure"] == measure]
            kept = set(m.loc[m["qc_status"] == "kept", "subject"].astype(str))
            for subject in subjects:
                if subject in kept or (cid, dataset, measure, subject) in already:
                    continue
                mine = m[m["subject"].astype(str) == subject]
                if len(mine):
                    reasons = mine["qc_reason"].dropna().astype(str)
                    reasons = reasons[reasons != ""]
                    reason = (f"no kept value: {len(mine)} cycle value(s), all {'/'.join(sorted(set(mine['qc_status'])))}"
                              + (f"; e.g. {reasons.iloc[0]}" if len(reasons) else ""))
                else:
                    reason = _emg_excluded_reason(quality, dataset, subject, measure) or \
                        "no value of this measure in any kept cycle (the subject's data lack it)"
                rows.append({"contrast": cid, "dataset": dataset, "measure": measure, "subject": subject,
                             "missing_level": "both", "excluded_from": "every test of this measure",
                             "reason": reason})
    return pd.DataFrame(rows, columns=cols)


def _emg_excluded_reason(quality, dataset: str, subject: str, measure: str) -> str | None:
    """Why an EMG measure is absent for a subject: the channels it needs excluded in every trial, or None.

    ``emg_*_<muscle>`` needs that muscle; a co-contraction index (``cci_*``)
    needs a quadriceps and a hamstrings muscle.
    """
    from retrogait.gait.catalog import HAMSTRINGS, QUADRICEPS

    if quality is None or quality.empty or not measure.startswith(("emg_", "cci_")):
        return None
    q = quality[(quality["dataset"] == dataset) & (quality["subject"].astype(str) == subject)]
    if measure.startswith("cci_"):
        groups = [("quadriceps", list(QUADRICEPS)), ("hamstrings", list(HAMSTRINGS))]
    else:
        muscle = next((m for m in sorted(set(q["muscle"]), key=len, reverse=True) if measure.endswith("_" + m)),
                      None)
        groups = [(muscle, [muscle])] if muscle else []
    for label, muscles in groups:
        sel = q[q["muscle"].isin(muscles)]
        if sel.empty or (sel["status"] == "used").any():
            continue
        parts = []
        for channel, grp in sel.groupby("channel", sort=True):
            first = next((r for r in grp["reason"].astype(str) if r.strip()), "excluded")
            parts.append(f"{channel}: {first.strip().rstrip(';')}")
        text = "; ".join(parts)
        return (f"EMG channel(s) of {label} excluded by channel QC in every trial ({len(sel)} channel-trials): "
                + (text if len(text) <= 400 else text[:400].rsplit("; ", 1)[0] + "; ..."))
    return None


def _spm(waveforms: Sequence[str | os.PathLike], contrasts, *, alpha: float):
    """SPM1D paired tests on subject-mean curves for every contrast without covariates."""
    import pandas as pd

    from retrogait.analysis.waveforms import spm_contrasts

    parts = [read_parquet(p)[0] for p in waveforms]
    wav = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else pd.DataFrame()
    plain = [c for c in contrasts if not c.covariates]
    skipped = [c.id for c in contrasts if c.covariates]
    if skipped:
        log.info("SPM not run for covariate-adjusted contrasts %s: spm1d has no ANCOVA", skipped)
    if wav.empty or not plain:
        from retrogait.analysis.waveforms import CLUSTER_COLUMNS, SUMMARY_COLUMNS
        return pd.DataFrame(columns=SUMMARY_COLUMNS), pd.DataFrame(columns=CLUSTER_COLUMNS)
    return spm_contrasts(wav, plain, alpha=alpha, domains=_spm_domains())


def meta_run(config: Mapping[str, Any], *, contrasts: str | os.PathLike, trials: Sequence[str | os.PathLike],
             studies: str | os.PathLike, pooled: str | os.PathLike, forest: Sequence[str | os.PathLike],
             root: str | os.PathLike = ".") -> None:
    """Published FW vs BW effects pooled with the datasets' own: tables and one forest plot per measure.

    ``forest`` paths are named ``forest_<measure>.png``.
    """
    import pandas as pd

    from retrogait.report import figures as F
    from retrogait.analysis.literature import literature_effects
    from retrogait.analysis.meta import dataset_effects, pool, speed_matching
    from retrogait.report.forest import plot_forest

    run = load_run(config, root=root, eager=False)
    meta = run.config["meta_analysis"]
    lit = literature_effects(run.literature, assumed_r=meta["assumed_r"])
    parts = [read_parquet(p)[0] for p in trials]
    settings = {}
    for t in parts:
        for d, surf in t.groupby("dataset")["surface"]:
            kinds = sorted(set(surf.dropna().astype(str)))
            settings[str(d)] = kinds[0] if len(kinds) == 1 and kinds[0] in ("treadmill", "overground") else "unknown"
    matched = {c["id"]: speed_matching(c) for c in run.config["stats"]["contrasts"]}
    own = dataset_effects(read_parquet(contrasts)[0], contrast_ids=meta["contrasts"], settings=settings,
                          speed_matched=matched)
    effects = pd.concat([e for e in (lit, own) if len(e)], ignore_index=True) if len(lit) or len(own) else lit
    study_rows, pooled_rows = pool(effects, method=meta["method"], alpha=run.config["stats"]["alpha"],
                                   min_studies=meta["min_studies"])
    log.info("meta-analysis: %d literature and %d dataset effects; %d pooled rows", len(lit), len(own),
             len(pooled_rows))
    _write_report_table(study_rows, studies, "meta_studies")
    _write_report_table(pooled_rows, pooled, "meta_pooled")
    for path in forest:
        measure = Path(path).stem.removeprefix("forest_")
        F.save(plot_forest(study_rows, pooled_rows, measure=measure,
                           title=f"{measure}: backward vs forward, Hedges' g (BW − FW)"), path)


def figures_dataset(config: Mapping[str, Any], *, dataset: str, waveforms: str | os.PathLike,
                    measures: str | os.PathLike, cycles: str | os.PathLike,
                    outputs: Sequence[str | os.PathLike]) -> None:
    """The descriptive figures of one dataset: waveforms by condition, paired subject means, QC overview
    (the SPM1D figures are :func:`spm_figures_dataset`)."""
    from retrogait.report import figures as F
    from retrogait.analysis.contrasts import Contrast

    wav, _ = read_parquet(waveforms)
    mea, _ = read_parquet(measures)
    cyc, _ = read_parquet(cycles)
    nodes = int(config.get("cycles", {}).get("nodes", 101))
    out = _named(outputs)
    stride = F.subject_mean_curves(wav, domain="stride", nodes=nodes)
    stance = F.subject_mean_curves(wav, domain="stance", nodes=nodes)
    kin_curves, kin_domain = (stride, "stride") if len(stride) else (stance, "stance")
    # every condition of the dataset, so a condition has one colour in all its figures (report/style.py)
    conditions = sorted({str(c) for c in wav["condition"].unique()}) if len(wav) else []
    F.save(F.plot_waveforms(kin_curves, F.KINEMATIC_VARIABLES, domain=kin_domain, nodes=nodes, conditions=conditions,
                            title=f"{dataset}: knee kinematics (mean ± SD across subjects)"),
           out["waveforms_kinematics"])
    F.save(F.plot_waveforms(stance, F.KINETIC_VARIABLES, domain="stance", nodes=nodes, conditions=conditions,
                            title=f"{dataset}: knee kinetics and load over stance (mean ± SD across subjects)"),
           out["waveforms_kinetics"])
    emg_vars = sorted(v for v in set(kin_curves["variable"]) if v.startswith("emg_")) if len(kin_curves) else []
    F.save(F.plot_waveforms(kin_curves, emg_vars, domain=kin_domain, ncols=4, nodes=nodes, conditions=conditions,
                            title=f"{dataset}: EMG linear envelopes, % of subject reference (mean ± SD)"),
           out["waveforms_emg"])
    contrasts = [Contrast.from_config(c) for c in config["stats"]["contrasts"]]
    F.save(F.plot_paired(mea, contrasts, title=f"{dataset}: subject means of key measures"), out["paired_measures"])
    F.save(F.plot_qc(cyc, title=f"{dataset}: gait cycles kept and rejected"), out["qc_overview"])


def spm_figures_dataset(config: Mapping[str, Any], *, dataset: str, waveforms: str | os.PathLike,
                        spm: str | os.PathLike, clusters: str | os.PathLike,
                        outputs: Sequence[str | os.PathLike]) -> None:
    """One SPM1D figure per contrast and family (knee, EMG) of one dataset: condition means and SPM{t}
    with its critical threshold and suprathreshold clusters, or why the contrast was not tested here."""
    from retrogait.report import figures as F
    from retrogait.analysis.contrasts import Contrast
    from retrogait.report.spm_figures import plot_contrast_waveforms

    wav, _ = read_parquet(waveforms)
    out = _named(outputs)
    contrasts = [Contrast.from_config(c) for c in config["stats"]["contrasts"]]
    summary, _ = read_parquet(spm)
    clus, _ = read_parquet(clusters)
    emg_all = sorted(v for v in wav["variable"].unique() if v.startswith("emg_")) if len(wav) else []
    for c in contrasts:
        s_c = summary[(summary["contrast"] == c.id) & (summary["dataset"] == dataset)] if len(summary) else summary
        k_c = clus[(clus["contrast"] == c.id) & (clus["dataset"] == dataset)] if len(clus) else clus
        for family, variables, ncols in (("knee", list(_spm_domains()), 3), ("emg", emg_all, 4)):
            title = f"{dataset}: {c.label}, SPM1D paired t ({family}; shaded: suprathreshold clusters)"
            if s_c.empty:
                title = f"{dataset}: {c.label}: not tested here ({'covariate-adjusted: no SPM' if c.covariates else 'the contrast does not apply to this dataset'})"
            fig = plot_contrast_waveforms(wav, c, k_c, variables=variables if not s_c.empty else [], title=title,
                                          summary=s_c, ncols=ncols, domains=_spm_domains())
            F.save(fig, out[f"spm_{c.id}_{family}"])


def report_run(config: Mapping[str, Any], *, root: str | os.PathLike,
               inputs: Mapping[str, Sequence[str | os.PathLike]], output: str | os.PathLike) -> None:
    """Render ``reports/report.html`` from the run's tables and figures."""
    import pandas as pd

    from retrogait.analysis.contrasts import Contrast
    from retrogait.codeversion import LOCK_FILE, lock_status, run_metadata
    from retrogait.report.render import render_report, software_versions
    from retrogait.report.sections import build_sections, headline
    from retrogait.report.timings import stage_timings

    run = load_run(config, root=root, eager=False)
    tables = {k: inputs[k] for k in ("trials", "cycles", "measures", "emg_quality", "emg_references",
                                     "data_checks")}
    sections = build_sections(config=run.config, specs=run.manifest, provenance=inputs["provenance"],
                              tables=tables, stats={"contrasts": inputs["contrasts"][0],
                                                    "exclusions": inputs["exclusions"][0],
                                                    "claims": inputs["claims"][0],
                                                    "waveform_spm": inputs["waveform_spm"][0],
                                                    "waveform_clusters": inputs["waveform_clusters"][0],
                                                    **{k: inputs[k][0] for k in ("qc_plausibility",
                                                                                 "qc_plausibility_contrasts")
                                                       if k in inputs},
                                                    **{k: inputs[k][0] for k in ("meta_studies", "meta_pooled")
                                                       if k in inputs}},
                              figures=inputs["figures"], contrast_notes=run.contrast_notes,
                              dataset_limitations={d: run.adapter(d).limitations() for d in run.datasets})
    trials = pd.concat([read_parquet(p)[0] for p in inputs["trials"]], ignore_index=True) \
        if inputs["trials"] else pd.DataFrame()
    title, question, _ = headline(run.config["report"]["title"], trials,
                                  [Contrast.from_config(c) for c in run.config["stats"]["contrasts"]],
                                  read_parquet(inputs["contrasts"][0])[0])
    render_report(title=title, question=question, sections=sections,
                  software=software_versions(lock_status(Path(root) / LOCK_FILE)), output=output,
                  metadata=run_metadata(run.config, root=root),
                  timings=stage_timings(inputs.get("benchmarks", [])))
