package registry

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// sample is one object of a kind, as a client would send it before
// defaulting.
type sample struct {
	gk  schema.GroupKind
	obj runtime.Object
}

// samples returns an undefaulted object for every kind with a Default,
// exercising the nested structures the defaults reach.
func samples() []sample {
	core := func(kind string) schema.GroupKind { return schema.GroupKind{Kind: kind} }
	gk := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	meta := metav1.ObjectMeta{Name: "x", Namespace: "default", UID: "uid-1"}
	tmpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "x"}},
		Spec:       *richPodSpec(),
	}
	return []sample{
		{core("Pod"), &corev1.Pod{ObjectMeta: meta, Spec: *richPodSpec()}},
		{core("PodTemplate"), &corev1.PodTemplate{ObjectMeta: meta, Template: *tmpl.DeepCopy()}},
		{core("ReplicationController"), &corev1.ReplicationController{ObjectMeta: meta, Spec: corev1.ReplicationControllerSpec{Template: tmpl.DeepCopy()}}},
		{core("Service"), &corev1.Service{ObjectMeta: meta, Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityClientIP,
			Ports: []corev1.ServicePort{{Port: 80}, {Port: 443, TargetPort: intstr.FromString("https")}},
		}, Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: "192.0.2.1"}}}}}},
		{core("Secret"), &corev1.Secret{ObjectMeta: meta, StringData: map[string]string{"a": "b"}}},
		{core("Namespace"), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ns"}}},
		{gk("admissionregistration.k8s.io", "MutatingWebhookConfiguration"), &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "m"},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "m.example.com", Rules: []admissionregistrationv1.RuleWithOperations{{}}}}}},
		{gk("admissionregistration.k8s.io", "ValidatingAdmissionPolicy"), &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{MatchConstraints: &admissionregistrationv1.MatchResources{}}}},
		{gk("admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding"), &admissionregistrationv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: "b"},
			Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{MatchResources: &admissionregistrationv1.MatchResources{}}}},
		{gk("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"), &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "v"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "v.example.com"}}}},
		{core("Node"), &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n"}, Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"cpu": resource.MustParse("2")}}}},
		{gk("certificates.k8s.io", "CertificateSigningRequest"), &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: "csr"},
			Status: certificatesv1.CertificateSigningRequestStatus{Conditions: []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved}}}}},
		{core("Endpoints"), &corev1.Endpoints{ObjectMeta: meta, Subsets: []corev1.EndpointSubset{{Ports: []corev1.EndpointPort{{Port: 80}}}}}},
		{core("PersistentVolume"), &corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv"}, Spec: corev1.PersistentVolumeSpec{
			PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/data"}},
		}}},
		{core("PersistentVolumeClaim"), &corev1.PersistentVolumeClaim{ObjectMeta: meta}},
		{core("LimitRange"), &corev1.LimitRange{ObjectMeta: meta, Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer, Max: corev1.ResourceList{"cpu": resource.MustParse("1")}, Min: corev1.ResourceList{"memory": resource.MustParse("1Mi")},
		}}}}},
		{core("ResourceQuota"), &corev1.ResourceQuota{ObjectMeta: meta, Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{"cpu": resource.MustParse("0.0001")}}}},
		{gk("apps", "Deployment"), &appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Template: *tmpl.DeepCopy()}}},
		{gk("apps", "ReplicaSet"), &appsv1.ReplicaSet{ObjectMeta: meta, Spec: appsv1.ReplicaSetSpec{Template: *tmpl.DeepCopy()}}},
		{gk("apps", "StatefulSet"), &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{
			Template: *tmpl.DeepCopy(), VolumeClaimTemplates: []corev1.PersistentVolumeClaim{{ObjectMeta: metav1.ObjectMeta{Name: "data"}}},
		}}},
		{gk("apps", "DaemonSet"), &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: *tmpl.DeepCopy()}}},
		{gk("batch", "Job"), &batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Template: *tmpl.DeepCopy()}}},
		{gk("batch", "CronJob"), &batchv1.CronJob{ObjectMeta: meta, Spec: batchv1.CronJobSpec{JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: *tmpl.DeepCopy()}}}}},
		{gk("networking.k8s.io", "NetworkPolicy"), &networkingv1.NetworkPolicy{ObjectMeta: meta, Spec: networkingv1.NetworkPolicySpec{
			Egress: []networkingv1.NetworkPolicyEgressRule{{Ports: []networkingv1.NetworkPolicyPort{{}}}},
		}}},
		{gk("networking.k8s.io", "IngressClass"), &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "ic"}, Spec: networkingv1.IngressClassSpec{
			Controller: "example.com/ingress", Parameters: &networkingv1.IngressClassParametersReference{Kind: "K", Name: "n"},
		}}},
		{gk("discovery.k8s.io", "EndpointSlice"), &discoveryv1.EndpointSlice{ObjectMeta: meta, AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{{}}}},
		{gk("rbac.authorization.k8s.io", "RoleBinding"), &rbacv1.RoleBinding{ObjectMeta: meta, RoleRef: rbacv1.RoleRef{Kind: "Role", Name: "r"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: "u"}, {Kind: "ServiceAccount", Name: "sa"}}}},
		{gk("rbac.authorization.k8s.io", "ClusterRoleBinding"), &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "crb"}, RoleRef: rbacv1.RoleRef{Kind: "ClusterRole", Name: "r"},
			Subjects: []rbacv1.Subject{{Kind: "Group", Name: "g"}}}},
		{gk("storage.k8s.io", "StorageClass"), &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "sc"}, Provisioner: "example.com/p"}},
		{gk("scheduling.k8s.io", "PriorityClass"), &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "pc"}, Value: 10}},
		{gk("autoscaling", "HorizontalPodAutoscaler"), &autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: meta}},
		{gk("autoscaling", "HorizontalPodAutoscaler"), &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: meta, Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: new(int32(60))}},
		}}},
	}
}

