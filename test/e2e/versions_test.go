package e2e

import (
	"strings"
	"testing"
)

// TestSharedStorageVersions checks that kinds served in two versions show
// one set of objects: events.k8s.io/v1 Events are core/v1 Events, and
// autoscaling/v1 HPAs (what kubectl autoscale writes) are autoscaling/v2 ones.
func TestSharedStorageVersions(t *testing.T) {
	s := startServer(t)
	s.kubectl(t, "apply", "-f", writeManifest(t, "event.yaml", `apiVersion: events.k8s.io/v1
kind: Event
metadata: {name: e1}
eventTime: "2026-01-02T03:04:05.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-1
action: Testing
reason: Works
note: hello from events.k8s.io
type: Normal
regarding: {kind: Deployment, name: web, namespace: default, apiVersion: apps/v1}
`))
	if got := s.kubectl(t, "get", "events"); !strings.Contains(got, "hello from events.k8s.io") || !strings.Contains(got, "deployment/web") {
		t.Errorf("core/v1 events do not show the events.k8s.io event:\n%s", got)
	}
	if got := s.kubectl(t, "get", "--raw", "/api/v1/namespaces/default/events/e1"); !strings.Contains(got, `"message":"hello from events.k8s.io"`) || !strings.Contains(got, `"involvedObject":{`) {
		t.Errorf("core/v1 form of the event:\n%s", got)
	}

	s.kubectl(t, "create", "deployment", "web", "--image=nginx:1.27")
	s.kubectl(t, "autoscale", "deployment", "web", "--cpu-percent=60", "--min=1", "--max=5")
	v2 := s.kubectl(t, "get", "--raw", "/apis/autoscaling/v2/namespaces/default/horizontalpodautoscalers/web")
	if !strings.Contains(v2, `"averageUtilization":60`) || !strings.Contains(v2, `"maxReplicas":5`) {
		t.Errorf("autoscaling/v2 form of the HPA kubectl autoscale made:\n%s", v2)
	}
	if got := s.kubectl(t, "get", "hpa", "web"); !strings.Contains(got, "60%") {
		t.Errorf("kubectl get hpa:\n%s", got)
	}
}
