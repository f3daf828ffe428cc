package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// WebhookConfig configures a WebhookSink. Zero values take upstream's
// defaults for the batching webhook backend.
type WebhookConfig struct {
	// Kubeconfig is the path of a kubeconfig file whose current cluster is
	// the webhook's URL and CA and whose user is the client credentials.
	Kubeconfig string
	// BufferSize is how many events wait to be sent; more are dropped.
	// 0 means 10000.
	BufferSize int
	// MaxBatchSize is the most events per request; 0 means 400.
	MaxBatchSize int
	// MaxBatchWait is how long a partial batch waits for more; 0 means 30s.
	MaxBatchWait time.Duration
	// InitialBackoff is the wait before the first retry of a failed
	// request, doubled for each of the next; 0 means 10s.
	InitialBackoff time.Duration
	// Attempts is how many times a batch is sent before it is dropped;
	// 0 means 5.
	Attempts int
	Logger   *slog.Logger
}

// WebhookSink posts events in EventList batches to a webhook. Process never
// blocks: when the buffer is full the event is dropped and counted, and
// Run logs the count. Run sends.
type WebhookSink struct {
	cfg     WebhookConfig
	log     *slog.Logger
	url     string
	client  *http.Client
	queue   chan []byte
	dropped atomic.Int64
}

var _ Sink = (*WebhookSink)(nil)

// NewWebhookSink reads the kubeconfig and builds the sink.
func NewWebhookSink(cfg WebhookConfig) (*WebhookSink, error) {
	restCfg, err := clientcmd.BuildConfigFromFlags("", cfg.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("audit webhook configuration: %w", err)
	}
	if restCfg.Timeout == 0 {
		restCfg.Timeout = 30 * time.Second
	}
	client, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		return nil, fmt.Errorf("audit webhook configuration: %w", err)
	}
	if cfg.BufferSize <= 0 {
		cfg.BufferSize = 10000
	}
	if cfg.MaxBatchSize <= 0 {
		cfg.MaxBatchSize = 400
	}
	if cfg.MaxBatchWait <= 0 {
		cfg.MaxBatchWait = 30 * time.Second
	}
	if cfg.InitialBackoff <= 0 {
		cfg.InitialBackoff = 10 * time.Second
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &WebhookSink{
		cfg: cfg, log: cfg.Logger.With("component", "audit-webhook"),
		url: restCfg.Host, client: client, queue: make(chan []byte, cfg.BufferSize),
	}, nil
}

// Process queues event, or drops it when the buffer is full.
func (w *WebhookSink) Process(event []byte) {
	select {
	case w.queue <- event:
	default:
		w.dropped.Add(1)
	}
}

// Dropped returns how many events were dropped because the buffer was full.
func (w *WebhookSink) Dropped() int64 { return w.dropped.Load() }

// Run sends batches until ctx ends, then sends what is queued once more
// (each request bounded by the client's timeout) and returns.
func (w *WebhookSink) Run(ctx context.Context) error {
	var reported int64
	var batch [][]byte
	for {
		var ok bool
		batch, ok = w.collect(ctx)
		if !ok {
			break
		}
		w.send(ctx, batch)
		if n := w.dropped.Load(); n != reported {
			w.log.Warn("audit events dropped: the webhook buffer was full", "dropped", n-reported, "droppedTotal", n)
			reported = n
		}
	}
	// Flush what is left, without retries.
	final := context.WithoutCancel(ctx)
	if len(batch) == 0 {
		batch = w.drain()
	}
	for len(batch) > 0 {
		if err := w.post(final, batch); err != nil {
			w.log.Error("audit events lost at shutdown", "events", len(batch), "err", err)
			return nil
		}
		batch = w.drain()
	}
	if n := w.dropped.Load(); n != reported {
		w.log.Warn("audit events dropped: the webhook buffer was full", "dropped", n-reported, "droppedTotal", n)
	}
	return nil
}

// collect waits for a first event, then for more until the batch is full
// or MaxBatchWait has passed. ok is false when ctx ended.
func (w *WebhookSink) collect(ctx context.Context) (batch [][]byte, ok bool) {
	select {
	case ev := <-w.queue:
		batch = append(batch, ev)
	case <-ctx.Done():
		return nil, false
	}
	timer := time.NewTimer(w.cfg.MaxBatchWait)
	defer timer.Stop()
	for len(batch) < w.cfg.MaxBatchSize {
		select {
		case ev := <-w.queue:
			batch = append(batch, ev)
		case <-timer.C:
			return batch, true
		case <-ctx.Done():
			return batch, false
		}
	}
	return batch, true
}

// drain takes up to a batch of queued events without waiting.
func (w *WebhookSink) drain() [][]byte {
	var batch [][]byte
	for len(batch) < w.cfg.MaxBatchSize {
		select {
		case ev := <-w.queue:
			batch = append(batch, ev)
		default:
			return batch
		}
	}
	return batch
}

// send posts batch, retrying with exponential backoff; a batch that fails
// every attempt is dropped and logged.
func (w *WebhookSink) send(ctx context.Context, batch [][]byte) {
	backoff := w.cfg.InitialBackoff
	var err error
	for attempt := 1; attempt <= w.cfg.Attempts; attempt++ {
		if err = w.post(ctx, batch); err == nil {
			return
		}
		var perm permanentError
		if errors.As(err, &perm) || attempt == w.cfg.Attempts {
			break
		}
		w.log.Warn("sending audit events failed; retrying", "events", len(batch), "attempt", attempt, "backoff", backoff, "err", err)
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			// Run's final flush tries once more.
			if err := w.post(context.WithoutCancel(ctx), batch); err != nil {
				w.log.Error("audit events lost", "events", len(batch), "err", err)
			}
			return
		}
		backoff *= 2
	}
	w.log.Error("audit events lost", "events", len(batch), "err", err)
}

// permanentError is a webhook answer that retrying will not change.
type permanentError struct{ error }

// post sends one EventList; 5xx and 429 answers are worth a retry.
func (w *WebhookSink) post(ctx context.Context, batch [][]byte) error {
	var body bytes.Buffer
	body.WriteString(`{"kind":"EventList","apiVersion":"` + APIVersion + `","metadata":{},"items":[`)
	for i, ev := range batch {
		if i > 0 {
			body.WriteByte(',')
		}
		body.Write(ev)
	}
	body.WriteString("]}")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, &body)
	if err != nil {
		return permanentError{err}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("webhook answered %s", resp.Status)
	}
	return permanentError{fmt.Errorf("webhook answered %s", resp.Status)}
}
