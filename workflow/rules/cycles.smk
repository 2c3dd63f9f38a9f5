rule cycles:
    """Gait events, cycles with QC, EMG envelopes and time-normalised waveforms of one subject."""
    input:
        subject_outputs(SUBJECT_FILES),
    output:
        subject_outputs(CYCLE_FILES),
    params:
        code=CODE_VERSION,
        events=config["events"],
        emg=config["emg"],
        cycles=config["cycles"],
        knee_load=config["knee_load"],
    log:
        "logs/cycles/{dataset}/{subject}.log",
    benchmark:
        "benchmarks/cycles/{dataset}/{subject}.tsv"
    conda:
        "../envs/retrogait.yaml"
    script:
        "../scripts/cycles.py"
