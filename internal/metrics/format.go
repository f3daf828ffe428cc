package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The kubelet's /metrics/resource series berth reads and writes.
const (
	nodeCPU         = "node_cpu_usage_seconds_total"
	nodeMemory      = "node_memory_working_set_bytes"
	containerCPU    = "container_cpu_usage_seconds_total"
	containerMemory = "container_memory_working_set_bytes"
)

// Point is one reading of cumulative CPU time and memory working set.
type Point struct {
	// CPUSeconds is the CPU time used since the container (or node)
	// started, in seconds.
	CPUSeconds float64
	// MemoryBytes is the memory working set: usage less inactive file
	// pages.
	MemoryBytes uint64
	// Time is when the reading was taken (millisecond precision on the
	// wire).
	Time time.Time
}

// ContainerPoint is one container's reading.
type ContainerPoint struct {
	Namespace, Pod, Container string
	Point
}

// Scrape is what one node reports at /metrics/resource.
type Scrape struct {
	Node       Point
	Containers []ContainerPoint
}

// TextContentType is the Content-Type of WriteText's output.
const TextContentType = "text/plain; version=0.0.4; charset=utf-8"

// WriteText renders s in the kubelet's Prometheus text format, one
// sample per series with its timestamp, containers sorted by namespace,
// pod and container.
func WriteText(w io.Writer, s Scrape) error {
	cs := append([]ContainerPoint(nil), s.Containers...)
	sort.Slice(cs, func(i, j int) bool { return lessContainer(cs[i], cs[j]) })
	families := []*dto.MetricFamily{
		family(containerCPU, "Cumulative cpu time consumed by the container in core-seconds", dto.MetricType_COUNTER),
		family(containerMemory, "Current working set of the container in bytes", dto.MetricType_GAUGE),
		family(nodeCPU, "Cumulative cpu time consumed by the node in core-seconds", dto.MetricType_COUNTER),
		family(nodeMemory, "Current working set of the node in bytes", dto.MetricType_GAUGE),
	}
	for _, c := range cs {
		labels := []*dto.LabelPair{label("container", c.Container), label("namespace", c.Namespace), label("pod", c.Pod)}
		families[0].Metric = append(families[0].Metric, sample(labels, c.CPUSeconds, c.Time, true))
		families[1].Metric = append(families[1].Metric, sample(labels, float64(c.MemoryBytes), c.Time, false))
	}
	families[2].Metric = []*dto.Metric{sample(nil, s.Node.CPUSeconds, s.Node.Time, true)}
	families[3].Metric = []*dto.Metric{sample(nil, float64(s.Node.MemoryBytes), s.Node.Time, false)}
	for _, f := range families {
		if len(f.Metric) == 0 {
			continue
		}
		if _, err := expfmt.MetricFamilyToText(w, f); err != nil {
			return fmt.Errorf("writing %s: %w", f.GetName(), err)
		}
	}
	return nil
}

func family(name, help string, t dto.MetricType) *dto.MetricFamily {
	return &dto.MetricFamily{Name: &name, Help: &help, Type: &t}
}

func label(name, value string) *dto.LabelPair { return &dto.LabelPair{Name: &name, Value: &value} }

func sample(labels []*dto.LabelPair, v float64, t time.Time, counter bool) *dto.Metric {
	ms := t.UnixMilli()
	m := &dto.Metric{Label: labels, TimestampMs: &ms}
	if counter {
		m.Counter = &dto.Counter{Value: &v}
	} else {
		m.Gauge = &dto.Gauge{Value: &v}
	}
	return m
}

// ParseText reads a /metrics/resource body. Series other than the four
// resource series are ignored, as are container samples without
// namespace, pod or container labels. A container or the node missing
// its CPU or its memory series is left out (the node's Point is zero
// then), as metrics-server drops incomplete points. Every sample must
// carry a timestamp.
func ParseText(r io.Reader) (Scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Scrape{}, fmt.Errorf("parsing metrics: %w", err)
	}
	type key struct{ ns, pod, c string }
	containers := map[key]*partial{}
	var node partial
	for _, name := range []string{nodeCPU, nodeMemory, containerCPU, containerMemory} {
		f := fams[name]
		if f == nil {
			continue
		}
		for _, m := range f.Metric {
			v, ok := value(m)
			if !ok {
				return Scrape{}, fmt.Errorf("series %s: invalid value", name)
			}
			if m.TimestampMs == nil {
				return Scrape{}, fmt.Errorf("series %s: sample without a timestamp", name)
			}
			target := &node
			if name == containerCPU || name == containerMemory {
				k := key{labelValue(m, "namespace"), labelValue(m, "pod"), labelValue(m, "container")}
				if k.ns == "" || k.pod == "" || k.c == "" {
					continue
				}
				if containers[k] == nil {
					containers[k] = &partial{}
				}
				target = containers[k]
			}
			target.set(name == nodeCPU || name == containerCPU, v, time.UnixMilli(m.GetTimestampMs()))
		}
	}
	var s Scrape
	if node.cpu && node.mem {
		s.Node = node.p
	}
	for k, c := range containers {
		if c.cpu && c.mem {
			s.Containers = append(s.Containers, ContainerPoint{Namespace: k.ns, Pod: k.pod, Container: k.c, Point: c.p})
		}
	}
	sort.Slice(s.Containers, func(i, j int) bool { return lessContainer(s.Containers[i], s.Containers[j]) })
	return s, nil
}

// partial is a point being assembled from its series.
type partial struct {
	cpu, mem bool
	p        Point
}

// set records one sample. The CPU sample's timestamp is the point's
// time, the one rates are computed over (CPU is read before memory).
func (p *partial) set(isCPU bool, v float64, t time.Time) {
	if isCPU {
		p.cpu, p.p.CPUSeconds, p.p.Time = true, v, t
		return
	}
	p.mem, p.p.MemoryBytes = true, uint64(v)
	if p.p.Time.IsZero() {
		p.p.Time = t
	}
}

func value(m *dto.Metric) (float64, bool) {
	var v float64
	switch {
	case m.Counter != nil:
		v = m.Counter.GetValue()
	case m.Gauge != nil:
		v = m.Gauge.GetValue()
	case m.Untyped != nil:
		v = m.Untyped.GetValue()
	default:
		return 0, false
	}
	return v, !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func lessContainer(a, b ContainerPoint) bool {
	if a.Namespace != b.Namespace {
		return a.Namespace < b.Namespace
	}
	if a.Pod != b.Pod {
		return a.Pod < b.Pod
	}
	return a.Container < b.Container
}