// richPodSpec is an undefaulted pod spec touching every nested default.
func richPodSpec() *corev1.PodSpec {
	probe := &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(8080)}}}
	return &corev1.PodSpec{
		HostNetwork: true,
		Volumes: []corev1.Volume{
			{Name: "empty"},
			{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
			{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
			{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/var"}}},
			{Name: "dapi", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			}}}},
			{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
				{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}},
			}}}},
		},
		InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{"memory": resource.MustParse("64Mi")},
		}}},
		Containers: []corev1.Container{{
			Name: "app", Image: "nginx", Ports: []corev1.ContainerPort{{ContainerPort: 80}},
			Env: []corev1.EnvVar{{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}},
			Resources: corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{"cpu": resource.MustParse("0.0001"), "memory": resource.MustParse("128Mi")},
				Requests: corev1.ResourceList{"cpu": resource.MustParse("0.0001")},
			},
			LivenessProbe: probe, ReadinessProbe: probe.DeepCopy(),
			StartupProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{GRPC: &corev1.GRPCAction{Port: 9000}}},
			Lifecycle:    &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromInt32(80)}}},
		}},
	}
}

func TestDefaultIsIdempotent(t *testing.T) {
	checks := kindChecks()
	seen := map[schema.GroupKind]bool{}
	for _, s := range samples() {
		seen[s.gk] = true
		t.Run(s.gk.String(), func(t *testing.T) {
			def := checks[s.gk].Default
			if def == nil {
				t.Fatalf("%v has a sample but no Default", s.gk)
			}
			once := s.obj.DeepCopyObject()
			def(once)
			if diff := cmp.Diff(s.obj, once); diff == "" {
				t.Errorf("Default changed nothing on the sample; it should exercise the defaults")
			}
			twice := once.DeepCopyObject()
			def(twice)
			if diff := cmp.Diff(once, twice); diff != "" {
				t.Errorf("defaulting twice differs from once (-once +twice):\n%s", diff)
			}
		})
	}
	for gk, c := range checks {
		if c.Default != nil && !seen[gk] {
			t.Errorf("%v has a Default but no sample in samples()", gk)
		}
	}
}

func TestDefaultPod(t *testing.T) {
	pod := &corev1.Pod{Spec: *richPodSpec()}
	defaultPod(pod)

	want := richPodSpec()
	want.DNSPolicy = corev1.DNSClusterFirst
	want.RestartPolicy = corev1.RestartPolicyAlways
	want.SecurityContext = &corev1.PodSecurityContext{}
	want.TerminationGracePeriodSeconds = new(int64(30))
	want.SchedulerName = "default-scheduler"
	want.EnableServiceLinks = new(true)
	want.Volumes[0].EmptyDir = &corev1.EmptyDirVolumeSource{}
	want.Volumes[1].ConfigMap.DefaultMode = new(int32(0644))
	want.Volumes[2].Secret.DefaultMode = new(int32(0644))
	want.Volumes[3].HostPath.Type = new(corev1.HostPathUnset)
	want.Volumes[4].DownwardAPI.DefaultMode = new(int32(0644))
	want.Volumes[4].DownwardAPI.Items[0].FieldRef.APIVersion = "v1"
	want.Volumes[5].Projected.DefaultMode = new(int32(0644))
	want.Volumes[5].Projected.Sources[0].ServiceAccountToken.ExpirationSeconds = new(int64(3600))

	in := &want.InitContainers[0]
	in.ImagePullPolicy = corev1.PullIfNotPresent
	in.TerminationMessagePath = "/dev/termination-log"
	in.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	in.Resources.Requests = corev1.ResourceList{"memory": resource.MustParse("64Mi")}

	c := &want.Containers[0]
	c.ImagePullPolicy = corev1.PullAlways
	c.TerminationMessagePath = "/dev/termination-log"
	c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	c.Ports[0].Protocol = corev1.ProtocolTCP
	c.Ports[0].HostPort = 80
	c.Env[0].ValueFrom.FieldRef.APIVersion = "v1"
	c.Resources.Limits["cpu"] = resource.MustParse("1m")
	c.Resources.Requests["cpu"] = resource.MustParse("1m")
	c.Resources.Requests["memory"] = resource.MustParse("128Mi")
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		p.TimeoutSeconds, p.PeriodSeconds, p.SuccessThreshold, p.FailureThreshold = 1, 10, 1, 3
	}
	c.LivenessProbe.HTTPGet.Path, c.LivenessProbe.HTTPGet.Scheme = "/", corev1.URISchemeHTTP
	c.ReadinessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Scheme = "/", corev1.URISchemeHTTP
	c.StartupProbe.GRPC.Service = new("")
	c.Lifecycle.PreStop.HTTPGet.Path, c.Lifecycle.PreStop.HTTPGet.Scheme = "/", corev1.URISchemeHTTP

	if diff := cmp.Diff(want, &pod.Spec); diff != "" {
		t.Errorf("defaulted pod spec (-want +got):\n%s", diff)
	}
}

