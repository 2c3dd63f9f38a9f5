"""Config and manifest validation: errors name the file, the key and a likely fix."""

import copy

import pytest
import yaml

from retrogait.config import deep_merge, load_config, load_yaml
from retrogait.errors import ConfigError
from retrogait.acquire.manifest import load_manifest
from retrogait.runconfig import load_run

CONFIG_SCHEMA = "workflow/schemas/config.schema.yaml"
MANIFEST_SCHEMA = "workflow/schemas/datasets.schema.yaml"


@pytest.fixture
def config(repo_root):
    return load_yaml(repo_root / "config" / "config.yaml")


@pytest.fixture
def manifest(repo_root):
    return load_yaml(repo_root / "config" / "datasets.yaml")


def test_shipped_config_and_manifest_are_valid(repo_root, config):
    run = load_run(config, root=repo_root)
    assert run.datasets == config["datasets"]
    assert len(run.subjects("biomechzoo-esmac")) == 12 if "biomechzoo-esmac" in run.datasets else True


def test_misspelt_top_level_key_is_named_with_a_suggestion(repo_root, config):
    bad = copy.deepcopy(config)
    bad["datsets"] = bad.pop("datasets")
    with pytest.raises(ConfigError) as err:
        load_config(bad, repo_root / CONFIG_SCHEMA, source="config.yaml")
    msg = str(err.value)
    assert "unknown key 'datsets'" in msg and "did you mean 'datasets'" in msg
    assert "'datasets' is a required property" in msg


def test_misspelt_nested_key_names_its_path(repo_root, config):
    bad = copy.deepcopy(config)
    bad["emg"]["envelope"]["lowpas_hz"] = 6
    with pytest.raises(ConfigError, match=r"unknown key 'lowpas_hz' \(did you mean 'lowpass_hz'\?\) in 'emg.envelope'"):
        load_config(bad, repo_root / CONFIG_SCHEMA)


def test_wrong_type_names_the_key_path(repo_root, config):
    bad = copy.deepcopy(config)
    bad["stats"]["contrasts"][0]["levels"] = ["only-one"]
    with pytest.raises(ConfigError, match=r"'stats.contrasts\[0\].levels'.*too short"):
        load_config(bad, repo_root / CONFIG_SCHEMA)


def test_unknown_dataset_id_lists_the_declared_ones(repo_root, config):
    bad = copy.deepcopy(config)
    bad["datasets"] = ["no-such-dataset"]
    with pytest.raises(ConfigError, match="unknown dataset.*no-such-dataset.*declares"):
        load_run(bad, root=repo_root)


def test_command_line_dataset_override_is_accepted(repo_root, config):
    run = load_run({**config, "datasets": ["gaitalytics"]}, root=repo_root)
    assert run.subjects("gaitalytics") == ["19290829m", "SI02"]


def _write(tmp_path, data):
    p = tmp_path / "datasets.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_manifest_bad_checksum_format(repo_root, tmp_path, manifest):
    bad = copy.deepcopy(manifest)
    bad["datasets"]["gaitalytics"]["files"][0]["sha256"] = "abc"
    with pytest.raises(ConfigError, match=r"datasets.gaitalytics.files\[0\].sha256.*does not match"):
        load_manifest(_write(tmp_path, bad), repo_root / MANIFEST_SCHEMA)


def test_manifest_missing_licence_is_named(repo_root, tmp_path, manifest):
    bad = copy.deepcopy(manifest)
    del bad["datasets"]["gaitalytics"]["licence"]
    with pytest.raises(ConfigError, match="'licence' is a required property in 'datasets.gaitalytics'"):
        load_manifest(_write(tmp_path, bad), repo_root / MANIFEST_SCHEMA)


def test_manifest_path_escaping_the_dataset_folder_is_refused(repo_root, tmp_path, manifest):
    bad = copy.deepcopy(manifest)
    bad["datasets"]["gaitalytics"]["files"][0]["path"] = "../../etc/passwd"
    with pytest.raises(ConfigError, match=r"files\[0\].path"):
        load_manifest(_write(tmp_path, bad), repo_root / MANIFEST_SCHEMA)


def test_manifest_duplicate_file_is_refused(repo_root, tmp_path, manifest):
    bad = copy.deepcopy(manifest)
    files = bad["datasets"]["gaitalytics"]["files"]
    files.append(dict(files[0]))
    with pytest.raises(ConfigError, match="lists file 'test_small.c3d' twice"):
        load_manifest(_write(tmp_path, bad), repo_root / MANIFEST_SCHEMA)


