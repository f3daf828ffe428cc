package registry

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// project reduces errors to "Type path" lines, sorted, for comparison.
func project(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, string(e.Type)+" "+e.Field)
	}
	slices.Sort(out)
	return out
}

// want builds the expected projection from "Type path" lines.
func want(lines ...string) []string {
	out := slices.Clone(lines)
	slices.Sort(out)
	return out
}

// validPod is a defaulted pod that passes validation.
func validPod() *corev1.Pod {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "default",
			Volumes: []corev1.Volume{
				{Name: "data"},
				{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "conf"}}}},
			},
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox:1.36", Command: []string{"true"}}},
			Containers: []corev1.Container{{
				Name: "app", Image: "nginx:1.27",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}},
				Env: []corev1.EnvVar{
					{Name: "MODE", Value: "prod"},
					{Name: "POD", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "KEY", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Key: "k"}}},
				},
				VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}, {Name: "conf", MountPath: "/etc/app"}},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{"cpu": resource.MustParse("100m")},
					Limits:   corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("128Mi")},
				},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}},
				LivenessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(80)}}},
			}},
			Tolerations: []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule}},
		},
	}
	defaultPod(pod)
	return pod
}

func TestValidatePod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"valid", func(*corev1.Pod) {}, nil},
		{"no containers", func(p *corev1.Pod) { p.Spec.Containers = nil }, want("FieldValueRequired spec.containers")},
		{"container name not a DNS label", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "App_1" },
			want("FieldValueInvalid spec.containers[0].name")},
		{"container name empty", func(p *corev1.Pod) { p.Spec.Containers[0].Name = "" }, want("FieldValueRequired spec.containers[0].name")},
		{"init container name reused", func(p *corev1.Pod) { p.Spec.InitContainers[0].Name = "app" },
			want("FieldValueDuplicate spec.initContainers[0].name")},
		{"duplicate container names", func(p *corev1.Pod) { p.Spec.Containers = append(p.Spec.Containers, *p.Spec.Containers[0].DeepCopy()) },
			want("FieldValueDuplicate spec.containers[1].name")},
		{"image required", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, want("FieldValueRequired spec.containers[0].image")},
		{"image whitespace", func(p *corev1.Pod) { p.Spec.Containers[0].Image = " nginx" }, want("FieldValueInvalid spec.containers[0].image")},
		{"port out of range", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 70000 },
			want("FieldValueInvalid spec.containers[0].ports[0].containerPort")},
		{"port required", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 0 },
			want("FieldValueRequired spec.containers[0].ports[0].containerPort")},
		{"duplicate port names", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = append(p.Spec.Containers[0].Ports, corev1.ContainerPort{Name: "http", ContainerPort: 81, Protocol: corev1.ProtocolTCP})
		}, want("FieldValueDuplicate spec.containers[0].ports[1].name")},
		{"bad protocol", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].Protocol = "ICMP" },
			want("FieldValueNotSupported spec.containers[0].ports[0].protocol")},
		{"host port conflict", func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 8080, Protocol: "TCP"}, {ContainerPort: 81, HostPort: 8080, Protocol: "TCP"}}
		}, want("FieldValueDuplicate spec.containers[0].ports[1].hostPort")},
		{"restart policy", func(p *corev1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, want("FieldValueNotSupported spec.restartPolicy")},
		{"dns policy", func(p *corev1.Pod) { p.Spec.DNSPolicy = "Google" }, want("FieldValueNotSupported spec.dnsPolicy")},
		{"dns none needs config", func(p *corev1.Pod) { p.Spec.DNSPolicy = corev1.DNSNone }, want("FieldValueRequired spec.dnsConfig")},
		{"grace period required", func(p *corev1.Pod) { p.Spec.TerminationGracePeriodSeconds = nil },
			want("FieldValueRequired spec.terminationGracePeriodSeconds")},
		{"duplicate volume names", func(p *corev1.Pod) { p.Spec.Volumes[1].Name = "data" },
			// As upstream, an invalid volume is not mountable.
			want("FieldValueDuplicate spec.volumes[1].name", "FieldValueNotFound spec.containers[0].volumeMounts[1].name")},
		{"volume with two sources", func(p *corev1.Pod) {
			p.Spec.Volumes[0].HostPath = &corev1.HostPathVolumeSource{Path: "/tmp", Type: new(corev1.HostPathUnset)}
		}, want("FieldValueForbidden spec.volumes[0].hostPath", "FieldValueNotFound spec.containers[0].volumeMounts[0].name")},
		{"volume without source", func(p *corev1.Pod) { p.Spec.Volumes[1].ConfigMap = nil },
			want("FieldValueRequired spec.volumes[1]", "FieldValueNotFound spec.containers[0].volumeMounts[1].name")},
		{"configmap volume name and mode", func(p *corev1.Pod) {
			p.Spec.Volumes[1].ConfigMap.Name = ""
			p.Spec.Volumes[1].ConfigMap.DefaultMode = new(int32(01000))
		}, want("FieldValueRequired spec.volumes[1].configMap.name", "FieldValueInvalid spec.volumes[1].configMap.defaultMode",
			"FieldValueNotFound spec.containers[0].volumeMounts[1].name")},
		{"mount of missing volume", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[0].Name = "nope" },
			want("FieldValueNotFound spec.containers[0].volumeMounts[0].name")},
		{"duplicate mount path", func(p *corev1.Pod) { p.Spec.Containers[0].VolumeMounts[1].MountPath = "/data" },
			want("FieldValueInvalid spec.containers[0].volumeMounts[1].mountPath")},
		{"env name", func(p *corev1.Pod) { p.Spec.Containers[0].Env[0].Name = "A=B" }, want("FieldValueInvalid spec.containers[0].env[0].name")},
		{"env value and source", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].Value = "x" },
			want("FieldValueInvalid spec.containers[0].env[1].valueFrom")},
		{"env field path", func(p *corev1.Pod) { p.Spec.Containers[0].Env[1].ValueFrom.FieldRef.FieldPath = "spec.containers" },
			want("FieldValueNotSupported spec.containers[0].env[1].valueFrom.fieldRef.fieldPath")},
		{"env secret key", func(p *corev1.Pod) { p.Spec.Containers[0].Env[2].ValueFrom.SecretKeyRef.Key = "" },
			want("FieldValueRequired spec.containers[0].env[2].valueFrom.secretKeyRef.key")},
		{"requests above limits", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Requests["cpu"] = resource.MustParse("1") },
			want("FieldValueInvalid spec.containers[0].resources.requests")},
		{"negative quantity", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["memory"] = resource.MustParse("-1") },
			want("FieldValueInvalid spec.containers[0].resources.limits[memory]", "FieldValueInvalid spec.containers[0].resources.requests")},
		{"unknown resource", func(p *corev1.Pod) { p.Spec.Containers[0].Resources.Limits["gpu"] = resource.MustParse("1") },
			want("FieldValueInvalid spec.containers[0].resources.limits[gpu]")},
		{"extended resource needs equal request", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests["example.com/gpu"] = resource.MustParse("1")
		}, want("FieldValueRequired spec.containers[0].resources.limits")},
		{"probe with two handlers", func(p *corev1.Pod) {
			p.Spec.Containers[0].LivenessProbe.Exec = &corev1.ExecAction{Command: []string{"true"}}
		}, want("FieldValueForbidden spec.containers[0].livenessProbe.tcpSocket")},
		{"probe without handler", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.TCPSocket = nil },
			want("FieldValueRequired spec.containers[0].livenessProbe")},
		{"liveness success threshold", func(p *corev1.Pod) { p.Spec.Containers[0].LivenessProbe.SuccessThreshold = 2 },
			want("FieldValueInvalid spec.containers[0].livenessProbe.successThreshold")},
		{"probe on init container", func(p *corev1.Pod) { p.Spec.InitContainers[0].ReadinessProbe = p.Spec.Containers[0].ReadinessProbe },
			want("FieldValueForbidden spec.initContainers[0].readinessProbe")},
		{"sidecar may have probes", func(p *corev1.Pod) {
			p.Spec.InitContainers[0].RestartPolicy = new(corev1.ContainerRestartPolicyAlways)
			p.Spec.InitContainers[0].ReadinessProbe = p.Spec.Containers[0].ReadinessProbe
		}, nil},
		{"restart policy on regular container", func(p *corev1.Pod) { p.Spec.Containers[0].RestartPolicy = new(corev1.ContainerRestartPolicyAlways) },
			want("FieldValueForbidden spec.containers[0].restartPolicy")},
		{"pull policy", func(p *corev1.Pod) { p.Spec.Containers[0].ImagePullPolicy = "Sometimes" },
			want("FieldValueNotSupported spec.containers[0].imagePullPolicy")},
		{"toleration operator", func(p *corev1.Pod) { p.Spec.Tolerations[0].Operator = "Like" },
			want("FieldValueNotSupported spec.tolerations[0].operator")},
		{"node selector label", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"bad key!": "x"} },
			want("FieldValueInvalid spec.nodeSelector")},
		{"host network port mismatch", func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.Containers[0].Ports[0].HostPort = 81
		}, want("FieldValueInvalid spec.containers[0].ports[0].hostPort")},
		{"token projection without service account", func(p *corev1.Pod) {
			p.Spec.ServiceAccountName = ""
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
				DefaultMode: new(int32(0644)),
				Sources:     []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token", ExpirationSeconds: new(int64(3600))}}},
			}}})
		}, want("FieldValueForbidden spec.volumes[2].projected.sources[0].serviceAccountToken")},
		{"affinity term without topology key", func(p *corev1.Pod) {
			p.Spec.Affinity = &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{}}}}
		}, want("FieldValueRequired spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
			"FieldValueInvalid spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey",
			"FieldValueInvalid spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0].topologyKey")},
		{"spread constraint", func(p *corev1.Pod) {
			p.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}, want("FieldValueInvalid spec.topologySpreadConstraints[0].maxSkew")},
		{"security context user", func(p *corev1.Pod) { p.Spec.SecurityContext.RunAsUser = new(int64(-1)) },
			want("FieldValueInvalid spec.securityContext.runAsUser")},
		{"ephemeral container on create", func(p *corev1.Pod) {
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
				Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
				Ports: []corev1.ContainerPort{{ContainerPort: 1, Protocol: "TCP"}},
			}, TargetContainerName: "missing"}}
		}, want("FieldValueNotFound spec.ephemeralContainers[0].targetContainerName", "FieldValueForbidden spec.ephemeralContainers[0].ports")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := validPod()
			tc.mutate(pod)
			if diff := cmp.Diff(tc.want, project(validatePod(pod)), emptyEqual); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

