package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/util/workqueue"
)

func TestRunRetriesUntilSyncSucceeds(t *testing.T) {
	q := workqueue.NewTypedRateLimitingQueue(workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond))
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	var failures []string
	syncKey := func(_ context.Context, k string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[k]++
		if k == "flaky" && calls[k] < 3 {
			return errors.New("not yet")
		}
		if calls["ok"] == 1 && calls["flaky"] == 3 {
			close(done)
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error, 1)
	go func() {
		ended <- Run(ctx, q, 2, nil, syncKey, func(k string, err error) {
			mu.Lock()
			failures = append(failures, k)
			mu.Unlock()
		})
	}()
	q.Add("ok")
	q.Add("flaky")
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("keys not synced within 10s")
	}
	cancel()
	select {
	case err := <-ended:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after ctx ended")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(failures) != 2 || failures[0] != "flaky" {
		t.Errorf("failures reported: %v, want flaky twice", failures)
	}
	if !q.ShuttingDown() {
		t.Error("queue not shut down")
	}
}
