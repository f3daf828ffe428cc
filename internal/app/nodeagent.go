package app

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/agent"
	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/node"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/stream"
	"berth.dev/berth/internal/agent/volume"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/version"
)

// nodeAgent runs this machine as a node: its registration and Lease, its
// pods, its streaming server and resource metrics. `berth server` runs one
// for its own machine (newLocalAgent), `berth agent` one for a machine that
// joined (app/agent.go).
type nodeAgent struct {
	name    string
	dataDir string
	// nodeIP is the Node's InternalIP, where the API server reaches the
	// streaming server; if invalid, the machine's first global address.
	nodeIP netip.Addr
	// port is the streaming server's; 0 picks a free one.
	port int
	// clusterCIDR and serviceCIDR are made unreachable on the host, so
	// that a packet to an address with no pod or rule behind it dies here
	// (see network.Config).
	clusterCIDR, serviceCIDR netip.Prefix
	// insecureRegistries may be pulled from over plain HTTP.
	insecureRegistries []string
	// rest is the node's identity, system:node:<name>.
	rest *rest.Config
	// clientCAs verifies the API server's client certificate: the
	// cluster CA.
	clientCAs *x509.CertPool
	// serving gets the streaming server a certificate for the node's
	// names and IPs; renew, if not nil, keeps it fresh until ctx ends.
	serving func(ctx context.Context, client kubernetes.Interface, names []string, ips []net.IP) (cert func(*tls.ClientHelloInfo) (*tls.Certificate, error), renew func(context.Context) error, err error)
	log     *slog.Logger
}

// The default pod and Service ranges, of `berth server` and `berth agent`.
var (
	defaultClusterCIDR = netip.MustParsePrefix("10.42.0.0/16")
	defaultServiceCIDR = netip.MustParsePrefix("10.43.0.0/16")
)

const insecureRegistryHelp = "registry the node may pull images from over plain HTTP: host, host:port or CIDR (repeatable; loopback always may)"

// nodeName is --node-name, or the machine's host name.
func nodeName(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("reading the hostname: %w", err)
	}
	return strings.ToLower(host), nil
}

// nodeRestConfig is the local agent's identity: a client certificate for
// system:node:<name> in system:nodes, issued by the cluster CA.
func nodeRestConfig(keys *pki.PKI, serverURL, name string) (*rest.Config, error) {
	cfg, err := loopbackConfig(keys, serverURL, "system:node:"+name, "system:nodes")
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "berth-agent/" + version.Berth
	return cfg, nil
}

// agentPrerequisites says why this machine cannot run containers, or "".
func agentPrerequisites() string {
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	for _, bin := range []string{"runc", "nft"} {
		if _, err := exec.LookPath(bin); err != nil {
			return bin + " not found in PATH"
		}
	}
	return ""
}

// newLocalAgent prepares the server's own node agent: nil with
// --disable-agent, an error saying why on a machine that cannot run
// containers. Its credentials and serving certificate come straight from
// the cluster CA.
func newLocalAgent(o serverOptions, keys *pki.PKI, serverURL string, nodeIP netip.Addr, log *slog.Logger) (*nodeAgent, error) {
	if o.disableAgent {
		return nil, nil
	}
	if why := agentPrerequisites(); why != "" {
		return nil, errors.New(why)
	}
	name, err := nodeName(o.nodeName)
	if err != nil {
		return nil, err
	}
	cfg, err := nodeRestConfig(keys, serverURL, name)
	if err != nil {
		return nil, err
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, err
	}
	serving := func(_ context.Context, _ kubernetes.Interface, names []string, ips []net.IP) (func(*tls.ClientHelloInfo) (*tls.Certificate, error), func(context.Context) error, error) {
		certPEM, keyPEM, err := keys.IssueServingCert("system:node:"+name, append(names, "localhost"), append(ips, net.IPv4(127, 0, 0, 1), net.IPv6loopback), 0)
		if err != nil {
			return nil, nil, err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("loading the node's serving certificate: %w", err)
		}
		return stream.StaticCertificate(cert), nil, nil
	}
	return &nodeAgent{name: name, dataDir: dataDir, nodeIP: nodeIP, port: o.kubeletPort, clusterCIDR: o.clusterCIDR, serviceCIDR: o.serviceCIDR,
		insecureRegistries: o.insecureRegistries, rest: cfg, clientCAs: keys.CAPool(), serving: serving, log: log}, nil
}

