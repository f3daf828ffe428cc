package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
)

func ptr[T any](v T) *T { return &v }

func newTestManager(t *testing.T, objs ...k8sruntime.Object) (*Manager, *fake.Clientset) {
	t.Helper()
	client := fake.NewClientset(objs...)
	m, err := New(Config{DataDir: t.TempDir(), Client: client,
		Allocatable: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi"), corev1.ResourceCPU: resource.MustParse("2")}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Teardown(context.Background(), "uid-1"); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	})
	return m, client
}

func volumePod(vols ...corev1.Volume) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", UID: "uid-1",
			Labels: map[string]string{"b": "2", "a": "1"}, Annotations: map[string]string{"k": "v"}},
		Spec: corev1.PodSpec{Volumes: vols, Containers: []corev1.Container{{Name: "c", Resources: corev1.ResourceRequirements{
			Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}}}}},
	}
}

func TestSetupDataVolumes(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"},
		Data: map[string]string{"a": "A", "b": "B"}, BinaryData: map[string][]byte{"bin": {0, 1}}}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "ns"}, Data: map[string][]byte{"pw": []byte("hunter2"), "user": []byte("u")}}
	items := func(kv ...string) []corev1.KeyToPath {
		var out []corev1.KeyToPath
		for i := 0; i < len(kv); i += 2 {
			out = append(out, corev1.KeyToPath{Key: kv[i], Path: kv[i+1]})
		}
		return out
	}
	cmVol := func(name string, items []corev1.KeyToPath, optional *bool, mode *int32) corev1.VolumeSource {
		return corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Items: items, Optional: optional, DefaultMode: mode}}
	}
	secVol := func(name string, items []corev1.KeyToPath, optional *bool, mode *int32) corev1.VolumeSource {
		return corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: name, Items: items, Optional: optional, DefaultMode: mode}}
	}
	f := func(data string, mode os.FileMode) File { return File{Data: []byte(data), Mode: mode} }
	tests := []struct {
		name     string
		src      corev1.VolumeSource
		wantKind string
		want     map[string]File
		wantErr  string
	}{
		{name: "configmap all keys", src: cmVol("cm", nil, nil, ptr[int32](0o640)), wantKind: kindConfigMap,
			want: map[string]File{"a": f("A", 0o640), "b": f("B", 0o640), "bin": f("\x00\x01", 0o640)}},
		{name: "configmap items", src: cmVol("cm", []corev1.KeyToPath{{Key: "a", Path: "x/a.txt", Mode: ptr[int32](0o600)}, {Key: "bin", Path: "bin"}}, nil, nil), wantKind: kindConfigMap,
			want: map[string]File{"x/a.txt": f("A", 0o600), "bin": f("\x00\x01", 0o644)}},
		{name: "configmap missing optional", src: cmVol("nope", nil, ptr(true), nil), wantKind: kindConfigMap, want: map[string]File{}},
		{name: "configmap missing", src: cmVol("nope", nil, nil, nil), wantErr: `configmap "nope" not found`},
		{name: "configmap missing key", src: cmVol("cm", items("zz", "zz"), nil, nil), wantErr: "configmap references non-existent config key: zz"},
		{name: "configmap missing key optional", src: cmVol("cm", items("zz", "zz", "a", "a"), ptr(true), nil), wantKind: kindConfigMap, want: map[string]File{"a": f("A", 0o644)}},
		{name: "secret", src: secVol("s", items("pw", "password"), nil, ptr[int32](0o400)), wantKind: kindSecret, want: map[string]File{"password": f("hunter2", 0o400)}},
		{name: "secret missing", src: secVol("nope", nil, nil, nil), wantErr: `secret "nope" not found`},
		{name: "secret missing key", src: secVol("s", items("zz", "zz"), nil, nil), wantErr: "references non-existent secret key: zz"},
		{name: "downward API", src: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "name", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}},
			{Path: "labels", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels"}},
			{Path: "ann/k", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.annotations['k']"}, Mode: ptr[int32](0o600)},
			{Path: "mem", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}},
			{Path: "cpu", ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "c", Resource: "limits.cpu"}},
		}}}, wantKind: kindDownwardAPI, want: map[string]File{
			"name": f("p", 0o644), "labels": f("a=\"1\"\nb=\"2\"", 0o644), "ann/k": f("v", 0o600), "mem": f("128", 0o644), "cpu": f("2", 0o644)}},
		{name: "downward API bad field", src: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
			{Path: "x", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}}}}, wantErr: "unsupported fieldPath: spec.nodeName"},
		{name: "projected", src: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{DefaultMode: ptr[int32](0o440), Sources: []corev1.VolumeProjection{
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}, Items: items("a", "cm/a")}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: items("user", "sec/user")}},
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}, Optional: ptr(true)}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "ns", FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}}}},
		}}}, wantKind: kindProjected, want: map[string]File{"cm/a": f("A", 0o440), "sec/user": f("u", 0o440), "ns": f("ns", 0o440)}},
		{name: "projected missing secret", src: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
			{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "gone"}}}}}}, wantErr: `secret "gone" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestManager(t, cm, sec)
			vols, err := m.Setup(context.Background(), volumePod(corev1.Volume{Name: "v", VolumeSource: tt.src}))
			if tt.wantErr != "" {
				if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
					t.Fatalf("Setup error = %v, want suffix %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			want := Volume{Path: filepath.Join(m.cfg.DataDir, "agent/pods/uid-1/volumes", tt.wantKind, "v"), ReadOnly: true}
			if diff := cmp.Diff(map[string]Volume{"v": want}, vols); diff != "" {
				t.Errorf("volumes (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, readVolume(t, want.Path)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRefreshAndTeardown(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns"}, Data: map[string]string{"k": "v1"}}
	m, client := newTestManager(t, cm)
	pod := volumePod(
		corev1.Volume{Name: "cfg", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cm"}}}},
		corev1.Volume{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
	)
	ctx := context.Background()
	vols, err := m.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	scratch := vols["scratch"]
	if scratch.ReadOnly || !strings.HasSuffix(scratch.Path, "/volumes/kubernetes.io~empty-dir/scratch") {
		t.Errorf("emptyDir volume = %+v", scratch)
	}
	if info, err := os.Stat(scratch.Path); err != nil || info.Mode().Perm() != 0o777 || !info.IsDir() {
		t.Errorf("emptyDir: %v, %v; want a 0777 directory", info, err)
	}
	if err := os.WriteFile(filepath.Join(scratch.Path, "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cm = cm.DeepCopy()
	cm.Data = map[string]string{"k": "v2", "new": "n"}
	if _, err := client.CoreV1().ConfigMaps("ns").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := m.Refresh(ctx, pod); err != nil {
		t.Fatal(err)
	}
	want := map[string]File{"k": {Data: []byte("v2"), Mode: 0o644}, "new": {Data: []byte("n"), Mode: 0o644}}
	if diff := cmp.Diff(want, readVolume(t, vols["cfg"].Path)); diff != "" {
		t.Errorf("after refresh (-want +got):\n%s", diff)
	}
	// Setup again (agent restart) keeps the emptyDir's content.
	if _, err := m.Setup(ctx, pod); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(scratch.Path, "keep")); err != nil {
		t.Errorf("emptyDir content lost on second Setup: %v", err)
	}
	if got, err := m.Pods(); err != nil || !cmp.Equal(got, []types.UID{pod.UID}) {
		t.Errorf("Pods() = %v, %v; want [%s]", got, err, pod.UID)
	}
	for range 2 {
		if err := m.Teardown(ctx, pod.UID); err != nil {
			t.Fatalf("Teardown: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(m.cfg.DataDir, "agent/pods/uid-1/volumes")); !os.IsNotExist(err) {
		t.Errorf("volumes directory after Teardown: %v", err)
	}
	if got, err := m.Pods(); err != nil || len(got) != 0 {
		t.Errorf("Pods() after Teardown = %v, %v", got, err)
	}
	if _, err := m.Mounts(pod, &corev1.Container{Name: "c", VolumeMounts: []corev1.VolumeMount{{Name: "cfg", MountPath: "/cfg"}}}, nil); err == nil {
		t.Error("Mounts after Teardown succeeded")
	}
}

func TestSetupHostPathAndClaims(t *testing.T) {
	host := t.TempDir()
	localPath := filepath.Join(t.TempDir(), "pvc-1")
	existing := t.TempDir()
	objs := []k8sruntime.Object{
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-local"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-local", Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": DefaultLocalPathProvisioner}},
			Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: localPath}}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "hp", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-hp"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-hp"},
			Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: existing}}}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "pending", Namespace: "ns"}},
		&corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: "ns"},
			Spec: corev1.PersistentVolumeClaimSpec{VolumeName: "pv-foreign"}, Status: corev1.PersistentVolumeClaimStatus{Phase: corev1.ClaimBound}},
		&corev1.PersistentVolume{ObjectMeta: metav1.ObjectMeta{Name: "pv-foreign"},
			Spec: corev1.PersistentVolumeSpec{PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: filepath.Join(host, "absent")}}}},
	}
	claim := func(name string, ro bool) corev1.VolumeSource {
		return corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name, ReadOnly: ro}}
	}
	tests := []struct {
		name    string
		src     corev1.VolumeSource
		want    Volume
		wantErr string
	}{
		{name: "hostPath", src: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host, Type: ptr(corev1.HostPathDirectory)}}, want: Volume{Path: host}},
		{name: "hostPath without type created", src: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: filepath.Join(host, "made")}}, want: Volume{Path: filepath.Join(host, "made")}},
		{name: "hostPath type mismatch", src: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: host, Type: ptr(corev1.HostPathFile)}}, wantErr: "is not a file"},
		{name: "local-path claim created", src: claim("data", false), want: Volume{Path: localPath}},
		{name: "hostPath PV claim read-only", src: claim("hp", true), want: Volume{Path: existing, ReadOnly: true}},
		{name: "unbound claim", src: claim("pending", false), wantErr: `persistentvolumeclaim "pending" is not bound`},
		{name: "missing claim", src: claim("nope", false), wantErr: `persistentvolumeclaims "nope" not found`},
		{name: "foreign local PV missing directory", src: claim("foreign", false), wantErr: "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, _ := newTestManager(t, objs...)
			vols, err := m.Setup(context.Background(), volumePod(corev1.Volume{Name: "v", VolumeSource: tt.src}))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Setup error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Setup: %v", err)
			}
			if diff := cmp.Diff(map[string]Volume{"v": tt.want}, vols); diff != "" {
				t.Errorf("volumes (-want +got):\n%s", diff)
			}
			if info, err := os.Stat(tt.want.Path); err != nil || !info.IsDir() {
				t.Errorf("volume path: %v, %v", info, err)
			}
		})
	}
}
