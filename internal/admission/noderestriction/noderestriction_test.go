package noderestriction

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	k8stypes "k8s.io/apimachinery/pkg/types"

	"berth.dev/berth/internal/admission"
	"berth.dev/berth/internal/admission/admissiontest"
	"berth.dev/berth/internal/auth"
)

func csrPEM(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Cases ported from upstream's plugin/pkg/admission/noderestriction/admission_test.go.
func TestValidate(t *testing.T) {
	mynode := auth.User{Name: "system:node:mynode", Groups: []string{"system:nodes"}}
	bob := auth.User{Name: "bob", Groups: []string{"system:authenticated"}}
	noName := auth.User{Name: "system:node:", Groups: []string{"system:nodes"}}

	pod := func(name, node string, mirror bool) *corev1.Pod {
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, UID: k8stypes.UID("uid-" + name)}, Spec: corev1.PodSpec{NodeName: node}}
		if mirror {
			p.Annotations = map[string]string{MirrorPodAnnotation: ""}
		}
		return p
	}
	mine, other, unbound := pod("mine", "mynode", false), pod("other", "othernode", false), pod("unbound", "", false)
	objects := admissiontest.Objects{schema.GroupResource{Resource: "pods"}: {mine, other, unbound}}
	p := &Plugin{}
	p.UseObjects(objects)

	podsGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	nodesGVR := schema.GroupVersionResource{Version: "v1", Resource: "nodes"}
	attrs := func(u auth.User, op admission.Operation, gvr schema.GroupVersionResource, sub, ns, name string, obj, old runtime.Object) *admission.Attributes {
		return &admission.Attributes{User: u, Operation: op, Resource: gvr, Subresource: sub, Namespace: ns, Name: name, Object: obj, OldObject: old}
	}
	withVolume := func(v corev1.VolumeSource) *corev1.Pod {
		p := pod("m", "mynode", true)
		p.Spec.Volumes = []corev1.Volume{{Name: "v", VolumeSource: v}}
		return p
	}
	ownedBy := func(kind, name string) *corev1.Pod {
		p := pod("m", "mynode", true)
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "v1", Kind: kind, Name: name, UID: "u"}}
		return p
	}
	node := func(name string, labels map[string]string, taints ...corev1.Taint) *corev1.Node {
		return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Spec: corev1.NodeSpec{Taints: taints}}
	}
	taint := corev1.Taint{Key: "k", Effect: corev1.TaintEffectNoSchedule}
	leasesGVR := schema.GroupVersionResource{Group: "coordination.k8s.io", Version: "v1", Resource: "leases"}
	lease := func(ns, name string) *coordinationv1.Lease {
		return &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	}
	token := func(ref *authenticationv1.BoundObjectReference) *authenticationv1.TokenRequest {
		return &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{BoundObjectRef: ref}}
	}
	saGVR := schema.GroupVersionResource{Version: "v1", Resource: "serviceaccounts"}
	csrGVR := schema.GroupVersionResource{Group: "certificates.k8s.io", Version: "v1", Resource: "certificatesigningrequests"}
	csr := func(signer, cn string) *certificatesv1.CertificateSigningRequest {
		return &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{SignerName: signer, Request: csrPEM(t, cn)}}
	}
	pvcGVR := schema.GroupVersionResource{Version: "v1", Resource: "persistentvolumeclaims"}
	pvc := func(capacity string, class string) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "c"}, Spec: corev1.PersistentVolumeClaimSpec{StorageClassName: &class}}
		c.Status.Capacity = corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(capacity)}
		return c
	}

	tests := []struct {
		name  string
		attrs *admission.Attributes
		err   string // substring of the Forbidden message; "" means allowed
	}{
		// mirror pods
		{"create mirror pod bound to self", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", pod("m", "mynode", true), nil), ""},
		{"create mirror pod bound to another node", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", pod("m", "othernode", true), nil), "can only create pods with spec.nodeName set to itself"},
		{"create unbound mirror pod", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", pod("m", "", true), nil), "can only create pods with spec.nodeName set to itself"},
		{"create regular pod", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", pod("m", "mynode", false), nil), "can only create mirror pods"},
		{"create mirror pod with secret volume", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", withVolume(corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}), nil), "reference secrets"},
		{"create mirror pod with configmap volume", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", withVolume(corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}), nil), "reference configmaps"},
		{"create mirror pod with claim", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", withVolume(corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}), nil), "reference persistentvolumeclaims"},
		{"create mirror pod owned by self", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", ownedBy("Node", "mynode"), nil), ""},
		{"create mirror pod owned by another node", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", ownedBy("Node", "othernode"), nil), "owner reference set to itself"},
		{"create mirror pod owned by a replicaset", attrs(mynode, admission.Create, podsGVR, "", "ns", "m", ownedBy("ReplicaSet", "mynode"), nil), "owner reference set to itself"},
		{"update pod", attrs(mynode, admission.Update, podsGVR, "", "ns", "mine", mine, mine), "can only create and delete mirror pods"},
		{"delete own pod", attrs(mynode, admission.Delete, podsGVR, "", "ns", "mine", nil, mine), ""},
		{"delete another node's pod", attrs(mynode, admission.Delete, podsGVR, "", "ns", "other", nil, other), "can only delete pods with spec.nodeName set to itself"},
		{"delete unbound pod", attrs(mynode, admission.Delete, podsGVR, "", "ns", "unbound", nil, unbound), "can only delete pods"},
		{"update own pod status", attrs(mynode, admission.Update, podsGVR, "status", "ns", "mine", mine, mine), ""},
		{"update another node's pod status", attrs(mynode, admission.Update, podsGVR, "status", "ns", "other", other, other), "can only update pod status for pods with spec.nodeName set to itself"},
		{"evict own pod", attrs(mynode, admission.Create, podsGVR, "eviction", "ns", "mine", &policyv1.Eviction{}, nil), ""},
		{"evict another node's pod", attrs(mynode, admission.Create, podsGVR, "eviction", "ns", "other", &policyv1.Eviction{}, nil), "can only evict pods with spec.nodeName set to itself"},
		{"evict missing pod", attrs(mynode, admission.Create, podsGVR, "eviction", "ns", "gone", &policyv1.Eviction{}, nil), ""},
		{"other subresource", attrs(mynode, admission.Update, podsGVR, "ephemeralcontainers", "ns", "mine", mine, mine), "unexpected pod subresource"},
		{"non-node user", attrs(bob, admission.Update, podsGVR, "status", "ns", "other", other, other), ""},
		{"node of unknown name", attrs(noName, admission.Update, podsGVR, "status", "ns", "mine", mine, mine), "could not determine node"},
		// nodes
		{"create own node", attrs(mynode, admission.Create, nodesGVR, "", "", "mynode", node("mynode", map[string]string{"kubernetes.io/hostname": "h", "foo": "bar"}, taint), nil), ""},
		{"create another node", attrs(mynode, admission.Create, nodesGVR, "", "", "othernode", node("othernode", nil), nil), "is not allowed to modify node \"othernode\""},
		{"create with restricted label", attrs(mynode, admission.Create, nodesGVR, "", "", "mynode", node("mynode", map[string]string{"node-restriction.kubernetes.io/foo": "x"}), nil), "not allowed to set the following labels: node-restriction.kubernetes.io/foo"},
		{"create with kubernetes.io label", attrs(mynode, admission.Create, nodesGVR, "", "", "mynode", node("mynode", map[string]string{"other.kubernetes.io/foo": "x"}), nil), "not allowed to set the following labels"},
		{"create with kubelet label", attrs(mynode, admission.Create, nodesGVR, "", "", "mynode", node("mynode", map[string]string{"kubelet.kubernetes.io/foo": "x", "node.kubernetes.io/bar": "y"}), nil), ""},
		{"update own node status", attrs(mynode, admission.Update, nodesGVR, "status", "", "mynode", node("mynode", nil), node("mynode", nil)), ""},
		{"update another node's status", attrs(mynode, admission.Update, nodesGVR, "status", "", "othernode", node("othernode", nil), node("othernode", nil)), "is not allowed to modify node"},
		{"add taint", attrs(mynode, admission.Update, nodesGVR, "", "", "mynode", node("mynode", nil, taint), node("mynode", nil)), "not allowed to modify taints"},
		{"remove taint", attrs(mynode, admission.Update, nodesGVR, "", "", "mynode", node("mynode", nil), node("mynode", nil, taint)), "not allowed to modify taints"},
		{"keep restricted label", attrs(mynode, admission.Update, nodesGVR, "", "", "mynode", node("mynode", map[string]string{"node-restriction.kubernetes.io/foo": "x", "a": "b"}), node("mynode", map[string]string{"node-restriction.kubernetes.io/foo": "x"})), ""},
		{"change restricted label", attrs(mynode, admission.Update, nodesGVR, "", "", "mynode", node("mynode", map[string]string{"node-restriction.kubernetes.io/foo": "y"}), node("mynode", map[string]string{"node-restriction.kubernetes.io/foo": "x"})), "not allowed to modify labels: node-restriction.kubernetes.io/foo"},
		{"remove restricted label", attrs(mynode, admission.Update, nodesGVR, "", "", "mynode", node("mynode", nil), node("mynode", map[string]string{"node-restriction.kubernetes.io/foo": "x"})), "not allowed to modify labels"},
		{"delete own node", attrs(mynode, admission.Delete, nodesGVR, "", "", "mynode", nil, node("mynode", nil)), ""},
		{"delete another node", attrs(mynode, admission.Delete, nodesGVR, "", "", "othernode", nil, node("othernode", nil)), "is not allowed to modify node"},
		// leases
		{"create own lease", attrs(mynode, admission.Create, leasesGVR, "", "kube-node-lease", "mynode", lease("kube-node-lease", "mynode"), nil), ""},
		{"create another node's lease", attrs(mynode, admission.Create, leasesGVR, "", "kube-node-lease", "othernode", lease("kube-node-lease", "othernode"), nil), "same name as the requesting node"},
		{"update lease in another namespace", attrs(mynode, admission.Update, leasesGVR, "", "ns", "mynode", lease("ns", "mynode"), lease("ns", "mynode")), "can only access leases in the \"kube-node-lease\" system namespace"},
		// service account tokens
		{"token bound to own pod", attrs(mynode, admission.Create, saGVR, "token", "ns", "default", token(&authenticationv1.BoundObjectReference{Kind: "Pod", Name: "mine", UID: mine.UID}), nil), ""},
		{"token bound to another node's pod", attrs(mynode, admission.Create, saGVR, "token", "ns", "default", token(&authenticationv1.BoundObjectReference{Kind: "Pod", Name: "other", UID: other.UID}), nil), "bound to a pod scheduled on a different node"},
		{"token not bound", attrs(mynode, admission.Create, saGVR, "token", "ns", "default", token(nil), nil), "not bound to a pod"},
		{"token without uid", attrs(mynode, admission.Create, saGVR, "token", "ns", "default", token(&authenticationv1.BoundObjectReference{Kind: "Pod", Name: "mine"}), nil), "without a uid"},
		{"token with stale uid", attrs(mynode, admission.Create, saGVR, "token", "ns", "default", token(&authenticationv1.BoundObjectReference{Kind: "Pod", Name: "mine", UID: "x"}), nil), "does not match"},
		// CSRs
		{"own client CSR", attrs(mynode, admission.Create, csrGVR, "", "", "c", csr(certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:mynode"), nil), ""},
		{"another node's client CSR", attrs(mynode, admission.Create, csrGVR, "", "", "c", csr(certificatesv1.KubeAPIServerClientKubeletSignerName, "system:node:othernode"), nil), "can only create a node CSR with CN=system:node:mynode"},
		{"another node's serving CSR", attrs(mynode, admission.Create, csrGVR, "", "", "c", csr(certificatesv1.KubeletServingSignerName, "system:node:othernode"), nil), "CN=system:node:mynode"},
		{"other signer", attrs(mynode, admission.Create, csrGVR, "", "", "c", csr("example.com/signer", "anything"), nil), ""},
		// claims
		{"claim resize status", attrs(mynode, admission.Update, pvcGVR, "status", "ns", "c", pvc("2Gi", "a"), pvc("1Gi", "a")), ""},
		{"claim spec through status", attrs(mynode, admission.Update, pvcGVR, "status", "ns", "c", pvc("1Gi", "b"), pvc("1Gi", "a")), "not allowed to update fields other than"},
		{"claim update", attrs(mynode, admission.Update, pvcGVR, "", "ns", "c", pvc("1Gi", "a"), pvc("1Gi", "a")), "other than through their status"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Validate(context.Background(), tt.attrs)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("Validate: %v, want allowed", err)
			case tt.err != "" && (!apierrors.IsForbidden(err) || !strings.Contains(err.Error(), tt.err)):
				t.Errorf("Validate: %v, want Forbidden containing %q", err, tt.err)
			}
		})
	}
}
