package quota

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// strs prints a list as name→quantity strings, for comparison.
func strs(l corev1.ResourceList) map[string]string {
	out := map[string]string{}
	for k, v := range l {
		out[string(k)] = v.String()
	}
	return out
}

func rl(kv ...string) corev1.ResourceList {
	out := corev1.ResourceList{}
	for i := 0; i < len(kv); i += 2 {
		out[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
	}
	return out
}

func container(name string, requests, limits corev1.ResourceList) corev1.Container {
	return corev1.Container{Name: name, Resources: corev1.ResourceRequirements{Requests: requests, Limits: limits}}
}

func TestUsage(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	always := corev1.ContainerRestartPolicyAlways
	grace := int64(30)
	lb := func(alloc *bool) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: alloc,
			Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}}
	}
	fast := "fast"
	tests := []struct {
		name string
		gr   schema.GroupResource
		obj  runtime.Object
		want map[string]string
	}{{
		name: "pod sums containers, extended resources only as requests.*",
		gr:   Pods,
		obj: &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{
			container("a", rl("cpu", "100m", "memory", "64Mi", "example.com/gpu", "1"), rl("cpu", "200m")),
			container("b", rl("cpu", "300m"), rl("memory", "1Gi")),
		}}},
		want: map[string]string{"count/pods": "1", "pods": "1", "cpu": "400m", "requests.cpu": "400m", "memory": "64Mi", "requests.memory": "64Mi",
			"limits.cpu": "200m", "limits.memory": "1Gi", "requests.example.com/gpu": "1"},
	}, {
		name: "init container asking more raises the total, sidecars add",
		gr:   Pods,
		obj: &corev1.Pod{Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{
				{Name: "side", RestartPolicy: &always, Resources: corev1.ResourceRequirements{Requests: rl("cpu", "100m")}},
				container("init", rl("cpu", "1"), nil),
			},
			Containers: []corev1.Container{container("a", rl("cpu", "200m"), nil)},
		}},
		want: map[string]string{"count/pods": "1", "pods": "1", "cpu": "1100m", "requests.cpu": "1100m"},
	}, {
		name: "terminal pod counts only as an object",
		gr:   Pods,
		obj:  &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", rl("cpu", "1"), nil)}}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded}},
		want: map[string]string{"count/pods": "1"},
	}, {
		name: "deleted pod past its grace period counts only as an object",
		gr:   Pods,
		obj: &corev1.Pod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{Time: now.Add(-time.Minute)}, DeletionGracePeriodSeconds: &grace},
			Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", nil, nil)}}},
		want: map[string]string{"count/pods": "1"},
	}, {
		name: "node port service",
		gr:   Services,
		obj:  &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Ports: []corev1.ServicePort{{Port: 80}, {Port: 443}}}},
		want: map[string]string{"count/services": "1", "services": "1", "services.nodeports": "2", "services.loadbalancers": "0"},
	}, {
		name: "load balancer",
		gr:   Services,
		obj:  lb(nil),
		want: map[string]string{"count/services": "1", "services": "1", "services.nodeports": "2", "services.loadbalancers": "1"},
	}, {
		name: "load balancer without node ports",
		gr:   Services,
		obj:  lb(new(false)),
		want: map[string]string{"count/services": "1", "services": "1", "services.nodeports": "0", "services.loadbalancers": "1"},
	}, {
		name: "claim charges its class, the larger of request and allocation",
		gr:   Claims,
		obj: &corev1.PersistentVolumeClaim{
			Spec:   corev1.PersistentVolumeClaimSpec{StorageClassName: &fast, Resources: corev1.VolumeResourceRequirements{Requests: rl("storage", "1Gi")}},
			Status: corev1.PersistentVolumeClaimStatus{AllocatedResources: rl("storage", "2Gi")},
		},
		want: map[string]string{"count/persistentvolumeclaims": "1", "persistentvolumeclaims": "1", "requests.storage": "2Gi",
			"fast.storageclass.storage.k8s.io/requests.storage": "2Gi", "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1"},
	}, {
		name: "any other resource counts as an object",
		gr:   schema.GroupResource{Group: "apps", Resource: "deployments"},
		obj:  &metav1.PartialObjectMetadata{},
		want: map[string]string{"count/deployments.apps": "1"},
	}, {
		name: "legacy object count names",
		gr:   schema.GroupResource{Resource: "secrets"},
		obj:  &corev1.Secret{},
		want: map[string]string{"count/secrets": "1", "secrets": "1"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Usage(tt.gr, tt.obj, now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, strs(got)); diff != "" {
				t.Errorf("Usage (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInScope(t *testing.T) {
	deadline := int64(60)
	best := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", nil, nil)}}}
	burst := &corev1.Pod{Spec: corev1.PodSpec{PriorityClassName: "high", ActiveDeadlineSeconds: &deadline,
		Containers: []corev1.Container{container("a", rl("memory", "1Mi"), nil)}}}
	exists := func(s corev1.ResourceQuotaScope) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: s, Operator: corev1.ScopeSelectorOpExists}
	}
	prio := func(op corev1.ScopeSelectorOperator, v ...string) corev1.ScopedResourceSelectorRequirement {
		return corev1.ScopedResourceSelectorRequirement{ScopeName: corev1.ResourceQuotaScopePriorityClass, Operator: op, Values: v}
	}
	tests := []struct {
		name        string
		reqs        []corev1.ScopedResourceSelectorRequirement
		best, burst bool
	}{
		{"no scopes", nil, true, true},
		{"BestEffort", []corev1.ScopedResourceSelectorRequirement{exists(corev1.ResourceQuotaScopeBestEffort)}, true, false},
		{"NotBestEffort", []corev1.ScopedResourceSelectorRequirement{exists(corev1.ResourceQuotaScopeNotBestEffort)}, false, true},
		{"Terminating", []corev1.ScopedResourceSelectorRequirement{exists(corev1.ResourceQuotaScopeTerminating)}, false, true},
		{"NotTerminating", []corev1.ScopedResourceSelectorRequirement{exists(corev1.ResourceQuotaScopeNotTerminating)}, true, false},
		{"PriorityClass Exists", []corev1.ScopedResourceSelectorRequirement{prio(corev1.ScopeSelectorOpExists)}, false, true},
		{"PriorityClass In", []corev1.ScopedResourceSelectorRequirement{prio(corev1.ScopeSelectorOpIn, "high", "low")}, false, true},
		{"PriorityClass NotIn", []corev1.ScopedResourceSelectorRequirement{prio(corev1.ScopeSelectorOpNotIn, "high")}, true, false},
		{"all scopes must hold", []corev1.ScopedResourceSelectorRequirement{exists(corev1.ResourceQuotaScopeNotBestEffort), exists(corev1.ResourceQuotaScopeNotTerminating)}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]bool
			for i, p := range []*corev1.Pod{best, burst} {
				in, err := InScope(Pods, p, tt.reqs)
				if err != nil {
					t.Fatal(err)
				}
				got[i] = in
			}
			if diff := cmp.Diff([2]bool{tt.best, tt.burst}, got); diff != "" {
				t.Errorf("best effort, burstable in scope (-want +got):\n%s", diff)
			}
		})
	}
	if in, _ := InScope(Services, &corev1.Service{}, []corev1.ScopedResourceSelectorRequirement{exists(corev1.ResourceQuotaScopeBestEffort)}); in {
		t.Error("a scoped quota matched a service")
	}
}

