package apiserver

import (
	"context"
	"errors"
	"time"

	"berth.dev/berth/internal/store"
)

// compactInterval is how often old store history is discarded. As
// upstream, each run compacts to the revision seen one interval earlier, so
// at least one interval of history stays for watches and paged lists.
const compactInterval = 5 * time.Minute

func (s *Server) compactLoop(ctx context.Context) {
	t := time.NewTicker(compactInterval)
	defer t.Stop()
	var last int64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, compacted, err := s.store.Revision(ctx)
		if err != nil {
			s.log.Warn("compaction skipped", "err", err)
			continue
		}
		if last > compacted {
			err := s.store.Compact(ctx, last)
			if err != nil && !errors.Is(err, store.ErrCompacted) && ctx.Err() == nil {
				s.log.Warn("compaction failed", "revision", last, "err", err)
			}
		}
		last = cur
	}
}
