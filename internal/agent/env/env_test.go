package env

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b", "EMPTY": ""}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$(A)", "a"},
		{"x$(A)y$(B)z", "xaybz"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(A)", "$(A)"},
		{"$$$(A)", "$a"},
		{"$$", "$"},
		{"$", "$"},
		{"a$", "a$"},
		{"$A", "$A"},
		{"$(A", "$(A"},
		{"$()", "$()"},
		{"$(EMPTY)x", "x"},
		{"$($(A))", "$($(A))"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := Expand(tt.in, MapLookup(vars)); got != tt.want {
				t.Errorf("Expand(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1",
			Labels: map[string]string{"app": "web", "tier": "a\"b"}, Annotations: map[string]string{"note": "n"}},
		Spec: corev1.PodSpec{NodeName: "node1", ServiceAccountName: "sa",
			Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
				Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			}}, {Name: "other", Resources: corev1.ResourceRequirements{
				Limits: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("2")},
			}}}},
		Status: corev1.PodStatus{PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}, {IP: "fd42::5"}}, HostIPs: []corev1.HostIP{{IP: "192.168.1.1"}}},
	}
}

func TestResolve(t *testing.T) {
	client := fake.NewClientset(
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"},
			Data: map[string]string{"k": "cmv", "GOOD": "g", "bad-key": "x", "1bad": "y"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"},
			Data: map[string][]byte{"pw": []byte("secret"), "GOOD": []byte("fromsecret")}},
	)
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, s := range []*corev1.Service{
		{ObjectMeta: metav1.ObjectMeta{Name: "kubernetes", Namespace: "default"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.1", Ports: []corev1.ServicePort{{Name: "https", Port: 443, Protocol: corev1.ProtocolTCP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "my-svc", Namespace: "ns"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.7", Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "dns-udp", Port: 53, Protocol: corev1.ProtocolUDP}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "headless", Namespace: "ns"},
			Spec: corev1.ServiceSpec{ClusterIP: "None", Ports: []corev1.ServicePort{{Port: 80}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere", Namespace: "other"},
			Spec: corev1.ServiceSpec{ClusterIP: "10.43.0.9", Ports: []corev1.ServicePort{{Port: 80}}}},
	} {
		if err := idx.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	r, err := New(Config{Client: client, Services: corelisters.NewServiceLister(idx),
		Allocatable: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("8Gi")}})
	if err != nil {
		t.Fatal(err)
	}
	kubeVars := map[string]string{
		"KUBERNETES_SERVICE_HOST":       "10.43.0.1",
		"KUBERNETES_SERVICE_PORT":       "443",
		"KUBERNETES_SERVICE_PORT_HTTPS": "443",
		"KUBERNETES_PORT":               "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP":       "tcp://10.43.0.1:443",
		"KUBERNETES_PORT_443_TCP_PROTO": "tcp",
		"KUBERNETES_PORT_443_TCP_PORT":  "443",
		"KUBERNETES_PORT_443_TCP_ADDR":  "10.43.0.1",
	}
	svcVars := map[string]string{
		"MY_SVC_SERVICE_HOST":         "10.43.0.7",
		"MY_SVC_SERVICE_PORT":         "80",
		"MY_SVC_SERVICE_PORT_HTTP":    "80",
		"MY_SVC_SERVICE_PORT_DNS_UDP": "53",
		"MY_SVC_PORT":                 "tcp://10.43.0.7:80",
		"MY_SVC_PORT_80_TCP":          "tcp://10.43.0.7:80",
		"MY_SVC_PORT_80_TCP_PROTO":    "tcp",
		"MY_SVC_PORT_80_TCP_PORT":     "80",
		"MY_SVC_PORT_80_TCP_ADDR":     "10.43.0.7",
		"MY_SVC_PORT_53_UDP":          "udp://10.43.0.7:53",
		"MY_SVC_PORT_53_UDP_PROTO":    "udp",
		"MY_SVC_PORT_53_UDP_PORT":     "53",
		"MY_SVC_PORT_53_UDP_ADDR":     "10.43.0.7",
	}
	with := func(base map[string]string, more ...map[string]string) map[string]string {
		out := map[string]string{}
		for _, m := range append([]map[string]string{base}, more...) {
			for k, v := range m {
				out[k] = v
			}
		}
		return out
	}
	field := func(p string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: p}}
	}
	res := func(r, c string, div string) *corev1.EnvVarSource {
		s := &corev1.ResourceFieldSelector{Resource: r, ContainerName: c}
		if div != "" {
			s.Divisor = resource.MustParse(div)
		}
		return &corev1.EnvVarSource{ResourceFieldRef: s}
	}
	cmKey := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
	}
	secKey := func(name, key string, optional bool) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: key, Optional: &optional}}
	}
	tests := []struct {
		name         string
		links        *bool
		env          []corev1.EnvVar
		envFrom      []corev1.EnvFromSource
		want         map[string]string
		wantWarnings []string
		wantErr      string
	}{
		{
			name: "values and expansion",
			env: []corev1.EnvVar{
				{Name: "A", Value: "a"},
				{Name: "B", Value: "$(A)-$(MISSING)-$$(A)-$(MY_SVC_SERVICE_HOST)"},
				{Name: "C", Value: "$(D)"},
				{Name: "D", Value: "d"},
				{Name: "E"},
			},
			want: with(kubeVars, svcVars, map[string]string{"A": "a", "B": "a-$(MISSING)-$(A)-10.43.0.7", "C": "$(D)", "D": "d", "E": ""}),
		},
		{
			name:  "service links off keeps kubernetes",
			links: ptr(false),
			env:   []corev1.EnvVar{{Name: "KUBERNETES_SERVICE_HOST", Value: "override"}},
			want:  with(kubeVars, map[string]string{"KUBERNETES_SERVICE_HOST": "override"}),
		},
		{
			name:  "field refs",
			links: ptr(false),
			env: []corev1.EnvVar{
				{Name: "NAME", ValueFrom: field("metadata.name")},
				{Name: "NS", ValueFrom: field("metadata.namespace")},
				{Name: "UID", ValueFrom: field("metadata.uid")},
				{Name: "APP", ValueFrom: field("metadata.labels['app']")},
				{Name: "NOTE", ValueFrom: field("metadata.annotations['note']")},
				{Name: "NOPE", ValueFrom: field("metadata.labels['nope']")},
				{Name: "LABELS", ValueFrom: field("metadata.labels")},
				{Name: "NODE", ValueFrom: field("spec.nodeName")},
				{Name: "SA", ValueFrom: field("spec.serviceAccountName")},
				{Name: "HOSTIP", ValueFrom: field("status.hostIP")},
				{Name: "HOSTIPS", ValueFrom: field("status.hostIPs")},
				{Name: "PODIP", ValueFrom: field("status.podIP")},
				{Name: "PODIPS", ValueFrom: field("status.podIPs")},
			},
			want: with(kubeVars, map[string]string{"NAME": "p", "NS": "ns", "UID": "uid-1", "APP": "web", "NOTE": "n", "NOPE": "",
				"LABELS": "app=\"web\"\ntier=\"a\\\"b\"", "NODE": "node1", "SA": "sa",
				"HOSTIP": "192.168.1.1", "HOSTIPS": "192.168.1.1", "PODIP": "10.42.0.5", "PODIPS": "10.42.0.5,fd42::5"}),
		},
		{
			name:    "unsupported field",
			env:     []corev1.EnvVar{{Name: "X", ValueFrom: field("spec.hostname")}},
			wantErr: "unsupported fieldPath: spec.hostname",
		},
		{
			name:  "resource refs",
			links: ptr(false),
			env: []corev1.EnvVar{
				{Name: "MEM", ValueFrom: res("limits.memory", "", "")},
				{Name: "MEM_MI", ValueFrom: res("limits.memory", "", "1Mi")},
				{Name: "CPU_LIMIT", ValueFrom: res("limits.cpu", "", "")},
				{Name: "CPU_REQ_M", ValueFrom: res("requests.cpu", "", "1m")},
				{Name: "CPU_REQ", ValueFrom: res("requests.cpu", "", "")},
				{Name: "OTHER_CPU", ValueFrom: res("limits.cpu", "other", "")},
				{Name: "EPH_REQ", ValueFrom: res("requests.ephemeral-storage", "", "")},
			},
			want: with(kubeVars, map[string]string{"MEM": "67108864", "MEM_MI": "64", "CPU_LIMIT": "4", "CPU_REQ_M": "250",
				"CPU_REQ": "1", "OTHER_CPU": "2", "EPH_REQ": "0"}),
		},
		{
			name:    "unsupported resource",
			env:     []corev1.EnvVar{{Name: "X", ValueFrom: res("limits.gpu", "", "")}},
			wantErr: "unsupported container resource : limits.gpu",
		},
		{
			name:  "key refs",
			links: ptr(false),
			env: []corev1.EnvVar{
				{Name: "CM", ValueFrom: cmKey("cm", "k", false)},
				{Name: "PW", ValueFrom: secKey("s", "pw", false)},
				{Name: "OPT_CM", ValueFrom: cmKey("missing", "k", true)},
				{Name: "OPT_KEY", ValueFrom: cmKey("cm", "missing", true)},
				{Name: "OPT_SEC", ValueFrom: secKey("missing", "k", true)},
				{Name: "OPT_SKEY", ValueFrom: secKey("s", "missing", true)},
				{Name: "REF", Value: "$(CM)/$(OPT_CM)"},
			},
			want: with(kubeVars, map[string]string{"CM": "cmv", "PW": "secret", "REF": "cmv/$(OPT_CM)"}),
		},
		{name: "missing configmap", env: []corev1.EnvVar{{Name: "X", ValueFrom: cmKey("missing", "k", false)}}, wantErr: `configmap "missing" not found`},
		{name: "missing configmap key", env: []corev1.EnvVar{{Name: "X", ValueFrom: cmKey("cm", "nokey", false)}}, wantErr: "couldn't find key nokey in ConfigMap ns/cm"},
		{name: "missing secret", env: []corev1.EnvVar{{Name: "X", ValueFrom: secKey("missing", "k", false)}}, wantErr: `secret "missing" not found`},
		{name: "missing secret key", env: []corev1.EnvVar{{Name: "X", ValueFrom: secKey("s", "nokey", false)}}, wantErr: "couldn't find key nokey in Secret ns/s"},
		{
			name:  "envFrom with prefix, invalid keys skipped, later wins, env wins",
			links: ptr(false),
			envFrom: []corev1.EnvFromSource{
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
				{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}}},
				{Prefix: "P_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}},
				{ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "missing"}, Optional: ptr(true)}},
			},
			env:  []corev1.EnvVar{{Name: "k", Value: "fromenv-$(GOOD)"}},
			want: with(kubeVars, map[string]string{"k": "fromenv-fromsecret", "GOOD": "fromsecret", "pw": "secret", "P_k": "cmv", "P_GOOD": "g", "P_bad-key": "x", "bad-key": "x", "P_1bad": "y"}),
			wantWarnings: []string{
				"Keys [1bad] from the EnvFrom configMap ns/cm were skipped since they are considered invalid environment variable names.",
			},
		},
		{
			name:    "envFrom missing",
			envFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}},
			wantErr: `secret "gone" not found`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.EnableServiceLinks = tt.links
			c := &pod.Spec.Containers[0]
			c.Env, c.EnvFrom = tt.env, tt.envFrom
			got, err := r.Resolve(context.Background(), pod, c, IPs{})
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("Resolve error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if diff := cmp.Diff(tt.want, got.Map); diff != "" {
				t.Errorf("env (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantWarnings, got.Warnings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
			if len(got.Vars) != len(got.Map) {
				t.Errorf("Vars has %d entries, Map %d", len(got.Vars), len(got.Map))
			}
		})
	}
}

func TestFieldValueIPsOverride(t *testing.T) {
	pod := testPod()
	got, err := FieldValue(pod, "status.podIPs", IPs{Pod: []string{"10.42.0.9"}})
	if err != nil || got != "10.42.0.9" {
		t.Errorf("FieldValue = %q, %v; want 10.42.0.9", got, err)
	}
}

// FuzzExpand checks that, with nothing to substitute, Expand only ever
// unescapes $$: input without $$ comes back unchanged.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"$(A)", "$$", "$", "a$(b", "$(x)$(", "$$(A)", "$(A)$$"} {
		f.Add(s)
	}
	none := func(string) (string, bool) { return "", false }
	f.Fuzz(func(t *testing.T, s string) {
		got := Expand(s, none)
		if !strings.Contains(s, "$$") && got != s {
			t.Errorf("Expand(%q) with no variables = %q", s, got)
		}
	})
}