func TestDefaultTemplateLeavesPodOnlyFields(t *testing.T) {
	d := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{Spec: *richPodSpec()}}}
	defaultDeployment(d)
	s := d.Spec.Template.Spec
	if s.EnableServiceLinks != nil {
		t.Errorf("enableServiceLinks = %v on a template, want unset", *s.EnableServiceLinks)
	}
	if got := s.Containers[0].Ports[0].HostPort; got != 0 {
		t.Errorf("template hostPort = %d, want 0", got)
	}
	if _, ok := s.InitContainers[0].Resources.Requests["memory"]; ok {
		t.Errorf("template requests defaulted from limits, want untouched")
	}
	if s.RestartPolicy != corev1.RestartPolicyAlways || s.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("template restartPolicy/dnsPolicy = %q/%q, want Always/ClusterFirst", s.RestartPolicy, s.DNSPolicy)
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	for _, tc := range []struct {
		image string
		want  corev1.PullPolicy
	}{
		{"nginx", corev1.PullAlways},
		{"nginx:latest", corev1.PullAlways},
		{"nginx:1.27", corev1.PullIfNotPresent},
		{"registry.local:5000/team/app", corev1.PullAlways},
		{"registry.local:5000/team/app:v2", corev1.PullIfNotPresent},
		{"nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", corev1.PullIfNotPresent},
		{"nginx:latest@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", corev1.PullAlways},
		{"[::1]:5000/app", corev1.PullAlways},
		{"", corev1.PullIfNotPresent},
		{"Nginx", corev1.PullIfNotPresent},
		{"nginx:", corev1.PullIfNotPresent},
	} {
		if got := defaultPullPolicy(tc.image); got != tc.want {
			t.Errorf("defaultPullPolicy(%q) = %q, want %q", tc.image, got, tc.want)
		}
	}
}

