package e2e

import (
	"strings"
	"testing"
)

// TestPodSecurity checks berth's Pod Security defaults with real kubectl:
// a namespace without labels enforces baseline and warns about
// restricted; its labels change that; workloads only get warnings.
func TestPodSecurity(t *testing.T) {
	s := startServer(t)
	k := s.kubectlWith(kubectlPath(t))

	privileged := writeManifest(t, "privileged.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: privileged
spec:
  containers:
  - name: c
    image: busybox
    securityContext:
      privileged: true
`)
	r := k.runErr(t, "apply", "-f", privileged)
	want := `pods "privileged" is forbidden: violates PodSecurity "baseline:latest": privileged (container "c" must not set securityContext.privileged=true)`
	if !strings.Contains(r.stderr, want) {
		t.Errorf("privileged pod in default:\n%s\nwant %s", r, want)
	}

	plain := writeManifest(t, "plain.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: plain
spec:
  containers:
  - name: c
    image: busybox
`)
	r = k.exec(t, nil, "apply", "-f", plain)
	if r.code != 0 || !strings.Contains(r.stderr, `Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false`) {
		t.Errorf("plain pod: want success with the restricted warning\n%s", r)
	}

	k.run(t, "create", "namespace", "lab")
	k.run(t, "label", "namespace", "lab", "pod-security.kubernetes.io/enforce=privileged", "pod-security.kubernetes.io/warn=privileged")
	if out := k.run(t, "apply", "-n", "lab", "-f", privileged); !strings.Contains(out, "pod/privileged created") {
		t.Errorf("privileged pod in a privileged namespace: %s", out)
	}

	// Tightening a namespace warns about the pods already there.
	r = k.exec(t, nil, "label", "--overwrite", "namespace", "lab", "pod-security.kubernetes.io/enforce=restricted")
	if r.code != 0 || !strings.Contains(r.stderr, `existing pods in namespace "lab" violate the new PodSecurity enforce level "restricted:latest"`) {
		t.Errorf("tightening the namespace: want success with a warning about its pods\n%s", r)
	}

	r = k.exec(t, nil, "create", "deployment", "web", "--image=busybox")
	if r.code != 0 || !strings.Contains(r.stderr, `Warning: would violate PodSecurity "restricted:latest"`) {
		t.Errorf("deployment: want success with a warning\n%s", r)
	}
}