func TestConstraints(t *testing.T) {
	pod := &corev1.Pod{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{container("init", nil, nil)},
		Containers:     []corev1.Container{container("a", rl("cpu", "1"), nil), container("b", nil, rl("cpu", "1"))},
	}}
	tests := []struct {
		name     string
		required []corev1.ResourceName
		want     string
	}{
		{"nothing compute", []corev1.ResourceName{"pods", "requests.example.com/gpu"}, ""},
		{"requests.cpu", []corev1.ResourceName{"requests.cpu"}, "must specify requests.cpu for: b,init"},
		{"several", []corev1.ResourceName{"limits.cpu", "cpu", "memory"},
			"must specify cpu for: b,init; limits.cpu for: a,init; memory for: a,b,init"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if err := Constraints(Pods, pod, tt.required); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Constraints = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTotal(t *testing.T) {
	now := time.Now()
	objs := []runtime.Object{
		&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", rl("cpu", "1"), nil)}}},
		&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", nil, nil)}}},
		&corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{container("a", rl("cpu", "2"), nil)}}, Status: corev1.PodStatus{Phase: corev1.PodFailed}},
	}
	names := []corev1.ResourceName{"pods", "count/pods", "requests.cpu", "services"}
	got, err := Total(Pods, objs, names, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"pods": "2", "count/pods": "3", "requests.cpu": "1"}, strs(got)); diff != "" {
		t.Errorf("Total (-want +got):\n%s", diff)
	}
	got, err = Total(Pods, objs, names, []corev1.ScopedResourceSelectorRequirement{{ScopeName: corev1.ResourceQuotaScopeBestEffort, Operator: corev1.ScopeSelectorOpExists}}, now)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"pods": "1", "count/pods": "1", "requests.cpu": "0"}, strs(got)); diff != "" {
		t.Errorf("Total BestEffort (-want +got):\n%s", diff)
	}
}
