package localpath_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/controller/controllertest"
	"berth.dev/berth/internal/controller/localpath"
	"berth.dev/berth/internal/controller/volumebinding"
	"berth.dev/berth/internal/controller/volumeprotection"
	"berth.dev/berth/internal/scheduler"
	"berth.dev/berth/internal/sim"
)

// start runs an API server with simulated nodes, the scheduler, the
// binder, the provisioner and the protection controller.
func start(t *testing.T) (context.Context, kubernetes.Interface) {
	t.Helper()
	cl := controllertest.Start(t)
	client, factory, log := cl.Client, cl.Informers, cl.Logger
	var runners []controllertest.Runner
	add := func(r controllertest.Runner, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		runners = append(runners, r)
	}
	add(sim.New(sim.Config{Client: client, Informers: factory, Nodes: 3, Logger: log}))
	add(scheduler.New(scheduler.Config{Client: client, Informers: factory, Logger: log}))
	add(volumebinding.New(volumebinding.Config{Client: client, Informers: factory, Logger: log}))
	add(localpath.New(localpath.Config{Client: client, Informers: factory, DataDir: "/data", Logger: log}))
	add(volumeprotection.New(volumeprotection.Config{Client: client, Informers: factory, Logger: log}))
	return controllertest.Run(t, factory, runners...), client
}

func waitFor(t *testing.T, ctx context.Context, what string, cond func(context.Context) (bool, error)) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}

func claim(name string, class *string, size string) *corev1.PersistentVolumeClaim {
	return &corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			StorageClassName: class,
			AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(size)}},
		},
	}
}

func TestProvisionOnTheScheduledNode(t *testing.T) {
	ctx, client := start(t)
	// The provisioner creates the default class; admission sees it soon after.
	waitFor(t, ctx, "the default StorageClass applied to claims", func(ctx context.Context) (bool, error) {
		c, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim("probe", nil, "1Gi"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err == nil && c.Spec.StorageClassName != nil, err
	})
	pvc, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim("data", nil, "1Gi"), metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating claim: %v", err)
	}
	if pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != localpath.DefaultClass || !slices.Contains(pvc.Finalizers, volumeprotection.ClaimFinalizer) {
		t.Fatalf("claim admitted with class %v, finalizers %v; want local-path and pvc-protection", pvc.Spec.StorageClassName, pvc.Finalizers)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "data"},
			}}},
		},
	}
	if _, err := client.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating pod: %v", err)
	}
	var node string
	waitFor(t, ctx, "the pod scheduled and the claim bound", func(ctx context.Context) (bool, error) {
		p, err := client.CoreV1().Pods("default").Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if pvc, err = client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{}); err != nil {
			return false, err
		}
		node = p.Spec.NodeName
		return node != "" && pvc.Status.Phase == corev1.ClaimBound, nil
	})
	volName := localpath.VolumeName(pvc)
	if pvc.Spec.VolumeName != volName || pvc.Annotations[volumebinding.AnnSelectedNode] != node ||
		pvc.Annotations[volumebinding.AnnBindCompleted] != "yes" || pvc.Annotations[volumebinding.AnnBoundByController] != "yes" {
		t.Errorf("claim volumeName %q annotations %v; want %s, selected node %s, bind-completed and bound-by-controller", pvc.Spec.VolumeName, pvc.Annotations, volName, node)
	}
	if got := pvc.Status.Capacity[corev1.ResourceStorage]; got.Cmp(resource.MustParse("1Gi")) != 0 {
		t.Errorf("claim capacity %s, want 1Gi", got.String())
	}
	var pv *corev1.PersistentVolume
	waitFor(t, ctx, "the volume Bound", func(ctx context.Context) (bool, error) {
		pv, err = client.CoreV1().PersistentVolumes().Get(ctx, volName, metav1.GetOptions{})
		return err == nil && pv.Status.Phase == corev1.VolumeBound, nil
	})
	wantAffinity := &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
		MatchExpressions: []corev1.NodeSelectorRequirement{{Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
	}}}}
	if diff := cmp.Diff(wantAffinity, pv.Spec.NodeAffinity); diff != "" {
		t.Errorf("volume node affinity (-want +got):\n%s", diff)
	}
	if pv.Spec.Local == nil || pv.Spec.Local.Path != "/data/storage/"+volName || pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete ||
		pv.Spec.ClaimRef == nil || pv.Spec.ClaimRef.UID != pvc.UID || !slices.Contains(pv.Finalizers, volumeprotection.VolumeFinalizer) {
		t.Errorf("volume spec %+v finalizers %v", pv.Spec, pv.Finalizers)
	}

	waitFor(t, ctx, "the ProvisioningSucceeded event", func(ctx context.Context) (bool, error) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=data,reason=ProvisioningSucceeded"})
		return err == nil && len(evs.Items) == 1 && evs.Items[0].Message == "Successfully provisioned volume "+volName, err
	})

	// The claim outlives its deletion while the pod uses it.
	if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting claim: %v", err)
	}
	waitFor(t, ctx, "the claim marked deleted", func(ctx context.Context) (bool, error) {
		pvc, err = client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		return err == nil && pvc.DeletionTimestamp != nil, err
	})
	if err := client.CoreV1().Pods("default").Delete(ctx, "db", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatalf("deleting pod: %v", err)
	}
	waitFor(t, ctx, "the claim and then its volume gone", func(ctx context.Context) (bool, error) {
		_, errClaim := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		_, errVol := client.CoreV1().PersistentVolumes().Get(ctx, volName, metav1.GetOptions{})
		return apierrors.IsNotFound(errClaim) && apierrors.IsNotFound(errVol), nil
	})
}

func TestRetainedVolumeIsReleased(t *testing.T) {
	ctx, client := start(t)
	manual := "manual"
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: "static"},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("5Gi")},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce, corev1.ReadOnlyMany},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              manual,
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv"}},
		},
	}
	if _, err := client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating volume: %v", err)
	}
	if _, err := client.CoreV1().PersistentVolumeClaims("default").Create(ctx, claim("data", &manual, "2Gi"), metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating claim: %v", err)
	}
	waitFor(t, ctx, "the claim bound to the static volume", func(ctx context.Context) (bool, error) {
		c, err := client.CoreV1().PersistentVolumeClaims("default").Get(ctx, "data", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		capacity := c.Status.Capacity[corev1.ResourceStorage]
		return c.Status.Phase == corev1.ClaimBound && c.Spec.VolumeName == "static" && capacity.Cmp(resource.MustParse("5Gi")) == 0, nil
	})
	if err := client.CoreV1().PersistentVolumeClaims("default").Delete(ctx, "data", metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting claim: %v", err)
	}
	waitFor(t, ctx, "the volume Released and kept", func(ctx context.Context) (bool, error) {
		v, err := client.CoreV1().PersistentVolumes().Get(ctx, "static", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return v.Status.Phase == corev1.VolumeReleased, nil
	})
}
