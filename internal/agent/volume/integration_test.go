package volume

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

// fakeClock is a settable clock for token refreshes.
type fakeClock struct {
	mu  sync.Mutex // guards now
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Step(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// apiPod creates, in a real API server, a pod with configMap, secret and
// projected volumes (the ServiceAccount admission adds kube-api-access-*)
// and returns the admin client and the pod as stored.
func apiPod(t *testing.T) (kubernetes.Interface, *corev1.Pod) {
	t.Helper()
	srv := apiservertest.Start(t)
	cfg := rest.CopyConfig(srv.Admin)
	cfg.WarningHandler = rest.NoWarnings{}
	client := kubernetes.NewForConfigOrDie(cfg)
	ctx := context.Background()
	const ns = metav1.NamespaceDefault
	mustCreate := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	mustCreate(err)
	// Published in every namespace by the root CA controller, which does
	// not run here.
	_, err = client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt"},
		Data: map[string]string{"ca.crt": string(srv.PKI.CAPEM())}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = client.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Data: map[string]string{"mode": "one"}}, metav1.CreateOptions{})
	mustCreate(err)
	_, err = client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds"},
		StringData: map[string]string{"password": "s3cret"}}, metav1.CreateOptions{})
	mustCreate(err)
	pod, err := client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{
			ServiceAccountName: "robot",
			Containers:         []corev1.Container{{Name: "c", Image: "berth.test/busybox:v1"}},
			Volumes: []corev1.Volume{
				{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "app"}}}},
				{Name: "creds", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "creds"}}},
				{Name: "aud", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "vault-token", Audience: "vault", ExpirationSeconds: ptr[int64](600)}},
				}}}},
			},
		},
	}, metav1.CreateOptions{})
	mustCreate(err)
	return client, pod
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// reviewToken checks token with a TokenReview and returns the username.
func reviewToken(t *testing.T, client kubernetes.Interface, token string, audiences ...string) authenticationv1.TokenReviewStatus {
	t.Helper()
	r, err := client.AuthenticationV1().TokenReviews().Create(context.Background(), &authenticationv1.TokenReview{
		Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: audiences}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

func TestAPIVolumes(t *testing.T) {
	client, pod := apiPod(t)
	ctx := context.Background()
	clock := &fakeClock{now: time.Now()}
	m, err := New(Config{DataDir: t.TempDir(), Client: client, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Teardown(ctx, pod.UID); err != nil {
			t.Errorf("Teardown: %v", err)
		}
	})
	vols, err := m.Setup(ctx, pod)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(vols["config"].Path, "mode")); got != "one" {
		t.Errorf("config/mode = %q", got)
	}
	if got := readFile(t, filepath.Join(vols["creds"].Path, "password")); got != "s3cret" {
		t.Errorf("creds/password = %q", got)
	}
	var access string
	for _, v := range pod.Spec.Volumes {
		if strings.HasPrefix(v.Name, "kube-api-access-") {
			access = v.Name
		}
	}
	if access == "" {
		t.Fatal("the ServiceAccount admission added no kube-api-access volume")
	}
	apiDir := vols[access].Path
	if got := readFile(t, filepath.Join(apiDir, "namespace")); got != pod.Namespace {
		t.Errorf("namespace file = %q", got)
	}
	if got := readFile(t, filepath.Join(apiDir, "ca.crt")); !strings.Contains(got, "BEGIN CERTIFICATE") {
		t.Errorf("ca.crt = %q", got)
	}

	t.Run("tokens are valid and bound to the pod", func(t *testing.T) {
		st := reviewToken(t, client, readFile(t, filepath.Join(apiDir, "token")))
		if !st.Authenticated || st.User.Username != "system:serviceaccount:default:robot" {
			t.Fatalf("TokenReview = %+v", st)
		}
		if got := st.User.Extra["authentication.kubernetes.io/pod-uid"]; len(got) != 1 || got[0] != string(pod.UID) {
			t.Errorf("token's pod-uid = %v, want %s", got, pod.UID)
		}
		vault := readFile(t, filepath.Join(vols["aud"].Path, "vault-token"))
		if st := reviewToken(t, client, vault, "vault"); !st.Authenticated {
			t.Errorf("audience token refused for its audience: %+v", st)
		}
		if st := reviewToken(t, client, vault); st.Authenticated {
			t.Error("audience token accepted for the API server's audience")
		}
	})

	t.Run("tokens are refreshed at 80% of their lifetime", func(t *testing.T) {
		path := filepath.Join(vols["aud"].Path, "vault-token")
		before := readFile(t, path)
		clock.Step(7 * time.Minute) // 70% of 600s
		if err := m.Refresh(ctx, pod); err != nil {
			t.Fatal(err)
		}
		if readFile(t, path) != before {
			t.Fatal("token replaced before 80% of its lifetime")
		}
		clock.Step(2 * time.Minute) // 90%
		if err := m.Refresh(ctx, pod); err != nil {
			t.Fatal(err)
		}
		after := readFile(t, path)
		if after == before {
			t.Fatal("token not replaced after 80% of its lifetime")
		}
		if st := reviewToken(t, client, after, "vault"); !st.Authenticated {
			t.Errorf("refreshed token refused: %+v", st)
		}
	})

	t.Run("configMap and secret updates appear", func(t *testing.T) {
		// The worker's periodic Refresh, with a short period.
		loopCtx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = wait.PollUntilContextCancel(loopCtx, 50*time.Millisecond, false, func(ctx context.Context) (bool, error) {
				if err := m.Refresh(ctx, pod); err != nil && ctx.Err() == nil {
					t.Errorf("Refresh: %v", err)
				}
				return false, nil
			})
		}()
		defer func() { cancel(); <-done }()
		cm, err := client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, "app", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		cm.Data = map[string]string{"mode": "two", "extra": "x"}
		if _, err := client.CoreV1().ConfigMaps(pod.Namespace).Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		s, err := client.CoreV1().Secrets(pod.Namespace).Get(ctx, "creds", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Data["password"] = []byte("rotated")
		if _, err := client.CoreV1().Secrets(pod.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		read := func(p string) string {
			data, _ := os.ReadFile(p)
			return string(data)
		}
		err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			return read(filepath.Join(vols["config"].Path, "mode")) == "two" &&
				read(filepath.Join(vols["config"].Path, "extra")) == "x" &&
				read(filepath.Join(vols["creds"].Path, "password")) == "rotated", nil
		})
		if err != nil {
			t.Fatalf("updates not visible: mode=%q extra=%q password=%q", read(filepath.Join(vols["config"].Path, "mode")),
				read(filepath.Join(vols["config"].Path, "extra")), read(filepath.Join(vols["creds"].Path, "password")))
		}
	})
}
