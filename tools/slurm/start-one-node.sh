#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine from Debian's packages
# (slurm-wlm, munge): munged, slurmctld and slurmd on localhost, for testing
# the workflow's SLURM profile (tests/integration/test_slurm.py).
#
#   tools/slurm/start-one-node.sh [DIR]    # DIR: $RETROGAIT_SLURM_DIR or /tmp/retrogait-slurm
#   export SLURM_CONF=DIR/slurm.conf       # then sinfo, sbatch, snakemake --executor slurm ...
#   tools/slurm/stop-one-node.sh [DIR]
#
# Everything lives in DIR: the configuration, a private munge key and socket,
# state, spool, logs and pid files. The one file outside it is the symlink
# /etc/slurm/slurm.conf -> DIR/slurm.conf, made only when that path is free
# (and removed by stop-one-node.sh): job steps find the configuration there,
# because Snakemake's SLURM job step drops SLURM_* variables (SLURM_CONF too)
# before its srun. A machine whose /etc/slurm/slurm.conf is its own SLURM's
# is left alone: this script then stops with exit status 3 (use that cluster).
#
# Works in a container: no cgroups (proctrack/linuxproc, task/none), no
# accounting database (use `squeue` for job states; completed jobs stay
# visible for MinJobAge). The node may declare more CPUs than the machine has
# (RETROGAIT_SLURM_CPUS, default at least 8; SlurmdParameters=config_overrides)
# so that jobs sized for a real cluster node are accepted; they then share
# the real cores.
#
# Runs as root (slurmd must). Idempotent: a cluster from an earlier run in DIR
# is stopped and its state cleared first. Exit status: 0 the node is idle and
# takes jobs; 3 this machine cannot run it (not root, packages missing: the
# message says which); 1 it failed (the logs in DIR/log say why).
set -euo pipefail

DIR="$(realpath -m "${1:-${RETROGAIT_SLURM_DIR:-/tmp/retrogait-slurm}}")"
HERE="$(cd "$(dirname "$0")" && pwd)"

cannot() { echo "one-node SLURM cannot run here: $*" >&2; exit 3; }
fail() { echo "one-node SLURM failed: $*" >&2; for f in "$DIR"/log/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }; done; exit 1; }

[ "$(id -u)" = 0 ] || cannot "it needs root (slurmd runs as root); run as root or skip"
missing=()
for bin in munged slurmctld slurmd sinfo sbatch squeue scontrol; do
    command -v "$bin" >/dev/null 2>&1 || [ -x "/usr/sbin/$bin" ] || missing+=("$bin")
done
[ ${#missing[@]} -eq 0 ] || cannot "missing ${missing[*]}: apt-get install -y slurm-wlm munge"
export PATH="/usr/sbin:/sbin:$PATH"

ETC_CONF=/etc/slurm/slurm.conf
if [ -e "$ETC_CONF" ] || [ -L "$ETC_CONF" ]; then
    [ "$(readlink "$ETC_CONF" || true)" = "$DIR/slurm.conf" ] \
        || cannot "$ETC_CONF exists and is not this script's: this machine has its own SLURM configuration"
fi

"$HERE/stop-one-node.sh" "$DIR" >/dev/null 2>&1 || true
rm -rf "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"
mkdir -p "$DIR"/{munge,state,spool,log,run}
chmod 700 "$DIR/munge"

# munge: a private key and socket (munged checks that only its owner can write them)
if [ ! -s "$DIR/munge/munge.key" ]; then
    dd if=/dev/urandom of="$DIR/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$DIR/munge/munge.key"
munged --force --socket="$DIR/munge/munge.socket" --key-file="$DIR/munge/munge.key" \
    --pid-file="$DIR/run/munged.pid" --log-file="$DIR/log/munged.log" --seed-file="$DIR/munge/munged.seed" \
    || fail "munged did not start"

# the node: this machine's hardware (slurmd -C), with at least 8 CPUs declared
read -r cpus mem < <(slurmd -C | awk '/^NodeName/ {for (i = 1; i <= NF; i++) {split($i, kv, "=");
    if (kv[1] == "CPUs") c = kv[2]; if (kv[1] == "RealMemory") m = kv[2]}} END {print c, m}')
[ -n "$cpus" ] && [ -n "$mem" ] || fail "slurmd -C did not report CPUs and RealMemory"
declared="${RETROGAIT_SLURM_CPUS:-$(( cpus > 8 ? cpus : 8 ))}"
host="$(hostname -s)"
cat > "$DIR/slurm.conf" <<EOF
# one-node SLURM written by tools/slurm/start-one-node.sh (machine: $cpus CPUs, $mem MB)
ClusterName=retrogait
MailProg=/bin/true
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
AuthInfo=socket=$DIR/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# no cgroups (containers), no accounting database
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SlurmdParameters=config_overrides
ReturnToService=2
# completed jobs stay visible to squeue for 10 minutes (job states without sacct)
MinJobAge=600
SlurmdTimeout=60
InactiveLimit=0
KillWait=10
NodeName=$host NodeAddr=127.0.0.1 CPUs=$declared RealMemory=$(( mem > 2048 ? mem - 1024 : mem )) State=UNKNOWN
PartitionName=main Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
export SLURM_CONF="$DIR/slurm.conf"
mkdir -p "$(dirname "$ETC_CONF")"
ln -sfn "$DIR/slurm.conf" "$ETC_CONF"

slurmctld -c -f "$SLURM_CONF" || fail "slurmctld did not start"
slurmd -f "$SLURM_CONF" || fail "slurmd did not start"

# ready when the node is idle (at most 60 s)
for _ in $(seq 1 120); do
    state="$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1 || true)"
    case "$state" in
        idle*|mix*) echo "one-node SLURM ready: node $host ($declared CPUs declared, $cpus real), SLURM_CONF=$SLURM_CONF"
                    exit 0 ;;
        drain*|down*|fail*) scontrol update NodeName="$host" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
fail "the node did not become idle (state: ${state:-no answer from slurmctld})"
