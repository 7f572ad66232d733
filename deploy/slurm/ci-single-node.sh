#!/bin/sh
# Start a one-node Slurm cluster on this machine (munge, slurmctld, slurmd), for CI. Run as root.
#
#   sh deploy/slurm/ci-single-node.sh        # then: sinfo, sbatch, ...
#
# Installs Debian's slurm-wlm and munge when missing, writes a minimal /etc/slurm/slurm.conf whose
# node line is this machine's own (`slurmd -C`: its real CPU count and memory), makes a munge key
# when there is none, and starts the three daemons unless they already answer. The node is named
# after `hostname -s` and reached on 127.0.0.1. Logs: /var/log/slurm/{slurmctld,slurmd}.log.
# Nothing here is for a real cluster: there, Slurm is the site's, and deploy/slurm/*.sbatch run on it.
set -eu

if [ "$(id -u)" -ne 0 ]; then
    echo "ci-single-node.sh: run as root (it installs packages and starts daemons)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# munge: one key shared by every daemon and client (here all on this machine)
if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
mkdir -p /run/munge
chown munge:munge /run/munge
chmod 0755 /run/munge
if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged
    munge -n </dev/null | unmunge >/dev/null
fi

host="$(hostname -s)"
node_line="$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/")"
mkdir -p /etc/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
chown slurm:slurm /var/lib/slurm/slurmctld /var/log/slurm
cat >/etc/slurm/slurm.conf <<EOF
# Written by devicebench's deploy/slurm/ci-single-node.sh: a one-node cluster for CI.
ClusterName=devicebench-ci
SlurmctldHost=$host(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# No cgroups in a CI container: track processes by parent, bind nothing.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
$node_line State=UNKNOWN
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

if ! scontrol ping 2>/dev/null | grep -q "is UP"; then
    slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
    slurmd
fi

# wait for the node to register (idle, or mixed/allocated when jobs are already queued)
tries=0
until state="$(sinfo -h -n "$host" -o %T 2>/dev/null)" && case "$state" in idle* | mixed* | alloc*) true ;; *) false ;; esac; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        echo "ci-single-node.sh: node $host did not come up (state: ${state:-none}); the logs:" >&2
        tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
        exit 1
    fi
    case "${state:-}" in down* | drain*) scontrol update NodeName="$host" State=RESUME 2>/dev/null || true ;; esac
    sleep 1
done
echo "slurm: node $host is $state ($node_line)"
sinfo
