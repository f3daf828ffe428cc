package registry

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// checkCase is one validation case: obj is validated on its own, or as an
// update of old when old is set; want lists the "Type path" projections.
type checkCase struct {
	name     string
	obj, old runtime.Object
	want     []string
}

// runChecks runs the cases through the kind's Default and Validate, and
// ValidateUpdate for updates, as the API server does.
func runChecks(t *testing.T, gk schema.GroupKind, cases []checkCase) {
	t.Helper()
	s, ok := kindChecks()[gk]
	if !ok || s.Validate == nil {
		t.Fatalf("%v has no Validate", gk)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obj := tc.obj.DeepCopyObject()
			if s.Default != nil {
				s.Default(obj)
			}
			errs := s.Validate(obj)
			if tc.old != nil {
				old := tc.old.DeepCopyObject()
				if s.Default != nil {
					s.Default(old)
				}
				if s.ValidateUpdate == nil {
					t.Fatalf("%v has no ValidateUpdate", gk)
				}
				errs = append(errs, s.ValidateUpdate(obj, old)...)
			}
			if diff := cmp.Diff(tc.want, project(errs), emptyEqual); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func core(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }

func TestValidateService(t *testing.T) {
	svc := func(mutate func(*corev1.ServiceSpec)) *corev1.Service {
		s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"}, Spec: corev1.ServiceSpec{
			Selector: map[string]string{"app": "web"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http")}, {Name: "https", Port: 443}},
		}}
		if mutate != nil {
			mutate(&s.Spec)
		}
		return s
	}
	allocated := svc(func(s *corev1.ServiceSpec) { s.ClusterIP, s.ClusterIPs = "10.43.0.10", []string{"10.43.0.10"} })
	runChecks(t, core("Service"), []checkCase{
		{name: "valid", obj: svc(nil)},
		{name: "headless without ports", obj: svc(func(s *corev1.ServiceSpec) { s.Ports, s.ClusterIP = nil, "None" })},
		{name: "external name", obj: svc(func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName, s.Ports = corev1.ServiceTypeExternalName, "db.example.com.", nil
		})},
		{name: "ports required", obj: svc(func(s *corev1.ServiceSpec) { s.Ports = nil }), want: want("FieldValueRequired spec.ports")},
		{name: "port range", obj: svc(func(s *corev1.ServiceSpec) { s.Ports[0].Port = 0 }), want: want("FieldValueInvalid spec.ports[0].port")},
		{name: "port name required with several", obj: svc(func(s *corev1.ServiceSpec) { s.Ports[1].Name = "" }),
			want: want("FieldValueRequired spec.ports[1].name")},
		{name: "duplicate port", obj: svc(func(s *corev1.ServiceSpec) { s.Ports[1].Port = 80 }), want: want("FieldValueDuplicate spec.ports[1]")},
		{name: "protocol", obj: svc(func(s *corev1.ServiceSpec) { s.Ports[0].Protocol = "HTTP" }),
			want: want("FieldValueNotSupported spec.ports[0].protocol")},
		{name: "type", obj: svc(func(s *corev1.ServiceSpec) { s.Type = "Internal" }), want: want("FieldValueNotSupported spec.type")},
		{name: "node port on cluster ip", obj: svc(func(s *corev1.ServiceSpec) { s.Ports[0].NodePort = 30080 }),
			want: want("FieldValueForbidden spec.ports[0].nodePort")},
		{name: "node port range", obj: svc(func(s *corev1.ServiceSpec) { s.Type, s.Ports[0].NodePort = corev1.ServiceTypeNodePort, 80 }),
			want: want("FieldValueInvalid spec.ports[0].nodePort")},
		{name: "selector label", obj: svc(func(s *corev1.ServiceSpec) { s.Selector["app"] = "not valid!" }),
			want: want("FieldValueInvalid spec.selector")},
		{name: "external name required", obj: svc(func(s *corev1.ServiceSpec) { s.Type, s.Ports = corev1.ServiceTypeExternalName, nil }),
			want: want("FieldValueRequired spec.externalName")},
		{name: "headless node port", obj: svc(func(s *corev1.ServiceSpec) { s.Type, s.ClusterIP = corev1.ServiceTypeNodePort, "None" }),
			want: want("FieldValueInvalid spec.clusterIPs[0]")},
		{name: "external traffic policy on cluster ip", obj: svc(func(s *corev1.ServiceSpec) { s.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
			want: want("FieldValueInvalid spec.externalTrafficPolicy")},
		{name: "bad cluster ip", obj: svc(func(s *corev1.ServiceSpec) { s.ClusterIP = "10.43.0.300" }), want: want("FieldValueInvalid spec.clusterIP")},
		{name: "session affinity timeout", obj: svc(func(s *corev1.ServiceSpec) {
			s.SessionAffinity = corev1.ServiceAffinityClientIP
			s.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(0))}}
		}), want: want("FieldValueInvalid spec.sessionAffinityConfig.clientIP.timeoutSeconds")},
		{name: "cluster ip kept", obj: allocated, old: allocated},
		{name: "cluster ip changed", obj: svc(func(s *corev1.ServiceSpec) { s.ClusterIP, s.ClusterIPs = "10.43.0.11", []string{"10.43.0.11"} }),
			old: allocated, want: want("FieldValueInvalid spec.clusterIPs[0]")},
		{name: "to external name releases the ip", obj: svc(func(s *corev1.ServiceSpec) {
			s.Type, s.ExternalName, s.Ports = corev1.ServiceTypeExternalName, "db.example.com", nil
		}), old: allocated},
	})
}

