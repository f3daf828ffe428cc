package bootstraptoken

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver/apiservertest"
	"berth.dev/berth/internal/auth/bootstrap"
)

func TestCleaner(t *testing.T) {
	s := apiservertest.Start(t)
	client := kubernetes.NewForConfigOrDie(s.Admin)
	factory := informers.NewSharedInformerFactory(client, 0)
	start := time.Now()
	var skew atomic.Int64
	c, err := New(Config{Client: client, Informers: factory, Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	factory.Start(ctx.Done())
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		factory.Shutdown()
	})
	secrets := client.CoreV1().Secrets("kube-system")
	token := func(name, typ string, exp *time.Time) {
		t.Helper()
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}, Type: corev1.SecretType(typ), StringData: map[string]string{"k": "v"}}
		if exp != nil {
			s.StringData[bootstrap.KeyExpiration] = exp.UTC().Format(time.RFC3339)
		}
		if _, err := secrets.Create(ctx, s, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	past, soon, later := start.Add(-time.Minute), start.Add(2*time.Second), start.Add(time.Hour)
	token("bootstrap-token-expired", bootstrap.SecretType, &past)
	token("bootstrap-token-soon", bootstrap.SecretType, &soon)
	token("bootstrap-token-later", bootstrap.SecretType, &later)
	token("bootstrap-token-forever", bootstrap.SecretType, nil)
	token("not-a-token", string(corev1.SecretTypeOpaque), &past)

	gone := func(name string) {
		t.Helper()
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := secrets.Get(ctx, name, metav1.GetOptions{})
			return apierrors.IsNotFound(err), nil
		})
		if err != nil {
			t.Fatalf("%s was not deleted", name)
		}
	}
	gone("bootstrap-token-expired")
	gone("bootstrap-token-soon") // deleted when its time comes, without another event
	for _, name := range []string{"bootstrap-token-later", "bootstrap-token-forever", "not-a-token"} {
		if _, err := secrets.Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("%s: %v, want kept", name, err)
		}
	}
	// Once the clock passes its expiry, the next look deletes it.
	skew.Store(int64(2 * time.Hour))
	if _, err := secrets.Update(ctx, func() *corev1.Secret {
		s, err := secrets.Get(ctx, "bootstrap-token-later", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		s.Labels = map[string]string{"touched": "yes"}
		return s
	}(), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	gone("bootstrap-token-later")
}
