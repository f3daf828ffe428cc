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
	s, err := Scrape(Cgroup{Unified: "testdata/v2/node"}, []Container{
		{Namespace: "default", Pod: "web", Name: "app", Cgroup: Cgroup{Unified: "testdata/v2/pod/ctr"}},
		{Namespace: "default", Pod: "web", Name: "exited", Cgroup: Cgroup{Unified: "testdata/v2/gone"}},
		{Namespace: "kube-system", Pod: "dns", Name: "dns", Cgroup: Cgroup{CPUAcct: "testdata/v1/cpuacct/pod/ctr", Memory: "testdata/v1/memory/pod/ctr"}},
	}, now)
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := Scrape(Cgroup{Unified: "testdata/v2/gone"}, nil, now); err == nil {
		t.Error("Scrape with an unreadable node cgroup succeeded")
	}
}
