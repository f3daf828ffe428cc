package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/test/nodecleanup"
)

// podTimeout bounds the wait for a pod to reach a state the agent drives
// it to; the longest is a ConfigMap change reaching a volume (the agent
// refreshes volumes every 30 s) and three crash-loop restarts (0, 10 and
// 20 s of back-off).
const podTimeout = 90 * time.Second

// agentNS is the namespace of TestAgentPodsFromInside's pods.
const agentNS = "agentpods"

// TestAgentPodsFromInside runs pods on a server's node agent and checks,
// from inside their containers where it can, what the agent applied: the
// shared network namespace, env and volumes, crash-loop back-off, probes,
// exec with a terminal, port-forward, the memory limit, security contexts,
// and that a restart of the server keeps the containers running. All pods
// are created at once on one server and checked in parallel.
func TestAgentPodsFromInside(t *testing.T) {
	s := startNodeServer(t)
	client := s.clientset(t)
	ctx := context.Background()

	if _, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: agentNS}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cfg"}, Data: map[string]string{"color": "blue", "size": "large"}}
	if _, err := client.CoreV1().ConfigMaps(agentNS).Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sec"}, Data: map[string][]byte{"user": []byte("admin"), "password": []byte("s3cret")}}
	if _, err := client.CoreV1().Secrets(agentNS).Create(ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range agentTestPods() {
		if _, err := client.CoreV1().Pods(agentNS).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating pod %s: %v", p.Name, err)
		}
	}
	// The pods go before the server stops, so that the node is left
	// clean; a deletion returns once the agent removed the containers.
	t.Cleanup(func() { deleteAgentPods(t, client) })

	t.Run("checks", func(t *testing.T) {
		t.Run("containers of a pod talk over localhost", func(t *testing.T) {
			t.Parallel()
			waitPod(t, client, "localhost", "Ready", podReady)
			got := s.kubectl(t, "exec", "-n", agentNS, "localhost", "-c", "client", "--", "wget", "-qO-", "http://localhost:8080/")
			if got != "hello over localhost\n" {
				t.Errorf("wget from the other container: %q", got)
			}
		})
		t.Run("env and volumes", func(t *testing.T) { t.Parallel(); checkEnvAndVolumes(t, s, client) })
		t.Run("crash loop back-off", func(t *testing.T) { t.Parallel(); checkCrashLoop(t, s, client) })
		t.Run("liveness probe restarts", func(t *testing.T) { t.Parallel(); checkLiveness(t, s, client) })
		t.Run("readiness gates Ready", func(t *testing.T) { t.Parallel(); checkReadiness(t, s, client) })
		t.Run("exec -it through a terminal", func(t *testing.T) {
			t.Parallel()
			waitPod(t, client, "localhost", "Ready", podReady)
			checkExecTTY(t, s)
		})
		t.Run("port-forward", func(t *testing.T) {
			t.Parallel()
			waitPod(t, client, "server", "Ready", podReady)
			checkPortForward(t, s)
		})
		t.Run("memory limit OOMKilled", func(t *testing.T) {
			t.Parallel()
			pod := waitPod(t, client, "oom", "terminated", func(p *corev1.Pod) bool {
				return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Terminated != nil
			})
			term := pod.Status.ContainerStatuses[0].State.Terminated
			if term.Reason != "OOMKilled" || term.ExitCode != 137 || pod.Status.Phase != corev1.PodFailed {
				t.Errorf("phase %s, terminated %+v; want Failed, OOMKilled with exit code 137", pod.Status.Phase, term)
			}
		})
		t.Run("security context", func(t *testing.T) { t.Parallel(); checkSecurityContext(t, s, client) })
	})
	t.Run("server restart keeps containers", func(t *testing.T) { checkRestartKeepsContainers(t, s, client) })
}

// agentPod is a pod named name, labelled app=name, that stops quickly.
func agentPod(name string, restart corev1.RestartPolicy, containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: corev1.PodSpec{
			Containers:                    containers,
			RestartPolicy:                 restart,
			TerminationGracePeriodSeconds: ptr(int64(1)),
		},
	}
}

// busyboxContainer runs command in the imported busybox image.
func busyboxContainer(name string, command ...string) corev1.Container {
	return corev1.Container{Name: name, Image: "berth.test/busybox:v1", ImagePullPolicy: corev1.PullNever, Command: command}
}

