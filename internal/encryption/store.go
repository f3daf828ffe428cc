package encryption

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"berth.dev/berth/internal/store"
)

// Store is a store.Store that encrypts the values of the configured
// resources. Keys, revisions and values of other resources pass through
// unchanged. It is safe for concurrent use.
type Store struct {
	inner store.Store
	log   *slog.Logger
	rules []rule
	// byPrefix caches the transformer (nil for none) of each resource
	// prefix "/registry/<group>/<resource>/" met so far.
	byPrefix sync.Map
}

var _ store.Store = (*Store)(nil)

// rule maps the resources of one configuration entry to its transformer.
type rule struct {
	resources []string // as written: "secrets", "*.apps", "*.*"
	t         *transformer
}

// NewStore wraps inner with the validated configuration cfg (from Parse,
// Load or Ensure). Closing the Store closes inner.
func NewStore(inner store.Store, cfg *EncryptionConfiguration, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Store{inner: inner, log: log.With("component", "encryption")}
	for i, rc := range cfg.Resources {
		t, err := newTransformer(rc.Providers)
		if err != nil {
			return nil, fmt.Errorf("encryption configuration resources[%d]: %w", i, err)
		}
		s.rules = append(s.rules, rule{resources: rc.Resources, t: t})
	}
	return s, nil
}

// transformerFor returns the transformer of key's resource, or nil.
func (s *Store) transformerFor(key string) *transformer {
	prefix, group, resource, ok := splitKey(key)
	if !ok {
		return nil
	}
	if t, ok := s.byPrefix.Load(prefix); ok {
		return t.(*transformer)
	}
	var found *transformer
	for _, r := range s.rules {
		if r.matches(group, resource) {
			found = r.t
			break
		}
	}
	s.byPrefix.Store(prefix, found)
	return found
}

// splitKey parses "/registry/<group|core>/<resource>/..." into its
// resource prefix, group ("" for core) and resource.
func splitKey(key string) (prefix, group, resource string, ok bool) {
	rest, ok := strings.CutPrefix(key, "/registry/")
	if !ok {
		return "", "", "", false
	}
	group, rest, ok = strings.Cut(rest, "/")
	if !ok {
		return "", "", "", false
	}
	resource, _, ok = strings.Cut(rest, "/")
	if !ok || group == "" || resource == "" {
		return "", "", "", false
	}
	prefix = key[:len("/registry/")+len(group)+1+len(resource)+1]
	if group == "core" {
		group = ""
	}
	return prefix, group, resource, true
}

func (r rule) matches(group, resource string) bool {
	for _, name := range r.resources {
		g, res := splitResource(name)
		if (g == "*" && res == "*") || (g == group && (res == "*" || res == resource)) {
			return true
		}
	}
	return false
}

func (s *Store) decrypt(kv *store.KeyValue) error {
	t := s.transformerFor(kv.Key)
	if t == nil {
		return nil
	}
	v, stale, err := t.fromStorage(kv.Key, kv.Value)
	if err != nil {
		return fmt.Errorf("decrypting %s: %w", kv.Key, err)
	}
	kv.Value, kv.Stale = v, stale
	return nil
}

func (s *Store) encrypt(key string, value []byte) ([]byte, error) {
	t := s.transformerFor(key)
	if t == nil {
		return value, nil
	}
	v, err := t.toStorage(key, value)
	if err != nil {
		return nil, fmt.Errorf("encrypting %s: %w", key, err)
	}
	return v, nil
}

// Get returns key's value, decrypted.
func (s *Store) Get(ctx context.Context, key string) (store.KeyValue, error) {
	kv, err := s.inner.Get(ctx, key)
	if err != nil {
		return kv, err
	}
	if err := s.decrypt(&kv); err != nil {
		return store.KeyValue{}, err
	}
	return kv, nil
}

// List returns the page with every value decrypted; one value that cannot
// be decrypted fails the whole list, as upstream's does.
func (s *Store) List(ctx context.Context, prefix string, opts store.ListOptions) (store.ListResult, error) {
	res, err := s.inner.List(ctx, prefix, opts)
	if err != nil {
		return res, err
	}
	for i := range res.Items {
		if err := s.decrypt(&res.Items[i]); err != nil {
			return store.ListResult{}, err
		}
	}
	return res, nil
}

// Create stores value encrypted.
func (s *Store) Create(ctx context.Context, key string, value []byte) (int64, error) {
	v, err := s.encrypt(key, value)
	if err != nil {
		return 0, err
	}
	return s.inner.Create(ctx, key, v)
}

// Update stores value encrypted.
func (s *Store) Update(ctx context.Context, key string, value []byte, expectedRevision int64) (int64, error) {
	v, err := s.encrypt(key, value)
	if err != nil {
		return 0, err
	}
	return s.inner.Update(ctx, key, v, expectedRevision)
}

// Delete removes key.
func (s *Store) Delete(ctx context.Context, key string, expectedRevision int64) (int64, error) {
	return s.inner.Delete(ctx, key, expectedRevision)
}

// Watch forwards inner's events with their values decrypted. An event
// whose value cannot be decrypted is logged and left out: a watcher never
// sees ciphertext.
func (s *Store) Watch(ctx context.Context, prefix string, afterRevision int64) (<-chan store.Event, error) {
	ctx, cancel := context.WithCancel(ctx)
	in, err := s.inner.Watch(ctx, prefix, afterRevision)
	if err != nil {
		cancel()
		return nil, err
	}
	out := make(chan store.Event, cap(in))
	go func() {
		defer close(out)
		// Ending the inner watch when the reader goes away lets its
		// channel close, so this loop ends.
		defer cancel()
		for ev := range in {
			if err := s.decrypt(&ev.KV); err != nil {
				s.log.Error("dropping an undecryptable watch event", "key", ev.KV.Key, "revision", ev.KV.ModRevision, "err", err)
				continue
			}
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// Compact compacts inner.
func (s *Store) Compact(ctx context.Context, revision int64) error {
	return s.inner.Compact(ctx, revision)
}

// Revision returns inner's revisions.
func (s *Store) Revision(ctx context.Context) (int64, int64, error) {
	return s.inner.Revision(ctx)
}

// Close closes inner.
func (s *Store) Close() error { return s.inner.Close() }
