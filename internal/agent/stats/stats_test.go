package stats

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"berth.dev/berth/internal/metrics"
)

func TestRead(t *testing.T) {
	tests := []struct {
		name    string
		cgroup  Cgroup
		want    Usage
		wantErr bool
	}{
		{name: "v2 node", cgroup: Cgroup{Unified: "testdata/v2/node"}, want: Usage{CPUSeconds: 12.5, MemoryWorkingSet: 805306368}},
		{name: "v2 container", cgroup: Cgroup{Unified: "testdata/v2/pod/ctr"}, want: Usage{CPUSeconds: 0.25, MemoryWorkingSet: 66060288}},
		{name: "v2 inactive above usage", cgroup: Cgroup{Unified: "testdata/v2/swapped"}, want: Usage{CPUSeconds: 1}},
		{name: "v2 without usage_usec", cgroup: Cgroup{Unified: "testdata/v2/bad"}, wantErr: true},
		{name: "v2 missing", cgroup: Cgroup{Unified: "testdata/v2/gone"}, wantErr: true},
		{name: "v1 container", cgroup: Cgroup{CPUAcct: "testdata/v1/cpuacct/pod/ctr", Memory: "testdata/v1/memory/pod/ctr"},
			want: Usage{CPUSeconds: 1.5, MemoryWorkingSet: 31457280}},
		{name: "v1 without memory", cgroup: Cgroup{CPUAcct: "testdata/v1/cpuacct/pod/ctr"}, wantErr: true},
		{name: "v1 memory in the wrong place", cgroup: Cgroup{CPUAcct: "testdata/v1/cpuacct/pod/ctr", Memory: "testdata/v1/cpuacct/pod/ctr"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Read(tc.cgroup)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestScrapeRendersResourceMetrics(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	s := Scrape(Usage{CPUSeconds: 12.5, MemoryWorkingSet: 805306368}, []Container{
		{Namespace: "default", Pod: "web", Name: "app", Cgroup: Cgroup{Unified: "testdata/v2/pod/ctr"}},
		{Namespace: "default", Pod: "web", Name: "exited", Cgroup: Cgroup{Unified: "testdata/v2/gone"}},
		{Namespace: "kube-system", Pod: "dns", Name: "dns", Cgroup: Cgroup{CPUAcct: "testdata/v1/cpuacct/pod/ctr", Memory: "testdata/v1/memory/pod/ctr"}},
	}, now)
	var buf bytes.Buffer
	if err := metrics.WriteText(&buf, s); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`container_cpu_usage_seconds_total{container="app",namespace="default",pod="web"} 0.25 1700000000000`,
		`container_memory_working_set_bytes{container="dns",namespace="kube-system",pod="dns"} 3.145728e+07 1700000000000`,
		`node_cpu_usage_seconds_total 12.5 1700000000000`,
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
	if strings.Contains(buf.String(), "exited") {
		t.Errorf("an unreadable container was rendered:\n%s", buf.String())
	}
	back, err := metrics.ParseText(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(s, back); d != "" {
		t.Errorf("parsed back (-want +got):\n%s", d)
	}
}

func TestReadNode(t *testing.T) {
	got, err := ReadNode("testdata/proc")
	if err != nil {
		t.Fatal(err)
	}
	// user 1000 + nice 200 + system 300 + irq 40 + softirq 60 + steal 0
	// ticks; MemTotal less MemAvailable.
	want := Usage{CPUSeconds: 16, MemoryWorkingSet: (2048000 - 1024000) * 1024}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, dir := range []string{"testdata/badproc", "testdata/missing"} {
		if _, err := ReadNode(dir); err == nil {
			t.Errorf("ReadNode(%s) succeeded", dir)
		}
	}
}

func TestCgroupAt(t *testing.T) {
	if got, want := CgroupAt(true, "/berth/podu/c1"), (Cgroup{Unified: "/sys/fs/cgroup/berth/podu/c1"}); got != want {
		t.Errorf("unified: %+v, want %+v", got, want)
	}
	want := Cgroup{CPUAcct: "/sys/fs/cgroup/cpuacct/berth/podu/c1", Memory: "/sys/fs/cgroup/memory/berth/podu/c1"}
	if got := CgroupAt(false, "/berth/podu/c1"); got != want {
		t.Errorf("v1: %+v, want %+v", got, want)
	}
}
