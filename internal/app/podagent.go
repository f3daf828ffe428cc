package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"berth.dev/berth/internal/agent"
	"berth.dev/berth/internal/agent/image"
	"berth.dev/berth/internal/agent/network"
	"berth.dev/berth/internal/agent/node"
	"berth.dev/berth/internal/agent/runtime"
	"berth.dev/berth/internal/agent/volume"
	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/version"
)

// localPodCIDR is the pod range of the server's own node: the first /24
// of the default cluster CIDR. Nothing assigns nodes' podCIDRs yet.
var localPodCIDR = netip.MustParsePrefix("10.42.0.0/24")

// localAgent is the node agent `berth server` runs for its own machine.
type localAgent struct {
	name    string
	dataDir string
	nodeIP  netip.Addr
	rest    *rest.Config
	log     *slog.Logger
}

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
	user := "system:node:" + name
	certPEM, keyPEM, err := keys.IssueClientCert(user, []string{"system:nodes"}, 0)
	if err != nil {
		return nil, fmt.Errorf("issuing the %s certificate: %w", user, err)
	}
	return &rest.Config{
		Host:            serverURL,
		TLSClientConfig: rest.TLSClientConfig{CAData: keys.CAPEM(), CertData: certPEM, KeyData: keyPEM},
		ContentConfig: rest.ContentConfig{
			ContentType:        "application/vnd.kubernetes.protobuf",
			AcceptContentTypes: "application/vnd.kubernetes.protobuf,application/json",
		},
		UserAgent:      "berth-agent/" + version.Berth,
		QPS:            -1,
		WarningHandler: rest.NoWarnings{},
	}, nil
}

// agentPrerequisites says why this machine cannot run containers, or "".
func agentPrerequisites() string {
	if os.Geteuid() != 0 {
		return "not running as root"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "runc not found in PATH"
	}
	return ""
}

// runDirs are the runtime's state directory and cgroup parent: /run/berth
// and /berth for the default data directory, and names of their own for
// another, so that servers on one machine keep apart.
func runDirs(dataDir string) (runDir, cgroupParent string) {
	if dataDir == defaultDataDir {
		return "/run/berth", "/berth"
	}
	sum := sha256.Sum256([]byte(dataDir))
	suffix := hex.EncodeToString(sum[:6])
	return "/run/berth-" + suffix, "/berth-" + suffix
}

// newLocalAgent prepares the server's own node agent: nil with
// --disable-agent, an error saying why on a machine that cannot run
// containers.
func newLocalAgent(o serverOptions, keys *pki.PKI, serverURL string, nodeIP netip.Addr, log *slog.Logger) (*localAgent, error) {
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
	return &localAgent{name: name, dataDir: dataDir, nodeIP: nodeIP, rest: cfg, log: log}, nil
}

// run registers the node and runs its pods until ctx ends. Errors setting
// up the runtime, image store or network are returned; the server goes
// on without a node.
func (l *localAgent) run(ctx context.Context) error {
	runDir, cgroupParent := runDirs(l.dataDir)
	rt, err := runtime.New(runtime.Config{RunDir: runDir, CgroupParent: cgroupParent})
	if err != nil {
		return err
	}
	images, err := image.New(image.Config{Dir: imageStoreDir(l.dataDir), Logger: l.log})
	if err != nil {
		return err
	}
	defer images.Close()
	netw, err := network.New(network.Config{
		StateDir: filepath.Join(l.dataDir, "agent", "cni"),
		PodCIDRs: []netip.Prefix{localPodCIDR},
	})
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(l.rest)
	if err != nil {
		return err
	}
	kubeletVersion := version.Info().GitVersion
	registration, err := node.New(node.Config{
		Client: client, Name: l.name, Logger: l.log,
		Machine: func(ctx context.Context) (node.Machine, error) {
			return node.ReadMachine(ctx, l.name, l.dataDir, kubeletVersion)
		},
	})
	if err != nil {
		return err
	}
	vols, err := volume.New(volume.Config{DataDir: l.dataDir, Client: client})
	if err != nil {
		return err
	}
	pods, err := agent.New(agent.Config{
		Rest:     l.rest,
		NodeName: l.name,
		NodeIP:   l.nodeIP.String(),
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
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = registration.Run(ctx) })
	wg.Go(func() { errs[1] = pods.Run(ctx) })
	wg.Wait()
	return errors.Join(errs...)
}
