package pki

import (
	"errors"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfigName is the name of the cluster and the context in every
// kubeconfig berth writes.
const kubeconfigName = "berth"

// WriteKubeconfig atomically writes, with mode 0600, a kubeconfig at path
// with one cluster and one context, both named "berth", for the API server
// at serverURL trusting caPEM, and one user named user authenticating with
// the client certificate certPEM and key keyPEM. All PEM data is embedded,
// so the file stands alone. The directory of path must exist.
func WriteKubeconfig(path, serverURL string, caPEM, certPEM, keyPEM []byte, user string) error {
	if serverURL == "" || user == "" {
		return errors.New("writing kubeconfig: server URL and user are required")
	}
	cfg := clientcmdapi.NewConfig()
	cluster := clientcmdapi.NewCluster()
	cluster.Server = serverURL
	cluster.CertificateAuthorityData = caPEM
	cfg.Clusters[kubeconfigName] = cluster

	auth := clientcmdapi.NewAuthInfo()
	auth.ClientCertificateData = certPEM
	auth.ClientKeyData = keyPEM
	cfg.AuthInfos[user] = auth

	ctx := clientcmdapi.NewContext()
	ctx.Cluster = kubeconfigName
	ctx.AuthInfo = user
	cfg.Contexts[kubeconfigName] = ctx
	cfg.CurrentContext = kubeconfigName

	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	return writeFileAtomic(path, data, 0o600)
}
