package scheduler

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/scheduler/plugins"
	"berth.dev/berth/internal/sim"
)

// TestPluginsAgainstSimulatedNodes runs the scheduler against a real API
// server and four simulated nodes, two per zone.
func TestPluginsAgainstSimulatedNodes(t *testing.T) {
	srv := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(srv.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if !servesBinding(t, client) {
		t.Skip("the API server does not serve the pods/binding subresource")
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	factory := informers.NewSharedInformerFactory(client, 0)
	nodes, err := sim.New(sim.Config{Client: client, Informers: factory, Nodes: 4,
		Capacity: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2"), v1.ResourceMemory: resource.MustParse("4Gi"), v1.ResourcePods: resource.MustParse("110")}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Client: client, Informers: factory, VolumeBindTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	done := make(chan struct{}, 2)
	go func() { _ = nodes.Run(ctx); done <- struct{}{} }()
	go func() { _ = s.Run(ctx); done <- struct{}{} }()
	defer func() {
		cancel()
		<-done
		<-done
	}()

	zoneOf := map[string]string{}
	for i, name := range nodes.NodeNames() {
		zoneOf[name] = []string{"a", "b"}[i/2]
	}
	poll := func(t *testing.T, what string, cond func(context.Context) (bool, error)) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, cond); err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
	}
	poll(t, "nodes with zones", func(ctx context.Context) (bool, error) {
		for name, zone := range zoneOf {
			patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, v1.LabelTopologyZone, zone)
			if _, err := client.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
				return false, nil
			}
		}
		return true, nil
	})
	pods := client.CoreV1().Pods("default")
	create := func(t *testing.T, name string, mutate func(*v1.Pod)) {
		t.Helper()
		p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PodSpec{Containers: []v1.Container{{Name: "c", Image: "busybox"}}}}
		mutate(p)
		if _, err := pods.Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	nodeOf := func(t *testing.T, name string) string {
		t.Helper()
		var node string
		poll(t, name+" bound", func(ctx context.Context) (bool, error) {
			p, err := pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			node = p.Spec.NodeName
			return node != "", nil
		})
		return node
	}
	// unschedulable waits for pod name's PodScheduled=False message to
	// contain want.
	unschedulable := func(t *testing.T, name, want string) {
		t.Helper()
		poll(t, name+" unschedulable", func(ctx context.Context) (bool, error) {
			p, err := pods.Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			for _, c := range p.Status.Conditions {
				if c.Type == v1.PodScheduled && c.Status == v1.ConditionFalse && strings.Contains(c.Message, want) {
					return true, nil
				}
			}
			return false, nil
		})
	}
	labelSelector := func(app string) *metav1.LabelSelector {
		return &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}
	}

	t.Run("anti-affinity spreads replicas", func(t *testing.T) {
		anti := func(p *v1.Pod) {
			p.Labels = map[string]string{"app": "anti"}
			p.Spec.Affinity = &v1.Affinity{PodAntiAffinity: &v1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []v1.PodAffinityTerm{
				{TopologyKey: v1.LabelHostname, LabelSelector: labelSelector("anti")}}}}
		}
		seen := map[string]bool{}
		for i := range 4 {
			create(t, fmt.Sprintf("anti-%d", i), anti)
		}
		for i := range 4 {
			seen[nodeOf(t, fmt.Sprintf("anti-%d", i))] = true
		}
		if len(seen) != 4 {
			t.Errorf("4 replicas landed on %d nodes, want 4", len(seen))
		}
		create(t, "anti-4", anti)
		unschedulable(t, "anti-4", "0/4 nodes are available: 4 "+plugins.ReasonAntiAffinityRulesNotMatch+".")
	})

	t.Run("topology spread across zones", func(t *testing.T) {
		perZone := map[string]int{}
		for i := range 6 {
			name := fmt.Sprintf("spread-%d", i)
			create(t, name, func(p *v1.Pod) {
				p.Labels = map[string]string{"app": "spread"}
				p.Spec.TopologySpreadConstraints = []v1.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: v1.LabelTopologyZone,
					WhenUnsatisfiable: v1.DoNotSchedule, LabelSelector: labelSelector("spread")}}
				// Without the constraint every pod would go to zone a.
				p.Spec.Affinity = &v1.Affinity{NodeAffinity: &v1.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []v1.PreferredSchedulingTerm{
					{Weight: 100, Preference: v1.NodeSelectorTerm{MatchExpressions: []v1.NodeSelectorRequirement{
						{Key: v1.LabelTopologyZone, Operator: v1.NodeSelectorOpIn, Values: []string{"a"}}}}}}}}
			})
			perZone[zoneOf[nodeOf(t, name)]]++
		}
		if perZone["a"] != 3 || perZone["b"] != 3 {
			t.Errorf("pods per zone = %v, want 3 and 3", perZone)
		}
	})

	t.Run("volume node affinity", func(t *testing.T) {
		target := nodes.NodeNames()[3]
		pv := &v1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-local"}, Spec: v1.PersistentVolumeSpec{
			StorageClassName: "manual", AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
			Capacity:               v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")},
			PersistentVolumeSource: v1.PersistentVolumeSource{Local: &v1.LocalVolumeSource{Path: "/data"}},
			NodeAffinity: &v1.VolumeNodeAffinity{Required: &v1.NodeSelector{NodeSelectorTerms: []v1.NodeSelectorTerm{{MatchExpressions: []v1.NodeSelectorRequirement{
				{Key: v1.LabelHostname, Operator: v1.NodeSelectorOpIn, Values: []string{target}}}}}}}}}
		if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		claim := func(name, class, volume string) {
			c := &v1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.PersistentVolumeClaimSpec{
				StorageClassName: &class, VolumeName: volume, AccessModes: []v1.PersistentVolumeAccessMode{v1.ReadWriteOnce},
				Resources: v1.VolumeResourceRequirements{Requests: v1.ResourceList{v1.ResourceStorage: resource.MustParse("1Gi")}}}}
			if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, c, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		withClaim := func(name string) func(*v1.Pod) {
			return func(p *v1.Pod) {
				p.Spec.Volumes = []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: name}}}}
			}
		}
		claim("bound", "manual", "pv-local")
		create(t, "uses-local-pv", withClaim("bound"))
		if got := nodeOf(t, "uses-local-pv"); got != target {
			t.Errorf("pod with a volume on %s bound to %s", target, got)
		}

		wffc := storagev1.VolumeBindingWaitForFirstConsumer
		sc := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-path"}, Provisioner: "berth.dev/local-path", VolumeBindingMode: &wffc}
		if _, err := client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		claim("delayed", "local-path", "")
		create(t, "uses-delayed", withClaim("delayed"))
		// Play the provisioner: wait for the selected node, then bind.
		var selected string
		claims := client.CoreV1().PersistentVolumeClaims("default")
		poll(t, "the selected-node annotation", func(ctx context.Context) (bool, error) {
			c, err := claims.Get(ctx, "delayed", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			selected = c.Annotations[plugins.AnnSelectedNode]
			return selected != "", nil
		})
		if p, err := pods.Get(ctx, "uses-delayed", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" {
			t.Fatalf("pod bound before its claim: %v, %v", p.Spec.NodeName, err)
		}
		c, err := claims.Get(ctx, "delayed", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		provisioned := pv.DeepCopy()
		provisioned.Name, provisioned.Spec.StorageClassName = "pvc-delayed", "local-path"
		provisioned.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values = []string{selected}
		provisioned.Spec.ClaimRef = &v1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: "default", Name: "delayed", UID: c.UID}
		if _, err := client.CoreV1().PersistentVolumes().Create(ctx, provisioned, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Spec.VolumeName = "pvc-delayed"
		if c, err = claims.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Status.Phase = v1.ClaimBound
		if _, err := claims.UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := nodeOf(t, "uses-delayed"); got != selected {
			t.Errorf("pod bound to %s, its claim was provisioned for %s", got, selected)
		}

		// A WaitForFirstConsumer class without a provisioner: the scheduler
		// pre-binds the volume (claimRef); play the PV controller.
		static := &storagev1.StorageClass{ObjectMeta: metav1.ObjectMeta{Name: "local-static"}, Provisioner: "kubernetes.io/no-provisioner", VolumeBindingMode: &wffc}
		if _, err := client.StorageV1().StorageClasses().Create(ctx, static, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		staticPV := pv.DeepCopy()
		staticPV.Name, staticPV.Spec.StorageClassName = "pv-static", "local-static"
		staticPV.Spec.NodeAffinity.Required.NodeSelectorTerms[0].MatchExpressions[0].Values = []string{nodes.NodeNames()[1]}
		created, err := client.CoreV1().PersistentVolumes().Create(ctx, staticPV, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		created.Status.Phase = v1.VolumeAvailable
		if _, err := client.CoreV1().PersistentVolumes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		claim("static", "local-static", "")
		create(t, "uses-static", withClaim("static"))
		poll(t, "the volume pre-bound to the claim", func(ctx context.Context) (bool, error) {
			got, err := client.CoreV1().PersistentVolumes().Get(ctx, "pv-static", metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			return got.Spec.ClaimRef != nil && got.Spec.ClaimRef.Name == "static", nil
		})
		c, err = claims.Get(ctx, "static", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		c.Spec.VolumeName = "pv-static"
		if c, err = claims.Update(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		c.Status.Phase = v1.ClaimBound
		if _, err := claims.UpdateStatus(ctx, c, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := nodeOf(t, "uses-static"); got != nodes.NodeNames()[1] {
			t.Errorf("pod bound to %s, its volume is on %s", got, nodes.NodeNames()[1])
		}
	})

	t.Run("preemption", func(t *testing.T) {
		never := v1.PreemptNever
		for _, pc := range []*schedulingv1.PriorityClass{
			{ObjectMeta: metav1.ObjectMeta{Name: "low"}, Value: 1},
			{ObjectMeta: metav1.ObjectMeta{Name: "high"}, Value: 1000},
			{ObjectMeta: metav1.ObjectMeta{Name: "high-never"}, Value: 1000, PreemptionPolicy: &never},
		} {
			if _, err := client.SchedulingV1().PriorityClasses().Create(ctx, pc, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
		}
		withCPU := func(class, cpu string) func(*v1.Pod) {
			return func(p *v1.Pod) {
				p.Spec.PriorityClassName = class
				p.Spec.Containers[0].Resources.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(cpu)}
			}
		}
		fillers := map[string]string{}
		for i := range 4 {
			name := fmt.Sprintf("filler-%d", i)
			create(t, name, func(p *v1.Pod) {
				withCPU("low", "1500m")(p)
				p.Labels = map[string]string{"role": "filler"}
			})
			fillers[name] = nodeOf(t, name)
		}
		create(t, "never", withCPU("high-never", "1500m"))
		unschedulable(t, "never", "preemption: not eligible due to preemptionPolicy=Never.")
		w, err := pods.Watch(ctx, metav1.ListOptions{LabelSelector: "role=filler"})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Stop()
		create(t, "preemptor", withCPU("high", "1500m"))
		// The victim is marked before it is deleted.
		marked := ""
		for marked == "" {
			select {
			case ev := <-w.ResultChan():
				p, ok := ev.Object.(*v1.Pod)
				if !ok {
					continue
				}
				for _, c := range p.Status.Conditions {
					if c.Type == v1.DisruptionTarget && c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonPreemptionByScheduler {
						marked = p.Name
					}
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no filler got the DisruptionTarget condition")
			}
		}
		node := nodeOf(t, "preemptor")
		var victims []string
		for name, on := range fillers {
			if _, err := pods.Get(ctx, name, metav1.GetOptions{}); err != nil {
				victims = append(victims, name)
				if on != node {
					t.Errorf("victim %s ran on %s, the preemptor landed on %s", name, on, node)
				}
			}
		}
		if len(victims) != 1 || victims[0] != marked {
			t.Errorf("victims %v, want exactly the filler marked, %s", victims, marked)
		}
		poll(t, "the Preempted event", func(ctx context.Context) (bool, error) {
			events, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			for _, e := range events.Items {
				if e.Reason == "Preempted" && len(victims) == 1 && e.InvolvedObject.Name == victims[0] {
					return true, nil
				}
			}
			return false, nil
		})
		if p, err := pods.Get(ctx, "never", metav1.GetOptions{}); err != nil || p.Spec.NodeName != "" {
			t.Errorf("pod with preemptionPolicy Never: node %q, err %v; want still pending", p.Spec.NodeName, err)
		}
	})
}