def test_manifest_misspelt_field_gets_a_suggestion(repo_root, tmp_path, manifest):
    bad = copy.deepcopy(manifest)
    bad["datasets"]["gaitalytics"]["licnce"] = bad["datasets"]["gaitalytics"].pop("licence")
    with pytest.raises(ConfigError, match="unknown key 'licnce' \\(did you mean 'licence'\\?\\)"):
        load_manifest(_write(tmp_path, bad), repo_root / MANIFEST_SCHEMA)


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = tmp_path / "broken.yaml"
    p.write_text("datasets: [a, b\nmanifest: x\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: malformed YAML \(line \d+"):
        load_yaml(p)


def test_unknown_adapter_is_named(repo_root, tmp_path, manifest, config):
    bad = copy.deepcopy(manifest)
    bad["datasets"]["gaitalytics"]["adapter"] = "nope"
    path = _write(tmp_path, bad)
    with pytest.raises(ConfigError, match="dataset 'gaitalytics': unknown adapter 'nope'"):
        load_run({**config, "datasets": ["gaitalytics"], "manifest": str(path), "external_folders": [str(tmp_path)]},
                 root=repo_root)


def test_meta_analysis_contrast_must_be_configured(repo_root, config):
    bad = {**config, "meta_analysis": {**config["meta_analysis"], "contrasts": ["bw_vs_fw_06"]}}
    with pytest.raises(ConfigError, match=r"meta_analysis.contrasts.*bw_vs_fw_06.*bw_vs_fw_0.6"):
        load_run(bad, root=repo_root)


def test_meta_analysis_literature_is_read_at_parse_time_and_can_be_switched_off(repo_root, config, tmp_path):
    run = load_run(config, root=repo_root)
    assert len(run.literature) >= 1 and set(run.literature["activity"]) <= {"walking", "running"}
    off = load_run({**config, "meta_analysis": {"literature": None}}, root=repo_root)
    assert off.literature is None
    broken = tmp_path / "lit.csv"
    broken.write_text("study,doi\nX,10.1/x\n")
    with pytest.raises(Exception, match="lit.csv.*missing required column"):
        load_run({**config, "meta_analysis": {"literature": str(broken)}, "external_folders": [str(tmp_path)]},
                 root=repo_root)


def test_jobs_load_the_run_lazily_but_parse_time_checks_everything(repo_root, config, tmp_path):
    broken = tmp_path / "lit.csv"
    broken.write_text("study,doi\nX,10.1/x\n")
    cfg = {**config, "meta_analysis": {"literature": str(broken)}, "external_folders": [str(tmp_path)]}
    run = load_run(cfg, root=repo_root, eager=False)  # a job: the workflow checked this at parse time
    assert run.config["meta_analysis"]["literature"] == str(broken)
    with pytest.raises(Exception, match="lit.csv"):
        run.literature  # noqa: B018 - still checked when a job uses it
    with pytest.raises(Exception, match="lit.csv"):
        load_run(cfg, root=repo_root)


# --- nested --config overrides (Snakemake passes values below the top level as text) ---------------

def _snakemake_parsed(*entries: str) -> dict:
    """What ``snakemake --config ENTRY ...`` hands the workflow (Snakemake's own parser)."""
    from snakemake.cli import parse_config

    return parse_config(list(entries))


def test_nested_command_line_values_get_the_schema_types(repo_root, config):
    from retrogait.config import coerce_overrides

    raw = _snakemake_parsed('stats={"alpha": 0.01, "bootstrap": {"n": 199, "seed": 7}}',
                            'fetch={"progress": false, "timeout_s": 1e-3, "retries": 3}',
                            'emg={"normalisation": {"reference_condition": null}}')
    assert raw["stats"]["alpha"] == "0.01" and raw["stats"]["bootstrap"]["n"] == "199"  # the problem
    typed = coerce_overrides(raw, repo_root / CONFIG_SCHEMA)
    assert typed["stats"] == {"alpha": 0.01, "bootstrap": {"n": 199, "seed": 7}}
    assert typed["fetch"] == {"progress": False, "timeout_s": 0.001, "retries": 3}
    assert typed["emg"]["normalisation"]["reference_condition"] is None
    assert raw["stats"]["alpha"] == "0.01", "the input is not modified"
    loaded = load_config(deep_merge(config, typed), repo_root / CONFIG_SCHEMA)  # as the workflow merges them
    assert loaded["stats"]["alpha"] == 0.01 and loaded["stats"]["bootstrap"]["n"] == 199


