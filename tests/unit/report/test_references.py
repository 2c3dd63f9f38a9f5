"""The reference registry (retrogait.report.references) and docs/methods.md stay consistent with the code.

To regenerate the reference list at the end of docs/methods.md after citing
a new key: ``python tests/unit/report/test_references.py``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from retrogait.gait.catalog import MEASURES, describe
from retrogait.report.references import (DOI_PATTERN, REFERENCES, UNREGISTERED_CITATIONS, Reference, bibliography,
                                  format_reference, reference)

ROOT = Path(__file__).resolve().parents[3]
SRC = ROOT / "src" / "retrogait"
METHODS = ROOT / "docs" / "methods.md"
REF_HEADING = "## 9. References"

_LABEL = re.compile(r"^\s*\.\. \[([A-Za-z][\w]*)\]", re.MULTILINE)
_CITED_LABEL = re.compile(r"\[([A-Za-z][A-Za-z]*\d{4}[a-z]?)\]_")
_DOC_CITATION = re.compile(r"\[([A-Za-z]+\d{4}[a-z]?)\]")
_HEADING = re.compile(r"^#{2,4} (\d+(?:\.\d+)?)[ .]", re.MULTILINE)
_SECTION = re.compile(r"^(\d+)\.(\d+)$")


# ------------------------------------------------------------------ helpers
def _docstring_labels() -> dict[str, list[str]]:
    """``{label: [files]}`` of every ``.. [Key]`` definition and ``[Key]_`` use under src/retrogait."""
    found: dict[str, list[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for key in set(_LABEL.findall(text)) | set(_CITED_LABEL.findall(text)):
            found.setdefault(key, []).append(str(path.relative_to(ROOT)))
    return found


def _methods_parts() -> tuple[str, str]:
    text = METHODS.read_text(encoding="utf-8")
    assert REF_HEADING in text, f"docs/methods.md has no '{REF_HEADING}' heading"
    body, refs = text.split(REF_HEADING, 1)
    return body, refs


def _headings() -> set[str]:
    return set(_HEADING.findall(METHODS.read_text(encoding="utf-8")))


def _expand(spec: str) -> list[str]:
    """Section numbers in a reference spec: ``"0.2; 2.4 (KFM)"``, ``"1.1-1.4"``, ``"1.5, 1.7"``."""
    spec = spec.split("(", 1)[0]
    out: list[str] = []
    for part in re.split(r"[;,]", spec):
        part = part.strip()
        if not part:
            continue
        if "-" in part:
            lo, hi = (p.strip() for p in part.split("-", 1))
            m_lo, m_hi = _SECTION.match(lo), _SECTION.match(hi)
            assert m_lo and m_hi, f"bad section range {part!r}"
            assert m_lo.group(1) == m_hi.group(1), f"range {part!r} spans two chapters"
            out += [f"{m_lo.group(1)}.{k}" for k in range(int(m_lo.group(2)), int(m_hi.group(2)) + 1)]
        else:
            assert re.fullmatch(r"\d+(\.\d+)?", part), f"bad section number {part!r}"
            out.append(part)
    return out


def _measure_references() -> dict[str, str]:
    names = list(MEASURES) + ["emg_mean_vastus_lateralis", "emg_mean_stance_vastus_lateralis",
                              "emg_peak_rectus_femoris", "cci_rudolph_stance", "cci_falconer_winter_stance"]
    return {n: describe(n).reference for n in names}


def expected_reference_section(body: str) -> list[str]:
    """The reference list docs/methods.md must end with, from the keys cited in ``body``."""
    cited = sorted(set(_DOC_CITATION.findall(body)))
    key_of = {format_reference(reference(k)): k for k in cited}
    return [f"- **[{key_of[line]}]** {line}" for line in bibliography(cited)]


# ------------------------------------------------------------------ registry vs code
def test_every_docstring_label_is_registered():
    labels = _docstring_labels()
    assert len(labels) >= 20, f"label scan found too little ({sorted(labels)}): is the regex broken?"
    missing = {k: files for k, files in labels.items() if k not in REFERENCES}
    assert not missing, f"docstring labels without a REFERENCES entry: {missing}"


def test_docstring_labels_match_registry_year():
    for key in _docstring_labels():
        assert key.endswith(str(REFERENCES[key].year)), key


def test_keys_are_consistent():
    for key, ref in REFERENCES.items():
        assert ref.key == key
        assert re.fullmatch(r"[A-Za-z]+\d{4}[a-z]?", key), key
        assert ref.authors and ref.title and ref.journal, key


def test_dois_look_like_dois():
    with_doi = [r for r in REFERENCES.values() if r.doi]
    assert len(with_doi) >= 30
    for ref in with_doi:
        assert DOI_PATTERN.match(ref.doi), (ref.key, ref.doi)
        assert not ref.doi.lower().startswith(("doi:", "http")), (ref.key, ref.doi)
        assert ref.doi == ref.doi.strip() and " " not in ref.doi, (ref.key, ref.doi)


def test_every_reference_has_a_link():
    for ref in REFERENCES.values():
        assert ref.doi or ref.url.startswith("https://"), ref.key


def test_unregistered_citations_are_really_unregistered_and_explained():
    for text, why in UNREGISTERED_CITATIONS.items():
        assert why.strip(), text
        assert re.search(r"\d{4}", text), text


def test_reference_validates_its_fields():
    good = dict(key="Doe2020", authors="Doe J", year=2020, title="T", journal="J", doi="10.1000/x")
    Reference(**good)
    with pytest.raises(ValueError, match="DOI"):
        Reference(**{**good, "doi": "https://doi.org/10.1000/x"})
    with pytest.raises(ValueError, match="year"):
        Reference(**{**good, "year": 2019})
    with pytest.raises(ValueError, match="DOI or a URL"):
        Reference(**{**good, "doi": ""})
    with pytest.raises(dataclasses.FrozenInstanceError):
        REFERENCES["Zeni2008"].year = 2000  # type: ignore[misc]


# ------------------------------------------------------------------ public functions
def test_format_reference_known_answer():
    assert format_reference(reference("Zeni2008")) == (
        "Zeni JA Jr, Richards JG, Higginson JS (2008). Two simple methods for determining gait events during "
        "treadmill and overground walking using kinematic data. Gait Posture 27(4):710-714. "
        "https://doi.org/10.1016/j.gaitpost.2007.07.007")
    # no DOI: the URL is the link; a title ending in "?" gets no extra full stop
    assert format_reference(reference("Holm1979")) == (
        "Holm S (1979). A simple sequentially rejective multiple test procedure. Scand J Stat 6(2):65-70. "
        "https://www.jstor.org/stable/4615733")
    assert "who can hop? Knee Surg" in format_reference(reference("Rudolph2000"))
    # a book without volume/pages
    assert format_reference(reference("Davison1997")) == (
        "Davison AC, Hinkley DV (1997). Bootstrap Methods and their Application. Cambridge University Press. "
        "https://doi.org/10.1017/CBO9780511802843")


def test_unknown_key_names_close_matches():
    with pytest.raises(KeyError, match="did you mean 'Zeni2008'"):
        reference("zeni2008")
    with pytest.raises(KeyError) as err:
        reference("Lakens2014")
    assert "Lakens2013" in str(err.value) and "Lakens2017" in str(err.value)
    with pytest.raises(KeyError, match="unknown reference key 'Nobody1900'") as err:
        reference("Nobody1900")
    assert "did you mean" not in str(err.value)


def test_bibliography_sorts_by_author_then_year_and_dedupes():
    lines = bibliography(["Zeni2008", "Lakens2017", "Holm1979", "Lakens2013", "Zeni2008", "Sidak1967"])
    assert [line.split(" (")[0] for line in lines] == ["Holm S", "Lakens D", "Lakens D", "Šidák Z",
                                                       "Zeni JA Jr, Richards JG, Higginson JS"]
    assert "(2013)" in lines[1] and "(2017)" in lines[2]
    assert bibliography([]) == []
    with pytest.raises(KeyError, match="Pataky2012"):
        bibliography(["Zeni2008", "pataky2012"])


# ------------------------------------------------------------------ docs/methods.md
def test_methods_has_the_design_numbering():
    heads = _headings()
    for section in ["0.2", "1.1", "1.2", "1.3", "1.4", "1.5", "1.6", "1.7", "2.1", "2.2", "2.3", "2.4",
                    "3.1", "3.2", "4.1", "4.2", "4.3", "4.4", "4.5", "5.1", "5.2", "5.3", "5.4", "5.5", "5.6",
                    "6.1", "6.2", "6.3", "6.4", "6.5", "6.6", "7", "8", "9"]:
        assert section in heads, f"docs/methods.md has no heading '{section}'"


def test_measure_references_use_the_shipped_document():
    refs = _measure_references()
    stale = {n: r for n, r in refs.items() if "methods.md" in r and "docs/methods.md §" not in r}
    assert not stale, f"measure references still citing the unshipped design notes: {stale}"


def test_every_cited_section_exists():
    heads = _headings()
    checked = 0
    for name, ref in _measure_references().items():
        if "docs/methods.md §" not in ref:
            continue
        for section in _expand(ref.split("docs/methods.md §", 1)[1]):
            assert section in heads, f"{name}: {ref!r} cites §{section}, absent from docs/methods.md"
            checked += 1
    assert checked >= 30


def test_section_spec_parser():
    assert _expand("0.2; 2.4 (KFM)") == ["0.2", "2.4"]
    assert _expand("1.1-1.4 (van Eijden 1986 k)") == ["1.1", "1.2", "1.3", "1.4"]
    assert _expand("1.5, 1.7") == ["1.5", "1.7"]
    assert _expand("3.1 (OpenCap computeMCF, d = 0.04 m)") == ["3.1"]


def test_code_and_config_pointers_to_docs_methods_resolve():
    """Every 'docs/methods.md section N' / '§N' written in code or config exists as a heading."""
    heads = _headings()
    pattern = re.compile(r"docs/methods\.md (?:section |§ ?)?(\d+(?:\.\d+)?)")
    files = list(SRC.rglob("*.py")) + list((ROOT / "config").glob("*.yaml"))
    hits = 0
    for path in files:
        for section in pattern.findall(path.read_text(encoding="utf-8")):
            assert section in heads, f"{path.relative_to(ROOT)} cites docs/methods.md §{section}"
            hits += 1
    assert hits >= 1


def test_every_citation_in_methods_is_registered():
    body, _ = _methods_parts()
    cited = set(_DOC_CITATION.findall(body))
    assert len(cited) >= 30
    assert not cited - set(REFERENCES), f"unregistered citations in docs/methods.md: {cited - set(REFERENCES)}"


def test_methods_reference_list_is_generated_from_the_registry():
    body, refs = _methods_parts()
    listed = [line for line in refs.splitlines() if line.startswith("- ")]
    assert listed == expected_reference_section(body), (
        "docs/methods.md reference list is stale: run `python tests/unit/report/test_references.py`")


if __name__ == "__main__":  # regenerate the reference list of docs/methods.md
    text = METHODS.read_text(encoding="utf-8")
    head = text.split(REF_HEADING, 1)[0]
    comment = ("<!-- generated from retrogait.report.references.bibliography(<keys cited above>); "
               "tests/unit/report/test_references.py checks it -->")
    METHODS.write_text(head + REF_HEADING + "\n\n" + comment + "\n" + "\n".join(expected_reference_section(head))
                       + "\n", encoding="utf-8")
    print(f"rewrote the reference list of {METHODS}")