// agentTestPods are the pods of TestAgentPodsFromInside.
func agentTestPods() []*corev1.Pod {
	// program runs test/images/NAME, the image's entrypoint.
	program := func(name string, args ...string) corev1.Container {
		return corev1.Container{Name: name, Image: "berth.test/" + name + ":v1", ImagePullPolicy: corev1.PullNever, Args: args}
	}
	httpProbe := func(path string) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromInt32(8080)}},
			PeriodSeconds: 1, FailureThreshold: 1, TimeoutSeconds: 1,
		}
	}

	web := busyboxContainer("web", "sh", "-c", "mkdir /www && echo hello over localhost >/www/index.html && exec httpd -f -p 8080 -h /www")
	web.ReadinessProbe = &corev1.Probe{
		ProbeHandler:  corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}},
		PeriodSeconds: 1,
	}
	localhost := agentPod("localhost", corev1.RestartPolicyAlways, web, busyboxContainer("client", "sleep", "3600"))

	envvol := agentPod("envvol", corev1.RestartPolicyAlways, envVolContainer())
	envvol.Spec.Volumes = envVolVolumes()

	// Each run counts itself in an emptyDir, which outlives the container.
	crash := agentPod("crasher", corev1.RestartPolicyAlways,
		busyboxContainer("crash", "sh", "-c", "n=$(($(cat /data/n 2>/dev/null) + 1)); echo $n >/data/n; echo run $n; sleep 1; exit 1"))
	crash.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/data"}}
	crash.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}

	// The liveness probe starts once the startup probe found the server
	// listening.
	live := agentPod("live", corev1.RestartPolicyAlways, program("server"))
	live.Spec.Containers[0].StartupProbe = httpProbe("/healthz")
	live.Spec.Containers[0].StartupProbe.FailureThreshold = 30
	live.Spec.Containers[0].LivenessProbe = httpProbe("/healthz")
	ready := agentPod("ready", corev1.RestartPolicyAlways, program("server", "-unready"))
	ready.Spec.Containers[0].ReadinessProbe = httpProbe("/readyz")
	srv := agentPod("server", corev1.RestartPolicyAlways, program("server"))
	srv.Spec.Containers[0].ReadinessProbe = httpProbe("/readyz")

	// The shell doubles a string until the memory limit stops it.
	oom := agentPod("oom", corev1.RestartPolicyNever, busyboxContainer("hog", "sh", "-c", "a=x; while true; do a=$a$a; done"))
	oom.Spec.Containers[0].Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("16Mi")}

	whoami := agentPod("whoami", corev1.RestartPolicyAlways, program("whoami", "-forever"))
	whoami.Spec.SecurityContext = &corev1.PodSecurityContext{
		RunAsUser: ptr(int64(1000)), RunAsGroup: ptr(int64(3000)), SupplementalGroups: []int64{4000},
		SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}
	whoami.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr(false),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		ReadOnlyRootFilesystem:   ptr(true),
	}
	// Root may write to / unless it is mounted read-only: rootro tells the
	// read-only root filesystem from missing permissions, rootrw shows the
	// defaults.
	rootro, rootrw := program("whoami", "-forever"), program("whoami", "-forever")
	rootro.Name, rootrw.Name = "rootro", "rootrw"
	rootro.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr(int64(0)), ReadOnlyRootFilesystem: ptr(true)}
	rootrw.SecurityContext = &corev1.SecurityContext{RunAsUser: ptr(int64(0))}
	whoami.Spec.Containers = append(whoami.Spec.Containers, rootro, rootrw)
	return []*corev1.Pod{localhost, envvol, crash, live, ready, srv, oom, whoami}
}

