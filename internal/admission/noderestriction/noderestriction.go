// Package noderestriction is the NodeRestriction admission plugin, as
// upstream's: it limits what node users (system:node:<name> in
// system:nodes) may write to their own objects — their Node (without
// node-restriction.kubernetes.io/ labels or other labels kubelets may not
// set, and without changing taints once registered), mirror pods bound to
// themselves, the status, eviction and deletion of pods bound to them,
// their Lease, ServiceAccount tokens bound to their pods, their CSINode,
// and CSRs for their own node certificates. The Node authorizer
// (internal/auth/node) lets such writes through; this plugin narrows them.
package noderestriction

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/auth"
	"berth.dev/berth/internal/auth/node"
)

// MirrorPodAnnotation marks a pod a node created for one of its static pods.
const MirrorPodAnnotation = "kubernetes.io/config.mirror"

// Plugin is the NodeRestriction validating plugin. It needs the API
// server's objects (UseObjects) before its first request.
type Plugin struct {
	objects auth.Objects
}

var (
	_ admission.Validator = (*Plugin)(nil)
	_ auth.ObjectsUser    = (*Plugin)(nil)
)

// Name implements admission.Validator.
func (*Plugin) Name() string { return "NodeRestriction" }

// UseObjects implements auth.ObjectsUser.
func (p *Plugin) UseObjects(o auth.Objects) { p.objects = o }

// Validate implements admission.Validator.
func (p *Plugin) Validate(_ context.Context, a *admission.Attributes) error {
	name, isNode := node.Identity(a.User)
	if !isNode {
		return nil
	}
	if name == "" {
		return forbidden(a, "could not determine node from user %q", a.User.Name)
	}
	gr := a.Resource.GroupResource()
	switch gr {
	case schema.GroupResource{Resource: "pods"}:
		switch a.Subresource {
		case "":
			return p.admitPod(name, a)
		case "status":
			return p.admitPodStatus(name, a)
		case "eviction":
			return p.admitPodEviction(name, a)
		}
		return forbidden(a, "unexpected pod subresource %q, only 'status' and 'eviction' are allowed", a.Subresource)
	case schema.GroupResource{Resource: "nodes"}:
		return admitNode(name, a)
	case schema.GroupResource{Resource: "persistentvolumeclaims"}:
		return admitClaim(name, a)
	case schema.GroupResource{Resource: "serviceaccounts"}:
		if a.Subresource == "token" {
			return p.admitToken(name, a)
		}
	case schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}:
		return admitLease(name, a)
	case schema.GroupResource{Group: "storage.k8s.io", Resource: "csinodes"}:
		if a.Name != name {
			return forbidden(a, "the name of the CSINode object %q does not match the node name %q", a.Name, name)
		}
	case schema.GroupResource{Group: "certificates.k8s.io", Resource: "certificatesigningrequests"}:
		return admitCSR(name, a)
	}
	return nil
}

func forbidden(a *admission.Attributes, format string, args ...any) error {
	return apierrors.NewForbidden(a.Resource.GroupResource(), a.Name, fmt.Errorf(format, args...))
}

func (p *Plugin) admitPod(name string, a *admission.Attributes) error {
	switch a.Operation {
	case admission.Create:
		return admitMirrorPod(name, a)
	case admission.Delete:
		pod, ok := a.OldObject.(*corev1.Pod)
		if !ok {
			return nil
		}
		if pod.Spec.NodeName != name {
			return forbidden(a, "node %q can only delete pods with spec.nodeName set to itself", name)
		}
		return nil
	}
	return forbidden(a, "unexpected operation %q, node %q can only create and delete mirror pods", a.Operation, name)
}