func TestValidateConfigMapAndSecret(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "d"}, Data: map[string]string{"app.conf": "x"}}
	frozen := cm.DeepCopy()
	frozen.Immutable = new(true)
	changed := frozen.DeepCopy()
	changed.Data["app.conf"] = "y"
	runChecks(t, core("ConfigMap"), []checkCase{
		{name: "valid", obj: cm},
		{name: "bad key", obj: &corev1.ConfigMap{Data: map[string]string{"a/b": "x"}}, want: want("FieldValueInvalid data[a/b]")},
		{name: "key in both bags", obj: &corev1.ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": nil}},
			want: want("FieldValueInvalid data[k]")},
		{name: "too large", obj: &corev1.ConfigMap{Data: map[string]string{"k": strings.Repeat("x", maxDataSize+1)}}, want: want("FieldValueTooLong []")},
		{name: "immutable data", obj: changed, old: frozen, want: want("FieldValueForbidden data")},
		{name: "immutable flag kept", obj: cm, old: frozen, want: want("FieldValueForbidden immutable")},
		{name: "mutable", obj: changed, old: cm},
	})

	tls := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "d"}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}}
	runChecks(t, core("Secret"), []checkCase{
		{name: "valid tls", obj: tls},
		{name: "opaque from stringData", obj: &corev1.Secret{StringData: map[string]string{"password": "x"}}},
		{name: "tls without key", obj: &corev1.Secret{Type: corev1.SecretTypeTLS, Data: map[string][]byte{"tls.crt": nil}},
			want: want("FieldValueRequired data[tls.key]")},
		{name: "docker config json", obj: &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson, Data: map[string][]byte{".dockerconfigjson": []byte("{")}},
			want: want("FieldValueInvalid data[.dockerconfigjson]")},
		{name: "docker config json required", obj: &corev1.Secret{Type: corev1.SecretTypeDockerConfigJson},
			want: want("FieldValueRequired data[.dockerconfigjson]")},
		{name: "service account token", obj: &corev1.Secret{Type: corev1.SecretTypeServiceAccountToken},
			want: want("FieldValueRequired metadata.annotations[kubernetes.io/service-account.name]")},
		{name: "bad key", obj: &corev1.Secret{Data: map[string][]byte{"..": nil}}, want: want("FieldValueInvalid data[..]")},
		{name: "type immutable", obj: &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: tls.Data}, old: tls, want: want("FieldValueInvalid type")},
	})
}