// waitPod waits until the pod name satisfies cond (described by what) and
// returns it; the test fails with the pod's last status otherwise.
func waitPod(t *testing.T, client kubernetes.Interface, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	deadline := time.Now().Add(podTimeout)
	for {
		pod, err := client.CoreV1().Pods(agentNS).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil && cond(pod) {
			return pod
		}
		if time.Now().After(deadline) {
			if err != nil {
				t.Fatalf("pod %s not %s within %v: %v", name, what, podTimeout, err)
			}
			t.Fatalf("pod %s not %s within %v; status: %+v", name, what, podTimeout, pod.Status)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func podReady(p *corev1.Pod) bool { return podCondition(p, corev1.PodReady) }

// podCondition reports whether p's condition typ is True.
func podCondition(p *corev1.Pod, typ corev1.PodConditionType) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// waitEvent waits until the pod name has an event with reason whose
// message contains message, and returns that message.
func waitEvent(t *testing.T, client kubernetes.Interface, name, reason, message string) string {
	t.Helper()
	sel := fields.Set{"involvedObject.kind": "Pod", "involvedObject.name": name, "reason": reason}.AsSelector().String()
	deadline := time.Now().Add(podTimeout)
	for {
		evs, err := client.CoreV1().Events(agentNS).List(context.Background(), metav1.ListOptions{FieldSelector: sel})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs.Items {
			if strings.Contains(e.Message, message) {
				return e.Message
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: no %s event saying %q within %v; have %+v", name, reason, message, podTimeout, evs.Items)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// deleteAgentPods deletes the pods of agentNS and waits until they are
// gone.
func deleteAgentPods(t *testing.T, client kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), podTimeout)
	defer cancel()
	list, err := client.CoreV1().Pods(agentNS).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Errorf("listing the pods: %v", err)
		return
	}
	for _, p := range list.Items {
		if err := client.CoreV1().Pods(agentNS).Delete(ctx, p.Name, metav1.DeleteOptions{}); err != nil {
			t.Errorf("deleting pod %s: %v", p.Name, err)
		}
	}
	for {
		list, err := client.CoreV1().Pods(agentNS).List(ctx, metav1.ListOptions{})
		if err == nil && len(list.Items) == 0 {
			return
		}
		if ctx.Err() != nil {
			t.Errorf("pods still there after %v: %v", podTimeout, err)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// envVolContainer sleeps with env from every kind of source; its volumes
// are envVolVolumes.
func envVolContainer() corev1.Container {
	cfg := corev1.LocalObjectReference{Name: "cfg"}
	sec := corev1.LocalObjectReference{Name: "sec"}
	field := func(path string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}
	}
	resourceField := func(name, divisor string) *corev1.EnvVarSource {
		return &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: name, Divisor: resource.MustParse(divisor)}}
	}
	return corev1.Container{
		Name: "main", Image: "berth.test/busybox:v1", ImagePullPolicy: corev1.PullNever,
		Command: []string{"sleep", "3600"},
		Env: []corev1.EnvVar{
			{Name: "PLAIN", Value: "plain"},
			{Name: "COLOR", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: cfg, Key: "color"}}},
			{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: sec, Key: "password"}}},
			{Name: "POD_NAME", ValueFrom: field("metadata.name")},
			{Name: "POD_NAMESPACE", ValueFrom: field("metadata.namespace")},
			{Name: "NODE_NAME", ValueFrom: field("spec.nodeName")},
			{Name: "POD_IP", ValueFrom: field("status.podIP")},
			{Name: "MEMORY_LIMIT", ValueFrom: resourceField("limits.memory", "1Mi")},
			{Name: "CPU_REQUEST", ValueFrom: resourceField("requests.cpu", "1m")},
			{Name: "COMBINED", Value: "$(PLAIN)-$(COLOR)"},
		},
		EnvFrom: []corev1.EnvFromSource{
			{Prefix: "CM_", ConfigMapRef: &corev1.ConfigMapEnvSource{LocalObjectReference: cfg}},
			{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: sec}},
		},
		Resources: corev1.ResourceRequirements{
			Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m")},
			Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("64Mi")},
		},
		VolumeMounts: []corev1.VolumeMount{
			{Name: "cfg", MountPath: "/etc/cfg"},
			{Name: "sec", MountPath: "/etc/sec"},
			{Name: "podinfo", MountPath: "/etc/podinfo"},
			{Name: "scratch", MountPath: "/scratch"},
		},
	}
}

func envVolVolumes() []corev1.Volume {
	return []corev1.Volume{
		{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
			LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"},
		}}},
		{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{
			SecretName:  "sec",
			DefaultMode: ptr(int32(0o440)),
			Items: []corev1.KeyToPath{
				{Key: "password", Path: "nested/pw", Mode: ptr(int32(0o400))},
				{Key: "user", Path: "user"},
			},
		}}},
		{Name: "podinfo", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{
			Items: []corev1.DownwardAPIVolumeFile{
				{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
				{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
				{Path: "memory", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "main", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
			},
		}}},
		{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	}
}

// keyValues parses lines of KEY SEP VALUE; other lines are left out.
func keyValues(out, sep string) map[string]string {
	kv := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, sep); ok {
			kv[k] = strings.TrimSpace(v)
		}
	}
	return kv
}

