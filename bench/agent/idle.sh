#!/usr/bin/env bash
# Idle cost of the node agent, as root with runc: starts `berth server` (BIN, default
# bin/berth) with its agent on a new data dir, runs a Deployment of 10 sleeping
# pods from the busybox test image (scripts/test-images), then counts over 10 s
# the runc processes the server starts (strace) and its CPU ticks, its
# children included (/proc/<pid>/stat utime+stime+cutime+cstime, 100 a second).
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=${1:-bin/berth}
IMG=$(mktemp -d); bash scripts/test-images "$IMG" >/dev/null
D=$(mktemp -d)
"$BIN" image import --data-dir $D "$IMG"/busybox.tar >/dev/null
"$BIN" server --data-dir $D --https-port 0 --kubelet-port 0 --advertise-address 127.0.0.1 --audit-log-path "" > $D/log 2>&1 &
PID=$!
export KUBECONFIG=$D/admin.kubeconfig
for i in $(seq 1 50); do kubectl get nodes 2>/dev/null | grep -q " Ready" && break; sleep 0.5; done
cat <<YAML | kubectl apply -f - >/dev/null 2>&1
apiVersion: apps/v1
kind: Deployment
metadata: {name: idle}
spec:
  replicas: 10
  selector: {matchLabels: {app: idle}}
  template:
    metadata: {labels: {app: idle}}
    spec:
      terminationGracePeriodSeconds: 1
      containers: [{name: c, image: "berth.test/busybox:v1", imagePullPolicy: Never, command: [sleep, "3600"]}]
YAML
kubectl rollout status deploy/idle --timeout=120s >/dev/null 2>&1
kubectl get pods --no-headers | awk '{print $3}' | sort | uniq -c
sleep 3
T0=$(awk '{print $14+$15+$16+$17}' /proc/$PID/stat)
timeout 10 strace -f -qq -e trace=execve -p $PID 2>&1 | grep -c 'runc' 
T1=$(awk '{print $14+$15+$16+$17}' /proc/$PID/stat)
echo "cpu ticks (incl. children) over 10 s: $((T1-T0))"
kubectl delete deployment idle >/dev/null
for i in $(seq 1 120); do [ -z "$(kubectl get pods --no-headers 2>/dev/null)" ] && break; sleep 0.5; done
kill $PID; wait $PID 2>/dev/null
ip link del "berth$(printf %s "$D" | sha256sum | cut -c1-8)" 2>/dev/null; rm -rf "$D" "$IMG"