// run registers the node and runs its pods until ctx ends. Errors setting
// up the runtime, image store, network or streaming server are returned.
func (l *nodeAgent) run(ctx context.Context) error {
	names := agent.HostNamesFor(l.dataDir)
	rt, err := runtime.New(runtime.Config{RunDir: names.RunDir, CgroupParent: names.CgroupParent})
	if err != nil {
		return err
	}
	images, err := image.New(image.Config{Dir: imageStoreDir(l.dataDir), InsecureRegistries: l.insecureRegistries, Logger: l.log})
	if err != nil {
		return err
	}
	defer images.Close()
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", net.JoinHostPort("", strconv.Itoa(l.port)))
	if err != nil {
		return fmt.Errorf("listening for streams: %w", err)
	}
	defer ln.Close()
	port := int32(ln.Addr().(*net.TCPAddr).Port)
	client, err := kubernetes.NewForConfig(l.rest)
	if err != nil {
		return err
	}
	kubeletVersion := version.Info().GitVersion
	machine := func(ctx context.Context) (node.Machine, error) {
		m, err := node.ReadMachine(ctx, l.name, l.dataDir, kubeletVersion)
		if l.nodeIP.IsValid() {
			m.Addresses = slices.DeleteFunc(m.Addresses, func(a corev1.NodeAddress) bool { return a.Type == corev1.NodeInternalIP })
			m.Addresses = append([]corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: l.nodeIP.String()}}, m.Addresses...)
		}
		m.KubeletPort = port
		return m, err
	}
	m, err := machine(ctx)
	if err != nil {
		return err
	}
	registration, err := node.New(node.Config{Client: client, Name: l.name, Logger: l.log, Machine: machine})
	if err != nil {
		return err
	}
	// The Node registers and heartbeats from the start; its pods wait for
	// the pod range the server's node IPAM controller assigns it.
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	registered := make(chan error, 1)
	go func() { registered <- registration.Run(ctx) }()
	defer func() { stop(); <-registered }()
	podCIDR, err := waitPodCIDR(ctx, client, l.name, l.log)
	if err != nil {
		return err
	}
	netw, err := network.New(network.Config{
		StateDir:     filepath.Join(l.dataDir, "agent", "cni"),
		Bridge:       names.Bridge,
		PodCIDRs:     []netip.Prefix{podCIDR},
		ClusterCIDRs: []netip.Prefix{l.clusterCIDR},
		ServiceCIDRs: []netip.Prefix{l.serviceCIDR},
	})
	if err != nil {
		return err
	}
	if err := netw.InstallRoutes(); err != nil {
		return err
	}
	if err := netw.InstallMasquerade(ctx); err != nil {
		return err
	}
	vols, err := volume.New(volume.Config{DataDir: l.dataDir, Client: client})
	if err != nil {
		return err
	}
	var nodeIP string
	var ips []net.IP
	dnsNames := []string{l.name}
	for _, a := range m.Addresses {
		switch a.Type {
		case corev1.NodeInternalIP:
			nodeIP = cmp.Or(nodeIP, a.Address)
			ips = append(ips, net.ParseIP(a.Address))
		case corev1.NodeHostName:
			if a.Address != l.name {
				dnsNames = append(dnsNames, a.Address)
			}
		}
	}
	pods, err := agent.New(agent.Config{
		Rest:     l.rest,
		NodeName: l.name,
		NodeIP:   nodeIP,
		DataDir:  filepath.Join(l.dataDir, "agent"),
		Runtime:  rt,
		Images:   images,
		Network:  netw,
		Volumes:  vols,
		Logger:   l.log,
	})
	if err != nil {
		return err
	}
	cert, renew, err := l.serving(ctx, client, dnsNames, ips)
	if err != nil {
		return fmt.Errorf("getting the node's serving certificate: %w", err)
	}
	streams, err := stream.New(stream.Config{
		Certificate:     cert,
		ClientCAs:       l.clientCAs,
		Lookup:          pods.Lookup,
		Exec:            pods.Exec,
		Attach:          pods.Attach,
		LogPaths:        pods.LogPaths,
		DialPod:         pods.DialPod,
		ResourceMetrics: pods.ResourceMetrics,
		Log:             l.log,
	})
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	errs := make([]error, 3)
	wg.Go(func() { errs[0] = pods.Run(ctx) })
	wg.Go(func() { errs[1] = streams.Serve(ctx, ln) })
	if renew != nil {
		wg.Go(func() { errs[2] = renew(ctx) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// waitPodCIDR waits until the Node has a pod range (spec.podCIDR) and
// returns it.
func waitPodCIDR(ctx context.Context, client kubernetes.Interface, name string, log *slog.Logger) (netip.Prefix, error) {
	var cidr netip.Prefix
	logged := false
	err := wait.PollUntilContextCancel(ctx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil || n.Spec.PodCIDR == "" {
			if !logged && err == nil {
				log.Info("waiting for the node's pod range", "node", name)
				logged = true
			}
			return false, nil
		}
		cidr, err = netip.ParsePrefix(n.Spec.PodCIDR)
		return err == nil, err
	})
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("waiting for node %s's pod range: %w", name, err)
	}
	return cidr, nil
}
