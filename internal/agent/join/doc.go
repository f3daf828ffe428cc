// Package join gives a node agent its credentials: it turns a join token
// into a client certificate of the node's own, and keeps that certificate
// fresh.
//
// Bootstrap, with a join token (berth1.sha256:<CA hash>.<id>.<secret>):
// the agent dials the server and reads the CA from the TLS handshake,
// sending no credential, and accepts it only if the SHA-256 of its
// SubjectPublicKeyInfo is the token's hash and the server's certificate
// chains to it. Then, authenticated by the bootstrap token <id>.<secret>,
// it creates a CertificateSigningRequest for a locally generated ECDSA
// P-256 key (CN system:node:<name>, O system:nodes, signer
// kubernetes.io/kube-apiserver-client-kubelet, usages digital signature
// and client auth), waits for the csrapproving and csrsigning controllers
// to issue it, and writes <data-dir>/agent/client.pem (certificate and
// key, 0600) and <data-dir>/agent/kubeconfig (0600), which refers to it.
// An agent that already has a valid certificate there skips bootstrap.
//
// Renewal: Renewer requests a new certificate at a jittered 70-90% of the
// current one's lifetime, authenticated by the node's own certificate,
// and replaces client.pem atomically; clients built from the kubeconfig
// pick up the new file (client-go reloads certificate files).
//
// Serving: NewServing gets the node's streaming server a certificate for
// the node's names and addresses from the kubernetes.io/kubelet-serving
// signer (a CSR made with the node's own credentials, which berth's
// csrapproving controller approves when the names are the Node's own),
// keeps it in <data-dir>/agent/serving.pem and renews it the same way;
// its GetCertificate serves the current one.
package join
