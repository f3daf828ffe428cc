// Package csrsigning is the CertificateSigningRequest signer: it issues
// the certificates of approved CSRs for the signers whose trust is the
// cluster CA — kubernetes.io/kube-apiserver-client,
// kubernetes.io/kube-apiserver-client-kubelet and
// kubernetes.io/kubelet-serving — as upstream's csrsigning controller.
// It owns status.certificate of those CSRs, and adds a Failed condition
// (reason SignerValidationFailure) to an approved CSR its signer does not
// allow (wrong subject, SANs or usages).
//
// Data flows from an informer on CSRs, which enqueues names, to workers
// that read the cached CSR, check the request against the signer's rules
// and write the certificate through the status subresource. A certificate
// lives for spec.expirationSeconds, else Config.Duration, never past the
// CA's own expiry.
package csrsigning
