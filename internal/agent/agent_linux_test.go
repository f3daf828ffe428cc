package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/vishvananda/netlink"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	testingclock "k8s.io/utils/clock/testing"

	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/runtime/runtimetest"
	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/agent/volume"
	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/test/images/testimages"
)

// netnsEnv marks the test process that runs in a network namespace of its
// own.
const netnsEnv = "BERTH_AGENT_TEST_NETNS"

// TestMain runs the tests, as root, in a new network namespace holding
// only lo (the node): the pods' bridge, addresses and iptables rules live
// there and vanish with it. The test binary is also the containers' shim.
func TestMain(m *testing.M) {
	if os.Geteuid() == 0 && os.Getenv(netnsEnv) == "" {
		if path, err := exec.LookPath("unshare"); err == nil {
			cmd := exec.Command(path, append([]string{"--net", "--", os.Args[0]}, os.Args[1:]...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			cmd.Env = append(os.Environ(), netnsEnv+"=1")
			err := cmd.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				os.Exit(ee.ExitCode())
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	if os.Getenv(netnsEnv) != "" && len(os.Args) > 1 && !strings.HasPrefix(os.Args[1], "berth-") {
		if lo, err := netlink.LinkByName("lo"); err == nil {
			_ = netlink.LinkSetUp(lo)
		}
	}
	runtimetest.Main(m)
}

const nodeName = "node1"

// testNode is an API server and a node agent with its runtime, image
// store (holding berth.test/busybox:v1) and network.
type testNode struct {
	t       *testing.T
	client  kubernetes.Interface
	cfg     Config
	agent   *Agent
	stopRun func()
}

func needAgent(t *testing.T) {
	t.Helper()
	runtimetest.Need(t)
	if os.Getenv(netnsEnv) == "" {
		t.Skip("needs unshare (util-linux) to give the node a network namespace of its own")
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		t.Skip("needs the CNI plugins in /usr/lib/cni (apt-get install containernetworking-plugins)")
	}
	if err := testimages.CheckBusybox(testimages.Path); err != nil {
		t.Skipf("needs a static busybox: %v", err)
	}
}

func newTestNode(t *testing.T) *testNode {
	t.Helper()
	needAgent(t)
	srv := apiservertest.Start(t)
	admin := rest.CopyConfig(srv.Admin)
	admin.WarningHandler = rest.NoWarnings{}
	client := kubernetes.NewForConfigOrDie(admin)

	dir := t.TempDir()
	netw, err := network.New(network.Config{
		StateDir:     filepath.Join(dir, "cni"),
		PodCIDRs:     []netip.Prefix{netip.MustParsePrefix("10.88.0.0/24")},
		ClusterCIDRs: []netip.Prefix{},
		ServiceCIDRs: []netip.Prefix{},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ids, _ := netw.Pods()
		for _, id := range ids {
			if err := netw.Teardown(context.Background(), id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	store, err := image.New(image.Config{Dir: filepath.Join(dir, "images")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, id := range store.Containers() {
			if err := store.Release(id); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		store.Close()
	})
	bb, err := testimages.Busybox(testimages.Path)
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "busybox.tar")
	if err := testimages.WriteDocker(archive, map[string]v1.Image{"berth.test/busybox:v1": bb}); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(context.Background(), archive); err != nil {
		t.Fatal(err)
	}
	rt := runtimetest.New(t, runtimetest.Config(t))
	vols, err := volume.New(volume.Config{DataDir: dir, Client: client})
	if err != nil {
		t.Fatal(err)
	}

	n := &testNode{t: t, client: client, cfg: Config{
		Rest:       srv.Admin,
		NodeName:   nodeName,
		NodeIP:     "127.0.0.1",
		DataDir:    filepath.Join(dir, "agent"),
		Runtime:    rt,
		Images:     store,
		Network:    netw,
		Volumes:    vols,
		SyncPeriod: 200 * time.Millisecond,
		Logger:     slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}
	n.start()
	return n
}

// start runs an agent until the test ends or stop is called.
func (n *testNode) start() {
	n.t.Helper()
	a, err := New(n.cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.agent = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	stopped := false
	n.stopRun = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			n.t.Errorf("agent Run: %v", err)
		}
	}
	n.t.Cleanup(n.stopRun)
}

func (n *testNode) createPod(p *corev1.Pod) *corev1.Pod {
	n.t.Helper()
	p.Spec.NodeName = nodeName
	out, err := n.client.CoreV1().Pods("default").Create(context.Background(), p, metav1.CreateOptions{})
	if err != nil {
		n.t.Fatal(err)
	}
	// Every pod is gone, with its containers, before the node's cleanup.
	n.t.Cleanup(func() { n.deletePod(out.Name, 0) })
	return out
}

// deletePod deletes a pod and waits until it is gone: the agent finishes
// its deletion once its containers are removed.
func (n *testNode) deletePod(name string, grace int64) {
	n.t.Helper()
	err := n.client.CoreV1().Pods("default").Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if apierrors.IsNotFound(err) {
		return
	}
	if err != nil {
		n.t.Fatal(err)
	}
	n.waitPod(name, "gone", func(p *corev1.Pod) bool { return p == nil })
}

// waitPod waits until cond holds for the pod (nil once it is gone).
func (n *testNode) waitPod(name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last *corev1.Pod
	for {
		p, err := n.client.CoreV1().Pods("default").Get(context.Background(), name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			p = nil
		case err != nil:
			n.t.Fatal(err)
		}
		if cond(p) {
			return p
		}
		last = p
		if time.Now().After(deadline) {
			n.t.Fatalf("pod %s: not %s in time; last: %+v", name, what, last.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func running(p *corev1.Pod) bool { return p != nil && p.Status.Phase == corev1.PodRunning }

func busybox(name string, args ...string) corev1.Container {
	return corev1.Container{Name: name, Image: "berth.test/busybox:v1", ImagePullPolicy: corev1.PullNever, Command: args}
}

func newPod(name string, cs ...corev1.Container) *corev1.Pod {
	var grace int64 = 2
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			Containers:                    cs,
			TerminationGracePeriodSeconds: &grace,
			AutomountServiceAccountToken:  new(bool),
		},
	}
}

func (n *testNode) containersOf(uid string) []runtime.Container {
	n.t.Helper()
	all, err := n.cfg.Runtime.List(context.Background())
	if err != nil {
		n.t.Fatal(err)
	}
	var out []runtime.Container
	for _, c := range all {
		if c.Labels[labelPodUID] == uid {
			out = append(out, c)
		}
	}
	return out
}

func TestPodRunsAndIsDeleted(t *testing.T) {
	n := newTestNode(t)
	p := newPod("two",
		busybox("server", "sh", "-c", "echo hello | nc -l -p 8080 && sleep 3600"),
		busybox("client", "sh", "-c", "until nc 127.0.0.1 8080 > /tmp/got; do sleep 0.1; done; cat /tmp/got; hostname; sleep 3600"))
	p.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"alias.test"}}}
	p = n.createPod(p)
	got := n.waitPod("two", "Running and Ready", func(p *corev1.Pod) bool {
		return running(p) && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	if got.Status.PodIP == "" || !strings.HasPrefix(got.Status.PodIP, "10.88.0.") {
		t.Errorf("podIP %q, want one of 10.88.0.0/24", got.Status.PodIP)
	}
	if got.Status.HostIP != "127.0.0.1" || got.Status.StartTime == nil || got.Status.QOSClass != corev1.PodQOSBestEffort {
		t.Errorf("hostIP %q, startTime %v, qosClass %q", got.Status.HostIP, got.Status.StartTime, got.Status.QOSClass)
	}
	for _, cs := range got.Status.ContainerStatuses {
		if !strings.HasPrefix(cs.ContainerID, "runc://") || cs.ImageID == "" || cs.State.Running == nil || !cs.Ready {
			t.Errorf("container status %+v", cs)
		}
	}
	// The client got the server's line over the pod's loopback.
	logPath := n.cfg.DataDir + "/pods/default_two_" + string(p.UID) + "/client/0.log"
	waitLog(t, logPath, "hello", "two")
	hosts := execOut(t, n, p, "client", "cat", "/etc/hosts")
	if !strings.Contains(hosts, got.Status.PodIP+"\ttwo") || !strings.Contains(hosts, "10.1.2.3\talias.test") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}

	uid := string(p.UID)
	if len(n.containersOf(uid)) != 2 {
		t.Fatalf("containers of the pod: %v", n.containersOf(uid))
	}
	n.deletePod("two", 2)
	if cs := n.containersOf(uid); len(cs) != 0 {
		for _, c := range cs {
			t.Errorf("container left after the pod's deletion: %s %s %s %v", c.ID, c.State, c.Reason, c.Labels)
		}
	}
	if _, err := n.cfg.Runtime.Sandbox(uid); err == nil {
		t.Errorf("sandbox left after the pod's deletion")
	}
	if ids, _ := n.cfg.Network.Pods(); len(ids) != 0 {
		t.Errorf("network attachments left: %v", ids)
	}
	for _, r := range []string{"Pulled", "Created", "Started", "Killing"} {
		waitEvent(t, n, func(e corev1.Event) bool { return e.Reason == r && e.InvolvedObject.UID == p.UID })
	}
}

func podCondition(p *corev1.Pod, t corev1.PodConditionType) corev1.ConditionStatus {
	for _, c := range p.Status.Conditions {
		if c.Type == t {
			return c.Status
		}
	}
	return ""
}

// waitLog waits until the CRI log at path has a line with want.
func waitLog(t *testing.T, path, want, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: log %s has no %q: %s", what, path, want, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// execOut runs a command in a pod's container through the runtime.
func execOut(t *testing.T, n *testNode, p *corev1.Pod, container string, args ...string) string {
	t.Helper()
	for _, c := range n.containersOf(string(p.UID)) {
		if c.Labels[labelContainer] == container && c.State == runtime.StateRunning {
			var out strings.Builder
			code, err := n.cfg.Runtime.Exec(context.Background(), c.ID, runtime.ExecConfig{Args: args}, runtime.Streams{Stdout: &out, Stderr: &out})
			if err != nil || code != 0 {
				t.Fatalf("exec %v: %d, %v: %s", args, code, err, out.String())
			}
			return out.String()
		}
	}
	t.Fatalf("no running container %s", container)
	return ""
}

func TestCrashLoopBackOff(t *testing.T) {
	n := newTestNode(t)
	// Back-off reads this clock; the containers' exit times are real.
	clk := testingclock.NewFakePassiveClock(time.Now())
	n.stopRun()
	n.cfg.Clock = clk
	n.start()
	n.createPod(newPod("crash", busybox("c", "sh", "-c", "exit 3")))
	backingOff := func(restarts int32, delay string) func(p *corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return len(cs) == 1 && cs[0].RestartCount == restarts && cs[0].State.Waiting != nil &&
				cs[0].State.Waiting.Reason == reasonCrashLoopBackOff &&
				strings.Contains(cs[0].State.Waiting.Message, "back-off "+delay+" ")
		}
	}
	// The first exit restarts at once; the second waits 10 s, then 20 s.
	got := n.waitPod("crash", "backing off 10s", backingOff(1, "10s"))
	cs := got.Status.ContainerStatuses[0]
	if cs.LastTerminationState.Terminated == nil || cs.LastTerminationState.Terminated.ExitCode != 3 ||
		cs.LastTerminationState.Terminated.Reason != "Error" {
		t.Errorf("status %+v", cs)
	}
	if got.Status.Phase != corev1.PodRunning {
		t.Errorf("phase %s, want Running (restartPolicy Always)", got.Status.Phase)
	}
	clk.SetTime(time.Now().Add(11 * time.Second))
	n.waitPod("crash", "backing off 20s", backingOff(2, "20s"))
	clk.SetTime(time.Now().Add(21 * time.Second))
	n.waitPod("crash", "backing off 40s", backingOff(3, "40s"))
}

func TestOOMKilled(t *testing.T) {
	n := newTestNode(t)
	c := busybox("hog", "dd", "if=/dev/zero", "of=/dev/null", "bs=256M", "count=1")
	c.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("32Mi")}
	p := newPod("oom", c)
	p.Spec.RestartPolicy = corev1.RestartPolicyNever
	n.createPod(p)
	got := n.waitPod("oom", "Failed", func(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodFailed })
	term := got.Status.ContainerStatuses[0].State.Terminated
	if term == nil || term.Reason != "OOMKilled" || term.ExitCode != 137 {
		t.Errorf("terminated %+v, want OOMKilled 137", term)
	}
	if got.Status.QOSClass != corev1.PodQOSBurstable {
		t.Errorf("qosClass %s, want Burstable", got.Status.QOSClass)
	}
}

func TestRunAsNonRootRefused(t *testing.T) {
	n := newTestNode(t)
	p := newPod("nonroot", busybox("c", "sleep", "3600"))
	p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsNonRoot: new(true)}
	n.createPod(p)
	got := n.waitPod("nonroot", "refused", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == reasonConfigError
	})
	if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; !strings.Contains(msg, "container has runAsNonRoot and image will run as root") {
		t.Errorf("message %q", msg)
	}
	if got.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", got.Status.Phase)
	}
}

func TestInitContainersAndSidecar(t *testing.T) {
	n := newTestNode(t)
	p := newPod("init", busybox("main", "sh", "-c", "cat /tmp/x 2>/dev/null; sleep 3600"))
	side := busybox("side", "sleep", "3600")
	side.RestartPolicy = new(corev1.ContainerRestartPolicyAlways)
	p.Spec.InitContainers = []corev1.Container{busybox("first", "true"), side}
	n.createPod(p)
	got := n.waitPod("init", "Running", running)
	if st := got.Status.InitContainerStatuses; len(st) != 2 || st[0].State.Terminated == nil ||
		st[0].State.Terminated.Reason != "Completed" || st[1].State.Running == nil {
		t.Errorf("init container statuses %+v", st)
	}
	if podCondition(got, corev1.PodInitialized) != corev1.ConditionTrue {
		t.Errorf("conditions %+v", got.Status.Conditions)
	}
}

func TestAgentRestartAdoptsContainers(t *testing.T) {
	n := newTestNode(t)
	p := n.createPod(newPod("adopt", busybox("c", "sleep", "3600")))
	before := n.waitPod("adopt", "Running", running)
	n.stopRun()
	n.start()
	// The new agent's sync restores the Ready condition taken away here.
	stale := before.DeepCopy()
	for i := range stale.Status.Conditions {
		if stale.Status.Conditions[i].Type == corev1.PodReady {
			stale.Status.Conditions[i].Status = corev1.ConditionFalse
		}
	}
	if _, err := n.client.CoreV1().Pods("default").UpdateStatus(context.Background(), stale, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	after := n.waitPod("adopt", "re-synced", func(p *corev1.Pod) bool {
		return running(p) && podCondition(p, corev1.PodReady) == corev1.ConditionTrue
	})
	b, a := before.Status.ContainerStatuses[0], after.Status.ContainerStatuses[0]
	if a.ContainerID != b.ContainerID || a.RestartCount != 0 {
		t.Errorf("after the restart: %s restarts %d; before: %s", a.ContainerID, a.RestartCount, b.ContainerID)
	}
	if cs := n.containersOf(string(p.UID)); len(cs) != 1 || cs[0].State != runtime.StateRunning {
		t.Errorf("containers after the restart: %+v", cs)
	}
}

func TestOrphansRemoved(t *testing.T) {
	n := newTestNode(t)
	p := n.createPod(newPod("orphan", busybox("c", "sleep", "3600")))
	n.waitPod("orphan", "Running", running)
	n.stopRun()
	// Gone from the API while no agent watched.
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), "orphan", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	n.waitPod("orphan", "gone", func(p *corev1.Pod) bool { return p == nil })
	if len(n.containersOf(string(p.UID))) != 1 {
		t.Fatal("the container did not outlive the agent")
	}
	n.start()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := n.cfg.Runtime.Sandbox(string(p.UID))
		ids, _ := n.cfg.Network.Pods()
		if len(n.containersOf(string(p.UID))) == 0 && err != nil && len(ids) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan not removed: containers %v, sandbox err %v, attachments %v", n.containersOf(string(p.UID)), err, ids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestLifecycleHooks(t *testing.T) {
	n := newTestNode(t)
	c := busybox("c", "sleep", "3600")
	c.Lifecycle = &corev1.Lifecycle{
		PostStart: &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo started > /tmp/post"}}},
		PreStop:   &corev1.LifecycleHandler{Exec: &corev1.ExecAction{Command: []string{"sh", "-c", "echo bye > /proc/1/fd/1"}}},
	}
	p := newPod("hooks", c)
	var grace int64 = 3
	p.Spec.TerminationGracePeriodSeconds = &grace
	p = n.createPod(p)
	n.waitPod("hooks", "Running", running)
	if got := execOut(t, n, p, "c", "cat", "/tmp/post"); got != "started\n" {
		t.Errorf("postStart wrote %q", got)
	}
	if err := n.client.CoreV1().Pods("default").Delete(context.Background(), "hooks", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// sleep ignores SIGTERM: the pod lingers for its grace period, after
	// the preStop hook ran.
	waitLog(t, n.cfg.DataDir+"/pods/default_hooks_"+string(p.UID)+"/c/0.log", "bye", "preStop")
	n.waitPod("hooks", "gone", func(p *corev1.Pod) bool { return p == nil })
	if _, err := os.Stat(n.cfg.DataDir + "/pods/default_hooks_" + string(p.UID)); err == nil {
		t.Errorf("the pod's logs outlived it")
	}
}

func TestImagePullFailure(t *testing.T) {
	n := newTestNode(t)
	// Nothing listens on port 1 of the node's loopback.
	c := busybox("c", "true")
	c.Image, c.ImagePullPolicy = "127.0.0.1:1/missing:v1", corev1.PullAlways
	n.createPod(newPod("pullfail", c))
	reasons := map[string]string{}
	n.waitPod("pullfail", "in ImagePullBackOff", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		if len(cs) == 1 && cs[0].State.Waiting != nil {
			reasons[cs[0].State.Waiting.Reason] = cs[0].State.Waiting.Message
		}
		return reasons[reasonImagePullBackOff] != ""
	})
	// ErrImagePull may be overwritten by the back-off before it is read;
	// the event keeps the registry's error.
	waitEvent(t, n, func(e corev1.Event) bool {
		return e.Reason == "Failed" && strings.Contains(e.Message, `Failed to pull image "127.0.0.1:1/missing:v1"`) &&
			strings.Contains(e.Message, "connection refused")
	})
	if got, want := reasons[reasonImagePullBackOff], `Back-off pulling image "127.0.0.1:1/missing:v1"`; got != want {
		t.Errorf("ImagePullBackOff message %q, want %q", got, want)
	}
}

func TestImageNeverPulled(t *testing.T) {
	n := newTestNode(t)
	c := busybox("c", "true")
	c.Image = "berth.test/absent:v1"
	n.createPod(newPod("never", c))
	got := n.waitPod("never", "ErrImageNeverPull", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == reasonErrImageNeverPull
	})
	want := `Container image "berth.test/absent:v1" is not present with pull policy of Never`
	if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; msg != want {
		t.Errorf("message %q, want %q", msg, want)
	}
}

// waitEvent waits for an event in the default namespace that match accepts.
func waitEvent(t *testing.T, n *testNode, match func(corev1.Event) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		events, err := n.client.CoreV1().Events("default").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range events.Items {
			if match(e) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no matching event in %v", events.Items)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEnvFromConfigMapAndSecret(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	if _, err := n.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		Data:       map[string][]byte{"password": []byte("s3cret")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := busybox("c", "sh", "-c", "echo pw=$PASSWORD mode=$MODE from=$S_password; sleep 3600")
	c.Env = []corev1.EnvVar{
		{Name: "PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}, Key: "password"}}},
		{Name: "MODE", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "settings"}, Key: "mode"}}},
	}
	c.EnvFrom = []corev1.EnvFromSource{{Prefix: "S_", SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "creds"}}}}
	p := n.createPod(newPod("env", c))
	// The ConfigMap does not exist yet: the container waits with kubelet's
	// message.
	got := n.waitPod("env", "CreateContainerConfigError", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == reasonConfigError
	})
	if msg := got.Status.ContainerStatuses[0].State.Waiting.Message; msg != `configmap "settings" not found` {
		t.Errorf("message %q", msg)
	}
	if _, err := n.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings"}, Data: map[string]string{"mode": "fast"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	n.waitPod("env", "Running", running)
	waitLog(t, n.cfg.DataDir+"/pods/default_env_"+string(p.UID)+"/c/0.log", "pw=s3cret mode=fast from=s3cret", "env")
}