func TestDefaultService(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   corev1.ServiceSpec
		want corev1.ServiceSpec
	}{{
		name: "cluster ip",
		in:   corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}, {Port: 81, TargetPort: intstr.FromString("web")}}},
		want: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, SessionAffinity: corev1.ServiceAffinityNone,
			InternalTrafficPolicy: new(corev1.ServiceInternalTrafficPolicyCluster),
			Ports: []corev1.ServicePort{
				{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
				{Port: 81, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromString("web")},
			},
		},
	}, {
		name: "node port with client ip affinity",
		in:   corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, SessionAffinity: corev1.ServiceAffinityClientIP},
		want: corev1.ServiceSpec{
			Type: corev1.ServiceTypeNodePort, SessionAffinity: corev1.ServiceAffinityClientIP,
			SessionAffinityConfig: &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: new(int32(10800))}},
			ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyCluster,
			InternalTrafficPolicy: new(corev1.ServiceInternalTrafficPolicyCluster),
		},
	}, {
		name: "load balancer",
		in:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer},
		want: corev1.ServiceSpec{
			Type: corev1.ServiceTypeLoadBalancer, SessionAffinity: corev1.ServiceAffinityNone,
			ExternalTrafficPolicy:         corev1.ServiceExternalTrafficPolicyCluster,
			InternalTrafficPolicy:         new(corev1.ServiceInternalTrafficPolicyCluster),
			AllocateLoadBalancerNodePorts: new(true),
		},
	}, {
		name: "external name",
		in:   corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"},
		want: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com", SessionAffinity: corev1.ServiceAffinityNone},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			svc := &corev1.Service{Spec: tc.in}
			defaultService(svc)
			if diff := cmp.Diff(tc.want, svc.Spec); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDefaultCoreObjects(t *testing.T) {
	for _, tc := range []struct {
		name     string
		in, want runtime.Object
		def      func(runtime.Object)
	}{{
		name: "secret folds stringData",
		in:   &corev1.Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("2")}, StringData: map[string]string{"b": "3"}},
		want: &corev1.Secret{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"a": []byte("1"), "b": []byte("3")}},
		def:  defaulter(defaultSecret),
	}, {
		name: "namespace name label",
		in:   &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"kubernetes.io/metadata.name": "other"}}},
		want: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"kubernetes.io/metadata.name": "team"}}},
		def:  defaulter(defaultNamespace),
	}, {
		name: "replication controller selector from template",
		in: &corev1.ReplicationController{Spec: corev1.ReplicationControllerSpec{Template: &corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
		}}},
		want: &corev1.ReplicationController{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
			Spec: corev1.ReplicationControllerSpec{Replicas: new(int32(1)), Selector: map[string]string{"app": "a"}, Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "a"}},
				Spec: corev1.PodSpec{
					DNSPolicy: corev1.DNSClusterFirst, RestartPolicy: corev1.RestartPolicyAlways, SecurityContext: &corev1.PodSecurityContext{},
					TerminationGracePeriodSeconds: new(int64(30)), SchedulerName: "default-scheduler",
				},
			}},
		},
		def: defaulter(defaultReplicationController),
	}, {
		name: "persistent volume",
		in:   &corev1.PersistentVolume{},
		want: &corev1.PersistentVolume{
			Spec:   corev1.PersistentVolumeSpec{PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain, VolumeMode: new(corev1.PersistentVolumeFilesystem)},
			Status: corev1.PersistentVolumeStatus{Phase: corev1.VolumePending},
		},
		def: defaulter(defaultPersistentVolume),
	}, {
		name: "limit range container item",
		in: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type: corev1.LimitTypeContainer,
			Max:  corev1.ResourceList{"cpu": resource.MustParse("2")},
			Min:  corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("1Mi")},
		}}}},
		want: &corev1.LimitRange{Spec: corev1.LimitRangeSpec{Limits: []corev1.LimitRangeItem{{
			Type:           corev1.LimitTypeContainer,
			Max:            corev1.ResourceList{"cpu": resource.MustParse("2")},
			Min:            corev1.ResourceList{"cpu": resource.MustParse("100m"), "memory": resource.MustParse("1Mi")},
			Default:        corev1.ResourceList{"cpu": resource.MustParse("2")},
			DefaultRequest: corev1.ResourceList{"cpu": resource.MustParse("2"), "memory": resource.MustParse("1Mi")},
		}}}},
		def: defaulter(defaultLimitRange),
	}, {
		name: "node pod CIDR becomes pod CIDRs",
		in:   &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24"}},
		want: &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24"}}},
		def:  defaulter(defaultNode),
	}, {
		name: "node pod CIDRs win",
		in:   &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.42.9.0/24", PodCIDRs: []string{"10.42.0.0/24", "fd42::/64"}}},
		want: &corev1.Node{Spec: corev1.NodeSpec{PodCIDR: "10.42.0.0/24", PodCIDRs: []string{"10.42.0.0/24", "fd42::/64"}}},
		def:  defaulter(defaultNode),
	}, {
		name: "pod status IPs",
		in:   &corev1.Pod{Status: corev1.PodStatus{PodIP: "10.42.0.5", HostIPs: []corev1.HostIP{{IP: "192.0.2.1"}}}},
		want: &corev1.Pod{
			Spec: corev1.PodSpec{
				DNSPolicy: corev1.DNSClusterFirst, RestartPolicy: corev1.RestartPolicyAlways, SecurityContext: &corev1.PodSecurityContext{},
				TerminationGracePeriodSeconds: new(int64(30)), SchedulerName: "default-scheduler", EnableServiceLinks: new(true),
			},
			Status: corev1.PodStatus{PodIP: "10.42.0.5", PodIPs: []corev1.PodIP{{IP: "10.42.0.5"}}, HostIP: "192.0.2.1", HostIPs: []corev1.HostIP{{IP: "192.0.2.1"}}},
		},
		def: defaulter(defaultPod),
	}, {
		name: "node allocatable from capacity",
		in:   &corev1.Node{Status: corev1.NodeStatus{Capacity: corev1.ResourceList{"pods": resource.MustParse("110")}}},
		want: &corev1.Node{Status: corev1.NodeStatus{
			Capacity:    corev1.ResourceList{"pods": resource.MustParse("110")},
			Allocatable: corev1.ResourceList{"pods": resource.MustParse("110")},
		}},
		def: defaulter(defaultNode),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			tc.def(tc.in)
			if diff := cmp.Diff(tc.want, tc.in); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
