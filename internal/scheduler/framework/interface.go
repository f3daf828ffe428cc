package framework

import (
	"context"
	"sync"

	v1 "k8s.io/api/core/v1"
)

// MaxNodeScore is the highest score a ScorePlugin gives (after
// normalisation); MinNodeScore the lowest.
const (
	MaxNodeScore int64 = 100
	MinNodeScore int64 = 0
)

// Plugin is a named scheduling plugin.
type Plugin interface {
	Name() string
}

// PreFilterPlugin runs once per pod before the filters, to compute what the
// plugin's Filter or Score need (kept in the CycleState) or to reject the
// pod outright.
type PreFilterPlugin interface {
	Plugin
	PreFilter(ctx context.Context, state *CycleState, pod *v1.Pod, snap *Snapshot) *Status
}

// PreFilterExtensions is implemented by PreFilter plugins whose state
// depends on the pods placed: preemption tells them, on a copy of the
// state, of each pod it removes from a node or puts back.
type PreFilterExtensions interface {
	AddPod(ctx context.Context, state *CycleState, pod *v1.Pod, added *PodInfo, n *NodeInfo) *Status
	RemovePod(ctx context.Context, state *CycleState, pod *v1.Pod, removed *PodInfo, n *NodeInfo) *Status
}

// StateCloner is implemented by CycleState values that CycleState.Clone
// must copy deeply (those a PreFilterExtensions changes).
type StateCloner interface {
	CloneState() any
}

// PreScorePlugin runs once per pod before scoring, with the nodes that
// passed the filters, to compute what its Score needs.
type PreScorePlugin interface {
	Plugin
	PreScore(ctx context.Context, state *CycleState, pod *v1.Pod, nodes []*NodeInfo) *Status
}

// FilterPlugin decides whether pod may run on one node. It is called
// concurrently for different nodes and must not modify nodeInfo.
type FilterPlugin interface {
	Plugin
	Filter(ctx context.Context, state *CycleState, pod *v1.Pod, nodeInfo *NodeInfo) *Status
}

// ScorePlugin ranks a feasible node for pod. Scores must lie in
// [MinNodeScore, MaxNodeScore] after normalisation.
type ScorePlugin interface {
	Plugin
	Score(ctx context.Context, state *CycleState, pod *v1.Pod, nodeInfo *NodeInfo) (int64, *Status)
}

// ScoreNormalizer is implemented by score plugins whose raw scores need
// rescaling to [MinNodeScore, MaxNodeScore] once all nodes are scored.
type ScoreNormalizer interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *v1.Pod, scores []NodeScore) *Status
}

// NodeScore is one node's score.
type NodeScore struct {
	Name  string
	Score int64
}

// CycleState carries data between a pod's extension points within one
// scheduling cycle. It is safe for concurrent use.
type CycleState struct {
	mu   sync.RWMutex // guards data
	data map[string]any
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState { return &CycleState{data: map[string]any{}} }

// Write stores v under key.
func (s *CycleState) Write(key string, v any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[key] = v
}

// Clone returns a copy of s; values implementing StateCloner are copied
// with CloneState, the others shared.
func (s *CycleState) Clone() *CycleState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := NewCycleState()
	for k, v := range s.data {
		if cl, ok := v.(StateCloner); ok {
			v = cl.CloneState()
		}
		c.data[k] = v
	}
	return c
}

// Read returns the value under key and whether there was one.
func (s *CycleState) Read(key string) (any, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.data[key]
	return v, ok
}

// DefaultNormalizeScore rescales scores so the highest becomes maxPriority
// (all stay zero when every score is zero); with reverse, each score s then
// becomes maxPriority-s, so the lowest raw score ranks best.
func DefaultNormalizeScore(maxPriority int64, reverse bool, scores []NodeScore) {
	var highest int64
	for _, s := range scores {
		highest = max(highest, s.Score)
	}
	for i := range scores {
		s := scores[i].Score
		if highest > 0 {
			s = maxPriority * s / highest
		}
		if reverse {
			s = maxPriority - s
		}
		scores[i].Score = s
	}
}