func TestVolumes(t *testing.T) {
	n := newTestNode(t)
	n.stopRun()
	n.cfg.VolumeRefreshPeriod = time.Second
	n.start()
	ctx := context.Background()
	if _, err := n.client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); apierrors.IsNotFound(err) {
		if _, err := n.client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// No controller publishes the cluster CA here.
	if _, err := n.client.CoreV1().ConfigMaps("default").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"}, Data: map[string]string{"ca.crt": "test CA"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := n.client.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db"}, Data: map[string][]byte{"user": []byte("admin")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c := busybox("c", "sleep", "3600")
	c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "db"}}}}
	c.VolumeMounts = []corev1.VolumeMount{{Name: "config", MountPath: "/etc/config"}}
	p := newPod("vols", c)
	p.Spec.AutomountServiceAccountToken = nil
	p.Spec.Volumes = []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{
		ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}}}
	p = n.createPod(p)
	// The ConfigMap is missing: the pod waits for its volume.
	waitEvent(t, n, func(e corev1.Event) bool {
		return e.Reason == "FailedMount" && e.InvolvedObject.UID == p.UID && strings.Contains(e.Message, `configmap "app" not found`)
	})
	if got := n.waitPod("vols", "Pending", func(*corev1.Pod) bool { return true }); got.Status.Phase != corev1.PodPending {
		t.Errorf("phase %s, want Pending", got.Status.Phase)
	}
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Data: map[string]string{"greeting": "hello"}}
	cm, err := n.client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.waitPod("vols", "Running", running)
	if got := execOut(t, n, p, "c", "sh", "-c", "cat /etc/config/greeting; echo; echo $user"); got != "hello\nadmin\n" {
		t.Errorf("configMap file and secret env: %q", got)
	}
	token := execOut(t, n, p, "c", "cat", "/var/run/secrets/kubernetes.io/serviceaccount/token")
	if strings.Count(token, ".") != 2 {
		t.Errorf("service account token %q, want a JWT", token)
	}
	cm.Data["greeting"] = "bonjour"
	if _, err := n.client.CoreV1().ConfigMaps("default").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for execOut(t, n, p, "c", "cat", "/etc/config/greeting") != "bonjour" {
		if time.Now().After(deadline) {
			t.Fatal("the ConfigMap's update did not reach the volume")
		}
		time.Sleep(100 * time.Millisecond)
	}
	uid := p.UID
	n.deletePod("vols", 2)
	if uids, err := n.cfg.Volumes.Pods(); err != nil || slices.Contains(uids, uid) {
		t.Errorf("volumes left after the pod's deletion: %v, %v", uids, err)
	}
}