func TestValidateNamespaceAndNode(t *testing.T) {
	runChecks(t, core("Namespace"), []checkCase{
		{name: "valid", obj: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}}}},
		{name: "finalizer", obj: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}, Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"mine"}}},
			want: want("FieldValueInvalid spec.finalizers")},
	})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}}
	runChecks(t, core("Node"), []checkCase{
		{name: "valid", obj: node},
		{name: "bad cidr", obj: &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.0.0/33"}}}, want: want("FieldValueInvalid spec.podCIDRs[0]")},
		{name: "two v4 cidrs", obj: &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.0.0/24", "10.42.1.0/24"}}},
			want: want("FieldValueInvalid spec.podCIDRs")},
		{name: "taint effect", obj: &corev1.Node{Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "k", Effect: "Maybe"}}}},
			want: want("FieldValueNotSupported metadata.taints[0].effect")},
		{name: "cidr assigned", obj: node, old: &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}},
		{name: "cidr changed", obj: &corev1.Node{Spec: corev1.NodeSpec{PodCIDRs: []string{"10.42.1.0/24"}}}, old: node,
			want: want("FieldValueForbidden spec.podCIDRs")},
	})
}

func TestValidateVolumes(t *testing.T) {
	pv := &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{
		Capacity:               corev1.ResourceList{"storage": resource.MustParse("1Gi")},
		AccessModes:            []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
	}}
	runChecks(t, core("PersistentVolume"), []checkCase{
		{name: "valid", obj: pv},
		{name: "empty", obj: &corev1.PersistentVolume{}, want: want("FieldValueRequired spec.accessModes", "FieldValueRequired spec.capacity",
			"FieldValueNotSupported spec.capacity", "FieldValueRequired spec")},
		{name: "two sources", obj: func() *corev1.PersistentVolume {
			p := pv.DeepCopy()
			p.Spec.NFS = &corev1.NFSVolumeSource{Server: "s", Path: "/x"}
			return p
		}(), want: want("FieldValueForbidden spec.nfs")},
		{name: "source immutable", obj: func() *corev1.PersistentVolume {
			p := pv.DeepCopy()
			p.Spec.HostPath.Path = "/other"
			return p
		}(), old: pv, want: want("FieldValueForbidden spec.persistentvolumesource")},
	})
	pvc := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "c", Namespace: "d"}, Spec: corev1.PersistentVolumeClaimSpec{
		AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
		Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{"storage": resource.MustParse("1Gi")}},
	}}
	bound := pvc.DeepCopy()
	bound.Spec.VolumeName = "pv"
	bound.Status = corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound, Capacity: corev1.ResourceList{"storage": resource.MustParse("1Gi")}}
	grown := bound.DeepCopy()
	grown.Spec.Resources.Requests["storage"] = resource.MustParse("2Gi")
	shrunk := bound.DeepCopy()
	shrunk.Spec.Resources.Requests["storage"] = resource.MustParse("512Mi")
	unboundGrown := pvc.DeepCopy()
	unboundGrown.Spec.Resources.Requests["storage"] = resource.MustParse("2Gi")
	runChecks(t, core("PersistentVolumeClaim"), []checkCase{
		{name: "valid", obj: pvc},
		{name: "no access mode or size", obj: &corev1.PersistentVolumeClaim{},
			want: want("FieldValueRequired spec.accessModes", "FieldValueRequired spec.resources[storage]")},
		{name: "rwop with others", obj: func() *corev1.PersistentVolumeClaim {
			c := pvc.DeepCopy()
			c.Spec.AccessModes = append(c.Spec.AccessModes, corev1.ReadWriteOncePod)
			return c
		}(), want: want("FieldValueForbidden spec.accessModes")},
		{name: "binding sets volume name", obj: bound, old: func() *corev1.PersistentVolumeClaim {
			c := pvc.DeepCopy()
			c.Status = bound.Status
			return c
		}()},
		{name: "bound claim grows", obj: grown, old: bound},
		{name: "bound claim shrinks below capacity", obj: shrunk, old: bound,
			want: want("FieldValueForbidden spec.resources.requests.storage")},
		{name: "unbound claim resized", obj: unboundGrown, old: pvc, want: want("FieldValueForbidden spec")},
		{name: "access modes immutable", obj: func() *corev1.PersistentVolumeClaim {
			c := bound.DeepCopy()
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}
			return c
		}(), old: bound, want: want("FieldValueForbidden spec")},
	})
}

