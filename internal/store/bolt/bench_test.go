package bolt

import (
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	bbolt "go.etcd.io/bbolt"
)

// commits returns how many read-write transactions the file has seen.
func commits(b *testing.B, s *Store) int {
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		b.Fatal(err)
	}
	return id
}

// BenchmarkCreateSerial is one writer: every write pays a commit.
func BenchmarkCreateSerial(b *testing.B) {
	s, err := New(Config{Path: filepath.Join(b.TempDir(), "state.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := commits(b, s)
	i := 0
	for b.Loop() {
		if _, err := s.Create(b.Context(), fmt.Sprintf("/bench/%d", i), make([]byte, 512)); err != nil {
			b.Fatal(err)
		}
		i++
	}
	b.ReportMetric(float64(i)/float64(commits(b, s)-start), "writes/commit")
}

// BenchmarkCreateParallel is many concurrent writers: they share commits,
// so a write costs much less than in BenchmarkCreateSerial.
func BenchmarkCreateParallel(b *testing.B) {
	s, err := New(Config{Path: filepath.Join(b.TempDir(), "state.db")})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	start := commits(b, s)
	var n atomic.Int64
	b.SetParallelism(32)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := s.Create(b.Context(), fmt.Sprintf("/bench/%d", i), make([]byte, 512)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(n.Load())/float64(commits(b, s)-start), "writes/commit")
}