func TestProbes(t *testing.T) {
	n := newTestNode(t)
	execProbe := func(cmd ...string) *corev1.Probe {
		return &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: cmd}}, PeriodSeconds: 1, FailureThreshold: 1}
	}
	// Liveness fails once /tmp/dead exists; readiness holds while
	// /tmp/ready does.
	c := busybox("c", "sleep", "3600")
	c.LivenessProbe = execProbe("sh", "-c", "! test -e /tmp/dead")
	c.ReadinessProbe = execProbe("test", "-e", "/tmp/ready")
	p := n.createPod(newPod("probed", c))
	ready := func(want bool) func(p *corev1.Pod) bool {
		return func(p *corev1.Pod) bool {
			cs := p.Status.ContainerStatuses
			return running(p) && len(cs) == 1 && cs[0].Ready == want && cs[0].RestartCount == 0 &&
				podCondition(p, corev1.PodReady) == map[bool]corev1.ConditionStatus{true: corev1.ConditionTrue, false: corev1.ConditionFalse}[want]
		}
	}
	n.waitPod("probed", "Running, not Ready", ready(false))
	execOut(t, n, p, "c", "touch", "/tmp/ready")
	n.waitPod("probed", "Ready", ready(true))
	execOut(t, n, p, "c", "rm", "/tmp/ready")
	n.waitPod("probed", "not Ready again", ready(false))

	execOut(t, n, p, "c", "touch", "/tmp/dead")
	n.waitPod("probed", "restarted", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Running != nil
	})
	waitEvent(t, n, func(e corev1.Event) bool {
		return e.Reason == "Unhealthy" && strings.HasPrefix(e.Message, "Liveness probe failed") && e.InvolvedObject.UID == p.UID
	})
	waitEvent(t, n, func(e corev1.Event) bool {
		return e.Reason == "Killing" && e.Message == "Container c failed liveness probe, will be restarted" && e.InvolvedObject.UID == p.UID
	})
}

