package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/agent/join"
	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/version"
)

type agentOptions struct {
	server      string
	token       string
	kubeconfig  string
	dataDir     string
	nodeName    string
	nodeIP      netip.Addr
	kubeletPort int
	// insecureRegistries may be pulled from over plain HTTP.
	insecureRegistries []string
	clusterCIDR        netip.Prefix
	serviceCIDR        netip.Prefix
	logLevel           string
}

func agentCommand() *cobra.Command {
	o := agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join this machine to a cluster as a node",
		Long: "Joins the machine to the cluster at --server with a join token (from `berth token create`),\n" +
			"or with the node credentials of --kubeconfig, registers it as a Node, keeps its status and\n" +
			"Lease fresh and runs the pods bound to it (as root, with runc and the CNI plugins), until\n" +
			"interrupted. With a token, the node's client certificate is kept under --data-dir and\n" +
			"renewed before it expires; the streaming server's certificate (kubectl logs, exec,\n" +
			"port-forward, top) is requested from the cluster for the node's own names and addresses.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAgent(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.server, "server", "", "https URL of the API server (with --token)")
	f.StringVar(&o.token, "token", "", "join token: berth1.sha256:<CA hash>.<id>.<secret>")
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig with the node's credentials, instead of --token")
	f.StringVar(&o.dataDir, "data-dir", "/var/lib/berth", "directory for the agent's state")
	f.StringVar(&o.nodeName, "node-name", "", "name of the Node; the hostname if empty")
	f.Var(addrValue{&o.nodeIP}, "node-ip", "the Node's InternalIP, where the API server reaches this machine (default: its first global address)")
	f.StringSliceVar(&o.insecureRegistries, "insecure-registry", nil, insecureRegistryHelp)
	f.IntVar(&o.kubeletPort, "kubelet-port", stream.DefaultPort, "port of the node's streaming server, which the API server connects to (0 picks a free one)")
	o.clusterCIDR, o.serviceCIDR = defaultClusterCIDR, defaultServiceCIDR
	f.Var(prefixValue{&o.clusterCIDR}, "cluster-cidr", "the cluster's range of pod addresses (the server's --cluster-cidr), made unreachable on this machine outside the pods")
	f.Var(prefixValue{&o.serviceCIDR}, "service-cidr", "the cluster's range of Service ClusterIPs (the server's --service-cidr), made unreachable on this machine outside the Services' rules")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func runAgent(ctx context.Context, o agentOptions) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	switch {
	case o.kubeconfig != "" && o.token != "":
		return errors.New("--kubeconfig and --token are exclusive")
	case o.kubeconfig == "" && o.server == "":
		return errors.New("--server (with --token) or --kubeconfig is required")
	}
	if why := agentPrerequisites(); why != "" {
		return fmt.Errorf("this machine cannot run pods: %s", why)
	}
	name, err := nodeName(o.nodeName)
	if err != nil {
		return err
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	jc := join.Config{Server: o.server, Token: o.token, DataDir: dataDir, NodeName: name, Logger: log.With("component", "join")}
	var renewer *join.Renewer
	kubeconfig := o.kubeconfig
	if kubeconfig == "" {
		if kubeconfig, err = join.Ensure(ctx, jc); err != nil {
			return fmt.Errorf("joining %s: %w", o.server, err)
		}
		if renewer, err = join.NewRenewer(jc); err != nil {
			return err
		}
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", kubeconfig, err)
	}
	cfg.UserAgent = "berth-agent/" + version.Berth
	cfg.ContentType, cfg.AcceptContentTypes = "application/vnd.kubernetes.protobuf", "application/vnd.kubernetes.protobuf,application/json"
	cfg.WarningHandler = rest.NoWarnings{}
	clientCAs, err := clusterCAs(cfg)
	if err != nil {
		return err
	}
	node := &nodeAgent{
		name: name, dataDir: dataDir, nodeIP: o.nodeIP, port: o.kubeletPort, clusterCIDR: o.clusterCIDR, serviceCIDR: o.serviceCIDR,
		insecureRegistries: o.insecureRegistries, rest: cfg, clientCAs: clientCAs, log: log,
		serving: func(ctx context.Context, client kubernetes.Interface, names []string, ips []net.IP) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), func(context.Context) error, error) {
			r, err := join.NewServing(ctx, jc, client, names, ips)
			if err != nil {
				return nil, nil, err
			}
			return r.GetCertificate, r.Run, nil
		},
	}
	log.Info("berth agent running", "node", name, "kubeconfig", kubeconfig)
	var wg sync.WaitGroup
	if renewer != nil {
		wg.Go(func() {
			if err := renewer.Run(ctx); err != nil {
				log.Error("certificate renewal stopped", "err", err)
			}
		})
	}
	err = node.run(ctx)
	wg.Wait()
	return err
}

// clusterCAs is the pool of the CA a kubeconfig trusts: the cluster CA,
// which also issued the API server's client certificate towards nodes.
func clusterCAs(cfg *rest.Config) (*x509.CertPool, error) {
	caPEM := cfg.TLSClientConfig.CAData
	if len(caPEM) == 0 && cfg.TLSClientConfig.CAFile != "" {
		var err error
		if caPEM, err = os.ReadFile(cfg.TLSClientConfig.CAFile); err != nil {
			return nil, fmt.Errorf("reading the cluster CA: %w", err)
		}
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("the kubeconfig names no cluster CA certificate")
	}
	return pool, nil
}
