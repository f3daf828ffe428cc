package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/agent/join"
	"berth.dev/berth/internal/agent/node"
	"berth.dev/berth/internal/version"
)

type agentOptions struct {
	server     string
	token      string
	kubeconfig string
	dataDir    string
	nodeName   string
	logLevel   string
}

func agentCommand() *cobra.Command {
	o := agentOptions{}
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Join this machine to a cluster as a node",
		Long: "Joins the machine to the cluster at --server with a join token (from `berth token create`),\n" +
			"or with the node credentials of --kubeconfig, registers it as a Node and keeps its status\n" +
			"and Lease fresh, until interrupted. With a token, the node's client certificate is kept\n" +
			"under --data-dir and renewed before it expires. The agent does not run pods yet.",
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
	name := o.nodeName
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("reading the hostname: %w", err)
		}
		name = strings.ToLower(host)
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	var renewer *join.Renewer
	kubeconfig := o.kubeconfig
	if kubeconfig == "" {
		jc := join.Config{Server: o.server, Token: o.token, DataDir: dataDir, NodeName: name, Logger: log.With("component", "join")}
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
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	kubeletVersion := version.Info().GitVersion
	agent, err := node.New(node.Config{
		Client: client, Name: name, Logger: log,
		Machine: func(ctx context.Context) (node.Machine, error) {
			return node.ReadMachine(ctx, name, dataDir, kubeletVersion)
		},
	})
	if err != nil {
		return err
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
	err = agent.Run(ctx)
	wg.Wait()
	return err
}
