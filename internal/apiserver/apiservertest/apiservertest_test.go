package apiservertest

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

func TestStart(t *testing.T) {
	s := Start(t)
	c := kubernetes.NewForConfigOrDie(s.Admin)
	ns, err := c.CoreV1().Namespaces().Get(context.Background(), "kube-system", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.Status.Phase != "Active" {
		t.Errorf("kube-system phase %q", ns.Status.Phase)
	}
}
