package node_test

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

func TestNodeReadsOnlyItsPodsSecrets(t *testing.T) {
	s := apiservertest.Start(t)
	admin := kubernetes.NewForConfigOrDie(s.Admin)
	ctx := context.Background()
	for _, name := range []string{"mine", "theirs"} {
		if _, err := admin.CoreV1().Secrets("default").Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for node, secret := range map[string]string{"n1": "mine", "n2": "theirs"} {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-" + node}, Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "c", Image: "busybox"}},
			Volumes:    []corev1.Volume{{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: secret}}}},
		}}
		if _, err := admin.CoreV1().Pods("default").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	certPEM, keyPEM, err := s.PKI.IssueClientCert("system:node:n1", []string{"system:nodes"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.CopyConfig(s.Admin)
	cfg.CertData, cfg.KeyData = certPEM, keyPEM
	n1 := kubernetes.NewForConfigOrDie(cfg)

	// The authorizer reads the watch cache, which follows the writes above.
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := n1.CoreV1().Secrets("default").Get(ctx, "mine", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("node n1 reading the secret of its pod: %v", err)
	}
	if _, err := n1.CoreV1().Secrets("default").Get(ctx, "theirs", metav1.GetOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 reading the secret of n2's pod: %v, want 403", err)
	}
	if _, err := n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{FieldSelector: "metadata.name=mine"}); err != nil {
		t.Errorf("node n1 listing its pod's secret by name: %v", err)
	}
	if _, err := n1.CoreV1().Secrets("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 listing all secrets: %v, want 403", err)
	}

	// NodeRestriction: a node registers itself, not others.
	if _, err := n1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}, metav1.CreateOptions{}); err != nil {
		t.Errorf("node n1 registering itself: %v", err)
	}
	if _, err := n1.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n3"}}, metav1.CreateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 registering n3: %v, want 403", err)
	}
	if _, err := n1.CoreV1().Pods("default").UpdateStatus(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p-n2"}}, metav1.UpdateOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("node n1 updating the status of n2's pod: %v, want 403", err)
	}
}
