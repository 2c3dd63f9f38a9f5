rule fetch:
    """Download (or copy from a mirror) one subject's files, verifying checksums."""
    # on a cluster, downloads run where Snakemake runs (compute nodes often have no internet)
    localrule: True
    output:
        "data/raw/{dataset}/.provenance/{subject}.json",
    params:
        # sha256 of what the manifest declares for these files (URLs, sizes,
        # checksums, archive members, pinned lock entries): editing the
        # declaration refetches them, and ingest checks the record against it
        identity=lambda wildcards: RUN.identity(wildcards.dataset, wildcards.subject),
    log:
        "logs/fetch/{dataset}/{subject}.log",
    benchmark:
        "benchmarks/fetch/{dataset}/{subject}.tsv"
    conda:
        "../envs/retrogait.yaml"
    resources:
        network=1,
    script:
        "../scripts/fetch.py"
