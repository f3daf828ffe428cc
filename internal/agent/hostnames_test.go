package agent

import (
	"strings"
	"testing"
)

func TestHostNamesFor(t *testing.T) {
	if got, want := HostNamesFor(DefaultDataDir), (HostNames{RunDir: "/run/berth", CgroupParent: "/berth", Bridge: "berth0"}); got != want {
		t.Errorf("default data dir: %+v, want %+v", got, want)
	}
	a, b := HostNamesFor("/tmp/a"), HostNamesFor("/tmp/b")
	if a == b || a != HostNamesFor("/tmp/a") {
		t.Errorf("names of /tmp/a %+v and /tmp/b %+v: want distinct and stable", a, b)
	}
	suffix := strings.TrimPrefix(a.RunDir, "/run/berth-")
	if len(a.Bridge) > 15 || !strings.HasPrefix(suffix, strings.TrimPrefix(a.Bridge, "berth")) || a.CgroupParent != "/berth-"+suffix {
		t.Errorf("names of /tmp/a: %+v", a)
	}
}
