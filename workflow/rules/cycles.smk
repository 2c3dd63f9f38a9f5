rule cycles:
    """Gait events, cycles with QC, EMG envelopes, time-normalised waveforms and per-cycle measures of one subject.

    The measures are made in the same job (one process per subject, not two):
    they depend on the cycles, the waveforms and the signals that this job
    already holds, and on no config key the cycles do not also depend on.
    """
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
