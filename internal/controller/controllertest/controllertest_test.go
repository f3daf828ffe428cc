package controllertest

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// runFunc is a Runner made of a function.
type runFunc func(context.Context) error

func (f runFunc) Run(ctx context.Context) error { return f(ctx) }

// TestCluster runs a runner with started informers, and waits for a
// namespace made after the start to reach the informers' cache.
func TestCluster(t *testing.T) {
	c := Start(t)
	lister := c.Informers.Core().V1().Namespaces().Lister()
	ran := make(chan struct{})
	idle := runFunc(func(ctx context.Context) error {
		close(ran)
		<-ctx.Done()
		return nil
	})
	ctx := Run(t, c.Informers, idle)
	<-ran
	CreateNamespace(ctx, t, c.Client, "a")
	WaitFor(ctx, t, "namespace a in the informer cache", func() (bool, string, error) {
		all, err := lister.List(labels.Everything())
		if err != nil {
			return false, "", err
		}
		names := make([]string, 0, len(all))
		for _, ns := range all {
			names = append(names, ns.Name)
		}
		_, err = lister.Get("a")
		if apierrors.IsNotFound(err) {
			return false, fmt.Sprint(names), nil
		}
		return err == nil, fmt.Sprint(names), err
	})
}

// TestUpdate updates a ConfigMap through a stale read: the conflict makes
// Update read it again, and both changes are kept, as WaitObject reads.
func TestUpdate(t *testing.T) {
	c := Start(t)
	ctx := t.Context()
	cms := c.Client.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "x"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	raced := false
	Update(ctx, t, "x", cms.Get, cms.Update, func(cm *corev1.ConfigMap) {
		if !raced {
			raced = true
			Update(ctx, t, "x", cms.Get, cms.Update, func(cm *corev1.ConfigMap) { cm.Data = map[string]string{"a": "1"} })
		}
		if cm.Data == nil {
			cm.Data = map[string]string{}
		}
		cm.Data["b"] = "2"
	})
	got := WaitObject(ctx, t, "the ConfigMap's data", "x", cms.Get, func(cm *corev1.ConfigMap) (bool, string) {
		return len(cm.Data) == 2, fmt.Sprint(cm.Data)
	})
	if diff := cmp.Diff(map[string]string{"a": "1", "b": "2"}, got.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
}