// subset is the entries of got with keys of want.
func subset(got, want map[string]string) map[string]string {
	s := map[string]string{}
	for k := range want {
		if v, ok := got[k]; ok {
			s[k] = v
		}
	}
	return s
}

func checkEnvAndVolumes(t *testing.T, s *server, client kubernetes.Interface) {
	pod := waitPod(t, client, "envvol", "Ready", podReady)
	env := keyValues(s.kubectl(t, "exec", "-n", agentNS, "envvol", "--", "env"), "=")
	want := map[string]string{
		"PLAIN": "plain", "COLOR": "blue", "PASSWORD": "s3cret",
		"POD_NAME": "envvol", "POD_NAMESPACE": agentNS, "NODE_NAME": "e2e-node", "POD_IP": pod.Status.PodIP,
		"MEMORY_LIMIT": "64", "CPU_REQUEST": "250", "COMBINED": "plain-blue",
		"CM_color": "blue", "CM_size": "large", "user": "admin", "password": "s3cret",
	}
	if diff := cmp.Diff(want, subset(env, want)); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}

	const script = `cd /etc
for f in cfg/color cfg/size sec/user sec/nested/pw podinfo/name podinfo/labels podinfo/memory; do echo "$f=$(cat $f)"; done
echo "sec=$(ls sec | tr '\n' ' ')"
echo "user-mode=$(stat -L -c %a sec/user)"
echo "pw-mode=$(stat -L -c %a sec/nested/pw)"
echo "scratch=$(echo written >/scratch/f && cat /scratch/f)"`
	files := keyValues(s.kubectl(t, "exec", "-n", agentNS, "envvol", "--", "sh", "-c", script), "=")
	want = map[string]string{
		"cfg/color": "blue", "cfg/size": "large", "sec/user": "admin", "sec/nested/pw": "s3cret",
		"podinfo/name": "envvol", "podinfo/labels": `app="envvol"`, "podinfo/memory": "64",
		"sec": "nested user", "user-mode": "440", "pw-mode": "400", "scratch": "written",
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}

	cm, err := client.CoreV1().ConfigMaps(agentNS).Get(context.Background(), "cfg", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cm.Data["color"] = "green"
	if _, err := client.CoreV1().ConfigMaps(agentNS).Update(context.Background(), cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(podTimeout)
	for {
		got := s.kubectl(t, "exec", "-n", agentNS, "envvol", "--", "cat", "/etc/cfg/color")
		if got == "green" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mounted ConfigMap still says %q %v after the update", got, podTimeout)
		}
		time.Sleep(2 * time.Second)
	}
}

// run is one instance of a container; zero times are not known.
type run struct{ started, finished time.Time }