func admitMirrorPod(name string, a *admission.Attributes) error {
	pod, ok := a.Object.(*corev1.Pod)
	if !ok {
		return nil
	}
	if _, mirror := pod.Annotations[MirrorPodAnnotation]; !mirror {
		return forbidden(a, "pod does not have %q annotation, node %q can only create mirror pods", MirrorPodAnnotation, name)
	}
	if pod.Spec.NodeName != name {
		return forbidden(a, "node %q can only create pods with spec.nodeName set to itself", name)
	}
	if refs := pod.OwnerReferences; len(refs) > 0 {
		r := refs[0]
		if len(refs) > 1 || r.APIVersion != "v1" || r.Kind != "Node" || r.Name != name {
			return forbidden(a, "node %q can only create pods with an owner reference set to itself", name)
		}
	}
	if pod.Spec.ServiceAccountName != "" {
		return forbidden(a, "node %q can not create pods that reference a service account", name)
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case v.Secret != nil:
			return forbidden(a, "node %q can not create pods that reference secrets", name)
		case v.ConfigMap != nil:
			return forbidden(a, "node %q can not create pods that reference configmaps", name)
		case v.PersistentVolumeClaim != nil || v.Ephemeral != nil:
			return forbidden(a, "node %q can not create pods that reference persistentvolumeclaims", name)
		case v.Projected != nil:
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					return forbidden(a, "node %q can not create pods that reference secrets", name)
				}
				if s.ConfigMap != nil {
					return forbidden(a, "node %q can not create pods that reference configmaps", name)
				}
			}
		}
	}
	containers := append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...)
	for _, c := range containers {
		for _, e := range c.EnvFrom {
			if e.SecretRef != nil {
				return forbidden(a, "node %q can not create pods that reference secrets", name)
			}
			if e.ConfigMapRef != nil {
				return forbidden(a, "node %q can not create pods that reference configmaps", name)
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				return forbidden(a, "node %q can not create pods that reference secrets", name)
			}
			if e.ValueFrom != nil && e.ValueFrom.ConfigMapKeyRef != nil {
				return forbidden(a, "node %q can not create pods that reference configmaps", name)
			}
		}
	}
	if len(pod.Spec.ImagePullSecrets) > 0 {
		return forbidden(a, "node %q can not create pods that reference secrets", name)
	}
	return nil
}

func (p *Plugin) admitPodStatus(name string, a *admission.Attributes) error {
	if a.Operation != admission.Update {
		return forbidden(a, "unexpected operation %q", a.Operation)
	}
	old, ok := a.OldObject.(*corev1.Pod)
	if !ok {
		return nil
	}
	if old.Spec.NodeName != name {
		return forbidden(a, "node %q can only update pod status for pods with spec.nodeName set to itself", name)
	}
	return nil
}

func (p *Plugin) admitPodEviction(name string, a *admission.Attributes) error {
	if a.Operation != admission.Create {
		return forbidden(a, "unexpected operation %q", a.Operation)
	}
	obj, err := p.objects.Get(schema.GroupResource{Resource: "pods"}, a.Namespace, a.Name)
	if apierrors.IsNotFound(err) {
		return nil // the eviction fails on its own
	}
	if err != nil {
		return err
	}
	if pod, ok := obj.(*corev1.Pod); ok && pod.Spec.NodeName != name {
		return forbidden(a, "node %s can only evict pods with spec.nodeName set to itself", name)
	}
	return nil
}

func admitNode(name string, a *admission.Attributes) error {
	if a.Name != name {
		return forbidden(a, "node %q is not allowed to modify node %q", name, a.Name)
	}
	if a.Operation != admission.Create && a.Operation != admission.Update {
		return nil
	}
	n, ok := a.Object.(*corev1.Node)
	if !ok {
		return nil
	}
	if a.Operation == admission.Create {
		if bad := forbiddenLabels(n.Labels, nil); len(bad) > 0 {
			return forbidden(a, "node %q is not allowed to set the following labels: %s", name, strings.Join(bad, ", "))
		}
		return nil
	}
	old, ok := a.OldObject.(*corev1.Node)
	if !ok {
		return nil
	}
	if !apiequality.Semantic.DeepEqual(n.Spec.Taints, old.Spec.Taints) {
		return forbidden(a, "node %q is not allowed to modify taints", name)
	}
	if bad := forbiddenLabels(n.Labels, old.Labels); len(bad) > 0 {
		return forbidden(a, "node %q is not allowed to modify labels: %s", name, strings.Join(bad, ", "))
	}
	return nil
}

// forbiddenLabels lists the labels a node may not set or change, nor
// remove: those in the node-restriction.kubernetes.io/ namespace, and
// other kubernetes.io and k8s.io labels but the ones kubelets set.
func forbiddenLabels(labels, old map[string]string) []string {
	var bad []string
	for k, v := range labels {
		if ov, ok := old[k]; ok && ov == v {
			continue
		}
		if !nodeMaySetLabel(k) {
			bad = append(bad, k)
		}
	}
	for k := range old {
		if _, ok := labels[k]; !ok && !nodeMaySetLabel(k) {
			bad = append(bad, k)
		}
	}
	sort.Strings(bad)
	return bad
}