func TestStreamBacking(t *testing.T) {
	n := newTestNode(t)
	// Each instance prints its own number of earlier runs, then the
	// second one stays.
	const count = "n=$(cat /dev/shm/runs 2>/dev/null || echo 0); echo run-$n; echo $((n+1)) > /dev/shm/runs; "
	p := n.createPod(newPod("streams", busybox("c", "sh", "-c", count+"[ $n -ge 1 ] && exec sleep 3600; exit 1")))
	// This one keeps failing.
	crashing := n.createPod(newPod("crashing", busybox("c", "sh", "-c", count+"exit 1")))
	n.waitPod("streams", "restarted and running", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Running != nil
	})
	c, err := n.agent.Lookup("default", "streams", "c")
	if err != nil || !c.Running || c.PodUID != p.UID {
		t.Fatalf("Lookup: %+v, %v", c, err)
	}
	if _, err := n.agent.Lookup("default", "streams", "nope"); !errors.Is(err, stream.ErrNotFound) {
		t.Errorf("Lookup of a missing container: %v", err)
	}
	current, previous := n.agent.LogPaths(p.UID, "c")
	waitLog(t, current, "run-1", "streams")
	waitLog(t, previous, "run-0", "streams")

	// While a container waits to be restarted, its last termination, and
	// so --previous, is its latest instance (as in kubelet).
	n.waitPod("crashing", "waiting after its second run", func(p *corev1.Pod) bool {
		cs := p.Status.ContainerStatuses
		return len(cs) == 1 && cs[0].RestartCount == 1 && cs[0].State.Waiting != nil && cs[0].State.Waiting.Reason == reasonCrashLoopBackOff
	})
	deadline := time.Now().Add(10 * time.Second) // the informer may lag behind the API
	for {
		current, previous = n.agent.LogPaths(crashing.UID, "c")
		if current != "" && previous == current {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("LogPaths of a container in CrashLoopBackOff: current %q, previous %q; want both the latest", current, previous)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitLog(t, previous, "run-1", "crashing")
	var out strings.Builder
	code, err := n.agent.Exec(context.Background(), c, []string{"cat", "/etc/hostname"}, false, stream.Streams{Stdout: &out})
	if err != nil || code != 0 || out.String() != "streams\n" {
		t.Errorf("Exec: %d, %v, %q", code, err, out.String())
	}
	conn, err := n.agent.DialPod(context.Background(), p.UID, 1)
	if err == nil {
		conn.Close()
		t.Errorf("DialPod to a closed port succeeded")
	}
}

func TestOrphanVolumesTornDown(t *testing.T) {
	n := newTestNode(t)
	n.stopRun()
	// Volumes of a pod the API never had, as a crash may leave them.
	ghost := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "ghost", Namespace: "default", UID: "ghost-uid"},
		Spec:       corev1.PodSpec{Volumes: []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}},
	}
	if _, err := n.cfg.Volumes.Setup(context.Background(), ghost); err != nil {
		t.Fatal(err)
	}
	live := n.createPod(func() *corev1.Pod {
		p := newPod("live", busybox("c", "sleep", "3600"))
		p.Spec.Volumes = ghost.Spec.Volumes
		return p
	}())
	n.start()
	n.waitPod("live", "Running", running)
	deadline := time.Now().Add(30 * time.Second)
	for {
		uids, err := n.cfg.Volumes.Pods()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(uids, ghost.UID) {
			if !slices.Contains(uids, live.UID) {
				t.Errorf("the volumes of a live pod were torn down: %v", uids)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("orphan volumes not torn down: %v", uids)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
