// Package worker runs the work-queue loop every berth controller shares:
// wait for the informers, then let workers take keys and sync them,
// retrying failures through the queue's rate limiter.
package worker

import (
	"context"
	"log/slog"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
)

// Run waits until every synced reports true, then runs workers goroutines
// that take keys from q and call syncKey. A key whose sync fails is passed to
// failed (for logging; it may be nil) and requeued with rate limiting; one
// that succeeds is forgotten. Run shuts q down when ctx ends and returns
// once every worker has stopped; it returns ctx's error if the caches never
// synced.
func Run[K comparable](ctx context.Context, q workqueue.TypedRateLimitingInterface[K], workers int, synced []cache.InformerSynced,
	syncKey func(context.Context, K) error, failed func(K, error)) error {
	defer q.ShutDown()
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return ctx.Err()
	}
	var wg sync.WaitGroup
	for range max(workers, 1) {
		wg.Go(func() {
			for next(ctx, q, syncKey, failed) {
			}
		})
	}
	<-ctx.Done()
	q.ShutDown()
	wg.Wait()
	return nil
}

// next syncs one key and reports false once the queue has shut down.
func next[K comparable](ctx context.Context, q workqueue.TypedRateLimitingInterface[K], syncKey func(context.Context, K) error, failed func(K, error)) bool {
	k, quit := q.Get()
	if quit {
		return false
	}
	defer q.Done(k)
	if err := syncKey(ctx, k); err != nil {
		if failed != nil && ctx.Err() == nil {
			failed(k, err)
		}
		q.AddRateLimited(k)
		return true
	}
	q.Forget(k)
	return true
}

// Level is the log level of a failed sync: a conflict or an object that
// already exists means the cache was stale and the retry reads the newer
// state, which is routine (Debug); anything else is an Error.
func Level(err error) slog.Level {
	if apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) {
		return slog.LevelDebug
	}
	return slog.LevelError
}
