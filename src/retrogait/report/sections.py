"""Content of the report: sections built from the run's tables.

Kept apart from :mod:`retrogait.report.render` (rendering) so the wording of each
section can be tested on small tables.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from retrogait.analysis.contrasts import Contrast
from retrogait.gait.cycles import CycleSettings
from retrogait.io import read_parquet
from retrogait.acquire.manifest import DatasetSpec
from retrogait.gait.catalog import describe
from retrogait.gait.catalog import label as measure_label
from retrogait.gait.emg import muscles_excluded
from retrogait.report.render import Figure, Section, fmt

__all__ = ["QUESTION", "build_sections", "FIGURE_CAPTIONS", "headline", "direction_pairs", "claim_answers",
           "qc_counts", "agreement_table", "NO_PAIR_NOTICE"]

QUESTION = ("How does walking backward change knee load and muscle activation compared with walking "
            "forward? This report answers from public data, processing every gait cycle the same way.")

#: Colour words in the captions come from report/style.py (forward blue, backward orange).
_COLOURS = ("Colours: forward walking blue, backward walking orange (several speeds of one direction: darker = "
            "faster); other conditions in the colour-blind palette, the same in every figure of a dataset.")

FIGURE_CAPTIONS = {
    "waveforms_kinematics": ("Knee flexion", "Mean ± SD across subjects of subject-mean knee flexion curves "
                             "(flexion positive), time-normalised to 101 points per cycle, by condition. " + _COLOURS),
    "waveforms_kinetics": ("Knee moments and load over stance", "Internal knee extensor moment, external knee "
                           "adduction moment, vertical GRF (body weights) and patellofemoral stress, over stance "
                           "(foot strike to foot off on a force plate or belt), mean ± SD across subjects. "
                           + _COLOURS),
    "waveforms_emg": ("EMG envelopes", "Linear envelopes normalised to one reference per subject, side and "
                      "muscle spanning all conditions (% of reference), mean ± SD across subjects. " + _COLOURS),
    "paired_measures": ("Paired subject means", "Each grey line joins one subject's means at the two levels of "
                        "a contrast; black: mean with 95 % CI."),
    "qc_overview": ("Quality control", "Gait cycles kept and rejected per subject, rejected cycles by first "
                    "reason."),
    "spm_knee": ("SPM1D, knee", "Upper panels: mean ± SD across subjects of subject-mean curves at the two levels "
                 "of the contrast (knee flexion over the stride; moments, vertical GRF, patellofemoral force and "
                 "stress over stance); grey: supra-threshold clusters, with their p values. Lower panels: the paired "
                 "SPM{t} curve (black) and its critical threshold ±t* (dark red, dashed; Šidák-corrected across the variables "
                 "of the family); the test is significant where the curve crosses the threshold. " + _COLOURS),
    "spm_emg": ("SPM1D, EMG", "Upper panels: mean ± SD across subjects of subject-mean EMG envelopes at the two "
                "levels of the contrast; grey: supra-threshold clusters, with their p values. Lower panels: the "
                "paired SPM{t} curve (black) and its critical threshold ±t* (dark red, dashed; Šidák-corrected across "
                "muscles). " + _COLOURS),
}


def _load(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    parts = [read_parquet(p)[0] for p in paths]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def build_sections(*, config: Mapping[str, Any], specs: Mapping[str, DatasetSpec],
                   provenance: Sequence[str | os.PathLike], tables: Mapping[str, Sequence[str | os.PathLike]],
                   stats: Mapping[str, str | os.PathLike], figures: Sequence[str | os.PathLike],
                   mirror_used: bool | None = None,
                   dataset_limitations: Mapping[str, Sequence[str]] | None = None,
                   contrast_notes: Mapping[str, str] | None = None) -> list[Section]:
    """All report sections, in reading order.

    ``dataset_limitations``: per dataset, what its data cannot show (from its
    adapter, e.g. a BVH map's ``limitations``), printed in the limitations.
    ``contrast_notes`` (:attr:`retrogait.runconfig.Run.contrast_notes`):
    contrasts that apply to no dataset of the run, with the reason, shown in
    the summary.
    """
    trials = _load(tables["trials"])
    cycles = _load(tables["cycles"])
    measures = _load(tables["measures"])
    quality = _load(tables["emg_quality"])
    references = _load(tables["emg_references"])
    checks = _load(tables.get("data_checks", []))
    results = read_parquet(stats["contrasts"])[0]
    exclusions = read_parquet(stats["exclusions"])[0]
    claims = read_parquet(stats["claims"])[0] if stats.get("claims") else pd.DataFrame()
    spm = read_parquet(stats["waveform_spm"])[0] if stats.get("waveform_spm") else pd.DataFrame()
    clusters = read_parquet(stats["waveform_clusters"])[0] if stats.get("waveform_clusters") else pd.DataFrame()
    meta_studies = read_parquet(stats["meta_studies"])[0] if stats.get("meta_studies") else None
    meta_pooled = read_parquet(stats["meta_pooled"])[0] if stats.get("meta_pooled") else None
    flags = read_parquet(stats["qc_plausibility"])[0] if stats.get("qc_plausibility") else pd.DataFrame()
    balance = (read_parquet(stats["qc_plausibility_contrasts"])[0] if stats.get("qc_plausibility_contrasts")
               else pd.DataFrame())
    prov = [json.loads(Path(p).read_text()) for p in provenance]
    contrasts = [Contrast.from_config(c) for c in config["stats"]["contrasts"]]
    alpha = float(config["stats"]["alpha"])
    summary = _summary(config, trials, cycles, results, contrasts, alpha, contrast_notes or {})
    summary.paragraphs += _qc_summary(quality, checks)
    summary.tables += qc_counts(cycles, quality, exclusions, flags)
    answer = _answer(claims, trials, results, contrasts, alpha)
    for p in prov:
        comment = replica_comment(pd.DataFrame(p["files"]))
        if comment:
            text = (f"REPLICA DATA: dataset {p['dataset']} was read from a synthetic replica (\"{comment}\"); its "
                    "results demonstrate the pipeline only and say nothing about real walking.")
            summary.paragraphs.insert(0, text)
            answer.notice = f"{answer.notice} {text}".strip()
            break
    return [_for_readers(sec) for sec in [
        answer,
        summary,
        _datasets(config, specs, prov, trials),
        _methods(config, contrasts, measures, references),
        _qc(trials, cycles, quality, exclusions, measures, checks, flags, balance),
        _knee_load(measures),
        _results(results, contrasts, alpha),
        _waveform_stats(spm, clusters, contrasts),
        _scorecard(claims, config),
        _meta_analysis(meta_studies, meta_pooled, config),
        _figures(figures, spm, contrasts),
        _limitations(trials, cycles, measures, results, contrasts, dataset_limitations or {}),
        _references(),
    ]]


#: Where readers find the full methods (the project's documentation, docs/methods.md of the repository).
METHODS_URL = "https://github.com/retrogait/retrogait/blob/main/docs/methods.md"
_DOCS_RE = re.compile(r"(?<![/\w])docs/methods\.md\s*")


def reader_text(text: str) -> str:
    """Report prose for readers: a citation of ``docs/methods.md §x`` becomes "project documentation §x"."""
    return _DOCS_RE.sub("project documentation ", str(text))


def _for_readers(s: Section) -> Section:
    """Apply :func:`reader_text` to every paragraph, item, caption and text cell of a section (recursively)."""
    s.paragraphs = [reader_text(p) for p in s.paragraphs]
    s.items = [(k, reader_text(v)) for k, v in s.items]
    tables = []
    for caption, df in s.tables:
        if len(df):
            df = df.copy()
            for col in df.columns:
                if df[col].dtype == object:
                    df[col] = df[col].map(lambda v: reader_text(v) if isinstance(v, str) else v)
        tables.append((reader_text(caption), df))
    s.tables = tables
    s.subsections = [_for_readers(sub) for sub in s.subsections]
    return s


# -- top of the report ---------------------------------------------------------------
NO_PAIR_NOTICE = ("NO BACKWARD WALKING IN THIS RUN. None of its datasets has forward and backward walking "
                  "({datasets}), so this report cannot say how walking backward changes knee load or muscle "
                  "activation. It shows what the pipeline finds for the comparisons these data allow "
                  "({contrasts}); to answer the question, run a dataset with both directions (e.g. gt23 or "
                  "bandai-namco).")


def p_phrase(p: float) -> str:
    """``"< 0.001"`` or ``"= 0.046"``: a p value after the letter p in a sentence."""
    text = fmt(p, p=True)
    return text if text.startswith("<") or not text else f"= {text}"


def direction_pairs(trials: pd.DataFrame) -> list[str]:
    """Datasets of the run with a subject (or pairing unit) that walked both forward (FW) and backward (BW)."""
    if trials is None or trials.empty or "direction" not in trials.columns:
        return []
    both = trials.groupby(["dataset", "subject"])["direction"].agg(lambda d: {"FW", "BW"} <= set(map(str, d)))
    return sorted({d for (d, _), ok in both.items() if ok})


def headline(title: str, trials: pd.DataFrame, contrasts: Sequence[Contrast] = (),
             results: pd.DataFrame | None = None) -> tuple[str, str, str]:
    """(title, question, notice) for the top of the report.

    A run without any forward/backward pair keeps neither the configured
    title's promise nor the question: the title says so and ``notice`` is
    the prominent sentence shown first (empty when the run has a pair).
    """
    if direction_pairs(trials):
        return title, QUESTION, ""
    datasets = ", ".join(sorted(set(trials["dataset"]))) if len(trials) else "no data"
    ran = sorted(set(results["contrast"])) if results is not None and len(results) else []
    labels = [c.label for c in contrasts if c.id in ran] or ["none"]
    notice = NO_PAIR_NOTICE.format(datasets=datasets, contrasts="; ".join(labels))
    return (f"Gait analysis of {datasets}: no backward walking in this run",
            "The question of this pipeline, how walking backward changes knee load and muscle activation "
            "compared with walking forward, cannot be answered from this run: it holds no backward walking.",
            notice)


_VERDICT_WORDS = {
    "supported": "Yes",
    "contradicted": "No, the opposite",
    "negligible": "No meaningful difference",
    "inconclusive": "Not settled",
    "not testable": "Cannot be checked here",
}


def claim_answers(claims: pd.DataFrame) -> pd.DataFrame:
    """One plain-language row per claim and dataset: the claim, what the data show, how sure, where.

    Built from the scorecard (:mod:`retrogait.analysis.claims`) without
    changing it: ``answer`` is the verdict in words, ``what_the_data_show``
    the estimate with its unit and adjusted interval, ``how_sure`` what the
    interval means for that verdict.
    """
    cols = ["claim", "answer", "what_the_data_show", "how_sure", "dataset"]
    if claims is None or claims.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for r in claims.to_dict("records"):
        v = str(r.get("verdict", ""))
        unit = str(r.get("unit") or "")
        what = measure_label(r.get("measure", ""))
        est, lo, hi = (r.get(k) for k in ("estimate", "ci_low", "ci_high"))
        n = r.get("n_subjects")
        n_txt = f"{int(n)} subjects" if n is not None and pd.notna(n) and int(n) > 0 else "no subjects"
        if v == "not testable" or est is None or pd.isna(est):
            reason = str(r.get("reason", "") or "")
            # a claim without a measure ("easier to control") has only its reason to show
            shows = f"{what}: not estimated ({reason})" if what else f"Not measurable: {reason}"
            sure = "-"
        else:
            direction = "higher" if est > 0 else "lower" if est < 0 else "unchanged"
            shows = (f"{what} is {fmt(abs(est))} {unit} {direction} walking backward than forward "
                     f"(BW − FW = {fmt(est)} {unit}; {n_txt})")
            band = f"± {fmt(r.get('sesoi'))} {unit}" if pd.notna(r.get("sesoi")) else "the SESOI"
            level = f"{100 * float(r['ci_level']):.4g} %" if pd.notna(r.get("ci_level")) else "adjusted"
            interval = f"{level} interval {fmt(lo)} to {fmt(hi)} {unit}, adjusted for all claims together"
            sure = {
                "supported": f"Confident: the {interval} is entirely on the expected side of 0.",
                "contradicted": f"Confident: the {interval} is entirely on the other side of 0.",
                "negligible": f"Confident it is small: the {interval} lies inside {band}, the smallest change "
                              "that would matter.",
                "inconclusive": f"Not sure: the {interval} is too wide to decide (it includes 0 or reaches "
                                f"beyond {band}).",
            }.get(v, str(r.get("reason", "")))
        rows.append({"claim": r.get("claim", ""), "answer": _VERDICT_WORDS.get(v, v), "what_the_data_show": shows,
                     "how_sure": sure, "dataset": r.get("dataset", "")})
    return pd.DataFrame(rows, columns=cols)


def _answer(claims: pd.DataFrame, trials: pd.DataFrame, results: pd.DataFrame, contrasts: Sequence[Contrast],
            alpha: float) -> Section:
    """The answer in plain words, first: one row per claim and dataset, then the notice if no pair."""
    s = Section("The answer in brief")
    _, _, notice = headline("", trials, contrasts, results)
    if notice:
        s.notice = notice
    answers = claim_answers(claims)
    if answers.empty:
        s.paragraphs.append("No claims are configured (config/claims.yaml), so there is no one-line answer; the "
                            "summary below lists what differs.")
        return s
    tested = answers[answers["answer"] != _VERDICT_WORDS["not testable"]]
    if notice and tested.empty:
        s.paragraphs.append("None of the claims about backward walking can be checked in this run (listed for "
                            "completeness).")
    else:
        s.paragraphs.append("Each row is one popular claim about backward walking, checked on one dataset of this "
                            "run. 'Confident' means the claims' jointly adjusted interval decides it (all claims "
                            "together at 95 %); 'Not sure' means the data are compatible with both answers. The "
                            "details for researchers follow: the summary, methods, quality control and results.")
    # the answered claims first; the ones this run cannot check after them, each with its reason
    if len(tested):
        s.tables.append(("Claims checked in this run", tested))
    untested = answers[answers["answer"] == _VERDICT_WORDS["not testable"]]
    if len(untested):
        s.tables.append(("Claims this run cannot check, and why",
                         untested[["claim", "what_the_data_show"]].rename(columns={"what_the_data_show": "why"})))
    return s


# -- quality control in the summary -----------------------------------------------------
def qc_counts(cycles: pd.DataFrame, quality: pd.DataFrame, exclusions: pd.DataFrame,
              flags: pd.DataFrame | None = None) -> list[tuple[str, pd.DataFrame]]:
    """Summary tables: excluded cycles by rule x condition and by subject, excluded EMG channels by subject x
    muscle, values flagged by plausibility rules, and the subjects each test lacks."""
    out: list[tuple[str, pd.DataFrame]] = []
    if cycles is not None and len(cycles):
        rej = cycles[cycles["qc_status"] != "kept"]
        if len(rej):
            reason = rej["qc_reason"].fillna("").astype(str).str.split(";").str[0].str.strip().replace("", "unspecified")
            by_rule = (rej.assign(rule=reason).groupby(["dataset", "rule", "condition"]).size().unstack(
                "condition", fill_value=0))
            # every condition as a column, 0 where a rule rejected nothing: a one-sided rule shows
            by_rule = by_rule.reindex(columns=sorted(set(cycles["condition"].astype(str))), fill_value=0)
            by_rule.columns.name = None
            out.append(("Gait cycles rejected, by rule (first reason) and condition", by_rule.reset_index()))
            kept = cycles[cycles["qc_status"] == "kept"].groupby(["dataset", "subject"]).size().rename("kept")
            gone = rej.groupby(["dataset", "subject"]).size().rename("rejected")
            per_subject = pd.concat([kept, gone], axis=1).fillna(0).astype(int).reset_index()
            per_subject = per_subject[per_subject["rejected"] > 0]
            out.append(("Gait cycles rejected, by subject", per_subject))
    if flags is not None and len(flags) and {"n_flagged", "rule", "condition"} <= set(flags.columns):
        f = flags[flags["n_flagged"] > 0]
        if len(f):
            t = f.pivot_table(index=["dataset", "rule"], columns="condition", values="n_flagged", aggfunc="sum",
                              fill_value=0)
            t.columns.name = None
            out.append(("Kept cycles with values removed by a plausibility rule (only the family the rule governs), "
                        "by rule and condition", t.reset_index()))
    if quality is not None and len(quality) and "status" in quality.columns:
        bad = quality[quality["status"] != "used"]
        if len(bad):
            muscle = bad["muscle"] if "muscle" in bad.columns else bad["channel"]
            t = bad.assign(muscle=muscle.astype(str)).groupby(["dataset", "subject", "muscle"]).size().unstack(
                "muscle", fill_value=0)
            t.columns.name = None
            out.append(("EMG channel-trials excluded, by subject and muscle (reasons in Quality control)",
                        t.reset_index()))
    if exclusions is not None and len(exclusions):
        g = exclusions.groupby(["contrast", "dataset", "subject"]).agg(
            measures=("measure", "nunique"), why=("reason", lambda r: "; ".join(sorted(set(map(str, r)))[:2])))
        lacks = g.reset_index().groupby(["contrast", "dataset"]).apply(
            lambda d: pd.Series({"subjects_lacking": ", ".join(f"{r.subject} ({r.measures} measure(s))"
                                                               for r in d.itertuples()),
                                 "reasons": "; ".join(sorted(set("; ".join(d["why"]).split("; "))))}),
            include_groups=False).reset_index()
        out.append(("Subjects each test lacks (per contrast and dataset; the full list is in Quality control)",
                    lacks))
    return out


def agreement_table(results: pd.DataFrame, contrast: Contrast, alpha: float) -> pd.DataFrame:
    """Measures where the primary and the sensitivity estimate disagree, or the mixed model is not usable.

    Disagreement: one is significant after Holm and the other not, or the
    two estimates have opposite signs. A mixed model that did not converge
    (``lmm_converged`` false) or is singular is flagged whatever its p.
    """
    cols = ["dataset", "measure", "unit", "mean_diff", "p_holm", "lmm_estimate", "lmm_p_holm", "agreement"]
    r = results[results["contrast"] == contrast.id] if len(results) else results
    if r.empty or "lmm_p_holm" not in r.columns or "p_holm" not in r.columns:
        return pd.DataFrame(columns=cols)
    rows = []
    for row in r.to_dict("records"):
        notes = []
        not_converged, singular = _lmm_state(row)
        if not_converged:
            notes.append("mixed model NOT CONVERGED: its estimate and p are not usable")
        if singular:
            notes.append("mixed model singular (random-effects variance at 0)")
        ph, lh = row.get("p_holm"), row.get("lmm_p_holm")
        if pd.notna(ph) and pd.notna(lh) and (ph < alpha) != (lh < alpha):
            which = "paired" if ph < alpha else "mixed model"
            notes.append(f"only the {which} test is significant after Holm")
        md, le = row.get("mean_diff"), row.get("lmm_estimate")
        if pd.notna(md) and pd.notna(le) and md * le < 0:
            notes.append("the two estimates have opposite signs")
        if notes:
            rows.append({**{k: row.get(k) for k in cols[:-1]}, "agreement": "; ".join(notes)})
    return pd.DataFrame(rows, columns=cols)


# -- sections -------------------------------------------------------------------
def _summary(config, trials, cycles, results, contrasts, alpha, contrast_notes=None) -> Section:
    s = Section("Summary")
    contrast_notes = contrast_notes or {}
    n_sub = trials.groupby("dataset")["subject"].nunique() if len(trials) else pd.Series(dtype=int)
    kept = int((cycles["qc_status"] == "kept").sum()) if len(cycles) else 0
    s.paragraphs.append(
        f"Datasets analysed: {', '.join(f'{d} ({n} subjects)' for d, n in n_sub.items()) or 'none'}; "
        f"{len(trials)} trials; {kept} gait cycles kept of {len(cycles)} candidates.")
    fixes = corrections_table(trials)
    if len(fixes):
        s.paragraphs.append(f"{len(fixes)} automatic correction(s) of the data were applied (knee-angle sign, units, "
                            "duplicated rows...); each is listed in Quality control.")
    for c in contrasts:
        r = results[results["contrast"] == c.id] if len(results) else results
        if r.empty and c.id in contrast_notes:
            s.paragraphs.append(f"{c.label}: not run: {contrast_notes[c.id]}.")
            continue
        if r.empty:
            s.paragraphs.append(f"{c.label}: not testable on the data of this run: no subject has measures of "
                                f"kept cycles at both {c.factor} = {c.levels[0]} and {c.levels[1]} (a trial without "
                                "a kept gait cycle gives no measure; see Quality control).")
            continue
        primary = c.primary
        p_col = "lmm_p" if primary == "mixed" else "p_t"
        candidates = r[r["role"] == "tested"] if "role" in r.columns else r
        derived = len(r) - len(candidates)
        also = f" ({derived} derived measure(s) reported, not tested)" if derived else ""
        tested = candidates[candidates[p_col].notna()] if p_col in candidates.columns else candidates.iloc[:0]
        if tested.empty:
            s.paragraphs.append(f"{c.label} ({c.describe()}): {len(candidates)} measure(s) in family '{c.family}', "
                                "none could be tested (too few subjects with data at both levels; see the exclusions "
                                "in the QC section).")
            continue
        untested = (f" ({len(candidates) - len(tested)} more could not be tested)"
                    if len(tested) < len(candidates) else "")
        sensitivity = "paired t on subject means" if primary == "mixed" else "mixed model on cycle values"
        if primary == "mixed":
            sig = tested[tested["lmm_p_holm"] < alpha]
            other = tested[tested["p_holm"] < alpha] if "p_holm" in tested.columns else tested.iloc[:0]
            how = (f"mixed model{' adjusted for ' + ', '.join(c.covariates) if c.covariates else ''}, t test with "
                   f"Satterthwaite df, alpha = {alpha}")
        else:
            sig = tested[tested["p_holm"] < alpha]
            other = tested[tested["lmm_p_holm"] < alpha] if "lmm_p_holm" in tested.columns else tested.iloc[:0]
            how = f"paired t on subject means, alpha = {alpha}"
        s.paragraphs.append(
            f"{c.label} ({c.describe()}): {len(tested)} measures tested in family '{c.family}'{untested}{also}; "
            f"{len(sig)} differ after Holm adjustment within the family and dataset (primary estimate ({how}); "
            f"config key stats.contrasts[].primary = {primary}). Sensitivity analysis ({sensitivity}): {len(other)} "
            "differ.")
        if len(sig):
            cols = (["dataset", "measure", "unit", "lmm_estimate", "lmm_ci_low", "lmm_ci_high", "lmm_p_holm",
                     "n_subjects"] if primary == "mixed" else
                    ["dataset", "measure", "unit", "mean_diff", "ci_low", "ci_high", "dz", "p_holm", "n_subjects"])
            s.tables.append((f"{c.label}: measures that differ ({c.levels[0]} − {c.levels[1]}, primary estimate, "
                             "unadjusted 95 % CI, Holm-adjusted p)", sig[[k for k in cols if k in sig.columns]]))
        disagree = agreement_table(results, c, alpha)
        if len(disagree):
            s.paragraphs.append(f"{c.label}: the primary and the sensitivity analysis disagree, or the mixed model "
                                f"is not usable, for {len(disagree)} measure(s) (table below); read those results "
                                "with care.")
            s.tables.append((f"{c.label}: where paired and mixed-model answers differ", disagree))
    return s


def _qc_summary(quality: pd.DataFrame, checks: pd.DataFrame) -> list[str]:
    """Summary lines: muscles no subject has a usable channel of, and data checks that did not pass."""
    out = []
    gone = muscles_excluded(quality)
    for r in gone[gone["all_excluded"]].itertuples(index=False) if len(gone) else []:
        out.append(f"EMG of {r.muscle.replace('_', ' ')} in {r.dataset}: excluded by QC for every subject "
                   f"({r.reasons}); not testable here, no result rests on it.")
    if len(checks):
        bad = checks[checks["status"].isin(["corrected", "warning", "overridden"])]
        if len(bad):
            out.append("Data checks: " + "; ".join(f"{c} {st} in {n} trial(s)" for (c, st), n in
                                                   bad.groupby(["check", "status"]).size().items())
                       + " (see Quality control).")
    return out


def _datasets(config, specs, prov, trials) -> Section:
    s = Section("Datasets")
    by_ds: dict[str, list[dict]] = {}
    for p in prov:
        for f in p["files"]:
            by_ds.setdefault(p["dataset"], []).append({"subject": p["subject"], **f})
    for d in config["datasets"]:
        spec = specs[d]
        sub = Section(spec.title)
        t = trials[trials["dataset"] == d] if len(trials) else trials
        sub.items = [("Dataset id", d), ("Citation", spec.citation), ("DOI", spec.doi or "none"),
                     ("Licence", f"{spec.licence}" + (f" ({spec.licence_url})" if spec.licence_url else "")),
                     ("Homepage", spec.homepage or ""), ("Adapter", spec.adapter),
                     ("Subjects / trials", f"{t['subject'].nunique() if len(t) else 0} / {len(t)}")]
        files = pd.DataFrame(by_ds.get(d, []))
        if len(files) and "source" in files.columns:
            files["source"] = [public_source(x, d) for x in files["source"]]
        if len(files):
            files = files.sort_values(["subject", "path"])
            sub.paragraphs.extend(_provenance_text(spec, files))
            cols = [c for c in ("subject", "path", "size", "sha256", "status", "source", "member", "crc32")
                    if c in files.columns]
            sub.tables.append(("Files and checksums", files[cols]))
        s.subsections.append(sub)
    return s


def public_source(source: object, dataset: str) -> str:
    """A file's source without the local folders of this machine (``mirror:`` and ``file:`` sources).

    ``mirror:/home/me/mirror/gt23/AB01/x.csv`` becomes ``mirror:gt23/AB01/x.csv``
    (from the dataset's folder on), ``file:///home/me/x.c3d`` becomes
    ``file:x.c3d``; network URLs are kept as they are (they are public).
    """
    text = str(source)
    for prefix in ("mirror:", "file://", "file:"):
        if text.startswith(prefix):
            path = text[len(prefix):]
            parts = [p for p in path.replace("\\", "/").split("/") if p]
            kind = prefix.split(":")[0]
            if dataset in parts:
                return f"{kind}:{'/'.join(parts[parts.index(dataset):])}"
            return f"{kind}:{parts[-1] if parts else ''}"
    return text


def replica_comment(files: pd.DataFrame) -> str | None:
    """The self-description of a replica archive the files came from, if any."""
    if "archive_comment" not in files.columns:
        return None
    comments = {str(c) for c in files["archive_comment"].dropna() if str(c).strip()}
    return next((c for c in sorted(comments) if "replica" in c.lower()), None)


def _provenance_text(spec: DatasetSpec, files: pd.DataFrame) -> list[str]:
    """Where the files came from, and whether they are the published data or a replica."""
    sources = files["source"].astype(str)
    mirror = sources.str.startswith("mirror:")
    local = sources.str.startswith("file:")
    kinds = [name for name, mask in (("a local mirror", mirror), ("local files (file:// URLs)", local),
                                     ("the network", ~(mirror | local))) if mask.any()]
    origin = " and ".join(kinds) if kinds else "nowhere"
    out = []
    if spec.archive:
        where = sorted(set(sources))
        out.append(f"{len(files)} members of the archive {spec.archive['name']} obtained from {origin} "
                   f"({'; '.join(where[:3])}{' ...' if len(where) > 3 else ''}); each member was checked against "
                   "the CRC-32 stored in the archive and its size and sha256 recorded in a lock file, against "
                   "which later runs verify it.")
        comment = replica_comment(files)
        if comment:
            out.append(f"REPLICA: the archive identifies itself as \"{comment}\". These are synthetic data in the "
                       "published layout, not measurements: the numbers in this report demonstrate the pipeline "
                       "and say nothing about real walking.")
        elif mirror.all():
            out.append("Source: a local copy of the archive; not identified as a replica. Whether it is the "
                       "published archive can only be confirmed with a pinned lock file of member checksums.")
        else:
            published = spec.archive["url"]
            same = set(sources) == {published}
            out.append(f"Source: {'the archive URL declared in the manifest' if same else 'not the manifest URL'} "
                       f"({published}); not identified as a replica.")
    else:
        out.append(f"{len(files)} files obtained from {origin}; each was verified against the sha256 declared in "
                   "the manifest before use.")
    return out


def _methods(config, contrasts, measures, references) -> Section:
    settings = CycleSettings.from_config(config)
    ev, env, qp = settings.events, settings.envelope, settings.quality
    s = Section("Methods")
    s.paragraphs.append("Every step below is described with its equations and references in the project "
                        f"documentation ({METHODS_URL}); '§' numbers refer to its sections.")
    s.subsections.append(Section("Gait events and cycles", items=[
        ("Force-based events", f"vertical GRF of each plate or belt, zero-lag low-pass {ev.force_lowpass_hz} Hz, "
                               f"contact when Fz > {ev.force_threshold_n} N for at least {ev.min_state_s * 1000:g} ms "
                               "(docs/methods.md §4.1; the 20 N rising-edge rule of the Fox calc_PFJRF code, with "
                               "a short persistence against spikes). Plate contacts are assigned to a foot from "
                               "the centre of pressure and the foot markers."),
        ("Kinematic fallback", "direction-agnostic Zeni et al. (2008) form: travel vector = pelvis velocity "
                               "minus stance-foot velocity; forward or backward from its angle to the feet's "
                               "heel-to-toe direction (the way the pelvis faces is never used; docs/methods.md "
                               "§4.2, §4.4); contact marker heel when travelling forward, toe when travelling "
                               "backward (toe-first contact; Gottlieb et al. 2020); marker low-pass "
                               f"{ev.kinematic_lowpass_hz} Hz."),
        ("Stored events", "events stored in the files are used only after the same sequence checks; a stored "
                          f"event more than {ev.max_stored_disagreement_s * 1000:g} ms from the detected event used "
                          "for the same occurrence "
                          + ("rejects" if ev.stored_disagreement == "reject" else "flags")
                          + " the cycles using it (docs/methods.md §4.5)."),
        ("Missing data", "invalid C3D samples (negative residual, or stored as (0, 0, 0)) are missing, never "
                         "zeros (docs/methods.md §0.3); a cycle missing more than "
                         f"{settings.max_missing_pct:g} % of a joint angle it uses (or of a knee moment over a "
                         "kinetics-valid stance) is rejected."),
        ("Contact pattern", "measured, not assumed: the heel-toe line's angle to the floor at foot strike minus its "
                            "mid-stance (foot-flat) value; toe-first below "
                            f"-{ev.contact_flat_deg:g}°, heel-first above +{ev.contact_flat_deg:g}° "
                            "(docs/methods.md §4.8). The detector's own toe-first/heel-first choice follows the "
                            "travel direction and is not used as evidence."),
        ("BVH skeletons", "joint centres by forward kinematics of the BVH joint rotations (bvhio reader, each "
                          "joint's own channel order); knee flexion from the thigh and shank segments, signed by "
                          "the pelvis medio-lateral axis (flexion positive); a heel point fixed in the foot "
                          "segment at the toe joint's height at foot flat (docs/methods.md §4.7). At 30 frames/s "
                          "the kinematic events match force-plate events as at 100 frames/s: foot strike 25-50 ms "
                          "early, foot off within ±25 ms (docs/methods.md §4.9); without force plates this bias is "
                          "not corrected."),
        ("Event-sequence QC", f"foot strike < foot off < next foot strike; stance {ev.min_stance_s} s minimum, "
                              f"swing {ev.min_swing_s} s minimum; stride {ev.min_stride_s}-{ev.max_stride_s} s and "
                              f"within median ± {ev.stride_tolerance * 100:g} %; stance "
                              f"{ev.stance_pct_range[0]:g}-{ev.stance_pct_range[1]:g} % of stride (docs/methods.md §4.5: wider "
                              "than the usual 55-70 % to allow the longer backward stance and kinematic event "
                              "error). "
                              + ("A trial without one complete stride is too short: its stance-only cycles are "
                                 "rejected with that reason. " if ev.require_stride else "")
                              + "Rejected cycles are kept in the cycles table with their reason."),
        ("Time normalisation", f"{settings.nodes} points (0-100 %) over the stride and over stance, linear "
                               "interpolation (docs/methods.md §0.2)."),
        ("Kinetics", "moments, GRF and knee-load measures only for stances that are one clean single-foot "
                     "contact on a force plate or instrumented belt."),
    ]))
    s.subsections.append(Section("EMG", items=[
        ("Processing", f"mean removed; band-pass {env.band_hz[0]:g}-{env.band_hz[1]:g} Hz, Butterworth order "
                       f"{env.band_order}, zero-lag; full-wave rectification; low-pass {env.lowpass_hz:g} Hz, "
                       f"order {env.lowpass_order}, zero-lag (linear envelope; SENIAM/ISEK band, pyCGM2 6 Hz "
                       "envelope; docs/methods.md §5.2-5.3). Zero-lag filtering doubles the effective order. "
                       "A channel found to hold rectified EMG or an envelope already (broadband one-sided, or "
                       "smooth) gets the low-pass only, never a band-pass; the QC section lists such channels."),
        ("Channel QC", f"one decision per subject and channel from all its trials, applied to every trial (a "
                       f"quiet condition must not lose its channels more often than a loud one): excluded when "
                       f"flat (envelope p95/p5 below {qp.min_dynamic_range:g} in every trial, or cycle-to-cycle "
                       f"repeatability r below {qp.min_repeatability:g} where trials have at least "
                       f"{qp.min_repeatability_cycles} cycles), saturated or dominated by mains hum in any trial, "
                       f"or when its floor differs more than {qp.max_floor_ratio:g}-fold between trials (gain "
                       "changed); listed in the QC section (docs/methods.md §5.2)."),
        ("Amplitude normalisation", f"method '{settings.normalisation_method}'"
                                    + (f", reference condition '{settings.reference_condition}'"
                                       if settings.reference_condition else "")
                                    + ": one reference per subject, side and muscle spanning all conditions, "
                                      "never per trial, so amplitude differences between conditions remain "
                                      "visible (CEDE, Besomi et al. 2020; docs/methods.md §5.4). "
                                      "Units: % of reference."),
        ("Co-contraction", "quadriceps (mean of RF, VL, VM available) vs hamstrings (BF, ST or unspecified "
                           "hamstrings) over stance: Rudolph et al. (2000) index and Falconer & Winter (1985) "
                           "%COACT (docs/methods.md §5.6)."),
    ]))
    s.subsections.append(Section("Knee-load models", items=[
        ("Patellofemoral joint", settings.pfj.describe()),
        ("Knee adduction moment", "external KAM from the dataset's own inverse dynamics (for the C3D datasets "
                                  "Plug-in Gait's frontal knee moment), in the frame the dataset exported it (not "
                                  "re-expressed in a tibial frame); first and second half-stance peaks and "
                                  "positive impulse in time (docs/methods.md §2.1-2.4). Datasets without a "
                                  "frontal-plane moment (GT23) have no measured KAM; the quasi-static lever-arm "
                                  "value is labelled ESTIMATE."),
        ("Medial tibiofemoral proxy", "F_vertical/2 + KAM/d with d = 0.04 m (OpenCap computeMCF, Lerner 2015; "
                                      "docs/methods.md §3.1), from external loads only: a lower-bound proxy, not a "
                                      "contact force (muscles add 2-3 BW in walking)."),
        ("Normalisation", "forces in body weights (m·g, g = 9.81 m/s²); moments in N·m/kg."),
    ]))
    alpha = config["stats"]["alpha"]
    boot = config["stats"]["bootstrap"]
    crosscheck = bool(config["stats"].get("statsmodels_crosscheck", False))
    s.subsections.append(Section("Statistics", items=[
        ("Contrasts", "; ".join(f"{c.id}: {c.describe()} (family {c.family})" for c in contrasts)),
        ("Paired analysis", "subject means per level (kept cycles of both sides pooled); mean difference with "
                            f"{100 * (1 - alpha):g} % CI, paired t and Wilcoxon signed-rank tests, Cohen's d_z "
                            "(CI by noncentral-t inversion) and Hedges' g_av (Lakens 2013; docs/methods.md §6.3)."),
        ("Multiplicity", "Holm (1979) within each family and dataset, over the measures tested; a contrast is its "
                         "own family unless the config declares a grouping. A measure that is an algebraic function "
                         "of another in the same comparison (pfj_force_peak_n of pfj_force_peak, the %BW·Ht KAM of "
                         "the N·m/kg KAM, cadence of stride time, stride length of stride time on a treadmill at one "
                         "belt speed) is tested once, as the other, and reported as derived (role, tested_as). "
                         "p_holm / lmm_p_holm carry the Holm adjustment (p_adjustment says over which tests); every "
                         "confidence interval of the results tables is a per-test interval, not adjusted "
                         "(ci_adjustment). The claims scorecard is its own family with Bonferroni-adjusted "
                         "intervals (below)."),
        ("Mixed model", "lme4-equivalent linear mixed model on cycle-level values: level fixed, covariates "
                        "centred, subject random intercept, plus a random slope for level when at least 6 subjects "
                        "have 2 cycles at each level and the slope fit converged and is not singular (lme4's "
                        "isSingular rule on the relative covariance factor, tolerance 1e-4: a scale-free rule, so "
                        "the structure does not change with the outcome's unit). Fitted by REML with the package's "
                        "profiled-REML engine (the criterion lme4 minimises; several starts; convergence on the "
                        "projected gradient; the outcome centred on its mean, which changes only the intercept, and "
                        "the engine's sums of squares taken of its least-squares residual, which changes no estimate: "
                        "both keep the criterion's rounding error far below the convergence tolerance), "
                        + ("cross-checked against statsmodels MixedLM on every model (the lower REML criterion "
                           "wins; lmm_fitter says whose optimum is reported). "
                           if crosscheck else
                           "not refitted by statsmodels in this run (stats.statsmodels_crosscheck: false; the "
                           "test suite checks the engine against lme4 and statsmodels MixedLM). ")
                        + "SE: lme4's vcov, sigma² (X'V⁻¹X)⁻¹ at the REML "
                        "estimate (lmm_se_method); t tests and 95 % CIs with Satterthwaite degrees of freedom "
                        "computed as lmerTest does (Kuznetsova et al. 2017). Estimates, SEs, df and p values "
                        "agree with lme4/lmerTest (Bates et al. 2015) on reference data."),
        ("Cluster bootstrap", f"subject-level cluster bootstrap-t ({boot['n']} resamples, seed {boot['seed']}): "
                              "subjects resampled, the same model refitted by the engine, the CI from the quantiles "
                              "of (estimate* − estimate)/SE*, SE* the cluster-robust (sandwich) SE of each refit "
                              "(Davison & Hinkley 1997 §5.2.1; Cameron, Gelbach & Miller 2008): percentile "
                              "intervals under-cover with about 12 subjects."),
        ("Covariate-adjusted contrasts", "covariates enter the mixed model only: for a contrast with a speed "
                                        "covariate the paired columns compare subject means pooled over each "
                                        "level's own speeds (unadjusted), and the speed-adjusted direction effect "
                                        "is the mixed-model estimate (lmm_*), extrapolated where the directions' "
                                        "speeds do not overlap."),
        ("Equivalence", "TOST (statsmodels ttost_paired) on subject means within ± the smallest effect size of "
                        "interest set in config (stats.sesoi), 90 % CI, per test (docs/methods.md §6.4)."),
        ("Waveforms", "SPM1D paired t on subject-mean curves: a one-sample SPM{t} of the difference curves at "
                      "every node (spm1d.stats.ttest(ya − yb)); nodes where the differences have zero variance are "
                      "named and left out of the random field; Šidák within a knee and an EMG family "
                      "(docs/methods.md §6.1); see the waveform section."),
        ("Meta-analysis", "random-effects pooling of Hedges' g (BW − FW) from published means/SDs and this run's "
                          "datasets, with Hartung-Knapp-Sidik-Jonkman t intervals (k − 1 df), only for strata with "
                          "at least 3 studies; walking and running, and speed-matched, not matched and not reported "
                          "speed matching, are separate strata (docs/methods.md §6.6)."),
        ("Plausibility rules", "a per-cycle rule that fails flags only the measure family it governs (e.g. every "
                               "patellofemoral value of that cycle), never the cycle's kinematics, EMG or other "
                               "measures; the QC section counts per condition how many cycles each rule flagged and "
                               "warns when the rates differ between the two levels of a contrast (docs/methods.md "
                               "§1.7). Unit and sign checks act on whole trials and stop the run."),
        ("Claims", "verdict rule fixed in config/claims.yaml before the data are seen; the claims are one "
                   "confirmatory family with Bonferroni-adjusted intervals, and a claim whose interval lies inside "
                   "± its smallest effect size of interest is 'negligible', not supported (docs/methods.md §8). When "
                   "every subject differs by the same amount (e.g. toe-first contact in every backward and no "
                   "forward cycle) the t interval is undefined; the claim's interval is then the sign-test "
                   "interval for the median difference (Conover 1999), which is that common difference."),
    ]))
    names = sorted(measures["measure"].unique()) if len(measures) else []
    rows = []
    for name in names:
        m = describe(name)
        rows.append({"measure": name, "unit": m.unit, "window": m.window, "definition": m.description,
                     "reference": m.reference})
    s.subsections.append(Section("Measures", tables=[("", pd.DataFrame(rows))]))
    return s


#: What ingest recorded per trial (trials table columns) and how the QC section names it.
INGEST_NOTES = {
    "missing_outputs": "model outputs of the map not in the file",
    "missing_markers": "markers of the map not found",
    "missing_emg": "EMG channels of the map not in the file",
    "unmapped_analogs": "analog channels not in the map (not used)",
    "gaps": "invalid samples and gaps",
    "notes": "adapter notes",
}
_STREAMS = ("kinematics", "forces", "emg")


def partial_trials(trials: pd.DataFrame) -> pd.DataFrame:
    """Trials that lack a stream or gave no kept cycle: what they have and what they lack."""
    cols = ["dataset", "subject", "trial", "has", "lacks", "n_cycles_kept"]
    if trials.empty:
        return pd.DataFrame(columns=cols)
    rows = []
    for r in trials.to_dict("records"):
        present = [st for st in _STREAMS if pd.notna(r.get(f"{st}_rate_hz"))]
        lacks = [st for st in _STREAMS if st not in present]
        kept = r.get("n_cycles_kept")
        kept = int(kept) if pd.notna(kept) else 0
        if lacks or kept == 0:
            rows.append({"dataset": r["dataset"], "subject": r["subject"], "trial": r["trial"],
                         "has": ", ".join(present) or "nothing", "lacks": ", ".join(lacks) or "-",
                         "n_cycles_kept": kept})
    return pd.DataFrame(rows, columns=cols)


def ingest_notes(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per trial and kind of remark that ingest recorded (long table)."""
    cols = ["dataset", "subject", "trial", "what", "detail"]
    rows = []
    for r in trials.to_dict("records") if len(trials) else []:
        for key, what in INGEST_NOTES.items():
            value = r.get(key)
            if isinstance(value, str) and value.strip():
                rows.append({"dataset": r["dataset"], "subject": r["subject"], "trial": r["trial"],
                             "what": what, "detail": value})
    return pd.DataFrame(rows, columns=cols)


def corrections_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per automatic correction an adapter applied (``trials.corrections``, ``" | "``-separated)."""
    cols = ["dataset", "subject", "trial", "correction"]
    if trials.empty or "corrections" not in trials.columns:
        return pd.DataFrame(columns=cols)
    rows = [{"dataset": r.dataset, "subject": r.subject, "trial": r.trial, "correction": fix}
            for r in trials.itertuples(index=False)
            for fix in str(r.corrections or "").split(" | ") if fix.strip()]
    return pd.DataFrame(rows, columns=cols)


def _qc(trials, cycles, quality, exclusions, measures=None, checks=None, flags=None, balance=None) -> Section:
    s = Section("Quality control")
    fixes = corrections_table(trials)
    if len(fixes):
        s.paragraphs.append(f"Automatic corrections: the adapters corrected {len(fixes)} assumption(s) about the data "
                            f"in {fixes[['dataset', 'subject', 'trial']].drop_duplicates().shape[0]} trial(s), "
                            "each checked on the data itself (listed below; also shown as warnings when the run "
                            "ran).")
        s.tables.append(("Automatic corrections applied to the data", fixes))
    else:
        s.paragraphs.append("Automatic corrections: none was needed.")
    if len(trials):
        cols = [c for c in ("dataset", "subject", "trial", "condition", "direction", "speed_mps", "mass_kg",
                            "mass_source", "kinetic_sides", "n_cycles_kept", "n_cycles_rejected", "event_methods",
                            "n_contacts_toe_first", "n_contacts_heel_first", "n_contacts_flat", "qc_exclusion")
                if c in trials.columns]
        s.tables.append(("Trials and cycles (mass_source: where each trial's body mass came from; contacts: kept "
                         "cycles by measured contact pattern, docs/methods.md §4.8; qc_exclusion: why a trial has no "
                         "kept cycle)", trials[cols]))
        partial = partial_trials(trials)
        if len(partial):
            s.paragraphs.append(f"{len(partial)} trial(s) lack a stream (kinematics: model outputs or markers; "
                                "forces: force plates or belts; emg) or gave no kept gait cycle; they are listed "
                                "below. A trial without kinematics or forces has no detected gait events: its data "
                                "(EMG included) enter cycles only through events stored in the file.")
            s.tables.append(("Partial trials: what each has and lacks", partial))
        notes = ingest_notes(trials)
        if len(notes):
            s.tables.append(("What ingest noticed, per trial", notes))
    if checks is not None and len(checks):
        _data_checks(s, checks)
    if len(cycles):
        rej = cycles[cycles["qc_status"] != "kept"]
        if len(rej):
            # by condition too: a rule that removes one condition's cycles more than the other's must show it
            counts = (rej.assign(reason=rej["qc_reason"].fillna("").replace("", "unspecified"))
                      .groupby(["dataset", "condition", "reason"]).size().rename("cycles").reset_index())
            s.tables.append(("Rejected cycles by condition and reason", counts))
        no_kinetics = cycles[(cycles["qc_status"] == "kept") & ~cycles["kinetics_valid"].astype(bool)
                             & cycles["qc_flags"].fillna("").str.contains("kinetics excluded")]
        if len(no_kinetics):
            s.tables.append(("Kept cycles whose kinetics were excluded (e.g. a foot on the other belt)",
                             no_kinetics[["dataset", "subject", "trial", "condition", "side", "cycle", "qc_flags"]]))
        methods = cycles[cycles["qc_status"] == "kept"].groupby(["dataset", "event_method", "kind"]).size() \
            .rename("cycles").reset_index()
        s.tables.append(("Event detection method of kept cycles", methods))
    if len(trials) and "cycle_notes" in trials.columns:
        notes = trials.loc[trials["cycle_notes"].fillna("") != "", ["dataset", "subject", "trial", "cycle_notes"]]
        if len(notes):
            s.tables.append(("Event detection notes", notes))
    if len(quality):
        bad = quality[quality["status"] != "used"]
        s.paragraphs.append(f"EMG channels (one decision per subject and channel, applied to all its trials): "
                            f"{int((quality['status'] == 'used').sum())} used, {len(bad)} excluded.")
        if "form" in quality.columns:
            forms = quality[~quality["form"].isin(["raw"])]
            if len(forms):
                s.tables.append(("EMG channels not holding raw EMG (processed with the low-pass only, no "
                                 "band-pass)", forms[["dataset", "subject", "channel", "form", "status"]]))
        if len(bad):
            s.tables.append(("Excluded EMG channels", bad[["dataset", "subject", "channel", "reason"]]))
        gone = muscles_excluded(quality)
        gone = gone[gone["all_excluded"]]
        if len(gone):
            s.tables.append(("Muscles excluded by QC for every subject (no result can rest on them)",
                             gone[["dataset", "muscle", "n_subjects", "reasons"]]))
    if measures is not None and len(measures) and "qc_status" in measures.columns:
        miss = measures[measures["qc_status"] == "missing"]
        if len(miss):
            counts = miss.groupby(["dataset", "measure", "qc_reason"]).size().rename("cycles").reset_index() \
                .rename(columns={"qc_reason": "reason"})
            s.tables.append(("Measures that could not be computed for a kept cycle", counts))
    if len(exclusions):
        s.tables.append(("Subjects excluded from tests: missing a level (paired analysis only), or left without "
                         "any value of the measure by quality control (every test of it)", exclusions))
    else:
        s.paragraphs.append("Every subject had data at both levels of every test it entered.")
    _plausibility_qc(s, flags, balance)
    return s


def _plausibility_qc(s: Section, flags: pd.DataFrame | None, balance: pd.DataFrame | None) -> None:
    """Cycles flagged by each plausibility rule per condition, and their balance within each contrast."""
    if flags is None or len(flags) == 0:
        return
    s.paragraphs.append("Plausibility rules (docs/methods.md §1.7): a rule that fails flags only the measure "
                        "family named in 'flags' for that cycle; those values are left out of every analysis, the "
                        "cycle's other measures are kept. Cycles checked and flagged per condition:")
    s.tables.append(("Plausibility flags per condition", flags[["dataset", "condition", "rule", "flags", "n_cycles",
                                                               "n_flagged", "pct_flagged"]]))
    if balance is None or len(balance) == 0:
        return
    warn = balance[balance["warning"].astype(bool)]
    if len(warn):
        for note in warn["note"]:
            s.paragraphs.append(f"{note}.")
    else:
        s.paragraphs.append("No rule flagged cycles at different rates in the two levels of a contrast (Fisher's "
                            "exact test p >= 0.05 and a difference below 5 percentage points everywhere).")
    shown = balance[(balance["flagged_a"] + balance["flagged_b"]) > 0]
    if len(shown):
        s.tables.append(("Plausibility flags by contrast level (rules that flagged at least one cycle)",
                         shown[["contrast", "dataset", "rule", "n_a", "flagged_a", "pct_a", "n_b", "flagged_b",
                                "pct_b", "p_fisher", "warning"]]))


def _data_checks(s: Section, checks: pd.DataFrame) -> None:
    """Checks of the source files on the data (docs/methods.md §0.4): counts, corrections and warnings."""
    counts = checks.groupby(["dataset", "check", "status"]).size().rename("trials").reset_index()
    s.tables.append(("Checks on the data of every trial (docs/methods.md §0.4)", counts))
    notable = checks[checks["status"] != "passed"]
    if len(notable):
        s.tables.append(("Data checks that corrected, warned, were overridden or could not run",
                         notable[["dataset", "subject", "trial", "check", "status", "detail"]]))
    mass = checks[(checks["check"] == "body_mass") & checks["value"].notna()]
    if len(mass):
        by_subject = mass.groupby(["dataset", "subject"]).agg(
            estimate_kg=("value", "median"), table=("expected", "first"), status=("status", "first")).reset_index()
        s.tables.append(("Body mass: the table's value and the value the belt forces imply "
                         "(median over trials)", by_subject))


#: Columns of the results tables, split so each fits a page: paired, effect sizes, mixed model.
PAIRED_COLUMNS = ["dataset", "measure", "unit", "role", "n_subjects", "mean_a", "mean_b", "mean_diff", "ci_low",
                  "ci_high", "p_t", "p_wilcoxon", "p_holm"]
EFFECT_SIZE_COLUMNS = ["dataset", "measure", "n_subjects", "dz", "dz_ci_low", "dz_ci_high", "g_av", "paired_note"]
MIXED_COLUMNS = ["dataset", "measure", "unit", "lmm_estimate", "lmm_se", "lmm_df", "lmm_ci_low", "lmm_ci_high",
                 "lmm_boot_ci_low", "lmm_boot_ci_high", "lmm_p", "lmm_p_holm", "lmm_random_effects", "lmm_flag"]
MIXED_COVARIATE_COLUMNS = ["dataset", "measure", "unit", "lmm_speed_mps_estimate", "lmm_speed_mps_ci_low",
                           "lmm_speed_mps_ci_high"]
EQUIVALENCE_COLUMNS = ["dataset", "measure", "unit", "mean_diff", "sesoi", "tost_ci90_low", "tost_ci90_high",
                       "tost_p", "equivalent"]


def _lmm_state(row: Mapping[str, Any]) -> tuple[bool, bool]:
    """(not converged, singular) of a results row's mixed model; a missing or NA flag is neither."""
    conv, sing = row.get("lmm_converged"), row.get("lmm_singular")
    return (conv is not None and pd.notna(conv) and not bool(conv),
            sing is not None and pd.notna(sing) and bool(sing))


def lmm_flags(r: pd.DataFrame) -> pd.Series:
    """Per row: why a mixed-model estimate must not be read as it is (not converged, singular), or ''."""
    def one(row) -> str:
        out = []
        not_converged, singular = _lmm_state(row)
        if not_converged:
            out.append("NOT CONVERGED")
        if singular:
            out.append("singular")
        if pd.isna(row.get("lmm_estimate")) and str(row.get("lmm_note") or ""):
            out.append("not fitted")
        return ", ".join(out)
    return pd.Series([one(row) for row in r.to_dict("records")], index=r.index, dtype=object)


def _results(results, contrasts, alpha) -> Section:
    s = Section("Results")
    if results.empty:
        s.paragraphs.append("No contrast applies to the data of this run.")
        return s
    for c in contrasts:
        r = results[results["contrast"] == c.id]
        if r.empty:
            continue
        r = r.assign(lmm_flag=lmm_flags(r))
        sub = Section(c.label)
        tested = r[r["role"] == "tested"] if "role" in r.columns else r
        m = int(tested["m_family"].max()) if "m_family" in tested.columns and len(tested) else len(tested)
        primary, sensitivity = (("Mixed model", "Paired analysis") if c.primary == "mixed"
                                else ("Paired analysis", "Mixed model"))
        sub.paragraphs.append(
            f"Effect = {c.levels[0]} − {c.levels[1]} ({c.describe()}). Primary estimate: {primary.lower()} "
            f"(config stats.contrasts[].primary); {sensitivity.lower()}: sensitivity analysis. Every CI is a "
            f"per-test {100 * (1 - alpha):g} % interval, not adjusted for multiplicity; Holm p values are adjusted "
            f"within family '{c.family}' and dataset (over {m} tests per dataset). A derived measure (role = "
            "derived) is an algebraic function of a tested measure, reported but not tested.")

        def part(cols: list[str]) -> pd.DataFrame:
            keep = [k for k in cols if k in r.columns and (k in ("dataset", "measure") or r[k].notna().any()
                                                           and (r[k].astype(str) != "").any())]
            return r[keep]

        paired = ("Paired analysis: means of subject means at each level, mean difference with its CI, paired "
                  "t, Wilcoxon signed-rank and Holm-adjusted p", part(PAIRED_COLUMNS))
        mixed = ("Mixed model on cycle values (lme4-equivalent REML, Satterthwaite df, cluster bootstrap-t "
                 "interval); Flag: not converged or singular fits, whose numbers must not be used", part(MIXED_COLUMNS))
        ordered = [mixed, paired] if c.primary == "mixed" else [paired, mixed]
        sub.tables.append((f"{primary} (primary). " + ordered[0][0], ordered[0][1]))
        sub.tables.append((f"{sensitivity} (sensitivity). " + ordered[1][0], ordered[1][1]))
        if "lmm_speed_mps_estimate" in r.columns and r["lmm_speed_mps_estimate"].notna().any():
            sub.tables.append(("Mixed model: the speed covariate's slope (per m/s)", part(MIXED_COVARIATE_COLUMNS)))
        sub.tables.append(("Standardised effect sizes (Cohen's d_z with its CI, Hedges' g_av; the note says why "
                           "one is not defined)",
                           part(EFFECT_SIZE_COLUMNS)))
        if "sesoi" in r.columns and r["sesoi"].notna().any():
            eq = r[r["sesoi"].notna()][[k for k in EQUIVALENCE_COLUMNS if k in r.columns]]
            sub.tables.append(("Equivalence (TOST within ± the smallest effect size of interest; per-test 90 % CI, "
                               "no multiplicity adjustment)", eq))
        notes = r.loc[r["lmm_note"].fillna("") != "", ["dataset", "measure", "lmm_note"]] \
            if "lmm_note" in r.columns else pd.DataFrame()
        if len(notes):
            sub.tables.append(("Mixed-model notes (fallbacks and warnings)", notes))
        s.subsections.append(sub)
    return s


_LOAD_MEASURES = ("knee_extensor_moment_peak", "knee_flexor_moment_peak", "pfj_force_peak", "pfj_force_peak_n",
                  "pfj_stress_peak", "kam_peak1", "kam_peak2", "kam_peak1_bwht", "kam_est_peak1",
                  "medial_load_proxy_peak", "vgrf_peak1", "vgrf_loading_rate")


def _knee_load(measures: pd.DataFrame) -> Section:
    """Knee-load measures by dataset and condition, with the method behind each value."""
    s = Section("Knee load by condition")
    if measures.empty:
        s.paragraphs.append("No measures.")
        return s
    kept = measures[(measures["qc_status"] == "kept") & measures["measure"].isin(_LOAD_MEASURES)]
    if kept.empty:
        s.paragraphs.append("No kinetics-valid stance in the data of this run: no knee-load measure.")
        return s
    per_subject = kept.groupby(["dataset", "condition", "measure", "unit", "method", "subject"],
                               dropna=False)["value"].mean()
    table = per_subject.groupby(["dataset", "condition", "measure", "unit", "method"], dropna=False).agg(
        n_subjects="count", mean="mean", sd="std").reset_index()
    s.paragraphs.append("Mean and SD across subjects of subject means (kept cycles, both sides). 'method' says how "
                        "each value was obtained: the patellofemoral coefficient sets, the knee adduction moment "
                        "from the dataset's own inverse dynamics or, labelled ESTIMATE, from the quasi-static "
                        "lever arm.")
    s.tables.append(("", table[["dataset", "condition", "measure", "unit", "n_subjects", "mean", "sd", "method"]]))
    return s


def _scorecard(claims: pd.DataFrame, config) -> Section:
    s = Section("Claims scorecard")
    if claims.empty:
        s.paragraphs.append("No claims configured (config key 'claims').")
        return s
    tested = claims[claims["verdict"] != "not testable"]
    m = int(tested["m"].max()) if "m" in claims.columns and len(tested) else 0
    level = f"{100 * float(tested['ci_level'].iloc[0]):.4g} %" if m else "n/a"
    s.paragraphs.append("Popular claims about backward walking, each stated as a measure, a BW vs FW contrast, an "
                        "expected direction and a smallest effect size of interest (SESOI) in config/claims.yaml, "
                        "with the verdict rule fixed there before the data were seen (estimate: "
                        + str(claims["estimate_kind"].iloc[0]) + " difference BW − FW). The claims are one "
                        f"confirmatory family of m = {m} tests: every interval below is Bonferroni-adjusted "
                        f"({level} t interval; p_bonferroni = min(1, m p)), so the intervals hold together with "
                        "95 % confidence. A claim whose interval lies inside ± its SESOI is 'negligible' (the "
                        "effect is too small to matter, even if it excludes 0); an equivalence claim is "
                        "supported when its interval lies inside ± the SESOI.")
    if len(tested):
        per = tested.groupby("dataset")["claim_id"].nunique()
        s.paragraphs.append("Each verdict rests on the dataset in the 'dataset' column (a claim is scored separately "
                            "in every dataset where its contrast applies; the contrast says how): "
                            + "; ".join(f"{d}: {n} claim(s)" for d, n in per.items()) + ".")
    untestable = claims[(claims["verdict"] == "not testable") & (claims["measure"].fillna("") == "")]
    if len(untestable):
        s.paragraphs.append("Claims the data cannot test (listed with the reason, not in the family): "
                            + "; ".join(f"“{r.claim}”: {r.reason}" for r in untestable.itertuples(index=False))
                            + ".")
    if "interpretation" in claims.columns:
        read = claims[claims["interpretation"].astype(object).fillna("") != ""].drop_duplicates("claim_id")
        if len(read):
            s.paragraphs.append("Interpretations (the claim's words admit several readings; this is the one "
                                "tested): " + "; ".join(f"“{r.claim}”: {r.interpretation}"
                                                        for r in read.itertuples(index=False)) + ".")

    def effect(r) -> str:
        if not pd.notna(r["estimate"]):
            return ""
        return f"{fmt(r['estimate'])} ({fmt(r['ci_low'])} to {fmt(r['ci_high'])}) {r['unit']}"

    table = claims.assign(effect=claims.apply(effect, axis=1) if len(claims) else "")
    cols = ["claim", "measure", "effect", "expected", "sesoi", "verdict", "reason", "dataset", "contrast",
            "p_bonferroni", "n_subjects"]
    s.tables.append(("Effect: BW − FW estimate (Bonferroni-adjusted interval) in the measure's unit",
                     table[[c for c in cols if c in table.columns]]))
    return s


def _figure_caption(stem: str, contrasts_by_id: Mapping[str, Contrast]) -> tuple[str, str, str | None]:
    """(title, caption, contrast id or None) of a figure file stem."""
    if stem.startswith("forest_"):
        measure = stem[len("forest_"):]
        return (f"Forest plot, {measure_label(measure)}", "Hedges' g (BW − FW) with 95 % CI of each published study "
                "(green circles) and dataset of this run (vermillion squares), marker area ∝ random-effects "
                "weight; diamonds: pooled estimate per stratum (black: walking, grey: running). Walking and "
                "running are never pooled together.", None)
    if stem.startswith("spm_"):
        for family in ("knee", "emg"):
            if stem.endswith(f"_{family}"):
                cid = stem[len("spm_"):-len(f"_{family}")]
                title, caption = FIGURE_CAPTIONS[f"spm_{family}"]
                label = contrasts_by_id[cid].label if cid in contrasts_by_id else cid
                return f"{title}: {label}", caption, cid
    title, caption = FIGURE_CAPTIONS.get(stem, (stem, ""))
    return title, caption, None


def _meta_analysis(studies: pd.DataFrame | None, pooled: pd.DataFrame | None, config) -> Section:
    """Published evidence pooled with this run's datasets (random effects, walking and running apart)."""
    s = Section("Published evidence: meta-analysis")
    meta = config.get("meta_analysis", {})
    if studies is None or pooled is None:
        s.paragraphs.append("Not run (config key meta_analysis.literature is null).")
        return s
    method = {"pm": "Paule-Mandel", "dl": "DerSimonian-Laird"}.get(meta.get("method"), meta.get("method"))
    s.paragraphs.append(
        f"Hedges' g of BW − FW from published group means and SDs ({meta.get('literature')}; where in each paper "
        "every number was read is recorded there) and from this run's datasets (contrast(s) "
        f"{', '.join(meta.get('contrasts', []))}: subject means with the observed FW-BW correlation), pooled "
        f"per measure with a random-effects model ({method} tau², statsmodels; docs/methods.md §6.6) and a "
        "Hartung-Knapp-Sidik-Jonkman 95 % interval (t with k − 1 df, Hartung & Knapp 2001; Sidik & Jonkman "
        "2002), which keeps its coverage with few studies. Published paired designs do not report their "
        f"correlation: r = {meta.get('assumed_r')} is assumed (Follmann et al. 1992), which sets their variances "
        "and weights but not their g. Strata are never pooled together: walking and running, and within each, "
        "studies with forward and backward at the same speed, at different speeds, and with speed matching not "
        f"reported. A stratum with fewer than {meta.get('min_studies')} studies is listed but not pooled. Study "
        "CIs are each study's own normal 95 % interval.")
    if studies.empty:
        s.paragraphs.append("No published or dataset effect maps to a measure of this pipeline.")
        return s
    walking = studies[studies["activity"] == "walking"] if "activity" in studies.columns \
        else studies[studies["stratum"].astype(str).str.startswith("walking")]
    if walking.empty or not (walking["source"] == "literature").any():
        s.paragraphs.append("No published study of backward WALKING reports group means and SDs usable for a "
                            "standardised mean difference; the published evidence here is from backward running, "
                            "a different task (higher loads, different technique), shown for context only.")
    side = datasets_side_by_side(studies)
    if len(side):
        s.tables.append(("Measures in more than one dataset of this run: each dataset's own effect, side by side "
                         "(Hedges' g, BW − FW, 95 % CI; n = pairing units; the contrast says at which speeds)", side))
    s.tables.append(("Pooled estimates", pooled[["measure", "stratum", "k", "k_literature", "k_dataset", "effect",
                                                 "ci_low", "ci_high", "tau2", "i2", "p_q", "note"]]))
    s.tables.append(("Pooled estimates (Hartung-Knapp-Sidik-Jonkman 95 % CI, df = k − 1)",
                     pooled[[c for c in ("measure", "stratum", "k", "k_literature", "k_dataset", "effect", "df",
                                         "ci_low", "ci_high", "p", "tau2", "i2", "p_q", "note")
                             if c in pooled.columns]]))
    s.tables.append(("Studies and datasets", studies[["measure", "stratum", "label", "source", "n", "effect",
                                                      "ci_low", "ci_high", "weight", "note"]]))
    return s


def datasets_side_by_side(studies: pd.DataFrame) -> pd.DataFrame:
    """One row per measure that two or more datasets of the run have: each dataset's g [CI] (n, contrast).

    Built from the meta-analysis study rows (``source == "dataset"``), so the
    effects are the ones the pooling uses. Columns: ``measure``, then one
    column per dataset.
    """
    if studies is None or studies.empty or "source" not in studies.columns:
        return pd.DataFrame()
    own = studies[(studies["source"] == "dataset") & studies["effect"].notna()]
    if own.empty:
        return pd.DataFrame()
    counts = own.groupby("measure")["label"].nunique()
    shared = own[own["measure"].isin(counts[counts >= 2].index)]
    if shared.empty:
        return pd.DataFrame()

    def cell(r) -> str:
        n = f"n = {int(r.n)}" if pd.notna(r.n) else "n = ?"
        return f"{fmt(r.effect)} [{fmt(r.ci_low)}, {fmt(r.ci_high)}] ({n}; {r.contrast})"

    shared = shared.assign(cell=[cell(r) for r in shared.itertuples(index=False)])
    table = shared.pivot_table(index="measure", columns="label", values="cell", aggfunc="first").fillna("")
    table.columns.name = None
    return table.reset_index()


def _figures(figures, spm: pd.DataFrame | None = None, contrasts: Sequence[Contrast] = ()) -> Section:
    """Every figure of the run; SPM figures only where their contrast was tested on that dataset."""
    s = Section("Figures")
    by_id = {c.id: c for c in contrasts}
    tested = set()
    if spm is not None and len(spm):
        tested = set(zip(spm["contrast"], spm["dataset"]))
    by_ds: dict[str, list[Figure]] = {}
    for f in figures:
        p = Path(f)
        dataset = p.parent.name
        title, caption, cid = _figure_caption(p.stem, by_id)
        if cid is not None and (cid, dataset) not in tested:
            continue  # the figure only says "not tested here"; the SPM section says why
        by_ds.setdefault(dataset, []).append(Figure(f"{dataset}: {title}", str(p), caption))
    for d, figs in by_ds.items():
        s.subsections.append(Section(d, figures=figs))
    return s


def _waveform_stats(spm: pd.DataFrame, clusters: pd.DataFrame, contrasts: Sequence[Contrast]) -> Section:
    """SPM1D results: what was tested, the corrected thresholds and every supra-threshold cluster."""
    s = Section("Waveform statistics (SPM1D)")
    s.paragraphs.append(
        "Paired SPM{t} on subject-mean time-normalised curves (one curve per subject and level, all kept cycles "
        "of both sides averaged): a one-sample SPM{t} of the subject-wise difference curves a − b at every node "
        "(spm1d.stats.ttest(ya − yb); two-tailed; random-field-theory threshold and cluster p values, Pataky "
        "2012; docs/methods.md §6.1). A level that is constant across subjects at some nodes (patellofemoral "
        "stress clamped at 0) is tested like any node; only nodes where the differences themselves have zero "
        "variance have no t statistic, and they are listed (untested_nodes). Two families per contrast and "
        "dataset, each at the family-wise alpha with the Šidák per-test level 1 − (1 − alpha)^(1/m): 'knee' (knee "
        "angle, moments, vertical GRF, patellofemoral force and stress) and 'emg' (one envelope per muscle); no "
        "correction across families, contrasts or datasets. Cluster extents are in % of the cycle domain (stride "
        "or stance). Covariate-adjusted contrasts have no waveform test (spm1d has no paired ANCOVA).")
    covariate = [c.label for c in contrasts if c.covariates]
    if spm.empty:
        s.paragraphs.append("No waveform test was run: no contrast without covariates has curves at both levels "
                            "in the data of this run.")
        return s
    if covariate:
        s.paragraphs.append("Not tested as waveforms (covariate-adjusted): " + "; ".join(covariate) + ".")
    for c in contrasts:
        r = spm[spm["contrast"] == c.id]
        if r.empty:
            continue
        sub = Section(c.label)
        sub.paragraphs.append(f"Effect = {c.levels[0]} − {c.levels[1]} ({c.describe()}).")
        cols = ["dataset", "family", "variable", "domain", "unit", "n_subjects", "n_excluded", "m",
                "alpha_corrected", "zstar", "n_clusters", "untested_nodes", "status"]
        sub.tables.append(("Variables tested (zstar: critical t)", r[[k for k in cols if k in r.columns]]))
        k = clusters[clusters["contrast"] == c.id] if len(clusters) else clusters
        if len(k):
            sub.tables.append((f"Supra-threshold clusters (sign a>b: {c.levels[0]} above {c.levels[1]})",
                               k[["dataset", "variable", "domain", "cluster", "start_pct", "end_pct",
                                  "extent_pct", "sign", "p"]]))
        else:
            sub.paragraphs.append("No supra-threshold cluster in any tested variable.")
        excluded = r[r["n_excluded"].fillna(0) > 0] if "n_excluded" in r.columns else r.iloc[:0]
        if len(excluded):
            sub.paragraphs.append("Subjects without curves at both levels (excluded from that test): " + "; ".join(
                f"{row.dataset} {row.variable}: {row.excluded_subjects}" for row in excluded.itertuples()))
        s.subsections.append(sub)
    return s


def _references() -> Section:
    """Every work the methods cite (the registry behind docs/methods.md §9)."""
    from retrogait.report.references import REFERENCES, bibliography

    s = Section("References")
    s.paragraphs.extend(bibliography(REFERENCES))
    return s


def _limitations(trials, cycles, measures, results, contrasts,
                 dataset_limitations: Mapping[str, Sequence[str]] | None = None) -> Section:
    s = Section("What these data can and cannot show")
    p = s.paragraphs
    for d in sorted(dataset_limitations or {}):
        p.extend(dataset_limitations[d])
    if len(trials):
        n = trials.groupby("dataset")["subject"].nunique()
        p.append("Sample size: " + ", ".join(f"{d}: {k} subjects" for d, k in n.items()) +
                 ". With about a dozen subjects, only large within-subject effects are detectable; a non-"
                 "significant difference is not evidence of no difference (equivalence needs its own test).")
        surfaces = trials.groupby("dataset")["surface"].agg(lambda x: ", ".join(sorted(set(x))))
        p.append("Setting: " + "; ".join(f"{d}: {v}" for d, v in surfaces.items()) +
                 ". Treadmill and overground walking differ (belt speed is imposed; overground speed is "
                 "self-selected), so effects need not transfer between settings.")
        speeds = trials["speed_mps"].dropna()
        if speeds.empty:
            p.append("Speed: walking speed is not controlled or not recorded in these data; differences "
                     "between conditions may partly be speed effects.")
        else:
            p.append("Speed: forward and backward walking are compared at matched speed only where a contrast "
                     "says so; where directions are walked at different speeds, direction and speed are "
                     "confounded unless speed enters the model as a covariate, and then the direction effect "
                     "extrapolates beyond the speeds observed in one direction.")
            measured = trials[trials["notes"].fillna("").str.contains("speed_mps measured")] \
                if "notes" in trials.columns else trials.iloc[:0]
            if len(measured):
                p.append("Speed of overground takes (" + ", ".join(sorted(set(measured["dataset"]))) + ") is "
                         "measured from the root trajectory (median over 1 s windows), not imposed: as a "
                         "covariate it is an outcome of the same walking, not a design factor.")
    if len(cycles) and ((cycles["kind"] == "stance") & (cycles["qc_status"] == "kept")).any():
        p.append("Some cycles are stance phases only (no next foot strike was found), so stride measures "
                 "(stride time, stance %) come from fewer cycles than stance measures.")
    if len(measures) and not measures["measure"].str.startswith("kam_").any():
        p.append("Knee adduction moment: not available (no frontal-plane knee moment in these data).")
    p.append("Knee-load values are model estimates: the patellofemoral model sees only the net knee moment "
             "(co-contraction is ignored, flexor moments give zero load) and the medial tibiofemoral value is an "
             "external-load proxy, not a contact force.")
    p.append("EMG is normalised to a within-subject reference, so it compares conditions within a muscle; it "
             "does not compare muscles or subjects in absolute terms (that needs an MVC reference).")
    if not any(str(c.factor) == "direction" for c in contrasts) or (
            len(trials) and not (trials["direction"] == "BW").any()):
        p.append("No backward walking is in the data of this run: its contrasts illustrate the machinery "
                 "(the same statistics the forward vs backward comparison uses) but say nothing about "
                 "backward walking.")
    return s