def test_text_fields_stay_text_and_numbers_in_mixed_fields_become_numbers(repo_root):
    from retrogait.config import coerce_overrides

    raw = _snakemake_parsed('datasets=["123", gaitalytics]', 'report={"title": "2024"}',
                            'stats={"contrasts": [{"id": "s", "label": "1", "factor": "speed_mps", '
                            '"levels": [1.0, 0.6], "filter": {"direction": BW, "speed_mps": [0.6, 1.2]}}]}')
    typed = coerce_overrides(raw, repo_root / CONFIG_SCHEMA)
    assert typed["datasets"] == ["123", "gaitalytics"]        # items are strings only
    assert typed["report"]["title"] == "2024"                  # a string-only field
    contrast = typed["stats"]["contrasts"][0]
    assert contrast["id"] == "s" and contrast["label"] == "1"
    assert contrast["levels"] == [1.0, 0.6]                    # string or number: a number, as in config.yaml
    assert contrast["filter"] == {"direction": "BW", "speed_mps": [0.6, 1.2]}


def test_text_that_spells_no_allowed_type_is_left_for_validation_to_name(repo_root, config):
    from retrogait.config import coerce_overrides

    typed = coerce_overrides(_snakemake_parsed('stats={"alpha": "small", "bootstrap": {"n": 1.5}}'),
                             repo_root / CONFIG_SCHEMA)
    assert typed["stats"] == {"alpha": "small", "bootstrap": {"n": "1.5"}}
    with pytest.raises(ConfigError) as err:
        load_config(deep_merge(config, typed), repo_root / CONFIG_SCHEMA)
    assert "'stats.alpha': 'small' is not of type 'number'" in str(err.value)
    assert "'stats.bootstrap.n': '1.5' is not of type 'integer'" in str(err.value)


def test_unknown_override_keys_pass_through_for_validation(repo_root):
    from retrogait.config import coerce_overrides

    typed = coerce_overrides({"statz": {"alpha": "0.01"}}, repo_root / CONFIG_SCHEMA)
    assert typed == {"statz": {"alpha": "0.01"}}
    with pytest.raises(TypeError, match="mapping"):
        coerce_overrides(["alpha"], repo_root / CONFIG_SCHEMA)


# -- strict YAML, confined paths, safe ids (issue 12) -----------------------------------------

def test_a_key_repeated_in_a_mapping_is_refused_with_both_lines(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("a: 1\nb:\n  x: 1\n  y: 2\n  x: 3\n")
    with pytest.raises(ConfigError, match=r"c.yaml: malformed YAML \(line 5, column 3\): duplicate key 'x' "
                                          r"\(first given at line 3\)"):
        load_yaml(p)


def test_merge_keys_may_be_overridden_and_equal_keys_in_different_mappings_are_fine():
    from retrogait.config import parse_yaml

    data = parse_yaml("base: &b {x: 1, y: 2}\nother: {<<: *b, x: 5}\nthird: {x: 1}\n", source="t")
    assert data["other"] == {"x": 5, "y": 2} and data["third"] == {"x": 1}


def test_malformed_yaml_points_at_the_unfinished_construct():
    from retrogait.config import parse_yaml

    with pytest.raises(ConfigError, match=r"while parsing a flow sequence started at line 1"):
        parse_yaml("datasets: [a, b\nmirror: null\nfetch: {}\n", source="config.yaml")


def test_project_path_confines_paths_to_the_project_or_named_folders(tmp_path):
    from retrogait.config import project_path

    root = tmp_path / "project"
    (root / "config").mkdir(parents=True)
    assert project_path("config/x.yaml", root=root, key="claims") == (root / "config" / "x.yaml").resolve()
    for bad in ("../outside.yaml", "/etc/passwd", "config/../../outside.yaml"):
        with pytest.raises(ConfigError, match=r"config key 'claims' .* outside the project folder"):
            project_path(bad, root=root, key="claims")
    elsewhere = tmp_path / "maps"
    assert project_path(str(elsewhere / "m.yaml"), root=root, key="k", allowed=[str(elsewhere)]) == \
        (elsewhere / "m.yaml").resolve()
    (root / "link").symlink_to(tmp_path / "maps")  # a symbolic link does not open a way out
    with pytest.raises(ConfigError, match="outside the project folder"):
        project_path("link/m.yaml", root=root, key="k")


@pytest.mark.parametrize("value", ["..", ".", "a/b", "<script>", "", "x" * 65, "-x", "a b", None])
def test_unsafe_ids_are_refused(value):
    from retrogait.config import check_id

    with pytest.raises(ConfigError, match="not a safe identifier"):
        check_id(value, what="subject")


@pytest.mark.parametrize("value", ["AB01", "HC002D", "19290829m", "s-1.2_x"])
def test_safe_ids_pass(value):
    from retrogait.config import check_id

    assert check_id(value, what="subject") == value
