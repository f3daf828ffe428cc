package apiserver

import (
	"context"
	"net/http"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"

	"berth.dev/berth/internal/registry"
)

// MetricsSource gives the resource usage the metrics.k8s.io API serves
// (internal/metrics.Collector). Answers carry usage, timestamp and window
// (and containers); the server fills in the metadata. ok is false when
// there are no metrics for the object (yet).
type MetricsSource interface {
	NodeMetrics(name string) (m *metricsv1beta1.NodeMetrics, ok bool)
	PodMetrics(node, namespace, name string) (m *metricsv1beta1.PodMetrics, ok bool)
}

// metricsResources are the read-only resources of metrics.k8s.io/v1beta1,
// printed as metrics-server prints them.
func metricsResources() []registry.Resource {
	gv := metricsv1beta1.SchemeGroupVersion
	cols := []registry.TableColumn{
		{Name: "Name", Type: "string", Format: "name", Description: "Name of the resource"},
		{Name: "CPU", Type: "string", Description: "CPU usage"},
		{Name: "Memory", Type: "string", Description: "Memory usage"},
		{Name: "Window", Type: "string", Description: "Interval over which the metrics were gathered"},
	}
	return []registry.Resource{{
		GroupVersionResource: gv.WithResource("nodes"), Kind: "NodeMetrics", Singular: "",
		Verbs: []string{"get", "list"},
		Strategy: registry.Strategy{Columns: cols, Row: func(obj runtime.Object) []any {
			m := obj.(*metricsv1beta1.NodeMetrics)
			return []any{m.Name, m.Usage.Cpu().String(), m.Usage.Memory().String(), m.Window.Duration.String()}
		}},
	}, {
		GroupVersionResource: gv.WithResource("pods"), Kind: "PodMetrics", Singular: "", Namespaced: true,
		Verbs: []string{"get", "list"},
		Strategy: registry.Strategy{Columns: cols, Row: func(obj runtime.Object) []any {
			m := obj.(*metricsv1beta1.PodMetrics)
			cpu, mem := apiresource.Quantity{Format: apiresource.DecimalSI}, apiresource.Quantity{Format: apiresource.BinarySI}
			for _, c := range m.Containers {
				cpu.Add(*c.Usage.Cpu())
				mem.Add(*c.Usage.Memory())
			}
			return []any{m.Name, cpu.String(), mem.String(), m.Window.Duration.String()}
		}},
	}}
}

// serveMetrics answers get and list of NodeMetrics and PodMetrics: the
// nodes and pods in the watch cache that match the label selector, with
// the usage the MetricsSource has for them, filtered by the field
// selector (metadata.name, metadata.namespace). Watch is refused, as by
// metrics-server.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, req *request) {
	in := req.info
	if in.Subresource != "" {
		s.writeError(w, req, apierrors.NewNotFound(req.res.GroupResource(), in.Name))
		return
	}
	if in.Verb != "get" && in.Verb != "list" {
		s.writeError(w, req, methodNotSupported(req.res, in.Verb))
		return
	}
	objs, err := s.metricsObjects(r.Context(), req)
	if err != nil {
		s.writeError(w, req, err)
		return
	}
	if in.Verb == "get" {
		if len(objs) == 0 {
			s.writeError(w, req, notFound(req.res, in.Name))
			return
		}
		if req.out.as == "Table" {
			objs = objs[:1]
		} else {
			s.writeObject(w, req, http.StatusOK, objs[0])
			return
		}
	}
	if req.out.as == "Table" {
		t, err := s.table(req, objs, "", "")
		if err != nil {
			s.writeError(w, req, err)
			return
		}
		s.writeObject(w, req, http.StatusOK, t)
		return
	}
	var list runtime.Object
	if req.res.Namespaced {
		l := &metricsv1beta1.PodMetricsList{}
		for _, o := range objs {
			l.Items = append(l.Items, *o.(*metricsv1beta1.PodMetrics))
		}
		list = l
	} else {
		l := &metricsv1beta1.NodeMetricsList{}
		for _, o := range objs {
			l.Items = append(l.Items, *o.(*metricsv1beta1.NodeMetrics))
		}
		list = l
	}
	s.writeObject(w, req, http.StatusOK, list)
}

// metricsObjects builds the metrics of the request's objects: the one
// named, or those the selectors pick.
func (s *Server) metricsObjects(ctx context.Context, req *request) ([]runtime.Object, error) {
	in := req.info
	sel, err := s.selectors(req)
	if err != nil {
		return nil, err
	}
	if in.Verb == "get" {
		sel.fields = fields.OneTermEqualSelector("metadata.name", in.Name)
	}
	gr := schema.GroupResource{Resource: "nodes"}
	if req.res.Namespaced {
		gr.Resource = "pods"
	}
	src, err := s.storageResource(gr)
	if err != nil {
		return nil, err
	}
	prefix := src.listPrefix(in.Namespace)
	if in.Verb == "get" {
		prefix = src.key(in.Namespace, in.Name)
	}
	items, _, err := s.cache.snapshot(ctx, src, prefix, 0)
	if err != nil {
		return nil, err
	}
	created := metav1.NewTime(s.now().Truncate(time.Second))
	var out []runtime.Object
	for _, o := range items {
		if !sel.labels.Matches(o.labels) {
			continue
		}
		meta := metav1.ObjectMeta{CreationTimestamp: created}
		var m runtime.Object
		switch obj := o.obj.(type) {
		case *corev1.Node:
			nm, ok := s.cfg.Metrics.NodeMetrics(obj.Name)
			if !ok {
				continue
			}
			meta.Name, meta.Labels = obj.Name, obj.Labels
			nm.ObjectMeta = meta
			m = nm
		case *corev1.Pod:
			if obj.Spec.NodeName == "" {
				continue
			}
			pm, ok := s.cfg.Metrics.PodMetrics(obj.Spec.NodeName, obj.Namespace, obj.Name)
			if !ok || len(pm.Containers) == 0 {
				continue
			}
			meta.Namespace, meta.Name, meta.Labels = obj.Namespace, obj.Name, obj.Labels
			pm.ObjectMeta = meta
			m = pm
		default:
			continue
		}
		if !sel.fields.Matches(req.res.fieldSet(m, meta.Name, meta.Namespace)) {
			continue
		}
		s.setTypeMeta(m)
		out = append(out, m)
	}
	return out, nil
}
