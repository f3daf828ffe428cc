package node

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/auth"
)

// Group and UserPrefix identify node users: members of Group named
// UserPrefix + the node's name.
const (
	Group      = "system:nodes"
	UserPrefix = "system:node:"
	// LeaseNamespace holds the nodes' heartbeat Leases.
	LeaseNamespace = "kube-node-lease"
)

// Identity returns the node a user is, and whether it is a node user at
// all: a member of system:nodes named system:node:<name>. A node user with
// an empty name is a node of unknown name.
func Identity(u auth.User) (name string, isNode bool) {
	if !slices.Contains(u.Groups, Group) {
		return "", false
	}
	name, ok := strings.CutPrefix(u.Name, UserPrefix)
	return name, ok
}

var (
	podsGR    = schema.GroupResource{Resource: "pods"}
	pvcsGR    = schema.GroupResource{Resource: "persistentvolumeclaims"}
	pvsGR     = schema.GroupResource{Resource: "persistentvolumes"}
	secretsGR = schema.GroupResource{Resource: "secrets"}
)

// Authorizer is the Node authorizer. It needs the API server's objects
// (UseObjects) before its first request; it is safe for concurrent use.
type Authorizer struct {
	objects auth.Objects
}

var (
	_ auth.Authorizer  = (*Authorizer)(nil)
	_ auth.ObjectsUser = (*Authorizer)(nil)
)

// UseObjects implements auth.ObjectsUser.
func (z *Authorizer) UseObjects(o auth.Objects) { z.objects = o }

// kind is what a graph-checked request asks for.
type kind int

const (
	secretKind kind = iota
	configMapKind
	claimKind
	volumeKind
	serviceAccountKind
)

// Authorize implements auth.Authorizer.
func (z *Authorizer) Authorize(_ context.Context, a auth.Attributes) (auth.Decision, string, error) {
	node, isNode := Identity(a.User)
	if !isNode {
		return auth.NoOpinion, "", nil
	}
	if node == "" {
		return auth.NoOpinion, "unknown node", nil
	}
	if a.IsResource && a.APIGroup == "" {
		switch a.Resource {
		case "secrets":
			return z.authorizeRead(node, secretKind, a)
		case "configmaps":
			return z.authorizeRead(node, configMapKind, a)
		case "persistentvolumeclaims":
			if a.Subresource == "status" {
				if a.Verb != "update" && a.Verb != "patch" {
					return auth.NoOpinion, "can only get/update/patch this type", nil
				}
				return z.authorizePath(node, claimKind, a)
			}
			return z.authorizeGet(node, claimKind, a)
		case "persistentvolumes":
			return z.authorizeGet(node, volumeKind, a)
		case "serviceaccounts":
			if a.Verb != "create" || a.Name == "" {
				return auth.NoOpinion, "can only create tokens for individual service accounts", nil
			}
			if a.Subresource != "token" {
				return auth.NoOpinion, "can only create token subresource of serviceaccount", nil
			}
			return z.authorizePath(node, serviceAccountKind, a)
		}
	}
	if a.IsResource && a.APIGroup == "coordination.k8s.io" && a.Resource == "leases" {
		return authorizeLease(node, a)
	}
	if a.IsResource && nodeRulesAllow(a) {
		return auth.Allow, "", nil
	}
	return auth.NoOpinion, "", nil
}

func (z *Authorizer) authorizeRead(node string, k kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "get" && a.Verb != "list" && a.Verb != "watch" {
		return auth.NoOpinion, "can only read resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot read subresource", nil
	}
	if a.Namespace == "" {
		return auth.NoOpinion, "can only read namespaced object of this type", nil
	}
	return z.authorizePath(node, k, a)
}

func (z *Authorizer) authorizeGet(node string, k kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Verb != "get" {
		return auth.NoOpinion, "can only get individual resources of this type", nil
	}
	if a.Subresource != "" {
		return auth.NoOpinion, "cannot get subresource", nil
	}
	return z.authorizePath(node, k, a)
}

func (z *Authorizer) authorizePath(node string, k kind, a auth.Attributes) (auth.Decision, string, error) {
	if a.Name == "" {
		return auth.NoOpinion, "No Object name found", nil
	}
	ok, err := z.related(node, k, a.Namespace, a.Name)
	if err != nil {
		return auth.NoOpinion, "", err
	}
	if !ok {
		return auth.NoOpinion, fmt.Sprintf("no relationship found between node '%s' and this object", node), nil
	}
	return auth.Allow, "", nil
}