// checkCrashLoop follows the status of a container that fails each run
// after a second through four runs.
func checkCrashLoop(t *testing.T, s *server, client kubernetes.Interface) {
	ctx, cancel := context.WithTimeout(context.Background(), podTimeout)
	defer cancel()
	w, err := client.CoreV1().Pods(agentNS).Watch(ctx, metav1.ListOptions{FieldSelector: "metadata.name=crasher"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// The runs by number, from 1: a status with restart count R shows
	// run R+1 in its state and, while that runs, run R in its last state;
	// while waiting to start run R+2, it shows run R+1 in its last state.
	runs := map[int32]run{}
	var last corev1.ContainerStatus
	for last.RestartCount < 3 || last.State.Waiting == nil {
		ev, ok := <-w.ResultChan()
		if !ok {
			t.Fatalf("crasher: not waiting after its fourth run within %v; last status %+v", podTimeout, last)
		}
		pod, ok := ev.Object.(*corev1.Pod)
		if !ok || len(pod.Status.ContainerStatuses) != 1 {
			continue
		}
		last = pod.Status.ContainerStatuses[0]
		n := last.RestartCount + 1
		switch {
		case last.State.Running != nil:
			r := runs[n]
			r.started = last.State.Running.StartedAt.Time
			runs[n] = r
			if term := last.LastTerminationState.Terminated; term != nil {
				runs[n-1] = run{term.StartedAt.Time, term.FinishedAt.Time}
			}
		case last.State.Terminated != nil:
			runs[n] = run{last.State.Terminated.StartedAt.Time, last.State.Terminated.FinishedAt.Time}
		case last.State.Waiting != nil && last.LastTerminationState.Terminated != nil:
			term := last.LastTerminationState.Terminated
			runs[n] = run{term.StartedAt.Time, term.FinishedAt.Time}
		}
	}
	if last.State.Waiting.Reason != "CrashLoopBackOff" || last.RestartCount != 3 {
		t.Errorf("after the fourth run: restart count %d, state %+v; want 3, waiting in CrashLoopBackOff", last.RestartCount, last.State)
	}
	// The back-off from a run's end to the next start (after the second
	// and third runs; the first is restarted at once) is 10 s, then 20 s.
	var gaps []time.Duration
	for n := int32(2); n <= 3; n++ {
		prev, next := runs[n], runs[n+1]
		if prev.finished.IsZero() || next.started.IsZero() {
			t.Fatalf("runs %d and %d not both seen: %+v", n, n+1, runs)
		}
		gaps = append(gaps, next.started.Sub(prev.finished))
	}
	if gaps[0] < 9*time.Second || gaps[1] < gaps[0]+8*time.Second {
		t.Errorf("delays before the third and fourth runs %v: want a back-off of 10 s, then doubled", gaps)
	}
	waitEvent(t, client, "crasher", "BackOff", "Back-off restarting failed container")
	// Each run printed its number: --previous is the last one.
	if got := s.kubectl(t, "logs", "-n", agentNS, "crasher", "--previous"); got != "run 4\n" {
		t.Errorf("kubectl logs --previous: %q, want the fourth run's %q", got, "run 4\n")
	}
}

func checkLiveness(t *testing.T, s *server, client kubernetes.Interface) {
	before := waitPod(t, client, "live", "Ready", podReady)
	if got := s.kubectl(t, "exec", "-n", agentNS, "live", "--", "wget", "-qO-", "http://localhost:8080/healthz/fail"); got != "failing\n" {
		t.Fatalf("failing /healthz: %q", got)
	}
	pod := waitPod(t, client, "live", "restarted", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].RestartCount >= 1 && podReady(p)
	})
	c := pod.Status.ContainerStatuses[0]
	if c.RestartCount != 1 || c.ContainerID == before.Status.ContainerStatuses[0].ContainerID || c.LastTerminationState.Terminated == nil {
		t.Errorf("after one liveness failure: %+v; want restart count 1, a new container, the old one terminated", c)
	}
	waitEvent(t, client, "live", "Unhealthy", "Liveness probe failed")
	waitEvent(t, client, "live", "Killing", "failed liveness probe")
}

