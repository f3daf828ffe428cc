package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestResourceQuota checks ResourceQuota with real kubectl: the controller
// fills in used and hard for describe, a pod is charged at once, and the
// pod over the limit is refused with upstream's message.
func TestResourceQuota(t *testing.T) {
	s := startServer(t)
	k := s.kubectlWith(kubectlPath(t))
	k.run(t, "create", "namespace", "limited")
	k.run(t, "create", "quota", "q", "-n", "limited", "--hard=pods=1,requests.storage=1Gi")

	// kubectl describe quota prints "Resource  Used  Hard" rows.
	row := func(name, used, hard string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `\s+` + regexp.QuoteMeta(used) + `\s+` + regexp.QuoteMeta(hard) + `\s*$`)
	}
	var out string
	waitFor(t, 30*time.Second, "the quota's status", func() bool {
		out = k.run(t, "describe", "quota", "q", "-n", "limited")
		return row("pods", "0", "1").MatchString(out) && row("requests.storage", "0", "1Gi").MatchString(out)
	})

	k.run(t, "run", "first", "-n", "limited", "--image=busybox", "--restart=Never")
	if out = k.run(t, "describe", "quota", "q", "-n", "limited"); !row("pods", "1", "1").MatchString(out) {
		t.Errorf("describe after one pod, want pods 1 of 1:\n%s", out)
	}
	r := k.runErr(t, "run", "second", "-n", "limited", "--image=busybox", "--restart=Never")
	want := `pods "second" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1`
	if !strings.Contains(r.stderr, want) {
		t.Errorf("second pod:\n%s\nwant %s", r, want)
	}

	k.run(t, "delete", "pod", "first", "-n", "limited", "--grace-period=0", "--force")
	waitFor(t, 30*time.Second, "the quota to follow the delete", func() bool {
		out = k.run(t, "describe", "quota", "q", "-n", "limited")
		return row("pods", "0", "1").MatchString(out)
	})
	k.run(t, "run", "second", "-n", "limited", "--image=busybox", "--restart=Never")
}
