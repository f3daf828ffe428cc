// Package controllertest runs controllers against an in-process API server
// for their integration tests: one cluster with an admin client and a
// shared informer factory, the controllers running until the test ends,
// and polling for the state they should reach.
package controllertest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"

	"berth.dev/berth/internal/apiserver/apiservertest"
)

// Cluster is a running API server with what controllers are built from.
type Cluster struct {
	// Server is the API server; Server.Admin builds further clients.
	Server *apiservertest.Server
	// Client is an admin client.
	Client kubernetes.Interface
	// Informers is the factory the controllers share, for Run to start.
	Informers informers.SharedInformerFactory
	// Logger writes to the test's output.
	Logger *slog.Logger
}

// Start starts an API server that stops when t ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	s := apiservertest.Start(t)
	client, err := kubernetes.NewForConfig(s.Admin)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	return &Cluster{
		Server:    s,
		Client:    client,
		Informers: informers.NewSharedInformerFactory(client, 0),
		Logger:    slog.New(slog.NewTextHandler(t.Output(), nil)),
	}
}

// Runner is a controller, or anything else with a Run that returns once
// its context is cancelled.
type Runner interface {
	Run(ctx context.Context) error
}

// Run starts factory, then each runner in its own goroutine, and returns
// the context they run with. When t ends, Run's cleanup cancels that
// context, waits for every runner, reports the errors they return, and
// shuts factory down. Build every runner before calling Run, so that the
// informers they use are started.
func Run(t testing.TB, factory informers.SharedInformerFactory, runners ...Runner) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	factory.Start(ctx.Done())
	var wg sync.WaitGroup
	for _, r := range runners {
		wg.Go(func() {
			if err := r.Run(ctx); err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		factory.Shutdown()
	})
	return ctx
}

// CreateNamespace creates the namespace name, failing t if it cannot.
func CreateNamespace(ctx context.Context, t testing.TB, client kubernetes.Interface, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}
}

// WaitFor polls cond until it holds, failing t after 30s with what and
// cond's last description. An error from cond ends the wait at once.
func WaitFor(ctx context.Context, t testing.TB, what string, cond func() (bool, string, error)) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		ok, desc, err := cond()
		last = desc
		return ok, err
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last: %s)", what, err, last)
	}
}

// WaitObject reads the object name with get until done holds for it, and
// returns it. done also describes the object for the failure message;
// an error from get, or 30s, fails t as in WaitFor.
func WaitObject[T any](ctx context.Context, t testing.TB, what, name string,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	done func(T) (bool, string)) T {
	t.Helper()
	var obj T
	WaitFor(ctx, t, what, func() (bool, string, error) {
		var err error
		if obj, err = get(ctx, name, metav1.GetOptions{}); err != nil {
			return false, "", err
		}
		ok, desc := done(obj)
		return ok, desc, nil
	})
	return obj
}

// Update reads the object name with get, applies change to it and writes
// it with write (a client's Update or UpdateStatus), starting over on a
// conflict; any other error fails t.
func Update[T any](ctx context.Context, t testing.TB, name string,
	get func(context.Context, string, metav1.GetOptions) (T, error),
	write func(context.Context, T, metav1.UpdateOptions) (T, error),
	change func(T)) {
	t.Helper()
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		change(obj)
		_, err = write(ctx, obj, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatalf("updating %s: %v", name, err)
	}
}
