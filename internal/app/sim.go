package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"berth.dev/berth/internal/auth/pki"
	"berth.dev/berth/internal/sim"
)

type simOptions struct {
	kubeconfig    string
	nodes         int
	prefix        string
	leaseDuration time.Duration
	podStartDelay time.Duration
	logLevel      string
	caDir         string
}

func simCommand() *cobra.Command {
	o := simOptions{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Simulate nodes against an API server, for tests and benchmarks",
		Long: "Registers simulated nodes that renew their Leases, report Ready, run the pods bound to them\n" +
			"(nothing is executed) and finish their deletions, until interrupted.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.Context(), o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the API server to register the nodes with")
	f.IntVar(&o.nodes, "nodes", 1, "number of nodes to simulate")
	f.StringVar(&o.prefix, "prefix", "sim-", "prefix of the node names, which end in 0..nodes-1")
	f.DurationVar(&o.leaseDuration, "lease-duration", 40*time.Second, "duration of each node's Lease, renewed every quarter of it")
	f.DurationVar(&o.podStartDelay, "pod-start-delay", 0, "how long pods stay Pending before they run")
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.StringVar(&o.caDir, "ca-dir", "", "PKI directory holding the cluster CA (ca.crt, ca.key; <data-dir>/pki of berth server): nodes then serve resource metrics from their pods' sim.berth.dev/cpu-usage and memory-usage annotations, for kubectl top and autoscaling")
	return cmd
}

func runSim(ctx context.Context, o simOptions) error {
	if o.kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	log, err := newLogger(o.logLevel)
	if err != nil {
		return err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return fmt.Errorf("loading %s: %w", o.kubeconfig, err)
	}
	// Thousands of nodes renew Leases many times a second.
	cfg.QPS = -1
	cfg.UserAgent = "berth-sim"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	simCfg := sim.Config{
		Client: client, Informers: factory, Nodes: o.nodes, NamePrefix: o.prefix,
		LeaseDuration: o.leaseDuration, PodStartDelay: o.podStartDelay, Logger: log,
	}
	if o.caDir != "" {
		ca, err := pki.LoadCA(o.caDir)
		if err != nil {
			return fmt.Errorf("--ca-dir: %w", err)
		}
		simCfg.Metrics = ca
	}
	s, err := sim.New(simCfg)
	if err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	log.Info("simulating nodes", "nodes", o.nodes, "prefix", o.prefix)
	return s.Run(ctx)
}