func TestValidateOtherCore(t *testing.T) {
	runChecks(t, core("Endpoints"), []checkCase{
		{name: "valid", obj: &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{
			Addresses: []corev1.EndpointAddress{{IP: "10.42.0.5"}}, Ports: []corev1.EndpointPort{{Port: 80}},
		}}}},
		{name: "no addresses and loopback", obj: &corev1.Endpoints{Subsets: []corev1.EndpointSubset{{}, {
			Addresses: []corev1.EndpointAddress{{IP: "127.0.0.1"}}, Ports: []corev1.EndpointPort{{Port: 80, Name: "a"}, {Port: 81}},
		}}}, want: want("FieldValueRequired subsets[0]", "FieldValueInvalid subsets[1].addresses[0].ip", "FieldValueRequired subsets[1].ports[1].name")},
	})
	runChecks(t, core("ReplicationController"), []checkCase{
		{name: "valid", obj: &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: validPod().Spec,
		}}}},
		{name: "selector mismatch and restart policy", obj: &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{
			Selector: map[string]string{"app": "b"},
			Template: &corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}}, Spec: func() corev1.PodSpec {
				s := validPod().Spec
				s.RestartPolicy = corev1.RestartPolicyNever
				return s
			}()},
		}}, want: want("FieldValueInvalid spec.template.metadata.labels", "FieldValueNotSupported spec.template.spec.restartPolicy")},
		{name: "no template", obj: &corev1.ReplicationController{}, want: want("FieldValueRequired spec.selector", "FieldValueRequired spec.template")},
	})
	runChecks(t, core("ResourceQuota"), []checkCase{
		{name: "valid", obj: &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			"pods": resource.MustParse("10"), "requests.cpu": resource.MustParse("4"), "count/deployments.apps": resource.MustParse("5"),
		}}}},
		{name: "bad names", obj: &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{
			"storage": resource.MustParse("1"), "pods": resource.MustParse("1.5"),
		}, Scopes: []corev1.ResourceQuotaScope{"BestEffort", "NotBestEffort"}}},
			want: want("FieldValueInvalid spec.hard[storage]", "FieldValueInvalid spec.hard[pods]", "FieldValueInvalid spec.scopes")},
		{name: "scopes immutable", obj: &corev1.ResourceQuota{Spec: corev1.ResourceQuotaSpec{Scopes: []corev1.ResourceQuotaScope{"BestEffort"}}},
			old: &corev1.ResourceQuota{}, want: want("FieldValueInvalid spec.scopes")},
	})
	runChecks(t, core("LimitRange"), []checkCase{
		{name: "valid", obj: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{"cpu": resource.MustParse("2")}, Min: corev1.ResourceList{"cpu": resource.MustParse("100m")},
		}}}}},
		{name: "min above max and pod default", obj: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypePod, Max: corev1.ResourceList{"cpu": resource.MustParse("1")}, Min: corev1.ResourceList{"cpu": resource.MustParse("2")},
			Default: corev1.ResourceList{"cpu": resource.MustParse("1")},
		}}}}, want: want("FieldValueInvalid spec.limits[0].min[cpu]", "FieldValueForbidden spec.limits[0].default")},
	})
	runChecks(t, core("PodTemplate"), []checkCase{
		{name: "valid", obj: &corev1.PodTemplate{Template: corev1.PodTemplateSpec{Spec: validPod().Spec}}},
		{name: "empty spec", obj: &corev1.PodTemplate{}, want: want("FieldValueRequired template.spec.containers")},
	})
}

func TestKindChecksAreServedKinds(t *testing.T) {
	served := map[schema.GroupKind]bool{}
	for _, r := range builtinResources() {
		served[schema.GroupKind{Group: r.Group, Kind: r.Kind}] = true
	}
	for gk, s := range kindChecks() {
		if !served[gk] {
			t.Errorf("kindChecks has %v, which is not a served kind", gk)
		}
		if s.Validate == nil && s.ValidateUpdate != nil {
			t.Errorf("%v has ValidateUpdate without Validate", gk)
		}
	}
}
