// Package csrapproving is the CertificateSigningRequest approver for node
// client certificates, as upstream's csrapproving controller: it approves
// a pending CSR for the kubernetes.io/kube-apiserver-client-kubelet signer
// whose request is a node client certificate (CN system:node:<name>,
// O system:nodes, no SANs, client usages) when a SubjectAccessReview says
// its requester may create certificatesigningrequests/selfnodeclient (a
// node renewing its own certificate: requester and CN agree) or
// certificatesigningrequests/nodeclient (a bootstrapper asking for a new
// node's). It never denies: other CSRs are left for people or other
// approvers.
//
// Data flows from an informer on CSRs, which enqueues names, to workers
// that read the cached CSR, ask the API server's authorizer through
// SubjectAccessReviews, and write the Approved condition through the
// approval subresource.
package csrapproving
