rule ingest:
    """Read one subject's raw files with the dataset's adapter into canonical trials."""
    input:
        provenance="data/raw/{dataset}/.provenance/{subject}.json",
        adapter_config=adapter_config_files,
    output:
        subject_outputs(SUBJECT_FILES),
    params:
        code=CODE_VERSION,
        options=lambda wildcards: RUN.config["dataset_options"].get(wildcards.dataset, {}),
    log:
        "logs/ingest/{dataset}/{subject}.log",
    benchmark:
        "benchmarks/ingest/{dataset}/{subject}.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/ingest.py"
