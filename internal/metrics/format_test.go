package metrics

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestTextRoundTrip(t *testing.T) {
	at := time.UnixMilli(1700000000123)
	in := Scrape{
		Node: Point{CPUSeconds: 12.5, MemoryBytes: 1 << 30, Time: at},
		Containers: []ContainerPoint{
			{Namespace: "b", Pod: "p", Container: "c", Point: Point{CPUSeconds: 1, MemoryBytes: 64 << 20, Time: at}},
			{Namespace: "a", Pod: "p", Container: "c", Point: Point{CPUSeconds: 2.25, MemoryBytes: 10, Time: at}},
		},
	}
	var buf bytes.Buffer
	if err := WriteText(&buf, in); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`container_cpu_usage_seconds_total{container="c",namespace="a",pod="p"} 2.25 1700000000123`,
		`node_memory_working_set_bytes 1.073741824e+09 1700000000123`,
		"# TYPE node_cpu_usage_seconds_total counter",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, buf.String())
		}
	}
	got, err := ParseText(&buf)
	if err != nil {
		t.Fatal(err)
	}
	want := Scrape{Node: in.Node, Containers: []ContainerPoint{in.Containers[1], in.Containers[0]}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
}

func TestParseText(t *testing.T) {
	at := time.UnixMilli(1000)
	tests := []struct {
		name    string
		in      string
		want    Scrape
		wantErr bool
	}{{
		name: "kubelet output with extra series",
		in: `# HELP scrape_error 1 if there was an error
# TYPE scrape_error gauge
scrape_error 0
node_cpu_usage_seconds_total 3 1000
node_memory_working_set_bytes 4096 1001
container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 0.5 1000
container_memory_working_set_bytes{container="c",namespace="n",pod="p"} 100 1000
container_start_time_seconds{container="c",namespace="n",pod="p"} 1 1000
`,
		want: Scrape{Node: Point{CPUSeconds: 3, MemoryBytes: 4096, Time: at},
			Containers: []ContainerPoint{{Namespace: "n", Pod: "p", Container: "c", Point: Point{CPUSeconds: 0.5, MemoryBytes: 100, Time: at}}}},
	}, {
		name: "incomplete container and node dropped",
		in: `node_cpu_usage_seconds_total 3 1000
container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 0.5 1000
container_memory_working_set_bytes{namespace="n",pod="p"} 100 1000
`,
	}, {
		name:    "no timestamp",
		in:      "node_cpu_usage_seconds_total 3\n",
		wantErr: true,
	}, {
		name:    "negative value",
		in:      "node_cpu_usage_seconds_total -3 1000\n",
		wantErr: true,
	}, {
		name:    "garbage",
		in:      "node_cpu_usage_seconds_total{ 3\n",
		wantErr: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseText(strings.NewReader(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func FuzzParseText(f *testing.F) {
	f.Add("node_cpu_usage_seconds_total 3 1000\nnode_memory_working_set_bytes 4096 1001\n")
	f.Add(`container_cpu_usage_seconds_total{container="c",namespace="n",pod="p"} 0.5 1000`)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseText(strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteText(&buf, s); err != nil {
			t.Fatalf("writing a parsed scrape: %v", err)
		}
	})
}
