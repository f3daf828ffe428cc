package serviceaccounttoken

import (
	"context"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"berth.dev/berth/internal/apiserver"
	"berth.dev/berth/internal/apiserver/apiservertest"
)

func TestLegacyTokens(t *testing.T) {
	var cfg apiserver.Config
	s := apiservertest.Start(t, func(c *apiserver.Config) { cfg = *c })
	client := kubernetes.NewForConfigOrDie(s.Admin)
	factory := informers.NewSharedInformerFactory(client, 0)
	c, err := New(Config{Client: client, Informers: factory, Tokens: cfg.ServiceAccountIssuer, RootCA: s.PKI.CAPEM()})
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

	sa, err := client.CoreV1().ServiceAccounts("default").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	secrets := client.CoreV1().Secrets("default")
	if _, err := secrets.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "robot-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "robot"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var filled *corev1.Secret
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		filled, err = secrets.Get(ctx, "robot-token", metav1.GetOptions{})
		return err == nil && len(filled.Data[corev1.ServiceAccountTokenKey]) > 0, nil
	})
	if err != nil {
		t.Fatalf("token never filled: %v", err)
	}
	if string(filled.Data[corev1.ServiceAccountRootCAKey]) != string(s.PKI.CAPEM()) || string(filled.Data[corev1.ServiceAccountNamespaceKey]) != "default" ||
		filled.Annotations[corev1.ServiceAccountUIDKey] != string(sa.UID) {
		t.Errorf("filled Secret: data keys %v, annotations %v", len(filled.Data), filled.Annotations)
	}

	// The token authenticates as the ServiceAccount while the Secret holds it.
	review := func() authv1.TokenReviewStatus {
		r, err := client.AuthenticationV1().TokenReviews().Create(ctx, &authv1.TokenReview{Spec: authv1.TokenReviewSpec{Token: string(filled.Data[corev1.ServiceAccountTokenKey])}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	// The server's authenticator reads the Secret from its watch cache,
	// which may not show the token for a moment.
	var st authv1.TokenReviewStatus
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		st = review()
		return st.Authenticated, nil
	})
	if err != nil || st.User.Username != "system:serviceaccount:default:robot" {
		t.Fatalf("legacy token review: %+v", st)
	}

	// The token stays as it is on later syncs.
	again, err := secrets.Get(ctx, "robot-token", metav1.GetOptions{})
	if err != nil || string(again.Data[corev1.ServiceAccountTokenKey]) != string(filled.Data[corev1.ServiceAccountTokenKey]) {
		t.Fatalf("token changed: %v", err)
	}

	// Deleting the ServiceAccount deletes the Secret, and the token dies.
	if err := client.CoreV1().ServiceAccounts("default").Delete(ctx, "robot", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := secrets.Get(ctx, "robot-token", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("the Secret of a deleted ServiceAccount was not deleted")
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return !review().Authenticated, nil
	})
	if err != nil {
		t.Fatal("the legacy token still authenticates after its Secret is gone")
	}

	// A Secret for a ServiceAccount that does not exist is deleted.
	if _, err := secrets.Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ghost-token", Annotations: map[string]string{corev1.ServiceAccountNameKey: "ghost"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := secrets.Get(ctx, "ghost-token", metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatal("the Secret of a missing ServiceAccount was not deleted")
	}
}
