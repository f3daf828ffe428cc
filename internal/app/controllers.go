package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/google/uuid"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/scale"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned"

	"berth.dev/berth/internal/auth/pki"
	saissuer "berth.dev/berth/internal/auth/serviceaccount"
	"berth.dev/berth/internal/controller/bootstraptoken"
	"berth.dev/berth/internal/controller/clusterroleaggregation"
	"berth.dev/berth/internal/controller/cronjob"
	"berth.dev/berth/internal/controller/csrapproving"
	"berth.dev/berth/internal/controller/csrsigning"
	"berth.dev/berth/internal/controller/daemonset"
	"berth.dev/berth/internal/controller/deployment"
	"berth.dev/berth/internal/controller/disruption"
	"berth.dev/berth/internal/controller/endpointslice"
	"berth.dev/berth/internal/controller/garbagecollector"
	"berth.dev/berth/internal/controller/job"
	"berth.dev/berth/internal/controller/localpath"
	"berth.dev/berth/internal/controller/namespace"
	"berth.dev/berth/internal/controller/nodeipam"
	"berth.dev/berth/internal/controller/nodelifecycle"
	"berth.dev/berth/internal/controller/podautoscaler"
	"berth.dev/berth/internal/controller/podgc"
	"berth.dev/berth/internal/controller/replicaset"
	"berth.dev/berth/internal/controller/resourcequota"
	"berth.dev/berth/internal/controller/rootcacert"
	"berth.dev/berth/internal/controller/serviceaccount"
	"berth.dev/berth/internal/controller/serviceaccounttoken"
	"berth.dev/berth/internal/controller/statefulset"
	"berth.dev/berth/internal/controller/ttlafterfinished"
	"berth.dev/berth/internal/controller/volumebinding"
	"berth.dev/berth/internal/controller/volumeprotection"
	"berth.dev/berth/internal/scheduler"
)

// controllersLease is the Lease the controller sets of all berth servers
// on one store compete for: one runs them at a time. It bears upstream's
// name, which the default RBAC policy lets the controller manager update.
const controllersLease = "kube-controller-manager"

// loopbackConfig is how berth's own components reach the API server in
// the same process: over TLS, as any client, with a client certificate of
// their own (user, in no group unless groups are given: RBAC's default
// policy grants what each component needs) and protobuf bodies.
func loopbackConfig(keys *pki.PKI, serverURL, user string, groups ...string) (*rest.Config, error) {
	certPEM, keyPEM, err := keys.IssueClientCert(user, groups, 0)
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
		UserAgent: user,
		QPS:       -1,
		// Warnings (Pod Security's, mostly) concern the objects users
		// wrote, who saw them then; repeating them per pod is noise.
		WarningHandler: rest.NoWarnings{},
	}, nil
}

// controllerSettings are the flags of `berth server` that tune controllers.
type controllerSettings struct {
	// nodeGrace is the node lifecycle controller's GracePeriod.
	nodeGrace time.Duration
	// tokens signs the legacy ServiceAccount token Secrets.
	tokens *saissuer.Issuer
	// scheduler is the scheduler's own client configuration.
	scheduler *rest.Config
	// dataDir is berth's data directory, on the nodes too: where
	// local-path volumes live.
	dataDir string
	// clusterCIDR is where the Nodes' pod ranges come from.
	clusterCIDR netip.Prefix
}

// runnable is a started controller.
type runnable interface {
	Run(ctx context.Context) error
}

// runControllers runs the controllers while this server holds the
// controllers Lease, and campaigns again when it loses it, until ctx ends.
func runControllers(ctx context.Context, cfg *rest.Config, keys *pki.PKI, settings controllerSettings, log *slog.Logger) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: controllersLease, Namespace: metav1.NamespaceSystem},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: host + "_" + uuid.NewString()},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock: lock, LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
			ReleaseOnCancel: true, Name: controllersLease,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					if err := startControllers(ctx, cfg, client, keys, settings, log); err != nil && ctx.Err() == nil {
						log.Error("controllers stopped", "err", err)
					}
				},
				OnStoppedLeading: func() { log.Info("controllers lease lost or released") },
			},
		})
		if err != nil {
			return err
		}
		le.Run(ctx)
	}
	return nil
}