func nodeMaySetLabel(key string) bool {
	domain, _, ok := strings.Cut(key, "/")
	if !ok {
		return true
	}
	under := func(d string) bool { return domain == d || strings.HasSuffix(domain, "."+d) }
	if under("node-restriction.kubernetes.io") {
		return false
	}
	if !under("kubernetes.io") && !under("k8s.io") {
		return true
	}
	switch key { // the kubernetes.io labels kubelets set on their Node
	case "kubernetes.io/hostname", "kubernetes.io/arch", "kubernetes.io/os",
		"beta.kubernetes.io/arch", "beta.kubernetes.io/os", "beta.kubernetes.io/instance-type",
		"node.kubernetes.io/instance-type", "failure-domain.beta.kubernetes.io/region",
		"failure-domain.beta.kubernetes.io/zone", "topology.kubernetes.io/region", "topology.kubernetes.io/zone":
		return true
	}
	return under("kubelet.kubernetes.io") || under("node.kubernetes.io")
}

func admitClaim(name string, a *admission.Attributes) error {
	if a.Subresource != "status" || a.Operation != admission.Update {
		return forbidden(a, "node %q is not allowed to modify persistentvolumeclaims other than through their status", name)
	}
	pvc, ok := a.Object.(*corev1.PersistentVolumeClaim)
	old, ok2 := a.OldObject.(*corev1.PersistentVolumeClaim)
	if !ok || !ok2 {
		return nil
	}
	// A node may report a filesystem resize: capacity and conditions.
	pvc, old = pvc.DeepCopy(), old.DeepCopy()
	pvc.Status.Capacity, old.Status.Capacity = nil, nil
	pvc.Status.Conditions, old.Status.Conditions = nil, nil
	pvc.ResourceVersion, old.ResourceVersion = "", ""
	pvc.ManagedFields, old.ManagedFields = nil, nil
	if !apiequality.Semantic.DeepEqual(pvc, old) {
		return forbidden(a, "node %q is not allowed to update fields other than status.capacity and status.conditions", name)
	}
	return nil
}

func (p *Plugin) admitToken(name string, a *admission.Attributes) error {
	if a.Operation != admission.Create {
		return forbidden(a, "unexpected operation %q", a.Operation)
	}
	tr, ok := a.Object.(*authenticationv1.TokenRequest)
	if !ok {
		return nil
	}
	ref := tr.Spec.BoundObjectRef
	if ref == nil || ref.Kind != "Pod" {
		return forbidden(a, "node requested token not bound to a pod")
	}
	if ref.UID == "" {
		return forbidden(a, "node requested token with a pod binding without a uid")
	}
	obj, err := p.objects.Get(schema.GroupResource{Resource: "pods"}, a.Namespace, ref.Name)
	if apierrors.IsNotFound(err) {
		return forbidden(a, "node requested token bound to a pod that does not exist")
	}
	if err != nil {
		return err
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok || pod.UID != ref.UID {
		return forbidden(a, "the UID in the bound object reference (%s) does not match the UID in record", ref.UID)
	}
	if pod.Spec.NodeName != name {
		return forbidden(a, "node requested token bound to a pod scheduled on a different node")
	}
	return nil
}

func admitLease(name string, a *admission.Attributes) error {
	if a.Namespace != node.LeaseNamespace {
		return forbidden(a, "can only access leases in the %q system namespace", node.LeaseNamespace)
	}
	leaseName := a.Name
	if l, ok := a.Object.(*coordinationv1.Lease); ok && a.Operation == admission.Create {
		leaseName = l.Name
	}
	if leaseName != name {
		return forbidden(a, "can only access node lease with the same name as the requesting node")
	}
	return nil
}

func admitCSR(name string, a *admission.Attributes) error {
	if a.Operation != admission.Create {
		return nil
	}
	csr, ok := a.Object.(*certificatesv1.CertificateSigningRequest)
	if !ok {
		return nil
	}
	if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName && csr.Spec.SignerName != certificatesv1.KubeAPIServerClientKubeletSignerName {
		return nil
	}
	block, _ := pem.Decode(csr.Spec.Request)
	if block == nil {
		return forbidden(a, "unable to parse csr: no PEM block")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return forbidden(a, "unable to parse csr: %v", err)
	}
	if req.Subject.CommonName != node.UserPrefix+name {
		return forbidden(a, "can only create a node CSR with CN=system:node:%s", name)
	}
	return nil
}
