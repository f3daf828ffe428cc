package framework

import (
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/apimachinery/pkg/util/sets"
)

// AffinityTerm is a parsed pod (anti-)affinity term of some pod (its
// owner).
type AffinityTerm struct {
	// Namespaces are the namespaces named by the term, or the owner's
	// namespace when the term names none and has no namespace selector.
	Namespaces sets.Set[string]
	// NamespaceSelector selects further namespaces by their labels; nil
	// when the term has none.
	NamespaceSelector labels.Selector
	// Selector is the term's label selector with the owner's
	// matchLabelKeys and mismatchLabelKeys merged in; an invalid selector
	// matches nothing.
	Selector    labels.Selector
	TopologyKey string
	// Weight is the weight of a preferred term; 1 for required terms.
	Weight int32
}

// NamespaceLabels returns the labels of a namespace; nil when it is unknown.
type NamespaceLabels func(namespace string) labels.Set

// Matches reports whether pod is selected by the term; nsLabels is asked
// for the labels of pod's namespace only when the term has a namespace
// selector.
func (t *AffinityTerm) Matches(pod *v1.Pod, nsLabels NamespaceLabels) bool {
	if !t.Namespaces.Has(pod.Namespace) && (t.NamespaceSelector == nil || !t.NamespaceSelector.Matches(nsLabels(pod.Namespace))) {
		return false
	}
	return t.Selector.Matches(labels.Set(pod.Labels))
}

// newAffinityTerm parses term of owner.
func newAffinityTerm(owner *v1.Pod, term *v1.PodAffinityTerm, weight int32) AffinityTerm {
	t := AffinityTerm{TopologyKey: term.TopologyKey, Weight: weight, Namespaces: sets.New(term.Namespaces...)}
	if len(term.Namespaces) == 0 && term.NamespaceSelector == nil {
		t.Namespaces.Insert(owner.Namespace)
	}
	if term.NamespaceSelector != nil {
		sel, err := metav1.LabelSelectorAsSelector(term.NamespaceSelector)
		if err != nil {
			sel = labels.Nothing()
		}
		t.NamespaceSelector = sel
	}
	t.Selector = SelectorWithLabelKeys(term.LabelSelector, owner.Labels, term.MatchLabelKeys, term.MismatchLabelKeys)
	return t
}

// SelectorWithLabelKeys converts sel (nil selects nothing) and adds, for
// each of matchKeys the owner has, "key in (owner's value)", and for each
// of mismatchKeys "key notin (owner's value)", as upstream merges
// matchLabelKeys and mismatchLabelKeys. An invalid selector selects nothing.
func SelectorWithLabelKeys(sel *metav1.LabelSelector, ownerLabels map[string]string, matchKeys, mismatchKeys []string) labels.Selector {
	if sel == nil {
		return labels.Nothing()
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return labels.Nothing()
	}
	add := func(keys []string, op selection.Operator) {
		for _, k := range keys {
			v, ok := ownerLabels[k]
			if !ok {
				continue
			}
			r, err := labels.NewRequirement(k, op, []string{v})
			if err != nil {
				s = labels.Nothing()
				return
			}
			s = s.Add(*r)
		}
	}
	add(matchKeys, selection.In)
	add(mismatchKeys, selection.NotIn)
	return s
}

// podAffinityTerms parses pod's (anti-)affinity terms into pi.
func (pi *PodInfo) parseAffinity() {
	a := pi.Pod.Spec.Affinity
	if a == nil {
		return
	}
	required := func(terms []v1.PodAffinityTerm) []AffinityTerm {
		var out []AffinityTerm
		for i := range terms {
			out = append(out, newAffinityTerm(pi.Pod, &terms[i], 1))
		}
		return out
	}
	preferred := func(terms []v1.WeightedPodAffinityTerm) []AffinityTerm {
		var out []AffinityTerm
		for i := range terms {
			out = append(out, newAffinityTerm(pi.Pod, &terms[i].PodAffinityTerm, terms[i].Weight))
		}
		return out
	}
	if pa := a.PodAffinity; pa != nil {
		pi.RequiredAffinity = required(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		pi.PreferredAffinity = preferred(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
	if pa := a.PodAntiAffinity; pa != nil {
		pi.RequiredAntiAffinity = required(pa.RequiredDuringSchedulingIgnoredDuringExecution)
		pi.PreferredAntiAffinity = preferred(pa.PreferredDuringSchedulingIgnoredDuringExecution)
	}
}

// HasAffinity reports whether the pod has any pod (anti-)affinity term.
func (pi *PodInfo) HasAffinity() bool {
	return len(pi.RequiredAffinity)+len(pi.PreferredAffinity)+len(pi.RequiredAntiAffinity)+len(pi.PreferredAntiAffinity) > 0
}
