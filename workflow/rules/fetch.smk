rule fetch:
    """Download (or copy from a mirror) one subject's files, verifying checksums."""
    # on a cluster, downloads run where Snakemake runs (compute nodes often have no internet)
    localrule: True
    output:
        "data/raw/{dataset}/.provenance/{subject}.json",
    log:
        "logs/fetch/{dataset}/{subject}.log",
    conda:
        "../envs/retrogait.yaml"
    resources:
        network=1,
    script:
        "../scripts/fetch.py"