// related reports whether a pod bound to node references the object of
// kind k named namespace/name, directly or through its claims' volumes.
func (z *Authorizer) related(node string, k kind, namespace, name string) (bool, error) {
	podNamespace := namespace
	if k == volumeKind || k == secretKind {
		// A volume is cluster-scoped, and a volume's Secret may live in
		// another namespace than the pods using the volume.
		podNamespace = ""
	}
	objs, err := z.objects.List(podsGR, podNamespace, nil)
	if err != nil {
		return false, fmt.Errorf("listing pods: %w", err)
	}
	for _, o := range objs {
		pod, ok := o.(*corev1.Pod)
		if !ok || pod.Spec.NodeName != node {
			continue
		}
		refs := refsOf(pod)
		if pod.Namespace == namespace {
			var names []string
			switch k {
			case secretKind:
				names = refs.secrets
			case configMapKind:
				names = refs.configMaps
			case claimKind:
				names = refs.claims
			case serviceAccountKind:
				names = []string{refs.serviceAccount}
			}
			if slices.Contains(names, name) {
				return true, nil
			}
		}
		if k != volumeKind && k != secretKind {
			continue
		}
		for _, claim := range refs.claims {
			ok, err := z.volumeMatches(pod.Namespace, claim, k, namespace, name)
			if ok || err != nil {
				return ok, err
			}
		}
	}
	return false, nil
}

// volumeMatches reports whether the volume bound to claim is the volume
// name (k volumeKind), or names the Secret namespace/name (k secretKind).
func (z *Authorizer) volumeMatches(claimNamespace, claim string, k kind, namespace, name string) (bool, error) {
	o, err := z.objects.Get(pvcsGR, claimNamespace, claim)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("getting claim %s/%s: %w", claimNamespace, claim, err)
	}
	pvc, ok := o.(*corev1.PersistentVolumeClaim)
	if !ok || pvc.Spec.VolumeName == "" {
		return false, nil
	}
	if k == volumeKind {
		return pvc.Spec.VolumeName == name, nil
	}
	o, err = z.objects.Get(pvsGR, "", pvc.Spec.VolumeName)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("getting volume %s: %w", pvc.Spec.VolumeName, err)
	}
	pv, ok := o.(*corev1.PersistentVolume)
	if !ok {
		return false, nil
	}
	for _, ref := range pvSecrets(pv) {
		ns := ref.Namespace
		if ns == "" {
			ns = claimNamespace
		}
		if ref.Name == name && ns == namespace {
			return true, nil
		}
	}
	return false, nil
}

// authorizeLease allows a node its own Lease in kube-node-lease; the name
// of a created Lease is checked by NodeRestriction admission.
func authorizeLease(node string, a auth.Attributes) (auth.Decision, string, error) {
	switch a.Verb {
	case "get", "create", "update", "patch", "delete":
	default:
		return auth.NoOpinion, "can only get, create, update, patch, or delete a node lease", nil
	}
	if a.Namespace != LeaseNamespace {
		return auth.NoOpinion, fmt.Sprintf("can only access leases in the %q system namespace", LeaseNamespace), nil
	}
	if a.Verb != "create" && a.Name != node {
		return auth.NoOpinion, "can only access node lease with the same name as the requesting node", nil
	}
	return auth.Allow, "", nil
}

// nodeRule is one rule of upstream's static node policy.
type nodeRule struct {
	group     string
	resources []string // resource or resource/subresource
	verbs     []string
}

// nodeRules are upstream's node rules (bootstrappolicy.NodeRules) but for
// the kinds this authorizer checks by relationship.
func nodeRules() []nodeRule {
	read := []string{"get", "list", "watch"}
	return []nodeRule{
		{"authentication.k8s.io", []string{"tokenreviews"}, []string{"create"}},
		{"authorization.k8s.io", []string{"subjectaccessreviews", "localsubjectaccessreviews"}, []string{"create"}},
		{"", []string{"services"}, read},
		{"", []string{"nodes"}, []string{"create", "get", "list", "watch", "update", "patch"}},
		{"", []string{"nodes/status"}, []string{"update", "patch"}},
		{"", []string{"events"}, []string{"create", "update", "patch"}},
		{"", []string{"pods"}, []string{"get", "list", "watch", "create", "delete"}},
		{"", []string{"pods/status"}, []string{"update", "patch"}},
		{"", []string{"pods/eviction"}, []string{"create"}},
		{"", []string{"endpoints"}, []string{"get"}},
		{"certificates.k8s.io", []string{"certificatesigningrequests"}, []string{"create", "get", "list", "watch"}},
		{"storage.k8s.io", []string{"volumeattachments"}, []string{"get"}},
		{"storage.k8s.io", []string{"csidrivers"}, read},
		{"storage.k8s.io", []string{"csinodes"}, []string{"get", "create", "update", "patch", "delete"}},
		{"node.k8s.io", []string{"runtimeclasses"}, read},
	}
}

func nodeRulesAllow(a auth.Attributes) bool {
	res := a.Resource
	if a.Subresource != "" {
		res += "/" + a.Subresource
	}
	for _, r := range nodeRules() {
		if r.group == a.APIGroup && slices.Contains(r.resources, res) && slices.Contains(r.verbs, a.Verb) {
			return true
		}
	}
	return false
}