// emptyEqual treats nil and empty string slices alike.
var emptyEqual = cmp.Comparer(func(a, b []string) bool { return slices.Equal(a, b) })

func TestValidatePodUpdate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{"unchanged", func(*corev1.Pod) {}, nil},
		{"image", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "nginx:1.28" }, nil},
		{"added toleration", func(p *corev1.Pod) {
			p.Spec.Tolerations = append(p.Spec.Tolerations, corev1.Toleration{Key: "k", Operator: corev1.TolerationOpExists})
		}, nil},
		{"shorter deadline", func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = new(int64(30)) }, nil},
		{"port", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 8080 }, want("FieldValueForbidden spec")},
		{"changed toleration", func(p *corev1.Pod) { p.Spec.Tolerations[0].Value = "db" }, want("FieldValueForbidden spec.tolerations")},
		{"added container", func(p *corev1.Pod) {
			c := p.Spec.Containers[0].DeepCopy()
			c.Name = "two"
			p.Spec.Containers = append(p.Spec.Containers, *c)
		}, want("FieldValueForbidden spec.containers")},
		{"image removed", func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }, want("FieldValueRequired spec.containers[0].image")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := validPod()
			old.Spec.ActiveDeadlineSeconds = new(int64(60))
			pod := old.DeepCopy()
			tc.mutate(pod)
			if diff := cmp.Diff(tc.want, project(validatePodUpdate(pod, old)), emptyEqual); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("message", func(t *testing.T) {
		old := validPod()
		pod := old.DeepCopy()
		pod.Spec.NodeName = "n1"
		errs := validatePodUpdate(pod, old)
		if len(errs) != 1 || !strings.HasPrefix(errs[0].Detail, "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,") ||
			!strings.Contains(errs[0].Detail, `NodeName:`) {
			t.Errorf("errors = %v, want the upstream message with a diff naming NodeName", errs)
		}
	})
	t.Run("deadline raised", func(t *testing.T) {
		old := validPod()
		old.Spec.ActiveDeadlineSeconds = new(int64(60))
		pod := old.DeepCopy()
		pod.Spec.ActiveDeadlineSeconds = new(int64(120))
		if diff := cmp.Diff(want("FieldValueInvalid spec.activeDeadlineSeconds"), project(validatePodUpdate(pod, old))); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
}

func TestValidatePodTemplate(t *testing.T) {
	tmpl := &corev1.PodTemplate{Template: corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
		Spec:       validPod().Spec,
	}}
	if errs := validatePodTemplate(tmpl); len(errs) != 0 {
		t.Fatalf("valid template: %v", errs)
	}
	tmpl.Template.Labels["bad key!"] = "x"
	tmpl.Template.Spec.Containers[0].Image = ""
	tmpl.Template.Spec.EphemeralContainers = []corev1.EphemeralContainer{{EphemeralContainerCommon: corev1.EphemeralContainerCommon{
		Name: "debug", Image: "busybox", ImagePullPolicy: corev1.PullIfNotPresent, TerminationMessagePolicy: corev1.TerminationMessageReadFile,
	}}}
	got := project(validatePodTemplate(tmpl))
	if diff := cmp.Diff(want("FieldValueInvalid template.labels", "FieldValueRequired template.spec.containers[0].image",
		"FieldValueForbidden template.spec.ephemeralContainers"), got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

// FuzzPodChecks feeds arbitrary JSON decoded into a Pod, and into a
// Deployment, through Default, Validate and ValidateUpdate; none may panic.
func FuzzPodChecks(f *testing.F) {
	seed, err := json.Marshal(validPod())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(`{"spec":{"containers":[{"name":"a","image":"b","ports":[{"containerPort":1,"hostPort":1}],"livenessProbe":{"grpc":{"port":1}}}],"volumes":[{"name":"v","projected":{"sources":[{}]}}],"hostNetwork":true}}`))
	f.Add([]byte(`{"spec":{"replicas":-1,"selector":{"matchExpressions":[{"key":"a","operator":"In"}]},"strategy":{"rollingUpdate":{"maxSurge":"x%"}},"template":{"spec":{"initContainers":[{"restartPolicy":"Always"}],"ephemeralContainers":[{"name":"e"}]}}}}`))
	f.Add([]byte(`{"spec":{"containers":[{"resources":{"limits":{"hugepages-2Mi":"1Mi"},"requests":{"example.com/x":"1"}},"env":[{"name":"x","valueFrom":{"fieldRef":{"fieldPath":"metadata.labels['a']"},"resourceFieldRef":{"resource":"limits.cpu","divisor":"3"}}}]}],"affinity":{"nodeAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":{}}}}}`))
	checks := kindChecks()
	pods, deployments := checks[corev1.SchemeGroupVersion.WithKind("Pod").GroupKind()], checks[appsv1.SchemeGroupVersion.WithKind("Deployment").GroupKind()]
	f.Fuzz(func(t *testing.T, data []byte) {
		pod := &corev1.Pod{}
		if json.Unmarshal(data, pod) == nil {
			old := pod.DeepCopy()
			pods.Default(pod)
			pods.Validate(pod)
			pods.ValidateUpdate(pod, old)
		}
		d := &appsv1.Deployment{}
		if json.Unmarshal(data, d) == nil {
			old := d.DeepCopy()
			deployments.Default(d)
			deployments.Validate(d)
			deployments.ValidateUpdate(d, old)
		}
	})
}
