package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestLocalPathStorage: berth serves the default StorageClass local-path; a
// claim without a class gets it, waits for its first pod, and is bound to
// a volume provisioned on the node the pod was scheduled to, which goes
// with the claim.
func TestLocalPathStorage(t *testing.T) {
	s := startServer(t)
	k := s.kubectlWith(kubectlPath(t))
	startSim(t, s, "2")
	waitFor(t, 30*time.Second, "2 Ready sim nodes and the default class", func() bool {
		return strings.Count(k.run(t, "get", "nodes", "--no-headers"), " Ready ") == 2 &&
			strings.Contains(k.run(t, "get", "storageclass"), "local-path (default)")
	})
	// NAME, PROVISIONER, RECLAIMPOLICY, VOLUMEBINDINGMODE, ALLOWVOLUMEEXPANSION, AGE
	out := k.run(t, "get", "storageclass", "local-path", "--no-headers")
	if f := strings.Fields(out); len(f) < 6 || strings.Join(f[:6], " ") != "local-path (default) berth.dev/local-path Delete WaitForFirstConsumer false" {
		t.Errorf("kubectl get storageclass local-path:\n%s", out)
	}
	manifest := writeManifest(t, "db.yaml", `apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: data
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 1Gi
---
apiVersion: v1
kind: Pod
metadata:
  name: db
spec:
  containers:
  - name: c
    image: busybox
  volumes:
  - name: data
    persistentVolumeClaim:
      claimName: data
`)
	k.run(t, "apply", "-f", manifest)
	var node, volume string
	waitFor(t, 30*time.Second, "the claim Bound", func() bool {
		out := k.run(t, "get", "pvc", "data", "-o", "jsonpath={.status.phase} {.spec.storageClassName} {.spec.volumeName}")
		f := strings.Fields(out)
		if len(f) == 3 && f[0] == "Bound" && f[1] == "local-path" {
			volume = f[2]
			return true
		}
		return false
	})
	node = k.run(t, "get", "pod", "db", "-o", "jsonpath={.spec.nodeName}")
	affinity := k.run(t, "get", "pv", volume, "-o", "jsonpath={.spec.nodeAffinity.required.nodeSelectorTerms[0].matchExpressions[0].values[0]} {.status.phase}")
	if affinity != node+" Bound" {
		t.Errorf("volume %s affinity and phase %q, want %q", volume, affinity, node+" Bound")
	}
	k.run(t, "delete", "-f", manifest, "--grace-period=0", "--force")
	waitFor(t, 30*time.Second, "the volume deleted with its claim", func() bool {
		return k.exec(t, nil, "get", "pv", volume).code != 0
	})
}
