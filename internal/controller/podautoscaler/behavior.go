package podautoscaler

import (
	"math"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// recommendation is one past desired replica count.
type recommendation struct {
	replicas int32
	at       time.Time
}

// scaleEvent is one past change of the target's replicas.
type scaleEvent struct {
	change int32
	at     time.Time
}

// history is what the behavior of one HPA remembers between syncs.
type history struct {
	recommendations []recommendation
	ups, downs      []scaleEvent
}

// defaultBehavior fills what the API's defaulting leaves unset in a
// behavior: the scale-down window, which is downWindow, and absent rules
// (upstream's defaults: up at once by the larger of 4 pods or 100% per
// 15 s; down by up to 100% per 15 s).
func defaultBehavior(b *autoscalingv2.HorizontalPodAutoscalerBehavior, downWindow time.Duration) autoscalingv2.HorizontalPodAutoscalerBehavior {
	maxPolicy := autoscalingv2.MaxChangePolicySelect
	out := autoscalingv2.HorizontalPodAutoscalerBehavior{
		ScaleUp: &autoscalingv2.HPAScalingRules{
			StabilizationWindowSeconds: new(int32(0)),
			SelectPolicy:               &maxPolicy,
			Policies: []autoscalingv2.HPAScalingPolicy{
				{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
				{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			},
		},
		ScaleDown: &autoscalingv2.HPAScalingRules{
			SelectPolicy: &maxPolicy,
			Policies:     []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}},
		},
	}
	if b != nil {
		if b.ScaleUp != nil {
			out.ScaleUp = b.ScaleUp.DeepCopy()
		}
		if b.ScaleDown != nil {
			out.ScaleDown = b.ScaleDown.DeepCopy()
		}
	}
	for _, r := range []*autoscalingv2.HPAScalingRules{out.ScaleUp, out.ScaleDown} {
		if r.SelectPolicy == nil {
			r.SelectPolicy = &maxPolicy
		}
	}
	if out.ScaleUp.StabilizationWindowSeconds == nil {
		out.ScaleUp.StabilizationWindowSeconds = new(int32(0))
	}
	if out.ScaleDown.StabilizationWindowSeconds == nil {
		out.ScaleDown.StabilizationWindowSeconds = new(int32(downWindow / time.Second))
	}
	return out
}

// limits are what the replica count must stay within.
type limits struct {
	current, min, max int32
}

// stabilize applies the stabilization windows as upstream: a scale up
// goes no higher than the lowest recommendation within the up window, a
// scale down no lower than the highest within the down window. It records
// desired in h and returns the stabilized count with the AbleToScale
// reason and message.
func stabilize(h *history, b autoscalingv2.HorizontalPodAutoscalerBehavior, current, desired int32, now time.Time) (int32, string, string) {
	upWindow := time.Duration(*b.ScaleUp.StabilizationWindowSeconds) * time.Second
	downWindow := time.Duration(*b.ScaleDown.StabilizationWindowSeconds) * time.Second
	up, down := desired, desired
	for _, r := range h.recommendations {
		if r.at.After(now.Add(-upWindow)) {
			up = min(up, r.replicas)
		}
		if r.at.After(now.Add(-downWindow)) {
			down = max(down, r.replicas)
		}
	}
	stabilized := max(current, up)
	stabilized = min(stabilized, down)
	// Reuse an entry older than both windows, else append.
	longest := max(upWindow, downWindow)
	replaced := false
	for i, r := range h.recommendations {
		if !r.at.After(now.Add(-longest)) {
			h.recommendations[i] = recommendation{desired, now}
			replaced = true
			break
		}
	}
	if !replaced {
		h.recommendations = append(h.recommendations, recommendation{desired, now})
	}
	if stabilized == desired {
		return stabilized, "ReadyForNewScale", "recommended size matches current size"
	}
	if desired >= current {
		return stabilized, "ScaleUpStabilized", "recent recommendations were lower than current one, applying the lowest recent recommendation"
	}
	return stabilized, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
}

// limitRate keeps desired within minReplicas, maxReplicas and the rate the
// scaling policies allow given the recent scale events, as upstream's
// convertDesiredReplicasWithBehaviorRate. It returns the count with the
// ScalingLimited reason and message.
func limitRate(h *history, b autoscalingv2.HorizontalPodAutoscalerBehavior, l limits, desired int32, now time.Time) (int32, string, string) {
	switch {
	case desired > l.current:
		limit := max(upLimit(l.current, h, b.ScaleUp, now), l.current)
		allowed, reason, message := l.max, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
		if allowed > limit {
			allowed, reason, message = limit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
		}
		if desired > allowed {
			return allowed, reason, message
		}
	case desired < l.current:
		limit := min(downLimit(l.current, h, b.ScaleDown, now), l.current)
		allowed, reason, message := l.min, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
		if allowed < limit {
			allowed, reason, message = limit, "ScaleDownLimit", "the desired replica count is decreasing faster than the maximum scale rate"
		}
		if desired < allowed {
			return allowed, reason, message
		}
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}

// changeWithin sums the changes of the events within the last period.
func changeWithin(events []scaleEvent, period int32, now time.Time) int32 {
	var sum int32
	for _, e := range events {
		if e.at.Add(time.Duration(period) * time.Second).After(now) {
			sum += e.change
		}
	}
	return sum
}

// upLimit is the most replicas the scale-up policies allow now.
func upLimit(current int32, h *history, r *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	pick, result := larger, int32(math.MinInt32)
	if *r.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		pick, result = smaller, math.MaxInt32
	}
	for _, p := range r.Policies {
		start := current - changeWithin(h.ups, p.PeriodSeconds, now) + changeWithin(h.downs, p.PeriodSeconds, now)
		proposed := start + p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		result = pick(result, proposed)
	}
	return result
}

// downLimit is the fewest replicas the scale-down policies allow now.
func downLimit(current int32, h *history, r *autoscalingv2.HPAScalingRules, now time.Time) int32 {
	if *r.SelectPolicy == autoscalingv2.DisabledPolicySelect {
		return current
	}
	// Max selects the policy allowing the biggest change: the lowest count.
	pick, result := smaller, int32(math.MaxInt32)
	if *r.SelectPolicy == autoscalingv2.MinChangePolicySelect {
		pick, result = larger, math.MinInt32
	}
	for _, p := range r.Policies {
		start := current - changeWithin(h.ups, p.PeriodSeconds, now) + changeWithin(h.downs, p.PeriodSeconds, now)
		proposed := start - p.Value
		if p.Type == autoscalingv2.PercentScalingPolicy {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		result = pick(result, proposed)
	}
	return result
}

// record remembers a change of the target's replicas, reusing an event
// older than the direction's longest policy period.
func (h *history) record(b autoscalingv2.HorizontalPodAutoscalerBehavior, from, to int32, now time.Time) {
	events, rules, change := &h.ups, b.ScaleUp, to-from
	if to < from {
		events, rules, change = &h.downs, b.ScaleDown, from-to
	}
	var longest int32
	for _, p := range rules.Policies {
		longest = max(longest, p.PeriodSeconds)
	}
	e := scaleEvent{change, now}
	for i, old := range *events {
		if !old.at.Add(time.Duration(longest) * time.Second).After(now) {
			(*events)[i] = e
			return
		}
	}
	*events = append(*events, e)
}

func larger(a, b int32) int32  { return max(a, b) }
func smaller(a, b int32) int32 { return min(a, b) }

// stabilizeLegacy is the stabilization of an HPA without behavior, as
// upstream: the highest recommendation within the scale-down window,
// desired included. It records desired in h.
func stabilizeLegacy(h *history, window time.Duration, desired int32, now time.Time) (int32, string, string) {
	stabilized := desired
	cutoff := now.Add(-window)
	old := -1
	for i, r := range h.recommendations {
		if r.at.Before(cutoff) {
			old = i
		} else {
			stabilized = max(stabilized, r.replicas)
		}
	}
	if old >= 0 {
		h.recommendations[old] = recommendation{desired, now}
	} else {
		h.recommendations = append(h.recommendations, recommendation{desired, now})
	}
	if stabilized != desired {
		return stabilized, "ScaleDownStabilized", "recent recommendations were higher than current one, applying the highest recent recommendation"
	}
	return stabilized, "ReadyForNewScale", "recommended size matches current size"
}

// limitLegacy keeps desired within minReplicas, maxReplicas and, for an
// HPA without behavior, upstream's fixed scale-up rate: at most the larger
// of twice the current count and 4.
func limitLegacy(l limits, desired int32) (int32, string, string) {
	upLimit := max(2*l.current, 4)
	allowed, reason, message := l.max, "TooManyReplicas", "the desired replica count is more than the maximum replica count"
	if l.max > upLimit {
		allowed, reason, message = upLimit, "ScaleUpLimit", "the desired replica count is increasing faster than the maximum scale rate"
	}
	switch {
	case desired < l.min:
		return l.min, "TooFewReplicas", "the desired replica count is less than the minimum replica count"
	case desired > allowed:
		return allowed, reason, message
	}
	return desired, "DesiredWithinRange", "the desired count is within the acceptable range"
}