func checkReadiness(t *testing.T, s *server, client kubernetes.Interface) {
	waitPod(t, client, "ready", "running", func(p *corev1.Pod) bool {
		return len(p.Status.ContainerStatuses) == 1 && p.Status.ContainerStatuses[0].State.Running != nil
	})
	waitEvent(t, client, "ready", "Unhealthy", "Readiness probe failed")
	pod, err := client.CoreV1().Pods(agentNS).Get(context.Background(), "ready", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if podReady(pod) || pod.Status.ContainerStatuses[0].Ready {
		t.Errorf("ready while its readiness probe fails: %+v", pod.Status)
	}
	s.kubectl(t, "exec", "-n", agentNS, "ready", "--", "wget", "-qO-", "http://localhost:8080/readyz/ok")
	waitPod(t, client, "ready", "Ready", podReady)
	s.kubectl(t, "exec", "-n", agentNS, "ready", "--", "wget", "-qO-", "http://localhost:8080/readyz/fail")
	pod = waitPod(t, client, "ready", "not Ready", func(p *corev1.Pod) bool { return !podReady(p) })
	if pod.Status.ContainerStatuses[0].RestartCount != 0 {
		t.Errorf("a failing readiness probe restarted the container: %+v", pod.Status.ContainerStatuses[0])
	}
}

// openPTY opens a new pseudo-terminal: ptmx is its controlling side, tty
// the terminal a program reads and writes.
func openPTY() (ptmx, tty *os.File, err error) {
	ptmx, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var n uint32
	var ioctlErr error
	conn, err := ptmx.SyscallConn()
	if err == nil {
		err = conn.Control(func(fd uintptr) {
			if ioctlErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioctlErr == nil {
				n, ioctlErr = unix.IoctlGetUint32(int(fd), unix.TIOCGPTN)
			}
		})
	}
	if err == nil {
		err = ioctlErr
	}
	if err == nil {
		tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		ptmx.Close()
		return nil, nil, fmt.Errorf("opening a pseudo-terminal: %w", err)
	}
	return ptmx, tty, nil
}

// checkExecTTY types into `kubectl exec -it ... sh` on a terminal, as a
// user does: kubectl asks for a TTY only when its stdin is one.
func checkExecTTY(t *testing.T, s *server) {
	ptmx, tty, err := openPTY()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	args := []string{"exec", "-it", "-n", agentNS, "localhost", "-c", "client", "--", "sh"}
	cmd := exec.Command(kubectlPath(t), s.kubectlWith("").args(args)...)
	cmd.Env = append(cleanEnv(), "TERM=dumb")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // kubectl has its own
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	screen := &background{args: args}
	go io.Copy(screen, ptmx) // ends with an error once kubectl is gone

	waitScreen := func(what string, want ...string) {
		t.Helper()
		deadline := time.Now().Add(eventTimeout)
		for {
			out := screen.output()
			if !slices.ContainsFunc(want, func(w string) bool { return !strings.Contains(out, w) }) {
				return
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("no %s on the terminal within %v; it shows:\n%q", what, eventTimeout, out)
			}
			time.Sleep(readyPoll)
		}
	}
	waitScreen("shell prompt", "# ")
	// The echo of the typed line has neither the sum nor a device name.
	io.WriteString(ptmx, "tty; echo sum=$((40+2))\r")
	waitScreen("command output", "sum=42", "/dev/pts/")
	io.WriteString(ptmx, "exit 3\r")
	select {
	case err := <-exited:
		if cmd.ProcessState.ExitCode() != 3 {
			t.Errorf("kubectl exec -it after `exit 3`: %v, want exit code 3; terminal:\n%q", err, screen.output())
		}
	case <-time.After(eventTimeout):
		cmd.Process.Kill()
		t.Fatalf("kubectl exec -it still running %v after `exit 3`; terminal:\n%q", eventTimeout, screen.output())
	}
}

func checkPortForward(t *testing.T, s *server) {
	port := freePort(t)
	pf := s.kubectlWith(kubectlPath(t)).start(t, "port-forward", "-n", agentNS, "pod/server", fmt.Sprintf("%d:8080", port))
	pf.waitForLine(t, "Forwarding", "from", fmt.Sprintf("127.0.0.1:%d", port), "->", "8080")
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/", port))
	if err != nil {
		t.Fatalf("GET through port-forward: %v; kubectl said:\n%s", err, pf.output())
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || string(body) != "server\n" {
		t.Errorf("GET through port-forward: %s %q %v, want 200 with the pod's host name", resp.Status, body, err)
	}
}

func checkSecurityContext(t *testing.T, s *server, client kubernetes.Interface) {
	waitPod(t, client, "whoami", "Ready", podReady)
	// What the container's process saw, and what a process exec'd in it
	// sees: the same settings.
	got := keyValues(s.kubectl(t, "logs", "-n", agentNS, "whoami", "-c", "whoami"), "=")
	want := map[string]string{
		"uid": "1000", "gid": "3000",
		"CapInh": "0000000000000000", "CapPrm": "0000000000000000", "CapEff": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2", "root_writable": "false", "hostname": "whoami",
	}
	if diff := cmp.Diff(want, subset(got, want)); diff != "" {
		t.Errorf("whoami (-want +got):\n%s", diff)
	}
	if !slices.Contains(strings.Split(got["groups"], ","), "4000") {
		t.Errorf("groups %q lack the supplemental group 4000", got["groups"])
	}
	for container, want := range map[string]map[string]string{
		"rootro": {"uid": "0", "root_writable": "false", "Seccomp": "2"},
		"rootrw": {"uid": "0", "root_writable": "true", "NoNewPrivs": "0", "Seccomp": "2"},
	} {
		got := keyValues(s.kubectl(t, "logs", "-n", agentNS, "whoami", "-c", container), "=")
		if diff := cmp.Diff(want, subset(got, want)); diff != "" {
			t.Errorf("whoami in container %s (-want +got):\n%s", container, diff)
		}
		if container == "rootrw" && got["CapEff"] == "0000000000000000" {
			t.Errorf("container %s without a capabilities setting has none: %v", container, got)
		}
	}
	status := keyValues(s.kubectl(t, "exec", "-n", agentNS, "whoami", "-c", "whoami", "--", "cat", "/proc/self/status"), ":")
	want = map[string]string{
		"Uid": "1000\t1000\t1000\t1000", "Gid": "3000\t3000\t3000\t3000",
		"CapEff": "0000000000000000", "CapBnd": "0000000000000000", "NoNewPrivs": "1", "Seccomp": "2",
	}
	if diff := cmp.Diff(want, subset(status, want)); diff != "" {
		t.Errorf("/proc/self/status of an exec'd process (-want +got):\n%s", diff)
	}
	if !slices.Contains(strings.Fields(status["Groups"]), "4000") {
		t.Errorf("exec'd process's groups %q lack the supplemental group 4000", status["Groups"])
	}
}

// containerSnapshot is what must not change about a running container
// when the agent restarts.
type containerSnapshot struct {
	Name, ContainerID string
	RestartCount      int32
	StartedAt         time.Time
	Ready             bool
}

func snapshot(t *testing.T, client kubernetes.Interface, name string) []containerSnapshot {
	t.Helper()
	pod, err := client.CoreV1().Pods(agentNS).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if pod.Status.Phase != corev1.PodRunning || !podReady(pod) {
		t.Errorf("pod %s: phase %s, conditions %+v; want Running and Ready", name, pod.Status.Phase, pod.Status.Conditions)
	}
	var cs []containerSnapshot
	for _, c := range pod.Status.ContainerStatuses {
		snap := containerSnapshot{Name: c.Name, ContainerID: c.ContainerID, RestartCount: c.RestartCount, Ready: c.Ready}
		if c.State.Running != nil {
			snap.StartedAt = c.State.Running.StartedAt.Time
		}
		cs = append(cs, snap)
	}
	return cs
}

// checkRestartKeepsContainers restarts the server and checks that the
// agent adopted the running containers: same IDs, start times and
// processes, no restarts.
func checkRestartKeepsContainers(t *testing.T, s *server, client kubernetes.Interface) {
	stable := []string{"localhost", "envvol", "server", "whoami"}
	before := map[string][]containerSnapshot{}
	for _, name := range stable {
		before[name] = snapshot(t, client, name)
	}
	// A process's start time (clock ticks since boot) tells it apart from
	// any process started later.
	procStart := func(pod, container string) string {
		stat := s.kubectl(t, "exec", "-n", agentNS, pod, "-c", container, "--", "cat", "/proc/1/stat")
		fields := strings.Fields(stat[strings.LastIndex(stat, ")")+1:])
		return fields[19] // field 22 of stat(5); fields here start at 3
	}
	procsBefore := []string{procStart("localhost", "client"), procStart("server", "server")}

	if err := s.stop(); err != nil {
		t.Fatalf("stopping berth: %v", err)
	}
	s.restart(t)
	// Once the agent runs a new pod, it has looked at the old ones too.
	after := agentPod("after", corev1.RestartPolicyAlways, busyboxContainer("c", "sleep", "3600"))
	if _, err := client.CoreV1().Pods(agentNS).Create(context.Background(), after, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitPod(t, client, "after", "Ready", podReady)

	rt, err := nodecleanup.Runtime(s.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	onNode, err := rt.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range stable {
		if diff := cmp.Diff(before[name], snapshot(t, client, name)); diff != "" {
			t.Errorf("pod %s changed over the restart (-before +after):\n%s", name, diff)
		}
		// The node has no more containers for the pod than it had.
		pod, err := client.CoreV1().Pods(agentNS).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var want, got []string
		for _, c := range before[name] {
			want = append(want, strings.TrimPrefix(c.ContainerID, "runc://"))
		}
		for _, c := range onNode {
			if c.SandboxID == string(pod.UID) {
				got = append(got, c.ID)
			}
		}
		if diff := cmp.Diff(want, got, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
			t.Errorf("containers of pod %s on the node (-want +got):\n%s", name, diff)
		}
	}
	if diff := cmp.Diff(procsBefore, []string{procStart("localhost", "client"), procStart("server", "server")}); diff != "" {
		t.Errorf("start times of the containers' processes changed (-before +after):\n%s", diff)
	}
}
