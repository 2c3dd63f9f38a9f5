#!/usr/bin/env bash
# Stop the one-node SLURM cluster that tools/slurm/start-one-node.sh started
# in DIR ($RETROGAIT_SLURM_DIR or /tmp/retrogait-slurm): cancel its jobs, then
# end its slurmd, slurmctld and munged by the pid files in DIR/run (no other
# process is touched), and remove the symlink /etc/slurm/slurm.conf when it
# points to DIR/slurm.conf. Exit status 0 also when nothing was running.
set -uo pipefail

DIR="$(realpath -m "${1:-${RETROGAIT_SLURM_DIR:-/tmp/retrogait-slurm}}")"
export PATH="/usr/sbin:/sbin:$PATH"

if [ -f "$DIR/slurm.conf" ] && [ -f "$DIR/run/slurmctld.pid" ]; then
    SLURM_CONF="$DIR/slurm.conf" timeout 10 scancel --full --user="$(id -un)" >/dev/null 2>&1 || true
fi

stop_pid() {  # name pidfile
    local pid
    [ -f "$2" ] || return 0
    pid="$(cat "$2" 2>/dev/null || true)"
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q "$1" "/proc/$pid/comm" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
        echo "stopped $1 ($pid)"
    fi
    rm -f "$2"
}

stop_pid slurmd "$DIR/run/slurmd.pid"
stop_pid slurmctld "$DIR/run/slurmctld.pid"
stop_pid munged "$DIR/run/munged.pid"
if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$DIR/slurm.conf" ]; then
    rm -f /etc/slurm/slurm.conf
fi
exit 0