// startControllers builds every controller and the scheduler on shared
// informers and runs them until ctx ends. The scheduler writes with its
// own client (settings.scheduler's identity); the informers read as the
// controllers.
func startControllers(ctx context.Context, cfg *rest.Config, client kubernetes.Interface, keys *pki.PKI, settings controllerSettings, log *slog.Logger) error {
	meta, err := metadata.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 0)
	var controllers []runnable
	ns, err := namespace.New(namespace.Config{Client: client, Informers: factory, Metadata: meta, Discovery: disc, Logger: log.With("controller", "namespace")})
	if err != nil {
		return err
	}
	sa, err := serviceaccount.New(serviceaccount.Config{Client: client, Informers: factory, Logger: log.With("controller", "serviceaccount")})
	if err != nil {
		return err
	}
	rootCA, err := rootcacert.New(rootcacert.Config{Client: client, Informers: factory, RootCA: keys.CAPEM(), Logger: log.With("controller", "root-ca-cert-publisher")})
	if err != nil {
		return err
	}
	gc, err := garbagecollector.New(garbagecollector.Config{Metadata: meta, Discovery: disc, Logger: log.With("controller", "garbagecollector")})
	if err != nil {
		return err
	}
	rs, err := replicaset.New(replicaset.Config{Client: client, Informers: factory, Logger: log.With("controller", "replicaset")})
	if err != nil {
		return err
	}
	schedClient, err := kubernetes.NewForConfig(settings.scheduler)
	if err != nil {
		return err
	}
	sched, err := scheduler.New(scheduler.Config{Client: schedClient, Informers: factory, Logger: log.With("component", "scheduler")})
	if err != nil {
		return err
	}
	eps, err := endpointslice.New(endpointslice.Config{Client: client, Informers: factory, Logger: log.With("controller", "endpointslice")})
	if err != nil {
		return err
	}
	jobs, err := job.New(job.Config{Client: client, Informers: factory, Logger: log.With("controller", "job")})
	if err != nil {
		return err
	}
	deploy, err := deployment.New(deployment.Config{Client: client, Informers: factory, Logger: log.With("controller", "deployment")})
	if err != nil {
		return err
	}
	cronJobs, err := cronjob.New(cronjob.Config{Client: client, Informers: factory, Logger: log.With("controller", "cronjob")})
	if err != nil {
		return err
	}
	ttl, err := ttlafterfinished.New(ttlafterfinished.Config{Client: client, Informers: factory, Logger: log.With("controller", "ttl-after-finished")})
	if err != nil {
		return err
	}
	controllers = append(controllers, ns, sa, rootCA, gc, rs, deploy, sched, eps, jobs, cronJobs, ttl)
	nodes, err := nodelifecycle.New(nodelifecycle.Config{Client: client, Informers: factory, GracePeriod: settings.nodeGrace, Logger: log.With("controller", "nodelifecycle")})
	if err != nil {
		return err
	}
	pgc, err := podgc.New(podgc.Config{Client: client, Informers: factory, Logger: log.With("controller", "podgc")})
	if err != nil {
		return err
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(disc))
	// The scale client sets its own codecs on the config it is given.
	scaleCfg := rest.CopyConfig(cfg)
	scaleCfg.ContentConfig = rest.ContentConfig{}
	scales, err := scale.NewForConfig(scaleCfg, mapper, dynamic.LegacyAPIPathResolverFunc, scale.NewDiscoveryScaleKindResolver(disc))
	if err != nil {
		return err
	}
	pdbs, err := disruption.New(disruption.Config{Client: client, Informers: factory, Scales: scales, Mapper: mapper, Logger: log.With("controller", "disruption")})
	if err != nil {
		return err
	}
	controllers = append(controllers, nodes, pgc, pdbs)
	resourceMetrics, err := metricsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	hpas, err := podautoscaler.New(podautoscaler.Config{Client: client, Informers: factory, Metrics: resourceMetrics.MetricsV1beta1(), Scales: scales, Mapper: mapper, Logger: log.With("controller", "horizontal-pod-autoscaler")})
	if err != nil {
		return err
	}
	controllers = append(controllers, hpas)
	saTokens, err := serviceaccounttoken.New(serviceaccounttoken.Config{Client: client, Informers: factory, Tokens: settings.tokens, RootCA: keys.CAPEM(), Logger: log.With("controller", "serviceaccount-token")})
	if err != nil {
		return err
	}
	tokenCleaner, err := bootstraptoken.New(bootstraptoken.Config{Client: client, Informers: factory, Logger: log.With("controller", "tokencleaner")})
	if err != nil {
		return err
	}
	controllers = append(controllers, saTokens, tokenCleaner)
	aggregation, err := clusterroleaggregation.New(clusterroleaggregation.Config{Client: client, Informers: factory, Logger: log.With("controller", "clusterrole-aggregation")})
	if err != nil {
		return err
	}
	controllers = append(controllers, aggregation)
	sts, err := statefulset.New(statefulset.Config{Client: client, Informers: factory, Logger: log.With("controller", "statefulset")})
	if err != nil {
		return err
	}
	ds, err := daemonset.New(daemonset.Config{Client: client, Informers: factory, Logger: log.With("controller", "daemonset")})
	if err != nil {
		return err
	}
	controllers = append(controllers, sts, ds)
	ca, caKey := keys.CA()
	csrSigner, err := csrsigning.New(csrsigning.Config{Client: client, Informers: factory, CA: ca, CAKey: caKey, Logger: log.With("controller", "csrsigning")})
	if err != nil {
		return err
	}
	csrApprover, err := csrapproving.New(csrapproving.Config{Client: client, Informers: factory, Logger: log.With("controller", "csrapproving")})
	if err != nil {
		return err
	}
	controllers = append(controllers, csrSigner, csrApprover)
	quotas, err := resourcequota.New(resourcequota.Config{Client: client, Informers: factory, Metadata: meta, Discovery: disc, Logger: log.With("controller", "resourcequota")})
	if err != nil {
		return err
	}
	binder, err := volumebinding.New(volumebinding.Config{Client: client, Informers: factory, Logger: log.With("controller", "persistentvolume-binder")})
	if err != nil {
		return err
	}
	localPath, err := localpath.New(localpath.Config{Client: client, Informers: factory, DataDir: settings.dataDir, Logger: log.With("controller", "local-path-provisioner")})
	if err != nil {
		return err
	}
	protection, err := volumeprotection.New(volumeprotection.Config{Client: client, Informers: factory, Logger: log.With("controller", "volume-protection")})
	if err != nil {
		return err
	}
	controllers = append(controllers, quotas, binder, localPath, protection)
	ipam, err := nodeipam.New(nodeipam.Config{Client: client, Informers: factory, ClusterCIDR: settings.clusterCIDR, Logger: log})
	if err != nil {
		return err
	}
	controllers = append(controllers, ipam)

	factory.Start(ctx.Done())
	defer factory.Shutdown()
	log.Info("controllers started", "count", len(controllers))
	var wg sync.WaitGroup
	for _, c := range controllers {
		wg.Go(func() {
			if err := c.Run(ctx); err != nil && ctx.Err() == nil {
				log.Error("controller stopped", "err", err)
			}
		})
	}
	wg.Wait()
	return nil
}
