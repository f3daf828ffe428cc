package encryption

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"berth.dev/berth/internal/store"
	"berth.dev/berth/internal/store/bolt"
)

func newTestStore(t *testing.T, providers string) (*Store, *bolt.Store) {
	t.Helper()
	inner, err := bolt.New(bolt.Config{Path: filepath.Join(t.TempDir(), "state.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inner.Close() })
	c, err := Parse([]byte(configYAML("[secrets, '*.apps']", providers)))
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewStore(inner, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, inner
}

func TestStoreEncryptsConfiguredResources(t *testing.T) {
	ctx := context.Background()
	s, inner := newTestStore(t, "  - aesgcm: {keys: [{name: k1, secret: "+key32+"}]}\n")
	events, err := s.Watch(ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		key       string
		encrypted bool
	}{
		{"/registry/core/secrets/ns/a", true},
		{"/registry/apps/deployments/ns/d", true},
		{"/registry/core/configmaps/ns/c", false},
		{"/registry/secrets/x", false}, // not a resource key
		{"/other/core/secrets/ns/a", false},
	}
	for _, w := range writes {
		if _, err := s.Create(ctx, w.key, []byte("plain:"+w.key)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Update(ctx, writes[0].key, []byte("plain:updated"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, writes[0].key, 0); err != nil {
		t.Fatal(err)
	}
	for _, w := range writes[1:] {
		raw, err := inner.Get(ctx, w.key)
		if err != nil {
			t.Fatal(err)
		}
		if got := bytes.HasPrefix(raw.Value, []byte("k8s:enc:aesgcm:v1:k1:")); got != w.encrypted {
			t.Errorf("%s stored as %q: encrypted %v, want %v", w.key, raw.Value, got, w.encrypted)
		}
		kv, err := s.Get(ctx, w.key)
		if err != nil || string(kv.Value) != "plain:"+w.key {
			t.Errorf("Get %s = %q, %v", w.key, kv.Value, err)
		}
	}
	list, err := s.List(ctx, "/registry/", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, kv := range list.Items {
		if !strings.HasPrefix(string(kv.Value), "plain:") {
			t.Errorf("List item %s = %q", kv.Key, kv.Value)
		}
	}
	want := []string{
		"Created /registry/core/secrets/ns/a plain:/registry/core/secrets/ns/a",
		"Created /registry/apps/deployments/ns/d plain:/registry/apps/deployments/ns/d",
		"Created /registry/core/configmaps/ns/c plain:/registry/core/configmaps/ns/c",
		"Created /registry/secrets/x plain:/registry/secrets/x",
		"Updated /registry/core/secrets/ns/a plain:updated",
		"Deleted /registry/core/secrets/ns/a plain:updated",
	}
	for _, w := range want {
		select {
		case ev := <-events:
			if got := ev.Type.String() + " " + ev.KV.Key + " " + string(ev.KV.Value); got != w {
				t.Errorf("watch event %q, want %q", got, w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch event %q", w)
		}
	}
}

func TestStoreUndecryptable(t *testing.T) {
	ctx := context.Background()
	s, inner := newTestStore(t, "  - aescbc: {keys: [{name: k1, secret: "+key32+"}]}\n")
	if _, err := inner.Create(ctx, "/registry/core/secrets/ns/bad", []byte("k8s:enc:aescbc:v1:gone:0123456789abcdef0123456789abcdef")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "/registry/core/secrets/ns/bad"); err == nil {
		t.Error("Get of a value under an unknown key succeeded")
	}
	if _, err := s.List(ctx, "/registry/core/secrets/", store.ListOptions{}); err == nil {
		t.Error("List with an undecryptable value succeeded")
	}
	events, err := s.Watch(ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Create(ctx, "/registry/core/secrets/ns/good", []byte("ok")); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-events:
		if ev.KV.Key != "/registry/core/secrets/ns/good" || string(ev.KV.Value) != "ok" {
			t.Errorf("first watch event %s %q: want the undecryptable one left out", ev.KV.Key, ev.KV.Value)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
}

func TestStoreWatchEndsWithContext(t *testing.T) {
	s, _ := newTestStore(t, "  - identity: {}\n")
	ctx, cancel := context.WithCancel(context.Background())
	events, err := s.Watch(ctx, "/registry/", 0)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-events:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel still open after its context ended")
		}
	}
}

// TestRotation follows the README's steps on one bbolt file, reopened for
// each configuration: data written with the old key reads after the new key
// is added, is rewritten with the new key, and reads after the old key is
// removed; the file never holds a value in plain.
func TestRotation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "state.db")
	open := func(providers string) *Store {
		t.Helper()
		inner, err := bolt.New(bolt.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		c, err := Parse([]byte(configYAML("[secrets]", providers)))
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewStore(inner, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	closeAndScan := func(s *Store) {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"value-one-4f1c", "value-two-a92e"} {
			if bytes.Contains(file, []byte(v)) {
				t.Errorf("the file contains %q", v)
			}
		}
	}
	keys := []string{"/registry/core/secrets/ns/one", "/registry/core/secrets/ns/two"}
	readAll := func(s *Store, wantPrefix string, wantStale bool) {
		t.Helper()
		for i, k := range keys {
			kv, err := s.Get(ctx, k)
			if err != nil {
				t.Fatalf("Get %s: %v", k, err)
			}
			if kv.Stale != wantStale {
				t.Errorf("Get %s: stale %v, want %v", k, kv.Stale, wantStale)
			}
			if want := []string{"value-one-4f1c", "value-two-a92e"}[i]; string(kv.Value) != want {
				t.Errorf("Get %s = %q, want %q", k, kv.Value, want)
			}
			raw, err := s.inner.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(raw.Value, []byte(wantPrefix)) {
				t.Errorf("%s stored as %q, want prefix %q", k, raw.Value[:min(len(raw.Value), 30)], wantPrefix)
			}
		}
	}
	oldKey := "  - aescbc: {keys: [{name: old, secret: " + key32 + "}]}\n"
	newKey := "  - aescbc: {keys: [{name: new, secret: " + key32b + "}, {name: old, secret: " + key32 + "}]}\n"
	onlyNew := "  - aescbc: {keys: [{name: new, secret: " + key32b + "}]}\n"

	s := open(oldKey)
	for i, k := range keys {
		if _, err := s.Create(ctx, k, []byte([]string{"value-one-4f1c", "value-two-a92e"}[i])); err != nil {
			t.Fatal(err)
		}
	}
	readAll(s, "k8s:enc:aescbc:v1:old:", false)
	closeAndScan(s)

	s = open(newKey)
	readAll(s, "k8s:enc:aescbc:v1:old:", true)
	for _, k := range keys { // kubectl replace: read and write back
		kv, err := s.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, k, kv.Value, kv.ModRevision); err != nil {
			t.Fatal(err)
		}
	}
	readAll(s, "k8s:enc:aescbc:v1:new:", false)
	closeAndScan(s)

	s = open(onlyNew)
	readAll(s, "k8s:enc:aescbc:v1:new:", false)
	closeAndScan(s)
}
