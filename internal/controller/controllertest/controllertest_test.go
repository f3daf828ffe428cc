package controllertest

import (
	"context"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
